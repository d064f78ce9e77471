use std::ffi::OsString;
use std::time::Instant;

use super::*;

fn system_path() -> OsString {
    OsString::from("/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
}

#[test]
fn glosses_each_option_of_a_tar_extraction() {
    let e = explain("tar -xzvf a.tgz -C /tmp", &system_path());
    let tar = &e.parts[0];
    assert_eq!(tar.program, "tar");
    assert_eq!(tar.summary.as_deref(), Some("Archiving utility."));
    let opts: Vec<(&str, Option<&str>)> = tar
        .options
        .iter()
        .map(|o| (o.option.as_str(), o.value.as_deref()))
        .collect();
    assert_eq!(
        opts,
        [
            ("-x", None),
            ("-z", None),
            ("-v", None),
            ("-f", Some("a.tgz")),
            ("-C", Some("/tmp"))
        ]
    );
    for o in &tar.options {
        let g = o.gloss.as_deref().unwrap_or_default().to_lowercase();
        assert!(!g.is_empty(), "{} has a gloss", o.option);
    }
    let gloss = |o: &str| {
        tar.options
            .iter()
            .find(|x| x.option == o)
            .and_then(|x| x.gloss.clone())
    };
    assert!(
        gloss("-x").is_some_and(|g| g.to_lowercase().contains("extract")),
        "{:?}",
        gloss("-x")
    );
    assert!(
        gloss("-z").is_some_and(|g| g.contains("gzip")),
        "{:?}",
        gloss("-z")
    );
    assert!(
        gloss("-C").is_some_and(|g| g.to_lowercase().contains("dir")),
        "{:?}",
        gloss("-C")
    );
    let text = render(&e);
    assert!(text.starts_with("tar: Archiving utility.\n"), "{text}");
    let verdict = crate::safety::check("tar -xzvf a.tgz -C /tmp");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.starts_with(verdict.level.as_str()), "{text}");
}

#[test]
fn every_program_of_a_pipeline_and_through_wrappers() {
    let e = explain("sudo find / -name '*.log' | xargs rm -f", &system_path());
    let programs: Vec<&str> = e.parts.iter().map(|p| p.program.as_str()).collect();
    assert_eq!(programs, ["find", "xargs"]);
    let find = &e.parts[0];
    assert_eq!(find.options[0].option, "-name");
    assert_eq!(find.options[0].value.as_deref(), Some("*.log"));
    assert_ne!(e.verdict.level, crate::safety::Level::Safe);
}

#[test]
fn unknown_programs_and_options_are_said_to_be_so() {
    let e = explain("no-such-tool-xyz --frobnicate", &system_path());
    assert_eq!(e.parts[0].summary.as_deref(), Some("not installed here"));
    assert_eq!(e.parts[0].options[0].gloss, None);
    assert!(render(&e).contains("(not in its manual)"));
    let e = explain("cd /tmp", &system_path());
    assert_eq!(
        e.parts[0].summary.as_deref().map(|s| !s.is_empty()),
        Some(true)
    );
}

#[test]
fn a_script_named_like_a_tool_is_never_run() {
    // A program in a writable directory is read from its man page at most: never run.
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("ran");
    let script = dir.path().join("tar");
    std::fs::write(&script, format!("#!/bin/sh\ntouch {}\n", marker.display())).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut path = OsString::from(dir.path());
    path.push(":");
    path.push(system_path());
    let _ = explain("tar -xzvf a.tgz", &path);
    assert!(!marker.exists(), "the script ran");
}

/// Not a timed test: prints what a cold and a warm explanation of five options cost.
#[test]
fn cost_of_an_explanation() {
    let cmd = "tar -x -z -v -f a.tgz -C /tmp";
    let t = Instant::now();
    let e = explain(cmd, &system_path());
    let cold = t.elapsed();
    let t = Instant::now();
    let _ = explain(cmd, &system_path());
    eprintln!(
        "explain, 5 options: {cold:?} first, {:?} again",
        t.elapsed()
    );
    assert_eq!(e.parts[0].options.len(), 5);
}
