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
    match std::env::var_os("CARO_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => config_dir().join("config.toml"),
    }
}

/// `$XDG_CACHE_HOME/caro` (default `~/.cache/caro`).
pub fn cache_dir() -> PathBuf {
    xdg("XDG_CACHE_HOME", ".cache").join("caro")
}

/// Where the prompt prefix's keys and values are kept: `$CARO_PREFIX_CACHE` (`off` or
/// empty: nowhere), else `prefix` in [`cache_dir`].
pub fn prefix_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("CARO_PREFIX_CACHE") {
        Some(v) if v.is_empty() || v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => Some(cache_dir().join("prefix")),
    }
}

/// Where model files are looked for by default.
pub fn models_dir() -> PathBuf {
    cache_dir().join("models")
}
