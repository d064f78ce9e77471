//! Deterministic fixes of constructs the model learnt from old or BSD manuals that a
//! GNU userland rejects or reads differently. Only forms with one clear meaning are
//! rewritten; everything else is left exactly as the model wrote it.

use crate::safety::args::Arg;
use crate::safety::opts::Opts;
use crate::syntax::{self, Parsed, Simple, Span};

/// Rewrites `find -perm +MODE` ("any of these bits", removed from GNU find in 2005)
/// to `-perm /MODE`. GNU find rejects `+111` outright and silently reads `+x` as the
/// exact mode `0111`, so the command would fail or match nothing. BSD find still
/// accepts `+MODE`, so this applies only to a GNU userland.
pub fn gnu_find_perm(command: &str) -> Option<String> {
    let parsed = syntax::parse(command);
    let mut edits = Vec::new();
    for (find, at) in running(&parsed, command, &["find"]) {
        let args = find.words.get(at + 1..).unwrap_or_default();
        for pair in args.windows(2) {
            let [option, value] = pair else { continue };
            if option.literal().as_deref() != Some("-perm") {
                continue;
            }
            let Some(raw) = command.get(value.span.clone()) else {
                continue;
            };
            let (quote, inner) = match raw.chars().next() {
                Some(q @ ('\'' | '"')) if raw.len() >= 2 && raw.ends_with(q) => {
                    (q.to_string(), &raw[1..raw.len() - 1])
                }
                _ => (String::new(), raw),
            };
            let Some(fixed) = inner.strip_prefix('+').and_then(any_bits) else {
                continue;
            };
            edits.push((value.span.clone(), format!("{quote}/{fixed}{quote}")));
        }
    }
    splice(command, edits)
}

/// The `/MODE` operand meaning "any of the bits of MODE", or `None` when MODE is not a
/// mode at all.
fn any_bits(mode: &str) -> Option<String> {
    if mode.is_empty() {
        return None;
    }
    if mode.len() <= 4 && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Some(mode.to_owned());
    }
    let symbolic = |b: u8| b"ugoa+-=rwxXst,".contains(&b);
    if !mode.bytes().all(symbolic) {
        return None;
    }
    if mode.bytes().any(|b| b"+-=".contains(&b)) {
        // Already a full symbolic mode ("u=s", "g+w").
        Some(mode.to_owned())
    } else if mode.bytes().all(|b| b"rwxXst".contains(&b)) {
        // "+x": the leading plus was the operator; for everyone is what was meant.
        Some(format!("a+{mode}"))
    } else {
        None
    }
}

/// The simple commands (nested ones included) that run one of `names`, each with the
/// index of its program word.
fn running<'p>(parsed: &'p Parsed, command: &str, names: &[&str]) -> Vec<(&'p Simple, usize)> {
    parsed
        .script
        .commands()
        .into_iter()
        .filter_map(|simple| {
            let program = simple.program(command)?;
            names
                .contains(&program.name.as_str())
                .then_some((simple, program.index))
        })
        .collect()
}

/// `command` with each span replaced; everything else stays byte for byte as written.
/// None when there is nothing to replace.
fn splice(command: &str, mut edits: Vec<(Span, String)>) -> Option<String> {
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(command.len() + 8 * edits.len());
    let mut last = 0;
    for (span, text) in edits {
        if span.start < last {
            continue;
        }
        out.push_str(command.get(last..span.start)?);
        out.push_str(&text);
        last = span.end;
    }
    out.push_str(command.get(last..)?);
    Some(out)
}

/// Adds `-r` to a grep given a directory (`.`, `..`, `dir/`) or `--include` without
/// it: GNU grep answers "Is a directory" and finds nothing, where the request was
/// plainly a recursive search.
pub fn grep_directory_recursive(command: &str) -> Option<String> {
    let parsed = syntax::parse(command);
    let mut edits = Vec::new();
    for (grep, at) in running(&parsed, command, &["grep", "egrep", "fgrep"]) {
        let args: Vec<String> = grep
            .words
            .get(at + 1..)
            .unwrap_or_default()
            .iter()
            .map(|w| w.text(command).into_owned())
            .collect();
        if grep_wants_recursion(&args)
            && let Some(word) = grep.words.get(at)
        {
            let end = word.span.end;
            edits.push((end..end, " -r".to_owned()));
        }
    }
    splice(command, edits)
}

/// Whether grep's arguments name a directory to search (or an --include filter) while
/// no option asks for recursion.
fn grep_wants_recursion(args: &[String]) -> bool {
    let args: Vec<Arg<'_>> = args.iter().map(Arg::synthetic).collect();
    let opts = Opts::parse(
        &args,
        "efmABCdD",
        &[
            "regexp",
            "file",
            "max-count",
            "after-context",
            "before-context",
            "context",
            "directories",
            "devices",
            "label",
            "include",
            "exclude",
            "exclude-dir",
            "exclude-from",
        ],
    );
    let recurse = |key| opts.value(key).as_deref() == Some("recurse");
    if opts.flag('r', "recursive")
        || opts.short('R')
        || opts.long("dereference-recursive")
        || recurse("d")
        || recurse("directories")
    {
        return false;
    }
    let filtered = ["include", "exclude", "exclude-dir"]
        .iter()
        .any(|l| opts.long(l));
    let pattern_given = opts.flag('e', "regexp") || opts.flag('f', "file");
    let operands: Vec<&str> = opts.operands.iter().map(|a| a.text.as_str()).collect();
    let paths = if pattern_given {
        &operands[..]
    } else {
        operands.get(1..).unwrap_or_default()
    };
    let is_dir = |p: &&str| matches!(*p, "." | ".." | "./" | "../") || p.ends_with('/');
    paths.iter().any(is_dir) || (filtered && paths.is_empty() && !operands.is_empty())
}

/// Applies every repair that fits the local userland.
pub fn repair(command: &str, gnu: bool) -> String {
    let mut command = command.to_owned();
    if gnu && let Some(fixed) = gnu_find_perm(&command) {
        command = fixed;
    }
    // BSD grep also answers "Is a directory" without -r.
    if let Some(fixed) = grep_directory_recursive(&command) {
        command = fixed;
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_any_bits_become_slash() {
        assert_eq!(
            repair("find / -type f -perm +4000", true),
            "find / -type f -perm /4000"
        );
        assert_eq!(
            repair("find . -perm '+111' -ls", true),
            "find . -perm '/111' -ls"
        );
    }

    #[test]
    fn symbolic_forms_keep_their_meaning() {
        assert_eq!(repair("find . -perm +x", true), "find . -perm /a+x");
        assert_eq!(repair("find / -perm +u=s", true), "find / -perm /u=s");
        assert_eq!(
            repair("find . -perm \"+g+w\" | wc -l", true),
            "find . -perm \"/g+w\" | wc -l"
        );
    }

    #[test]
    fn grep_on_a_directory_becomes_recursive() {
        assert_eq!(repair("grep -i \"word\" .", true), "grep -r -i \"word\" .");
        assert_eq!(
            repair("grep -i text --include='*.js' .", true),
            "grep -r -i text --include='*.js' ."
        );
        assert_eq!(
            repair("grep -n TODO src/ | wc -l", true),
            "grep -r -n TODO src/ | wc -l"
        );
        assert_eq!(
            repair("cat x | grep -e foo ./", true),
            "cat x | grep -r -e foo ./"
        );
    }

    #[test]
    fn grep_that_is_fine_is_left_alone() {
        for c in [
            "grep -rn hello .",
            "grep -Ri hello src/",
            "grep -d recurse x .",
            "grep --recursive x .",
            "grep . file.txt",
            "grep -v '^$' notes.txt",
            "grep -A 2 error logs/app.log",
            "ls -la | grep '^d'",
            "find . -type f | grep ./",
            "echo grep x .",
        ] {
            assert_eq!(repair(c, true), c, "{c}");
        }
    }

    #[test]
    fn repairs_reach_through_wrappers_and_keep_the_rest_as_written() {
        assert_eq!(
            repair("sudo  grep   -n x  ./  #  odd   spacing", true),
            "sudo  grep -r   -n x  ./  #  odd   spacing"
        );
        assert_eq!(
            repair("echo \"$(find /  -perm  +4000)\"", true),
            "echo \"$(find /  -perm  /4000)\""
        );
    }

    #[test]
    fn every_occurrence_is_fixed() {
        assert_eq!(
            repair("find . -perm +4000 -o -perm +2000", true),
            "find . -perm /4000 -o -perm /2000"
        );
    }

    #[test]
    fn valid_and_foreign_forms_are_left_alone() {
        for c in [
            "find . -perm -4000",
            "find . -perm /u=s",
            "find . -perm 644",
            "find . -perm +bogus",
            "echo -perm +4000",
            "find . -name '-perm +4000'",
            "find . -perm",
        ] {
            assert_eq!(repair(c, true), c, "{c}");
        }
        // BSD find still means "any bits" by it.
        assert_eq!(repair("find . -perm +4000", false), "find . -perm +4000");
    }
}
