//! Bad input gets one clear line, a hint and a distinct exit code, through the real binary.

mod common;
use common::{Sandbox, stderr, stdout};

fn assert_error(o: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(
        stdout(o).is_empty(),
        "stdout must stay empty: {}",
        stdout(o)
    );
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(err.lines().count() <= 2, "one line plus a hint: {err:?}");
}

#[test]
fn missing_model_names_the_path_and_the_fix() {
    let sb = Sandbox::with_model(std::path::Path::new("/nonexistent/model.gguf"));
    let o = sb.run(&["--no-daemon", "list files"]);
    assert_error(&o, 3, "/nonexistent/model.gguf");
    assert!(stderr(&o).contains("caro model pull"));
}

#[test]
fn not_a_gguf_file() {
    let sb = Sandbox::tiny();
    let bad = sb.dir.path().join("bad.gguf");
    std::fs::write(&bad, b"<html>404</html>").expect("write");
    let o = sb
        .cmd()
        .env("CARO_MODEL", &bad)
        .args(["--no-daemon", "list files"])
        .output()
        .expect("run");
    assert_error(&o, 4, "not a GGUF");
}

#[test]
fn truncated_gguf_file() {
    let sb = Sandbox::tiny();
    let bytes = std::fs::read(&sb.model).expect("read");
    let cut = sb.dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let o = sb
        .cmd()
        .env("CARO_MODEL", &cut)
        .args(["--no-daemon", "list files"])
        .output()
        .expect("run");
    assert_error(&o, 4, "truncated or corrupt");
}

#[test]
fn unsupported_architecture() {
    use candle_core::quantized::gguf_file::{self, Value};
    let sb = Sandbox::tiny();
    let p = sb.dir.path().join("llama.gguf");
    let mut f = std::fs::File::create(&p).expect("create");
    gguf_file::write(
        &mut f,
        &[("general.architecture", &Value::String("llama".into()))],
        &[],
    )
    .expect("write");
    let o = sb
        .cmd()
        .env("CARO_MODEL", &p)
        .args(["--no-daemon", "list files"])
        .output()
        .expect("run");
    assert_error(&o, 4, "unsupported model architecture `llama`");
}

#[test]
fn empty_request() {
    let sb = Sandbox::tiny();
    assert_error(&sb.run(&["--no-daemon", "   "]), 5, "empty");
    assert_error(&sb.run(&[]), 5, "empty");
}

#[test]
fn request_longer_than_the_context() {
    let sb = Sandbox::tiny();
    let long = "find files ".repeat(2000);
    let o = sb.run(&["--no-daemon", &long]);
    assert_error(&o, 5, "too long");
}

#[test]
fn bad_config_names_file_line_and_key() {
    let sb = Sandbox::tiny();
    let cfg = sb.dir.path().join("config/caro");
    std::fs::create_dir_all(&cfg).expect("mkdir");
    std::fs::write(cfg.join("config.toml"), "threads = 2\nmax_tokkens = 5\n").expect("write");
    let o = sb.run(&["--no-daemon", "list files"]);
    assert_error(&o, 6, "config.toml:2");
    assert!(stderr(&o).contains("max_tokkens"));
}

#[test]
fn config_path_and_show() {
    let sb = Sandbox::tiny();
    let o = sb.run(&["config", "path"]);
    assert!(
        stdout(&o).trim().ends_with("config/caro/config.toml"),
        "{}",
        stdout(&o)
    );
    let o = sb
        .cmd()
        .env("CARO_THREADS", "1")
        .args(["config", "show"])
        .output()
        .expect("run");
    assert!(o.status.success());
    assert!(stdout(&o).contains("threads = 1"), "{}", stdout(&o));
}

#[test]
fn tiny_model_runs_the_whole_path_in_process() {
    // Random weights produce noise, but the load → prefill → decode path must work and
    // the output contract (bare text on a pipe, JSON with stats) must hold.
    let sb = Sandbox::tiny();
    let o = sb.run(&["--no-daemon", "--json", "--max-tokens", "8", "list files"]);
    let code = o.status.code();
    if code == Some(0) || code == Some(10) {
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
        assert!(v["stats"]["prompt_tokens"].as_u64().unwrap_or(0) > 100);
        assert!(v["stats"]["generated_tokens"].as_u64().unwrap_or(0) >= 1);
    } else {
        // Noise that holds no command is reported as such.
        assert_eq!(code, Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("no command"));
    }
}

/// A GPU this build cannot use is one line naming the device and how to get past it,
/// never a silent run on the CPU. Builds with the feature on a machine with the GPU
/// load the model there instead, so the test only runs where the feature is off.
#[test]
#[cfg(not(feature = "cuda"))]
fn a_device_this_build_lacks_is_one_line_with_the_way_out() {
    let sb = Sandbox::tiny();
    let o = sb
        .cmd()
        .env("CARO_DEVICE", "cuda:0")
        .args(["--no-daemon", "list files"])
        .output()
        .expect("run");
    assert_error(&o, 1, "cannot use device cuda:0");
    assert!(stderr(&o).contains("--features cuda"), "{}", stderr(&o));

    let o = sb.run(&["--device", "npu", "--no-daemon", "list files"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown device \"npu\""),
        "{}",
        stderr(&o)
    );
}
