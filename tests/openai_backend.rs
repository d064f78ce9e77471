//! The OpenAI-compatible backend against a real llama.cpp `llama-server` serving the
//! real model: generation (in-process and through the daemon), streaming, cancel, and
//! each failure as one line with the typed line kept. One server, started on first use
//! with `--api-key`, serves the whole file; a second, short-lived one is killed
//! mid-answer.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use caro::engine::context::Context;
use caro::engine::openai::{OpenAiBackend, RemoteError};
use caro::engine::{Backend, CancelToken, EngineError, GenerateRequest, Sampling, prompt};
use caro::settings::{OpenAiSettings, Shell};
use common::llama_server::{LlamaServer, shared_thread};
use common::{Sandbox, stderr, stdout};

const KEY: &str = "caro-test-secret";
const KEY_VAR: &str = "CARO_TEST_OPENAI_KEY";

/// The shared server (with `--api-key KEY`), or `None` when it is skipped.
fn server() -> Option<&'static LlamaServer> {
    static SERVER: OnceLock<Option<LlamaServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let model = common::real_model()?;
            // Set once, before any test reads it: the library tests name this variable.
            unsafe { std::env::set_var(KEY_VAR, KEY) };
            shared_thread(move || LlamaServer::start(&model, &["--api-key", KEY], Some(KEY)))
        })
        .as_ref()
}

fn settings(url: &str, key: bool) -> OpenAiSettings {
    OpenAiSettings {
        url: url.into(),
        model: "qwen2.5-coder-1.5b-instruct".into(),
        api_key_env: key.then(|| KEY_VAR.into()),
        timeout_secs: 60,
    }
}

fn request(text: &str, max_tokens: usize, ignore_stop: bool) -> GenerateRequest {
    let ctx = Context::detect(Shell::Bash, std::path::Path::new("/tmp"));
    GenerateRequest {
        prompt: prompt::build(text, &ctx),
        max_tokens,
        sampling: Sampling::default(),
        ignore_stop,
    }
}

/// A sandbox whose caro talks to `url`; the model file does not exist, so nothing
/// local can answer.
fn sandbox(url: &str) -> Sandbox {
    let sb = Sandbox::with_model(std::path::Path::new("/nonexistent/model.gguf"))
        .env("CARO_BACKEND", "openai")
        .env("CARO_OPENAI_URL", url);
    // Shared CI machines can be slow: the default 30 s is for one answer, and a request
    // may decode several.
    let dir = sb.dir.path().join("config/caro");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("config.toml"), "[openai]\ntimeout = 300\n").expect("config");
    sb
}

fn with_key(sb: Sandbox) -> Sandbox {
    sb.env("CARO_OPENAI_API_KEY_ENV", KEY_VAR).env(KEY_VAR, KEY)
}

/// The error's one line: all of stderr for the widget path (`complete-line`); for
/// `caro` itself the first line, followed at most by its hint.
fn one_line_error(o: &std::process::Output) -> String {
    let err = stderr(o);
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "an error on stderr");
    assert!(
        lines.len() == 1 || (lines.len() == 2 && lines[1].trim_start().starts_with("hint:")),
        "one line (and a hint) on stderr: {err:?}"
    );
    lines[0].to_owned()
}

/// Asks through the daemon, as the widget does, for a request that must fail: nothing
/// on stdout (so the widget keeps the line), one line on stderr, which is returned.
fn widget_fails(sb: &Sandbox) -> String {
    let o = sb
        .cmd()
        .args(["complete-line", "--shell", "bash", "--", "list files"])
        .output()
        .expect("run");
    assert_ne!(o.status.code(), Some(0));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    widget_error(&o)
}

fn widget_error(o: &std::process::Output) -> String {
    let err = stderr(o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr: {err:?}"
    );
    err.trim_end().to_owned()
}

#[test]
fn library_streams_the_answer_in_pieces() {
    let Some(srv) = server() else { return };
    let b = OpenAiBackend::new(&settings(&srv.url, true), 1);
    let mut pieces = Vec::new();
    let t = Instant::now();
    let g = b
        .generate(
            &request("list files by size", 64, false),
            &mut |p| pieces.push(p.to_owned()),
            &CancelToken::new(),
        )
        .expect("generation");
    eprintln!(
        "streamed {} pieces in {:.0} ms: {:?} (logprob {:.2}, {:?})",
        pieces.len(),
        t.elapsed().as_secs_f64() * 1e3,
        g.text,
        g.logprob,
        g.stats
    );
    assert!(pieces.len() > 1, "streamed, not in one piece: {pieces:?}");
    assert_eq!(pieces.concat(), g.text);
    assert!(g.text.contains("ls") || g.text.contains("du"), "{}", g.text);
    assert!(g.stats.generated_tokens > 0);
}

#[test]
fn cancel_from_another_thread_stops_the_stream_quickly() {
    let Some(srv) = server() else { return };
    let b = OpenAiBackend::new(&settings(&srv.url, true), 1);
    let cancel = CancelToken::new();
    let (tx, rx) = mpsc::channel::<()>();
    let fired = Arc::new(Mutex::new(None));
    {
        let (cancel, fired) = (cancel.clone(), fired.clone());
        std::thread::spawn(move || {
            if rx.recv().is_ok() {
                *fired.lock().expect("lock") = Some(Instant::now());
                cancel.cancel();
            }
        });
    }
    let mut tx = Some(tx);
    let r = b.generate(
        &request("write a long shell script", 2000, true),
        &mut |_| {
            if let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        },
        &cancel,
    );
    let ended = Instant::now();
    assert!(matches!(r, Err(EngineError::Cancelled)), "{r:?}");
    let fired = fired.lock().expect("lock").expect("cancel fired");
    let took = ended.duration_since(fired);
    eprintln!(
        "cancelled {:.0} ms after the cancel",
        took.as_secs_f64() * 1e3
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn no_daemon_answers_through_the_server_without_a_model_file() {
    let Some(srv) = server() else { return };
    let sb = with_key(sandbox(&srv.url));
    let t = Instant::now();
    let o = sb.run(&["--no-daemon", "list files"]);
    eprintln!(
        "caro --no-daemon: {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ls"), "{}", stdout(&o));
}

#[test]
fn the_daemon_loads_no_model_and_serves_the_widget_path() {
    let Some(srv) = server() else { return };
    let sb = with_key(sandbox(&srv.url));
    let t = Instant::now();
    let o = sb.run(&["daemon", "start"]);
    let started = t.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    eprintln!("daemon started in {:.0} ms", started.as_secs_f64() * 1e3);
    assert!(
        started < Duration::from_secs(5),
        "no model to load: {started:?}"
    );
    let t = Instant::now();
    let o = sb
        .cmd()
        .args(["complete-line", "--shell", "bash", "--", "list files"])
        .output()
        .expect("run");
    eprintln!("complete-line: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ls"), "{}", stdout(&o));
    // Another answer to the same line: the daemon keeps the line's decodes.
    let o = sb
        .cmd()
        .args([
            "complete-line",
            "--shell",
            "bash",
            "--alternative",
            "1",
            "--",
            "list files",
        ])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).trim().is_empty());
    let o = sb.run(&["daemon", "status"]);
    assert!(stdout(&o).contains(&srv.url), "{}", stdout(&o));
}

#[test]
fn an_unreachable_server_is_one_line_and_the_widget_keeps_the_line() {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let sb = sandbox(&format!("http://127.0.0.1:{port}/v1"));
    let o = sb.run(&["--no-daemon", "list files"]);
    assert_eq!(o.status.code(), Some(1));
    let line = one_line_error(&o);
    assert!(line.contains("cannot reach the server"), "{line}");
    assert!(stdout(&o).is_empty());
    let line = widget_fails(&sb);
    assert!(line.contains("cannot reach the server"), "{line}");
}

#[test]
fn a_missing_or_unset_key_is_one_line() {
    let Some(srv) = server() else { return };
    // No key at all: the server answers 401.
    let sb = sandbox(&srv.url);
    let o = sb.run(&["--no-daemon", "list files"]);
    assert_eq!(o.status.code(), Some(1));
    let line = one_line_error(&o);
    assert!(line.contains("HTTP 401"), "{line}");
    assert!(!line.contains(KEY));
    assert!(widget_fails(&sb).contains("HTTP 401"));
    // A key variable configured but not set: named, never guessed.
    let o = sandbox(&srv.url)
        .env("CARO_OPENAI_API_KEY_ENV", KEY_VAR)
        .run(&["--no-daemon", "list files"]);
    assert_eq!(o.status.code(), Some(1));
    let line = one_line_error(&o);
    assert!(line.contains(KEY_VAR) && line.contains("not set"), "{line}");
}

#[test]
fn doctor_checks_the_server_the_model_and_the_key() {
    let Some(srv) = server() else { return };
    let o = with_key(sandbox(&srv.url)).run(&["doctor"]);
    let out = stdout(&o);
    assert!(out.contains(&format!("{KEY_VAR} is set")), "{out}");
    assert!(out.contains(&format!("{} answers", srv.url)), "{out}");
    assert!(!out.contains(KEY), "the key is never printed");
    let o = sandbox(&srv.url)
        .env("CARO_OPENAI_API_KEY_ENV", KEY_VAR)
        .run(&["doctor"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("is not set"), "{}", stdout(&o));
}

/// A one-model llama-server answers under any name, so the name is tested against
/// llama-server as a router (`--models-dir`), which refuses names it does not serve.
#[test]
fn an_unknown_model_name_is_one_line_and_doctor_lists_the_served_names() {
    let Some(model) = common::real_model() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(&model, dir.path().join("served-model.gguf")).expect("link");
    let path = dir.path().to_owned();
    let Some(srv) = shared_thread(move || LlamaServer::start_router(&path)) else {
        return;
    };
    let sb = sandbox(&srv.url).env("CARO_OPENAI_MODEL", "no-such-model");
    let o = sb.run(&["--no-daemon", "list files"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let line = one_line_error(&o);
    assert!(line.contains("does not know the model"), "{line}");
    assert!(line.contains("no-such-model"), "{line}");

    // A warning, not a failure: a one-model llama-server answers under any name.
    let out = stdout(&sb.run(&["doctor"]));
    assert!(
        out.contains("\"no-such-model\" is not listed (listed: served-model)"),
        "doctor names what is served: {out}"
    );

    let line = widget_fails(&sb);
    assert!(line.contains("does not know the model"), "{line}");
}

#[test]
fn a_server_killed_mid_answer_is_one_line() {
    let Some(model) = common::real_model() else {
        return;
    };
    // Its own server: this one dies.
    let Some(mut srv) = shared_thread(move || LlamaServer::start(&model, &[], None)) else {
        return;
    };
    let mut s = settings(&srv.url, false);
    // Shared CI machines can be slow; the test is about the kill, not the time.
    s.timeout_secs = 600;
    let b = OpenAiBackend::new(&s, 1);
    let mut n = 0;
    let (tx, rx) = mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        let _ = rx.recv();
        srv.kill();
        srv
    });
    let r = b.generate(
        &request("write a long shell script", 2000, true),
        &mut |_| {
            n += 1;
            if n == 1 {
                let _ = tx.send(());
            }
        },
        &CancelToken::new(),
    );
    drop(tx);
    drop(killer.join());
    let e = r.expect_err("the server died");
    assert!(
        matches!(
            e,
            EngineError::Remote(RemoteError::Dropped { .. } | RemoteError::Truncated)
        ),
        "{e:?}"
    );
    let line = caro::error::CaroError::from(e).one_line();
    eprintln!("{line}");
    assert!(!line.contains('\n'));
}

/// `caro-eval` through the server scores like the local engine: same model, same
/// prompt, the same cases one after the other. The full comparison (alfa-dev, 115
/// cases: first program 83.5 % local, 84.3 % through llama-server) is in
/// docs/eval/backend-*.json; this keeps the path honest in CI on a few cases.
#[test]
fn caro_eval_through_the_server_scores_like_the_local_engine() {
    let Some(srv) = server() else { return };
    let Some(model) = common::real_model() else {
        return;
    };
    let cases =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/extra-cases.jsonl");
    let sb = with_key(Sandbox::with_model(&model));
    let mut first_program = Vec::new();
    for backend in ["local", "openai"] {
        let out = sb.dir.path().join(format!("{backend}.json"));
        let o = sb
            .program(env!("CARGO_BIN_EXE_caro-eval"))
            .args(["--backend", backend, "--openai-url", &srv.url])
            .args(["--limit", "8", "--quiet", "--no-exec", "--json", "--cases"])
            .arg(&cases)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run caro-eval");
        assert!(o.status.success(), "{backend}: {}", stderr(&o));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).expect("result")).expect("json");
        let rows = r["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 8);
        assert!(
            rows.iter().all(|row| row["command"].is_string()),
            "{backend}: every case answered: {rows:?}"
        );
        first_program.push(
            rows.iter()
                .filter(|row| row["first_program"] == true)
                .count(),
        );
    }
    eprintln!(
        "first program: local {} / 8, server {} / 8",
        first_program[0], first_program[1]
    );
    assert!(
        first_program[0].abs_diff(first_program[1]) <= 1,
        "local {} vs server {}",
        first_program[0],
        first_program[1]
    );
}
