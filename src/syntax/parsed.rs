//! What parsing a text gives: the tree, and what the shell would say about the text.
//!
//! Validity checks on a model's answer build on this: an unbalanced quote or a dangling
//! pipe shows up as [`Incomplete`] (the shell would wait) or as a [`Problem`] (the
//! shell would refuse it), each with the byte offset to point at.

use super::ast::{Script, Span};

/// A parsed script and what the shell would say about its text.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub script: Script,
    /// Nesting went past [`super::MAX_DEPTH`]; the deeper part is missing from the tree.
    pub too_deep: bool,
    /// Set when an interactive shell would ask for another line instead of running
    /// the text: the first unfinished construct found.
    pub incomplete: Option<Incomplete>,
    /// Syntax errors the shell would report, in the order found (at most a few).
    pub problems: Vec<Problem>,
    /// `# …` comments, without the line break that ends them.
    pub comments: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    pub what: Unfinished,
    /// Byte offset of the opening quote, bracket, keyword or operator.
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished {
    /// `'`, `"`, `` ` `` or `$'` without its closing quote.
    Quote(&'static str),
    /// `(`, `{`, `$(`, `${`, `$((`, `<(`, `if`, `for`, `case` … without its end.
    Open(&'static str),
    /// A heredoc whose terminator line (this delimiter) never comes.
    HereDoc(String),
    /// `|`, `|&`, `&&` or `||` with nothing after it.
    Operator(&'static str),
    /// A trailing `\` that joins the next line.
    Backslash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: Fault,
    /// Byte offset of the offending token.
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An operator (`|`, `&&`, `;` …) with no command on one side of it.
    MissingCommand(&'static str),
    /// A closing token (`)`, `}`, `fi`, `done`, `esac`, `;;`) with nothing open.
    Unexpected(&'static str),
    /// A group or substitution closed while this construct inside it was still open.
    Unclosed(&'static str),
}
