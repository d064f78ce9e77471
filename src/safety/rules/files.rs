//! Commands that delete, move, overwrite or re-permission files.

use crate::safety::Level::{self, Caution, Dangerous};
use crate::safety::args::{Arg, command_name};
use crate::safety::engine::{Engine, Inv};
use crate::safety::exec;
use crate::safety::opts::Opts;
use crate::safety::paths::{Class, PathInfo, Scope};

/// Severity of deleting `info`; shared by `rm`, `find -delete` and friends.
///
/// Implements D1 (system, home or `/` deleted), D2 (credentials destroyed), D4 (all
/// logs destroyed), C1 (a project's files deleted) and S1 (what is rebuilt or thrown
/// away by design) of docs/safety.md.
pub(crate) fn delete_judgement(info: &PathInfo, recursive: bool) -> (Level, String) {
    let wide = recursive || info.glob;
    let what = info.describe();
    if info.disposable {
        // S1: build output, caches, litter, scratch files, a project's own logs.
        return (Level::Safe, format!("deletes {what}"));
    }
    let (level, reason) = match info.scope {
        Scope::Root if info.about.is_none() => {
            (Dangerous, "deletes the entire filesystem".to_string())
        }
        Scope::Root => (Dangerous, format!("deletes {what}")),
        Scope::Home if info.about.is_some() => (Dangerous, format!("deletes {what}")),
        Scope::Home if info.glob => (
            Dangerous,
            "deletes everything in your home directory".into(),
        ),
        Scope::Home if wide => (Dangerous, "deletes your home directory recursively".into()),
        Scope::UsersHome | Scope::SystemDir | Scope::TopLevel | Scope::Device if wide => {
            (Dangerous, format!("deletes {what}"))
        }
        Scope::Home | Scope::UsersHome | Scope::SystemDir | Scope::TopLevel | Scope::Device => (
            Caution,
            format!("tries to delete {what} (fails without -r)"),
        ),
        Scope::SystemFile | Scope::Credentials | Scope::Logs | Scope::KernelMemory => {
            (Dangerous, format!("deletes {what}"))
        }
        Scope::History => (Dangerous, "deletes your shell history".into()),
        Scope::ParentEscape if recursive => (Dangerous, format!("deletes {what}")),
        Scope::Everything if recursive => (
            Dangerous,
            "deletes everything in the current directory".into(),
        ),
        Scope::Everything if info.about.is_some() => (Caution, format!("deletes {what}")),
        Scope::Everything => (
            Caution,
            "deletes every file in the current directory".into(),
        ),
        Scope::Git => (Caution, "deletes the repository's git history".into()),
        Scope::Sink | Scope::ParentEscape | Scope::Variable | Scope::Ordinary => {
            (Caution, format!("deletes {what}"))
        }
    };
    let reason = if level == Dangerous {
        info.qualify(reason)
    } else {
        reason
    };
    (level, reason)
}

/// Severity of writing to `info` (redirections, `tee`); None when harmless.
///
/// Implements D1 (system files overwritten), D2 (credentials overwritten), D4 (logs
/// wiped), D6 (raw devices and kernel interfaces written), C2 (one file overwritten) and
/// S1 (a disposable file emptied).
pub(crate) fn write_target(info: &PathInfo, append: bool) -> Option<(Level, String)> {
    let shown = &info.shown;
    let found = match info.scope {
        Scope::Sink => return None,
        Scope::KernelMemory => (
            Dangerous,
            format!(
                "writes into {}, which can crash the machine",
                info.describe()
            ),
        ),
        Scope::Credentials if append => (Caution, format!("appends to {}", info.describe())),
        Scope::Credentials => (
            Dangerous,
            info.qualify(format!("overwrites {}", info.describe())),
        ),
        Scope::Logs if append => return None,
        Scope::Logs => (
            Dangerous,
            info.qualify(format!("wipes {}", info.describe())),
        ),
        Scope::Device if info.is_abs("/proc/sysrq-trigger") => (
            Dangerous,
            "writes to /proc/sysrq-trigger, which can crash or reboot the machine".to_string(),
        ),
        Scope::Device => (
            Dangerous,
            info.qualify(format!(
                "writes raw data over {shown}, destroying what is on it"
            )),
        ),
        Scope::History if append => (Caution, "writes into your shell history".into()),
        Scope::History => (Dangerous, "wipes your shell history".into()),
        Scope::SystemFile if info.is_dropin() => (Caution, format!("writes config file {shown}")),
        Scope::SystemFile if append => (Caution, format!("appends to system file {shown}")),
        Scope::SystemFile => (
            Dangerous,
            info.qualify(format!("overwrites system file {shown}")),
        ),
        Scope::Root | Scope::Home | Scope::UsersHome | Scope::SystemDir | Scope::TopLevel => {
            (Caution, format!("writes to {shown}"))
        }
        Scope::Variable if info.routine_place() => return None,
        Scope::Variable => (Caution, format!("writes to {}", info.describe())),
        // S2: writing a file of the project you are in.
        Scope::Everything | Scope::Ordinary if info.routine_place() => return None,
        Scope::Everything | Scope::Ordinary | Scope::Git | Scope::ParentEscape => {
            if append {
                return None;
            }
            (Caution, format!("overwrites {shown}"))
        }
    };
    Some(found)
}

/// Implements D1, D2 and D4 through [`delete_judgement`].
pub(crate) fn rm(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "", &[]);
    let recursive =
        opts.short('r') || opts.short('R') || opts.long("recursive") || inv.ctx.recursive_hint;
    if opts.operands.is_empty() {
        let why = if inv.ctx.stdin_operands {
            "deletes the files it is given on input"
        } else {
            "deletes files"
        };
        eng.note(Caution, why);
        return;
    }
    for operand in &opts.operands {
        let info = eng.classify(operand);
        let (level, why) = delete_judgement(&info, recursive);
        eng.note(level, why);
    }
    if opts.long("no-preserve-root") {
        eng.note(
            Dangerous,
            "turns off rm's protection for / (--no-preserve-root)",
        );
    }
}

/// Implements D1, D2, D4 and D6 (system files, credentials, logs or disks destroyed).
pub(crate) fn shred(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "ns", &["iterations", "size", "random-source"]);
    for operand in opts.operands {
        let info = eng.classify(operand);
        let what = info.describe();
        match info.scope {
            Scope::Sink => {}
            Scope::Device => eng.note(
                Dangerous,
                info.qualify(format!(
                    "overwrites {what} with random data, destroying the disk"
                )),
            ),
            Scope::History => eng.note(Dangerous, "destroys your shell history"),
            Scope::Credentials | Scope::Logs => {
                eng.note(Dangerous, info.qualify(format!("destroys {what}")))
            }
            Scope::Root
            | Scope::Home
            | Scope::UsersHome
            | Scope::SystemDir
            | Scope::SystemFile
            | Scope::TopLevel => eng.note(Dangerous, info.qualify(format!("destroys {what}"))),
            _ => eng.note(Caution, format!("irrecoverably erases {what}")),
        }
    }
    eng.note(Caution, "irrecoverably erases files");
}

/// Splits `mv`/`cp`-style operands into sources and destination.
fn sources_and_dest<'s, 'w>(opts: &Opts<'s, 'w>) -> (Vec<&'s Arg<'w>>, Option<Arg<'w>>) {
    if let Some(dir) = opts.value("t").or_else(|| opts.value("target-directory")) {
        return (opts.operands.clone(), Some(Arg::synthetic(dir)));
    }
    match opts.operands.split_last() {
        Some((last, rest)) if !rest.is_empty() => (rest.to_vec(), Some((*last).clone())),
        _ => (opts.operands.clone(), None),
    }
}

/// Implements D1 (system or home moved away), C2 (files moved into a system or home
/// directory) and S2 (files moved within the project).
pub(crate) fn mv(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "tS", &["target-directory", "suffix"]);
    let (sources, dest) = sources_and_dest(&opts);
    let dest_info = dest.as_ref().map(|d| eng.classify(d));
    let into_sink = dest_info.as_ref().is_some_and(|d| d.scope == Scope::Sink);
    for source in sources {
        let info = eng.classify(source);
        let what = info.describe();
        match info.scope {
            Scope::Root
            | Scope::Home
            | Scope::UsersHome
            | Scope::SystemDir
            | Scope::TopLevel
            | Scope::ParentEscape => {
                eng.note(Dangerous, info.qualify(format!("moves {what} away")))
            }
            Scope::SystemFile if info.is_vital() => eng.note(
                Dangerous,
                format!("moves {} away, which can lock everyone out", info.shown),
            ),
            Scope::History if into_sink => eng.note(Dangerous, "wipes your shell history"),
            Scope::History => eng.note(Caution, "moves your shell history away"),
            Scope::Credentials => eng.note(Caution, format!("moves {what} away")),
            _ => {}
        }
    }
    if let Some(info) = dest_info {
        match info.scope {
            Scope::Device => eng.note(Dangerous, format!("replaces device {}", info.shown)),
            Scope::Sink if inv.ctx.sudo => eng.note(
                Dangerous,
                format!(
                    "replaces {} with a regular file, breaking the system",
                    info.shown
                ),
            ),
            Scope::Sink => eng.note(Caution, format!("throws files away into {}", info.shown)),
            Scope::SystemFile if info.is_vital() => {
                eng.note(Dangerous, format!("replaces {}", info.shown));
            }
            Scope::History => eng.note(Dangerous, "overwrites your shell history"),
            _ => {}
        }
        if !routine_destination(&info) {
            eng.note(Caution, format!("moves files into {}", info.describe()));
        }
    } else {
        eng.note(Caution, "moves or renames files");
    }
}

/// S2: a destination inside the project or a scratch directory (or a git
/// directory's files, which git manages).
fn routine_destination(info: &PathInfo) -> bool {
    info.routine_place() || info.scope == Scope::Git
}

/// Implements D1 (vital files replaced), D2 and D4 (keys or logs overwritten), D6
/// (disks overwritten), C2 and S2 (copies within the project).
pub(crate) fn cp(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "tSmgo", &["target-directory", "suffix", "mode"]);
    let (_, dest) = sources_and_dest(&opts);
    let Some(dest) = dest else {
        eng.note(Caution, "copies files, replacing any existing copies");
        return;
    };
    {
        let info = eng.classify(&dest);
        if !routine_destination(&info) {
            eng.note(
                Caution,
                format!(
                    "copies files into {}, replacing any existing copies",
                    info.describe()
                ),
            );
        }
        match info.scope {
            Scope::Device => eng.note(
                Dangerous,
                format!("writes over {}, destroying what is on it", info.shown),
            ),
            Scope::SystemFile if info.is_vital() => {
                eng.note(Dangerous, format!("replaces {}", info.shown));
            }
            Scope::History => eng.note(Dangerous, "overwrites your shell history"),
            Scope::Credentials | Scope::Logs => eng.note(
                Dangerous,
                info.qualify(format!("overwrites {}", info.describe())),
            ),
            // A stand-in for every file `find` matched under a system or home directory.
            _ if info.about.is_some() && matches!(info.class(), Class::System | Class::Home) => {
                eng.note(Dangerous, format!("overwrites {}", info.describe()));
            }
            Scope::SystemFile if !info.is_dropin() => {
                eng.note(Caution, format!("overwrites system file {}", info.shown));
            }
            _ => {}
        }
    }
}

/// Implements D1 (a system or home directory mirrored away), C2 and S2.
pub(crate) fn rsync(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(
        inv.rest(),
        "efT",
        &["rsh", "filter", "exclude", "include", "temp-dir"],
    );
    let deletes = opts.longs_starting("delete") || opts.long("remove-source-files");
    let dest = opts.operands.last().filter(|_| opts.operands.len() >= 2);
    if let (true, Some(dest)) = (deletes, dest) {
        let info = eng.classify(dest);
        if matches!(
            info.scope,
            Scope::Root
                | Scope::Home
                | Scope::UsersHome
                | Scope::SystemDir
                | Scope::SystemFile
                | Scope::TopLevel
                | Scope::ParentEscape
        ) {
            eng.note(
                Dangerous,
                format!(
                    "makes {} mirror the source, deleting everything else in it",
                    info.describe()
                ),
            );
        }
        eng.note(Caution, "syncs files and deletes extras at the destination");
    }
    // A remote destination (host:path) is the other machine's business.
    let routine =
        dest.is_some_and(|d| d.text.contains(':') || routine_destination(&eng.classify(d)));
    if !routine {
        eng.note(Caution, "copies files, replacing any existing copies");
    }
}

/// Implements D1 (vital files replaced by links) and C2.
pub(crate) fn ln(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "tS", &["target-directory", "suffix"]);
    let force = opts.flag('f', "force");
    let (_, dest) = sources_and_dest(&opts);
    if let Some(dest) = dest {
        let info = eng.classify(&dest);
        match info.scope {
            Scope::History => eng.note(Dangerous, "replaces your shell history with a link"),
            Scope::SystemFile if info.is_vital() => {
                eng.note(Dangerous, format!("replaces {} with a link", info.shown));
            }
            _ if force => eng.note(Caution, format!("replaces {} with a link", info.shown)),
            _ => {}
        }
    }
}

/// Mode grants write access to everyone (777, 666, o+w, a+w, +w).
fn world_writable(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_digit(8)) {
        let last = mode.chars().last().and_then(|c| c.to_digit(8)).unwrap_or(0);
        // The sticky bit (1777 on /tmp) keeps shared directories safe.
        let sticky = mode.len() == 4
            && mode.chars().next().and_then(|c| c.to_digit(8)).unwrap_or(0) & 1 == 1;
        return last & 2 != 0 && !sticky;
    }
    mode.split(',').any(|clause| {
        let who: String = clause.chars().take_while(|c| "ugoa".contains(*c)).collect();
        let rest = clause.get(who.len()..).unwrap_or_default();
        (who.is_empty() || who.contains(['a', 'o']))
            && rest.starts_with(['+', '='])
            && rest.contains('w')
    })
}

/// Mode lets the group or others read or write (644, 755, go+r, o+rw, a+r).
fn exposes(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_digit(8)) {
        let digits: Vec<u32> = mode.chars().filter_map(|c| c.to_digit(8)).collect();
        let tail = digits
            .get(digits.len().saturating_sub(2)..)
            .unwrap_or_default();
        return digits.len() >= 3 && tail.iter().any(|d| d & 6 != 0);
    }
    mode.split(',').any(|clause| {
        let who: String = clause.chars().take_while(|c| "ugoa".contains(*c)).collect();
        let rest = clause.get(who.len()..).unwrap_or_default();
        (who.is_empty() || who.contains(['a', 'o', 'g']))
            && rest.starts_with(['+', '='])
            && rest.contains(['r', 'w'])
    })
}

/// Credential directories themselves: listing one exposes no key.
fn is_credential_dir(info: &PathInfo) -> bool {
    let shown = info.shown.trim_end_matches('/');
    [
        "~/.ssh",
        "~/.gnupg",
        "~/.aws",
        "~/.azure",
        "~/.kube",
        "~/.config/gcloud",
        "~/.password-store",
    ]
    .contains(&shown)
}

/// Mode sets the set-user-ID bit.
fn setuid(mode: &str) -> bool {
    if mode.len() == 4 && mode.chars().all(|c| c.is_digit(8)) {
        return mode.chars().next().and_then(|c| c.to_digit(8)).unwrap_or(0) & 4 != 0;
    }
    mode.contains("+s") && !mode.starts_with('g') && !mode.starts_with('o')
}

/// Implements D1 (permissions of a system tree changed), D2 (keys exposed) and D5
/// (home or system directories made world-writable), S3 (ordinary modes on a file,
/// keys made private), else C2.
pub(crate) fn chmod(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let mut recursive = false;
    let mut mode: Option<&str> = None;
    let mut reference = false;
    let mut ended = false;
    let mut targets = Vec::new();
    for arg in inv.rest() {
        let t = arg.text.as_str();
        if !ended && t == "--" {
            ended = true;
        } else if !ended && t.starts_with("--") {
            recursive |= t == "--recursive";
            reference |= t.starts_with("--reference");
        } else if !ended
            && t.len() > 1
            && t.starts_with('-')
            && t.chars().skip(1).all(|c| "RcfvHLP".contains(c))
        {
            recursive |= t.contains('R');
        } else if mode.is_none() && !reference {
            mode = Some(t);
        } else {
            targets.push(arg);
        }
    }
    let mode = mode.unwrap_or_default();
    let open = world_writable(mode);
    for target in targets {
        let info = eng.classify(target);
        let what = info.describe();
        if setuid(mode) && exec::is_shell(command_name(&target.text)) {
            eng.note(
                Dangerous,
                format!("makes {} setuid, handing out a root shell", info.shown),
            );
        }
        let system = matches!(
            info.scope,
            Scope::Root
                | Scope::UsersHome
                | Scope::SystemDir
                | Scope::SystemFile
                | Scope::TopLevel
                | Scope::ParentEscape
                | Scope::Device
        );
        let key_exposed = info.scope == Scope::Credentials
            && (open || (exposes(mode) && (recursive || !is_credential_dir(&info))));
        if key_exposed {
            eng.note(
                Dangerous,
                format!("makes {what} readable or writable by others"),
            );
        } else if info.scope == Scope::Root
            || (recursive && (system || (info.scope == Scope::Home && open)))
        {
            let how = if recursive { " recursively" } else { "" };
            eng.note(
                Dangerous,
                info.qualify(format!("changes permissions on {what}{how}")),
            );
        } else if open && (system || matches!(info.scope, Scope::Home | Scope::Logs)) {
            eng.note(Dangerous, format!("makes {what} writable by everyone"));
        } else if open {
            eng.note(Caution, format!("makes {what} writable by everyone"));
        } else if recursive || !routine_mode_change(&info, mode) {
            eng.note(Caution, format!("changes permissions of {what}"));
        }
    }
    if mode.is_empty() {
        eng.note(Caution, "changes file permissions");
    }
}

/// S3: a file of the project made executable or given ordinary permissions, or keys
/// made private; nothing is exposed and it is undone by another chmod.
fn routine_mode_change(info: &PathInfo, mode: &str) -> bool {
    match info.scope {
        Scope::Ordinary | Scope::Variable => info.routine_place(),
        Scope::Credentials => !exposes(mode),
        _ => false,
    }
}

/// Implements D1 (ownership of a system tree changed), S3 (the project's files), else C2.
pub(crate) fn chown(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "", &[]);
    let recursive = opts.flag('R', "recursive");
    let has_reference = opts.longs_starting("reference");
    let targets = opts.operands.iter().skip(if has_reference { 0 } else { 1 });
    for target in targets {
        let info = eng.classify(target);
        let what = info.describe();
        let system = matches!(
            info.scope,
            Scope::UsersHome
                | Scope::SystemDir
                | Scope::SystemFile
                | Scope::TopLevel
                | Scope::ParentEscape
                | Scope::Device
        );
        if info.scope == Scope::Root || (recursive && system) {
            let how = if recursive { " recursively" } else { "" };
            eng.note(
                Dangerous,
                info.qualify(format!("changes the owner of {what}{how}")),
            );
        } else if !info.routine_place() {
            // S3: the project's files given an owner lose nothing.
            eng.note(Caution, format!("changes the owner of {what}"));
        }
    }
    if opts.operands.len() < 2 {
        eng.note(Caution, "changes file ownership");
    }
}

/// Implements D1 (system or home files emptied), D2, D4 (logs emptied), C2 and S1.
pub(crate) fn truncate(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "sr", &["size", "reference"]);
    let size = opts
        .value("s")
        .or_else(|| opts.value("size"))
        .unwrap_or_default();
    let digits: String = size
        .trim_start_matches(['-', '<', '/', '%'])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let shrinks = size.starts_with(['-', '<', '/'])
        || (!digits.is_empty() && digits.chars().all(|c| c == '0'));
    for operand in opts.operands {
        let info = eng.classify(operand);
        match info.scope {
            Scope::Sink => {}
            Scope::History => eng.note(Dangerous, "wipes your shell history"),
            Scope::SystemFile | Scope::Device | Scope::Credentials | Scope::Logs if shrinks => {
                eng.note(
                    Dangerous,
                    info.qualify(format!("empties {}", info.describe())),
                );
            }
            Scope::Root | Scope::Home | Scope::UsersHome | Scope::SystemDir | Scope::TopLevel
                if shrinks && info.many() =>
            {
                eng.note(
                    Dangerous,
                    info.qualify(format!("empties {}", info.describe())),
                );
            }
            // S1 and S2: a disposable file, or a file of the project, resized.
            _ if info.disposable || info.routine_place() => {}
            _ => eng.note(Caution, format!("truncates {}", info.shown)),
        }
    }
}

/// Implements D1, D2, D4, D5 and D6 through [`write_target`] and
/// [`super::security::weakens`].
pub(crate) fn tee(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "", &["output-error"]);
    let append = opts.flag('a', "append");
    let text = inv.input.up.echo.clone().or_else(|| inv.input.text.clone());
    for operand in opts.operands {
        let info = eng.classify(operand);
        if let Some(text) = &text {
            super::security::written(eng, &info, text);
        }
        if let Some((level, why)) = write_target(&info, append) {
            eng.note(level, why);
        }
    }
}

/// Implements C2 (files replaced by an archive's copies in a system or home
/// directory) and S2 (extracted into the project or a scratch directory).
pub(crate) fn extract(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let extracts = match inv.name() {
        "tar" => args.iter().enumerate().any(|(i, a)| {
            let t = a.text.as_str();
            t == "--extract"
                || t == "--get"
                || ((i == 0 || t.starts_with('-')) && !t.starts_with("--") && t.contains('x'))
        }),
        "7z" => args.first().is_some_and(|a| a.is("x") || a.is("e")),
        _ => !args
            .iter()
            .any(|a| a.is("-l") || a.is("-v") || a.is("-t") || a.is("-Z")),
    };
    if !extracts {
        return;
    }
    // S2: extracting into the project or a scratch directory is routine; into a system
    // or home directory it can replace files that matter.
    let target = args
        .iter()
        .position(|a| a.is("-C") || a.is("--directory") || a.is("-d") || a.is("-o"))
        .and_then(|i| args.get(i + 1))
        .map(|a| eng.classify(a));
    match target {
        Some(info) if !routine_destination(&info) => eng.note(
            Caution,
            format!(
                "extracts files into {}, replacing any existing copies",
                info.describe()
            ),
        ),
        _ => {}
    }
}
