//! What can go wrong talking to an OpenAI-compatible server, one variant per failure
//! the user can do something about. Each renders as one line; `crate::error` adds the
//! hint.

/// A failure of the remote backend. Messages never contain the API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the server at {url} closed the connection in the middle of its answer")]
    Dropped { url: String },
    #[error("the server refused the request (HTTP {status}, bad or missing API key): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("the API key variable {var} is not set")]
    MissingKey { var: String },
    #[error("the server does not know the model {model:?} (HTTP {status}): {message}")]
    UnknownModel {
        model: String,
        status: u16,
        message: String,
    },
    #[error("the server is busy (HTTP {status}): {message}")]
    Busy { status: u16, message: String },
    #[error("the server failed (HTTP {status}): {message}")]
    ServerError { status: u16, message: String },
    #[error("the server rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the server did not answer within {secs} s")]
    Timeout { secs: u64 },
    #[error("the server's answer stream is malformed: {detail}")]
    Malformed { detail: String },
    #[error("the server's answer stream ended before the answer did")]
    Truncated,
    #[error("the server gave an empty answer")]
    Empty,
}

impl RemoteError {
    /// The error for an HTTP status other than 200, from the body's `error.message`
    /// (OpenAI, llama.cpp, vLLM and Ollama all put the reason there).
    pub fn from_status(status: u16, body: &str, model: &str) -> Self {
        let message = error_message(body);
        match status {
            401 | 403 => Self::Unauthorized { status, message },
            404 => Self::UnknownModel {
                model: model.to_owned(),
                status,
                message,
            },
            // llama.cpp and vLLM answer an unknown model with 400 and say so.
            400 if message.to_lowercase().contains("model") => Self::UnknownModel {
                model: model.to_owned(),
                status,
                message,
            },
            429 | 503 => Self::Busy { status, message },
            500..=599 => Self::ServerError { status, message },
            _ => Self::Rejected { status, message },
        }
    }
}

/// The reason a server gave, on one line and short: `error.message` of a JSON body,
/// else the body's first line.
fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let text = parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
        })
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| body.lines().next().unwrap_or("").to_owned());
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    if short.is_empty() {
        "no reason given".to_owned()
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_maps_to_a_variant_with_the_servers_reason() {
        let body =
            r#"{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}"#;
        assert_eq!(
            RemoteError::from_status(401, body, "m"),
            RemoteError::Unauthorized {
                status: 401,
                message: "Invalid API Key".into()
            }
        );
        assert!(matches!(
            RemoteError::from_status(404, "{\"error\":{\"message\":\"model not found\"}}", "m"),
            RemoteError::UnknownModel { .. }
        ));
        assert!(matches!(
            RemoteError::from_status(400, "{\"error\":\"model 'x' not found\"}", "x"),
            RemoteError::UnknownModel { .. }
        ));
        assert!(matches!(
            RemoteError::from_status(429, "", "m"),
            RemoteError::Busy { .. }
        ));
        assert!(matches!(
            RemoteError::from_status(502, "<html>\nbad gateway", "m"),
            RemoteError::ServerError { .. }
        ));
    }

    #[test]
    fn every_message_is_one_line() {
        let e = RemoteError::from_status(500, "line one\nline two", "m");
        assert!(!e.to_string().contains('\n'), "{e}");
        assert_eq!(error_message(""), "no reason given");
    }
}
