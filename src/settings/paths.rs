//! Where caro keeps things, following the XDG base-directory spec on every Unix.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::home_dir().unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        // The spec says relative paths are invalid and must be ignored.
        Some(v) if PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

/// `$XDG_CONFIG_HOME/caro` (default `~/.config/caro`).
pub fn config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config").join("caro")
}

/// The config file: `$CARO_CONFIG`, else `config.toml` in [`config_dir`].
pub fn config_file() -> PathBuf {
    super::env::config_file().unwrap_or_else(|| config_dir().join("config.toml"))
}

/// `$XDG_CACHE_HOME/caro` (default `~/.cache/caro`).
pub fn cache_dir() -> PathBuf {
    xdg("XDG_CACHE_HOME", ".cache").join("caro")
}

/// Where the prompt prefix's keys and values are kept: `$CARO_PREFIX_CACHE` (`off` or
/// empty: nowhere), else `prefix` in [`cache_dir`].
pub fn prefix_cache_dir() -> Option<PathBuf> {
    super::env::prefix_cache().unwrap_or_else(|| Some(cache_dir().join("prefix")))
}

/// caro's own models directory: a catalogue file here is used (and, once its SHA-256
/// matches, counted as downloaded) before the hub cache is looked at.
pub fn models_dir() -> PathBuf {
    cache_dir().join("models")
}
