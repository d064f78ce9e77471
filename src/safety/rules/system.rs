//! Processes, power, mounts, scheduled jobs, logs and shell history.
//!
//! Implements D7 (the whole machine: every process, every mount, a forced reboot) and
//! D4 (the journal vacuumed away) of docs/safety.md, else C3 (one process, a clean
//! reboot, one job).

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::args::Arg;
use crate::safety::engine::{Engine, Inv};
use crate::safety::opts::Opts;
use crate::syntax::{Command, Part, Word};

/// A reboot or power-off that skips shutting services down and syncing disks.
pub(crate) const FORCED_POWER: &str =
    "forces an immediate reboot or power-off, losing unsaved work on the whole machine";

/// Implements D7 (`kill -1`, PID 1), S4 (processes named by id), else C3.
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
        if let Some(whose) = pid.word.and_then(listed_processes) {
            eng.note(Dangerous, format!("kills every process {whose}"));
        }
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
    // S4: processes named by their ids (or shell jobs) are the ones the user means.
    let named = !pids.is_empty()
        && pids.iter().all(|p| {
            let t = p.text.as_str();
            let id = t.strip_prefix('%').unwrap_or(t);
            !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) && !matches!(t, "0" | "1")
        });
    if named {
        return;
    }
    let why = match pids.first() {
        Some(pid) => format!("kills process {}", pid.shown()),
        None => "kills processes".into(),
    };
    eng.note(Caution, why);
}

/// `kill $(ps -u alice -o pid=)`, `kill $(ps -e -o pid)`, `kill $(pgrep -u bob)`: the
/// substitution lists every process of a user or of the system, and nothing after the
/// listing (a `grep`, an `awk` pattern) narrows it. Returns whose processes they are.
fn listed_processes(word: &Word) -> Option<String> {
    word.parts.iter().find_map(|part| {
        let Part::Sub(script) = part else { return None };
        let [pipeline] = script.pipelines.as_slice() else {
            return None;
        };
        let mut stages = pipeline.stages.iter().map(|stage| match stage {
            Command::Simple(simple) => simple.words.iter().map(Word::literal).collect(),
            _ => None,
        });
        let first: Vec<String> = stages.next()??;
        // Stages that only reshape the list keep every process in it.
        let reshaping = stages.all(|words: Option<Vec<String>>| {
            words.is_some_and(|w| match w.first().map(String::as_str) {
                Some("tail" | "cut" | "tr" | "xargs") => true,
                Some("awk") => !w.iter().skip(1).any(|a| a.contains(['/', '='])),
                _ => false,
            })
        });
        if !reshaping {
            return None;
        }
        let program = first.first()?.as_str();
        let rest: Vec<&str> = first.iter().skip(1).map(String::as_str).collect();
        let user = rest
            .windows(2)
            .find(|w| matches!(w[0], "-u" | "-U" | "--user"))
            .map(|w| w[1].to_string());
        match program {
            "ps" if rest
                .iter()
                .any(|a| matches!(*a, "-C" | "-p" | "--pid" | "-q")) =>
            {
                None
            }
            "ps" if user.is_some() => user.map(|u| format!("of user {u}")),
            "ps" if rest
                .iter()
                .any(|a| matches!(*a, "-e" | "-A" | "aux" | "ax" | "-ax" | "-aux" | "-ef")) =>
            {
                Some("on the system".into())
            }
            "pgrep"
                if rest
                    .iter()
                    .all(|a| a.starts_with('-') || Some(a.to_string()) == user) =>
            {
                user.map(|u| format!("of user {u}"))
            }
            _ => None,
        }
    })
}

/// Implements D7 (every process, or every process of a user), else C3.
pub(crate) fn pkill(eng: &mut Engine, inv: &Inv<'_, '_>) {
    // `killall -l` lists signal names (pkill's `-l` lists while killing).
    if inv.name() == "killall" && inv.rest().iter().any(|a| a.is("-l") || a.is("--list")) {
        return;
    }
    if inv.name() == "killall5" {
        eng.note(Dangerous, "signals every process on the system");
        return;
    }
    let opts = Opts::parse(
        inv.rest(),
        "gGPsStuUFo",
        &["signal", "user", "group", "parent", "session"],
    );
    // `pkill -u bob` with no pattern matches every process bob owns.
    let user = opts
        .value("u")
        .or_else(|| opts.value("U"))
        .or_else(|| opts.value("user"));
    if let Some(user) = user.filter(|_| opts.operands.is_empty()) {
        // `$USER` and `$(whoami)` render as "user": that is you.
        let whose = if user == "user" {
            "you own, logging you out".to_string()
        } else {
            format!("of user {user}, logging them out")
        };
        eng.note(Dangerous, format!("kills every process {whose}"));
    }
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

/// Implements D7 (a forced reboot), else C3 (a clean one).
pub(crate) fn power(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let cancels = args.iter().any(|a| a.is("-c") || a.is("--help"));
    let opts = Opts::parse(args, "", &[]);
    if !cancels && inv.name() != "shutdown" && opts.flag('f', "force") {
        eng.note(Dangerous, FORCED_POWER);
        return;
    }
    let runlevel_change =
        !matches!(inv.name(), "init" | "telinit") || args.iter().any(|a| a.is("0") || a.is("6"));
    if !cancels && runlevel_change {
        eng.note(Caution, "shuts down or reboots the machine");
    }
}

/// `umount -a` or a forced unmount of `/`: implements D7; S4 (one mount, plainly), else C3.
pub(crate) fn umount(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "tOoN", &["types", "test-opts", "options"]);
    if opts.flag('a', "all") {
        let how = if opts.flag('f', "force") {
            "forcibly "
        } else {
            ""
        };
        eng.note(
            Dangerous,
            format!("{how}unmounts every filesystem, breaking everything still using them"),
        );
        return;
    }
    let forced = opts.flag('f', "force") || opts.flag('l', "lazy");
    for target in &opts.operands {
        if forced && eng.classify(target).abs.as_deref() == Some("/") {
            eng.note(
                Dangerous,
                "unmounts the root filesystem out from under the system",
            );
        }
    }
    // S4: a plain umount of one mount refuses while it is in use and loses nothing.
    if inv.name() == "umount" && !forced && opts.operands.len() == 1 {
        let info = eng.classify(opts.operands[0]);
        if info.abs.as_deref() != Some("/") {
            return;
        }
    }
    eng.note(Caution, "mounts or unmounts a filesystem");
}

/// `journalctl --vacuum-*` deletes archived journal files; vacuumed down to nothing it
/// erases the system's log history. Implements D4, else C1 (old logs deleted).
pub(crate) fn journalctl(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(
        inv.rest(),
        "uDnop",
        &[
            "vacuum-time",
            "vacuum-size",
            "vacuum-files",
            "unit",
            "since",
            "until",
        ],
    );
    let time = opts.value("vacuum-time");
    let size = opts.value("vacuum-size");
    let files = opts.value("vacuum-files");
    if time.is_none() && size.is_none() && files.is_none() {
        return;
    }
    let everything = time.as_deref().is_some_and(|t| seconds(t) < 86_400)
        || size.as_deref().is_some_and(|s| bytes(s) < 16 << 20)
        || files
            .as_deref()
            .is_some_and(|f| f.trim() == "0" || f.trim() == "1");
    if everything {
        eng.note(
            Dangerous,
            "deletes nearly all of the system journal (every past log)",
        );
    } else {
        eng.note(Caution, "deletes old journal files");
    }
}

/// `2weeks`, `1d`, `10s`, `1h` in seconds; unknown units count as days.
fn seconds(text: &str) -> u64 {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().unwrap_or(0);
    let unit = text.get(digits.len()..).unwrap_or_default().trim();
    let scale = match unit {
        "" | "s" | "sec" | "second" | "seconds" | "us" | "ms" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "w" | "week" | "weeks" => 604_800,
        "M" | "month" | "months" => 2_592_000,
        "y" | "year" | "years" => 31_536_000,
        _ => 86_400,
    };
    n.saturating_mul(scale)
}

/// `500M`, `1K`, `2G` in bytes.
fn bytes(text: &str) -> u64 {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().unwrap_or(0);
    let scale: u64 = match text.get(digits.len()..).unwrap_or_default().trim() {
        "K" | "k" => 1 << 10,
        "M" | "m" => 1 << 20,
        "G" | "g" => 1 << 30,
        "T" | "t" => 1 << 40,
        _ => 1,
    };
    n.saturating_mul(scale)
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
