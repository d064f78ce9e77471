//! The warm daemon: keeps the model loaded and the system prompt cached, and serves
//! clients (`caro complete-line`, `caro "<request>"`) over a private Unix socket.

pub mod client;
mod lockfile;
pub mod protocol;
pub mod rundir;
pub mod server;
mod stats;

pub use stats::{peak_rss_mb, percentile, proc_status_kb, rss_mb};

use crate::engine::EngineError;
use protocol::ErrorCode;
use rundir::RunDirError;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error("a daemon is already running (pid {0})")]
    AlreadyRunning(u32),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("daemon: {0}")]
    Io(#[from] std::io::Error),
    #[error("the daemon could not start: {message}")]
    StartFailed { message: String, code: i32 },
    #[error("the daemon did not become ready within {}s", .0.as_secs())]
    StartTimeout(std::time::Duration),
    #[error("daemon protocol: {0}")]
    Protocol(String),
    #[error("{message}")]
    Remote { code: ErrorCode, message: String },
    #[error("cancelled")]
    Cancelled,
    #[error("no daemon is running")]
    NotRunning,
}
