//! `config.toml`: every key optional, unknown keys rejected with the line they are on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::device::DeviceSetting;
use super::openai::{BackendKind, OpenAiSection};
use super::shell::Shell;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    /// Path of a GGUF model file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// Catalogue variant used when `model` is unset: `q4_k_m` (default) or `q8_0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Shell the commands are written for (`zsh`, `bash`, `fish`, `sh`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Shell>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Largest context a session may use, in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<usize>,
    /// Tokens the local engine guesses per decode pass from the prompt (prompt-lookup
    /// speculative decoding); 0 turns it off. Replies are the same either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speculate: Option<usize>,
    /// `"sandbox"` to try answers rated safe in bubblewrap before showing them (Linux;
    /// this runs them); `"off"` (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialSetting>,
    /// `"local"` (default) or `"openai"` (the `[openai]` server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendKind>,
    /// `"cpu"` (default), `"cuda"`, `"cuda:N"` or `"metal"`: where the local engine runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceSetting>,
    /// Standing instructions added to every prompt (else `instructions.md` beside this file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// How many of the shell's last commands go with each request (redacted); 0, the
    /// default, sends none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<usize>,
    /// Whether the widgets add the words you typed to the shell's history when they
    /// replace them (default true), so Up finds them again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_prose: Option<bool>,
    /// How the pick key shows its list: `"list"` (default, numbered under the prompt)
    /// or `"fzf"` (when fzf is installed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pick: Option<PickWith>,
    #[serde(skip_serializing_if = "KeysSection::is_empty")]
    pub keys: KeysSection,
    pub daemon: DaemonSection,
    #[serde(skip_serializing_if = "OpenAiSection::is_empty")]
    pub openai: OpenAiSection,
}

/// Whether answers are tried before they are shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialSetting {
    #[default]
    Off,
    /// In bubblewrap, over a read-only view of the working directory.
    Sandbox,
}

/// How the pick key lets you choose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PickWith {
    /// A numbered list under the prompt; a digit chooses.
    #[default]
    List,
    /// fzf, when it is on PATH (else the list).
    Fzf,
}

/// The widgets' keys (`caro init --key …` and `$CARO_KEY`… take precedence).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pick: Option<String>,
}

impl KeysSection {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSection {
    /// Seconds without requests before the daemon exits and frees its memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the instructions in {} are {bytes} bytes; at most {} are taken", path.display(), super::instructions::MAX_BYTES)]
    Instructions { path: PathBuf, bytes: usize },
    #[error("{key}={value:?} is not valid: {message}")]
    Env {
        key: String,
        value: String,
        message: String,
    },
}

impl ConfigFile {
    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            });
            let line = match e.span() {
                Some(s) if text[..s.start.min(text.len())].ends_with('\n') => line + 1,
                _ => line,
            };
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                message: e.message().replace('\n', " ").trim().to_owned(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(s, Path::new("/x/config.toml"))
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(parse("").ok(), Some(ConfigFile::default()));
    }

    #[test]
    fn every_key_parses() {
        let c = parse(
            "model = \"/m.gguf\"\nthreads = 2\nshell = \"fish\"\nmax_tokens = 64\ntemperature = 0.5\nseed = 7\ncontext = 2048\n[daemon]\nidle_timeout = 60\nworkers = 2\nqueue = 4\n",
        )
        .expect("valid config");
        assert_eq!(c.threads, Some(2));
        assert_eq!(c.daemon.workers, Some(2));
        assert_eq!(c.model.as_deref(), Some(Path::new("/m.gguf")));
        assert_eq!(c.shell, Some(Shell::Fish));
    }

    #[test]
    fn backend_and_openai_section_parse() {
        let c = parse(
            "backend = \"openai\"\n[openai]\nurl = \"http://h:8000/v1\"\nmodel = \"m\"\napi_key_env = \"K\"\ntimeout = 9\n",
        )
        .expect("valid config");
        assert_eq!(c.backend, Some(BackendKind::Openai));
        assert_eq!(c.openai.url.as_deref(), Some("http://h:8000/v1"));
        assert_eq!(c.openai.timeout, Some(9));
        assert!(
            parse("[openai]\napi_key = \"sk-x\"\n").is_err(),
            "no key in the file"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("threads = 2\n\nthredas = 3\n").expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.starts_with("/x/config.toml:3:"), "{msg}");
        assert!(msg.contains("thredas"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn wrong_type_names_line() {
        let err = parse("shell = \"zsh\"\nthreads = \"many\"\n").expect_err("bad type");
        assert!(err.to_string().starts_with("/x/config.toml:2:"), "{err}");
    }

    #[test]
    fn unknown_shell_names_line() {
        let err = parse("threads = 2\nshell = \"tcsh\"\n").expect_err("bad shell");
        assert!(err.to_string().starts_with("/x/config.toml:2:"), "{err}");
    }

    #[test]
    fn broken_syntax_is_an_error_not_a_panic() {
        assert!(parse("threads = [\n").is_err());
        assert!(parse("[daemon\n").is_err());
    }
}
