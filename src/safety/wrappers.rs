//! Commands that just run another command (`sudo`, `env`, `nohup`, `timeout` …).
//!
//! They are peeled off so the rules see the real command; a wrapper must never make a
//! dangerous command look safe.

use super::Level;
use super::args::{Arg, command_name, is_only_expansion};
use super::opts::skip_options;
use super::parse::is_name;

pub(crate) enum Wrap {
    /// Not a wrapper.
    Not,
    /// The wrapped command starts at this index; `elevated` when it now runs as root.
    Into { next: usize, elevated: bool },
    /// The wrapper runs this text as shell code (`env -S`, `flock -c`, `sg -c`).
    Code(String),
    /// A wrapper with nothing to run, optionally worth a note of its own.
    Done(Option<(Level, &'static str)>),
}

fn into(next: usize, elevated: bool) -> Wrap {
    Wrap::Into { next, elevated }
}

pub(crate) fn unwrap(args: &[Arg<'_>], i: usize) -> Wrap {
    let Some(first) = args.get(i) else {
        return Wrap::Done(None);
    };
    let at = i + 1;
    if is_only_expansion(&first.text) {
        return into(at, false);
    }
    match command_name(&first.text) {
        "sudo" => sudo(args, at),
        "doas" => into(skip_options(args, at, "uC", &[]), true),
        "pkexec" => into(skip_options(args, at, "", &["user"]), true),
        "env" => env(args, at),
        "nohup" | "builtin" | "unbuffer" | "fakeroot" | "torsocks" | "tsocks" | "busybox"
        | "catchsegv" => into(skip_options(args, at, "", &[]), false),
        "command" => {
            // `command -v rm` only looks the name up.
            let lookup = args
                .get(at..)
                .unwrap_or_default()
                .iter()
                .take_while(|a| a.text.starts_with('-'))
                .any(|a| a.text.contains('v') || a.text.contains('V'));
            if lookup {
                Wrap::Done(None)
            } else {
                into(skip_options(args, at, "", &[]), false)
            }
        }
        "exec" => into(skip_options(args, at, "a", &[]), false),
        "time" => into(skip_options(args, at, "fo", &["format", "output"]), false),
        "nice" => into(skip_options(args, at, "n", &["adjustment"]), false),
        "ionice" => {
            if has_flag(args, at, 'p') || has_flag(args, at, 'P') || has_flag(args, at, 'u') {
                Wrap::Done(None)
            } else {
                into(skip_options(args, at, "cn", &["class", "classdata"]), false)
            }
        }
        "timeout" => {
            let duration = skip_options(args, at, "sk", &["signal", "kill-after"]);
            into(duration + 1, false)
        }
        "stdbuf" => into(
            skip_options(args, at, "ioe", &["input", "output", "error"]),
            false,
        ),
        "chrt" | "taskset" => {
            if has_flag(args, at, 'p') {
                Wrap::Done(None)
            } else {
                // Both take a priority or CPU mask before the command.
                into(skip_options(args, at, "", &[]) + 1, false)
            }
        }
        "caffeinate" => into(skip_options(args, at, "tw", &[]), false),
        "proxychains" | "proxychains4" => into(skip_options(args, at, "f", &[]), false),
        "chroot" => into(
            skip_options(args, at, "", &["userspec", "groups"]) + 1,
            true,
        ),
        "gosu" | "su-exec" => into(at + 1, true),
        "flock" => {
            let file = skip_options(args, at, "wE", &["timeout", "conflict-exit-code"]);
            match args.get(file + 1) {
                Some(a) if a.is("-c") || a.is("--command") => code_from(args, file + 2),
                _ => into(file + 1, false),
            }
        }
        "sg" => match args.get(at + 1) {
            Some(a) if a.is("-c") => code_from(args, at + 2),
            _ => code_from(args, at + 1),
        },
        _ => Wrap::Not,
    }
}

fn has_flag(args: &[Arg<'_>], from: usize, c: char) -> bool {
    args.get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|a| a.text.starts_with('-') && !a.text.starts_with("--"))
        .any(|a| a.text.contains(c))
}

pub(crate) fn join(args: &[Arg<'_>], from: usize) -> String {
    let parts: Vec<&str> = args
        .get(from..)
        .unwrap_or_default()
        .iter()
        .map(|a| a.text.as_str())
        .collect();
    parts.join(" ")
}

fn code_from(args: &[Arg<'_>], from: usize) -> Wrap {
    if args.get(from).is_none() {
        return Wrap::Done(None);
    }
    Wrap::Code(join(args, from))
}

fn sudo(args: &[Arg<'_>], at: usize) -> Wrap {
    const VALUE_SHORTS: &str = "CDghpRrTtUu";
    const VALUE_LONGS: &[&str] = &[
        "close-from",
        "chdir",
        "group",
        "host",
        "prompt",
        "chroot",
        "role",
        "type",
        "command-timeout",
        "other-user",
        "user",
    ];
    let next = skip_options(args, at, VALUE_SHORTS, VALUE_LONGS);
    let opts = args.get(at..next).unwrap_or_default();
    let has = |short: char, long: &str| {
        opts.iter().any(|a| {
            let t = a.text.as_str();
            t == long
                || (t.starts_with('-')
                    && !t.starts_with("--")
                    && t.get(1..)
                        .unwrap_or_default()
                        .chars()
                        .take_while(|c| !VALUE_SHORTS.contains(*c))
                        .any(|c| c == short))
        })
    };
    if has('e', "--edit") {
        return Wrap::Done(Some((Level::Caution, "edits files as root")));
    }
    if args.get(next).is_some() {
        return into(next, true);
    }
    if has('s', "--shell") || has('i', "--login") {
        return Wrap::Done(Some((Level::Caution, "opens a root shell")));
    }
    Wrap::Done(None)
}

fn env(args: &[Arg<'_>], at: usize) -> Wrap {
    let mut i = at;
    while let Some(arg) = args.get(i) {
        let t = arg.text.as_str();
        match t {
            "--" => return into(i + 1, false),
            "-S" | "--split-string" => return code_from(args, i + 1),
            "-u" | "--unset" | "-C" | "--chdir" | "-P" => i += 2,
            _ if t.starts_with("--split-string=") || (t.starts_with("-S") && t.len() > 2) => {
                let first = t
                    .strip_prefix("--split-string=")
                    .or_else(|| t.strip_prefix("-S"))
                    .unwrap_or_default();
                let rest = join(args, i + 1);
                return Wrap::Code(format!("{first} {rest}"));
            }
            _ if t.starts_with('-') => i += 1,
            _ if t.split_once('=').is_some_and(|(name, _)| is_name(name)) => i += 1,
            _ => return into(i, false),
        }
    }
    Wrap::Done(None)
}
