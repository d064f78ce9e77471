//! Running a helper program (`man -w`, `PROG --help`, `fish --no-execute`) with a time
//! limit, never through a shell.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished helper printed.
pub struct Output {
    /// None when it was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with stdin closed, killing it (and anything it started) after `limit`.
/// None when it could not start or had to be killed: no answer is no table.
pub fn run(mut cmd: Command, limit: Duration) -> Option<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a kill reaches anything it started as well.
        .process_group(0);
    let mut child = cmd.spawn().ok()?;
    let pid = child.id() as libc::pid_t;
    // Readers on threads: a helper printing more than a pipe holds would otherwise
    // block forever waiting for us.
    let stdout = child.stdout.take().map(reader);
    let stderr = child.stderr.take().map(reader);
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        // SAFETY: kill(2) on the process group of our own child, which has not been
        // reaped yet, so the group cannot belong to anyone else.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = child.wait();
        return None;
    };
    let join = |h: Option<std::thread::JoinHandle<String>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    Some(Output {
        code: status.code(),
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // A cap keeps a runaway helper from filling memory.
        let _ = r.by_ref().take(4 << 20).read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}
