//! The Hugging Face hub settings: endpoint, cache directory, token, offline mode, read
//! from the hub's own `HF_*` variables so that caro shares huggingface_hub's cache.

use std::path::PathBuf;
use std::time::Duration;

use super::error::StoreError;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where the hub cache is and which server the store talks to.
///
/// Built from the environment by the CLI ([`HubSettings::from_env`]); tests
/// build it directly so that they never touch process-wide variables.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// The hub cache root, the folder holding `models--Owner--Name/`.
    pub cache_dir: PathBuf,
    /// Hub base URL, without a trailing slash.
    pub endpoint: String,
    /// Sent as `Authorization: Bearer` to the endpoint's host only.
    pub token: Option<String>,
    /// Never touch the network (HF_HUB_OFFLINE).
    pub offline: bool,
    pub connect_timeout: Duration,
    /// How long a read may wait for data before the transfer counts as stalled.
    pub read_timeout: Duration,
}

impl HubSettings {
    pub fn new(cache_dir: PathBuf) -> Self {
        Self {
            cache_dir,
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            offline: false,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
        }
    }

    pub fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = endpoint.trim_end_matches('/').to_string();
        self
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// Reads the same variables as the Python `huggingface_hub` so that caro
    /// shares its cache and credentials.
    pub fn from_env() -> Result<Self, StoreError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`HubSettings::from_env`] with the variables supplied by `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        // Empty values count as unset, as in huggingface_hub.
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());

        let hf_home = var("HF_HOME").map(PathBuf::from).or_else(|| {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("huggingface"))
        });
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(PathBuf::from)
            .or_else(|| hf_home.as_ref().map(|h| h.join("hub")))
            .ok_or(StoreError::NoCacheDir)?;

        let token = var("HF_TOKEN")
            .or_else(|| var("HUGGING_FACE_HUB_TOKEN"))
            .or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(PathBuf::from)
                    .or_else(|| hf_home.as_ref().map(|h| h.join("token")))?;
                // A missing or unreadable token file just means anonymous access.
                std::fs::read_to_string(path).ok()
            })
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());

        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "on" | "yes" | "true"
            )
        });

        let mut hub = Self::new(cache_dir).with_token(token);
        if let Some(endpoint) = var("HF_ENDPOINT") {
            hub = hub.with_endpoint(endpoint.trim());
        }
        hub.offline = offline;
        Ok(hub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn hub(vars: &[(&str, &str)]) -> Result<HubSettings, StoreError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubSettings::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn cache_dir_precedence() -> Result<(), StoreError> {
        let c = hub(&[("HOME", "/home/u")])?;
        assert_eq!(c.cache_dir, PathBuf::from("/home/u/.cache/huggingface/hub"));
        let c = hub(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")])?;
        assert_eq!(c.cache_dir, PathBuf::from("/xdg/huggingface/hub"));
        let c = hub(&[("HOME", "/home/u"), ("HF_HOME", "/hf")])?;
        assert_eq!(c.cache_dir, PathBuf::from("/hf/hub"));
        let c = hub(&[("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/hub")])?;
        assert_eq!(c.cache_dir, PathBuf::from("/hub"));
        let c = hub(&[("HF_HOME", "/hf"), ("HF_HUB_CACHE", "")])?;
        assert_eq!(c.cache_dir, PathBuf::from("/hf/hub"));
        assert!(matches!(hub(&[]), Err(StoreError::NoCacheDir)));
        Ok(())
    }

    #[test]
    fn endpoint_token_offline() -> Result<(), StoreError> {
        let c = hub(&[("HOME", "/nonexistent-home")])?;
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.token, None);
        assert!(!c.offline);
        let c = hub(&[
            ("HOME", "/h"),
            ("HF_ENDPOINT", "https://hf-mirror.example/"),
            ("HF_TOKEN", " hf_abc\n"),
            ("HF_HUB_OFFLINE", "1"),
        ])?;
        assert_eq!(c.endpoint, "https://hf-mirror.example");
        assert_eq!(c.token.as_deref(), Some("hf_abc"));
        assert!(c.offline);
        Ok(())
    }

    #[test]
    fn token_file_is_read() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("token"), "hf_from_file\n")?;
        let home = dir.path().to_string_lossy().into_owned();
        let c = hub(&[("HF_HOME", &home)])?;
        assert_eq!(c.token.as_deref(), Some("hf_from_file"));
        let c = hub(&[("HF_HOME", &home), ("HF_TOKEN", "hf_env")])?;
        assert_eq!(c.token.as_deref(), Some("hf_env"));
        Ok(())
    }
}
