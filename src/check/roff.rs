//! Option names mentioned in a man page's roff source or in `--help` text.
//!
//! Deliberately generous: every `-x` or `--long-name` token anywhere in the text
//! counts, since the checks only want to catch options that appear nowhere.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

/// The options a text mentions, and which of them are shown with a value
/// (`-e PATTERNS`, `--width=COLS`).
#[derive(Debug, Default, Clone)]
pub struct Mentions {
    pub names: HashSet<String>,
    pub valued: HashSet<String>,
}

static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    // A token starts after anything that cannot be part of a word (so `re-read`
    // yields nothing) and stops at `=`, `[`, `,`, blanks and the like.
    Regex::new(r"(?:^|[^A-Za-z0-9_\-])(--?[A-Za-z0-9][A-Za-z0-9_+\-]*)").expect("valid pattern")
});

static VALUED: LazyLock<Regex> = LazyLock::new(|| {
    // An option followed on the same line by an upper-case or `<…>` placeholder.
    Regex::new(r#"(?:^|[^A-Za-z0-9_\-])(--?[A-Za-z0-9][A-Za-z0-9_\-]*)(?:=| +)["']?[<A-Z]"#)
        .expect("valid pattern")
});

static FONT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\f(?:\[[^\]]*\]|\([A-Za-z0-9]{2}|[A-Za-z0-9])").expect("valid pattern")
});

/// Reads a man page's roff source (man or mdoc macros).
pub fn man(src: &str) -> Mentions {
    let text = unescape(src);
    let mut m = Mentions::default();
    // A font change may glue a placeholder to its option (`\-l\fIlibrary\fR` is
    // `-llibrary`): read the text both with font changes as breaks and without.
    let broken = FONT.replace_all(&text, " ");
    let joined = FONT.replace_all(&text, "").replace('"', "");
    scan(&broken, &mut m);
    scan(&joined, &mut m);
    mdoc(&joined, &mut m);
    m
}

/// Reads `--help` output.
pub fn help(text: &str) -> Mentions {
    let mut m = Mentions::default();
    scan(text, &mut m);
    // Usage lines list short options as one cluster (`[-346ABCpqr]`): each letter is
    // an option of its own.
    let clusters: Vec<String> = m
        .names
        .iter()
        .filter(|n| !n.starts_with("--"))
        .flat_map(|n| n.chars().skip(1).map(|c| format!("-{c}")))
        .collect();
    m.names.extend(clusters);
    m
}

fn scan(text: &str, m: &mut Mentions) {
    for line in text.lines() {
        for c in TOKEN.captures_iter(line) {
            if let Some(t) = c.get(1) {
                m.names
                    .insert(t.as_str().trim_end_matches(['-', '+']).to_owned());
            }
        }
        for c in VALUED.captures_iter(line) {
            if let Some(t) = c.get(1) {
                m.valued.insert(t.as_str().to_owned());
            }
        }
    }
}

/// mdoc pages (BSD-style, e.g. ssh's) write flags without their dash: `.Fl l` or a
/// whole synopsis cluster `.Op Fl 46AaCf`.
fn mdoc(text: &str, m: &mut Mentions) {
    for line in text.lines() {
        let mut tokens = line.split_whitespace().peekable();
        while let Some(t) = tokens.next() {
            if t != "Fl" {
                continue;
            }
            let Some(flag) = tokens.peek() else {
                break;
            };
            let flag = flag.trim_end_matches([',', '.', ';', ':', ')', '|']);
            if flag.is_empty() || flag.len() > 40 {
                continue;
            }
            m.names.insert(format!("-{flag}"));
            if flag.chars().all(|c| c.is_ascii_alphanumeric()) {
                for c in flag.chars() {
                    m.names.insert(format!("-{c}"));
                }
            }
        }
    }
}

static SPECIAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\\((?:aq|cq|oq)|\\\[(?:aq|cq|oq)\]").expect("valid pattern"));

/// A line of roff source as a reader sees it: escapes undone, font changes dropped.
pub fn plain(src: &str) -> String {
    let text = unescape(src);
    let text = FONT.replace_all(&text, "");
    let text = SPECIAL.replace_all(&text, "'");
    text.replace("\\(dq", "\"").replace("\\(bu", "*")
}

/// Undoes roff's escapes that matter for option names: `\-` is a dash, `\&` and `\c`
/// are nothing, `\(hy`, `\(en` dashes. Font changes are left for the caller.
fn unescape(src: &str) -> String {
    src.replace("\\-", "-")
        .replace("\\(hy", "-")
        .replace("\\(en", "-")
        .replace("\\(em", " ")
        .replace("\\&", "")
        .replace("\\c", "")
        .replace("\\e", "\\")
        .replace("\\ ", " ")
        .replace("\\~", " ")
        .replace("\\0", " ")
        // Zero-width and hair spaces (`\-\^\-include`), hyphenation marks.
        .replace("\\^", "")
        .replace("\\|", "")
        .replace("\\%", "")
        .replace("\\:", "")
        .replace("\\,", "")
        .replace("\\/", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_roff_options() {
        let src = ".TP\n\\fB\\-a\\fR, \\fB\\-\\-all\\fR\ndo not ignore\n\
                   \\fB\\-\\-color\\fR[=\\fIWHEN\\fR]\n.B \\-x\n\
                   \\fB\\-w\\fR, \\fB\\-\\-width\\fR=\\fICOLS\\fR\n\
                   .BI \\-l library\n\\fB\\-e\\fR \\fIPATTERNS\\fR\n\
                   .BI \\-\\^\\-include= GLOB\n";
        let m = man(src);
        for name in [
            "-a",
            "--all",
            "--color",
            "-x",
            "-w",
            "--width",
            "-l",
            "-e",
            "--include",
        ] {
            assert!(m.names.contains(name), "{name} in {:?}", m.names);
        }
        assert!(m.valued.contains("--width"));
        assert!(m.valued.contains("-e"));
        assert!(
            !m.valued.contains("--color"),
            "optional values are attached"
        );
        assert!(!m.names.contains("-ignore"), "words are not options");
    }

    #[test]
    fn reads_mdoc_flags() {
        let m = man(".Op Fl 46AaC\n.It Fl l Ar login_name\n");
        for name in ["-4", "-A", "-a", "-C", "-l"] {
            assert!(m.names.contains(name), "{name} in {:?}", m.names);
        }
    }

    #[test]
    fn reads_help_text() {
        let m = help(
            "Usage: x [OPTION]...\n  -s, --summarize   display only a total\n  -d, --max-depth=N\n",
        );
        for name in ["-s", "--summarize", "-d", "--max-depth"] {
            assert!(m.names.contains(name), "{name} in {:?}", m.names);
        }
        assert!(m.valued.contains("--max-depth"));
        let m = help("usage: scp [-346ABCr] [-c cipher] source ... target\n");
        for name in ["-3", "-B", "-r", "-c"] {
            assert!(m.names.contains(name), "{name} in {:?}", m.names);
        }
    }
}
