//! What a command line does, without a model and without running it: each program
//! with its tldr-pages summary, each option with the first sentence its man page (or,
//! for well-known system tools without one, its `--help`) gives it, and the safety
//! verdict. `--help` is only ever run as the checks run it (see `check::help`).

mod glosses;
mod tldr;

use std::ffi::OsString;
use std::path::Path;

use serde::Serialize;

pub use glosses::{Gloss, Glosses};

use crate::safety::{self, Verdict};
use crate::syntax::{self, Simple};

/// Programs whose first operand names a subcommand with a man page of its own
/// (`git commit` is documented in git-commit(1)).
const WITH_SUBCOMMAND_PAGES: &[&str] = &["git", "apt", "apt-get", "docker", "cargo", "systemctl"];

/// One program of the line.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    /// As the shell looks it up, with its subcommand (`git commit`).
    pub program: String,
    /// tldr-pages' one line; a builtin or unknown program says so.
    pub summary: Option<String>,
    pub options: Vec<OptionUse>,
}

/// One option as written, with its value and what it does.
#[derive(Debug, Clone, Serialize)]
pub struct OptionUse {
    pub option: String,
    pub value: Option<String>,
    pub gloss: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub parts: Vec<Part>,
    pub verdict: Verdict,
}

/// Explains `command` using the programs on `path` (normally `$PATH`).
pub fn explain(command: &str, path: &OsString) -> Explanation {
    let parsed = syntax::parse(command);
    let parts = parsed
        .script
        .commands()
        .into_iter()
        .filter_map(|simple| part(simple, command, path))
        .collect();
    Explanation {
        parts,
        verdict: safety::check(command),
    }
}

fn part(simple: &Simple, src: &str, path: &OsString) -> Option<Part> {
    let program = simple.program(src)?;
    let words: Vec<String> = simple.words[program.index..]
        .iter()
        .map(|w| w.text(src).into_owned())
        .collect();
    let name = program.name;
    let resolved = crate::check::resolve(path, &name);
    let sub = words
        .get(1)
        .filter(|w| WITH_SUBCOMMAND_PAGES.contains(&name.as_str()) && !w.starts_with('-'))
        .cloned();
    let glosses = resolved
        .as_ref()
        .map(|p| glosses_of(&name, sub.as_deref(), p))
        .unwrap_or_default();
    let page = sub
        .as_ref()
        .and_then(|s| tldr::summary(&format!("{name}-{s}")));
    let summary = page
        .or_else(|| tldr::summary(&name))
        .map(str::to_owned)
        .or_else(|| {
            if crate::check::is_builtin(&name) {
                Some("shell builtin".into())
            } else if resolved.is_none() {
                Some("not installed here".into())
            } else {
                None
            }
        });
    let args = &words[1 + usize::from(sub.is_some())..];
    Some(Part {
        program: match &sub {
            Some(s) => format!("{name} {s}"),
            None => name,
        },
        summary,
        options: options(args, &glosses),
    })
}

fn glosses_of(name: &str, sub: Option<&str>, program: &Path) -> Glosses {
    if let Some(sub) = sub
        && let Some(page) = crate::check::man_page(&format!("{name}-{sub}"), program)
    {
        return Glosses::from_man(&page);
    }
    if let Some(page) = crate::check::man_page(name, program) {
        let g = Glosses::from_man(&page);
        if !g.is_empty() {
            return g;
        }
    }
    crate::check::help(name, program)
        .map(|text| Glosses::from_help(&text))
        .unwrap_or_default()
}

/// The options among `args`, in order: `--name=value` split, a cluster of short
/// options (`-xzvf`) taken letter by letter when the page knows each letter, and the
/// value of an option the page shows with one taken from the next word.
fn options(args: &[String], glosses: &Glosses) -> Vec<OptionUse> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            continue;
        }
        let gloss = |o: &str| glosses.get(o);
        let next_value = |i: &mut usize| {
            let v = args.get(*i).filter(|v| !v.starts_with('-')).cloned();
            if v.is_some() {
                *i += 1;
            }
            v
        };
        if let Some((name, value)) = arg.split_once('=')
            && name.starts_with("--")
        {
            out.push(use_of(name, Some(value.to_owned()), gloss(name)));
        } else if let Some(g) = gloss(arg) {
            let value = if g.valued { next_value(&mut i) } else { None };
            out.push(use_of(arg, value, Some(g)));
        } else if !arg.starts_with("--") && arg.len() > 2 {
            let letters: Vec<char> = arg.chars().skip(1).collect();
            let mut split = Vec::new();
            let mut k = 0;
            while k < letters.len() {
                let short = format!("-{}", letters[k]);
                let Some(g) = gloss(&short) else { break };
                k += 1;
                if g.valued {
                    // The rest of the cluster is the value, else the next word is.
                    let rest: String = letters[k..].iter().collect();
                    k = letters.len();
                    let value = if rest.is_empty() { None } else { Some(rest) };
                    split.push((short, value, g, true));
                } else {
                    split.push((short, None, g, false));
                }
            }
            if k == letters.len() && !split.is_empty() {
                for (short, value, g, valued) in split {
                    let value = match value {
                        None if valued => next_value(&mut i),
                        v => v,
                    };
                    out.push(use_of(&short, value, Some(g)));
                }
            } else {
                out.push(use_of(arg, None, None));
            }
        } else {
            out.push(use_of(arg, None, None));
        }
    }
    out
}

fn use_of(option: &str, value: Option<String>, gloss: Option<&Gloss>) -> OptionUse {
    OptionUse {
        option: option.to_owned(),
        value,
        gloss: gloss.map(|g| g.text.clone()),
    }
}

/// The explanation as lines for a terminal: a program a line, its options indented
/// under it, the verdict last.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    for p in &e.parts {
        out.push_str(&p.program);
        if let Some(s) = &p.summary {
            out.push_str(": ");
            out.push_str(s);
        }
        out.push('\n');
        for o in &p.options {
            let head = match &o.value {
                Some(v) => format!("{} {v}", o.option),
                None => o.option.clone(),
            };
            let gloss = o.gloss.as_deref().unwrap_or("(not in its manual)");
            out.push_str(&format!("  {head:<14} {gloss}\n"));
        }
    }
    match &e.verdict.reason {
        Some(r) => out.push_str(&format!("{}: {r}\n", e.verdict.level.as_str())),
        None => out.push_str(&format!("{}\n", e.verdict.level.as_str())),
    }
    out
}

#[cfg(test)]
mod tests;
