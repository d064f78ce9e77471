//! The user's standing instructions ("prefer fd and rg"): `instructions = "…"` in
//! config.toml, else `instructions.md` beside it. They go at the end of the system
//! turn, so they are cached with it.

use std::path::PathBuf;

use super::ConfigError;

/// Longest instructions taken: they sit in every prompt, and every generated token
/// attends over them.
pub const MAX_BYTES: usize = 4096;

/// `instructions.md` in the config directory.
pub fn file() -> PathBuf {
    super::paths::config_dir().join("instructions.md")
}

/// `configured` when the config file sets it, else the contents of [`file`]; `None`
/// when neither says anything.
pub fn resolve(configured: Option<&str>) -> Result<Option<String>, ConfigError> {
    let (text, path) = match configured {
        Some(t) => (t.to_owned(), super::paths::config_file()),
        None => {
            let path = file();
            match std::fs::read_to_string(&path) {
                Ok(t) => (t, path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(ConfigError::Io { path, source }),
            }
        }
    };
    let text = text.trim();
    if text.len() > MAX_BYTES {
        return Err(ConfigError::Instructions {
            path,
            bytes: text.len(),
        });
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_key_is_taken_trimmed_and_capped() {
        assert_eq!(
            resolve(Some("  use fd \n")).ok().flatten().as_deref(),
            Some("use fd")
        );
        assert_eq!(resolve(Some(" ")).ok().flatten(), None);
        let long = "x".repeat(MAX_BYTES + 1);
        let e = resolve(Some(&long)).expect_err("too long");
        assert!(e.to_string().contains("at most 4096"), "{e}");
    }
}
