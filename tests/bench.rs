//! `caro bench` through the real binary, on the tiny random model: every section runs
//! and the repeated tests report a mean and a spread.

mod common;
use common::{Sandbox, stderr, stdout};

#[test]
fn bench_runs_every_test_and_reports_repetitions() {
    let sb = Sandbox::tiny();
    let o = sb
        .cmd()
        .args(["bench", "--thread-counts", "1", "-r", "2"])
        .output()
        .expect("run caro bench");
    let out = stdout(&o);
    assert!(o.status.success(), "stderr: {}\nstdout: {out}", stderr(&o));
    for needle in [
        "== 1 thread(s) ==",
        "kernels ",
        "CPU features:",
        "end-to-end",
        "peak RSS",
    ] {
        assert!(out.contains(needle), "{needle:?} not in {out}");
    }
    // Prefill and decode lines carry mean ± sd over the repetitions.
    let repeated: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("prefill ") || l.starts_with("decode 64 tok"))
        .collect();
    assert_eq!(repeated.len(), 4, "{out}");
    for l in repeated {
        assert!(l.contains(" ± ") && l.contains("tok/s"), "{l}");
    }
}

#[test]
fn bench_refuses_zero_repetitions() {
    let sb = Sandbox::tiny();
    let o = sb
        .cmd()
        .args(["bench", "-r", "0"])
        .output()
        .expect("run caro bench");
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("repetitions"), "{}", stderr(&o));
}
