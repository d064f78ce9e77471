use std::io;
use std::path::{Path, PathBuf};

use indicatif::HumanBytes;

/// Everything the model store can fail with.
///
/// `Display` is one line meant for the user; [`StoreError::hint`] adds an
/// optional second line saying what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach {host}: no network, or the name does not resolve")]
    Offline { host: String },

    #[error("{file} is not downloaded and HF_HUB_OFFLINE forbids downloading it")]
    OfflineMode { file: String },

    #[error("connection to {host} refused: the server is down or the address is wrong")]
    ConnectionRefused { host: String },

    #[error("{file} not found on the server (HTTP 404 for {url})")]
    NotFound { file: String, url: String },

    #[error("the server refused access to {url} (HTTP {status})")]
    Unauthorized { status: u16, url: String },

    #[error("the server answered HTTP {status} for {url}")]
    Http { status: u16, url: String },

    #[error("network error talking to {host}: {detail}")]
    Network { host: String, detail: String },

    #[error("the server's answer for {url} is unusable: {detail}")]
    BadResponse { url: String, detail: String },

    #[error(
        "download of {file} stopped at {} of {} ({reason})",
        HumanBytes(*done),
        HumanBytes(*total)
    )]
    Interrupted {
        file: String,
        done: u64,
        total: u64,
        reason: String,
        /// True when the user asked to stop (Ctrl-C), false when the
        /// connection broke; only the latter is worth retrying on its own.
        cancelled: bool,
    },

    #[error(
        "checksum mismatch for {file}: expected sha256 {expected}, got {actual}; the file was removed"
    )]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
    },

    #[error("size mismatch for {file}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },

    #[error("the server's {file} has sha256 {remote}, but this caro expects {expected}")]
    RemoteChanged {
        file: String,
        expected: String,
        remote: String,
    },

    #[error("cannot check {file}: no sha256 is known for it")]
    NoChecksum { file: String },

    #[error("{}", disk_full_line(dir, *needed, *available))]
    DiskFull {
        dir: PathBuf,
        needed: Option<u64>,
        available: Option<u64>,
    },

    #[error("cannot write {}: {reason}", path.display())]
    PermissionDenied { path: PathBuf, reason: String },

    #[error("another download of {file} is already running")]
    Busy { file: String, lock: PathBuf },

    #[error("model {variant} ({file}) is not downloaded")]
    NotDownloaded { variant: String, file: String },

    #[error("unknown model variant {name:?}; known: {known}")]
    UnknownVariant { name: String, known: String },

    #[error("no cache directory: none of HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME is set")]
    NoCacheDir,

    #[error("model catalogue is invalid: {0}")]
    Catalog(String),

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn disk_full_line(dir: &Path, needed: Option<u64>, available: Option<u64>) -> String {
    match (needed, available) {
        (Some(n), Some(a)) => format!(
            "not enough disk space in {}: need {}, {} free",
            dir.display(),
            HumanBytes(n),
            HumanBytes(a)
        ),
        _ => format!("disk full while writing to {}", dir.display()),
    }
}

impl StoreError {
    /// A one-line suggestion of what to do next, where there is one.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::Offline { .. } => {
                "check your network; for a mirror set HF_ENDPOINT; to use a model file you already have, set CARO_MODEL=/path/to/model.gguf".into()
            }
            Self::OfflineMode { .. } => {
                "unset HF_HUB_OFFLINE to allow the download, or set CARO_MODEL=/path/to/model.gguf".into()
            }
            Self::ConnectionRefused { .. } => {
                "check HF_ENDPOINT (unset it to use huggingface.co) or try again later".into()
            }
            Self::NotFound { .. } => {
                "the file is not on this server; if HF_ENDPOINT points at a mirror, check that it mirrors this repository".into()
            }
            Self::Unauthorized { .. } => {
                "the repository may be gated or private: set HF_TOKEN to an access token that can read it".into()
            }
            Self::Http { status, .. } if *status >= 500 => {
                "the server has a problem; try again later, the download resumes where it stopped".into()
            }
            Self::Http { .. } => return None,
            Self::Network { .. } => {
                "try again; the download resumes where it stopped".into()
            }
            Self::BadResponse { .. } => {
                "HF_ENDPOINT must point at a Hugging Face hub or a faithful mirror".into()
            }
            Self::Interrupted { .. } => {
                "run the same command again to resume where it stopped".into()
            }
            Self::ChecksumMismatch { .. } | Self::SizeMismatch { .. } => {
                "run `caro model pull` again; if it repeats, a proxy or mirror (HF_ENDPOINT) is serving a different file".into()
            }
            Self::RemoteChanged { .. } => {
                "upgrade caro, or download the file yourself and set CARO_MODEL=/path/to/model.gguf".into()
            }
            Self::NoChecksum { .. } => {
                "run `caro model rm` and `caro model pull` to fetch it again with its checksum".into()
            }
            Self::DiskFull { .. } => {
                "free some space or set HF_HUB_CACHE to a bigger disk; what was downloaded is kept and the next run resumes".into()
            }
            Self::PermissionDenied { .. } => {
                "make the directory writable, or set HF_HUB_CACHE to a directory you own".into()
            }
            Self::Busy { lock, .. } => format!(
                "wait for the other `caro model pull` to finish (it holds {})",
                lock.display()
            ),
            Self::NotDownloaded { variant, .. } => format!("run `caro model pull {variant}`"),
            Self::NoCacheDir => "set HF_HOME or HF_HUB_CACHE to a writable directory".into(),
            Self::UnknownVariant { .. } | Self::Catalog(_) | Self::Io { .. } => return None,
        };
        Some(hint)
    }

    /// Whether trying the same download again, right away, may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Interrupted { cancelled, .. } => !cancelled,
            Self::Network { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Classifies a local file-system error, so that a full disk or a
    /// read-only directory gets its own message instead of a raw errno.
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        let errno = source.raw_os_error();
        if source.kind() == io::ErrorKind::StorageFull
            || errno == Some(libc::ENOSPC)
            || errno == Some(libc::EDQUOT)
        {
            let dir = if path.is_dir() {
                path.to_path_buf()
            } else {
                path.parent().unwrap_or(path).to_path_buf()
            };
            return Self::DiskFull {
                dir,
                needed: None,
                available: None,
            };
        }
        match source.kind() {
            io::ErrorKind::PermissionDenied => Self::PermissionDenied {
                path: path.to_path_buf(),
                reason: "permission denied".into(),
            },
            io::ErrorKind::ReadOnlyFilesystem => Self::PermissionDenied {
                path: path.to_path_buf(),
                reason: "read-only file system".into(),
            },
            _ => Self::Io {
                action,
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// Classifies a failure to get an HTTP answer at all.
    pub(crate) fn request(err: ureq::Error, url: &str) -> Self {
        let host = host_of(url);
        match err {
            ureq::Error::StatusCode(status) => Self::status(status, url, ""),
            ureq::Error::HostNotFound => Self::Offline { host },
            ureq::Error::Io(e) => Self::from_network_io(&e, host),
            ureq::Error::Timeout(t) => Self::Network {
                host,
                detail: format!("timed out ({t})"),
            },
            e @ (ureq::Error::Tls(_) | ureq::Error::Rustls(_)) => Self::Network {
                host,
                detail: format!("TLS: {}", one_line(&e.to_string())),
            },
            other => Self::Network {
                host,
                detail: one_line(&other.to_string()),
            },
        }
    }

    fn from_network_io(e: &io::Error, host: String) -> Self {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Self::ConnectionRefused { host },
            K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown | K::AddrNotAvailable => {
                Self::Offline { host }
            }
            // std reports getaddrinfo failures with an uncategorised kind, so
            // the message is the only way to tell "no DNS" from other errors.
            _ if e.to_string().contains("lookup address") => Self::Offline { host },
            _ => Self::Network {
                host,
                detail: one_line(&e.to_string()),
            },
        }
    }

    pub(crate) fn status(status: u16, url: &str, file: &str) -> Self {
        match status {
            404 => Self::NotFound {
                file: file.to_string(),
                url: url.to_string(),
            },
            401 | 403 => Self::Unauthorized {
                status,
                url: url.to_string(),
            },
            _ => Self::Http {
                status,
                url: url.to_string(),
            },
        }
    }
}

/// The `host[:port]` part of a URL, for messages.
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_one_line() {
        let errors = [
            StoreError::Offline { host: "h".into() },
            StoreError::DiskFull {
                dir: "/x".into(),
                needed: Some(10 << 20),
                available: Some(1 << 20),
            },
            StoreError::DiskFull {
                dir: "/x".into(),
                needed: None,
                available: None,
            },
            StoreError::Interrupted {
                file: "f".into(),
                done: 1 << 20,
                total: 3 << 20,
                reason: "connection lost".into(),
                cancelled: false,
            },
            StoreError::io(
                "write",
                Path::new("/x/y"),
                io::Error::from_raw_os_error(libc::ENOSPC),
            ),
        ];
        for e in &errors {
            let line = e.to_string();
            assert!(!line.contains('\n'), "{line}");
            if let Some(h) = e.hint() {
                assert!(!h.contains('\n'), "{h}");
            }
        }
    }

    #[test]
    fn os_errors_are_classified() {
        let p = Path::new("/nowhere/file");
        let full = StoreError::io("write", p, io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(matches!(full, StoreError::DiskFull { .. }), "{full:?}");
        let quota = StoreError::io("write", p, io::Error::from_raw_os_error(libc::EDQUOT));
        assert!(matches!(quota, StoreError::DiskFull { .. }), "{quota:?}");
        let denied = StoreError::io("write", p, io::Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(denied, StoreError::PermissionDenied { .. }));
        let ro = StoreError::io("write", p, io::Error::from_raw_os_error(libc::EROFS));
        assert!(matches!(ro, StoreError::PermissionDenied { .. }));
    }

    #[test]
    fn host_is_extracted() {
        assert_eq!(host_of("https://huggingface.co/a/b"), "huggingface.co");
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }
}
