//! Checks that find real mistakes in a generated shell command without running it.
//!
//! Each check only reports what it can know: a program missing from `PATH`, an option
//! that appears nowhere in the program's own documentation, an argument of a known
//! type that the program would reject, text the shell cannot parse. Anything unsure
//! (expansions, globs, programs without documentation) passes.
//!
//! [`Checker`] keeps the option tables it has read, so that only the first check of a
//! program pays for reading its man page.

mod arguments;
mod command;
mod fish;
mod options;
mod path;

pub use options::{help, man_page};
pub use path::{is_builtin, is_executable, resolve};
pub use roff::plain as roff_plain;
mod process;
mod roff;
mod syntax_checks;
mod zsh;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt;
use std::ops::Range;

use crate::settings::Shell;
use crate::syntax;

/// What kind of mistake a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The shell would refuse the text or wait for more (or `find`'s own grammar).
    Syntax,
    /// The program that would run is neither a builtin nor on `PATH`.
    MissingProgram,
    /// An option the program's documentation never mentions.
    UnknownOption,
    /// An argument of a known type the program would reject.
    BadArgument,
    /// `fish --no-execute` rejects the text.
    Fish,
    /// Tried in a sandbox (`trial = "sandbox"`), it stopped with a usage error.
    Trial,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::MissingProgram => "program",
            Self::UnknownOption => "option",
            Self::BadArgument => "argument",
            Self::Fish => "fish",
            Self::Trial => "trial",
        }
    }
}

/// One problem in a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    /// Byte range in `command` of the offending word, when there is one.
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl Finding {
    fn new(kind: Kind, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        Self {
            kind,
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks commands; shared by worker threads, it caches per-program option tables.
pub struct Checker {
    /// The `PATH` programs are looked up in.
    path: OsString,
    tables: options::Tables,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    /// A checker that looks programs up on this process's `PATH`.
    pub fn new() -> Self {
        Self::with_path(std::env::var_os("PATH").unwrap_or_default())
    }

    /// A checker that looks programs up on `path` (a `PATH`-style list).
    pub fn with_path(path: OsString) -> Self {
        Self {
            path,
            tables: options::Tables::default(),
        }
    }

    /// A checker that never reads man pages, so option tables come from `--help`.
    #[cfg(test)]
    fn without_man(self) -> Self {
        Self {
            tables: options::Tables::without_man(),
            ..self
        }
    }

    /// Every problem found in `command` as written for `shell`. Empty = passed.
    pub fn check(&self, command: &str, shell: Shell) -> Vec<Finding> {
        let mut findings = Vec::new();
        let parsed = syntax::parse(command);
        if shell == Shell::Fish {
            // Our parser reads POSIX-style syntax; fish's own parser is the judge here.
            if let Some(fish) = path::system_helper(&self.path, "fish") {
                findings.extend(fish::check(&fish, command));
            }
        }
        // zsh's glob qualifiers (`*(.)`, `**/*(N)`) and `for f (…)` read as subshells
        // to our POSIX-style parser: its verdict and the programs it finds there are
        // not zsh's.
        let zsh_syntax = shell == Shell::Zsh && syntax_checks::zsh_parens(command);
        if zsh_syntax {
            if let Some(zsh) = path::system_helper(&self.path, "zsh") {
                findings.extend(zsh::check(&zsh, command));
            }
        } else if shell != Shell::Fish {
            findings.extend(syntax_checks::parser(&parsed));
        }
        let functions = command::functions(&parsed.script);
        for simple in parsed.script.commands() {
            let words = command::words(simple, command);
            let Some(program) = simple.program(command) else {
                continue;
            };
            let ctx = command::Context {
                checker: self,
                functions: &functions,
                src: command,
            };
            ctx.check(&words, program.index, 0, &mut findings);
        }
        if zsh_syntax {
            findings.retain(|f| f.kind != Kind::MissingProgram);
        }
        findings
    }
}
