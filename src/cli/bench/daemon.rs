//! `caro bench --daemon`: the thin client's overhead, a cold start, and warm latency
//! through the daemon compared with in-process generation, all through real processes
//! and a private runtime directory (the user's own daemon is left alone).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use super::requests::EVERYDAY_REQUESTS;
use crate::daemon::percentile;
use crate::error::{CaroError, exit};
use crate::settings::{BackendKind, Settings};

const PINGS: usize = 200;
/// In-process runs pay a model load each; a few show the difference.
const NO_DAEMON_RUNS: usize = 3;

struct Bench {
    exe: PathBuf,
    run_dir: PathBuf,
    model: PathBuf,
    threads: usize,
    /// What answers: the local model and its threads, or the server.
    engine: String,
}

impl Bench {
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.env("XDG_RUNTIME_DIR", &self.run_dir)
            .env("CARO_MODEL", &self.model)
            .env("CARO_THREADS", self.threads.to_string())
            .stdin(Stdio::null());
        c
    }

    fn timed(&self, args: &[&str]) -> Result<(f64, Output), CaroError> {
        let t = Instant::now();
        let out = self
            .cmd()
            .args(args)
            .output()
            .map_err(|e| CaroError::Other(format!("cannot run caro: {e}")))?;
        Ok((t.elapsed().as_secs_f64() * 1e3, out))
    }
}

fn stats(v: &[f64]) -> String {
    format!(
        "p50 {:.1} ms · p95 {:.1} ms",
        percentile(v.to_vec(), 50.0).unwrap_or(0.0),
        percentile(v.to_vec(), 95.0).unwrap_or(0.0)
    )
}

pub fn run(s: &Settings) -> Result<i32, CaroError> {
    let exe = std::env::current_exe().map_err(|e| CaroError::Other(e.to_string()))?;
    let run_dir = std::env::temp_dir().join(format!("caro-bench-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).map_err(|e| CaroError::Other(e.to_string()))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700));
    let b = Bench {
        exe,
        run_dir,
        model: s.model.clone(),
        threads: s.threads,
        engine: match s.backend {
            BackendKind::Local => format!("model {} · {} threads", s.model.display(), s.threads),
            BackendKind::Openai => format!("server {} · model {}", s.openai.url, s.openai.model),
        },
    };
    let result = measure(&b);
    let _ = b.cmd().args(["daemon", "stop"]).output();
    let _ = std::fs::remove_dir_all(&b.run_dir);
    result
}

fn measure(b: &Bench) -> Result<i32, CaroError> {
    crate::outln!("caro bench --daemon · {}", b.engine);
    let (cold, out) = b.timed(&[
        "complete-line",
        "--shell",
        "bash",
        "--",
        EVERYDAY_REQUESTS[0],
    ])?;
    if !out.status.success() {
        return Err(CaroError::Other(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    crate::outln!(
        "cold start      {cold:>8.0} ms (no daemon → first answer, includes load, warm-up, system prompt)"
    );

    let mut pings = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        pings.push(b.timed(&["daemon", "ping"])?.0);
    }
    crate::outln!(
        "client ping     {} (process start + connect + round trip, {PINGS} runs)",
        stats(&pings)
    );

    let mut warm = Vec::new();
    for req in EVERYDAY_REQUESTS {
        let (ms, out) = b.timed(&["--json", "--shell", "bash", req])?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        crate::outln!(
            "  {ms:>6.0} ms  prefill {:>3} tok (cached {:>3})  {req:<58} → {}",
            v["stats"]["prefill_tokens"],
            v["stats"]["cached_tokens"],
            v["command"].as_str().unwrap_or("?")
        );
        warm.push(ms);
    }
    crate::outln!("warm, daemon    {}", stats(&warm));

    let mut direct = Vec::new();
    for req in &EVERYDAY_REQUESTS[..NO_DAEMON_RUNS] {
        direct.push(b.timed(&["--no-daemon", "--shell", "bash", req])?.0);
    }
    let p50 = |v: &[f64]| percentile(v.to_vec(), 50.0).unwrap_or(0.0);
    crate::outln!(
        "--no-daemon     {} (first {NO_DAEMON_RUNS} requests) → daemon is {:.1}× faster at p50",
        stats(&direct),
        p50(&direct) / p50(&warm).max(1e-9)
    );
    Ok(exit::OK)
}
