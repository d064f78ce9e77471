//! The effective settings: command-line flag, then environment (`CARO_*`), then the
//! config file, then the default.

use std::path::PathBuf;

use crate::config::{Config, ConfigError, env_number};
use crate::engine::{self, context};
use crate::paths;

/// The file name of the default model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M).
pub const DEFAULT_MODEL_FILE: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

pub const DEFAULT_MAX_TOKENS: usize = 96;
pub const DEFAULT_CONTEXT: usize = 4096;
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 30 * 60;
pub const DEFAULT_WORKERS: usize = 1;
pub const DEFAULT_QUEUE: usize = 8;

/// Values given on the command line (clap also fills them from `CARO_MODEL` etc.).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub model: Option<PathBuf>,
    pub threads: Option<usize>,
    pub shell: Option<String>,
    pub max_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub config_file: PathBuf,
    /// The model file to use, and where that choice came from (for error messages).
    pub model: PathBuf,
    pub model_source: &'static str,
    pub threads: usize,
    pub shell: String,
    pub max_tokens: usize,
    pub temperature: f64,
    pub seed: u64,
    pub context: usize,
    pub idle_timeout_secs: u64,
    pub workers: usize,
    pub queue: usize,
}

impl Settings {
    pub fn resolve(o: &Overrides) -> Result<Self, ConfigError> {
        let config_file = paths::config_file();
        let cfg = Config::load(&config_file)?;
        Self::resolve_with(o, &cfg, config_file)
    }

    pub fn resolve_with(
        o: &Overrides,
        cfg: &Config,
        config_file: PathBuf,
    ) -> Result<Self, ConfigError> {
        let (model, model_source) = match (&o.model, &cfg.model) {
            (Some(m), _) => (m.clone(), "--model/CARO_MODEL"),
            (None, Some(m)) => (expand_tilde(m), "config file"),
            (None, None) => (default_model(cfg.variant.as_deref()), "default location"),
        };
        let threads = o
            .threads
            .or(cfg.threads)
            .unwrap_or_else(engine::threads::default_threads)
            .max(1);
        let shell = o
            .shell
            .clone()
            .or_else(|| std::env::var("CARO_SHELL").ok().filter(|s| !s.is_empty()))
            .or_else(|| cfg.shell.clone())
            .unwrap_or_else(context::shell_from_env);
        Ok(Self {
            config_file,
            model,
            model_source,
            threads,
            shell,
            max_tokens: o
                .max_tokens
                .or(env_number("CARO_MAX_TOKENS")?)
                .or(cfg.max_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS)
                .max(1),
            temperature: o
                .temperature
                .or(env_number("CARO_TEMPERATURE")?)
                .or(cfg.temperature)
                .unwrap_or(0.0),
            seed: o
                .seed
                .or(env_number("CARO_SEED")?)
                .or(cfg.seed)
                .unwrap_or(engine::DEFAULT_SEED),
            context: cfg.context.unwrap_or(DEFAULT_CONTEXT).max(256),
            idle_timeout_secs: env_number("CARO_IDLE_TIMEOUT")?
                .or(cfg.daemon.idle_timeout)
                .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS),
            workers: cfg.daemon.workers.unwrap_or(DEFAULT_WORKERS).max(1),
            queue: cfg.daemon.queue.unwrap_or(DEFAULT_QUEUE),
        })
    }
}

/// The catalogue file for `variant`: in caro's own models directory if it is there
/// (e.g. placed by hand or by a script), else in the hub cache where `caro model pull`
/// puts it. When neither exists, the first is returned so errors name it.
fn default_model(variant: Option<&str>) -> PathBuf {
    let catalog = crate::store::Catalog::builtin();
    let variant = match variant {
        Some(v) => catalog.get(v).ok(),
        None => catalog.default_variant().ok(),
    };
    let file = variant.map_or(DEFAULT_MODEL_FILE, |v| v.file.as_str());
    let local = paths::models_dir().join(file);
    if local.is_file() {
        return local;
    }
    variant
        .and_then(|v| crate::store::ModelStore::from_env().ok()?.find_cached(v))
        .unwrap_or(local)
}

fn expand_tilde(p: &std::path::Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => std::env::home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| p.to_owned()),
        Err(_) => p.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_config_beats_default() {
        let cfg = Config {
            threads: Some(3),
            max_tokens: Some(10),
            ..Default::default()
        };
        let o = Overrides {
            threads: Some(1),
            ..Default::default()
        };
        let s = Settings::resolve_with(&o, &cfg, "/c".into()).expect("settings");
        assert_eq!(s.threads, 1);
        assert_eq!(s.max_tokens, 10);
        assert_eq!(s.workers, DEFAULT_WORKERS);
    }

    #[test]
    fn model_from_config_expands_tilde() {
        let cfg = Config {
            model: Some("~/m.gguf".into()),
            ..Default::default()
        };
        let s = Settings::resolve_with(&Overrides::default(), &cfg, "/c".into()).expect("settings");
        assert!(!s.model.starts_with("~"));
        assert_eq!(s.model_source, "config file");
    }
}
