//! Fish syntax, judged by fish itself: `--no-execute` parses without running anything.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{Finding, Kind, process};

pub fn check(fish: &Path, command: &str) -> Option<Finding> {
    let mut cmd = Command::new(fish);
    cmd.args(["--no-config", "--no-execute", "-c", command])
        .current_dir("/");
    let out = process::run(cmd, Duration::from_secs(1))?;
    // fish 3.6 exits 0 after a syntax error in `-c` text; its message still tells.
    let first = out
        .stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(str::trim)
        .map(str::to_owned);
    let failed = out.code != Some(0) || first.as_deref().is_some_and(|l| l.starts_with("fish:"));
    if !failed {
        return None;
    }
    let line = first.unwrap_or_else(|| "fish rejects this command".to_owned());
    if line.contains("no-config") {
        // An older fish without `--no-config`: no verdict on the command.
        return None;
    }
    Some(Finding::new(Kind::Fish, None, line))
}
