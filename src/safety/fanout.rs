//! Commands that run another command over many paths: `xargs` and `find -exec`/`-delete`,
//! plus the listings (`echo`, `ls`, `find`) that feed them.

use super::Level;
use super::args::Arg;
use super::engine::{Ctx, Engine, Input, Inv};
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

/// Paths that `ls` or an unfiltered `find` print, as `xargs` would receive them.
pub(crate) fn listed_paths(name: &str, rest: &[Arg<'_>]) -> Option<(Vec<String>, bool)> {
    match name {
        "find" => {
            let parsed = parse_find(rest);
            let starts = parsed.starts.iter().map(|a| a.text.clone()).collect();
            (!parsed.filtered).then_some((starts, true))
        }
        "ls" => {
            let operands: Vec<String> = rest
                .iter()
                .filter(|a| !a.text.starts_with('-'))
                .map(|a| a.text.clone())
                .collect();
            let listed = if operands.is_empty() {
                vec!["*".to_string()]
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
            Some(text.split_whitespace().map(str::to_string).collect()),
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
            let fill: Vec<&str> = if items.is_empty() {
                vec!["items read from input"]
            } else {
                items.iter().map(String::as_str).take(16).collect()
            };
            for item in fill {
                runs.push(
                    command
                        .iter()
                        .map(|a| a.derived(&a.text.replace(r.as_str(), item)))
                        .collect(),
                );
            }
        }
        _ => {
            let mut run: Vec<Arg<'_>> = command.to_vec();
            run.extend(items.iter().take(64).map(|s| Arg::synthetic(s.clone())));
            runs.push(run);
        }
    }
    for run in runs {
        eng.nested(|e| e.dispatch(&run, ctx, &Input::none()));
    }
}

struct FindExpr<'a, 'w> {
    starts: Vec<Arg<'w>>,
    filtered: bool,
    delete: bool,
    execs: Vec<&'a [Arg<'w>]>,
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
            _ if PLAIN.contains(&t) => {}
            _ if PLAIN_WITH_ARG.contains(&t) => k += 1,
            // `-name '*'` matches everything, so it narrows nothing.
            "-name" | "-iname" | "-path" | "-wholename"
                if args.get(k).is_some_and(|p| p.is("*")) =>
            {
                k += 1
            }
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

pub(crate) fn find(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let expr = parse_find(inv.rest());
    if expr.delete {
        for start in &expr.starts {
            let info = eng.classify(start);
            if expr.filtered {
                eng.note(
                    Level::Caution,
                    format!("deletes matching files under {}", info.shown),
                );
            } else {
                let (level, why) = rules::files::delete_judgement(&info, true);
                eng.note(level, why);
            }
        }
    }
    // With a filter, `{}` is some matching file; without one, it is every path under
    // the start, including the start itself.
    let items: Vec<Arg<'_>> = if expr.filtered {
        vec![Arg::synthetic("files found by find")]
    } else {
        expr.starts.iter().take(8).cloned().collect()
    };
    for exec in &expr.execs {
        for start in &items {
            let item = start.text.as_str();
            let run: Vec<Arg<'_>> = exec
                .iter()
                .map(|a| {
                    if a.text.contains("{}") {
                        start.derived(&a.text.replace("{}", item))
                    } else {
                        a.clone()
                    }
                })
                .collect();
            let ctx = Ctx {
                sudo: inv.ctx.sudo,
                recursive_hint: !expr.filtered,
                stdin_operands: false,
            };
            eng.nested(|e| e.dispatch(&run, ctx, &Input::none()));
        }
    }
}
