//! `GET {url}/models`: what `caro doctor` asks a server to see that it answers and
//! knows the configured model.

use super::{RemoteError, agent};
use crate::settings::OpenAiSettings;

/// The model names the server lists.
pub fn list(s: &OpenAiSettings) -> Result<Vec<String>, RemoteError> {
    let url = s.url.trim_end_matches('/');
    let mut req = agent(s.timeout_secs).get(format!("{url}/models"));
    match s.api_key() {
        Ok(Some(key)) => req = req.header("Authorization", format!("Bearer {key}")),
        Ok(None) => {}
        Err(var) => return Err(RemoteError::MissingKey { var }),
    }
    let unreachable = |reason: String| RemoteError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let resp = req.call().map_err(|e| match e {
        ureq::Error::Timeout(_) => RemoteError::Timeout {
            secs: s.timeout_secs,
        },
        e => unreachable(e.to_string()),
    })?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let text = body
        .with_config()
        .limit(4 << 20)
        .read_to_string()
        .map_err(|e| unreachable(e.to_string()))?;
    if status != 200 {
        return Err(RemoteError::from_status(status, &text, &s.model));
    }
    names(&text).ok_or_else(|| RemoteError::Malformed {
        detail: "GET /models gave no model list".into(),
    })
}

/// `data[].id` (OpenAI, llama.cpp, vLLM, Ollama's /v1) of a `/models` answer.
fn names(body: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let data = v.get("data")?.as_array()?;
    Some(
        data.iter()
            .filter_map(|m| m.get("id").and_then(|id| id.as_str()).map(str::to_owned))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_model_ids() {
        let body = r#"{"object":"list","data":[{"id":"qwen2.5-coder:1.5b","object":"model"}]}"#;
        assert_eq!(names(body), Some(vec!["qwen2.5-coder:1.5b".to_owned()]));
        assert_eq!(names("{}"), None);
    }
}
