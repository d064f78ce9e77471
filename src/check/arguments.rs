//! Arguments of a known type that the program would reject: find's sizes, times and
//! types, sort's keys, head's counts, chmod's modes, du's depths. Values holding an
//! expansion or a glob are never judged.

use std::sync::LazyLock;

use regex::Regex;

use super::command::W;
use super::{Finding, Kind};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid pattern")
}

static SIZE: LazyLock<Regex> = LazyLock::new(|| re(r"^[+-]?\d+[cwbkMG]?$"));
// GNU find takes fractions of days and minutes (`-mtime -0.5`).
static TIME: LazyLock<Regex> = LazyLock::new(|| re(r"^[+-]?(\d+(\.\d*)?|\.\d+)$"));
static DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"^\d+$"));
static TYPE: LazyLock<Regex> = LazyLock::new(|| re(r"^[bcdpflsD](,[bcdpflsD])*$"));
static PERM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[-/]?(0*[0-7]{1,4}|[ugoa]*([-+=]([rwxXst]*|[ugo]))+(,[ugoa]*([-+=]([rwxXst]*|[ugo]))+)*)$",
    )
});
static MODE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(0*[0-7]{1,4}|[ugoa]*([-+=]([rwxXst]*|[ugo]))+(,[ugoa]*([-+=]([rwxXst]*|[ugo]))+)*)$")
});
static KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\d+(\.\d+)?[bdfgiMhnRrV]*(,\d+(\.\d+)?[bdfgiMhnRrV]*)?$"));
static COUNT: LazyLock<Regex> = LazyLock::new(|| re(r"^[+-]?\d+[a-zA-Z]*$"));
static SIZE_FIX: LazyLock<Regex> = LazyLock::new(|| re(r"^([+-]?\d+)([kKmMgG])[bB]?$"));

/// A chmod mode (`755`, `u+x,g-w`, `a=r`).
pub fn is_mode(t: &str) -> bool {
    MODE.is_match(t)
}

/// Checks the values of find's typed predicates (`args`: the words after `find`).
pub fn find(args: &[W], out: &mut Vec<Finding>) {
    for pair in args.windows(2) {
        let [pred, value] = pair else { continue };
        if !pred.literal || !value.judgeable() {
            continue;
        }
        let v = value.text.as_str();
        let message = match pred.text.as_str() {
            "-size" if !SIZE.is_match(v) => {
                let fix = SIZE_FIX.captures(v).map(|c| {
                    let unit = match &c[2] {
                        "k" | "K" => "k",
                        "m" | "M" => "M",
                        _ => "G",
                    };
                    format!(" (use {}{unit})", &c[1])
                });
                format!(
                    "`-size {v}` is not a size find understands{}",
                    fix.unwrap_or_else(|| " (a number with c, k, M or G)".to_owned())
                )
            }
            p @ ("-mtime" | "-atime" | "-ctime" | "-mmin" | "-amin" | "-cmin")
                if !TIME.is_match(v) =>
            {
                format!("`{p} {v}` needs a whole number, optionally with + or -")
            }
            p @ ("-type" | "-xtype") if !TYPE.is_match(v) => {
                format!("`{p} {v}` is not a file type find knows (f, d, l, b, c, p, s)")
            }
            "-perm" if !PERM.is_match(v) => format!("`-perm {v}` is not a permission mode"),
            p @ ("-maxdepth" | "-mindepth") if !DIGITS.is_match(v) => {
                format!("`{p} {v}` needs a number of levels")
            }
            _ => continue,
        };
        out.push(Finding::new(
            Kind::BadArgument,
            Some(value.span.clone()),
            message,
        ));
    }
}

/// Checks typed arguments of `name`; `args` are the words after the program.
pub fn check(name: &str, args: &[W], out: &mut Vec<Finding>) {
    match name {
        "sort" => option_values(args, 'k', "key", out, |v| {
            (!KEY.is_match(v)).then(|| format!("`{v}` is not a sort key (e.g. 2 or 2,2n)"))
        }),
        "head" | "tail" => option_values(args, 'n', "lines", out, |v| {
            (!COUNT.is_match(v)).then(|| format!("`{v}` is not a line count"))
        }),
        "du" => option_values(args, 'd', "max-depth", out, |v| {
            (!DIGITS.is_match(v)).then(|| format!("`{v}` is not a depth"))
        }),
        "chmod" => chmod(args, out),
        _ => {}
    }
}

/// Judges each value of the option `-short` / `--long`, attached (`-k2`, `-nk2`,
/// `--key=2`) or in the next word.
fn option_values(
    args: &[W],
    short: char,
    long: &str,
    out: &mut Vec<Finding>,
    bad: impl Fn(&str) -> Option<String>,
) {
    let mut i = 0;
    while let Some(w) = args.get(i) {
        i += 1;
        let t = w.text.as_str();
        if t == "--" || !w.literal {
            if t == "--" {
                return;
            }
            continue;
        }
        let (value, span) = if let Some(rest) = t.strip_prefix("--") {
            match rest.split_once('=') {
                Some((name, v)) if name == long => (Some(v.to_owned()), w.span.clone()),
                None if rest == long => next(args, &mut i),
                _ => continue,
            }
        } else if let Some(cluster) = t.strip_prefix('-') {
            // Letters before `short` must be plain flags: stop at a digit, which is a
            // count (`head -5`) rather than a flag.
            let Some(pos) = cluster.find(short) else {
                continue;
            };
            if !cluster[..pos].chars().all(|c| c.is_ascii_alphabetic()) {
                continue;
            }
            let attached = &cluster[pos + short.len_utf8()..];
            if attached.is_empty() {
                next(args, &mut i)
            } else {
                (Some(attached.to_owned()), w.span.clone())
            }
        } else {
            continue;
        };
        let Some(value) = value else { continue };
        if value.contains(['$', '*', '?', '[', '`']) {
            continue;
        }
        if let Some(message) = bad(&value) {
            out.push(Finding::new(Kind::BadArgument, Some(span), message));
        }
    }
}

/// The next word as an option's value, when it can be judged.
fn next(args: &[W], i: &mut usize) -> (Option<String>, std::ops::Range<usize>) {
    match args.get(*i) {
        Some(v) => {
            *i += 1;
            let text = v.judgeable().then(|| v.text.clone());
            (text, v.span.clone())
        }
        None => (None, 0..0),
    }
}

/// chmod's first operand after its options is the mode.
fn chmod(args: &[W], out: &mut Vec<Finding>) {
    let mut words = args.iter();
    let mode = loop {
        let Some(w) = words.next() else { return };
        let t = w.text.as_str();
        if t.starts_with("--reference") {
            return;
        }
        if t == "--" {
            break words.next();
        }
        if t.starts_with('-') && !is_mode(t) {
            continue;
        }
        break Some(w);
    };
    let Some(mode) = mode else { return };
    if mode.judgeable() && !is_mode(&mode.text) {
        out.push(Finding::new(
            Kind::BadArgument,
            Some(mode.span.clone()),
            format!("`{}` is not a chmod mode (e.g. 755 or u+x)", mode.text),
        ));
    }
}
