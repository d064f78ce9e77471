//! Settings of the remote backend (`backend = "openai"`): where the server is, which
//! model to ask for, and which variable holds the key. The key itself is read from
//! that variable here, and never kept in the config file.

use serde::{Deserialize, Serialize};

/// llama.cpp's `llama-server` default address, the server tested with caro.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/v1";
/// llama-server serves whatever it loaded under any name; Ollama and vLLM need theirs.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder-1.5b-instruct";
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// Which engine answers requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// caro's own engine, on this machine.
    #[default]
    Local,
    /// An OpenAI-compatible chat-completions server.
    Openai,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "openai" => Ok(Self::Openai),
            other => Err(format!("unknown backend {other:?} (local or openai)")),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Openai => "openai",
        })
    }
}

/// `[openai]` in config.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiSection {
    /// Base URL including `/v1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Name of the environment variable that holds the API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Seconds one request may take, answer stream included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

impl OpenAiSection {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The effective `[openai]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiSettings {
    pub url: String,
    pub model: String,
    pub api_key_env: Option<String>,
    pub timeout_secs: u64,
}

impl OpenAiSettings {
    /// The key from the variable `api_key_env` names: `Ok(None)` when no variable is
    /// configured, `Err(name)` when it is configured but unset or empty.
    pub fn api_key(&self) -> Result<Option<String>, String> {
        match &self.api_key_env {
            None => Ok(None),
            Some(var) => std::env::var(var)
                .ok()
                .filter(|k| !k.trim().is_empty())
                .map(Some)
                .ok_or_else(|| var.clone()),
        }
    }

    pub fn section(&self) -> OpenAiSection {
        OpenAiSection {
            url: Some(self.url.clone()),
            model: Some(self.model.clone()),
            api_key_env: self.api_key_env.clone(),
            timeout: Some(self.timeout_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_parse_and_print() {
        assert_eq!("OpenAI".parse::<BackendKind>(), Ok(BackendKind::Openai));
        assert_eq!("local".parse::<BackendKind>(), Ok(BackendKind::Local));
        assert!("gpu".parse::<BackendKind>().is_err());
        assert_eq!(BackendKind::Openai.to_string(), "openai");
    }

    #[test]
    fn an_unset_key_variable_is_named() {
        let s = OpenAiSettings {
            url: DEFAULT_URL.into(),
            model: DEFAULT_MODEL.into(),
            api_key_env: Some("CARO_TEST_SURELY_UNSET_KEY_VAR".into()),
            timeout_secs: 1,
        };
        assert_eq!(s.api_key(), Err("CARO_TEST_SURELY_UNSET_KEY_VAR".into()));
    }
}
