//! Shell integration: the scripts printed by `caro init <shell>`.
//!
//! The scripts live in `shell/caro.{zsh,bash,fish}` and are compiled in.
//! Values that depend on the user's choice are `@CARO_...@` placeholders,
//! each replaced by one word already quoted for the target shell:
//!
//! | placeholder         | shells     | value                                          |
//! |---------------------|------------|------------------------------------------------|
//! | `@CARO_BIN@`        | all        | absolute path of the running `caro`            |
//! | `@CARO_BIND@`       | all        | `1`, or `0` for `--no-bind`                    |
//! | `@CARO_KEY@`        | all        | the key: `'^G'` (zsh), `'\C-g'` (bash), `\cg` (fish 3) |
//! | `@CARO_KEY4@`       | fish       | the key as fish 4 names it: `'ctrl-g'`          |
//! | `@CARO_UNDO_KEY@`   | bash, fish | the undo key (Alt-G), or `''` when the key is Alt-G itself |
//! | `@CARO_UNDO_KEY4@`  | fish       | the undo key for fish 4                        |
//! | `@CARO_KEY_NAME@`   | bash       | `'Ctrl-G'`, for the bash 3 hint                |
//! | `@CARO_EXPLAIN_KEY@` | all       | the explain key (Alt-I), or `''` for none      |
//! | `@CARO_EXPLAIN_KEY4@` | fish     | the explain key for fish 4                     |

mod key;
mod quote;

use std::path::Path;

use key::Key;

use crate::settings::Shell;

/// Why `caro init` could not produce a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    /// `--key` / `$CARO_KEY` is not a key we can bind.
    #[error("invalid key {spec:?}: {reason}")]
    BadKey { spec: String, reason: String },
    /// Plain `sh` has no line editor to bind a key in.
    #[error("there is no shell integration for {0}; use zsh, bash or fish")]
    NoIntegration(Shell),
}

const ZSH_SCRIPT: &str = include_str!("../../shell/caro.zsh");
const BASH_SCRIPT: &str = include_str!("../../shell/caro.bash");
const FISH_SCRIPT: &str = include_str!("../../shell/caro.fish");

/// The integration script for `shell`, calling `caro_bin` (which should be
/// the absolute path of the running executable; the script falls back to
/// `caro` on `PATH` when that file is gone).
///
/// `key` is a key spec such as `ctrl-g`, `^G`, `\C-g` or `alt-g`; when it is
/// `None` (or blank), Ctrl-G. `explain_key` likewise, Alt-I by default and `none`
/// for no key. With `bind == false` the script defines its widgets/functions but
/// binds no key.
pub fn init_script(
    shell: Shell,
    key: Option<&str>,
    explain_key: Option<&str>,
    bind: bool,
    caro_bin: &Path,
) -> Result<String, InitError> {
    let key = match key.filter(|s| !s.trim().is_empty()) {
        Some(spec) => Key::parse(spec)?,
        None => key::DEFAULT_KEY,
    };
    let taken = |k: Key| k == key || Some(k) == key.undo_key();
    let explain = match explain_key.map(str::trim) {
        Some("none") => None,
        Some(spec) if !spec.is_empty() => {
            let k = Key::parse(spec)?;
            if taken(k) {
                return Err(InitError::BadKey {
                    spec: spec.to_owned(),
                    reason: "the explain key must differ from the main and undo keys".into(),
                });
            }
            Some(k)
        }
        // A main key on Alt-I leaves explain without a default key.
        _ => Some(key::DEFAULT_EXPLAIN_KEY).filter(|k| !taken(*k)),
    };
    render(shell, key, explain, bind, caro_bin)
}

fn render(
    shell: Shell,
    key: Key,
    explain: Option<Key>,
    bind: bool,
    caro_bin: &Path,
) -> Result<String, InitError> {
    let bind = if bind { "1" } else { "0" };
    let undo = key.undo_key();
    Ok(match shell {
        Shell::Zsh => substitute(
            ZSH_SCRIPT,
            &[
                ("@CARO_BIN@", quote::posix_path(caro_bin)),
                ("@CARO_BIND@", bind.to_owned()),
                ("@CARO_KEY@", quote::posix(&key.zsh())),
                (
                    "@CARO_EXPLAIN_KEY@",
                    quote::posix(&explain.map(Key::zsh).unwrap_or_default()),
                ),
            ],
        ),
        Shell::Bash => substitute(
            BASH_SCRIPT,
            &[
                ("@CARO_BIN@", quote::posix_path(caro_bin)),
                ("@CARO_BIND@", bind.to_owned()),
                ("@CARO_KEY@", quote::posix(&key.readline())),
                (
                    "@CARO_UNDO_KEY@",
                    quote::posix(&undo.map(Key::readline).unwrap_or_default()),
                ),
                ("@CARO_KEY_NAME@", quote::posix(&key.name())),
                (
                    "@CARO_EXPLAIN_KEY@",
                    quote::posix(&explain.map(Key::readline).unwrap_or_default()),
                ),
            ],
        ),
        Shell::Fish => substitute(
            FISH_SCRIPT,
            &[
                ("@CARO_BIN@", quote::fish_path(caro_bin)),
                ("@CARO_BIND@", bind.to_owned()),
                // An unquoted word, so that fish turns the escapes into the
                // bytes the key sends.
                ("@CARO_KEY@", key.fish3()),
                ("@CARO_KEY4@", quote::fish(&key.fish4())),
                (
                    "@CARO_UNDO_KEY@",
                    undo.map_or_else(|| "''".to_owned(), Key::fish3),
                ),
                (
                    "@CARO_UNDO_KEY4@",
                    quote::fish(&undo.map(Key::fish4).unwrap_or_default()),
                ),
                (
                    "@CARO_EXPLAIN_KEY@",
                    explain.map_or_else(|| "''".to_owned(), Key::fish3),
                ),
                (
                    "@CARO_EXPLAIN_KEY4@",
                    quote::fish(&explain.map(Key::fish4).unwrap_or_default()),
                ),
            ],
        ),
        Shell::Sh => return Err(InitError::NoIntegration(shell)),
    })
}

/// Replaces every placeholder in one pass, so a value that happens to
/// contain `@CARO_...@` (a strange install path) is never expanded again.
fn substitute(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(at) = rest.find("@CARO_") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match values.iter().find(|(name, _)| tail.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &tail[name.len()..];
            }
            None => {
                out.push('@');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
