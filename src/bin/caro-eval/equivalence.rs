//! Whether a command does the same as a reference: each runs on a fresh copy of the
//! fixture inside caro's bubblewrap sandbox, and the two are compared by what they
//! printed and the tree they left.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use caro::safety::Level;
use caro::sandbox::{Sandbox, WORKDIR};

use crate::cases::Case;
use crate::fixture::{Fixture, Tree, snapshot};
use crate::report::Exec;

/// What a command did: its output and the tree it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Normalised, sorted stdout lines.
    pub stdout: Vec<String>,
    pub tree: Tree,
    pub timed_out: bool,
}

/// The sandbox with a scratch directory for fixture copies.
pub struct Bench {
    sandbox: Sandbox,
    scratch: PathBuf,
    fixture: Fixture,
    runs: AtomicU64,
}

impl Bench {
    /// Checks once that commands can run here; the error says why execution is
    /// unavailable.
    pub fn probe(limit: Duration, fixture: Fixture) -> Result<Self, String> {
        let scratch = std::env::temp_dir().join(format!("caro-eval-{}", std::process::id()));
        let probe = scratch.join("probe");
        std::fs::create_dir_all(&probe)
            .map_err(|e| format!("cannot create {}: {e}", probe.display()))?;
        match Sandbox::probe(limit, &probe) {
            Ok(sandbox) => Ok(Self {
                sandbox,
                scratch,
                fixture,
                runs: AtomicU64::new(0),
            }),
            Err(e) => {
                remove_tree(&scratch);
                Err(e.to_string())
            }
        }
    }

    /// Builds a fresh fixture, runs `command` in it, and snapshots the result.
    pub fn run(&self, command: &str) -> Result<Outcome, String> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let root = self.scratch.join(format!("run-{n}"));
        self.fixture
            .build(&root)
            .map_err(|e| format!("cannot build the fixture: {e}"))?;
        let result = self.sandbox.run(&root, command);
        let tree = snapshot(&root, self.fixture.touched_after());
        remove_tree(&root);
        let run = result.map_err(|e| e.to_string())?;
        Ok(Outcome {
            stdout: normalise_output(&run.stdout),
            tree,
            timed_out: run.timed_out,
        })
    }

    /// Runs the references (dangerous ones never) and decides whether the case can be
    /// compared at all: some reference must have a visible effect, the same on a rerun.
    pub fn references(&self, pristine: &Outcome, case: &Case) -> Result<Vec<Outcome>, Exec> {
        let runnable: Vec<&String> = case
            .gold
            .iter()
            .filter(|g| caro::safety::check(g).level != Level::Dangerous)
            .collect();
        let mut refs = Vec::new();
        let mut first_visible = None;
        for g in runnable {
            let Ok(o) = self.run(g) else { continue };
            if first_visible.is_none() && (!o.stdout.is_empty() || o.tree != pristine.tree) {
                first_visible = Some((g, o.clone()));
            }
            refs.push(o);
        }
        let Some((g, first)) = first_visible else {
            return Err(Exec::Uninformative);
        };
        // Time, process lists and the like differ between two runs: nothing to compare.
        match self.run(g) {
            Ok(again) if same(&again, &first) => Ok(refs),
            _ => Err(Exec::Unstable),
        }
    }

    /// Runs the generated command (unless dangerous) and compares it with the references.
    pub fn judge(&self, refs: &[Outcome], command: Option<&str>, safety: Option<Level>) -> Exec {
        let Some(cmd) = command else {
            return Exec::NoCommand;
        };
        if safety == Some(Level::Dangerous) {
            return Exec::Dangerous;
        }
        match self.run(cmd) {
            Ok(out) if refs.iter().any(|r| same(&out, r)) => Exec::Equivalent,
            _ => Exec::Different,
        }
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        remove_tree(&self.scratch);
    }
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    a.stdout == b.stdout && a.tree == b.tree
}

/// Removes a tree even where a command left directories without write permission.
fn remove_tree(p: &Path) {
    if std::fs::remove_dir_all(p).is_ok() {
        return;
    }
    let mut stack = vec![p.to_owned()];
    while let Some(d) = stack.pop() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.filter_map(Result::ok) {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(p);
}

/// Lines with the fixture's location written the same way (`./a`, `a`,
/// `/home/user/work/a` and `~/work/a` all become `a`), trailing blanks dropped, sorted.
fn normalise_output(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l
                .trim_end()
                .replace(&format!("{WORKDIR}/"), "")
                .replace("~/work/", "")
                .replace(WORKDIR, ".");
            l.split(' ')
                // `find ./` names its start "./", `find .` names it ".".
                .map(|w| {
                    if w == "./" {
                        "."
                    } else {
                        w.strip_prefix("./").unwrap_or(w)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_one_way() {
        let out = normalise_output(b"./b.txt\n/home/user/work/a.txt\n\nc  \n");
        assert_eq!(out, ["a.txt", "b.txt", "c"]);
        assert_eq!(normalise_output(b"/home/user/work\n"), ["."]);
        assert_eq!(normalise_output(b"./\n./a\n"), normalise_output(b".\na\n"));
    }
}
