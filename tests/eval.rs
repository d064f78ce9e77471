//! `caro-eval` end to end: the harness itself with the references as answers (no model
//! needed), and a short run with the real model when it is present.

mod common;

use std::path::PathBuf;
use std::process::Output;

fn extra_cases() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/extra-cases.jsonl")
}

fn eval(sb: &common::Sandbox, args: &[&str]) -> Output {
    sb.program(env!("CARGO_BIN_EXE_caro-eval"))
        .args(args)
        .output()
        .expect("run caro-eval")
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("result file");
    serde_json::from_str(&text).expect("result JSON")
}

#[test]
fn oracle_run_writes_rows_and_compares() {
    let sb = common::Sandbox::with_model(std::path::Path::new("/nonexistent"));
    let a = sb.dir.path().join("a.json");
    let cases = extra_cases();
    let o = eval(
        &sb,
        &[
            "--oracle",
            "--quiet",
            "--limit",
            "4",
            "--cases",
            cases.to_str().expect("utf-8 path"),
            "--out",
            a.to_str().expect("utf-8 path"),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let r = read_json(&a);
    assert_eq!(r["rows"].as_array().map(Vec::len), Some(4));
    assert_eq!(r["summary"]["exact"], 100.0);
    assert_eq!(r["summary"]["first_program"], 100.0);
    // With bubblewrap usable, every comparable reference matches itself; without it the
    // summary must say why execution was not measured.
    let exec = &r["summary"]["exec"];
    if exec["available"] == true {
        assert_eq!(exec["equivalent"], exec["scored"], "{exec}");
        assert!(exec["scored"].as_u64().unwrap_or(0) > 0, "{exec}");
    } else {
        assert!(exec["reason"].is_string(), "{exec}");
    }

    let o = eval(
        &sb,
        &[
            "--compare",
            a.to_str().expect("utf-8 path"),
            a.to_str().expect("utf-8 path"),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let out = common::stdout(&o);
    assert!(
        out.contains("first program %") && out.contains("oracle"),
        "{out}"
    );
}

#[test]
fn real_model_short_run() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = common::Sandbox::with_model(&model);
    let out = sb.dir.path().join("r.json");
    let cases = extra_cases();
    let o = eval(
        &sb,
        &[
            "--limit",
            "3",
            "--quiet",
            "--json",
            "--cases",
            cases.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let r = read_json(&out);
    let rows = r["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|row| row["command"].is_string()),
        "{rows:?}"
    );
    assert!(r["summary"]["latency"]["median_ms"].as_f64().unwrap_or(0.0) > 0.0);
    // The first case is already a command: it must come back unchanged.
    assert_eq!(rows[0]["exact"], true, "{}", rows[0]);
}
