//! Every `CARO_*` variable caro reads, read here and nowhere else. Each has a cheap
//! accessor so that fast paths (the widget's keypress, shell start-up) can take the one
//! variable they need without loading the config file.

use std::path::PathBuf;

use super::Overrides;
use super::file::ConfigError;
use super::shell::Shell;

/// A variable's value, with unset and empty (or blank) alike meaning "not given".
fn text(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// A value such as `CARO_THREADS=2`; one that does not parse is an error naming it.
fn number<T: std::str::FromStr>(key: &str) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match text(key) {
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e: T::Err| ConfigError::Env {
                key: key.into(),
                value: v,
                message: e.to_string(),
            }),
        None => Ok(None),
    }
}

/// `CARO_MODEL`, `CARO_THREADS`, `CARO_SHELL`, `CARO_MAX_TOKENS`, `CARO_TEMPERATURE`,
/// `CARO_SEED`, `CARO_IDLE_TIMEOUT`, `CARO_BACKEND`, `CARO_DEVICE`, `CARO_SPECULATE` and
/// `CARO_OPENAI_{URL,MODEL,API_KEY_ENV}`;
/// a value that does not parse is an error naming it.
pub(crate) fn overrides() -> Result<Overrides, ConfigError> {
    Ok(Overrides {
        model: std::env::var_os("CARO_MODEL")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        threads: number("CARO_THREADS")?,
        shell: number("CARO_SHELL")?,
        max_tokens: number("CARO_MAX_TOKENS")?,
        temperature: number("CARO_TEMPERATURE")?,
        seed: number("CARO_SEED")?,
        idle_timeout_secs: number("CARO_IDLE_TIMEOUT")?,
        backend: number("CARO_BACKEND")?,
        device: number("CARO_DEVICE")?,
        speculate: number("CARO_SPECULATE")?,
        openai_url: text("CARO_OPENAI_URL"),
        openai_model: text("CARO_OPENAI_MODEL"),
        openai_api_key_env: text("CARO_OPENAI_API_KEY_ENV"),
    })
}

/// The shell to write commands for when no flag or file says: `CARO_SHELL` if it names
/// a known shell, else the login shell (`$SHELL`). Reads no file.
pub fn default_shell() -> Shell {
    text("CARO_SHELL")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Shell::from_program(&std::env::var("SHELL").unwrap_or_default()))
}

/// `CARO_CONFIG`: the config file, instead of the one in the config directory.
pub(crate) fn config_file() -> Option<PathBuf> {
    std::env::var_os("CARO_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `CARO_PREFIX_CACHE`: `Some(None)` when set to `off` or empty (keep it nowhere).
pub(crate) fn prefix_cache() -> Option<Option<PathBuf>> {
    std::env::var_os("CARO_PREFIX_CACHE")
        .map(|v| (!(v.is_empty() || v == "off")).then(|| PathBuf::from(v)))
}

/// `CARO_LOG`: a tracing filter such as `caro=debug`.
pub fn log_filter() -> Option<String> {
    text("CARO_LOG")
}

/// `CARO_START_TIMEOUT`: seconds a client waits for a daemon it started.
pub fn start_timeout_secs() -> Option<u64> {
    text("CARO_START_TIMEOUT").and_then(|v| v.trim().parse().ok())
}

/// `CARO_PREFILL_CHUNK`: prompt tokens per forward pass, for experiments.
pub fn prefill_chunk() -> Option<usize> {
    text("CARO_PREFILL_CHUNK").and_then(|v| v.trim().parse().ok())
}

/// `CARO_KEY`: the key the shell widget binds.
pub fn key() -> Option<String> {
    text("CARO_KEY")
}

/// `CARO_EXPLAIN_KEY`: the key of the explain widget (`none` for no key).
pub fn explain_key() -> Option<String> {
    text("CARO_EXPLAIN_KEY")
}

/// `CARO_PICK_KEY`: the key of the pick widget (`none` for no key).
pub fn pick_key() -> Option<String> {
    text("CARO_PICK_KEY")
}
