//! The shells caro writes commands for and integrates with.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A shell: the target of generated commands, `caro init`, `caro completions`, and the
/// daemon protocol's `shell` field (as its lower-case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    Zsh,
    Bash,
    Fish,
    Sh,
}

impl Shell {
    pub const ALL: [Shell; 4] = [Self::Zsh, Self::Bash, Self::Fish, Self::Sh];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zsh => "zsh",
            Self::Bash => "bash",
            Self::Fish => "fish",
            Self::Sh => "sh",
        }
    }

    /// The shell a login shell path such as `/usr/bin/zsh` names; `sh` for any shell
    /// caro does not know, since its commands are the safest guess there.
    pub fn from_program(path: &str) -> Shell {
        Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .unwrap_or(Self::Sh)
    }
}

impl fmt::Display for Shell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown shell {0:?} (known: zsh, bash, fish, sh)")]
pub struct UnknownShell(pub String);

impl FromStr for Shell {
    type Err = UnknownShell;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sh| sh.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownShell(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for sh in Shell::ALL {
            assert_eq!(sh.to_string().parse::<Shell>(), Ok(sh));
            let json = serde_json::to_string(&sh).expect("serialize");
            assert_eq!(json, format!("\"{sh}\""));
            assert_eq!(serde_json::from_str::<Shell>(&json).ok(), Some(sh));
        }
        assert_eq!("ZSH".parse::<Shell>(), Ok(Shell::Zsh));
        assert!("tcsh".parse::<Shell>().is_err());
        assert!(serde_json::from_str::<Shell>("\"tcsh\"").is_err());
    }

    #[test]
    fn login_shell_path_is_reduced_to_a_known_shell() {
        assert_eq!(Shell::from_program("/usr/bin/zsh"), Shell::Zsh);
        assert_eq!(Shell::from_program("/opt/homebrew/bin/fish"), Shell::Fish);
        assert_eq!(Shell::from_program("/bin/tcsh"), Shell::Sh);
        assert_eq!(Shell::from_program(""), Shell::Sh);
    }
}
