//! A real llama.cpp `llama-server` for the remote-backend tests: built once by
//! `../shared/bench/llama-build.sh` (or named by `CARO_LLAMA_SERVER`), started on a free
//! port of 127.0.0.1 and killed with the test process. Skipped with a printed reason
//! when it cannot be had; required (a failure) under `CARO_REQUIRE_SERVER=1`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server, killed when dropped.
pub struct LlamaServer {
    child: Child,
    pub port: u16,
    pub url: String,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LlamaServer {
    /// Starts `llama-server` on `model` with extra arguments (e.g. `--api-key K`) and
    /// waits until it answers; `None` (after printing why) when it cannot be had and is
    /// not required.
    pub fn start(model: &Path, extra: &[&str], key: Option<&str>) -> Option<Self> {
        let mut args = vec!["-m".as_ref(), model.as_os_str()];
        // One slot: the whole context for one answer (the tests' long answers need it);
        // concurrent requests queue.
        args.extend(["-t", "2", "-c", "4096", "-np", "1"].map(std::ffi::OsStr::new));
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        Self::spawn(&args, key)
    }

    /// Starts `llama-server` as a router over the GGUF files in `dir`: it serves each
    /// under its file stem and, unlike a one-model server, refuses names it lacks.
    /// Nothing is loaded until a request names a model.
    pub fn start_router(dir: &Path) -> Option<Self> {
        Self::spawn(&["--models-dir".as_ref(), dir.as_os_str()], None)
    }

    fn spawn(args: &[&std::ffi::OsStr], key: Option<&str>) -> Option<Self> {
        let bin = binary()?;
        let port = free_port();
        let mut cmd = Command::new(&bin);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Dies with the thread that started it (see `shared_thread`), so a test run
        // that ends, panics or is killed leaves no server behind.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return unavailable(&format!("cannot start {}: {e}", bin.display())),
        };
        let mut server = Self {
            child,
            port,
            url: format!("http://127.0.0.1:{port}/v1"),
        };
        server.wait_ready(key);
        Some(server)
    }

    fn wait_ready(&mut self, key: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(180);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        loop {
            let mut req = agent.get(format!("http://127.0.0.1:{}/health", self.port));
            if let Some(k) = key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            if let Ok(r) = req.call()
                && r.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("llama-server exited while starting ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "llama-server did not get ready in 180 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the server now (to test a server that goes away).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }
}

/// Starts the server from a thread that lives as long as the process: the server's
/// parent-death signal fires when the starting *thread* ends, and test threads end
/// after each test.
pub fn shared_thread<T: Send + 'static>(start: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(start());
        loop {
            std::thread::park();
        }
    });
    rx.recv().expect("server thread")
}

fn required() -> bool {
    std::env::var("CARO_REQUIRE_SERVER").as_deref() == Ok("1")
}

fn unavailable<T>(why: &str) -> Option<T> {
    if required() {
        panic!("CARO_REQUIRE_SERVER=1 but {why}");
    }
    eprintln!("SKIPPED: {why} (CARO_REQUIRE_SERVER=1 makes this a failure)");
    None
}

/// The llama-server program: `CARO_LLAMA_SERVER`, else what llama-build.sh builds.
fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CARO_LLAMA_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/llama-build.sh");
    if !script.is_file() {
        return unavailable(&format!("{} is missing", script.display()));
    }
    let out = match Command::new(&script)
        .arg("llama-server")
        .stderr(Stdio::inherit())
        .output()
    {
        Ok(o) => o,
        Err(e) => return unavailable(&format!("cannot run {}: {e}", script.display())),
    };
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !path.is_file() {
        return unavailable("llama-server could not be built (see the output above)");
    }
    Some(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
