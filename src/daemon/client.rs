//! The client side: find the daemon, start it when it is not there, and talk to it.
//! Everything here is cheap: no model, no tokenizer, no config file.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::protocol::{
    self, DaemonStatus, Done, ErrorCode, Event, GenerateParams, PROTOCOL_VERSION, Request,
};
use super::rundir::RunDir;
use super::{DaemonError, lockfile};

const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);

pub struct Client {
    pub rundir: RunDir,
    start_timeout: Duration,
    /// Environment for a daemon this client starts (e.g. the model chosen by a flag).
    daemon_env: Vec<(String, String)>,
}

/// The caller's side of waiting: progress display and cancel keys.
pub trait Waiter {
    /// A descriptor that becomes readable when the user may have asked to cancel.
    fn cancel_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    /// Whether the user asked to cancel (reads pending input without blocking).
    fn cancel_requested(&mut self) -> bool {
        false
    }
    fn progress(&mut self, _p: Progress<'_>) {}
}

/// A waiter that shows nothing and never cancels.
pub struct Quiet;
impl Waiter for Quiet {}

/// What the caller is told while it waits for a daemon to come up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The model is loading in a daemon this client (or a racing one) started.
    Loading,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Self {
        let start_timeout = crate::settings::env::start_timeout_secs()
            .map_or(DEFAULT_START_TIMEOUT, Duration::from_secs);
        Self {
            rundir: RunDir::locate(),
            start_timeout,
            daemon_env: Vec::new(),
        }
    }

    /// Sets environment variables for a daemon this client may start.
    pub fn with_daemon_env(mut self, env: Vec<(String, String)>) -> Self {
        self.daemon_env = env;
        self
    }

    /// Connects to a running daemon; `None` when none is listening.
    pub fn try_connect(&self) -> Result<Option<UnixStream>, DaemonError> {
        match UnixStream::connect(self.rundir.socket()) {
            Ok(s) => Ok(Some(s)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(DaemonError::Io(e)),
        }
    }

    /// Connects, starting a daemon first when none is running.
    pub fn connect_or_start(&self, waiter: &mut dyn Waiter) -> Result<UnixStream, DaemonError> {
        if let Some(s) = self.try_connect()? {
            return Ok(s);
        }
        self.start(waiter)?;
        self.try_connect()?.ok_or(DaemonError::NotRunning)
    }

    /// Starts a daemon unless one is running; returns its pid. Racing clients serialise
    /// on the start lock, so exactly one daemon is started.
    pub fn start(&self, waiter: &mut dyn Waiter) -> Result<u32, DaemonError> {
        self.rundir.ensure()?;
        if let Some(pid) = self.running_pid()? {
            return Ok(pid);
        }
        let mut wait = || -> Result<(), DaemonError> {
            waiter.progress(Progress::Waiting(Wait::Loading));
            if waiter.cancel_requested() {
                return Err(DaemonError::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(25));
            Ok(())
        };
        let _start = loop {
            match lockfile::try_exclusive(&self.rundir.start_lock())? {
                Some(lock) => break lock,
                None => wait()?,
            }
        };
        // Whoever held the lock before us may have started it.
        if let Some(pid) = self.running_pid()? {
            return Ok(pid);
        }
        self.clean_stale()?;
        let log = std::fs::File::create(self.rundir.log_file())?;
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.arg("daemon")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .envs(self.daemon_env.iter().map(|(k, v)| (k, v)));
        // A session of its own: the daemon must not get the terminal's SIGINT/SIGHUP.
        // SAFETY: setsid is async-signal-safe, as required between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + self.start_timeout;
        loop {
            if self.try_connect()?.is_some() {
                // Reap it later: it lives on in its own session.
                std::thread::spawn(move || child.wait());
                return self.pid();
            }
            if let Some(status) = child.try_wait()? {
                return Err(DaemonError::StartFailed {
                    message: failure_from_log(&self.rundir.log_file()),
                    code: status.code().unwrap_or(1),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(DaemonError::StartTimeout(self.start_timeout));
            }
            if let Err(e) = wait() {
                // The daemon goes on loading for the next request; only this wait ends.
                std::thread::spawn(move || child.wait());
                return Err(e);
            }
        }
    }

    /// Removes a socket and pid file whose daemon is gone (its pid lock is free).
    fn clean_stale(&self) -> Result<(), DaemonError> {
        if !lockfile::is_held(&self.rundir.pid_file())? {
            let _ = std::fs::remove_file(self.rundir.socket());
            let _ = std::fs::remove_file(self.rundir.pid_file());
        }
        Ok(())
    }

    /// The pid of the daemon answering on the socket; `None` when none is. A daemon
    /// that was just killed can still accept a connection while its last threads exit,
    /// then reset it: that is a daemon going away, so the socket is tried again (a
    /// bounded number of times) until it refuses.
    fn running_pid(&self) -> Result<Option<u32>, DaemonError> {
        let mut last = None;
        for _ in 0..DYING_DAEMON_TRIES {
            if self.try_connect()?.is_none() {
                return Ok(None);
            }
            match self.pid() {
                Err(e @ (DaemonError::Protocol(_) | DaemonError::Io(_))) => {
                    tracing::debug!("the daemon on the socket reset the ping: {e}");
                    last = Some(e);
                    std::thread::sleep(Duration::from_millis(25));
                }
                other => return other.map(Some),
            }
        }
        Err(last.unwrap_or(DaemonError::NotRunning))
    }

    fn pid(&self) -> Result<u32, DaemonError> {
        match self.request(&Request::Ping {
            v: PROTOCOL_VERSION,
            client: protocol::crate_version().into(),
        })? {
            Some(Event::Pong { pid, .. }) => Ok(pid),
            Some(Event::Error { code, message }) => Err(DaemonError::Remote { code, message }),
            _ => Err(DaemonError::Protocol("unexpected answer to ping".into())),
        }
    }

    /// Sends one request and reads one event. `None` when no daemon is running.
    pub fn request(&self, req: &Request) -> Result<Option<Event>, DaemonError> {
        let Some(mut s) = self.try_connect()? else {
            return Ok(None);
        };
        protocol::write_json(&mut s, req)?;
        let mut reader = BufReader::new(s);
        read_event(&mut reader).map(Some)
    }

    pub fn status(&self) -> Result<Option<DaemonStatus>, DaemonError> {
        match self.request(&Request::Status {
            v: PROTOCOL_VERSION,
            client: protocol::crate_version().into(),
        })? {
            None => Ok(None),
            Some(Event::Status(s)) => Ok(Some(*s)),
            Some(Event::Error { code, message }) => Err(DaemonError::Remote { code, message }),
            Some(_) => Err(DaemonError::Protocol("unexpected answer to status".into())),
        }
    }

    /// Asks the daemon to exit and waits until it has; `false` when none was running.
    pub fn stop(&self) -> Result<bool, DaemonError> {
        let req = Request::Shutdown {
            v: PROTOCOL_VERSION,
            client: protocol::crate_version().into(),
        };
        if self.request(&req)?.is_none() {
            self.clean_stale()?;
            return Ok(false);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !lockfile::is_held(&self.rundir.pid_file())? {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(DaemonError::Protocol(
            "the daemon did not stop within 10 s".into(),
        ))
    }

    /// Runs a generation, restarting a daemon from another version first.
    pub fn generate(
        &self,
        params: &GenerateParams,
        waiter: &mut dyn Waiter,
    ) -> Result<Done, DaemonError> {
        for attempt in 0..2 {
            let stream = self.connect_or_start(waiter)?;
            match run_generation(stream, params, waiter) {
                Err(DaemonError::Remote {
                    code: ErrorCode::VersionMismatch,
                    ..
                }) if attempt == 0 => {
                    tracing::info!("daemon from another version; restarting it");
                    self.stop()?;
                }
                // A daemon from before a field was added rejects the request as
                // malformed; its answer to a ping says whether that is the reason.
                Err(DaemonError::Remote {
                    code: ErrorCode::BadRequest,
                    message,
                }) if attempt == 0 => match self.pid() {
                    Err(DaemonError::Remote {
                        code: ErrorCode::VersionMismatch,
                        ..
                    }) => {
                        tracing::info!("daemon from another version; restarting it");
                        self.stop()?;
                    }
                    _ => {
                        return Err(DaemonError::Remote {
                            code: ErrorCode::BadRequest,
                            message,
                        });
                    }
                },
                other => return other,
            }
        }
        Err(DaemonError::Protocol(
            "daemon version mismatch persists after restart".into(),
        ))
    }
}

/// Pings of a daemon that resets them before it is taken for gone (25 ms apart).
const DYING_DAEMON_TRIES: usize = 40;

/// What a waiting client can show.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    Waiting(Wait),
    /// Time since the request was sent; called every few tens of milliseconds.
    Tick(Duration),
    Token(&'a str),
}

fn read_event<R: BufRead>(r: &mut R) -> Result<Event, DaemonError> {
    match protocol::read_line(r) {
        Ok(Some(line)) => serde_json::from_str(&line)
            .map_err(|e| DaemonError::Protocol(format!("bad event from daemon: {e}"))),
        Ok(None) => Err(DaemonError::Protocol(
            "the daemon closed the connection".into(),
        )),
        Err(e) => Err(DaemonError::Protocol(e.to_string())),
    }
}

fn run_generation(
    mut stream: UnixStream,
    params: &GenerateParams,
    waiter: &mut dyn Waiter,
) -> Result<Done, DaemonError> {
    protocol::write_json(&mut stream, &Request::Generate(params.clone()))?;
    let started = Instant::now();
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        if reader.buffer().is_empty() {
            let ready = {
                let mut fds = vec![PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
                if let Some(fd) = waiter.cancel_fd() {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::from(50u16)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(DaemonError::Io(e.into())),
                }
                let tty_ready = fds
                    .get(1)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty());
                let sock_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
                (sock_ready, tty_ready)
            };
            if ready.1 && waiter.cancel_requested() {
                let _ = protocol::write_json(
                    &mut stream,
                    &Request::Cancel {
                        v: PROTOCOL_VERSION,
                    },
                );
                return Err(DaemonError::Cancelled);
            }
            if !ready.0 {
                waiter.progress(Progress::Tick(started.elapsed()));
                continue;
            }
        }
        match read_event(&mut reader)? {
            Event::Token { text } => waiter.progress(Progress::Token(&text)),
            Event::Progress { .. } => waiter.progress(Progress::Tick(started.elapsed())),
            Event::Done(done) => return Ok(*done),
            Event::Error { code, message } => return Err(DaemonError::Remote { code, message }),
            other => return Err(DaemonError::Protocol(format!("unexpected event {other:?}"))),
        }
    }
}

/// The error a daemon that failed to start wrote to its log, as one line.
fn failure_from_log(path: &std::path::Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let error = lines.iter().rposition(|l| l.contains("error:"));
    match error {
        Some(i) => {
            let msg = lines[i]
                .split_once("error:")
                .map_or(lines[i], |(_, m)| m.trim());
            match lines.get(i + 1).and_then(|l| l.strip_prefix("hint:")) {
                Some(h) => format!("{msg}; {}", h.trim()),
                None => msg.to_owned(),
            }
        }
        None => lines.last().map_or_else(
            || "the daemon exited during start-up".into(),
            |l| (*l).to_owned(),
        ),
    }
}
