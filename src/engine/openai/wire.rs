//! The chat-completions wire format: the request body caro sends and the server-sent
//! events it reads back. No I/O here, so every case is testable on strings.

use serde_json::{Value, json};

use super::RemoteError;
use crate::engine::{GenerateRequest, StopReason};

/// The request body: the same turns the local engine evaluates, as chat messages.
pub fn body(model: &str, req: &GenerateRequest) -> Value {
    let chat = &req.prompt;
    let mut messages = vec![json!({"role": "system", "content": chat.preamble.system})];
    for (user, assistant) in &chat.preamble.examples {
        messages.push(json!({"role": "user", "content": user}));
        messages.push(json!({"role": "assistant", "content": assistant}));
    }
    if let Some(text) = &chat.preamble.instructions {
        messages.push(json!({"role": "system", "content": text}));
    }
    messages.push(json!({"role": "user", "content": chat.user()}));
    let s = &req.sampling;
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        // Token counts (and llama.cpp's timings) in the last chunk, for the stats.
        "stream_options": {"include_usage": true},
        "max_tokens": req.max_tokens,
        "temperature": s.temperature,
        "seed": s.seed,
        // Candidates are ranked by likelihood; servers without log-probabilities
        // ignore this and the sum stays 0.
        "logprobs": true,
        // llama.cpp keeps the KV cache of the shared prefix (system turn, examples)
        // between requests; other servers ignore fields they do not know.
        "cache_prompt": true,
    });
    if s.temperature > 0.0 {
        body["top_p"] = json!(s.top_p);
    }
    if req.ignore_stop {
        body["ignore_eos"] = json!(true);
    }
    body
}

/// What one `data:` line of the stream carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    /// Text added to the answer (may be empty).
    pub content: String,
    /// Sum of the log-probabilities the server gave for this chunk's tokens.
    pub logprob: f64,
    pub finish: Option<StopReason>,
    pub usage: Option<Usage>,
}

/// Token counts and timings, from `usage` and (llama.cpp) `timings`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    pub prompt_tokens: Option<usize>,
    pub completion_tokens: Option<usize>,
    pub cached_tokens: Option<usize>,
    pub prefill_tokens: Option<usize>,
    pub prefill_ms: Option<f64>,
    pub decode_ms: Option<f64>,
}

/// One line of the event stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Blank lines, comments, `event:` and `id:` fields: nothing to act on.
    Skip,
    Chunk(Chunk),
    /// `data: [DONE]`: the stream is complete.
    Done,
}

pub fn parse_line(line: &str) -> Result<Line, RemoteError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let Some(data) = line.strip_prefix("data:") else {
        return Ok(Line::Skip);
    };
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(Line::Done);
    }
    let v: Value = serde_json::from_str(data).map_err(|e| RemoteError::Malformed {
        detail: format!("not JSON ({e})"),
    })?;
    // llama.cpp and vLLM report a failure after the headers as an `error` event.
    if let Some(err) = v.get("error") {
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| err.as_str())
            .unwrap_or("no reason given");
        return Err(RemoteError::ServerError {
            status: err.get("code").and_then(Value::as_u64).unwrap_or(500) as u16,
            message: message.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    let choice = v.pointer("/choices/0");
    let content = choice
        .and_then(|c| c.pointer("/delta/content"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let logprob = choice
        .and_then(|c| c.pointer("/logprobs/content"))
        .and_then(Value::as_array)
        .map_or(0.0, |toks| {
            toks.iter()
                .filter_map(|t| t.get("logprob").and_then(Value::as_f64))
                .sum()
        });
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
        .map(|r| match r {
            "length" => StopReason::MaxTokens,
            _ => StopReason::EndOfTurn,
        });
    if choice.is_none() && v.get("usage").is_none() && v.get("timings").is_none() {
        return Err(RemoteError::Malformed {
            detail: "an event without choices".into(),
        });
    }
    Ok(Line::Chunk(Chunk {
        content,
        logprob,
        finish,
        usage: usage(&v),
    }))
}

fn usage(v: &Value) -> Option<Usage> {
    let (u, t) = (v.get("usage"), v.get("timings"));
    if u.is_none() && t.is_none() {
        return None;
    }
    let n = |v: Option<&Value>, k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_u64);
    let ms = |k: &str| t.and_then(|v| v.get(k)).and_then(Value::as_f64);
    Some(Usage {
        prompt_tokens: n(u, "prompt_tokens").map(|x| x as usize),
        completion_tokens: n(u, "completion_tokens")
            .or(n(t, "predicted_n"))
            .map(|x| x as usize),
        cached_tokens: n(t, "cache_n")
            .or_else(|| {
                u.and_then(|u| u.pointer("/prompt_tokens_details/cached_tokens"))
                    .and_then(Value::as_u64)
            })
            .map(|x| x as usize),
        prefill_tokens: n(t, "prompt_n").map(|x| x as usize),
        prefill_ms: ms("prompt_ms"),
        decode_ms: ms("predicted_ms"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ChatPrompt, Preamble, Sampling};

    fn request(temperature: f64) -> GenerateRequest {
        let mut preamble = Preamble::new("sys");
        preamble.examples.push(("u1".into(), "a1".into()));
        GenerateRequest {
            prompt: ChatPrompt {
                preamble,
                context: "ctx".into(),
                request: "list files".into(),
            },
            max_tokens: 7,
            sampling: Sampling {
                temperature,
                ..Sampling::default()
            },
            ignore_stop: false,
        }
    }

    #[test]
    fn body_carries_the_local_prompt_as_messages() {
        let b = body("m", &request(0.0));
        let roles: Vec<_> = b["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["role"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(b["messages"][3]["content"], "ctx\nlist files");
        assert_eq!(b["max_tokens"], 7);
        assert_eq!(b["stream"], true);
        assert_eq!(b["cache_prompt"], true);
        assert!(b.get("top_p").is_none(), "greedy sends no top_p");
        assert!(body("m", &request(0.7)).get("top_p").is_some());
    }

    #[test]
    fn reads_content_logprobs_finish_and_done() {
        let l = parse_line(
            r#"data: {"choices":[{"delta":{"content":"ls"},"logprobs":{"content":[{"logprob":-0.5},{"logprob":-0.25}]},"finish_reason":null}]}"#,
        )
        .expect("chunk");
        let Line::Chunk(c) = l else { panic!("{l:?}") };
        assert_eq!(c.content, "ls");
        assert_eq!(c.logprob, -0.75);
        assert_eq!(c.finish, None);
        let l = parse_line(r#"data: {"choices":[{"delta":{},"finish_reason":"length"}]}"#);
        assert!(matches!(
            l,
            Ok(Line::Chunk(Chunk {
                finish: Some(StopReason::MaxTokens),
                ..
            }))
        ));
        assert_eq!(parse_line("data: [DONE]"), Ok(Line::Done));
        assert_eq!(parse_line(""), Ok(Line::Skip));
        assert_eq!(parse_line(": keep-alive"), Ok(Line::Skip));
    }

    #[test]
    fn usage_and_llama_timings_become_stats() {
        let l = parse_line(
            r#"data: {"choices":[],"usage":{"prompt_tokens":300,"completion_tokens":5},"timings":{"cache_n":290,"prompt_n":10,"prompt_ms":12.5,"predicted_ms":40.0}}"#,
        );
        let Ok(Line::Chunk(c)) = l else {
            panic!("{l:?}")
        };
        let u = c.usage.expect("usage");
        assert_eq!(u.prompt_tokens, Some(300));
        assert_eq!(u.cached_tokens, Some(290));
        assert_eq!(u.decode_ms, Some(40.0));
    }

    #[test]
    fn errors_and_garbage_are_typed() {
        assert!(matches!(
            parse_line("data: {not json"),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            parse_line(r#"data: {"error":{"code":500,"message":"out of\nmemory"}}"#),
            Err(RemoteError::ServerError { status: 500, .. })
        ));
        assert!(matches!(
            parse_line(r#"data: {"id":"x"}"#),
            Err(RemoteError::Malformed { .. })
        ));
    }
}
