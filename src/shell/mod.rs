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
//! | `@CARO_PICK_KEY@`   | all        | the pick key (Alt-M), or `''` for none         |
//! | `@CARO_PICK_KEY4@`  | fish       | the pick key for fish 4                        |
//! | `@CARO_HISTORY@`    | all        | how many recent commands go with a request     |
//! | `@CARO_KEEP_PROSE@` | all        | `1` to add the typed words to history, else `0` |

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

/// What `caro init` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct InitOptions<'a> {
    /// A key spec such as `ctrl-g`, `^G`, `\C-g` or `alt-g`; `None` (or blank):
    /// Ctrl-G.
    pub key: Option<&'a str>,
    /// Alt-I by default, `none` for no key.
    pub explain_key: Option<&'a str>,
    /// Alt-M by default, `none` for no key.
    pub pick_key: Option<&'a str>,
    /// `false`: define the widgets/functions but bind no key.
    pub bind: bool,
    /// How many recent commands the widget sends with a request (0: none).
    pub history: usize,
    /// Whether the widget adds the typed words to the shell's history.
    pub keep_prose: bool,
}

impl Default for InitOptions<'_> {
    fn default() -> Self {
        Self {
            key: None,
            explain_key: None,
            pick_key: None,
            bind: true,
            history: 0,
            keep_prose: true,
        }
    }
}

/// The default keys, as `caro config show` names them: main, explain, pick.
pub fn default_keys() -> (&'static str, &'static str, &'static str) {
    ("ctrl-g", "alt-i", "alt-m")
}

/// The integration script for `shell`, calling `caro_bin` (which should be
/// the absolute path of the running executable; the script falls back to
/// `caro` on `PATH` when that file is gone).
pub fn init_script(shell: Shell, opts: &InitOptions, caro_bin: &Path) -> Result<String, InitError> {
    let key = match opts.key.filter(|s| !s.trim().is_empty()) {
        Some(spec) => Key::parse(spec)?,
        None => key::DEFAULT_KEY,
    };
    let mut taken = vec![key];
    taken.extend(key.undo_key());
    let explain = extra_key(
        opts.explain_key,
        key::DEFAULT_EXPLAIN_KEY,
        "explain",
        &taken,
    )?;
    taken.extend(explain);
    let pick = extra_key(opts.pick_key, key::DEFAULT_PICK_KEY, "pick", &taken)?;
    render(shell, key, explain, pick, opts, caro_bin)
}

/// A secondary key: `none` for no key, a spec (which must not be `taken`), or the
/// default unless that is taken (a main key on Alt-I leaves explain without one).
fn extra_key(
    spec: Option<&str>,
    default: Key,
    role: &str,
    taken: &[Key],
) -> Result<Option<Key>, InitError> {
    match spec.map(str::trim) {
        Some("none") => Ok(None),
        Some(spec) if !spec.is_empty() => {
            let k = Key::parse(spec)?;
            if taken.contains(&k) {
                return Err(InitError::BadKey {
                    spec: spec.to_owned(),
                    reason: format!("the {role} key must differ from the other keys"),
                });
            }
            Ok(Some(k))
        }
        _ => Ok(Some(default).filter(|k| !taken.contains(k))),
    }
}

fn render(
    shell: Shell,
    key: Key,
    explain: Option<Key>,
    pick: Option<Key>,
    opts: &InitOptions,
    caro_bin: &Path,
) -> Result<String, InitError> {
    let bind = if opts.bind { "1" } else { "0" };
    let history = opts.history.to_string();
    let keep_prose = if opts.keep_prose { "1" } else { "0" };
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
                (
                    "@CARO_PICK_KEY@",
                    quote::posix(&pick.map(Key::zsh).unwrap_or_default()),
                ),
                ("@CARO_HISTORY@", history),
                ("@CARO_KEEP_PROSE@", keep_prose.to_owned()),
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
                (
                    "@CARO_PICK_KEY@",
                    quote::posix(&pick.map(Key::readline).unwrap_or_default()),
                ),
                ("@CARO_HISTORY@", history),
                ("@CARO_KEEP_PROSE@", keep_prose.to_owned()),
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
                (
                    "@CARO_PICK_KEY@",
                    pick.map_or_else(|| "''".to_owned(), Key::fish3),
                ),
                (
                    "@CARO_PICK_KEY4@",
                    quote::fish(&pick.map(Key::fish4).unwrap_or_default()),
                ),
                ("@CARO_HISTORY@", history),
                ("@CARO_KEEP_PROSE@", keep_prose.to_owned()),
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
