//! The opt-in trial run (`trial = "sandbox"`, Linux): an answer the safety checker rates
//! safe is run once in bubblewrap over a read-only view of the working directory, with
//! no network, a private /tmp and a 300 ms limit, and an answer that stops with a usage
//! error ("unrecognized option", "invalid argument") is treated as failing a check. It
//! does run the command, which is why it is off unless the user turns it on.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use crate::sandbox::{Base, Bind, HOME, Layout, Sandbox, SandboxError};

/// Long enough for a usage error, which comes before any work; short enough that a
/// command doing real work is stopped long before it matters.
pub const LIMIT: Duration = Duration::from_millis(300);

/// Something that tries a command and reports a usage error.
pub trait Trial: Send + Sync {
    /// The usage error `command` stops with, if it does; `None` for anything else
    /// (success, other failures, not tried because it is not rated safe).
    fn usage_error(&self, command: &str) -> Option<String>;
}

/// [`Trial`] in bubblewrap over one working directory.
pub struct SandboxTrial {
    sandbox: Sandbox,
    cwd: PathBuf,
}

impl SandboxTrial {
    /// A trial in `cwd`; the error says why sandboxing is unavailable here.
    pub fn new(sandbox: Sandbox, cwd: &Path) -> Self {
        Self {
            sandbox,
            cwd: cwd.to_owned(),
        }
    }

    /// Finds bubblewrap and checks it works here (one short run).
    pub fn probe() -> Result<Sandbox, SandboxError> {
        let scratch = std::env::temp_dir();
        Sandbox::probe(LIMIT, &scratch)
    }

    fn layout(&self) -> Layout {
        Layout {
            base: Base::Host,
            binds: vec![Bind {
                host: self.cwd.clone(),
                path: self.cwd.clone(),
                writable: false,
            }],
            cwd: self.cwd.clone(),
            env: vec![("HOME".into(), HOME.into()), ("USER".into(), "user".into())],
        }
    }
}

impl Trial for SandboxTrial {
    fn usage_error(&self, command: &str) -> Option<String> {
        if crate::safety::check(command).level != crate::safety::Level::Safe {
            return None;
        }
        let run = self.sandbox.run_in(&self.layout(), command).ok()?;
        usage_error(run.status, &run.stderr)
    }
}

/// The first line of `stderr` when a command that failed says it was called wrongly.
pub fn usage_error(status: Option<i32>, stderr: &[u8]) -> Option<String> {
    static USAGE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"(?i)unrecognized option|invalid option|unknown option|illegal option|",
            r"invalid argument|invalid number|missing argument|requires an argument|",
            r"option requires|^usage:|try '[^']*--help'",
        ))
        .unwrap_or_else(|e| panic!("usage pattern: {e}"))
    });
    if matches!(status, Some(0) | None) {
        return None;
    }
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| USAGE.is_match(l))?;
    Some(line.trim().chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_are_told_from_other_failures() {
        let ls = b"ls: unrecognized option '--nosuch'\nTry 'ls --help' for more information.\n";
        assert_eq!(
            usage_error(Some(2), ls).as_deref(),
            Some("ls: unrecognized option '--nosuch'")
        );
        let find = b"find: invalid argument `10MB' to `-size'\n";
        assert!(usage_error(Some(1), find).is_some());
        // A failure that is about the files, not the call, is not a usage error.
        let missing = b"cat: nothing.txt: No such file or directory\n";
        assert_eq!(usage_error(Some(1), missing), None);
        // Success, or stopped by the limit, is never one.
        assert_eq!(usage_error(Some(0), ls), None);
        assert_eq!(usage_error(None, ls), None);
    }

    #[test]
    fn a_safe_command_with_a_bad_option_is_caught_and_nothing_is_written() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("temp dir");
        let sandbox = match SandboxTrial::probe() {
            Ok(sb) => sb,
            Err(e) => {
                if std::env::var_os("CARO_REQUIRE_SANDBOX").is_some() {
                    panic!("sandbox required: {e}");
                }
                eprintln!("SKIPPED: {e}");
                return;
            }
        };
        std::fs::write(dir.path().join("a.txt"), "x\n").expect("write");
        let trial = SandboxTrial::new(sandbox, dir.path());
        let caught = trial.usage_error("ls --nosuchflag").expect("a usage error");
        assert!(caught.contains("nosuchflag"), "{caught}");
        assert_eq!(trial.usage_error("ls -la"), None);
        assert_eq!(trial.usage_error("cat a.txt"), None);
        // Deleting is not rated safe, so it is not tried at all (a usage error would
        // otherwise show); what is tried sees the directory read-only.
        assert_eq!(trial.usage_error("rm --nosuch a.txt"), None);
        assert!(dir.path().join("a.txt").exists());
        assert_eq!(trial.usage_error("touch b.txt"), None);
        assert_eq!(trial.usage_error("cat a.txt > b.txt"), None);
        assert!(!dir.path().join("b.txt").exists());
    }
}
