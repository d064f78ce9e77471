use std::path::{Path, PathBuf};
use std::process::Command;

use super::key::{DEFAULT_KEY, Key};
use super::*;
use crate::settings::Shell;

fn key(spec: &str) -> Key {
    Key::parse(spec).unwrap_or_else(|e| panic!("{spec:?} should parse: {e}"))
}

fn bad(spec: &str) -> String {
    match Key::parse(spec) {
        Ok(k) => panic!("{spec:?} should be rejected, got {k:?}"),
        Err(e) => e.to_string(),
    }
}

const ALL: [Shell; 3] = [Shell::Zsh, Shell::Bash, Shell::Fish];

#[test]
fn ctrl_forms_agree() {
    for spec in [
        "ctrl-g",
        "Ctrl-G",
        "ctrl+g",
        "control-g",
        "C-g",
        "c-g",
        "^G",
        "^g",
        "\\C-g",
        "\\c-g",
        "\\cg",
        " ctrl-g ",
    ] {
        assert_eq!(key(spec), DEFAULT_KEY, "{spec}");
    }
}

#[test]
fn alt_forms_agree() {
    let alt_g = key("alt-g");
    for spec in [
        "Alt-G", "meta-g", "M-g", "m-g", "\\M-g", "\\eg", "^[g", "opt-g",
    ] {
        assert_eq!(key(spec), alt_g, "{spec}");
    }
    assert_ne!(alt_g, DEFAULT_KEY);
    assert_eq!(key("alt-7").name(), "Alt-7");
}

#[test]
fn ctrl_alt_forms_agree() {
    let k = key("ctrl-alt-g");
    for spec in [
        "alt-ctrl-g",
        "C-M-g",
        "M-C-g",
        "\\e\\C-g",
        "\\M-\\C-g",
        "^[^G",
        "\\e\\cg",
    ] {
        assert_eq!(key(spec), k, "{spec}");
    }
}

#[test]
fn translations_per_shell() {
    let cases = [
        // spec, zsh, readline, fish 3, fish 4, name
        ("ctrl-g", "^G", "\\C-g", "\\cg", "ctrl-g", "Ctrl-G"),
        ("alt-g", "^[g", "\\eg", "\\eg", "alt-g", "Alt-G"),
        (
            "ctrl-alt-x",
            "^[^X",
            "\\e\\C-x",
            "\\e\\cx",
            "ctrl-alt-x",
            "Ctrl-Alt-X",
        ),
        ("M-5", "^[5", "\\e5", "\\e5", "alt-5", "Alt-5"),
    ];
    for (spec, zsh, readline, fish3, fish4, name) in cases {
        let k = key(spec);
        assert_eq!(k.zsh(), zsh, "{spec}");
        assert_eq!(k.readline(), readline, "{spec}");
        assert_eq!(k.fish3(), fish3, "{spec}");
        assert_eq!(k.fish4(), fish4, "{spec}");
        assert_eq!(k.name(), name, "{spec}");
    }
}

#[test]
fn bad_specs_are_rejected_with_one_line() {
    for spec in [
        "", "   ", "g", "ctrl-", "-g", "shift-g", "ctrl-1", "ctrl-gg", "ctrl-é", "alt-.", "^",
        "\\e", "super-g", "F5",
    ] {
        let msg = bad(spec);
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.starts_with("invalid key"), "{msg}");
    }
    assert!(bad("ctrl-c").contains("interrupt"));
    assert!(bad("^Z").contains("suspend"));
    assert!(bad("\\C-m").contains("Enter"));
    assert!(bad("ctrl-alt-s").contains("flow control"));
    assert!(bad("g").contains("ctrl or alt"));
}

#[test]
fn undo_key_is_alt_g_unless_taken() {
    assert_eq!(DEFAULT_KEY.undo_key(), Some(key("alt-g")));
    assert_eq!(key("ctrl-t").undo_key(), Some(key("alt-g")));
    assert_eq!(key("alt-g").undo_key(), None);
}

#[test]
fn bad_key_is_an_init_error() {
    let opts = InitOptions {
        key: Some("ctrl-c"),
        ..InitOptions::default()
    };
    let err =
        init_script(Shell::Zsh, &opts, Path::new("/bin/caro")).expect_err("ctrl-c must be refused");
    assert!(matches!(err, InitError::BadKey { .. }));
}

fn rendered(shell: Shell, spec: &str, bind: bool, bin: &Path) -> String {
    let opts = InitOptions {
        key: Some(spec),
        bind,
        ..InitOptions::default()
    };
    init_script(shell, &opts, bin).expect("valid key")
}

#[test]
fn every_placeholder_is_replaced() {
    for shell in ALL {
        for spec in ["ctrl-g", "alt-g", "ctrl-alt-x"] {
            for bind in [true, false] {
                let s = rendered(shell, spec, bind, Path::new("/usr/local/bin/caro"));
                assert!(!s.contains("@CARO_"), "{shell:?} {spec} {bind}");
            }
        }
    }
}

#[test]
fn values_land_quoted_per_shell() {
    let bin = Path::new("/opt/caro/bin/caro");
    let zsh = rendered(Shell::Zsh, "ctrl-g", true, bin);
    assert!(zsh.contains("typeset -g _caro_bin_path='/opt/caro/bin/caro'\n"));
    assert!(zsh.contains("typeset -g _caro_key='^G'\n"));
    assert!(zsh.contains("typeset -gi _caro_bind_keys=1\n"));

    let bash = rendered(Shell::Bash, "ctrl-g", false, bin);
    assert!(bash.contains("_caro_bin_path='/opt/caro/bin/caro'\n"));
    assert!(bash.contains("_caro_key='\\C-g'\n"));
    assert!(bash.contains("_caro_undo_key='\\eg'\n"));
    assert!(bash.contains("_caro_bind_keys=0\n"));
    assert!(bash.contains("\"caro: \"'Ctrl-G'\" needs bash 4"));

    let fish = rendered(Shell::Fish, "ctrl-g", true, bin);
    assert!(fish.contains("set -g _caro_bin_path '/opt/caro/bin/caro'\n"));
    assert!(fish.contains("set -g _caro_key \\cg\n"));
    assert!(fish.contains("set -g _caro_key 'ctrl-g'\n"));
    assert!(fish.contains("set -g _caro_undo_key \\eg\n"));
    assert!(fish.contains("set -g _caro_undo_key 'alt-g'\n"));

    // The undo key steps aside when the main key is Alt-G.
    let bash = rendered(Shell::Bash, "alt-g", true, bin);
    assert!(bash.contains("_caro_undo_key=''\n"));
    let fish = rendered(Shell::Fish, "alt-g", true, bin);
    assert!(fish.contains("set -g _caro_undo_key ''\n"));
}

#[test]
fn awkward_paths_are_quoted() {
    let bin = Path::new("/home/o'neil/my apps/$HOME/@CARO_KEY@\\x/caro");
    let zsh = rendered(Shell::Zsh, "ctrl-g", true, bin);
    assert!(zsh.contains(r"_caro_bin_path='/home/o'\''neil/my apps/$HOME/@CARO_KEY@\x/caro'"));
    let fish = rendered(Shell::Fish, "ctrl-g", true, bin);
    assert!(fish.contains(r"_caro_bin_path '/home/o\'neil/my apps/$HOME/@CARO_KEY@\\x/caro'"));
}

#[test]
fn substitute_leaves_unknown_and_lone_markers() {
    let out = substitute(
        "a @CARO_X@ b @CARO_Y@ c@ @CARO_",
        &[("@CARO_X@", "1".to_owned())],
    );
    assert_eq!(out, "a 1 b @CARO_Y@ c@ @CARO_");
}

/// The path a shell reads back from the rendered assignment.
fn read_back(shell: &str, script_line: &str, var: &str) -> Option<Vec<u8>> {
    let print = match shell {
        "fish" => format!("{script_line}; printf %s ${var}"),
        _ => format!("{script_line}; printf %s \"${var}\""),
    };
    let out = Command::new(shell).arg("-c").arg(print).output().ok()?;
    out.status.success().then_some(out.stdout)
}

#[cfg(unix)]
#[test]
fn shells_read_back_the_exact_path() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let paths = [
        PathBuf::from("/home/o'neil/my apps/$(touch x)/\\n/caro"),
        PathBuf::from(OsStr::from_bytes(b"/tmp/caf\xe9/\"q\"/caro")),
        PathBuf::from("/tmp/line\nbreak/caro"),
    ];
    for path in &paths {
        let bytes = path.as_os_str().as_bytes().to_vec();
        for shell in ["zsh", "bash"] {
            let line = format!("_caro_p={}", quote::posix_path(path));
            if let Some(got) = read_back(shell, &line, "_caro_p") {
                assert_eq!(got, bytes, "{shell} {path:?}");
            } else {
                eprintln!("skipping {shell}: not installed");
            }
        }
        let line = format!("set _caro_p {}", quote::fish_path(path));
        if let Some(got) = read_back("fish", &line, "_caro_p") {
            assert_eq!(got, bytes, "fish {path:?}");
        } else {
            eprintln!("skipping fish: not installed");
        }
    }
}

/// `zsh -n`, `bash -n` and `fish --no-execute` accept every variant.
#[test]
fn rendered_scripts_parse() {
    for (shell, prog, flag) in [
        (Shell::Zsh, "zsh", "-n"),
        (Shell::Bash, "bash", "-n"),
        (Shell::Fish, "fish", "--no-execute"),
    ] {
        if Command::new(prog).arg("-c").arg("true").output().is_err() {
            eprintln!("skipping {prog}: not installed");
            continue;
        }
        for spec in ["ctrl-g", "alt-g"] {
            let dir = tempfile::tempdir().expect("temp dir");
            let file = dir.path().join("init");
            let script = rendered(shell, spec, true, Path::new("/x/caro"));
            std::fs::write(&file, script).expect("write script");
            let out = Command::new(prog)
                .arg(flag)
                .arg(&file)
                .output()
                .expect("run shell");
            assert!(
                out.status.success(),
                "{prog} {spec}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Sourced by a non-interactive shell, the script defines no key bindings
/// and prints nothing.
#[test]
fn non_interactive_shells_are_left_alone() {
    for (shell, prog, check) in [
        (
            Shell::Zsh,
            "zsh",
            "print -r -- ${+functions[_caro_complete_line]}",
        ),
        (
            Shell::Bash,
            "bash",
            "declare -F _caro_complete_line >/dev/null && echo 1 || echo 0",
        ),
        (
            Shell::Fish,
            "fish",
            "functions -q _caro_complete_line; and echo 1; or echo 0",
        ),
    ] {
        if Command::new(prog).arg("-c").arg("true").output().is_err() {
            continue;
        }
        let script = rendered(shell, "ctrl-g", true, Path::new("/x/caro"));
        let out = Command::new(prog)
            .arg("-c")
            .arg(format!("{script}\n{check}"))
            .output()
            .expect("run shell");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{prog}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{prog}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.trim(), "0", "{prog}");
    }
}

#[test]
fn sh_has_no_integration() {
    let err = init_script(Shell::Sh, &InitOptions::default(), Path::new("/bin/caro"))
        .expect_err("plain sh has no line editor");
    assert_eq!(err, InitError::NoIntegration(Shell::Sh));
    assert!(err.to_string().contains("zsh, bash or fish"));
}
