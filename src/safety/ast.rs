//! Syntax tree for the part of the shell grammar that matters for risk.
//!
//! Control flow (`if`, `while`, `&&`, `||`) is flattened away: the checker assumes any
//! branch may run, so only the commands, their order and their plumbing are kept.

#[derive(Debug, Clone, Default)]
pub(crate) struct Script {
    pub(crate) pipelines: Vec<Pipeline>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Pipeline {
    pub(crate) stages: Vec<Command>,
    /// Ended by `&`; a fork bomb needs this to detect "call myself in the background".
    pub(crate) background: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Command {
    Simple(Simple),
    /// `( … )`, `{ …; }` and `case` arms, with redirections that apply to the whole body.
    Group {
        body: Script,
        redirs: Vec<Redir>,
    },
    Function {
        name: String,
        body: Box<Command>,
    },
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Simple {
    pub(crate) assigns: Vec<Assign>,
    pub(crate) words: Vec<Word>,
    pub(crate) redirs: Vec<Redir>,
}

#[derive(Debug, Clone)]
pub(crate) struct Assign {
    pub(crate) name: String,
    pub(crate) value: Word,
}

/// One shell word after parsing but before expansion, so the checker can tell quoted
/// data from variables it cannot know.
#[derive(Debug, Clone, Default)]
pub(crate) struct Word {
    pub(crate) parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Lit {
        text: String,
        quoted: bool,
    },
    /// `$x` / `${x…}`. `guarded` means the expansion can never be empty (`${x:?}`,
    /// `${x:-default}`, `${#x}`), which defuses the "empty variable becomes /" trap.
    Param {
        name: String,
        guarded: bool,
        inner: Option<Box<Word>>,
    },
    /// `~` or `~user` at the start of a word.
    Tilde(String),
    /// `$( … )` or backticks: runs before the command it sits in.
    Sub(Script),
    /// `<( … )` / `>( … )`: runs alongside, and reads like a file to the command.
    ProcSub(Script),
    Arith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirOp {
    Read,
    Write,
    Append,
    ReadWrite,
    DupRead,
    DupWrite,
    HereDoc,
    HereDocStrip,
    HereString,
}

#[derive(Debug, Clone)]
pub(crate) struct Redir {
    pub(crate) op: RedirOp,
    pub(crate) target: Word,
    pub(crate) heredoc: Option<HereDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct HereDoc {
    pub(crate) body: String,
    /// Set when the delimiter was unquoted: the body then undergoes expansion, so any
    /// `$( … )` inside it really runs.
    pub(crate) expanded: Option<Word>,
}

impl Word {
    /// The word's text when it contains no expansion at all.
    pub(crate) fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit { text, .. } => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Heredoc delimiters: the text with quotes removed, and whether any part was quoted.
    pub(crate) fn delimiter(&self) -> (String, bool) {
        let mut out = String::new();
        let mut quoted = false;
        for part in &self.parts {
            if let Part::Lit { text, quoted: q } = part {
                out.push_str(text);
                quoted |= *q;
            }
        }
        (out, quoted)
    }
}
