//! Key specifications (`--key`, `$CARO_KEY`) and their spelling in each shell.

use super::InitError;

/// One key chord: Ctrl and/or Alt plus a letter or digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    ctrl: bool,
    alt: bool,
    /// Lower-case ASCII letter or digit.
    ch: char,
}

/// The key used when none is given.
pub(crate) const DEFAULT_KEY: Key = Key {
    ctrl: true,
    alt: false,
    ch: 'g',
};

/// The explain key when none is given: free in the default bindings of all three
/// shells (fish has Alt-E and Alt-H, zsh Alt-X, bash Alt-R).
pub(crate) const DEFAULT_EXPLAIN_KEY: Key = Key {
    ctrl: false,
    alt: true,
    ch: 'i',
};

/// The pick key when none is given: free in the default bindings of all three shells
/// (zsh binds Alt-P, fish Alt-P and Alt-O, bash Alt-P and Alt-R).
pub(crate) const DEFAULT_PICK_KEY: Key = Key {
    ctrl: false,
    alt: true,
    ch: 'm',
};

/// The undo key bash and fish get (zsh uses its own undo).
const UNDO_KEY: Key = Key {
    ctrl: false,
    alt: true,
    ch: 'g',
};

const FORMS: &str = "use ctrl-<letter>, alt-<letter or digit> or ctrl-alt-<letter> \
                     (also written ^G, \\C-g, \\cg, C-g, M-g, \\eg)";

impl Key {
    /// Parses the forms people copy from shell docs: `ctrl-g`, `ctrl+g`,
    /// `C-g`, `^G`, `\C-g`, `\cg`, `alt-g`, `meta-g`, `M-g`, `\M-g`, `\eg`,
    /// `^[g`, and Ctrl+Alt combinations of these (`ctrl-alt-g`, `\e\C-g`).
    pub(crate) fn parse(spec: &str) -> Result<Key, InitError> {
        let bad = |reason: &str| InitError::BadKey {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = spec.trim();
        if trimmed.is_empty() {
            return Err(bad("empty key"));
        }

        let (mut ctrl, mut alt) = (false, false);
        let mut rest = trimmed;
        // Escape-style prefixes, as in readline, fish 3 and zsh bindkey.
        loop {
            if let Some(r) = strip_prefix_ci(rest, "\\C-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = strip_prefix_ci(rest, "\\M-") {
                alt = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("\\e") {
                alt = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("\\c") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("^[") {
                alt = true;
                rest = r;
            } else if rest.len() > 1
                && let Some(r) = rest.strip_prefix('^')
            {
                ctrl = true;
                rest = r;
            } else {
                break;
            }
        }
        // Word-style modifiers: ctrl-alt-g, C-M-g, Ctrl+G.
        if rest.chars().count() > 1 {
            let mut parts: Vec<&str> = rest.split(['-', '+']).collect();
            let last = parts.pop().unwrap_or_default();
            if parts.is_empty() || last.is_empty() {
                return Err(bad(FORMS));
            }
            for part in parts {
                match part.to_ascii_lowercase().as_str() {
                    "ctrl" | "control" | "c" => ctrl = true,
                    "alt" | "meta" | "m" | "option" | "opt" => alt = true,
                    _ => return Err(bad(FORMS)),
                }
            }
            rest = last;
        }

        let mut chars = rest.chars();
        let (Some(ch), None) = (chars.next(), chars.next()) else {
            return Err(bad(FORMS));
        };
        if !ch.is_ascii_alphanumeric() {
            return Err(bad(FORMS));
        }
        let ch = ch.to_ascii_lowercase();
        if !ctrl && !alt {
            return Err(bad("a plain key would type itself; add ctrl or alt"));
        }
        if ctrl {
            if !ch.is_ascii_lowercase() {
                return Err(bad("terminals send no Ctrl+digit; use a letter"));
            }
            if let Some(reason) = reserved_ctrl(ch) {
                return Err(bad(reason));
            }
        }
        Ok(Key { ctrl, alt, ch })
    }

    /// The undo key bash and fish bind next to `self`, if any.
    pub(crate) fn undo_key(self) -> Option<Key> {
        (self != UNDO_KEY).then_some(UNDO_KEY)
    }

    /// As people write it: `Ctrl-G`, `Alt-G`, `Ctrl-Alt-G`.
    pub(crate) fn name(self) -> String {
        let mut s = String::new();
        if self.ctrl {
            s.push_str("Ctrl-");
        }
        if self.alt {
            s.push_str("Alt-");
        }
        s.push(self.ch.to_ascii_uppercase());
        s
    }

    /// zsh `bindkey` notation: `^G`, `^[g`, `^[^G`.
    pub(crate) fn zsh(self) -> String {
        let mut s = String::new();
        if self.alt {
            s.push_str("^[");
        }
        if self.ctrl {
            s.push('^');
            s.push(self.ch.to_ascii_uppercase());
        } else {
            s.push(self.ch);
        }
        s
    }

    /// Readline notation, exactly as `bind -p` prints it: `\C-g`, `\eg`,
    /// `\e\C-g`.
    pub(crate) fn readline(self) -> String {
        let mut s = String::new();
        if self.alt {
            s.push_str("\\e");
        }
        if self.ctrl {
            s.push_str("\\C-");
        }
        s.push(self.ch);
        s
    }

    /// fish 3 escape notation, for an unquoted word: `\cg`, `\eg`, `\e\cg`.
    pub(crate) fn fish3(self) -> String {
        let mut s = String::new();
        if self.alt {
            s.push_str("\\e");
        }
        if self.ctrl {
            s.push_str("\\c");
        }
        s.push(self.ch);
        s
    }

    /// fish 4 key name: `ctrl-g`, `alt-g`, `ctrl-alt-g`.
    pub(crate) fn fish4(self) -> String {
        let mut s = String::new();
        if self.ctrl {
            s.push_str("ctrl-");
        }
        if self.alt {
            s.push_str("alt-");
        }
        s.push(self.ch);
        s
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Ctrl keys the terminal or every shell already gives a meaning that a
/// binding cannot or should not take over.
fn reserved_ctrl(ch: char) -> Option<&'static str> {
    match ch {
        'c' => Some("Ctrl-C interrupts; the terminal turns it into a signal"),
        'z' => Some("Ctrl-Z suspends; the terminal turns it into a signal"),
        's' | 'q' => Some("Ctrl-S and Ctrl-Q are terminal flow control"),
        'm' | 'j' => Some("that is the Enter key"),
        'i' => Some("that is the Tab key"),
        'h' => Some("many terminals send that for Backspace"),
        _ => None,
    }
}
