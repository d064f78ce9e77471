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
        require_sandbox(exec);
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

/// alfa-dev, the execution-checked set with its own fixture trees, where the shared
/// data directory is present (it is not part of the repository).
fn alfa_dev() -> Option<PathBuf> {
    let cases =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/alfa-dev/cases.jsonl");
    if cases.is_file() {
        Some(cases)
    } else {
        eprintln!("SKIPPED: {} is not here", cases.display());
        None
    }
}

#[test]
fn oracle_on_alfa_fixture_trees() {
    let Some(cases) = alfa_dev() else {
        return;
    };
    let sb = common::Sandbox::with_model(std::path::Path::new("/nonexistent"));
    // One case per fixture tree: reads, a deletion rated dangerous (never run), a new
    // file, the generic tree; and one that reads the host.

    let ids = sb.dir.path().join("few.ids");
    let chosen = [
        "alfa-fs1-017",
        "alfa-fs1-029",
        "alfa-fs2-046",
        "alfa-fs3-007",
        "alfa-fs4-011",
        "alfa-fs5-002",
    ];
    std::fs::write(&ids, chosen.join("\n") + "\n").expect("ids file");
    let out = sb.dir.path().join("alfa.json");
    let o = eval(
        &sb,
        &[
            "--oracle",
            "--quiet",
            "--json",
            "--cases",
            cases.to_str().expect("utf-8 path"),
            "--ids",
            ids.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let r = read_json(&out);
    let rows = r["rows"].as_array().expect("rows");
    let got: Vec<&str> = rows.iter().filter_map(|row| row["id"].as_str()).collect();
    assert_eq!(got, chosen);
    let exec = &r["summary"]["exec"];
    if exec["available"] != true {
        require_sandbox(exec);
        eprintln!("SKIPPED: execution unavailable: {}", exec["reason"]);
        return;
    }
    let by_id = |id: &str| &rows[chosen.iter().position(|c| *c == id).expect("chosen")];
    assert_eq!(by_id("alfa-fs1-029")["exec"], "host_state", "{exec}");
    // A deletion of every file under a top-level directory is rated dangerous: it is
    // never run, so not scored.
    assert_eq!(
        by_id("alfa-fs3-007")["exec_note"],
        "rated dangerous, not run"
    );
    assert_eq!(exec["scored"], 4, "{rows:?}");
    assert_eq!(exec["equivalent"], exec["scored"], "{rows:?}");
    let categories = r["summary"]["categories"].as_array().expect("categories");
    assert!(
        categories
            .iter()
            .any(|c| c["category"] == "files/find" && c["scored"] == 1),
        "{categories:?}"
    );
}

/// CI installs bubblewrap and sets `CARO_REQUIRE_SANDBOX=1`: there, execution that is
/// unavailable is a failure, not a skip.
fn require_sandbox(exec: &serde_json::Value) {
    assert!(
        std::env::var_os("CARO_REQUIRE_SANDBOX").is_none(),
        "CARO_REQUIRE_SANDBOX is set but execution is unavailable: {}",
        exec["reason"]
    );
}
