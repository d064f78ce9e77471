//! Shell syntax: one lexer and parser for every part of caro that reads a command.
//!
//! [`parse`] gives a syntax tree whose words and simple commands carry byte positions
//! into the parsed text, whether the shell would wait for more input, and the syntax
//! errors it would report. On top of it: which program a command runs, looking through
//! assignments and wrappers ([`wrappers`] holds the one table of those).
//!
//! This module sits below everything that reads commands and imports none of them.

mod ast;
mod lexer;
mod parse;
mod parsed;
mod program;
mod walk;
pub mod wrappers;

#[cfg(test)]
pub(crate) mod tests;

pub use ast::{
    Assign, Command, HereDoc, Part, Pipeline, Redir, RedirOp, Script, Simple, Span, Word,
};
pub use parse::{MAX_DEPTH, is_name};
pub use parsed::{Fault, Incomplete, Parsed, Problem, Unfinished};
pub use program::{Program, first_program, program_name, programs, working_program};

/// Parses a script. Total: any text, however malformed, gets a tree.
pub fn parse(src: &str) -> Parsed {
    parse::parse_nested(src, 0)
}

/// Parses text that a shell runs from inside another command (`sh -c …`), with
/// `depth` levels of nesting already used.
pub(crate) fn parse_nested(src: &str, depth: usize) -> Parsed {
    parse::parse_nested(src, depth)
}
