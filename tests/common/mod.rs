//! Shared helpers for end-to-end tests: the real binary, isolated XDG directories, the
//! tiny random model and the real model (skipped with a reason when absent locally,
//! required in CI through `CARO_REQUIRE_MODEL=1`).
#![allow(dead_code)]

pub mod llama_server;
pub mod tiny;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn caro_bin() -> &'static str {
    env!("CARGO_BIN_EXE_caro")
}

/// The real model, or `None` (after printing why) when it is absent and not required.
pub fn real_model() -> Option<PathBuf> {
    let file = caro::settings::default_model_file();
    let candidates = [
        std::env::var_os("CARO_TEST_MODEL").map(PathBuf::from),
        std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("caro/models").join(file)),
        std::env::home_dir().map(|h| h.join(".cache/caro/models").join(file)),
    ];
    if let Some(p) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return Some(p);
    }
    if std::env::var("CARO_REQUIRE_MODEL").as_deref() == Ok("1") {
        panic!(
            "CARO_REQUIRE_MODEL=1 but the real model is missing; run ../shared/models/fetch-qwen2.5-coder-1.5b.sh"
        );
    }
    eprintln!(
        "SKIPPED: real model not found (set CARO_TEST_MODEL or fetch it into ~/.cache/caro/models)"
    );
    None
}

/// A private home for one test: config, cache and runtime directories of its own, so
/// daemons and config files of different tests never meet.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub model: PathBuf,
    extra_env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn with_model(model: &Path) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for d in ["config", "cache", "run"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        // XDG_RUNTIME_DIR must be private, as on a real system.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod");
        Self {
            dir,
            model: model.to_owned(),
            extra_env: Vec::new(),
        }
    }

    /// A sandbox whose model is the tiny random one.
    pub fn tiny() -> Self {
        let mut s = Self::with_model(Path::new("/nonexistent"));
        s.model = s.dir.path().join("tiny.gguf");
        tiny::write(&s.model, 11).expect("write tiny model");
        s
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run/caro")
    }

    pub fn cmd(&self) -> Command {
        self.program(caro_bin())
    }

    /// `bin` (caro or another program of the package) set up to run in this sandbox.
    pub fn program(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        for (k, _) in std::env::vars() {
            if k.starts_with("CARO_") || k.starts_with("XDG_") || k == "NO_COLOR" {
                c.env_remove(k);
            }
        }
        c.env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("CARO_MODEL", &self.model)
            // Shared by all tests: the prompt prefix is computed once, not per daemon.
            .env(
                "CARO_PREFIX_CACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("prefix"),
            )
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path());
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run caro")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.cmd().args(["daemon", "stop"]).output();
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
