//! Syntax: what our shell parser says about the text, and `find`'s own expression
//! grammar, which the shell knows nothing about.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::command::W;
use super::{Finding, Kind};
use crate::syntax::{Fault, Parsed, Unfinished};

/// The parser's verdict: the shell would wait for more input, or refuse the text.
pub fn parser(parsed: &Parsed) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(inc) = &parsed.incomplete {
        let (message, len) = match &inc.what {
            Unfinished::Quote(q) => (format!("the quote {q} is never closed"), q.len()),
            Unfinished::Open(o) => (format!("`{o}` is never closed"), o.len()),
            Unfinished::HereDoc(d) => (format!("the heredoc has no `{d}` line ending it"), 2),
            Unfinished::Operator(op) => (format!("nothing follows `{op}`"), op.len()),
            Unfinished::Backslash => ("the command ends in a `\\`".to_owned(), 1),
        };
        out.push(Finding::new(
            Kind::Syntax,
            Some(inc.at..inc.at + len),
            message,
        ));
    }
    for p in &parsed.problems {
        let (message, len) = match &p.what {
            Fault::MissingCommand(op) => (format!("`{op}` has no command on one side"), op.len()),
            Fault::Unexpected(t) => (format!("unexpected `{t}`"), t.len()),
            Fault::Unclosed(t) => (format!("`{t}` is not closed"), t.len()),
        };
        out.push(Finding::new(Kind::Syntax, Some(p.at..p.at + len), message));
    }
    out
}

/// Whether `command` has parentheses that only zsh reads: a glob qualifier glued to a
/// word (`*(.)`, `*.txt(N)`) or the short `for name (words)` loop.
pub fn zsh_parens(command: &str) -> bool {
    static ZSH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[^\s$<>=(|&;]\(|\bfor\s+\w+\s+\(").expect("valid pattern"));
    ZSH.is_match(command)
}

/// find's predicates that take the next word as their value.
pub const FIND_VALUED: &[&str] = &[
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-wholename",
    "-iwholename",
    "-regex",
    "-iregex",
    "-lname",
    "-ilname",
    "-size",
    "-mtime",
    "-atime",
    "-ctime",
    "-mmin",
    "-amin",
    "-cmin",
    "-type",
    "-xtype",
    "-perm",
    "-user",
    "-group",
    "-uid",
    "-gid",
    "-newer",
    "-anewer",
    "-cnewer",
    "-maxdepth",
    "-mindepth",
    "-links",
    "-inum",
    "-samefile",
    "-fstype",
    "-printf",
    "-fprintf",
    "-fprint",
    "-fprint0",
    "-fls",
    "-context",
    "-used",
    "-regextype",
    "-files0-from",
    "-D",
    "-newermt",
    "-newerat",
    "-newerct",
    "-newermm",
    "-neweraa",
    "-newercc",
    "-newerBt",
];

const EXECS: &[&str] = &["-exec", "-execdir", "-ok", "-okdir"];
const ACTIONS: &[&str] = &[
    "-exec", "-execdir", "-ok", "-okdir", "-delete", "-print", "-print0", "-printf", "-fprint",
    "-fprint0", "-fprintf", "-ls", "-fls",
];

/// An `-exec`-like predicate of find, by index into its arguments.
pub struct Exec {
    pub at: usize,
    /// The executed command's words (its terminator excluded).
    pub command: Range<usize>,
}

/// What the find checks learned of the expression's layout.
pub struct Shape {
    pub execs: Vec<Exec>,
}

/// Checks find's arguments (`args`, the words after `find`): every `-exec` has its
/// terminator, and `-o` is not mixed with a later action without parentheses.
pub fn find(args: &[W], out: &mut Vec<Finding>) -> Shape {
    let mut execs = Vec::new();
    let mut i = 0;
    let mut first_or: Option<usize> = None;
    let mut action_before_or = false;
    let mut action_after_or: Option<&W> = None;
    let mut parens = false;
    let mut prune = false;
    while let Some(w) = args.get(i) {
        let t = w.text.as_str();
        if !w.literal {
            i += 1;
            continue;
        }
        match t {
            "(" | ")" | "\\(" | "\\)" => parens = true,
            "-prune" => prune = true,
            "-o" | "-or" if first_or.is_none() => first_or = Some(i),
            _ => {}
        }
        if ACTIONS.contains(&t) {
            if first_or.is_none() {
                action_before_or = true;
            } else if action_after_or.is_none() {
                action_after_or = Some(w);
            }
        }
        if EXECS.contains(&t) {
            let end = args
                .iter()
                .enumerate()
                .skip(i + 1)
                .find(|(j, a)| {
                    a.literal
                        && (a.text == ";"
                            || (a.text == "+" && args.get(j - 1).is_some_and(|p| p.text == "{}")))
                })
                .map(|(j, _)| j);
            match end {
                Some(end) => {
                    execs.push(Exec {
                        at: i,
                        command: i + 1..end,
                    });
                    i = end + 1;
                    continue;
                }
                None => {
                    out.push(Finding::new(
                        Kind::Syntax,
                        Some(w.span.clone()),
                        format!("find's `{t}` needs a terminating `\\;` or `{{}} +`"),
                    ));
                    // Everything after is the unterminated command's; nothing to check.
                    execs.push(Exec {
                        at: i,
                        command: i + 1..args.len(),
                    });
                    break;
                }
            }
        }
        i += 1;
    }
    if let (Some(_), Some(action)) = (first_or, action_after_or)
        && !parens
        && !prune
        && !action_before_or
    {
        out.push(Finding::new(
            Kind::Syntax,
            Some(action.span.clone()),
            format!(
                "find's -o needs parentheses around the tests: `{}` applies only to the last alternative",
                action.text
            ),
        ));
    }
    Shape { execs }
}
