//! The daemon's private directory: `$XDG_RUNTIME_DIR/caro/`, else `/tmp/caro-$UID/`.
//! It must be a real directory owned by the user and closed to everyone else; a
//! directory that is not is refused rather than trusted.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("{} is owned by uid {owner}, not by you (uid {me}); refusing to use it", path.display())]
    WrongOwner { path: PathBuf, owner: u32, me: u32 },
    #[error("{} is accessible by other users (mode {mode:o}); refusing to use it", path.display())]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct RunDir {
    pub dir: PathBuf,
}

impl RunDir {
    /// The directory for the current user, by environment.
    pub fn locate() -> Self {
        let uid = nix::unistd::geteuid().as_raw();
        let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d).join("caro"),
            _ => std::env::temp_dir().join(format!("caro-{uid}")),
        };
        Self { dir }
    }

    /// Creates the directory (0700) if needed and checks it is safe to use.
    pub fn ensure(&self) -> Result<(), RunDirError> {
        let create = |e| RunDirError::Create {
            path: self.dir.clone(),
            source: e,
        };
        match std::fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&self.dir)
                    .map_err(create)?;
            }
            Err(e) => return Err(create(e)),
            Ok(_) => {}
        }
        self.check()
    }

    fn check(&self) -> Result<(), RunDirError> {
        let meta = std::fs::symlink_metadata(&self.dir).map_err(|e| RunDirError::Create {
            path: self.dir.clone(),
            source: e,
        })?;
        if !meta.is_dir() {
            return Err(RunDirError::NotADirectory(self.dir.clone()));
        }
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me {
            return Err(RunDirError::WrongOwner {
                path: self.dir.clone(),
                owner: meta.uid(),
                me,
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(RunDirError::TooOpen {
                path: self.dir.clone(),
                mode,
            });
        }
        Ok(())
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("daemon.sock")
    }
    /// Holds the daemon's pid; the daemon keeps an exclusive lock on it while alive.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("daemon.pid")
    }
    /// Serialises autostart between racing clients.
    pub fn start_lock(&self) -> PathBuf {
        self.dir.join("start.lock")
    }
    /// Where a daemon started in the background writes its log.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_directory() {
        let tmp = tempfile::tempdir().expect("tmp");
        let rd = RunDir {
            dir: tmp.path().join("a/caro"),
        };
        rd.ensure().expect("ensure");
        let mode = std::fs::metadata(&rd.dir)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn refuses_open_directory_and_symlink() {
        let tmp = tempfile::tempdir().expect("tmp");
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(matches!(
            RunDir { dir: open.clone() }.ensure(),
            Err(RunDirError::TooOpen { .. })
        ));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&open, &link).expect("symlink");
        assert!(matches!(
            RunDir { dir: link }.ensure(),
            Err(RunDirError::NotADirectory(_))
        ));
    }
}
