//! The checks against the real tools of this machine (ls, find, grep … with their man
//! pages), plus the parsers on their own and the rule that nothing outside the system
//! directories is ever run.

use std::ffi::OsString;
use std::path::Path;
use std::time::Instant;

use super::*;

fn kinds(command: &str, shell: Shell) -> Vec<Finding> {
    Checker::new().check(command, shell)
}

fn assert_clean(command: &str) {
    let found = kinds(command, Shell::Bash);
    assert!(found.is_empty(), "{command:?}: {found:?}");
}

fn assert_finds(command: &str, kind: Kind, needle: &str) {
    let found = kinds(command, Shell::Bash);
    assert!(
        found
            .iter()
            .any(|f| f.kind == kind && f.message.contains(needle)),
        "{command:?}: expected {kind:?} mentioning {needle:?}, got {found:?}"
    );
}

fn have(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    path::resolve(&path, program).is_some()
}

#[test]
fn checker_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Checker>();
}

#[test]
fn kind_names() {
    let names: Vec<&str> = [
        Kind::Syntax,
        Kind::MissingProgram,
        Kind::UnknownOption,
        Kind::BadArgument,
        Kind::Fish,
    ]
    .iter()
    .map(|k| k.name())
    .collect();
    assert_eq!(names, ["syntax", "program", "option", "argument", "fish"]);
}

#[test]
fn unknown_long_option_is_named() {
    let found = kinds("ls --nosuchflag", Shell::Bash);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.kind, Kind::UnknownOption);
    assert_eq!(f.to_string(), "`--nosuchflag` is not an option of ls");
    assert_eq!(f.span, Some(3..15));
}

#[test]
fn unknown_short_option_and_find_predicate() {
    assert_finds("ls -j", Kind::UnknownOption, "`-j`");
    assert_finds(
        "find . -nme x",
        Kind::UnknownOption,
        "`-nme` is not an option of find",
    );
    assert_finds(
        "grep --colour=auto --nosuch x f",
        Kind::UnknownOption,
        "`--nosuch`",
    );
}

#[test]
fn correct_commands_pass() {
    for command in [
        "ls -la",
        "ls --color=auto",
        "ls --col=auto -l",
        "grep -rin foo .",
        "find . -name '*.c' -mtime -7 -exec wc -l {} +",
        "find . -type f -size +10M -newermt 2024-01-01 -print0 | xargs -0 ls -l",
        "find . -path ./x -prune -o -name '*.c' -print",
        "find . \\( -name '*.a' -o -name '*.b' \\) -exec rm {} \\;",
        "tar -czf a.tgz dir",
        "tar xzf a.tgz",
        "ps aux",
        "ps -ef",
        "du -sh */ | sort -h",
        "du -h -d 1 .",
        "head -5 f",
        "head -n -5 f",
        "tail -n +2 f",
        "sort -k2,2n f",
        "sort -t, -nk3 f",
        "git log --oneline -5",
        "sudo ls -l",
        "chmod -R u+x,g-w dir",
        "chmod -x f",
        "echo $(ls -t | head -1)",
        "f() { ls; }; f",
        "ls -l \"$HOME\" | grep -v -e '-x'",
        "find . -name '*.log' | xargs grep -l error",
        "cut -d- -f1 f",
        "kill -9 123",
        "./build.sh --anything",
        "grep -r --include '*.txt' --exclude-dir=.git x .",
        "find . -mtime -0.5 -perm 02775",
        "chmod 02775 dir",
        "systemctl --user restart foo --no-block",
        "git -C repo commit -am msg",
        "openssl dgst -sha512 f",
        "python3 -m http.server --bind 127.0.0.1",
        "date -d '-1 day' +%F",
        "ls -1",
        "find . -O3 -name x",
        "perl -ne 'print if /x/' f",
    ] {
        assert_clean(command);
    }
}

#[test]
fn syntax_problems() {
    assert_finds("ls |", Kind::Syntax, "|");
    assert_finds("echo 'abc", Kind::Syntax, "quote");
    assert_finds("ls )", Kind::Syntax, ")");
    assert_finds("find . -name '*.c' -exec rm {}", Kind::Syntax, "-exec");
    assert_finds(
        "find . -name '*.a' -o -name '*.b' -exec rm {} \\;",
        Kind::Syntax,
        "parentheses",
    );
}

#[test]
fn missing_programs() {
    assert_finds(
        "surely-not-a-program-xyz -a",
        Kind::MissingProgram,
        "surely-not-a-program-xyz",
    );
    assert_finds(
        "ls | xargs surely-not-a-program-xyz",
        Kind::MissingProgram,
        "surely-not",
    );
    assert_finds(
        "find . -exec surely-not-a-program-xyz {} +",
        Kind::MissingProgram,
        "surely-not",
    );
    assert_finds(
        "/no/such/dir/prog",
        Kind::MissingProgram,
        "/no/such/dir/prog",
    );
    // Expansions and relative paths may well be right when the command runs.
    assert_clean("$EDITOR f");
    assert_clean("./configure");
}

#[test]
fn zsh_only_syntax_is_left_alone() {
    for command in [
        "ls **/*.txt(N)",
        "for f (*.txt) echo $f",
        "print -l *(.om[1,3])",
    ] {
        let found = kinds(command, Shell::Zsh);
        assert!(found.is_empty(), "{command:?}: {found:?}");
    }
    // Still judged for zsh when nothing zsh-only is in it.
    assert_eq!(kinds("ls |", Shell::Zsh).len(), 1);
    assert!(!kinds("ls **/*.txt(N)", Shell::Bash).is_empty());
    if have("zsh") {
        let found = kinds("ls *(.) | )", Shell::Zsh);
        assert!(
            found
                .iter()
                .any(|f| f.kind == Kind::Syntax && f.message.starts_with("zsh: ")),
            "{found:?}"
        );
    }
}

#[test]
fn bad_arguments() {
    let found = kinds("find . -size 10MB", Shell::Bash);
    assert!(
        found.iter().any(|f| f.kind == Kind::BadArgument
            && f.message == "`-size 10MB` is not a size find understands (use 10M)"),
        "{found:?}"
    );
    assert_finds("sort -k x f", Kind::BadArgument, "`x`");
    assert_finds("sort --key=a f", Kind::BadArgument, "`a`");
    assert_finds("find . -type z", Kind::BadArgument, "-type z");
    assert_finds("find . -mtime 7d", Kind::BadArgument, "-mtime 7d");
    assert_finds("find . -maxdepth x", Kind::BadArgument, "-maxdepth x");
    assert_finds("head -n ten f", Kind::BadArgument, "`ten`");
    assert_finds("chmod 7777x f", Kind::BadArgument, "7777x");
    assert_finds("du --max-depth=one", Kind::BadArgument, "`one`");
    assert_finds("find / -perm +4000", Kind::BadArgument, "+4000");
    assert_clean("find . -size \"$N\" -type f,d -perm -u+w -maxdepth 2");
}

#[test]
fn option_words_of_executed_commands_belong_to_them() {
    // `-l` after `-exec` is wc's, not find's; `-la` after xargs is ls's.
    assert_clean("find . -exec ls -la {} \\;");
    assert_finds(
        "find . -exec ls --nosuchflag {} \\;",
        Kind::UnknownOption,
        "of ls",
    );
    assert_finds(
        "ls | xargs -0 ls --nosuchflag",
        Kind::UnknownOption,
        "of ls",
    );
    // Shell code run by `sh -c` is a command too; its positions are in the outer text.
    let command = "find . -exec sh -c 'ls --nosuchflag \"$1\"' _ {} \\;";
    let found = kinds(command, Shell::Bash);
    let f = found
        .iter()
        .find(|f| f.kind == Kind::UnknownOption)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(
        f.span.clone().and_then(|s| command.get(s)),
        Some("--nosuchflag")
    );
    assert_finds("bash -c 'ls |'", Kind::Syntax, "|");
    assert_clean("bash -lc 'ls -la \"$HOME\"'");
}

#[test]
fn help_text_gives_a_table_for_allowed_system_tools() {
    // The `--help` path on its own, as used when a tool has no man page.
    let text = options::help("ls", Path::new("/usr/bin/ls")).expect("ls --help runs");
    let table = options::Table::new(roff::help(&text));
    assert!(table.knows("--all", false));
    assert!(table.knows("-la", false));
    assert!(!table.knows("--nosuchflag", false));
    // Not on the allowlist: never run.
    assert!(options::help("python3", Path::new("/usr/bin/python3")).is_none());
}

#[test]
fn help_text_is_used_without_a_man_page() {
    let checker = Checker::new().without_man();
    let found = checker.check("ls --nosuchflag", Shell::Bash);
    assert_eq!(
        found.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        ["`--nosuchflag` is not an option of ls"]
    );
    for command in [
        "ls -la --color=auto",
        "grep -rin foo .",
        "sort -k2,2n f",
        "du -sh */",
    ] {
        let found = checker.check(command, Shell::Bash);
        assert!(found.is_empty(), "{command:?}: {found:?}");
    }
}

#[test]
fn a_script_named_like_a_tool_is_never_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("ran");
    for name in ["ls", "grep", "sort", "nosuchmanpage", "fish", "zsh"] {
        let script = dir.path().join(name);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ntouch '{}'\necho '-a --all -z'\n",
                marker.display()
            ),
        )
        .expect("write script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("chmod script");
    }
    // The scripts do leave the marker when run.
    let ran = std::process::Command::new(dir.path().join("ls"))
        .status()
        .expect("run the script once");
    assert!(ran.success() && marker.exists());
    std::fs::remove_file(&marker).expect("remove marker");
    let mut path = OsString::from(dir.path());
    path.push(":/usr/bin:/bin");
    // Without man pages, so that `--help` is where tables would come from.
    let checker = Checker::with_path(path).without_man();
    for command in [
        "ls --nosuchflag",
        "grep -Q x",
        "sort --zzz",
        "nosuchmanpage --all",
    ] {
        checker.check(command, Shell::Bash);
    }
    // Nor are the shells that judge fish and zsh syntax taken from there.
    checker.check("echo (ls)", Shell::Fish);
    checker.check("ls *(.) | )", Shell::Zsh);
    // `help` itself refuses a program outside the system directories.
    assert!(options::help("ls", &dir.path().join("ls")).is_none());
    assert!(!marker.exists(), "a script in a temp dir was run");
}

#[test]
fn fish_syntax_is_fish_judged() {
    if !have("fish") {
        eprintln!("skipped: fish is not installed");
        return;
    }
    let found = kinds("for i in 1 2; echo $i; done", Shell::Fish);
    assert!(found.iter().any(|f| f.kind == Kind::Fish), "{found:?}");
    let found = kinds("ls && ", Shell::Fish);
    assert!(found.iter().any(|f| f.kind == Kind::Fish), "{found:?}");
    for ok in ["for i in 1 2; echo $i; end", "ls -la | sort", "echo (ls)"] {
        let found = kinds(ok, Shell::Fish);
        assert!(found.is_empty(), "{ok:?}: {found:?}");
    }
    // The other checks still apply to fish.
    assert_eq!(
        kinds("ls --nosuchflag", Shell::Fish)
            .iter()
            .map(|f| f.kind)
            .collect::<Vec<_>>(),
        [Kind::UnknownOption]
    );
}

/// Cold (man page read and parsed) and warm (cached) check times; run with
/// `cargo test --lib check::tests::timings -- --ignored --nocapture`.
#[test]
#[ignore]
fn timings() {
    // The last one looks up a man page that does not exist (`man -w git-co`).
    for command in [
        "ls -la",
        "find . -name x -exec grep -l y {} +",
        "git co -b x",
    ] {
        let checker = Checker::new();
        let start = Instant::now();
        let found = checker.check(command, Shell::Bash);
        let cold = start.elapsed();
        assert!(found.is_empty(), "{found:?}");
        let start = Instant::now();
        let rounds = 1000;
        for _ in 0..rounds {
            checker.check(command, Shell::Bash);
        }
        let warm = start.elapsed() / rounds;
        println!("{command:?}: cold {cold:?}, warm {warm:?}");
    }
    if have("fish") {
        let checker = Checker::new();
        checker.check("ls -la", Shell::Fish);
        let start = Instant::now();
        let rounds = 20;
        for _ in 0..rounds {
            checker.check("ls -la", Shell::Fish);
        }
        let each = start.elapsed() / rounds;
        println!("\"ls -la\" for fish (runs fish --no-execute): {each:?}");
    }
}

/// Prints the findings for each line of the file named by `CHECK_CORPUS`; a tool for
/// looking at false positives on real commands.
#[test]
#[ignore]
fn corpus() {
    let Some(file) = std::env::var_os("CHECK_CORPUS") else {
        return;
    };
    let text = std::fs::read_to_string(file).expect("corpus file");
    let mut checker = Checker::new();
    if std::env::var_os("CHECK_NO_MAN").is_some() {
        checker = checker.without_man();
    }
    for line in text.lines() {
        for f in checker.check(line, Shell::Bash) {
            println!("{:<9} {line}\n          {}", f.kind.name(), f.message);
        }
    }
}
