//! The simple commands of a script, in the order they are written.

use super::ast::{Command, Part, Script, Simple, Word};
use super::parse::MAX_DEPTH;

/// The tree is at most this deep (the parser stops nesting at [`MAX_DEPTH`], and each
/// level of nesting adds at most a few levels of tree).
const WALK_LIMIT: usize = 4 * MAX_DEPTH;

impl Script {
    /// Every simple command, nested ones included: in groups, functions and case arms,
    /// and inside `$( … )`, backticks, process substitutions and heredoc bodies. A
    /// command comes before the substitutions in its own words.
    pub fn commands(&self) -> Vec<&Simple> {
        let mut out = Vec::new();
        script(self, true, &mut out, 0);
        out
    }

    /// The simple commands the script itself runs, without those inside substitutions.
    pub fn top_commands(&self) -> Vec<&Simple> {
        let mut out = Vec::new();
        script(self, false, &mut out, 0);
        out
    }
}

impl Command {
    /// Like [`Script::top_commands`], for one command.
    pub fn top_commands(&self) -> Vec<&Simple> {
        let mut out = Vec::new();
        command(self, false, &mut out, 0);
        out
    }
}

fn script<'a>(s: &'a Script, subs: bool, out: &mut Vec<&'a Simple>, depth: usize) {
    for stage in s.pipelines.iter().flat_map(|p| &p.stages) {
        command(stage, subs, out, depth + 1);
    }
}

fn command<'a>(c: &'a Command, subs: bool, out: &mut Vec<&'a Simple>, depth: usize) {
    if depth > WALK_LIMIT {
        return;
    }
    match c {
        Command::Simple(simple) => {
            out.push(simple);
            if subs {
                let words = simple.assigns.iter().map(|a| &a.value);
                let words = words.chain(&simple.words);
                let words = words.chain(simple.redirs.iter().flat_map(|r| {
                    let body = r.heredoc.as_ref().and_then(|h| h.expanded.as_ref());
                    std::iter::once(&r.target).chain(body)
                }));
                for w in words {
                    word(w, out, depth + 1);
                }
            }
        }
        Command::Group { body, redirs } => {
            script(body, subs, out, depth + 1);
            if subs {
                for r in redirs {
                    word(&r.target, out, depth + 1);
                }
            }
        }
        Command::Function { body, .. } => command(body, subs, out, depth + 1),
    }
}

fn word<'a>(w: &'a Word, out: &mut Vec<&'a Simple>, depth: usize) {
    if depth > WALK_LIMIT {
        return;
    }
    for part in &w.parts {
        match part {
            Part::Sub(s) | Part::ProcSub(s) => script(s, true, out, depth + 1),
            Part::Param {
                inner: Some(inner), ..
            } => word(inner, out, depth + 1),
            _ => {}
        }
    }
}
