//! Processes, power, scheduled jobs and shell history.

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::args::Arg;
use crate::safety::engine::{Engine, Inv};
use crate::safety::opts::Opts;

pub(crate) fn kill(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let mut signal_given = false;
    let mut ended = false;
    let mut pids: Vec<&Arg<'_>> = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let t = arg.text.as_str();
        i += 1;
        if ended {
            pids.push(arg);
            continue;
        }
        match t {
            "--" => ended = true,
            "-l" | "-L" | "--list" | "--table" => return,
            "-s" | "-n" | "--signal" => {
                if args.get(i).is_some_and(|s| s.is("0")) {
                    return;
                }
                signal_given = true;
                i += 1;
            }
            // The first dash-word is the signal; after it, `-1` is a process id.
            _ if t.len() > 1 && t.starts_with('-') && !signal_given => {
                if t == "-0" {
                    return;
                }
                signal_given = true;
            }
            _ => pids.push(arg),
        }
    }
    for pid in &pids {
        match pid.text.as_str() {
            "-1" => eng.note(
                Dangerous,
                "kills every process it can reach, logging you out or worse",
            ),
            "1" => eng.note(
                Dangerous,
                "kills init (PID 1), which brings the system down",
            ),
            "0" => eng.note(Caution, "kills every process in this process group"),
            _ => {}
        }
    }
    let why = match pids.first() {
        Some(pid) => format!("kills process {}", pid.shown()),
        None => "kills processes".into(),
    };
    eng.note(Caution, why);
}

pub(crate) fn pkill(eng: &mut Engine, inv: &Inv<'_, '_>) {
    if inv.name() == "killall5" {
        eng.note(Dangerous, "signals every process on the system");
        return;
    }
    let opts = Opts::parse(
        inv.rest(),
        "gGPsStuUFo",
        &["signal", "user", "group", "parent", "session"],
    );
    for pattern in &opts.operands {
        if matches!(pattern.text.as_str(), "." | ".*" | "" | "^" | "$") {
            eng.note(
                Dangerous,
                "kills every process (the pattern matches all of them)",
            );
        }
    }
    let target = opts.operands.first().map_or_else(
        || "processes".to_string(),
        |p| format!("processes matching {}", p.shown()),
    );
    eng.note(Caution, format!("kills {target}"));
}

pub(crate) fn power(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let cancels = args.iter().any(|a| a.is("-c") || a.is("--help"));
    let runlevel_change =
        !matches!(inv.name(), "init" | "telinit") || args.iter().any(|a| a.is("0") || a.is("6"));
    if !cancels && runlevel_change {
        eng.note(Caution, "shuts down or reboots the machine");
    }
}

pub(crate) fn crontab(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "uc", &[]);
    if opts.short('r') {
        if opts.short('i') {
            eng.note(Caution, "deletes all your cron jobs (after asking)");
        } else {
            eng.note(Dangerous, "deletes all your cron jobs without asking");
        }
    } else if opts.short('e') {
        eng.note(Caution, "edits your cron jobs");
    } else if !opts.operands.is_empty() || (inv.piped() && !opts.short('l')) {
        eng.note(Caution, "replaces your whole crontab");
    }
}

pub(crate) fn history(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "d", &[]);
    if opts.short('c') {
        eng.note(Dangerous, "wipes your shell history");
    } else if opts.short('d') {
        eng.note(Caution, "deletes history entries");
    }
}

/// Variables that stop or erase shell history when set (`HISTSIZE=0`).
pub(crate) fn history_var(eng: &mut Engine, name: &str, value: &str) {
    let stops = match name {
        "HISTSIZE" | "HISTFILESIZE" | "SAVEHIST" => value.trim() == "0",
        "HISTFILE" => value.is_empty() || value == "/dev/null",
        _ => false,
    };
    if stops {
        eng.note(Caution, "stops your shell from saving history");
    }
}

pub(crate) fn set(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let off = args
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.is("+o") && b.is("history")));
    if off {
        eng.note(Caution, "turns off shell history");
    }
}
