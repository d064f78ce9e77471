//! Commands that rewrite files in place: `sed -i` and the compressors that replace a
//! file with its compressed copy.
//!
//! One file rewritten is routine; every file under a system directory, every log, or a
//! credential rewritten in place is not, and it is the breadth that decides.

use crate::safety::Level::{self, Caution, Dangerous};
use crate::safety::engine::{Engine, Inv};
use crate::safety::opts::Opts;
use crate::safety::paths::{Class, PathInfo, Scope};

/// Severity of rewriting `info` in place; None when that is routine. `replaces`: the
/// file is swapped for another (`gzip` leaves only `x.gz`), not edited.
///
/// Implements D1 (every file of a system directory rewritten), D2 (credentials
/// replaced), D4 (the system logs rewritten) and C2 (one file, or the home directory).
fn judge(info: &PathInfo, recursive: bool, replaces: bool, verb: &str) -> Option<(Level, String)> {
    let what = info.describe();
    let wide = recursive || info.many();
    let found = match info.class() {
        Class::Credentials | Class::Logs if wide || replaces => {
            (Dangerous, format!("{verb} {what} in place"))
        }
        Class::Credentials | Class::Logs => (Caution, format!("{verb} {what} in place")),
        Class::Device => (Dangerous, format!("{verb} {what}")),
        Class::System if info.scope == Scope::SystemFile && info.is_vital() => (
            Dangerous,
            format!("{verb} {what}, which can lock everyone out"),
        ),
        Class::System if info.scope == Scope::SystemFile && replaces => (
            Dangerous,
            format!("{verb} {what}, so the system no longer finds it"),
        ),
        Class::System if wide || info.scope == Scope::Root => {
            let place = if info.about.is_some() {
                what
            } else if info.many() {
                format!("every file matching {}", info.shown)
            } else {
                format!("every file in {what}")
            };
            (Dangerous, format!("{verb} {place} in place"))
        }
        Class::Home if wide => (Caution, format!("{verb} {what} in place")),
        _ => return None,
    };
    Some((found.0, info.qualify(found.1)))
}

/// `sed -i`: through [`edit_in_place`].
pub(crate) fn sed(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let in_place = inv.rest().iter().any(|a| {
        let t = a.text.as_str();
        let cluster = t.strip_prefix('-').filter(|c| !c.starts_with('-'));
        t.starts_with("--in-place")
            || cluster.is_some_and(|c| {
                c.split_once('i')
                    .is_some_and(|(before, _)| before.chars().all(|f| "nErsuz".contains(f)))
            })
    });
    if !in_place {
        return;
    }
    let opts = Opts::parse(inv.rest(), "ef", &["expression", "file", "line-length"]);
    let script = opts.value("e").or_else(|| opts.value("expression"));
    let skip = usize::from(script.is_none());
    let script = script
        .or_else(|| opts.operands.first().map(|a| a.text.clone()))
        .unwrap_or_default();
    let files: Vec<_> = opts.operands.iter().skip(skip).copied().collect();
    edit_in_place(eng, &files, &script);
}

/// `perl -i` (`-pi`, `-i.bak`): the same in-place edit as `sed -i`, through
/// [`edit_in_place`].
pub(crate) fn perl(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let mut in_place = false;
    let mut script: Option<String> = None;
    let mut files = Vec::new();
    let mut args = inv.rest().iter();
    while let Some(a) = args.next() {
        let t = a.text.as_str();
        if let Some(cluster) = t
            .strip_prefix('-')
            .filter(|c| !c.starts_with('-') && !c.is_empty())
        {
            // In a cluster such as -pie, -0pi or -i.bak, letters up to `e` are flags.
            let flags = cluster.split_once('e').map_or(cluster, |(f, _)| f);
            in_place |= flags.contains('i');
            if cluster.contains('e') {
                let rest = cluster.split_once('e').map(|(_, r)| r).unwrap_or_default();
                script = if rest.is_empty() {
                    args.next().map(|s| s.text.clone())
                } else {
                    Some(rest.to_owned())
                };
            }
        } else if script.is_none() {
            // No -e: the first operand is the program file.
            script = Some(t.to_owned());
        } else {
            files.push(a);
        }
    }
    if in_place {
        edit_in_place(eng, &files, &script.unwrap_or_default());
    }
}

/// Implements D1, D2, D4 and D5 (security settings weakened) through [`judge`] and
/// [`super::security::written`], S2 (files of the project edited), else C2.
fn edit_in_place(eng: &mut Engine, files: &[&crate::safety::args::Arg<'_>], script: &str) {
    let mut routine = !files.is_empty();
    for file in files {
        let info = eng.classify(file);
        super::security::written(eng, &info, script);
        if let Some((level, why)) = judge(&info, false, false, "rewrites") {
            eng.note(level, why);
        }
        routine &= info.routine_place();
    }
    if !routine {
        eng.note(Caution, "edits files in place");
    }
}

/// `gzip`, `bzip2`, `xz` and friends replace each file with a compressed copy, so the
/// original path is gone: implements D1, D2 and D4 through [`judge`].
pub(crate) fn compress(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = Opts::parse(inv.rest(), "bSTFMo", &["suffix", "format", "threads"]);
    let keeps = opts.flag('k', "keep")
        || opts.flag('c', "stdout")
        || opts.flag('d', "decompress")
        || opts.flag('t', "test")
        || opts.flag('l', "list")
        || opts.long("to-stdout");
    // zstd and lz4 keep the original unless told to remove it.
    let removes = !matches!(inv.name(), "zstd" | "lz4") || opts.long("rm");
    if keeps || !removes {
        return;
    }
    let recursive = opts.flag('r', "recursive");
    for file in &opts.operands {
        let info = eng.classify(file);
        if let Some((level, why)) = judge(&info, recursive, true, "compresses") {
            eng.note(level, why);
        }
    }
}

pub(crate) fn is_compressor(name: &str) -> bool {
    matches!(
        name,
        "gzip" | "pigz" | "bzip2" | "pbzip2" | "xz" | "lzma" | "zstd" | "lz4" | "compress"
    )
}
