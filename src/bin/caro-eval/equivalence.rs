//! Whether a command does the same as a reference: each runs on a fresh copy of the
//! case's fixture inside caro's bubblewrap sandbox, and the two are compared by what they
//! printed and the tree they left (paths, types, modes, contents): a command is
//! equivalent to a reference when it leaves the same tree and, where the reference
//! changes nothing, prints the same output ([`equivalent`]).
//!
//! The references run first, each twice. The first reference decides whether the case
//! can be scored at all; it cannot when that reference is rated dangerous, fails (runs
//! past the time limit, its program is missing, or it exits non-zero having printed and
//! changed nothing), reads the state of the host rather than of the tree
//! ([`reads_host`]), gives different results on its two runs, or does nothing visible.
//! Later references that fail one of these checks are dropped, with a note. So the
//! first reference, given as an answer, is always equivalent on a scorable case.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use caro::safety::Level;
use caro::sandbox::{Layout, MOUNTED, SYSTEM_DIRS, Sandbox, WORKDIR};

use crate::cases::Case;
use crate::fixture::{Fixture, Tree, snapshot};
use crate::fixture_file::Spec;
use crate::report::Exec;

/// What a command did: its output and the tree it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Normalised, sorted stdout lines.
    pub stdout: Vec<String>,
    pub tree: Tree,
    pub status: Option<i32>,
    pub timed_out: bool,
}

/// The tree a case's commands run on.
#[derive(Debug, Clone)]
pub enum Setup {
    /// The built-in fixture ([`Fixture`]), writable at the sandbox's work directory.
    Builtin,
    /// A tree from a fixture file, at its own absolute paths.
    File(Arc<Spec>),
}

/// Why a case cannot be scored, with what the references did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotScorable {
    pub exec: Exec,
    pub note: String,
}

/// The scorable references, and a note on those dropped.
#[derive(Debug, Clone)]
pub struct References {
    pub outcomes: Vec<Outcome>,
    /// The tree as built, before any command.
    pub pristine: Tree,
    pub note: Option<String>,
}

/// The sandbox with a scratch directory for fixture copies.
pub struct Bench {
    sandbox: Sandbox,
    /// The same sandbox with the product's trial limit (`engine::trial`).
    trial: Sandbox,
    scratch: PathBuf,
    fixture: Fixture,
    /// Fixture files' relative times count from here.
    base: SystemTime,
    runs: AtomicU64,
}

impl Bench {
    /// Checks once that commands can run here; the error says why execution is
    /// unavailable.
    pub fn probe(limit: Duration, base: SystemTime) -> Result<Self, String> {
        let scratch = std::env::temp_dir().join(format!("caro-eval-{}", std::process::id()));
        let probe = scratch.join("probe");
        std::fs::create_dir_all(&probe)
            .map_err(|e| format!("cannot create {}: {e}", probe.display()))?;
        let probed = Sandbox::probe(limit, &probe)
            .and_then(|sb| Ok((sb, Sandbox::probe(caro::engine::trial::LIMIT, &probe)?)));
        match probed {
            Ok((sandbox, trial)) => Ok(Self {
                sandbox,
                trial,
                scratch,
                fixture: Fixture::new(base),
                base,
                runs: AtomicU64::new(0),
            }),
            Err(e) => {
                remove_tree(&scratch);
                Err(e.to_string())
            }
        }
    }

    /// Builds a fresh copy of the setup's tree, runs `command` in it, and snapshots
    /// the result.
    pub fn run(&self, setup: &Setup, command: &str) -> Result<Outcome, String> {
        self.run_with(&self.sandbox, setup, command).map(|(o, _)| o)
    }

    /// The usage error `command` stops with in a fresh copy of the setup's tree under
    /// the product's trial limit, as `trial = "sandbox"` would see it (commands not
    /// rated safe are not tried, as there).
    pub fn trial(&self, setup: &Setup, command: &str) -> Option<String> {
        if caro::safety::check(command).level != caro::safety::Level::Safe {
            return None;
        }
        let (o, stderr) = self.run_with(&self.trial, setup, command).ok()?;
        caro::engine::trial::usage_error(o.status, &stderr)
    }

    /// [`Bench::run`] in `sandbox`, also giving the command's stderr.
    fn run_with(
        &self,
        sandbox: &Sandbox,
        setup: &Setup,
        command: &str,
    ) -> Result<(Outcome, Vec<u8>), String> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let root = self.scratch.join(format!("run-{n}"));
        let (result, tree, stdout) = match setup {
            Setup::Builtin => {
                let built = self.fixture.build(&root);
                let result = built
                    .map_err(|e| format!("cannot build the fixture: {e}"))
                    .and_then(|()| sandbox.run(&root, command).map_err(|e| e.to_string()));
                let tree = snapshot(&root, Some(self.fixture.touched_after()), &[]);
                (result, tree, normalise_output as fn(&[u8]) -> Vec<String>)
            }
            Setup::File(spec) => {
                let built = spec.build(&root, self.base);
                let layout = Layout::tree(&root, PathBuf::from(&spec.cwd), spec.env());
                let result = built
                    .map_err(|e| format!("cannot build fixture {}: {e}", spec.name))
                    .and_then(|()| sandbox.run_in(&layout, command).map_err(|e| e.to_string()));
                let mounted: Vec<&str> = SYSTEM_DIRS
                    .iter()
                    .chain(MOUNTED)
                    .map(|d| d.trim_start_matches('/'))
                    .collect();
                let tree = snapshot(&root, None, &mounted);
                (result, tree, collapse_output as fn(&[u8]) -> Vec<String>)
            }
        };
        remove_tree(&root);
        let run = result?;
        Ok((
            Outcome {
                stdout: stdout(&run.stdout),
                tree,
                status: run.status,
                timed_out: run.timed_out,
            },
            run.stderr,
        ))
    }

    /// Runs the references and decides whether the case can be scored (see the module
    /// comment); the error says why not.
    pub fn references(&self, setup: &Setup, case: &Case) -> Result<References, NotScorable> {
        let pristine = self
            .run(setup, "true")
            .map_err(|e| not_scorable(Exec::Failed, format!("cannot run: {e}")))?;
        let mut outcomes = Vec::new();
        let mut dropped = Vec::new();
        for (i, g) in case.gold.iter().enumerate() {
            match self.check_reference(setup, &pristine.tree, g) {
                Ok(o) => outcomes.push(o),
                Err(e) if i == 0 => return Err(e),
                Err(e) => dropped.push(format!("reference {} dropped: {}", i + 1, e.note)),
            }
        }
        Ok(References {
            outcomes,
            pristine: pristine.tree,
            note: (!dropped.is_empty()).then(|| dropped.join("; ")),
        })
    }

    fn check_reference(
        &self,
        setup: &Setup,
        pristine: &Tree,
        gold: &str,
    ) -> Result<Outcome, NotScorable> {
        if caro::safety::check(gold).level == Level::Dangerous {
            return Err(not_scorable(
                Exec::Failed,
                "rated dangerous, not run".into(),
            ));
        }
        if let Some(why) = reads_host(gold) {
            return Err(not_scorable(Exec::HostState, format!("reads {why}")));
        }
        let o = self
            .run(setup, gold)
            .map_err(|e| not_scorable(Exec::Failed, e))?;
        let visible = !o.stdout.is_empty() || o.tree != *pristine;
        if o.timed_out {
            return Err(not_scorable(Exec::Failed, "ran past the time limit".into()));
        }
        if matches!(o.status, Some(126 | 127)) {
            return Err(not_scorable(Exec::Failed, "program missing".into()));
        }
        if o.status != Some(0) && !visible {
            let status = o.status.map_or("a signal".into(), |s| s.to_string());
            return Err(not_scorable(
                Exec::Failed,
                format!("exit status {status}, no effect"),
            ));
        }
        if !visible {
            return Err(not_scorable(
                Exec::Uninformative,
                "prints nothing, changes nothing".into(),
            ));
        }
        // Time, process lists and the like differ between two runs: nothing to compare.
        match self.run(setup, gold) {
            Ok(again) if same(&again, &o) => Ok(o),
            _ => Err(not_scorable(
                Exec::Unstable,
                "differs between two runs".into(),
            )),
        }
    }

    /// Runs the generated command (unless dangerous) and compares it with the references.
    pub fn judge(
        &self,
        setup: &Setup,
        refs: &References,
        command: Option<&str>,
        safety: Option<Level>,
    ) -> Exec {
        let Some(cmd) = command else {
            return Exec::NoCommand;
        };
        if safety == Some(Level::Dangerous) {
            return Exec::Dangerous;
        }
        match self.run(setup, cmd) {
            Ok(out)
                if refs
                    .outcomes
                    .iter()
                    .any(|r| equivalent(&out, r, &refs.pristine)) =>
            {
                Exec::Equivalent
            }
            _ => Exec::Different,
        }
    }
}

fn not_scorable(exec: Exec, note: String) -> NotScorable {
    NotScorable { exec, note }
}

impl Drop for Bench {
    fn drop(&mut self) {
        remove_tree(&self.scratch);
    }
}

/// Same output and same resulting tree; the exit status does not count. What two runs
/// of one reference must give.
fn same(a: &Outcome, b: &Outcome) -> bool {
    a.stdout == b.stdout && a.tree == b.tree
}

/// Whether `out` does what `reference` did: the same resulting tree and, where the
/// reference left the tree as it was, the same output (a reference that deletes files
/// and lists them is matched by one that only deletes them).
fn equivalent(out: &Outcome, reference: &Outcome, pristine: &Tree) -> bool {
    out.tree == reference.tree && (reference.tree != *pristine || out.stdout == reference.stdout)
}

/// Programs whose output describes the machine (time, users, hardware, installed
/// software, processes, network), not the fixture tree.
const HOST_PROGRAMS: &[&str] = &[
    "date",
    "uptime",
    "uname",
    "whoami",
    "id",
    "who",
    "w",
    "last",
    "lastlog",
    "users",
    "groups",
    "hostname",
    "hostnamectl",
    "nproc",
    "lscpu",
    "free",
    "vmstat",
    "df",
    "mount",
    "lsblk",
    "ps",
    "top",
    "pidof",
    "pgrep",
    "sysctl",
    "dpkg",
    "apt",
    "apt-cache",
    "rpm",
    "locale",
    "ulimit",
    "ip",
    "ifconfig",
    "netstat",
    "ss",
    "dmesg",
    "journalctl",
    "systemctl",
    "lsb_release",
    "timedatectl",
    "cal",
];

/// Whether `cmd` reads the state of the host rather than of the tree: a program of
/// [`HOST_PROGRAMS`], `openssl version`, the shell's pid, or a path under `/etc`,
/// `/proc`, `/sys` or `/dev` (other than the null, zero and random devices). Says
/// which.
pub fn reads_host(cmd: &str) -> Option<String> {
    if let Some(p) = caro::syntax::programs(cmd)
        .into_iter()
        .find(|p| HOST_PROGRAMS.contains(&p.as_str()))
    {
        return Some(format!("the host ({p})"));
    }
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if words.windows(2).any(|w| w == ["openssl", "version"]) {
        return Some("the host (openssl version)".into());
    }
    if cmd.contains("$$") || cmd.contains("$PPID") {
        return Some("the shell's process id".into());
    }
    const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];
    cmd.split(|c: char| c.is_whitespace() || "'\"<>();|&=".contains(c))
        .filter(|w| !DEVICES.contains(w))
        .find(|w| {
            ["/etc/", "/proc/", "/sys/", "/dev/"]
                .iter()
                .any(|d| w.starts_with(d))
        })
        .map(|w| format!("the host ({w})"))
}

/// Lines with blanks collapsed to one space, blank lines dropped, sorted: how output
/// from a fixture file's tree is compared.
fn collapse_output(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

/// Removes a tree even where a command left directories without write permission.
pub fn remove_tree(p: &Path) {
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

    fn outcome(stdout: &[&str], files: &[&str]) -> Outcome {
        let state = crate::fixture::State {
            kind: 'f',
            mode: 0o644,
            size: 0,
            digest: 0,
            touched: false,
        };
        Outcome {
            stdout: stdout.iter().map(|s| s.to_string()).collect(),
            tree: files
                .iter()
                .map(|f| (f.to_string(), state.clone()))
                .collect(),
            status: Some(0),
            timed_out: false,
        }
    }

    #[test]
    fn output_counts_only_where_the_reference_changes_nothing() {
        let pristine = outcome(&[], &["a", "b"]).tree;
        // The reference deletes b and lists it: deleting alone is equivalent.
        let deletes_and_lists = outcome(&["b"], &["a"]);
        assert!(equivalent(
            &outcome(&[], &["a"]),
            &deletes_and_lists,
            &pristine
        ));
        assert!(!equivalent(
            &outcome(&["b"], &["a", "b"]),
            &deletes_and_lists,
            &pristine
        ));
        // The reference only lists: the output must match.
        let lists = outcome(&["a"], &["a", "b"]);
        assert!(equivalent(&outcome(&["a"], &["a", "b"]), &lists, &pristine));
        assert!(!equivalent(
            &outcome(&["b"], &["a", "b"]),
            &lists,
            &pristine
        ));
    }

    #[test]
    fn fixture_file_output_is_collapsed_and_sorted() {
        assert_eq!(collapse_output(b"  b   2\n\na\t1  \n"), ["a 1", "b 2"]);
    }

    #[test]
    fn host_state_is_recognised() {
        for cmd in [
            "uname -r",
            "echo $(date) 1 | tee -a f",
            "grep nameserver /etc/resolv.conf",
            "cat /proc/cpuinfo | wc -l",
            "openssl version -a",
            "echo $$",
            "sudo df -h",
        ] {
            assert!(reads_host(cmd).is_some(), "{cmd}");
        }
        for cmd in [
            "find /testbed -name '*.txt' 2>/dev/null",
            "ls -la /system",
            "head -c 4 /dev/urandom > /dev/null; echo ok",
            "openssl dgst -sha512 f",
            "echo $HOME",
        ] {
            assert_eq!(reads_host(cmd), None, "{cmd}");
        }
    }

    #[test]
    fn paths_are_written_one_way() {
        let out = normalise_output(b"./b.txt\n/home/user/work/a.txt\n\nc  \n");
        assert_eq!(out, ["a.txt", "b.txt", "c"]);
        assert_eq!(normalise_output(b"/home/user/work\n"), ["."]);
        assert_eq!(normalise_output(b"./\n./a\n"), normalise_output(b".\na\n"));
    }
}
