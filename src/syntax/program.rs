//! Which program a command runs, looking through assignments, wrappers and a leading
//! command substitution.

use std::borrow::Cow;

use super::ast::{Command, Part, Script, Simple};
use super::parse::MAX_DEPTH;
use super::wrappers::{Wrap, unwrap};

/// The program a simple command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Index into the command's words of the word naming it; its arguments follow.
    pub index: usize,
    /// The name the shell looks up (`/usr/bin/du` is `du`), or the word as written
    /// when it holds an expansion (`$EDITOR`).
    pub name: String,
}

/// The name the shell looks up for a command word: its last path component.
pub fn program_name(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

impl Simple {
    /// The program this command runs, through wrappers: `sudo -u bob find /` runs
    /// `find`. A wrapper with nothing to run (`sudo -s`, `command -v ls`, `nice`) is
    /// itself the program. `src` is the parsed text. None when the command has no words
    /// (`X=1`, a bare redirection).
    pub fn program(&self, src: &str) -> Option<Program> {
        let texts: Vec<Cow<'_, str>> = self.words.iter().map(|w| w.text(src)).collect();
        let mut i = 0;
        loop {
            let word = self.words.get(i)?;
            let text = texts.get(i)?;
            if word.literal().is_none() {
                return Some(Program {
                    index: i,
                    name: text.to_string(),
                });
            }
            let name = program_name(text);
            match unwrap(name, &texts, i) {
                Wrap::Into { next, .. } if next > i && next < texts.len() => i = next,
                _ => {
                    return Some(Program {
                        index: i,
                        name: name.to_owned(),
                    });
                }
            }
        }
    }
}

/// The program the first command of `src` runs: `find . | xargs rm` starts with
/// `find`, `(cd a && ls)` with `cd`, and `` `sudo rm x` `` with `rm`.
pub fn first_program(src: &str) -> Option<String> {
    first_of(&super::parse(src).script.top_commands(), src, 0)
}

fn first_of(commands: &[&Simple], src: &str, depth: usize) -> Option<String> {
    for simple in commands {
        let Some(program) = simple.program(src) else {
            continue;
        };
        // A word that is nothing but `$( … )` runs what that substitution prints.
        if let Some(word) = simple.words.get(program.index)
            && let [Part::Sub(inner)] = word.parts.as_slice()
            && depth < MAX_DEPTH
            && let Some(name) = first_of(&inner.top_commands(), src, depth + 1)
        {
            return Some(name);
        }
        return Some(program.name);
    }
    None
}

/// The programs of every command in `src`, substitutions included, in written order.
pub fn programs(src: &str) -> Vec<String> {
    super::parse(src)
        .script
        .commands()
        .iter()
        .filter_map(|c| c.program(src))
        .map(|p| p.name)
        .collect()
}

/// The program that does the work: the first program, except that `cat FILE… | prog`
/// counts as `prog`, since feeding a file through cat or naming it as an argument is
/// the same choice of tool.
pub fn working_program(src: &str) -> Option<String> {
    let script = super::parse(src).script;
    let first = first_of(&script.top_commands(), src, 0)?;
    if first != "cat" {
        return Some(first);
    }
    Some(fed_by_cat(&script, src).unwrap_or(first))
}

/// The program of the second stage when the first pipeline starts with a plain
/// `cat FILE…`.
fn fed_by_cat(script: &Script, src: &str) -> Option<String> {
    let pipeline = script.pipelines.first()?;
    let [Command::Simple(cat), next, ..] = pipeline.stages.as_slice() else {
        return None;
    };
    let program = cat.program(src)?;
    let files = cat.words.get(program.index + 1..)?;
    let plain = program.name == "cat"
        && !files.is_empty()
        && files.iter().all(|w| !w.text(src).starts_with('-'));
    if !plain {
        return None;
    }
    first_of(&next.top_commands(), src, 0)
}
