//! Renders parsed words into the strings the rules inspect.
//!
//! Expansions whose value matters for risk are kept as private-use marker characters
//! rather than guessed: a rule can then ask "what if this variable is empty?".

use std::collections::HashMap;

use crate::syntax::{Command, Part, Script, Word};

/// Your home directory (`~`, `$HOME`).
pub(crate) const HOME: char = '\u{E000}';
/// An expansion we cannot know that may be empty (`$DIR`, `$(cmd)`).
pub(crate) const UNKNOWN: char = '\u{E001}';
/// An expansion we cannot know that is never empty (`${DIR:?}`).
pub(crate) const OPAQUE: char = '\u{E002}';

pub(crate) type Vars = HashMap<String, String>;

#[derive(Debug, Clone)]
pub(crate) struct Arg<'w> {
    pub(crate) text: String,
    /// The first unknown expansion, as typed, for messages ("if $DIR is empty").
    pub(crate) var: Option<String>,
    pub(crate) word: Option<&'w Word>,
    /// What the argument stands for, in words, when it is a stand-in rather than typed
    /// text (`find`'s `{}` becomes "every file under /etc named *.conf").
    pub(crate) about: Option<String>,
    /// A stand-in for files that are rebuilt or thrown away by design (what `find`
    /// matched by a litter name, emptiness, or age in a scratch directory).
    pub(crate) disposable: bool,
}

impl AsRef<str> for Arg<'_> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl<'w> Arg<'w> {
    pub(crate) fn synthetic(text: impl Into<String>) -> Self {
        Arg {
            text: text.into(),
            var: None,
            word: None,
            about: None,
            disposable: false,
        }
    }

    /// A new argument made from part of this one's text (e.g. the `…` of `of=…`).
    pub(crate) fn derived(&self, text: &str) -> Self {
        Arg {
            text: text.to_string(),
            var: self.var.clone(),
            word: self.word,
            about: self.about.clone(),
            disposable: self.disposable,
        }
    }

    /// A stand-in for many paths: `text` is classified, `about` is how reasons name it.
    pub(crate) fn stand_in(text: impl Into<String>, about: impl Into<String>) -> Self {
        Arg {
            about: Some(about.into()),
            ..Arg::synthetic(text)
        }
    }

    /// The same text and meaning, no longer tied to the parsed word (to outlive it).
    pub(crate) fn detached(&self) -> Arg<'static> {
        Arg {
            text: self.text.clone(),
            var: self.var.clone(),
            word: None,
            about: self.about.clone(),
            disposable: self.disposable,
        }
    }

    pub(crate) fn is(&self, s: &str) -> bool {
        self.text == s
    }

    /// Human form for messages.
    pub(crate) fn shown(&self) -> String {
        show(&self.text, self.var.as_deref())
    }
}

pub(crate) fn show(text: &str, var: Option<&str>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            HOME => out.push('~'),
            UNKNOWN | OPAQUE => out.push_str(var.unwrap_or("$VAR")),
            _ => out.push(c),
        }
    }
    out
}

pub(crate) fn render<'w>(word: &'w Word, vars: &Vars) -> Arg<'w> {
    let mut text = String::new();
    let mut var = None;
    render_into(word, vars, &mut text, &mut var);
    Arg {
        text,
        var,
        word: Some(word),
        about: None,
        disposable: false,
    }
}

fn render_into(word: &Word, vars: &Vars, out: &mut String, var: &mut Option<String>) {
    for part in &word.parts {
        match part {
            Part::Lit { text, .. } => out.push_str(text),
            Part::Tilde(user) => match user.as_str() {
                "" => out.push(HOME),
                "+" => out.push('.'),
                "-" => out.push(OPAQUE),
                "root" => out.push_str("/root"),
                user => {
                    out.push_str("/home/");
                    out.push_str(user);
                }
            },
            Part::Param { name, guarded, .. } => {
                if let Some(value) = vars.get(name) {
                    if value.contains([UNKNOWN, OPAQUE]) {
                        var.get_or_insert_with(|| format!("${name}"));
                    }
                    out.push_str(value);
                    continue;
                }
                match name.as_str() {
                    "HOME" => out.push(HOME),
                    "HISTFILE" => {
                        out.push(HOME);
                        out.push_str("/.bash_history");
                    }
                    "PWD" => out.push('.'),
                    // Never empty in a login session, and only names, never paths.
                    "USER" | "LOGNAME" => out.push_str("user"),
                    "RANDOM" | "$" | "#" | "?" | "!" | "SECONDS" | "LINENO" | "UID" | "EUID"
                    | "PPID" | "BASHPID" => out.push('0'),
                    _ => {
                        var.get_or_insert_with(|| format!("${name}"));
                        out.push(if *guarded { OPAQUE } else { UNKNOWN });
                    }
                }
            }
            Part::Sub(script) => match known_output(script) {
                Some(Known::Text(t)) => out.push_str(&t),
                Some(Known::NonEmpty) => out.push(OPAQUE),
                None => {
                    var.get_or_insert_with(|| "$(…)".to_string());
                    out.push(UNKNOWN);
                }
            },
            Part::ProcSub(_) => out.push_str("/dev/fd/63"),
            Part::Arith => out.push('0'),
        }
    }
}

enum Known {
    Text(String),
    NonEmpty,
}

/// Command substitutions whose output shape is well known, so `rm -rf "$(pwd)"/x` or
/// `"$(which rm)"` are not treated like an arbitrary unknown value.
fn known_output(script: &Script) -> Option<Known> {
    let [pipeline] = script.pipelines.as_slice() else {
        // An empty substitution expands to nothing, so "``rm" runs `rm`.
        return script
            .pipelines
            .is_empty()
            .then(|| Known::Text(String::new()));
    };
    let [Command::Simple(simple)] = pipeline.stages.as_slice() else {
        return None;
    };
    let words: Vec<String> = simple
        .words
        .iter()
        .map(Word::literal)
        .collect::<Option<Vec<_>>>()?;
    let first = words.first()?.as_str();
    let last = words.last().cloned().unwrap_or_default();
    Some(match first {
        "pwd" => Known::Text(".".into()),
        // `$(echo /)` is just its words: hiding a path this way does not hide it.
        "echo" if words.len() > 1 && !words.iter().skip(1).any(|w| w.starts_with('-')) => {
            Known::Text(words.get(1..).unwrap_or_default().join(" "))
        }
        "which" | "command" | "type" if words.len() > 1 => Known::Text(last),
        "mktemp" => Known::Text("/tmp/tmp.XXXXXX".into()),
        "whoami" | "id" => Known::Text("user".into()),
        "date" | "hostname" | "uname" | "basename" | "git" | "nproc" | "realpath" | "readlink"
        | "dirname" => Known::NonEmpty,
        _ => return None,
    })
}

/// The name a shell looks up: the last path component (`/bin/rm` runs `rm`). Unknown
/// expansions around it are dropped, since `${PREFIX}rm` usually runs `rm`.
pub(crate) fn command_name(text: &str) -> &str {
    let text = text.trim_matches([UNKNOWN, OPAQUE]);
    text.rsplit('/').next().unwrap_or(text)
}

/// The word is nothing but unknown expansions (`$SUDO rm …`): often empty, so the
/// next word may be the real command.
pub(crate) fn is_only_expansion(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c == UNKNOWN || c == OPAQUE)
}
