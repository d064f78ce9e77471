//! zsh syntax, judged by zsh itself where our parser cannot read it: `-n` parses
//! without running anything, `-f` skips every startup file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{Finding, Kind, process};

pub fn check(zsh: &Path, command: &str) -> Option<Finding> {
    let mut cmd = Command::new(zsh);
    cmd.args(["-f", "-n", "-c", command]).current_dir("/");
    let out = process::run(cmd, Duration::from_secs(1))?;
    if out.code == Some(0) {
        return None;
    }
    let line = out.stderr.lines().find(|l| !l.trim().is_empty())?;
    // `zsh:1: parse error near `)'` → the message after the position.
    let message = line.splitn(3, ':').nth(2).map_or(line, str::trim);
    Some(Finding::new(Kind::Syntax, None, format!("zsh: {message}")))
}
