//! Syntax tree of a shell script, with byte positions into the parsed text.
//!
//! Control flow (`if`, `while`, `&&`, `||`) is flattened away: callers treat any branch
//! as one that may run, so only the commands, their order and their plumbing are kept.

use std::borrow::Cow;

/// Byte range into the text given to [`super::parse`]; also for words inside `$( … )`,
/// backticks, process substitutions and heredoc bodies.
pub type Span = std::ops::Range<usize>;

#[derive(Debug, Clone, Default)]
pub struct Script {
    pub pipelines: Vec<Pipeline>,
}

#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub stages: Vec<Command>,
    /// Ended by `&`; a fork bomb needs this to detect "call myself in the background".
    pub background: bool,
}

#[derive(Debug, Clone)]
pub enum Command {
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
pub struct Simple {
    pub assigns: Vec<Assign>,
    pub words: Vec<Word>,
    pub redirs: Vec<Redir>,
    /// From the first assignment, word or redirection to the end of the last one
    /// (a heredoc body is not included); empty for a command with none of them.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Assign {
    pub name: String,
    pub value: Word,
}

/// One shell word after parsing but before expansion, so the checker can tell quoted
/// data from variables it cannot know.
#[derive(Debug, Clone, Default)]
pub struct Word {
    pub parts: Vec<Part>,
    /// The word as written, quotes included; for an assignment value, the part after
    /// `=`.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Part {
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
pub enum RedirOp {
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
pub struct Redir {
    pub op: RedirOp,
    pub target: Word,
    pub heredoc: Option<HereDoc>,
}

#[derive(Debug, Clone)]
pub struct HereDoc {
    pub body: String,
    /// Set when the delimiter was unquoted: the body then undergoes expansion, so any
    /// `$( … )` inside it really runs.
    pub expanded: Option<Word>,
}

impl Word {
    /// The word's text when it contains no expansion at all.
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit { text, .. } => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }

    /// The word's text with quotes removed, or as written (from `src`, the parsed text)
    /// when it holds an expansion whose value is unknown here.
    pub fn text<'s>(&self, src: &'s str) -> Cow<'s, str> {
        match self.literal() {
            Some(t) => Cow::Owned(t),
            None => Cow::Borrowed(src.get(self.span.clone()).unwrap_or_default()),
        }
    }

    /// Heredoc delimiters: the text with quotes removed, and whether any part was quoted.
    pub fn delimiter(&self) -> (String, bool) {
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
