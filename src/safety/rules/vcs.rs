//! git: history rewrites on shared branches, and commands that discard local work.
//!
//! Implements D3 (a repository's shared history, or all of its uncommitted work, lost)
//! of docs/safety.md, else C1 (one branch, some local changes).

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::args::Arg;
use crate::safety::engine::{Engine, Inv};

/// Branches other people build on; rewriting them breaks everyone's clones.
fn is_shared(branch: &str) -> bool {
    let b = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    matches!(
        b,
        "main"
            | "master"
            | "develop"
            | "development"
            | "dev"
            | "trunk"
            | "prod"
            | "production"
            | "staging"
            | "stable"
    ) || b.starts_with("release")
}

fn has(args: &[Arg<'_>], flags: &[&str]) -> bool {
    args.iter().any(|a| flags.contains(&a.text.as_str()))
}

/// Short-option clusters (`-fdx`) contain this letter.
fn has_short(args: &[Arg<'_>], c: char) -> bool {
    args.iter()
        .any(|a| a.text.starts_with('-') && !a.text.starts_with("--") && a.text.contains(c))
}

pub(crate) fn git(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        match arg.text.as_str() {
            "-C" | "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--exec-path"
            | "--config-env" => i += 2,
            t if t.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let Some(sub) = args.get(i) else { return };
    let rest = args.get(i + 1..).unwrap_or_default();
    match sub.text.as_str() {
        "push" => push(eng, rest),
        "reset" if has(rest, &["--hard", "--merge", "--keep"]) => {
            eng.note(Caution, "discards uncommitted changes (git reset --hard)");
            discards(eng, true, false);
        }
        "clean"
            if !has(rest, &["-n", "--dry-run"])
                && (has_short(rest, 'f') || has(rest, &["--force"])) =>
        {
            let why = if has_short(rest, 'x') {
                "deletes untracked and ignored files"
            } else {
                "deletes untracked files"
            };
            eng.note(Caution, why);
            discards(eng, false, true);
        }
        "checkout" if has(rest, &["--", ".", "-f", "--force"]) => {
            eng.note(Caution, "discards local changes");
            discards(eng, true, false);
        }
        // `--staged` alone only unstages; the working tree is left as it is.
        "restore" if !has(rest, &["--staged", "-S"]) || has(rest, &["--worktree", "-W"]) => {
            eng.note(Caution, "discards local changes");
            discards(eng, true, false);
        }
        "switch" if has(rest, &["-f", "--force", "--discard-changes"]) => {
            eng.note(Caution, "discards local changes");
        }
        // `-d` refuses a branch that is not merged, so nothing is lost; `-D` or
        // `--force` deletes unmerged work.
        "branch"
            if has_short(rest, 'D')
                || ((has_short(rest, 'd') || has(rest, &["--delete"]))
                    && (has_short(rest, 'f') || has(rest, &["--force"]))) =>
        {
            eng.note(Caution, "deletes a branch with work that is not merged");
        }
        "stash" if has(rest, &["drop", "clear"]) => eng.note(Caution, "deletes stashed changes"),
        "rm" => eng.note(Caution, "deletes files from the repository"),
        "filter-branch" | "filter-repo" => eng.note(Caution, "rewrites the repository's history"),
        "rebase" => eng.note(Caution, "rewrites commits"),
        "reflog" if has(rest, &["expire", "delete"]) => {
            eng.note(
                Caution,
                "deletes reflog entries, making lost commits unrecoverable",
            );
        }
        "gc" if rest.iter().any(|a| a.text.starts_with("--prune")) => {
            eng.note(Caution, "prunes unreachable commits for good");
        }
        "update-ref" if has(rest, &["-d"]) => eng.note(Caution, "deletes a ref"),
        _ => {}
    }
}

/// Records what a git command throws away; once both the changes to tracked files and
/// the untracked files are gone, nothing uncommitted is left to recover.
fn discards(eng: &mut Engine, changes: bool, untracked: bool) {
    let seen = &mut eng.git_discards;
    seen.changes |= changes;
    seen.untracked |= untracked;
    if seen.changes && seen.untracked {
        eng.note(
            Dangerous,
            "discards all uncommitted work: every change and every untracked file",
        );
    }
}

fn push(eng: &mut Engine, rest: &[Arg<'_>]) {
    if has(rest, &["--dry-run", "-n"]) {
        return;
    }
    let mut force = false;
    let mut lease = false;
    let mut mirror = false;
    let mut delete = false;
    let mut all = false;
    let mut positional: Vec<&str> = Vec::new();
    let mut i = 0;
    while let Some(arg) = rest.get(i) {
        let t = arg.text.as_str();
        i += 1;
        if let Some(long) = t.strip_prefix("--") {
            let (name, has_value) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            match name {
                "force" => force = true,
                "force-with-lease" | "force-if-includes" => lease = true,
                "mirror" => mirror = true,
                "delete" => delete = true,
                "all" | "branches" => all = true,
                "repo" | "receive-pack" | "exec" | "push-option" if !has_value => i += 1,
                _ => {}
            }
        } else if t.len() > 1 && t.starts_with('-') {
            let letters = t.get(1..).unwrap_or_default();
            force |= letters.contains('f');
            delete |= letters.contains('d');
            if letters.ends_with('o') {
                i += 1;
            }
        } else {
            positional.push(t);
        }
    }
    if mirror {
        eng.note(
            Dangerous,
            "overwrites every branch on the remote to match this repository",
        );
        return;
    }
    let mut forced_refs = Vec::new();
    let mut named = Vec::new();
    for spec in positional.iter().skip(1) {
        let (plus, spec) = match spec.strip_prefix('+') {
            Some(s) => (true, s),
            None => (false, *spec),
        };
        let (src, dst) = spec.split_once(':').unwrap_or((spec, spec));
        if delete || src.is_empty() {
            if is_shared(dst) {
                eng.note(
                    Dangerous,
                    format!("deletes the shared branch {dst} on the remote"),
                );
            } else {
                eng.note(Caution, format!("deletes branch {dst} on the remote"));
            }
            continue;
        }
        if plus {
            forced_refs.push(dst);
        }
        named.push(dst);
    }
    if delete {
        return;
    }
    let targets: Vec<&str> = if force || lease {
        named.clone()
    } else {
        forced_refs.clone()
    };
    if !(force || lease || !forced_refs.is_empty()) {
        return;
    }
    if let Some(shared) = targets.iter().find(|b| is_shared(b)) {
        eng.note(
            Dangerous,
            format!("force-pushes to {shared}, rewriting shared history"),
        );
        return;
    }
    let unnamed = targets.is_empty() || targets.contains(&"HEAD");
    if force && (all || unnamed) {
        eng.note(
            Dangerous,
            "force-pushes without naming a branch, which can rewrite main's history",
        );
    } else if let Some(branch) = targets.first() {
        eng.note(
            Caution,
            format!("force-pushes {branch}, rewriting its history"),
        );
    } else {
        eng.note(Caution, "force-pushes the current branch (with lease)");
    }
}
