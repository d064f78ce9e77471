//! The wire format between clients and the daemon: newline-delimited JSON, one request
//! per connection, answered by a stream of events. Documented in `docs/protocol.md`.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::engine::GenerationStats;
use crate::settings::Shell;

/// Bumped on any incompatible change. The crate version is exchanged too, so a client
/// from another build restarts the daemon.
pub const PROTOCOL_VERSION: u32 = 3;
pub const MAX_LINE: usize = 64 * 1024;

pub fn crate_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Ping {
        v: u32,
        client: String,
    },
    Status {
        v: u32,
        client: String,
    },
    Generate(GenerateParams),
    /// Sent on an open `generate` connection to stop it.
    Cancel {
        v: u32,
    },
    Shutdown {
        v: u32,
        client: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateParams {
    pub v: u32,
    pub client: String,
    /// The whole line the user typed: the request wherever the cursor is.
    pub buffer: String,
    pub shell: Shell,
    pub cwd: String,
    /// 0 for the first answer, 1, 2, … for "give me another one".
    #[serde(default)]
    pub alternative: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// With n > 0, `done` also lists up to n answers (the first and its alternatives)
    /// for the user to pick from.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub candidates: u32,
    /// The shell's recent commands, oldest first (sent only when `history` is on;
    /// redacted again by the daemon).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl GenerateParams {
    /// A first-answer request for `buffer` from this build of caro.
    pub fn new(buffer: String, shell: Shell, cwd: String) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            client: crate_version().into(),
            buffer,
            shell,
            cwd,
            alternative: 0,
            temperature: None,
            max_tokens: None,
            seed: None,
            candidates: 0,
            history: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Pong { v: u32, version: String, pid: u32 },
    Progress { stage: Stage },
    Token { text: String },
    Done(Box<Done>),
    Status(Box<DaemonStatus>),
    Error { code: ErrorCode, message: String },
    Bye,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Queued,
    Generating,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub command: String,
    pub verdict: crate::safety::Verdict,
    /// What a check found wrong in the command, when no answer passed them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
    pub stats: GenerationStats,
    /// Time from the request arriving to this event, in ms (includes queueing).
    pub elapsed_ms: f64,
    /// The answers to pick from, when the request asked for `candidates`; the first is
    /// `command`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

/// One answer of a pick list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub command: String,
    pub verdict: crate::safety::Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
}

/// The version fields of a request that did not parse, so that a client from another
/// build is told to restart the daemon rather than that its request is malformed.
#[derive(Debug, Deserialize)]
pub struct Versions {
    pub v: Option<u32>,
    pub client: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub version: String,
    pub uptime_secs: u64,
    pub model: String,
    pub threads: usize,
    pub workers: usize,
    pub queue: usize,
    pub busy: usize,
    pub requests_served: u64,
    pub cached_prefix_tokens: usize,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    /// Resident memory now (VmRSS), MiB.
    pub rss_mb: f64,
    /// Peak resident memory (VmHWM, mapped file pages included), MiB; absent from
    /// older daemons.
    #[serde(default)]
    pub peak_rss_mb: f64,
    pub idle_timeout_secs: u64,
    pub load_ms: f64,
    pub warmup_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    TooLarge,
    VersionMismatch,
    Forbidden,
    Busy,
    Cancelled,
    EmptyRequest,
    RequestTooLong,
    NoCommand,
    ShuttingDown,
    Internal,
    /// The OpenAI-compatible server failed; the message says how.
    BackendUnavailable,
}

/// Reads one line of at most [`MAX_LINE`] bytes. `Ok(None)` is a clean end of stream.
pub fn read_line<R: BufRead>(r: &mut R) -> Result<Option<String>, LineError> {
    let mut buf = Vec::new();
    let mut limited = <&mut R as std::io::Read>::take(&mut *r, MAX_LINE as u64 + 1);
    let n = limited.read_until(b'\n', &mut buf).map_err(LineError::Io)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if buf.len() > MAX_LINE {
            return Err(LineError::TooLarge);
        }
        // A last line without newline is still a line.
    } else {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| LineError::NotUtf8)
}

#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("request line exceeds {MAX_LINE} bytes")]
    TooLarge,
    #[error("request is not valid UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Io(std::io::Error),
}

pub fn write_json<W: Write, T: Serialize>(w: &mut W, value: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let r = Request::Generate(GenerateParams {
            v: PROTOCOL_VERSION,
            client: "0.1.0".into(),
            buffer: "list files".into(),
            shell: Shell::Zsh,
            cwd: "/tmp".into(),
            alternative: 2,
            temperature: None,
            max_tokens: None,
            seed: None,
            candidates: 3,
            history: vec!["ls".into()],
        });
        let s = serde_json::to_string(&r).expect("serialize");
        assert!(s.contains("\"op\":\"generate\""));
        assert_eq!(serde_json::from_str::<Request>(&s).expect("parse"), r);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let s = r#"{"op":"ping","v":1,"client":"x","future":true}"#;
        assert!(serde_json::from_str::<Request>(s).is_err());
        // Also a field that older clients sent: the cursor (the whole line is the request).
        let s = r#"{"op":"generate","v":2,"client":"x","buffer":"ls","cursor":2,"shell":"sh","cwd":"/"}"#;
        assert!(serde_json::from_str::<Request>(s).is_err());
    }

    #[test]
    fn oversized_and_binary_lines_are_errors() {
        let big = vec![b'a'; MAX_LINE + 10];
        assert!(matches!(read_line(&mut &big[..]), Err(LineError::TooLarge)));
        let bin: &[u8] = b"\xff\xfe\n";
        assert!(matches!(read_line(&mut &bin[..]), Err(LineError::NotUtf8)));
        let ok: &[u8] = b"{}\nrest";
        assert_eq!(
            read_line(&mut &ok[..]).expect("line").as_deref(),
            Some("{}")
        );
    }
}
