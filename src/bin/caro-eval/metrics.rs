//! String measures between a generated command and its references: exact match after
//! normalisation, same first program, and overlap of key flags.

use std::collections::BTreeSet;

use caro::syntax;

use caro::syntax::working_program;

/// A shell word (quotes resolved) or an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Op(&'static str),
}

const OPERATORS: &[&str] = &[
    "2>&1", "&>>", "&>", "2>>", "2>", ">>", "<<", "||", "&&", "|&", ">", "<", "|", ";", "&", "(",
    ")",
];

/// Splits like the shell would: quotes and backslashes removed (so `'*.txt'`, `"*.txt"`
/// and `\*.txt` are the same word), operators separate tokens even without blanks.
fn tokens(cmd: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let chars: Vec<char> = cmd.chars().collect();
    let mut i = 0;
    let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<Token>| {
        if *in_word {
            out.push(Token::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\'
                        && i + 1 < chars.len()
                        && matches!(chars[i + 1], '"' | '\\' | '$' | '`')
                    {
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.get(i + 1)
                    && *n != '\n'
                {
                    word.push(*n);
                }
                i += 1;
            }
            c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut out),
            _ => {
                let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
                // `2>` is an operator only at the start of a word.
                let op = OPERATORS
                    .iter()
                    .find(|op| rest.starts_with(**op) && (!op.starts_with('2') || !in_word));
                if let Some(op) = op {
                    flush(&mut word, &mut in_word, &mut out);
                    out.push(Token::Op(op));
                    i += op.chars().count();
                    continue;
                }
                in_word = true;
                word.push(c);
            }
        }
        i += 1;
    }
    flush(&mut word, &mut in_word, &mut out);
    while matches!(out.last(), Some(Token::Op(";"))) {
        out.pop();
    }
    out
}

/// One canonical spelling: single blanks, quoting resolved, no trailing `;`.
pub fn normalise(cmd: &str) -> String {
    tokens(cmd)
        .iter()
        .map(|t| match t {
            Token::Word(w) => w.as_str(),
            Token::Op(o) => o,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn exact_match(cmd: &str, golds: &[String]) -> bool {
    let n = normalise(cmd);
    golds.iter().any(|g| normalise(g) == n)
}

pub fn first_program_match(cmd: &str, golds: &[String]) -> bool {
    let Some(p) = working_program(cmd) else {
        return false;
    };
    golds
        .iter()
        .any(|g| working_program(g).as_deref() == Some(p.as_str()))
}

/// Programs whose options are words after one dash (`find -name`), not letter bundles.
const SINGLE_DASH_WORDS: &[&str] = &[
    "find", "java", "gcc", "g++", "clang", "go", "ffmpeg", "convert", "xmllint", "openssl",
    "iptables", "ip", "dig", "tcpdump", "zip", "unzip", "mogrify", "identify",
];

/// Options used, per program (`find:-name`, `ls:-l`, `ls:-a` for `ls -la`), with values
/// dropped (`--sort=size` → `--sort`).
pub fn flags(cmd: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for simple in syntax::parse(cmd).script.commands() {
        let Some(program) = simple.program(cmd) else {
            continue;
        };
        let args = simple.words.get(program.index + 1..).unwrap_or_default();
        let mut p = program.name;
        for w in args {
            let w = w.text(cmd);
            if p == "xargs" && !w.starts_with('-') {
                // xargs runs the next word as a program of its own.
                p = syntax::program_name(&w).to_owned();
                continue;
            }
            insert_flag(&mut out, &p, &w);
        }
    }
    out
}

/// Records `w` as an option of program `p`, split into letters where it is a bundle.
fn insert_flag(out: &mut BTreeSet<String>, p: &str, w: &str) {
    if !w.starts_with('-') || w == "-" || w == "--" {
        return;
    }
    if let Some(long) = w.strip_prefix("--") {
        let name = long.split('=').next().unwrap_or(long);
        out.insert(format!("{p}:--{name}"));
    } else if SINGLE_DASH_WORDS.contains(&p) || !w[1..].chars().all(|c| c.is_ascii_alphabetic()) {
        out.insert(format!("{p}:{w}"));
    } else {
        for c in w[1..].chars() {
            out.insert(format!("{p}:-{c}"));
        }
    }
}

/// Jaccard similarity of the flag sets; two commands without flags agree fully.
pub fn flag_overlap(cmd: &str, gold: &str) -> f64 {
    let (a, b) = (flags(cmd), flags(gold));
    let union = a.union(&b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

/// The best overlap with any reference.
pub fn best_flag_overlap(cmd: &str, golds: &[String]) -> f64 {
    golds
        .iter()
        .map(|g| flag_overlap(cmd, g))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use caro::syntax::first_program;

    #[test]
    fn normalisation_resolves_quoting_and_spacing() {
        assert_eq!(
            normalise("find  .   -name '*.txt'"),
            normalise("find . -name \"*.txt\"")
        );
        assert_eq!(normalise("find . -name \\*.txt"), "find . -name *.txt");
        assert_eq!(normalise("ls|wc -l"), "ls | wc -l");
        assert_eq!(normalise("ls -a;"), "ls -a");
        assert_eq!(
            normalise("find . -exec rm {} \\;"),
            normalise("find . -exec rm {} ';'")
        );
        assert_eq!(normalise("cmd 2>/dev/null"), "cmd 2> /dev/null");
        assert_eq!(normalise("echo a2>b"), "echo a2 > b");
        assert_eq!(normalise("echo \"say \\\"hi\\\"\""), "echo say \"hi\"");
        assert!(exact_match("du -sh  .", &["ls".into(), "du -sh .".into()]));
    }

    #[test]
    fn first_program_sees_through_sudo_pipes_and_assignments() {
        let golds = vec!["sudo find / -name core".to_owned()];
        assert!(first_program_match("find / -name core -delete", &golds));
        assert!(first_program_match("LC_ALL=C find .", &golds));
        assert!(!first_program_match("locate core", &golds));
        assert_eq!(first_program("cat a | sort | uniq").as_deref(), Some("cat"));
        assert_eq!(
            working_program("cat a | sort | uniq").as_deref(),
            Some("sort")
        );
        assert_eq!(working_program("cat -n a | sort").as_deref(), Some("cat"));
        assert_eq!(working_program("cat a b").as_deref(), Some("cat"));
        assert!(first_program_match(
            "wc -l /etc/fstab",
            &["cat /etc/fstab | wc -l".to_owned()]
        ));
        assert_eq!(
            first_program("sudo -u bob env X=1 /usr/bin/ls").as_deref(),
            Some("ls")
        );
    }

    #[test]
    fn flags_are_split_per_program() {
        let f = flags("ls -la --sort=size | grep -v foo");
        let want: BTreeSet<String> = ["ls:-l", "ls:-a", "ls:--sort", "grep:-v"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(f, want);
        assert!(flags("find . -type f -name x").contains("find:-name"));
        assert!(flags("find . | xargs grep -l x").contains("grep:-l"));
        assert!(flags("sudo du -sh").contains("du:-s"));
        assert!(flags("head -5 f").contains("head:-5"));
    }

    #[test]
    fn overlap_is_jaccard() {
        assert_eq!(flag_overlap("ls -la", "ls -al"), 1.0);
        assert_eq!(flag_overlap("ls -l", "ls -la"), 0.5);
        assert_eq!(flag_overlap("pwd", "pwd"), 1.0);
        assert_eq!(flag_overlap("ls", "ls -a"), 0.0);
        assert_eq!(
            best_flag_overlap("ls -a", &["ls".into(), "ls -a".into()]),
            1.0
        );
    }
}
