//! Commands that run another command over many paths: `xargs` and `find -exec`/`-delete`,
//! plus the listings (`echo`, `ls`, `find`) that feed them.

use super::args::Arg;
use super::engine::{Ctx, Engine, Input, Inv};
use super::paths::{Class, PathInfo, Scope, basename, is_junk, is_log_name};
use super::rules;

/// What `echo` / `printf` would print, close enough to re-parse as a script.
pub(crate) fn printed_text(name: &str, rest: &[Arg<'_>]) -> String {
    let mut words = rest.iter().map(|a| a.text.as_str()).peekable();
    if name == "echo" {
        while words.next_if(|w| is_echo_flag(w)).is_some() {}
        return words.collect::<Vec<_>>().join(" ");
    }
    let format = words.next().unwrap_or_default();
    let format = format
        .replace("\\n", "\n")
        .replace("%s", "")
        .replace("%b", "");
    let mut out = format;
    for w in words {
        out.push('\n');
        out.push_str(w);
    }
    out
}

fn is_echo_flag(w: &str) -> bool {
    w.len() > 1 && w.starts_with('-') && w.chars().skip(1).all(|c| "neE".contains(c))
}

/// Paths that `ls` or `find` print, as `xargs` would receive them; the flag says they
/// stand for whole trees. None when nothing is known of them.
pub(crate) fn listed_paths(
    eng: &Engine,
    name: &str,
    rest: &[Arg<'_>],
) -> Option<(Vec<Arg<'static>>, bool)> {
    match name {
        "find" => {
            let parsed = parse_find(rest);
            let items: Vec<Arg<'static>> = found_items(eng, &parsed)
                .into_iter()
                .filter(|(a, narrow)| !narrow || a.disposable)
                .map(|(a, _)| a.detached())
                .collect();
            (!items.is_empty()).then_some((items, !parsed.filtered))
        }
        "ls" => {
            // `ls DIR` prints the entries of DIR, not DIR itself.
            let operands: Vec<Arg<'static>> = rest
                .iter()
                .filter(|a| !a.text.starts_with('-'))
                .map(|a| {
                    let text = &a.text;
                    let glob = text.contains(['*', '?']);
                    let entries = if glob {
                        text.clone()
                    } else {
                        format!("{}/*", text.trim_end_matches('/'))
                    };
                    a.derived(&entries).detached()
                })
                .collect();
            let listed = if operands.is_empty() {
                vec![Arg::synthetic("*")]
            } else {
                operands
            };
            Some((listed, false))
        }
        _ => None,
    }
}

pub(crate) fn xargs(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let mut replace: Option<String> = None;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let t = arg.text.as_str();
        if t == "--" {
            i += 1;
            break;
        }
        if t.len() < 2 || !t.starts_with('-') {
            break;
        }
        i += 1;
        if let Some(long) = t.strip_prefix("--") {
            if let Some(r) = long.strip_prefix("replace=") {
                replace = Some(r.to_string());
            } else if long == "replace" {
                replace = Some("{}".into());
            } else if !long.contains('=')
                && matches!(
                    long,
                    "max-args"
                        | "max-lines"
                        | "max-procs"
                        | "delimiter"
                        | "arg-file"
                        | "eof"
                        | "max-chars"
                )
            {
                i += 1;
            }
            continue;
        }
        let cluster = t.get(1..).unwrap_or_default();
        for (pos, c) in cluster.char_indices() {
            let attached = cluster.get(pos + 1..).unwrap_or_default();
            if c == 'i' {
                replace = Some(if attached.is_empty() {
                    "{}".into()
                } else {
                    attached.into()
                });
                break;
            }
            if "ILnPsdEa".contains(c) {
                let value = if attached.is_empty() {
                    let value = args.get(i).map(|a| a.text.clone()).unwrap_or_default();
                    i += 1;
                    value
                } else {
                    attached.to_string()
                };
                if c == 'I' {
                    replace = Some(value);
                }
                break;
            }
        }
    }
    let command = args.get(i..).unwrap_or_default();
    if command.is_empty() {
        return;
    }
    let up = inv.input.up;
    let (items, recursive) = match (&up.items, &inv.input.text) {
        (Some((items, recursive)), _) => (Some(items.clone()), *recursive),
        (None, Some(text)) => (
            Some(text.split_whitespace().map(Arg::synthetic).collect()),
            false,
        ),
        (None, None) => (None, false),
    };
    let ctx = Ctx {
        sudo: inv.ctx.sudo,
        recursive_hint: recursive,
        stdin_operands: items.is_none(),
    };
    let items = items.unwrap_or_default();
    let mut runs: Vec<Vec<Arg<'_>>> = Vec::new();
    match &replace {
        Some(r) if !r.is_empty() => {
            let fill: Vec<Arg<'static>> = if items.is_empty() {
                vec![Arg::synthetic("items read from input")]
            } else {
                items.iter().take(16).cloned().collect()
            };
            for item in &fill {
                runs.push(command.iter().map(|a| substitute(a, r, item)).collect());
            }
        }
        _ => {
            let mut run: Vec<Arg<'_>> = command.to_vec();
            run.extend(items.iter().take(64).cloned());
            runs.push(run);
        }
    }
    for run in runs {
        eng.nested(|e| e.dispatch(&run, ctx, &Input::none()));
    }
}

/// `arg` with every `marker` (`{}`) replaced by `item`, which it then stands for. After
/// a directory (`~/{}`) the marker is an entry's name, so only the item's last
/// component goes in (`ls ~ | xargs -I{} rm -rf ~/{}` deletes `~/*`).
fn substitute<'w>(arg: &Arg<'w>, marker: &str, item: &Arg<'_>) -> Arg<'w> {
    if !arg.text.contains(marker) {
        return arg.clone();
    }
    let after_dir = arg.text.contains(&format!("/{marker}"));
    let fill = if after_dir {
        basename(&item.text)
    } else {
        item.text.as_str()
    };
    let mut out = arg.derived(&arg.text.replace(marker, fill));
    if item.about.is_some() {
        out.about.clone_from(&item.about);
        out.disposable = item.disposable;
    }
    out
}

struct FindExpr<'a, 'w> {
    starts: Vec<Arg<'w>>,
    filtered: bool,
    delete: bool,
    execs: Vec<&'a [Arg<'w>]>,
    /// `-name`/`-iname` patterns.
    names: Vec<String>,
    /// `-empty`: only empty files and directories.
    empty: bool,
    /// An age test that keeps only old files (`-mtime +30`).
    older: bool,
    /// The tests in words, for reasons ("older than 30 days").
    words: Vec<String>,
    /// `-type d` finds directories.
    dirs: bool,
}

fn parse_find<'a, 'w>(args: &'a [Arg<'w>]) -> FindExpr<'a, 'w> {
    const PLAIN: &[&str] = &[
        "-print",
        "-print0",
        "-ls",
        "-depth",
        "-xdev",
        "-mount",
        "-follow",
        "-noleaf",
        "-daystart",
        "-o",
        "-or",
        "-a",
        "-and",
        "-not",
        "!",
        "(",
        ")",
        ",",
        "-prune",
        "-quit",
        "-nowarn",
        "-warn",
        "-ignore_readdir_race",
        "-true",
        "-d",
    ];
    const PLAIN_WITH_ARG: &[&str] = &[
        "-type",
        "-xtype",
        "-maxdepth",
        "-mindepth",
        "-fprint",
        "-fprint0",
        "-fls",
        "-printf",
        "-regextype",
        "-files0-from",
    ];
    const TEST_WITH_ARG: &[&str] = &[
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-wholename",
        "-iwholename",
        "-regex",
        "-iregex",
        "-newer",
        "-anewer",
        "-cnewer",
        "-mtime",
        "-atime",
        "-ctime",
        "-mmin",
        "-amin",
        "-cmin",
        "-size",
        "-user",
        "-group",
        "-uid",
        "-gid",
        "-perm",
        "-links",
        "-inum",
        "-lname",
        "-ilname",
        "-samefile",
        "-used",
        "-fstype",
        "-context",
    ];
    let mut k = 0;
    while let Some(a) = args.get(k) {
        match a.text.as_str() {
            "-H" | "-L" | "-P" => k += 1,
            "-D" => k += 2,
            t if t.starts_with("-O") => k += 1,
            _ => break,
        }
    }
    let mut expr = FindExpr {
        starts: Vec::new(),
        filtered: false,
        delete: false,
        execs: Vec::new(),
        names: Vec::new(),
        empty: false,
        older: false,
        words: Vec::new(),
        dirs: false,
    };
    while let Some(a) = args.get(k) {
        if a.text.starts_with('-') || matches!(a.text.as_str(), "(" | "!" | ")" | ",") {
            break;
        }
        expr.starts.push(a.clone());
        k += 1;
    }
    if expr.starts.is_empty() {
        expr.starts.push(Arg::synthetic("."));
    }
    while let Some(a) = args.get(k) {
        let t = a.text.as_str();
        k += 1;
        match t {
            "-delete" => expr.delete = true,
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let start = k;
                while args.get(k).is_some_and(|b| !b.is(";") && !b.is("+")) {
                    k += 1;
                }
                expr.execs.push(args.get(start..k).unwrap_or_default());
                k += 1;
            }
            "-fprintf" => k += 2,
            // `-name '*'` matches everything, so it narrows nothing.
            "-name" | "-iname" | "-path" | "-wholename"
                if args.get(k).is_some_and(|p| p.is("*")) =>
            {
                k += 1
            }
            "-name" | "-iname" => {
                expr.filtered = true;
                if let Some(p) = args.get(k) {
                    expr.names.push(p.text.clone());
                }
                k += 1;
            }
            "-empty" => {
                expr.filtered = true;
                expr.empty = true;
                expr.words.push("that are empty".into());
            }
            "-type" => {
                expr.dirs |= args.get(k).is_some_and(|p| p.is("d"));
                k += 1;
            }
            "-mtime" | "-atime" | "-ctime" | "-mmin" | "-amin" | "-cmin" | "-size" | "-user" => {
                expr.filtered = true;
                let value = args.get(k).map(|a| a.text.as_str()).unwrap_or_default();
                expr.older |= t != "-size" && t != "-user" && value.starts_with('+');
                expr.words.push(test_words(t, value));
                k += 1;
            }
            _ if PLAIN.contains(&t) => {}
            _ if PLAIN_WITH_ARG.contains(&t) => k += 1,
            _ if t.starts_with('-') => {
                expr.filtered = true;
                if TEST_WITH_ARG.contains(&t) || t.starts_with("-newer") {
                    k += 1;
                }
            }
            _ => {}
        }
    }
    expr
}

/// `-mtime -2` as "modified in the last 2 days", `-size +100M` as "larger than 100M".
fn test_words(test: &str, value: &str) -> String {
    let amount = value.trim_start_matches(['+', '-']);
    let unit = if test.ends_with("min") {
        "minute"
    } else {
        "day"
    };
    let unit = if amount == "1" {
        unit.to_string()
    } else {
        format!("{unit}s")
    };
    let verb = match test.get(1..2) {
        Some("a") => "accessed",
        Some("c") => "changed",
        _ => "modified",
    };
    match (test, value.chars().next()) {
        ("-size", Some('+')) => format!("larger than {amount}"),
        ("-size", Some('-')) => format!("smaller than {amount}"),
        ("-size", _) => format!("of size {amount}"),
        ("-user", _) => format!("owned by {value}"),
        (_, Some('+')) => format!("older than {amount} {unit}"),
        (_, Some('-')) => format!("{verb} in the last {amount} {unit}"),
        _ => format!("{verb} {amount} {unit} ago"),
    }
}

/// Rotated or compressed logs (`*.gz`, `*.1`, `*.log.[0-9]`): old copies, not the logs
/// being written.
fn is_rotated(pattern: &str) -> bool {
    let ext = pattern.rsplit('.').next().unwrap_or_default();
    matches!(
        ext,
        "gz" | "bz2" | "xz" | "zst" | "zip" | "old" | "[0-9]" | "[1-9]"
    ) || ext.chars().all(|c| c.is_ascii_digit())
}

/// What `{}` stands for, per start point, and whether it is a narrow set of files
/// (junk, empty files, old logs, names inside a project) rather than everything under a
/// place that matters: then it stands for "every file under START", a pattern inside
/// the start that the path classifier judges like `START/*`.
fn found_items<'w>(eng: &Engine, expr: &FindExpr<'_, 'w>) -> Vec<(Arg<'w>, bool)> {
    let mut items = Vec::new();
    for start in expr.starts.iter().take(8) {
        let info = eng.classify(start);
        let base = start.text.trim_end_matches('/');
        let names = !expr.names.is_empty();
        let junk = names && expr.names.iter().all(|n| is_junk(n));
        let narrow = expr.empty
            || junk
            || (names && matches!(info.class(), Class::Project | Class::Temporary))
            || (matches!(info.class(), Class::Logs | Class::Temporary)
                && (expr.older || (names && expr.names.iter().all(|n| is_rotated(n)))));
        if narrow {
            // S1: litter, empty files, scratch files, a project's own logs.
            let project_logs = names
                && info.class() == Class::Project
                && expr.names.iter().all(|n| is_junk(n) || is_log_name(n));
            let disposable = (matches!(info.scope, Scope::Ordinary | Scope::Everything)
                && (expr.empty || junk || project_logs))
                || (info.scope == Scope::Home && junk)
                || info.class() == Class::Temporary;
            let mut item = Arg::stand_in(
                "files found by find",
                format!("matching files under {}", info.shown),
            );
            item.disposable = disposable;
            items.push((item, true));
            continue;
        }
        let about = find_words(expr, &info);
        // A name that is itself special (`id_rsa*`, `auth.log`) is judged as that file.
        let special = expr.names.iter().find(|n| {
            let scope = eng.classify(&start.derived(&format!("{base}/{n}"))).scope;
            matches!(scope, Scope::Credentials | Scope::Logs | Scope::History)
        });
        let text = match special {
            Some(name) => format!("{base}/{name}"),
            None => format!("{base}/*"),
        };
        let mut item = start.derived(&text);
        item.about = Some(about);
        items.push((item, false));
    }
    items
}

/// "every file under / named *.log modified in the last day".
fn find_words(expr: &FindExpr<'_, '_>, start: &PathInfo) -> String {
    let what = if expr.dirs {
        "every directory"
    } else {
        "every file"
    };
    let place = match start.scope {
        Scope::Home => "your home directory".to_string(),
        Scope::Everything => "the current directory".to_string(),
        _ => start.shown.clone(),
    };
    let mut out = format!("{what} under {place}");
    if !expr.names.is_empty() {
        out.push_str(" named ");
        out.push_str(&expr.names.join(" or "));
    }
    for w in &expr.words {
        out.push(' ');
        out.push_str(w);
    }
    out
}

/// Implements D1 (every file under a system or home directory deleted or rewritten),
/// D2 and D4 through the command it runs on each match, S1 (litter, empty or scratch
/// files, a project's logs), else C1 (matches in a project).
pub(crate) fn find(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let expr = parse_find(inv.rest());
    if expr.delete {
        if expr.filtered {
            for (item, _) in found_items(eng, &expr) {
                let info = eng.classify(&item);
                let (level, why) = rules::files::delete_judgement(&info, false);
                eng.note(level, why);
            }
        } else {
            for start in &expr.starts {
                let info = eng.classify(start);
                let (level, why) = rules::files::delete_judgement(&info, true);
                eng.note(level, why);
            }
        }
    }
    let items = found_items(eng, &expr);
    for exec in &expr.execs {
        for (item, _) in &items {
            let run: Vec<Arg<'_>> = exec.iter().map(|a| substitute(a, "{}", item)).collect();
            let ctx = Ctx {
                sudo: inv.ctx.sudo,
                recursive_hint: !expr.filtered,
                stdin_operands: false,
            };
            eng.nested(|e| e.dispatch(&run, ctx, &Input::none()));
        }
    }
}
