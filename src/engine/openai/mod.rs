//! A backend that asks an OpenAI-compatible server (llama.cpp's `llama-server`,
//! Ollama, vLLM, OpenAI) through its chat-completions API, streaming the answer as
//! server-sent events. Only the prompt leaves the machine; what comes back goes through
//! the same extraction, checks and safety verdict as the local engine's answers.

mod error;
pub mod models;
pub mod wire;

use std::io::{BufRead, BufReader};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub use error::RemoteError;
use wire::{Line, Usage};

use super::{
    Backend, BackendInfo, CancelToken, EngineError, GenerateRequest, Generation, GenerationStats,
    Preamble,
};
use crate::settings::OpenAiSettings;

/// Longest line of the event stream read; a server sending more is not speaking SSE.
const MAX_EVENT_BYTES: u64 = 1 << 20;
/// How often a waiting generation looks at its cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(20);

pub struct OpenAiBackend {
    agent: ureq::Agent,
    /// `{url}/chat/completions`.
    endpoint: String,
    url: String,
    model: String,
    timeout_secs: u64,
    /// `Err(variable)` when `api_key_env` names a variable that is not set.
    key: Result<Option<String>, String>,
    sessions: usize,
}

impl std::fmt::Debug for OpenAiBackend {
    // By hand, so that the key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiBackend")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OpenAiBackend {
    /// `sessions` is only reported (the server decides how many requests run at once).
    pub fn new(s: &OpenAiSettings, sessions: usize) -> Self {
        let url = s.url.trim_end_matches('/').to_owned();
        Self {
            agent: agent(s.timeout_secs),
            endpoint: format!("{url}/chat/completions"),
            url,
            model: s.model.clone(),
            timeout_secs: s.timeout_secs,
            key: s.api_key(),
            sessions,
        }
    }

    fn post(
        &self,
        body: &serde_json::Value,
    ) -> Result<ureq::http::Response<ureq::Body>, RemoteError> {
        let key = match &self.key {
            Ok(key) => key,
            Err(var) => return Err(RemoteError::MissingKey { var: var.clone() }),
        };
        let body = body.to_string();
        let send = || {
            let mut req = self
                .agent
                .post(&self.endpoint)
                .header("Content-Type", "application/json")
                .header("Accept", "text/event-stream");
            if let Some(key) = key {
                req = req.header("Authorization", format!("Bearer {key}"));
            }
            req.send(body.as_str())
        };
        // A kept-alive connection the server has since closed fails before any byte of
        // the answer; the same request once more, on a fresh connection, is safe.
        let resp = match send() {
            Err(ureq::Error::Io(e)) if stale_connection(&e) => send(),
            other => other,
        }
        .map_err(|e| self.transport_error(e, false))?;
        let status = resp.status().as_u16();
        if status == 200 {
            return Ok(resp);
        }
        let mut body = resp.into_body();
        let text = body
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Err(RemoteError::from_status(status, &text, &self.model))
    }

    /// A transport failure as the user should read it; `streaming` once the answer has
    /// started, where a broken connection means the server went away mid-answer.
    fn transport_error(&self, e: ureq::Error, streaming: bool) -> RemoteError {
        match e {
            ureq::Error::Timeout(_) => RemoteError::Timeout {
                secs: self.timeout_secs,
            },
            _ if streaming => RemoteError::Dropped {
                url: self.url.clone(),
            },
            ureq::Error::Io(io) => RemoteError::Unreachable {
                url: self.url.clone(),
                reason: io.to_string(),
            },
            other => RemoteError::Unreachable {
                url: self.url.clone(),
                reason: other.to_string(),
            },
        }
    }
}

/// What the reading thread passes on.
enum Read {
    Line(String),
    End,
    Failed(ureq::Error),
}

/// Reads the event stream on its own thread, so that a cancel is seen at once even
/// while the server is slow to send the next event.
fn read_lines(body: ureq::BodyReader<'static>) -> Receiver<Read> {
    let (tx, rx) = mpsc::sync_channel(256);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(body);
        loop {
            let mut line = String::new();
            let read = match std::io::Read::take(&mut reader, MAX_EVENT_BYTES).read_line(&mut line)
            {
                Ok(0) => Read::End,
                Ok(_) => Read::Line(line),
                Err(e) => Read::Failed(ureq::Error::from(e)),
            };
            let last = !matches!(read, Read::Line(_));
            if tx.send(read).is_err() || last {
                return;
            }
        }
    });
    rx
}

/// How a pooled connection that the server closed while idle fails on reuse.
fn stale_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
    )
}

fn agent(timeout_secs: u64) -> ureq::Agent {
    let timeout = Duration::from_secs(timeout_secs.max(1));
    ureq::Agent::config_builder()
        // Statuses are read here, with the server's reason from the body.
        .http_status_as_error(false)
        .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
        // The whole exchange, answer stream included: one command never takes longer.
        .timeout_global(Some(timeout))
        .build()
        .into()
}

impl Backend for OpenAiBackend {
    /// Streams the answer; `logprob` is the sum of the log-probabilities the server
    /// reports for the answer's tokens, or 0.0 when it reports none (ranking then keeps
    /// the first candidate).
    fn generate(
        &self,
        req: &GenerateRequest,
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Generation, EngineError> {
        let t0 = Instant::now();
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let resp = self.post(&wire::body(&self.model, req))?;
        let lines = read_lines(resp.into_body().into_reader());
        let mut text = String::new();
        let mut logprob = 0.0;
        let mut finish = None;
        let mut usage = Usage::default();
        let mut pieces = 0;
        let mut first_piece_ms = None;
        loop {
            // Returning drops the receiver; the reading thread then drops the
            // connection at the server's next event, which stops its generation.
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let line = match lines.recv_timeout(CANCEL_POLL) {
                Ok(Read::Line(line)) => line,
                Ok(Read::End) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => continue,
                // The answer was complete; the server just closed early.
                Ok(Read::Failed(_)) if finish.is_some() => break,
                Ok(Read::Failed(e)) => return Err(self.transport_error(e, true).into()),
            };
            match wire::parse_line(&line)? {
                Line::Skip => {}
                Line::Done => break,
                Line::Chunk(c) => {
                    if !c.content.is_empty() {
                        first_piece_ms.get_or_insert(t0.elapsed().as_secs_f64() * 1e3);
                        pieces += 1;
                        text.push_str(&c.content);
                        on_token(&c.content);
                    }
                    logprob += c.logprob;
                    finish = c.finish.or(finish);
                    if let Some(u) = c.usage {
                        usage = u;
                    }
                }
            }
        }
        let Some(stop) = finish else {
            return Err(RemoteError::Truncated.into());
        };
        if text.trim().is_empty() {
            return Err(RemoteError::Empty.into());
        }
        let total_ms = t0.elapsed().as_secs_f64() * 1e3;
        let prefill_ms = usage.prefill_ms.or(first_piece_ms).unwrap_or(0.0);
        let prompt_tokens = usage.prompt_tokens.unwrap_or(0);
        let cached_tokens = usage.cached_tokens.unwrap_or(0);
        Ok(Generation {
            text,
            stop,
            stats: GenerationStats {
                prompt_tokens,
                cached_tokens,
                prefill_tokens: usage
                    .prefill_tokens
                    .unwrap_or(prompt_tokens.saturating_sub(cached_tokens)),
                generated_tokens: usage.completion_tokens.unwrap_or(pieces),
                prefill_ms,
                decode_ms: usage.decode_ms.unwrap_or((total_ms - prefill_ms).max(0.0)),
                total_ms,
                ..GenerationStats::default()
            },
            logprob,
        })
    }

    /// Nothing to do: the server keeps the shared prefix's cache (llama.cpp's
    /// `cache_prompt`), or recomputes it.
    fn prepare(&self, _preamble: &Preamble) -> Result<(), EngineError> {
        Ok(())
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "openai".into(),
            model: format!("{} at {}", self.model, self.url),
            threads: 0,
            sessions: self.sessions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> OpenAiSettings {
        OpenAiSettings {
            url: url.into(),
            model: "m".into(),
            api_key_env: None,
            timeout_secs: 2,
        }
    }

    #[test]
    fn info_names_the_model_and_url_and_debug_hides_the_key() {
        let b = OpenAiBackend::new(&settings("http://127.0.0.1:9/v1/"), 1);
        assert_eq!(b.info().name, "openai");
        assert_eq!(b.info().model, "m at http://127.0.0.1:9/v1");
        assert_eq!(b.endpoint, "http://127.0.0.1:9/v1/chat/completions");
    }

    #[test]
    fn a_closed_port_is_unreachable_in_one_line() {
        // Port 9 (discard) is closed on test machines; binding then dropping a listener
        // would race with other tests.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let b = OpenAiBackend::new(&settings(&format!("http://127.0.0.1:{port}/v1")), 1);
        let req = GenerateRequest {
            prompt: crate::engine::ChatPrompt {
                preamble: Preamble::new("s"),
                context: String::new(),
                request: "x".into(),
            },
            max_tokens: 4,
            sampling: Default::default(),
            ignore_stop: false,
        };
        let e = b
            .generate(&req, &mut |_| {}, &CancelToken::new())
            .expect_err("nothing listens");
        assert!(
            matches!(e, EngineError::Remote(RemoteError::Unreachable { .. })),
            "{e:?}"
        );
        assert!(!e.to_string().contains('\n'));
    }
}
