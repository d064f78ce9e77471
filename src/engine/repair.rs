//! Deterministic fixes of constructs the model learnt from old or BSD manuals that a
//! GNU userland rejects or reads differently. Only forms with one clear meaning are
//! rewritten; everything else is left exactly as the model wrote it.

use crate::safety::args::Arg;
use crate::safety::opts::Opts;

/// Rewrites `find -perm +MODE` ("any of these bits", removed from GNU find in 2005)
/// to `-perm /MODE`. GNU find rejects `+111` outright and silently reads `+x` as the
/// exact mode `0111`, so the command would fail or match nothing. BSD find still
/// accepts `+MODE`, so this applies only to a GNU userland.
pub fn gnu_find_perm(command: &str) -> Option<String> {
    let words = words(command);
    if !words.iter().any(|w| &command[w.start..w.end] == "find") {
        return None;
    }
    let mut out = String::with_capacity(command.len() + 4);
    let mut last = 0;
    for pair in words.windows(2) {
        let (ps, pe) = (pair[0].start, pair[0].end);
        let (vs, ve) = (pair[1].start, pair[1].end);
        if &command[ps..pe] != "-perm" {
            continue;
        }
        let raw = &command[vs..ve];
        let (quote, inner) = match raw.chars().next() {
            Some(q @ ('\'' | '"')) if raw.len() >= 2 && raw.ends_with(q) => {
                (q.to_string(), &raw[1..raw.len() - 1])
            }
            _ => (String::new(), raw),
        };
        let Some(mode) = inner.strip_prefix('+') else {
            continue;
        };
        let Some(fixed) = any_bits(mode) else {
            continue;
        };
        out.push_str(&command[last..vs]);
        out.push_str(&format!("{quote}/{fixed}{quote}"));
        last = ve;
    }
    if last == 0 {
        return None;
    }
    out.push_str(&command[last..]);
    Some(out)
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

/// Byte spans of the whitespace-separated words of `s`, with quotes kept inside their
/// word (a quoted space does not split it), each with the index of its simple command
/// (a `|`, `;` or `&` outside quotes starts the next one). The safety parser's syntax
/// tree carries no byte positions, and a repair must leave the rest of the command
/// byte for byte as the model wrote it, so the spans are found here.
fn words(s: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    let mut segment = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\\') => {
                escaped = true;
                start.get_or_insert(i);
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                start.get_or_insert(i);
            }
            (None, c) if c.is_whitespace() || c == ';' || c == '|' || c == '&' => {
                if let Some(st) = start.take() {
                    out.push(Word {
                        start: st,
                        end: i,
                        segment,
                    });
                }
                if !c.is_whitespace() {
                    segment += 1;
                }
            }
            (None, _) => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(st) = start {
        out.push(Word {
            start: st,
            end: s.len(),
            segment,
        });
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
    segment: usize,
}

/// Adds `-r` to a grep given a directory (`.`, `..`, `dir/`) or `--include` without
/// it: GNU grep answers "Is a directory" and finds nothing, where the request was
/// plainly a recursive search.
pub fn grep_directory_recursive(command: &str) -> Option<String> {
    let ws = words(command);
    let text = |w: &Word| unquote(&command[w.start..w.end]);
    let mut inserts = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        let first_of_segment = i == 0 || ws[i - 1].segment != w.segment;
        if !first_of_segment || !matches!(text(w).as_str(), "grep" | "egrep" | "fgrep") {
            continue;
        }
        let args: Vec<String> = ws[i + 1..]
            .iter()
            .take_while(|a| a.segment == w.segment)
            .map(text)
            .collect();
        if grep_wants_recursion(&args) {
            inserts.push(w.end);
        }
    }
    if inserts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(command.len() + 3 * inserts.len());
    let mut last = 0;
    for at in inserts {
        out.push_str(&command[last..at]);
        out.push_str(" -r");
        last = at;
    }
    out.push_str(&command[last..]);
    Some(out)
}

fn unquote(word: &str) -> String {
    shell_words::split(word)
        .ok()
        .and_then(|mut v| if v.len() == 1 { v.pop() } else { None })
        .unwrap_or_else(|| word.to_owned())
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
