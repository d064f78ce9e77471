//! Cheap facts about where the command will run. Nothing here runs a program or lists a
//! directory: it reads the environment and looks up a few file names, so it costs well
//! under a millisecond per request. Everything that reaches the model passes through
//! `redact`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::settings::Shell;

/// Parent directories searched for `.git`.
const MAX_GIT_DEPTH: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub os: String,
    /// GNU coreutils on Linux, BSD userland on macOS and the BSDs.
    pub userland: &'static str,
    pub shell: Shell,
    pub cwd: PathBuf,
    /// The user's home directory: a `cwd` equal to it is shown as `~`.
    pub home: Option<PathBuf>,
    pub git: bool,
    /// Exit status of the user's previous command, when the caller knows it.
    pub last_status: Option<i32>,
    /// The shell's last commands, oldest first, already redacted and within
    /// [`HISTORY_BYTES`]; empty unless the user turned `history` on.
    pub history: Vec<String>,
}

/// Most bytes of shell history sent with a request: a few commands' worth of context,
/// not a transcript (every byte is prefilled on each key press).
pub const HISTORY_BYTES: usize = 1024;
/// Longest single history entry kept; a longer one is cut at a character boundary.
const HISTORY_ENTRY_BYTES: usize = 256;

impl Context {
    /// Gathers the context for `shell` in `cwd`.
    pub fn detect(shell: Shell, cwd: &Path) -> Self {
        Self {
            os: os_name().to_owned(),
            userland: userland(std::env::consts::OS),
            shell,
            cwd: cwd.to_owned(),
            home: std::env::home_dir(),
            git: in_git_repo(cwd),
            last_status: None,
            history: Vec::new(),
        }
    }

    pub fn with_last_status(mut self, status: Option<i32>) -> Self {
        self.last_status = status;
        self
    }

    /// Keeps the newest of `commands` (oldest first) that fit [`HISTORY_BYTES`], each
    /// redacted; blank lines are dropped.
    pub fn with_history<S: AsRef<str>>(mut self, commands: &[S]) -> Self {
        self.history = recent_history(commands);
        self
    }

    #[cfg(test)]
    pub fn for_tests(shell: &str, cwd: &str) -> Self {
        Self {
            os: "Linux".into(),
            userland: "GNU",
            shell: shell.parse().expect("a shell name"),
            cwd: cwd.into(),
            home: None,
            git: false,
            last_status: None,
            history: Vec::new(),
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

    /// Everything known, with the full working directory: a line or two.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "context: {}, {} tools, {}; cwd {}",
            self.os,
            self.userland,
            self.shell,
            redact(&self.cwd.display().to_string())
        );
        if self.git {
            out.push_str(" (git repo)");
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

/// The newest redacted commands that fit the budget, oldest first.
fn recent_history<S: AsRef<str>>(commands: &[S]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut bytes = 0;
    for c in commands.iter().rev() {
        let line = c.as_ref().trim();
        if line.is_empty() {
            continue;
        }
        let mut line = redact_command(line);
        if line.len() > HISTORY_ENTRY_BYTES {
            let mut cut = HISTORY_ENTRY_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        bytes += line.len() + 1;
        if bytes > HISTORY_BYTES {
            break;
        }
        kept.push(line);
    }
    kept.reverse();
    kept
}

/// [`redact`] for a whole command line, which also hides the word after an option
/// that takes a secret (`--password x`, `-H 'Authorization: Bearer x'`), the password
/// of `user:password` logins (`curl -u`, URLs) and what `export KEY=` sets.
pub fn redact_command(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut hide_next = false;
    for (i, piece) in line.split_inclusive(char::is_whitespace).enumerate() {
        let word = piece.trim_end();
        let space = &piece[word.len()..];
        let bare = word.trim_matches(['"', '\'', '(', ')']);
        if hide_next && !bare.is_empty() {
            out.push_str("[redacted]");
            out.push_str(space);
            hide_next = false;
            continue;
        }
        let lower = bare.to_ascii_lowercase();
        hide_next = (lower.starts_with('-') && secret_name(&lower) && !lower.contains('='))
            || lower == "bearer"
            || lower == "basic"
            || (i > 0 && (lower == "-u" || lower == "--user"));
        out.push_str(&redact_login(&redact(word)));
        out.push_str(space);
    }
    out
}

/// `scheme://user:password@host` and `user:password` → the password hidden.
fn redact_login(word: &str) -> String {
    let Some(at) = word.find('@') else {
        return word.to_owned();
    };
    let head = &word[..at];
    let start = head.find("://").map_or(0, |i| i + 3);
    match head[start..].find(':') {
        Some(colon) if colon + 1 < head.len() - start => {
            format!("{}:[redacted]{}", &word[..start + colon], &word[at..])
        }
        _ => word.to_owned(),
    }
}

fn secret_name(lower: &str) -> bool {
    SECRET_NAMES.iter().any(|s| lower.contains(s))
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
        if secret_name(&lower) {
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
    fn history_is_redacted_and_kept_within_its_budget() {
        let got = recent_history(&[
            "export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz123456",
            "mysql --password hunter2 -u root",
            "curl -u alice:s3cret https://api.example.com",
            "curl -H 'Authorization: Bearer abc.def.ghi' https://x.example.com",
            "git clone https://bob:pa55word@git.example.com/r.git",
            "  ",
            "ls -la ~/projects",
        ]);
        let all = got.join("\n");
        for secret in ["ghp_", "hunter2", "s3cret", "abc.def.ghi", "pa55word"] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        assert_eq!(got.len(), 6, "the blank line is dropped: {got:?}");
        assert_eq!(got[5], "ls -la ~/projects");
        assert!(
            got[1].starts_with("mysql --password [redacted]"),
            "{}",
            got[1]
        );
        assert!(got[2].contains("-u alice:[redacted]") || got[2].contains("-u [redacted]"));
        assert!(
            got[4].contains("bob:[redacted]@git.example.com"),
            "{}",
            got[4]
        );

        let many: Vec<String> = (0..200).map(|i| format!("echo line-{i:03}")).collect();
        let kept = recent_history(&many);
        assert!(kept.iter().map(|l| l.len() + 1).sum::<usize>() <= HISTORY_BYTES);
        assert_eq!(
            kept.last().map(String::as_str),
            Some("echo line-199"),
            "newest kept"
        );
        assert!(kept.len() > 10 && kept.len() < 200);
    }

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
