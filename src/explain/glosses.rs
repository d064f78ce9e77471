//! What each option of a program does, in one sentence, read from its man page's roff
//! source (`man` and `mdoc` macros) or from its `--help` text.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::check::roff_plain;

/// One option's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gloss {
    /// The first sentence of what the page says of it.
    pub text: String,
    /// Whether the page shows it with a value (`-f ARCHIVE`, `--width=COLS`).
    pub valued: bool,
}

/// What the line after a paragraph macro is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Tag,
    /// A tag only if it names an option.
    OptionTag,
}

/// Options (`-x`, `--extract`) and their glosses.
#[derive(Debug, Default, Clone)]
pub struct Glosses {
    map: HashMap<String, Gloss>,
}

static OPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"--?[A-Za-z0-9?][A-Za-z0-9_\-]*").expect("valid pattern"));

/// A `--help` line: indented options, two blanks (or a tab), the description.
static HELP_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s{1,10}(-\S.*?)(?:\s{2,}|\t)\s*(\S.*)$").expect("valid pattern")
});

/// Longest gloss shown; longer first sentences are cut at a word.
const MAX_CHARS: usize = 110;

impl Glosses {
    pub fn get(&self, option: &str) -> Option<&Gloss> {
        self.map.get(option)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Reads a man page's roff source: each `.TP`/`.IP`/`.It` paragraph whose tag
    /// names options glosses them with its first sentence.
    pub fn from_man(src: &str) -> Self {
        let mut g = Self::default();
        let mut tag: Option<String> = None;
        let mut body = String::new();
        // After `.TP` the next text line is the tag; after `.PP` it is one when it
        // starts with an option (DocBook's pages: `.PP`, `\-a, \-\-all`, `.RS 4`, text).
        let mut tag_next = None;
        for line in src.lines() {
            if line.starts_with(".\\\"") || line.starts_with("'\\\"") {
                continue;
            }
            if let Some(rest) = line.strip_prefix('.') {
                let (name, args) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
                match name {
                    "TP" | "IP" | "It" | "PP" | "P" | "LP" | "SH" | "SS" | "HP" | "El" | "Sh"
                    | "Ss" | "Pp" => {
                        g.flush(tag.take(), &body);
                        body.clear();
                        tag_next = match name {
                            "TP" => Some(Next::Tag),
                            "PP" | "P" | "LP" => Some(Next::OptionTag),
                            _ => None,
                        };
                        if name == "IP" && !args.trim().is_empty() {
                            tag = Some(roff_plain(first_arg(args)));
                        } else if name == "It" {
                            tag = Some(mdoc_tag(args));
                        }
                    }
                    "B" | "I" | "BR" | "RB" | "BI" | "IB" | "IR" | "RI" | "SM" | "SB" => {
                        let text = macro_text(args);
                        g.text_line(&mut tag, &mut tag_next, &mut body, &text);
                    }
                    "Nm" | "Fl" | "Ar" | "Op" | "Ql" | "Pa" | "Cm" | "Ev" | "Sq" | "Dq" => {
                        let text = mdoc_tag(&format!("{name} {args}"));
                        g.text_line(&mut tag, &mut tag_next, &mut body, &text);
                    }
                    _ => {}
                }
                continue;
            }
            let text = roff_plain(line);
            g.text_line(&mut tag, &mut tag_next, &mut body, &text);
        }
        g.flush(tag, &body);
        g
    }

    /// Reads `--help` output: `  -x, --extract    extract files from an archive`.
    pub fn from_help(text: &str) -> Self {
        let mut g = Self::default();
        for line in text.lines() {
            if let Some(c) = HELP_LINE.captures(line) {
                g.flush(Some(c[1].to_owned()), &c[2]);
            }
        }
        g
    }

    fn text_line(
        &mut self,
        tag: &mut Option<String>,
        tag_next: &mut Option<Next>,
        body: &mut String,
        text: &str,
    ) {
        if let Some(next) = tag_next.take() {
            if next == Next::Tag || text.trim_start().starts_with('-') {
                *tag = Some(text.to_owned());
            }
        } else if tag.is_some() {
            body.push(' ');
            body.push_str(text.trim());
        }
    }

    /// Records the options `tag` names with the first sentence of `body`; the first
    /// description of an option wins (later mentions are usually cross-references).
    fn flush(&mut self, tag: Option<String>, body: &str) {
        let Some(tag) = tag else { return };
        let options: Vec<&str> = OPTION
            .find_iter(&tag)
            .filter(|m| m.start() == 0 || !tag[..m.start()].ends_with(char::is_alphanumeric))
            .map(|m| m.as_str())
            .collect();
        let sentence = first_sentence(body);
        if options.is_empty() || sentence.is_empty() {
            return;
        }
        let rest = OPTION.replace_all(&tag, "");
        let valued = rest.chars().any(|c| c.is_alphanumeric() || c == '<');
        for o in options {
            self.map.entry(o.to_owned()).or_insert_with(|| Gloss {
                text: sentence.clone(),
                valued,
            });
        }
    }
}

/// A macro's arguments as text: quotes dropped, alternating fonts joined.
fn macro_text(args: &str) -> String {
    let plain = roff_plain(args);
    let mut out = String::new();
    let mut quoted = false;
    for c in plain.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {}
            _ => out.push(c),
        }
    }
    // `.BR \-a ", " \-\-all` joins without blanks: put one back after commas.
    out.replace(',', ", ")
}

fn first_arg(args: &str) -> &str {
    let args = args.trim_start();
    match args.strip_prefix('"') {
        Some(rest) => rest.split('"').next().unwrap_or(rest),
        None => args.split_whitespace().next().unwrap_or(args),
    }
}

/// mdoc's `Fl x Ar file` is `-x file`.
fn mdoc_tag(args: &str) -> String {
    let plain = roff_plain(args);
    let mut out = Vec::new();
    let mut words = plain.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "Fl" => {
                if let Some(flag) = words.next() {
                    out.push(format!("-{flag}"));
                }
            }
            "Ar" | "Op" | "Oo" | "Oc" | "Cm" | "Ns" | "Nm" | "Ql" | "Pa" | "Ev" | "Sq" | "Dq"
            | "Xo" | "Xc" => {}
            _ => out.push(w.to_owned()),
        }
    }
    out.join(" ")
}

/// Up to the first full stop that ends a sentence, cut to [`MAX_CHARS`].
fn first_sentence(body: &str) -> String {
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = body.len();
    for (i, _) in body.match_indices(". ") {
        // "e.g. " and "i.e. " do not end a sentence.
        let before = &body[..i];
        if !(before.ends_with("e.g") || before.ends_with("i.e") || before.ends_with("etc")) {
            end = i;
            break;
        }
    }
    let s = body[..end].trim_end_matches('.').trim();
    if s.chars().count() <= MAX_CHARS {
        return s.to_owned();
    }
    let cut: String = s.chars().take(MAX_CHARS).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tp_paragraphs_of_a_gnu_page() {
        let src = ".SH OPTIONS\n.TP\n\\fB\\-x\\fR, \\fB\\-\\-extract\\fR, \\fB\\-\\-get\\fR\n\
                   Extract files from an archive.  Arguments are optional.\n\
                   .TP\n\\fB\\-f\\fR, \\fB\\-\\-file\\fR=\\fIARCHIVE\\fR\n\
                   Use archive file or device \\fIARCHIVE\\fR.\n\
                   .TP\n.B \\-v\nVerbosely list files processed.\n";
        let g = Glosses::from_man(src);
        let x = g.get("-x").expect("-x");
        assert_eq!(x.text, "Extract files from an archive");
        assert!(!x.valued);
        assert_eq!(g.get("--get"), Some(x));
        let f = g.get("--file").expect("--file");
        assert_eq!(f.text, "Use archive file or device ARCHIVE");
        assert!(f.valued);
        assert_eq!(
            g.get("-v").map(|g| g.text.as_str()),
            Some("Verbosely list files processed")
        );
    }

    #[test]
    fn reads_ip_and_mdoc_items() {
        let src = ".IP \"\\-n \\fInum\\fR\" 4\nShow num lines. More.\n\
                   .Bl -tag\n.It Fl l\nUse a long listing format.\n\
                   .It Fl p Ar port\nPort to connect to on the remote host.\n.El\n";
        let g = Glosses::from_man(src);
        assert_eq!(g.get("-n").map(|g| g.valued), Some(true));
        assert_eq!(
            g.get("-l").map(|g| g.text.as_str()),
            Some("Use a long listing format")
        );
        assert_eq!(g.get("-p").map(|g| g.valued), Some(true));
    }

    #[test]
    fn reads_help_lines_and_cuts_long_sentences() {
        let text = "Usage: x [OPTION]\n  -a, --all             do not ignore entries starting with .\n\
                    \x20     --block-size=SIZE  with -l, scale sizes by SIZE when printing them; e.g. '--block-size=M'; see SIZE format below and also a great deal more text that runs on\n";
        let g = Glosses::from_help(text);
        assert_eq!(
            g.get("--all").map(|g| g.text.as_str()),
            Some("do not ignore entries starting with")
        );
        let b = g.get("--block-size").expect("--block-size");
        assert!(b.valued);
        assert!(
            b.text.ends_with('…') && b.text.chars().count() <= MAX_CHARS + 1,
            "{}",
            b.text
        );
    }

    #[test]
    fn reads_docbook_paragraphs_and_skips_prose_ones() {
        let src = r".PP
This text mentions \-v in passing\&. It is not a tag\&.
.PP
\-a, \-\-all
.RS 4
Tell the command to stage files\&. More\&.
.RE
.PP
\-C <commit>, \-\-reuse\-message=<commit>
.RS 4
Reuse a message\&.
.RE
";
        let g = Glosses::from_man(src);
        assert_eq!(
            g.get("-a").map(|g| g.text.as_str()),
            Some("Tell the command to stage files")
        );
        assert_eq!(g.get("--reuse-message").map(|g| g.valued), Some(true));
        assert_eq!(g.get("-v"), None);
    }

    #[test]
    fn words_with_dashes_are_not_options() {
        let g = Glosses::from_man(".TP\nre-read the file\nText.\n");
        assert!(g.is_empty());
    }
}
