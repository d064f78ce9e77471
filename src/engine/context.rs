//! Cheap facts about where the command will run. Nothing here runs a program: it reads
//! the environment and a few files, so it costs microseconds per request.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub os: String,
    /// GNU coreutils on Linux, BSD userland on macOS and the BSDs.
    pub userland: &'static str,
    pub shell: String,
    pub cwd: PathBuf,
}

impl Context {
    /// Gathers the context for `shell` in `cwd`.
    pub fn detect(shell: &str, cwd: &Path) -> Self {
        Self {
            os: os_name(),
            userland: userland(std::env::consts::OS),
            shell: shell.to_owned(),
            cwd: cwd.to_owned(),
        }
    }

    #[cfg(test)]
    pub fn for_tests(shell: &str, cwd: &str) -> Self {
        Self {
            os: "Linux".into(),
            userland: "GNU",
            shell: shell.into(),
            cwd: cwd.into(),
        }
    }

    /// One line for the model's user turn.
    pub fn describe(&self) -> String {
        format!(
            "context: {} shell on {} ({} tools), current directory {}",
            self.shell,
            self.os,
            self.userland,
            self.cwd.display()
        )
    }
}

fn userland(os: &str) -> &'static str {
    match os {
        "macos" | "freebsd" | "openbsd" | "netbsd" | "dragonfly" => "BSD",
        _ => "GNU",
    }
}

fn os_name() -> String {
    match std::env::consts::OS {
        "linux" => std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .map(|d| format!("Linux ({d})"))
            .unwrap_or_else(|| "Linux".into()),
        "macos" => "macOS".into(),
        other => other.into(),
    }
}

/// The shell named by `$SHELL`, reduced to one caro knows; `sh` otherwise.
pub fn shell_from_env() -> String {
    let shell = std::env::var("SHELL").unwrap_or_default();
    let name = Path::new(&shell)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    match name {
        "zsh" | "bash" | "fish" => name.to_owned(),
        _ => "sh".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsd_userland_on_macos() {
        assert_eq!(userland("macos"), "BSD");
        assert_eq!(userland("linux"), "GNU");
    }

    #[test]
    fn describe_names_shell_and_directory() {
        let c = Context::for_tests("fish", "/srv/app");
        let d = c.describe();
        assert!(d.contains("fish") && d.contains("/srv/app") && d.contains("GNU"));
    }
}
