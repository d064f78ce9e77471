//! Errors as the user sees them: one line, an optional hint, and an exit code. Every
//! failure is rendered here, once, at the edge of the program.

use crate::daemon::DaemonError;
use crate::daemon::protocol::ErrorCode;
use crate::engine::EngineError;
use crate::engine::openai::RemoteError;
use crate::model::ModelError;
use crate::settings::ConfigError;

/// Exit codes (documented in the README).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const MODEL_MISSING: i32 = 3;
    pub const MODEL_INVALID: i32 = 4;
    pub const BAD_REQUEST: i32 = 5;
    pub const CONFIG: i32 = 6;
    pub const DAEMON: i32 = 7;
    pub const DOWNLOAD: i32 = 8;
    pub const DANGEROUS: i32 = 10;
    pub const CANCELLED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum CaroError {
    #[error("config error: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Other(String),
}

impl From<ModelError> for CaroError {
    fn from(e: ModelError) -> Self {
        Self::Engine(EngineError::Model(e))
    }
}

fn engine_exit_code(e: &EngineError) -> i32 {
    match e {
        EngineError::Model(ModelError::NotFound { .. }) => exit::MODEL_MISSING,
        EngineError::Model(
            ModelError::NotGguf { .. }
            | ModelError::Corrupt { .. }
            | ModelError::UnsupportedArch { .. }
            | ModelError::Tokenizer(_),
        ) => exit::MODEL_INVALID,
        EngineError::Model(_)
        | EngineError::NoCommand
        | EngineError::Remote(_)
        | EngineError::Device { .. } => exit::FAILURE,
        EngineError::EmptyRequest | EngineError::RequestTooLong { .. } => exit::BAD_REQUEST,
        EngineError::Cancelled => exit::CANCELLED,
    }
}

fn engine_hint(e: &EngineError) -> Option<String> {
    Some(match e {
        EngineError::Model(ModelError::NotFound { .. }) => {
            "run `caro model pull`, or point CARO_MODEL (or --model) at a .gguf file".into()
        }
        EngineError::Model(
            ModelError::NotGguf { .. } | ModelError::Corrupt { .. } | ModelError::UnsupportedArch { .. },
        ) => "download it again with `caro model pull`, or point CARO_MODEL at a Qwen2.5-Coder GGUF file".into(),
        EngineError::EmptyRequest => "say what you want to do, e.g. caro \"list files by size\"".into(),
        EngineError::RequestTooLong { .. } => "shorten the request".into(),
        EngineError::NoCommand => "rephrase the request, or try again for another answer".into(),
        EngineError::Remote(r) => return remote_hint(r),
        EngineError::Device { device, .. } => device_hint(*device),
        _ => return None,
    })
}

fn device_hint(device: crate::settings::DeviceSetting) -> String {
    use crate::settings::DeviceSetting;
    let feature = match device {
        DeviceSetting::Metal(_) => "metal",
        _ => "cuda",
    };
    format!(
        "set device = \"cpu\" (CARO_DEVICE=cpu), or use a caro built with `--features {feature}` on a machine with that GPU"
    )
}

fn remote_hint(e: &RemoteError) -> Option<String> {
    Some(match e {
        RemoteError::Unreachable { .. } => {
            "start the server, or fix [openai] url (CARO_OPENAI_URL); `caro doctor` checks it".into()
        }
        RemoteError::Unauthorized { .. } => {
            "put the key in the variable that [openai] api_key_env names (CARO_OPENAI_API_KEY_ENV)"
                .into()
        }
        RemoteError::MissingKey { var } => format!("export {var}=<your API key>"),
        RemoteError::UnknownModel { .. } => {
            "set [openai] model (CARO_OPENAI_MODEL) to a name the server lists; `caro doctor` shows them"
                .into()
        }
        RemoteError::Busy { .. } => "try again in a moment".into(),
        RemoteError::Timeout { .. } => "raise [openai] timeout, or check the server".into(),
        RemoteError::Empty => "rephrase the request, or try again for another answer".into(),
        RemoteError::Dropped { .. }
        | RemoteError::ServerError { .. }
        | RemoteError::Rejected { .. }
        | RemoteError::Malformed { .. }
        | RemoteError::Truncated => "see the server's log".into(),
    })
}

impl CaroError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) => exit::CONFIG,
            Self::Usage(_) => exit::USAGE,
            Self::Other(_) => exit::FAILURE,
            Self::Store(_) => exit::DOWNLOAD,
            Self::Engine(e) => engine_exit_code(e),
            Self::Daemon(e) => match e {
                DaemonError::Engine(e) => engine_exit_code(e),
                DaemonError::Cancelled
                | DaemonError::Remote {
                    code: ErrorCode::Cancelled,
                    ..
                } => exit::CANCELLED,
                DaemonError::StartFailed { code, .. } if *code != 0 => *code,
                DaemonError::Remote {
                    code: ErrorCode::EmptyRequest | ErrorCode::RequestTooLong | ErrorCode::TooLarge,
                    ..
                } => exit::BAD_REQUEST,
                // As without the daemon: the server, not caro's daemon, failed.
                DaemonError::Remote {
                    code: ErrorCode::BackendUnavailable,
                    ..
                } => exit::FAILURE,
                _ => exit::DAEMON,
            },
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Config(ConfigError::Parse { path, .. }) => {
                format!(
                    "fix or remove {}; `caro config show` prints the settings in effect",
                    path.display()
                )
            }
            Self::Config(ConfigError::Instructions { path, .. }) => {
                format!("shorten {}: they go into every prompt", path.display())
            }
            Self::Config(ConfigError::Env { key, .. }) => {
                format!("unset {key} or give it a valid value")
            }
            Self::Engine(e) | Self::Daemon(DaemonError::Engine(e)) => return engine_hint(e),
            Self::Store(e) => return e.hint(),
            Self::Daemon(DaemonError::StartTimeout(_)) => {
                "see daemon.log in the runtime directory, or raise CARO_START_TIMEOUT".into()
            }
            Self::Daemon(DaemonError::Remote {
                code: ErrorCode::Busy,
                ..
            }) => "try again in a moment".into(),
            Self::Daemon(DaemonError::Remote {
                code: ErrorCode::BackendUnavailable,
                ..
            }) => "`caro doctor` checks the server and its settings".into(),
            Self::Daemon(DaemonError::RunDir(_)) => {
                "fix the directory's owner and mode (0700), or set XDG_RUNTIME_DIR".into()
            }
            _ => return None,
        })
    }

    /// The message and hint on one line, for the shell widgets.
    pub fn one_line(&self) -> String {
        match self.hint() {
            Some(h) => format!("caro: {self}; {h}"),
            None => format!("caro: {self}"),
        }
    }
}
