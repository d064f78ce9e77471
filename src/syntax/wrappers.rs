//! Commands that just run another command (`sudo`, `env`, `nohup`, `timeout` …), with
//! the options of each that take a value: the one table of them.
//!
//! The safety checker peels them off so its rules see the real command (a wrapper must
//! never make a dangerous command look safe); everything else uses them to name the
//! program a command runs.

use super::parse::is_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrap {
    /// Not a wrapper.
    Not,
    /// The wrapped command starts at this index; `elevated` when it now runs as root.
    Into { next: usize, elevated: bool },
    /// The wrapper runs this text as shell code (`env -S`, `flock -c`, `sg -c`).
    Code(String),
    /// A wrapper with nothing to run, optionally doing something worth a note.
    Done(Option<Note>),
}

/// What a wrapper does when it runs no command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// `sudo -e`.
    EditsAsRoot,
    /// `sudo -s`, `sudo -i`.
    RootShell,
}

fn into(next: usize, elevated: bool) -> Wrap {
    Wrap::Into { next, elevated }
}

/// What the wrapper `name` at `args[i]` runs; `name` is the program name the caller
/// read from `args[i]` (`/usr/bin/sudo` is `sudo`).
pub fn unwrap<T: AsRef<str>>(name: &str, args: &[T], i: usize) -> Wrap {
    if args.get(i).is_none() {
        return Wrap::Done(None);
    }
    let at = i + 1;
    match name {
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
                .take_while(|a| a.as_ref().starts_with('-'))
                .any(|a| a.as_ref().contains('v') || a.as_ref().contains('V'));
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
                Some(a) if matches!(a.as_ref(), "-c" | "--command") => code_from(args, file + 2),
                _ => into(file + 1, false),
            }
        }
        "sg" => match args.get(at + 1) {
            Some(a) if a.as_ref() == "-c" => code_from(args, at + 2),
            _ => code_from(args, at + 1),
        },
        _ => Wrap::Not,
    }
}

fn has_flag<T: AsRef<str>>(args: &[T], from: usize, c: char) -> bool {
    args.get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|a| a.as_ref().starts_with('-') && !a.as_ref().starts_with("--"))
        .any(|a| a.as_ref().contains(c))
}

/// The words from `from` on, joined by blanks: the code a wrapper hands to a shell.
pub fn join<T: AsRef<str>>(args: &[T], from: usize) -> String {
    let parts: Vec<&str> = args
        .get(from..)
        .unwrap_or_default()
        .iter()
        .map(|a| a.as_ref())
        .collect();
    parts.join(" ")
}

fn code_from<T: AsRef<str>>(args: &[T], from: usize) -> Wrap {
    if args.get(from).is_none() {
        return Wrap::Done(None);
    }
    Wrap::Code(join(args, from))
}

fn sudo<T: AsRef<str>>(args: &[T], at: usize) -> Wrap {
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
            let t = a.as_ref();
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
        return Wrap::Done(Some(Note::EditsAsRoot));
    }
    if args.get(next).is_some() {
        return into(next, true);
    }
    if has('s', "--shell") || has('i', "--login") {
        return Wrap::Done(Some(Note::RootShell));
    }
    Wrap::Done(None)
}

fn env<T: AsRef<str>>(args: &[T], at: usize) -> Wrap {
    let mut i = at;
    while let Some(arg) = args.get(i) {
        let t = arg.as_ref();
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

/// Whether `name` is a program that runs another command.
pub fn is_wrapper(name: &str) -> bool {
    unwrap(name, &[name], 0) != Wrap::Not
}

/// Index of the first argument after `start` that is not an option, skipping the
/// values of options that take one (`value_shorts` letters, `value_longs` names).
pub fn skip_options<T: AsRef<str>>(
    args: &[T],
    start: usize,
    value_shorts: &str,
    value_longs: &[&str],
) -> usize {
    let mut i = start;
    while let Some(arg) = args.get(i) {
        let t = arg.as_ref();
        if t == "--" {
            return i + 1;
        }
        if t == "-" || !t.starts_with('-') {
            return i;
        }
        i += 1;
        if let Some(long) = t.strip_prefix("--") {
            if !long.contains('=') && value_longs.contains(&long) {
                i += 1;
            }
            continue;
        }
        let cluster = t.get(1..).unwrap_or_default();
        for (pos, c) in cluster.char_indices() {
            if value_shorts.contains(c) {
                if cluster
                    .get(pos + c.len_utf8()..)
                    .unwrap_or_default()
                    .is_empty()
                {
                    i += 1;
                }
                break;
            }
        }
    }
    i
}
