//! One command's words, and the checks that follow which program runs them: the
//! program exists, its options are known, its arguments are plausible. Commands that
//! run other commands (`xargs`, `find -exec`) have those checked as commands too.

use std::collections::HashSet;
use std::ops::Range;

use super::options::Table;
use super::{Checker, Finding, Kind, arguments, path, syntax_checks};
use crate::syntax::wrappers::{Wrap, skip_options, unwrap};
use crate::syntax::{Command, Script, Simple, program_name};

/// `xargs CMD` and `find -exec CMD` nest; deeper than this is not worth following.
const MAX_NESTING: usize = 4;

/// A word of a command as the checks see it.
#[derive(Debug, Clone)]
pub struct W {
    /// Quotes removed; as written when it holds an expansion.
    pub text: String,
    pub span: Range<usize>,
    /// No expansion anywhere in it, so `text` is what the program receives (globs
    /// aside: see [`W::judgeable`]).
    pub literal: bool,
}

impl W {
    /// Whether the program certainly receives `text`: no expansion and no glob.
    pub fn judgeable(&self) -> bool {
        self.literal && !self.text.contains(['*', '?', '[', '$', '`'])
    }
}

pub fn words(simple: &Simple, src: &str) -> Vec<W> {
    simple
        .words
        .iter()
        .map(|w| W {
            text: w.text(src).into_owned(),
            span: w.span.clone(),
            literal: w.literal().is_some(),
        })
        .collect()
}

/// Names of the functions the script defines: calling one is not a missing program.
pub fn functions(script: &Script) -> HashSet<String> {
    fn walk(script: &Script, out: &mut HashSet<String>, depth: usize) {
        if depth > 64 {
            return;
        }
        for stage in script.pipelines.iter().flat_map(|p| &p.stages) {
            walk_command(stage, out, depth + 1);
        }
    }
    fn walk_command(c: &Command, out: &mut HashSet<String>, depth: usize) {
        match c {
            Command::Simple(_) => {}
            Command::Group { body, .. } => walk(body, out, depth),
            Command::Function { name, body } => {
                out.insert(name.clone());
                walk_command(body, out, depth + 1);
            }
        }
    }
    let mut out = HashSet::new();
    walk(script, &mut out, 0);
    out
}

/// Programs whose operands after the first are arguments of something else they run
/// (a script, a remote command, a traced program): their options end at the first
/// operand.
const STOP_AT_OPERAND: &[&str] = &[
    "ssh",
    "watch",
    "strace",
    "ltrace",
    "parallel",
    "su",
    "runuser",
    "setsid",
    "unshare",
    "nsenter",
    "script",
    "valgrind",
    "gdb",
    "perf",
    "firejail",
    "bwrap",
    "systemd-run",
    "sh",
    "bash",
    "zsh",
    "fish",
    "dash",
    "ksh",
    "python",
    "python3",
    "node",
    "perl",
    "ruby",
    "php",
    "java",
    "npx",
    "xargs",
    "exec",
    "nohup",
    "time",
    "env",
    "sudo",
    "doas",
    "timeout",
    "nice",
    "ionice",
    "stdbuf",
    "chroot",
    "flock",
    "taskset",
    "chrt",
    // Operands after the subcommand are an image or a pod, then its own command.
    "docker",
    "podman",
    "kubectl",
];

/// Programs whose options are open-ended (codec and digest names, compiler `-W…`/`-f…`
/// families, plugin options): their documentation cannot say which are wrong.
const OPEN_OPTIONS: &[&str] = &[
    "openssl",
    "ffmpeg",
    "ffprobe",
    "ffplay",
    "gcc",
    "g++",
    "cc",
    "c++",
    "clang",
    "clang++",
    "ld",
    "java",
    "javac",
    "iptables",
    "ip6tables",
    "iptables-save",
    "convert",
    "magick",
    "mogrify",
    "identify",
    "qemu-system-x86_64",
    "qemu-img",
    "mplayer",
    "mpv",
    "vlc",
    "sox",
    "gs",
    "tmux",
    "screen",
    "rustc",
    "go",
    "xdotool",
    "ansible",
    "ansible-playbook",
];

/// Shells whose `-c CODE` is checked as a command of its own.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh"];

/// Programs whose first operand is a subcommand with options of its own: those are
/// checked against the subcommand's man page (`git-log`) when there is one.
const SUBCOMMANDS: &[&str] = &[
    "git",
    "docker",
    "podman",
    "apt",
    "apt-get",
    "apt-cache",
    "dnf",
    "yum",
    "cargo",
    "rustup",
    "npm",
    "yarn",
    "pnpm",
    "pip",
    "pip3",
    "kubectl",
    "ip",
    "go",
    "brew",
    "snap",
    "flatpak",
    "nmcli",
    "gh",
    "aws",
    "gcloud",
    "az",
    "helm",
    "terraform",
    "conda",
    "zfs",
    "zpool",
    "btrfs",
    "svn",
    "hg",
    "update-alternatives",
    "dpkg-query",
    "debconf",
    "composer",
    "gem",
    "bundle",
    "dotnet",
    "lxc",
    "virsh",
    "ufw",
    "firewall-cmd",
];

pub struct Context<'a> {
    pub checker: &'a Checker,
    pub functions: &'a HashSet<String>,
    /// The text the words' spans point into.
    pub src: &'a str,
}

impl Context<'_> {
    /// Checks the command whose program is `words[index]`.
    pub fn check(&self, words: &[W], index: usize, depth: usize, out: &mut Vec<Finding>) {
        if depth > MAX_NESTING {
            return;
        }
        let Some(word) = words.get(index) else {
            return;
        };
        if !word.judgeable() || word.text.contains(['~', '{']) || word.text.is_empty() {
            return;
        }
        let text = word.text.as_str();
        let name = program_name(text);
        let resolved = if text.contains('/') {
            if !text.starts_with('/') {
                // `./script.sh` may be what the user creates first.
                return;
            }
            let p = std::path::PathBuf::from(text);
            if !path::is_executable(&p) {
                out.push(Finding::new(
                    Kind::MissingProgram,
                    Some(word.span.clone()),
                    format!("`{text}` does not exist or is not executable"),
                ));
                return;
            }
            p
        } else {
            if path::is_builtin(text) || self.functions.contains(text) {
                return;
            }
            match path::resolve(&self.checker.path, text) {
                Some(p) => p,
                None => {
                    out.push(Finding::new(
                        Kind::MissingProgram,
                        Some(word.span.clone()),
                        format!("`{text}` is not installed (no builtin or program on PATH has that name)"),
                    ));
                    return;
                }
            }
        };
        let args = words.get(index + 1..).unwrap_or_default();
        match name {
            "find" => self.find(&resolved, args, depth, out),
            "xargs" => self.xargs(&resolved, words, index, depth, out),
            _ => {
                self.options(name, &resolved, args, out);
                arguments::check(name, args, out);
                if SHELLS.contains(&name) {
                    self.shell_code(args, depth, out);
                }
            }
        }
    }

    /// Checks the code of `sh -c CODE` as a command of its own. Findings point into
    /// the outer text when CODE is written there single-quoted, so that positions
    /// match; otherwise they carry no position.
    fn shell_code(&self, args: &[W], depth: usize, out: &mut Vec<Finding>) {
        let options = args
            .iter()
            .take_while(|w| w.text.starts_with('-') && w.text != "--");
        let Some(at) = options
            .enumerate()
            .find(|(_, w)| !w.text.starts_with("--") && w.text.contains('c'))
            .map(|(i, _)| i)
        else {
            return;
        };
        let Some(code) = args.get(at + 1).filter(|w| w.literal) else {
            return;
        };
        let quoted = format!("'{}'", code.text);
        let offset = (self.src.get(code.span.clone()) == Some(quoted.as_str()))
            .then_some(code.span.start + 1);
        let parsed = crate::syntax::parse(&code.text);
        let mut found = syntax_checks::parser(&parsed);
        let functions = functions(&parsed.script);
        let inner = Context {
            checker: self.checker,
            functions: &functions,
            src: &code.text,
        };
        for simple in parsed.script.commands() {
            let Some(program) = simple.program(&code.text) else {
                continue;
            };
            inner.check(
                &words(simple, &code.text),
                program.index,
                depth + 1,
                &mut found,
            );
        }
        out.extend(found.into_iter().map(|mut f| {
            f.span = f
                .span
                .zip(offset)
                .map(|(span, o)| span.start + o..span.end + o);
            f
        }));
    }

    /// The option table of the program at `resolved`, or of its subcommand `sub`.
    fn table(
        &self,
        name: &str,
        resolved: &std::path::Path,
        sub: Option<&str>,
    ) -> Option<std::sync::Arc<Table>> {
        self.checker.tables.get(name, resolved, sub)
    }

    /// Checks each option word of `args` (the words after the program) against what
    /// the documentation of `name` mentions.
    fn options(&self, name: &str, resolved: &std::path::Path, args: &[W], out: &mut Vec<Finding>) {
        if crate::syntax::wrappers::is_wrapper(name) || OPEN_OPTIONS.contains(&name) {
            return;
        }
        let Some(mut table) = self.table(name, resolved, None) else {
            return;
        };
        let mut owner = name.to_owned();
        let stops = STOP_AT_OPERAND.contains(&name);
        let mut sub_pending = SUBCOMMANDS.contains(&name);
        let mut skip_value = false;
        for w in args {
            let t = w.text.as_str();
            if skip_value {
                skip_value = false;
                continue;
            }
            if !w.literal {
                continue;
            }
            if t == "--" {
                return;
            }
            if !t.starts_with('-') || t == "-" {
                if sub_pending {
                    sub_pending = false;
                    if !w.judgeable() {
                        return;
                    }
                    match self.table(name, resolved, Some(t)) {
                        Some(sub) => {
                            table = sub;
                            owner = format!("{name} {t}");
                        }
                        None => return,
                    }
                    continue;
                }
                if stops {
                    return;
                }
                continue;
            }
            if !w.judgeable() || is_number(t) || (name == "chmod" && arguments::is_mode(t)) {
                continue;
            }
            if table.knows(t, false) {
                skip_value = table.takes_value(t);
                continue;
            }
            out.push(unknown(t, &owner, w));
        }
    }

    fn xargs(
        &self,
        resolved: &std::path::Path,
        words: &[W],
        index: usize,
        depth: usize,
        out: &mut Vec<Finding>,
    ) {
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        let start = skip_options(
            &texts,
            index + 1,
            "adEILnPs",
            &[
                "arg-file",
                "delimiter",
                "max-args",
                "max-procs",
                "max-chars",
                "process-slot-var",
            ],
        );
        let own = words.get(index + 1..start).unwrap_or_default();
        self.options("xargs", resolved, own, out);
        if start < words.len() {
            self.run_in(words, start, depth, out);
        }
    }

    /// Checks the command another program runs from `words[start]` on, through
    /// wrappers (`xargs sudo rm`).
    fn run_in(&self, words: &[W], start: usize, depth: usize, out: &mut Vec<Finding>) {
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        let mut i = start;
        while let Some(w) = words.get(i) {
            if !w.literal {
                break;
            }
            match unwrap(program_name(&w.text), &texts, i) {
                Wrap::Into { next, .. } if next > i && next < words.len() => i = next,
                Wrap::Not => break,
                _ => return,
            }
        }
        self.check(words, i, depth + 1, out);
    }

    fn find(&self, resolved: &std::path::Path, args: &[W], depth: usize, out: &mut Vec<Finding>) {
        let shape = syntax_checks::find(args, out);
        arguments::find(args, out);
        // find's --help leaves out rarer predicates (`-samefile`): only its man page
        // is a complete list.
        let table = self.table("find", resolved, None).filter(|t| !t.from_help);
        let mut skip_value = false;
        let mut i = 0;
        while let Some(w) = args.get(i) {
            if let Some(exec) = shape.execs.iter().find(|e| e.at == i) {
                // The executed command's words are its own; check them as a command.
                if exec.command.start < exec.command.end {
                    let inner = args.get(exec.command.clone()).unwrap_or_default();
                    self.run_in(inner, 0, depth, out);
                }
                i = exec.command.end + 1;
                continue;
            }
            i += 1;
            let t = w.text.as_str();
            if skip_value {
                skip_value = false;
                continue;
            }
            if !w.judgeable() || !t.starts_with('-') || t == "-" || is_number(t) {
                continue;
            }
            skip_value = syntax_checks::FIND_VALUED.contains(&t);
            if let Some(table) = &table
                && !table.knows(t, true)
            {
                out.push(unknown(t, "find", w));
            }
        }
    }
}

fn unknown(t: &str, owner: &str, w: &W) -> Finding {
    let shown = t.split_once('=').map_or(t, |(name, _)| name);
    Finding::new(
        Kind::UnknownOption,
        Some(w.span.clone()),
        format!("`{shown}` is not an option of {owner}"),
    )
}

/// `-5`, `-1.5`, `-0`: a number or a count (`head -5`, `kill -9`), not an option name.
fn is_number(t: &str) -> bool {
    t.strip_prefix('-')
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
}
