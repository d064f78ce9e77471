//! Cheap facts about where the command will run. Nothing here runs a program: it reads
//! the environment, one directory listing and a few file names, so it costs well under a
//! millisecond per request. Everything that reaches the model passes through `redact`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::settings::Shell;

/// Most directory entries named to the model: enough to hint at the kind of project and
/// the files a request may mean, few enough to keep the user turn (prefill) short.
const MAX_LISTED: usize = 12;
/// Entries read from the directory at most, so a huge directory costs no more.
const MAX_VISITED: usize = 256;
/// Parent directories searched for `.git`.
const MAX_GIT_DEPTH: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub os: String,
    /// GNU coreutils on Linux, BSD userland on macOS and the BSDs.
    pub userland: &'static str,
    pub shell: Shell,
    /// Only when the version reached this process's environment (e.g. `$BASH_VERSION`).
    pub shell_version: Option<String>,
    pub cwd: PathBuf,
    /// The user's home directory: a `cwd` equal to it is shown as `~`.
    pub home: Option<PathBuf>,
    /// Up to `MAX_LISTED` visible entries of `cwd`, directories with a trailing `/`.
    pub listing: Vec<String>,
    /// Visible entries not listed (counted up to `MAX_VISITED`).
    pub unlisted: usize,
    pub git: bool,
    /// Exit status of the user's previous command, when the caller knows it.
    pub last_status: Option<i32>,
}

impl Context {
    /// Gathers the context for `shell` in `cwd`.
    pub fn detect(shell: Shell, cwd: &Path) -> Self {
        let (listing, unlisted) = list_dir(cwd);
        Self {
            os: os_name().to_owned(),
            userland: userland(std::env::consts::OS),
            shell,
            shell_version: shell_version(shell),
            cwd: cwd.to_owned(),
            home: std::env::home_dir(),
            listing,
            unlisted,
            git: in_git_repo(cwd),
            last_status: None,
        }
    }

    /// Only the fixed facts (OS, userland, shell): for callers that must not depend on
    /// the directory they run in.
    pub fn minimal(shell: Shell, cwd: &Path) -> Self {
        Self {
            os: os_name().to_owned(),
            userland: userland(std::env::consts::OS),
            shell,
            shell_version: None,
            cwd: cwd.to_owned(),
            home: std::env::home_dir(),
            listing: Vec::new(),
            unlisted: 0,
            git: false,
            last_status: None,
        }
    }

    pub fn with_last_status(mut self, status: Option<i32>) -> Self {
        self.last_status = status;
        self
    }

    #[cfg(test)]
    pub fn for_tests(shell: &str, cwd: &str) -> Self {
        Self {
            os: "Linux".into(),
            userland: "GNU",
            shell: shell.parse().expect("a shell name"),
            shell_version: None,
            cwd: cwd.into(),
            home: None,
            listing: Vec::new(),
            unlisted: 0,
            git: false,
            last_status: None,
        }
    }

    /// One short line: shell, OS, working directory, git, a failed last command. What
    /// is sent with every request (about a dozen tokens).
    pub fn summary(&self) -> String {
        let mut out = format!("context: {} on {}", self.shell, short_os(&self.os));
        if self.userland != "GNU" {
            out.push_str(&format!(" ({} tools)", self.userland));
        }
        out.push_str(&format!(
            ", cwd . ({})",
            redact(&dir_name(&self.cwd, self.home.as_deref()))
        ));
        if self.git {
            out.push_str(", git repo");
        }
        out
    }

    /// Everything known, including the directory listing: a few short lines.
    pub fn describe(&self) -> String {
        let shell = match &self.shell_version {
            Some(v) => format!("{} {}", self.shell, redact(v)),
            None => self.shell.to_string(),
        };
        let mut out = format!(
            "context: {}, {} tools, {shell}; cwd {}",
            self.os,
            self.userland,
            redact(&self.cwd.display().to_string())
        );
        if self.git {
            out.push_str(" (git repo)");
        }
        if !self.listing.is_empty() {
            let names: Vec<String> = self.listing.iter().map(|n| redact(n)).collect();
            out.push_str("\nfiles here: ");
            out.push_str(&names.join(" "));
            if self.unlisted > 0 {
                out.push_str(&format!(" …+{}", self.unlisted));
            }
        }
        if let Some(s) = self.last_status.filter(|s| *s != 0) {
            out.push_str(&format!("\nlast command failed: exit {s}"));
        }
        out
    }
}

/// "Debian GNU/Linux 12 (bookworm)" → "Debian GNU/Linux 12": the codename adds tokens,
/// not information.
fn short_os(os: &str) -> &str {
    match os.find(" (") {
        Some(i) => &os[..i],
        None => os,
    }
}

/// The working directory's name alone, `~` for the home directory. Any path shown
/// was copied into commands: `…/user/work` as the relative path `user/work`, an
/// absolute or `~/work` path instead of `.`, and even for "the home folder". With the
/// name in brackets after `.`, the model writes `.` and keeps `~` for home.
fn dir_name(p: &Path, home: Option<&Path>) -> String {
    if home == Some(p) {
        return "~".into();
    }
    match p.file_name() {
        Some(name) => name.to_string_lossy().into_owned(),
        None => p.display().to_string(),
    }
}

/// Whether the tools on this machine are the GNU ones (where generated commands run).
pub fn local_userland_is_gnu() -> bool {
    userland(std::env::consts::OS) == "GNU"
}

fn userland(os: &str) -> &'static str {
    match os {
        "macos" | "freebsd" | "openbsd" | "netbsd" | "dragonfly" => "BSD",
        _ => "GNU",
    }
}

/// The OS and distribution; read once per process, it does not change.
fn os_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| match std::env::consts::OS {
        "linux" => std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .map(|d| {
                if d.contains("Linux") {
                    d
                } else {
                    format!("{d} Linux")
                }
            })
            .unwrap_or_else(|| "Linux".into()),
        "macos" => "macOS".into(),
        other => other.into(),
    })
}

/// The shell's version when its variable reached us; shells rarely export it, so this
/// is usually `None` and nothing is run to find out.
fn shell_version(shell: Shell) -> Option<String> {
    let var = match shell {
        Shell::Bash => "BASH_VERSION",
        Shell::Zsh => "ZSH_VERSION",
        Shell::Fish => "FISH_VERSION",
        Shell::Sh => return None,
    };
    let v = std::env::var(var).ok()?;
    // "5.2.15(1)-release" → "5.2.15"
    let v: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!v.is_empty()).then_some(v)
}

/// Visible entries of `dir`, sorted, at most `MAX_LISTED`, and how many more there are.
fn list_dir(dir: &Path) -> (Vec<String>, usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (Vec::new(), 0);
    };
    let mut names: Vec<String> = rd
        .take(MAX_VISITED)
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if name.starts_with('.') || name.contains(char::is_control) {
                return None;
            }
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            Some(if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort_unstable();
    let unlisted = names.len().saturating_sub(MAX_LISTED);
    names.truncate(MAX_LISTED);
    (names, unlisted)
}

fn in_git_repo(dir: &Path) -> bool {
    dir.ancestors()
        .take(MAX_GIT_DEPTH)
        .any(|d| d.join(".git").exists())
}

/// Replaces what looks like a secret: the value of `NAME=value` when the name suggests a
/// credential, well-known token shapes, and long random-looking strings.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '/' | ',' | ';' | '"' | '\'' | '&' | '?') {
            out.push_str(&redact_word(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&redact_word(&word));
    out
}

const SECRET_NAMES: &[&str] = &[
    "key", "token", "secret", "pass", "pwd", "auth", "cred", "session", "cookie", "private",
];

const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "sk-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "ASIA",
    "AIza",
    "eyJ",
    "hf_",
    "npm_",
    "pypi-",
];

fn redact_word(word: &str) -> String {
    if let Some((name, value)) = word.split_once(['=', ':'])
        && !value.is_empty()
    {
        let lower = name.to_ascii_lowercase();
        if SECRET_NAMES.iter().any(|s| lower.contains(s)) {
            return format!("{name}{}[redacted]", &word[name.len()..name.len() + 1]);
        }
    }
    let tokenish = TOKEN_PREFIXES
        .iter()
        .any(|p| word.starts_with(p) && word.len() >= p.len() + 12);
    if tokenish || looks_random(word) {
        return "[redacted]".to_owned();
    }
    word.to_owned()
}

/// At least 24 characters of letters and digits (plus `_-+=`) mixing upper case, lower
/// case and digits: API keys and hashes, not ordinary file names.
fn looks_random(word: &str) -> bool {
    word.len() >= 24
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=".contains(c))
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_uppercase())
        && word.chars().any(|c| c.is_ascii_lowercase())
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

    #[test]
    fn listing_is_bounded_sorted_and_hides_dot_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..20 {
            std::fs::write(dir.path().join(format!("f{i:02}.txt")), "").expect("write");
        }
        std::fs::write(dir.path().join(".env"), "").expect("write");
        std::fs::create_dir(dir.path().join("a-dir")).expect("mkdir");
        let c = Context::detect(Shell::Bash, dir.path());
        assert_eq!(c.listing.len(), MAX_LISTED);
        assert_eq!(c.listing[0], "a-dir/");
        assert_eq!(c.unlisted, 21 - MAX_LISTED);
        assert!(!c.listing.iter().any(|n| n.starts_with('.')));
        assert!(c.describe().contains("…+9"));
    }

    #[test]
    fn git_repo_is_found_from_a_subdirectory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(".git")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("src/deep")).expect("mkdir");
        assert!(Context::detect(Shell::Zsh, &dir.path().join("src/deep")).git);
        assert!(
            Context::detect(Shell::Zsh, &dir.path().join("src/deep"))
                .describe()
                .contains("git repo")
        );
    }

    #[test]
    fn the_directory_is_shown_by_its_name() {
        let home = Some(Path::new("/home/me"));
        assert_eq!(dir_name(Path::new("/home/me"), home), "~");
        assert_eq!(dir_name(Path::new("/home/me/code/caro"), home), "caro");
        assert_eq!(dir_name(Path::new("/"), home), "/");
    }

    #[test]
    fn summary_is_one_short_line() {
        let mut c = Context::for_tests("zsh", "/home/me/code/project/src");
        c.os = "Debian GNU/Linux 12 (bookworm)".into();
        c.git = true;
        let s = c.summary();
        assert_eq!(
            s,
            "context: zsh on Debian GNU/Linux 12, cwd . (src), git repo"
        );
        c.userland = "BSD";
        assert!(c.summary().contains("(BSD tools)"));
    }

    #[test]
    fn last_status_is_mentioned_only_on_failure() {
        let c = Context::for_tests("bash", "/x");
        assert!(
            !c.clone()
                .with_last_status(Some(0))
                .describe()
                .contains("exit")
        );
        assert!(
            c.clone()
                .with_last_status(Some(2))
                .describe()
                .contains("exit 2")
        );
        // The summary is the cached part of the prompt; the status goes with the request.
        assert!(!c.with_last_status(Some(2)).summary().contains("failed"));
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("API_KEY=abc123"), "API_KEY=[redacted]");
        assert_eq!(redact("password:hunter2"), "password:[redacted]");
        assert_eq!(
            redact("/home/x/ghp_0123456789abcdefghij/run"),
            "/home/x/[redacted]/run"
        );
        assert_eq!(redact("a8F3kd92LmQpZ7xR2vT9wYbN4c"), "[redacted]");
        for keep in [
            "Cargo.toml",
            "src/",
            "/home/user/project",
            "build-2024-01-01.log",
            "x=1",
            "monkey_business_report.txt",
        ] {
            assert_eq!(redact(keep), keep);
        }
    }
}
