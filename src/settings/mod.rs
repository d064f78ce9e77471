//! The effective settings: command-line flag, then environment (`CARO_*`), then the
//! config file, then the default. This module is the only reader of `config.toml`
//! ([`file`]) and of `CARO_*` variables ([`env`]); everything else is handed values.

mod device;
pub mod env;
pub mod file;
pub mod instructions;
pub mod openai;
pub mod paths;
mod shell;

use std::path::PathBuf;

pub use device::DeviceSetting;
pub use file::{ConfigError, ConfigFile, DaemonSection, KeysSection, PickWith, TrialSetting};
pub use openai::{BackendKind, OpenAiSection, OpenAiSettings};
pub use shell::{Shell, UnknownShell};

use crate::store::{Catalog, ModelStore};

pub const DEFAULT_MAX_TOKENS: usize = 96;
pub const DEFAULT_CONTEXT: usize = 4096;
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 30 * 60;
pub const DEFAULT_WORKERS: usize = 1;
/// Tokens guessed per decode pass by prompt lookup (see `engine::speculate`): off,
/// because it does not pay yet. With the engine's thread settings on a 2-core Zen 4 a
/// pass over 2 or 3 rows costs 1.5x or 1.9x one row (the multi-row kernel is not yet
/// tiled), while guesses save a quarter of the passes; the 10 everyday requests
/// decoded 0.96x as fast with 2. A guessed row has to cost under about 0.3 of a pass
/// before 2 is worth turning on.
pub const DEFAULT_SPECULATE: usize = 0;
pub const DEFAULT_QUEUE: usize = 8;
/// Sampling seed when none is given, so that answers repeat from run to run.
pub const DEFAULT_SEED: u64 = 299_792_458;
/// Most history entries asked for; the byte budget usually binds first.
pub const MAX_HISTORY: usize = 50;

/// Threads when nothing is configured: one per core, measured fastest on small machines
/// (see README, "Performance").
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The default model's file name: the catalogue's default variant (models/catalog.toml).
pub fn default_model_file() -> &'static str {
    let catalog = Catalog::builtin();
    catalog
        .default_variant()
        .map_or(catalog.default.as_str(), |v| v.file.as_str())
}

/// Values that beat the config file: command-line flags, or `CARO_*` variables.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub model: Option<PathBuf>,
    pub threads: Option<usize>,
    pub shell: Option<Shell>,
    pub max_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub backend: Option<BackendKind>,
    pub device: Option<DeviceSetting>,
    pub speculate: Option<usize>,
    pub openai_url: Option<String>,
    pub openai_model: Option<String>,
    pub openai_api_key_env: Option<String>,
}

impl Overrides {
    /// Each value of `self`, else that of `weaker`.
    pub fn or(self, weaker: Overrides) -> Overrides {
        Overrides {
            model: self.model.or(weaker.model),
            threads: self.threads.or(weaker.threads),
            shell: self.shell.or(weaker.shell),
            max_tokens: self.max_tokens.or(weaker.max_tokens),
            temperature: self.temperature.or(weaker.temperature),
            seed: self.seed.or(weaker.seed),
            idle_timeout_secs: self.idle_timeout_secs.or(weaker.idle_timeout_secs),
            backend: self.backend.or(weaker.backend),
            device: self.device.or(weaker.device),
            speculate: self.speculate.or(weaker.speculate),
            openai_url: self.openai_url.or(weaker.openai_url),
            openai_model: self.openai_model.or(weaker.openai_model),
            openai_api_key_env: self.openai_api_key_env.or(weaker.openai_api_key_env),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub config_file: PathBuf,
    /// The model file to use, and where that choice came from (for error messages).
    pub model: PathBuf,
    pub model_source: &'static str,
    pub threads: usize,
    pub shell: Shell,
    pub max_tokens: usize,
    pub temperature: f64,
    pub seed: u64,
    pub context: usize,
    /// Tokens the local engine guesses per decode pass (0: none).
    pub speculate: usize,
    pub idle_timeout_secs: u64,
    pub workers: usize,
    pub queue: usize,
    /// Where the prompt prefix's keys and values are kept; `None`: nowhere.
    pub prefix_cache: Option<PathBuf>,
    /// caro's own models directory (see [`paths::models_dir`]).
    pub models_dir: PathBuf,
    /// Whether answers are tried in a sandbox before they are shown.
    pub trial: TrialSetting,
    /// Which engine answers: caro's own, or the `[openai]` server.
    pub backend: BackendKind,
    /// Where the local engine runs.
    pub device: DeviceSetting,
    /// The user's standing instructions, when there are any.
    pub instructions: Option<String>,
    /// Whether they come from config.toml (else from instructions.md, which the daemon
    /// reads again when it changes).
    pub instructions_in_config: bool,
    /// How many recent shell commands go with a request (0: none).
    pub history: usize,
    /// Whether the widgets put the typed words into the shell's history.
    pub keep_prose: bool,
    pub pick: PickWith,
    /// Keys from config.toml; `caro init` flags and `$CARO_*KEY` take precedence.
    pub keys: KeysSection,
    pub openai: OpenAiSettings,
}

/// Where the model choice came from when nothing named a file.
pub const DEFAULT_LOCATION: &str = "default location";

impl Settings {
    /// `flags`, then the environment, then the config file, then the defaults.
    pub fn resolve(flags: &Overrides) -> Result<Self, ConfigError> {
        let config_file = paths::config_file();
        let cfg = ConfigFile::load(&config_file)?;
        let o = flags.clone().or(env::overrides()?);
        Self::resolve_with(&o, &cfg, config_file)
    }

    pub fn resolve_with(
        o: &Overrides,
        cfg: &ConfigFile,
        config_file: PathBuf,
    ) -> Result<Self, ConfigError> {
        let models_dir = paths::models_dir();
        let (model, model_source) = match (&o.model, &cfg.model) {
            (Some(m), _) => (m.clone(), "--model/CARO_MODEL"),
            (None, Some(m)) => (expand_tilde(m), "config file"),
            (None, None) => (
                default_model(&models_dir, cfg.variant.as_deref()),
                DEFAULT_LOCATION,
            ),
        };
        let threads = o
            .threads
            .or(cfg.threads)
            .unwrap_or_else(default_threads)
            .max(1);
        let shell = match o.shell.or(cfg.shell) {
            Some(sh) => sh,
            None => env::default_shell(),
        };
        Ok(Self {
            config_file,
            model,
            model_source,
            threads,
            shell,
            max_tokens: o
                .max_tokens
                .or(cfg.max_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS)
                .max(1),
            temperature: o.temperature.or(cfg.temperature).unwrap_or(0.0),
            seed: o.seed.or(cfg.seed).unwrap_or(DEFAULT_SEED),
            context: cfg.context.unwrap_or(DEFAULT_CONTEXT).max(256),
            speculate: o.speculate.or(cfg.speculate).unwrap_or(DEFAULT_SPECULATE),
            idle_timeout_secs: o
                .idle_timeout_secs
                .or(cfg.daemon.idle_timeout)
                .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS),
            workers: cfg.daemon.workers.unwrap_or(DEFAULT_WORKERS).max(1),
            queue: cfg.daemon.queue.unwrap_or(DEFAULT_QUEUE),
            prefix_cache: paths::prefix_cache_dir(),
            models_dir,
            trial: cfg.trial.unwrap_or_default(),
            backend: o.backend.or(cfg.backend).unwrap_or_default(),
            device: o.device.or(cfg.device).unwrap_or_default(),
            instructions: instructions::resolve(cfg.instructions.as_deref())?,
            instructions_in_config: cfg.instructions.is_some(),
            history: cfg.history.unwrap_or(0).min(MAX_HISTORY),
            keep_prose: cfg.keep_prose.unwrap_or(true),
            pick: cfg.pick.unwrap_or_default(),
            keys: cfg.keys.clone(),
            openai: OpenAiSettings {
                url: o
                    .openai_url
                    .clone()
                    .or_else(|| cfg.openai.url.clone())
                    .unwrap_or_else(|| openai::DEFAULT_URL.into()),
                model: o
                    .openai_model
                    .clone()
                    .or_else(|| cfg.openai.model.clone())
                    .unwrap_or_else(|| openai::DEFAULT_MODEL.into()),
                api_key_env: o
                    .openai_api_key_env
                    .clone()
                    .or_else(|| cfg.openai.api_key_env.clone()),
                timeout_secs: cfg
                    .openai
                    .timeout
                    .unwrap_or(openai::DEFAULT_TIMEOUT_SECS)
                    .max(1),
            },
        })
    }
}

impl Settings {
    /// The instructions as they are now: those of config.toml, or instructions.md read
    /// again (it may have been edited since); on a read error, the ones already held.
    pub fn current_instructions(&self) -> Option<String> {
        if self.instructions_in_config {
            return self.instructions.clone();
        }
        instructions::resolve(None).unwrap_or_else(|e| {
            tracing::warn!("{e}; keeping the instructions read before");
            self.instructions.clone()
        })
    }
}

/// The catalogue file for `variant`: in caro's own models directory if it is there
/// (e.g. placed by hand or by a script), else in the hub cache where `caro model pull`
/// puts it. When neither exists, the first is returned so errors name it.
fn default_model(models_dir: &std::path::Path, variant: Option<&str>) -> PathBuf {
    let catalog = Catalog::builtin();
    let variant = variant
        .and_then(|v| catalog.get(v).ok())
        .or_else(|| catalog.default_variant().ok());
    let file = variant.map_or_else(default_model_file, |v| v.file.as_str());
    let local = models_dir.join(file);
    if local.is_file() {
        return local;
    }
    variant
        .and_then(|v| ModelStore::from_env().ok()?.find_cached(v))
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
        let cfg = ConfigFile {
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
        assert_eq!(s.speculate, DEFAULT_SPECULATE);
    }

    #[test]
    fn speculation_is_set_by_the_environment_over_the_file() {
        let cfg: ConfigFile = toml::from_str("speculate = 0\n").expect("parse");
        let s = Settings::resolve_with(&Overrides::default(), &cfg, "/c".into()).expect("settings");
        assert_eq!(s.speculate, 0);
        let env = Overrides {
            speculate: Some(4),
            ..Default::default()
        };
        let s = Settings::resolve_with(&env, &cfg, "/c".into()).expect("settings");
        assert_eq!(s.speculate, 4);
    }

    #[test]
    fn model_from_config_expands_tilde() {
        let cfg = ConfigFile {
            model: Some("~/m.gguf".into()),
            ..Default::default()
        };
        let s = Settings::resolve_with(&Overrides::default(), &cfg, "/c".into()).expect("settings");
        assert!(!s.model.starts_with("~"));
        assert_eq!(s.model_source, "config file");
    }

    #[test]
    fn stronger_overrides_win_value_by_value() {
        let flags = Overrides {
            shell: Some(Shell::Fish),
            ..Default::default()
        };
        let env = Overrides {
            shell: Some(Shell::Zsh),
            seed: Some(5),
            ..Default::default()
        };
        let cfg = ConfigFile {
            seed: Some(9),
            shell: Some(Shell::Bash),
            ..Default::default()
        };
        let s = Settings::resolve_with(&flags.or(env), &cfg, "/c".into()).expect("settings");
        assert_eq!(s.shell, Shell::Fish);
        assert_eq!(s.seed, 5);
    }

    #[test]
    fn default_model_is_the_catalogue_default_in_the_models_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(default_model_file());
        std::fs::write(&file, b"x").expect("write");
        assert_eq!(default_model(dir.path(), None), file);
        assert_eq!(default_model(dir.path(), Some("no-such-variant")), file);
        assert!(default_model_file().ends_with(".gguf"));
    }
}
