//! The daemon: loads the model once, keeps the system prompt cached in every worker
//! session, and answers requests on a Unix socket until it is idle for too long or
//! told to stop. It is transport only (socket, queue, cancel, status): what a request
//! is answered with is the engine's `Translator`'s business, as in `caro --no-daemon`.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

use super::protocol::{
    self, Candidate, DaemonStatus, Done, ErrorCode, Event, GenerateParams, LineError,
    PROTOCOL_VERSION, Request, Stage,
};
use super::rundir::RunDir;
use super::stats::{Latencies, peak_rss_mb, rss_mb};
use super::{DaemonError, lockfile};
use crate::engine::candle::{CandleBackend, LoadOptions};
use crate::engine::command::CommandOptions;
use crate::engine::context::Context;
use crate::engine::openai::OpenAiBackend;
use crate::engine::translator::{Ask, Translator};
use crate::engine::{Backend, CancelToken, EngineError, prompt};
use crate::settings::{BackendKind, Settings};

struct Shared {
    translator: Translator<Box<dyn Backend>>,
    settings: Settings,
    rundir: RunDir,
    started: Instant,
    load_ms: f64,
    warmup_ms: f64,
    in_flight: AtomicUsize,
    served: AtomicU64,
    last_activity: Mutex<Instant>,
    latencies: Latencies,
    cancels: Mutex<HashMap<u64, CancelToken>>,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the daemon in the foreground until it stops; returns the exit code.
pub fn run(settings: &Settings) -> Result<i32, DaemonError> {
    let rundir = RunDir::locate();
    rundir.ensure()?;
    let pid_lock = lockfile::try_exclusive(&rundir.pid_file())?.ok_or_else(|| {
        DaemonError::AlreadyRunning(lockfile::read_pid(&rundir.pid_file()).unwrap_or(0))
    })?;

    // Signals are taken by one thread with sigwait; block them before any thread exists
    // so every thread inherits the mask.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    signals
        .thread_block()
        .map_err(|e| DaemonError::Io(e.into()))?;

    let (backend, load_ms, warmup_ms) = match settings.backend {
        // The server holds the model: nothing to load, ready in milliseconds.
        BackendKind::Openai => {
            eprintln!(
                "caro daemon: answering through {} ({})",
                settings.openai.url, settings.openai.model
            );
            let b: Box<dyn Backend> =
                Box::new(OpenAiBackend::new(&settings.openai, settings.workers));
            (b, 0.0, 0.0)
        }
        BackendKind::Local => {
            let (b, load_ms, warmup_ms) = load_local(settings)?;
            (Box::new(b) as Box<dyn Backend>, load_ms, warmup_ms)
        }
    };

    let listener = bind(&rundir.socket())?;
    lockfile::write_pid(&pid_lock, std::process::id())?;
    let shared = Arc::new(Shared {
        translator: {
            let t = Translator::new(backend).with_trial_setting(settings.trial);
            t.set_instructions(settings.instructions.as_deref());
            t
        },
        settings: settings.clone(),
        rundir,
        started: Instant::now(),
        load_ms,
        warmup_ms,
        in_flight: AtomicUsize::new(0),
        served: AtomicU64::new(0),
        last_activity: Mutex::new(Instant::now()),
        latencies: Latencies::default(),
        cancels: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        shutting_down: AtomicBool::new(false),
    });
    eprintln!(
        "caro daemon: ready on {} (pid {}, {} worker(s), {} threads)",
        shared.rundir.socket().display(),
        std::process::id(),
        settings.workers,
        shared.translator.backend().info().threads
    );

    {
        let shared = shared.clone();
        std::thread::spawn(move || {
            if let Ok(sig) = signals.wait() {
                eprintln!("caro daemon: {sig}, stopping");
            }
            shutdown(&shared);
        });
    }
    {
        let shared = shared.clone();
        std::thread::spawn(move || idle_watchdog(&shared));
    }

    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let shared = shared.clone();
        std::thread::spawn(move || {
            *lock(&shared.last_activity) = Instant::now();
            if let Err(e) = serve(&shared, stream) {
                tracing::debug!("connection ended: {e}");
            }
            *lock(&shared.last_activity) = Instant::now();
        });
    }
    // `incoming` never ends; the process exits from `shutdown`.
    drop(pid_lock);
    Ok(0)
}

/// Loads caro's own engine, warms it up and caches the preamble; returns it with the
/// load and warm-up times in milliseconds.
fn load_local(settings: &Settings) -> Result<(CandleBackend, f64, f64), DaemonError> {
    let t = Instant::now();
    eprintln!("caro daemon: loading {}", settings.model.display());
    let backend = CandleBackend::load(
        &settings.model,
        &LoadOptions {
            sessions: settings.workers,
            context_cap: settings.context,
            prefix_cache: settings.prefix_cache.clone(),
            device: settings.device,
            speculate: settings.speculate,
        },
    )?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let warmup_ms = backend.warm_up()?.as_secs_f64() * 1e3;
    let t = Instant::now();
    backend.prepare(&prompt::preamble_for(settings.instructions.as_deref()))?;
    eprintln!(
        "caro daemon: loaded in {load_ms:.0} ms, warm-up {warmup_ms:.0} ms, preamble ({} tokens) {} in {:.0} ms",
        backend.cached_prefix_tokens(),
        if backend.prefix_store_hits() > 0 {
            "read from the prefix cache"
        } else {
            "computed"
        },
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok((backend, load_ms, warmup_ms))
}

fn bind(path: &Path) -> Result<UnixListener, DaemonError> {
    // We hold the pid lock, so a socket file here belongs to a dead daemon.
    let _ = std::fs::remove_file(path);
    // Create the socket 0600 from the start rather than chmod after a window.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let listener = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let listener = listener.map_err(DaemonError::Io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(DaemonError::Io)?;
    Ok(listener)
}

fn idle_watchdog(shared: &Shared) {
    let timeout = Duration::from_secs(shared.settings.idle_timeout_secs.max(1));
    loop {
        std::thread::sleep(Duration::from_millis(250).min(timeout));
        let idle = lock(&shared.last_activity).elapsed();
        if shared.in_flight.load(Ordering::SeqCst) == 0 && idle >= timeout {
            eprintln!("caro daemon: idle for {}s, exiting", idle.as_secs());
            shutdown(shared);
        }
    }
}

/// Cancels running requests, gives them a moment to answer, removes the socket and
/// pid file, and exits 0.
fn shutdown(shared: &Shared) -> ! {
    shared.shutting_down.store(true, Ordering::SeqCst);
    for c in lock(&shared.cancels).values() {
        c.cancel();
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while shared.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_file(shared.rundir.socket());
    let _ = std::fs::remove_file(shared.rundir.pid_file());
    eprintln!("caro daemon: stopped");
    std::process::exit(0)
}

fn send(stream: &mut UnixStream, event: &Event) -> std::io::Result<()> {
    protocol::write_json(stream, event)
}

fn fail(
    stream: &mut UnixStream,
    code: ErrorCode,
    message: impl Into<String>,
) -> std::io::Result<()> {
    send(
        stream,
        &Event::Error {
            code,
            message: message.into(),
        },
    )
}

fn serve(shared: &Arc<Shared>, mut stream: UnixStream) -> std::io::Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    match nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials) {
        Ok(cred) if cred.uid() == me => {}
        Ok(cred) => {
            eprintln!("caro daemon: refused a connection from uid {}", cred.uid());
            return fail(
                &mut stream,
                ErrorCode::Forbidden,
                "connection refused: the daemon belongs to another user",
            );
        }
        Err(e) => {
            return fail(
                &mut stream,
                ErrorCode::Forbidden,
                format!("cannot verify the peer: {e}"),
            );
        }
    }
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let line = match protocol::read_line(&mut reader) {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(()),
        Err(LineError::TooLarge) => {
            return fail(
                &mut stream,
                ErrorCode::TooLarge,
                format!("request line exceeds {} bytes", protocol::MAX_LINE),
            );
        }
        Err(LineError::NotUtf8) => {
            return fail(
                &mut stream,
                ErrorCode::BadRequest,
                "request is not valid UTF-8",
            );
        }
        Err(LineError::Io(e)) => return Err(e),
    };
    let request: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => {
            // A client from another build may send fields this daemon does not know:
            // that is a version mismatch (the client restarts us), not a bad request.
            if let Ok(vs) = serde_json::from_str::<protocol::Versions>(&line)
                && (vs.v.is_some_and(|v| v != PROTOCOL_VERSION)
                    || vs.client.is_some_and(|c| c != protocol::crate_version()))
            {
                return version_mismatch(&mut stream);
            }
            return fail(
                &mut stream,
                ErrorCode::BadRequest,
                format!("malformed request: {e}"),
            );
        }
    };
    let (v, client) = match &request {
        Request::Ping { v, client }
        | Request::Status { v, client }
        | Request::Shutdown { v, client } => (*v, client.as_str()),
        Request::Generate(p) => (p.v, p.client.as_str()),
        Request::Cancel { v } => (*v, protocol::crate_version()),
    };
    let shutdown_request = matches!(request, Request::Shutdown { .. });
    if !shutdown_request && (v != PROTOCOL_VERSION || client != protocol::crate_version()) {
        return version_mismatch(&mut stream);
    }
    match request {
        Request::Ping { .. } => send(
            &mut stream,
            &Event::Pong {
                v: PROTOCOL_VERSION,
                version: protocol::crate_version().into(),
                pid: std::process::id(),
            },
        ),
        Request::Status { .. } => send(&mut stream, &Event::Status(Box::new(status(shared)))),
        Request::Shutdown { .. } => {
            send(&mut stream, &Event::Bye)?;
            let shared = shared.clone();
            std::thread::spawn(move || shutdown(&shared));
            Ok(())
        }
        Request::Cancel { .. } => fail(
            &mut stream,
            ErrorCode::BadRequest,
            "nothing to cancel on a new connection",
        ),
        Request::Generate(p) => generate(shared, stream, reader, p),
    }
}

/// Tells a client of another build to restart the daemon.
fn version_mismatch(stream: &mut UnixStream) -> std::io::Result<()> {
    fail(
        stream,
        ErrorCode::VersionMismatch,
        format!(
            "daemon is version {} (protocol {PROTOCOL_VERSION})",
            protocol::crate_version()
        ),
    )
}

fn status(shared: &Shared) -> DaemonStatus {
    let backend = shared.translator.backend();
    let info = backend.info();
    DaemonStatus {
        pid: std::process::id(),
        version: protocol::crate_version().into(),
        uptime_secs: shared.started.elapsed().as_secs(),
        model: info.model,
        threads: info.threads,
        workers: info.sessions,
        queue: shared.settings.queue,
        busy: shared.in_flight.load(Ordering::SeqCst),
        requests_served: shared.served.load(Ordering::SeqCst),
        cached_prefix_tokens: backend.cached_prefix_tokens(),
        latency_p50_ms: shared.latencies.percentile(50.0),
        latency_p95_ms: shared.latencies.percentile(95.0),
        rss_mb: rss_mb(),
        peak_rss_mb: peak_rss_mb(),
        idle_timeout_secs: shared.settings.idle_timeout_secs,
        load_ms: shared.load_ms,
        warmup_ms: shared.warmup_ms,
    }
}

/// Decrements the in-flight count and forgets the cancel token however `generate` ends.
struct InFlight<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.shared.cancels).remove(&self.id);
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn generate(
    shared: &Arc<Shared>,
    mut stream: UnixStream,
    mut reader: BufReader<UnixStream>,
    p: GenerateParams,
) -> std::io::Result<()> {
    let received = Instant::now();
    if shared.shutting_down.load(Ordering::SeqCst) {
        return fail(
            &mut stream,
            ErrorCode::ShuttingDown,
            "the daemon is shutting down",
        );
    }
    let capacity = shared.settings.workers + shared.settings.queue;
    if shared.in_flight.fetch_add(1, Ordering::SeqCst) >= capacity {
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        return fail(
            &mut stream,
            ErrorCode::Busy,
            format!("busy: {capacity} requests already running or queued"),
        );
    }
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let cancel = CancelToken::new();
    lock(&shared.cancels).insert(id, cancel.clone());
    let _guard = InFlight { shared, id };

    // The client keeps the connection open while it waits; a `cancel` line or the
    // connection closing stops the generation.
    {
        let cancel = cancel.clone();
        stream.set_read_timeout(None)?;
        std::thread::spawn(move || {
            loop {
                match protocol::read_line(&mut reader) {
                    Ok(Some(line)) if line.contains("\"cancel\"") => break,
                    Ok(Some(_)) => continue,
                    _ => break,
                }
            }
            cancel.cancel();
        });
    }

    send(
        &mut stream,
        &Event::Progress {
            stage: Stage::Queued,
        },
    )?;
    let ctx = Context::detect(p.shell, Path::new(&p.cwd)).with_history(&p.history);
    let s = &shared.settings;
    let ask = Ask {
        request: &p.buffer,
        context: &ctx,
        options: CommandOptions::new(
            p.max_tokens.unwrap_or(s.max_tokens),
            p.temperature.unwrap_or(s.temperature),
            p.seed.unwrap_or(s.seed),
        ),
        alternative: p.alternative,
    };
    let mut writer = stream.try_clone()?;
    let mut on_token = |text: &str| {
        if send(
            &mut writer,
            &Event::Token {
                text: text.to_owned(),
            },
        )
        .is_err()
        {
            cancel.cancel();
        }
    };
    shared
        .translator
        .set_instructions(shared.settings.current_instructions().as_deref());
    let result = if p.candidates > 0 {
        shared
            .translator
            .candidates(&ask, p.candidates as usize, &mut on_token, &cancel)
    } else {
        shared
            .translator
            .translate(&ask, &mut on_token, &cancel)
            .map(|r| vec![r])
    };
    match result {
        Ok(answers) => {
            let elapsed_ms = received.elapsed().as_secs_f64() * 1e3;
            shared.latencies.record(elapsed_ms);
            shared.served.fetch_add(1, Ordering::SeqCst);
            let mut candidates: Vec<Candidate> = answers
                .iter()
                .map(|r| Candidate {
                    command: r.command.clone(),
                    verdict: crate::safety::check(&r.command),
                    unverified: r.verification.warning(),
                })
                .collect();
            let stats = answers
                .first()
                .map(|r| r.generation.stats.clone())
                .unwrap_or_default();
            if candidates.is_empty() {
                let _ = fail(
                    &mut stream,
                    ErrorCode::NoCommand,
                    EngineError::NoCommand.to_string(),
                );
                return Ok(());
            }
            let first = candidates[0].clone();
            if p.candidates == 0 {
                candidates.clear();
            }
            send(
                &mut stream,
                &Event::Done(Box::new(Done {
                    unverified: first.unverified,
                    command: first.command,
                    verdict: first.verdict,
                    stats,
                    elapsed_ms,
                    candidates,
                })),
            )?;
        }
        Err(e) => {
            let code = match &e {
                EngineError::Cancelled => ErrorCode::Cancelled,
                EngineError::EmptyRequest => ErrorCode::EmptyRequest,
                EngineError::RequestTooLong { .. } => ErrorCode::RequestTooLong,
                EngineError::NoCommand => ErrorCode::NoCommand,
                EngineError::Model(_) | EngineError::Device { .. } => ErrorCode::Internal,
                EngineError::Remote(_) => ErrorCode::BackendUnavailable,
            };
            let _ = fail(&mut stream, code, e.to_string());
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(())
}
