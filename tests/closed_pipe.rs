//! Every subcommand, through the real binary, with stdout a pipe nobody reads any more
//! (`caro … | head -1` after head has exited): no panic, an ordinary exit code.

mod common;

use std::os::fd::OwnedFd;
use std::process::Stdio;

use common::{Sandbox, stderr};

/// A pipe's write end whose read end is already closed.
fn closed_pipe() -> OwnedFd {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    write
}

fn assert_quiet_end(sb: &Sandbox, args: &[&str]) {
    let out = sb
        .cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(closed_pipe()))
        .output()
        .expect("run caro");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| [0, 1, 2, 3, 4, 5, 6, 7, 8, 10].contains(&c)),
        "{args:?} ended with {:?}: {err}",
        out.status
    );
}

#[test]
fn every_subcommand_ends_quietly_on_a_closed_stdout() {
    let sb = Sandbox::tiny();
    let commands: &[&[&str]] = &[
        &["--help"],
        &["--version"],
        &["model", "--help"],
        &["check", "--", "ls"],
        &["check", "--json", "--", "ls"],
        &["init", "zsh"],
        &["init", "bash"],
        &["init", "fish"],
        &["completions", "zsh"],
        &["config", "path"],
        &["config", "show"],
        &["model", "list"],
        &["model", "path"],
        &["model", "verify"],
        // No daemon is running: its "not running" line meets the closed pipe.
        &["daemon", "status"],
        &["doctor"],
        &["--no-daemon", "list files"],
        &["complete-line", "--shell", "bash", "--", "list files"],
    ];
    for args in commands {
        assert_quiet_end(&sb, args);
    }
}
