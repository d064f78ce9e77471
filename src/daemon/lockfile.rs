//! Advisory locks (flock) on the pid and start-lock files. The kernel drops a lock
//! when its holder dies, so a lock that can be taken proves nobody holds it: that is
//! how a stale pid file from a killed daemon is told apart from a live one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// Takes an exclusive lock without waiting; `None` when someone else holds it.
pub fn try_exclusive(path: &Path) -> std::io::Result<Option<Flock<File>>> {
    match Flock::lock(open(path)?, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

/// Whether a live process holds the lock on `path` (a missing file means no).
pub fn is_held(path: &Path) -> std::io::Result<bool> {
    let file = match OpenOptions::new().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_) => Ok(false),
        Err((_, Errno::EWOULDBLOCK)) => Ok(true),
        Err((_, e)) => Err(e.into()),
    }
}

pub fn write_pid(lock: &Flock<File>, pid: u32) -> std::io::Result<()> {
    let mut f: &File = lock;
    f.set_len(0)?;
    f.rewind()?;
    writeln!(f, "{pid}")?;
    f.sync_data()
}

pub fn read_pid(path: &Path) -> Option<u32> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}
