//! Property tests: any input gets a verdict, quickly, without panicking.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{Level, check};

/// Fragments with a risky meaning, added to the parser's own stress fragments.
const RISKY_PIECES: &[&str] = &[
    ">(",
    "<<-X ",
    "> /dev/sda",
    "rm -rf /",
    "rm -rf ~",
    "sudo ",
    "sh -c ",
    "bash -c '",
    "eval ",
    "xargs ",
    "find / -exec ",
    " {} \\;",
    "*",
    "~",
    "$HOME",
    "$DIR/",
    "${X:?}",
    "$((1+",
    "function f ",
    "!(",
    "curl x | ",
    "..",
    "/",
    "cd / ",
    "watch ",
    "env -S ",
];

fn pieces() -> Vec<&'static str> {
    crate::syntax::tests::PIECES
        .iter()
        .chain(RISKY_PIECES)
        .copied()
        .collect()
}

fn assert_sane(input: &str) {
    let start = Instant::now();
    let v = check(input);
    assert_eq!(
        v.reason.is_some(),
        v.level != Level::Safe,
        "{input:?} -> {v:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "slow on {input:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(s in ".{0,400}") {
        assert_sane(&s);
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        assert_sane(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn shell_shaped_noise(parts in prop::collection::vec(prop::sample::select(pieces()), 0..120)) {
        assert_sane(&parts.concat());
    }

    #[test]
    fn quoting_never_hides_a_real_command(prefix in "[a-z ]{0,20}") {
        // Whatever harmless text precedes it, a later `rm -rf /` still counts.
        let command = format!("echo '{prefix}'; rm -rf /");
        prop_assert_eq!(check(&command).level, Level::Dangerous);
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for (open, close) in [
        ("$(", ")"),
        ("(", ")"),
        ("{ ", "; }"),
        ("${x:-", "}"),
        ("`", "`"),
        ("<(", ")"),
    ] {
        let deep = format!("{}rm -rf /{}", open.repeat(10_000), close.repeat(10_000));
        assert_sane(&deep);
        let unbalanced = open.repeat(10_000);
        assert_sane(&unbalanced);
    }
    assert_eq!(check(&"$(".repeat(10_000)).level, Level::Dangerous);
    let mut nested = "rm -rf /".to_string();
    for _ in 0..6 {
        nested = format!("sh -c {}", shell_quote(&nested));
    }
    assert_eq!(check(&nested).level, Level::Dangerous);
    assert_sane(&"eval ".repeat(10_000));
    assert_sane(&format!("{}rm -rf /", "sudo ".repeat(10_000)));
    assert_sane(&format!("{}rm -rf /", "xargs ".repeat(5_000)));
    assert_sane(&"f() ".repeat(10_000));
    assert_sane(&"case x in ".repeat(5_000));
}

#[test]
fn shallow_nesting_is_still_judged() {
    let deep = format!("echo {}rm -rf /{}", "$(".repeat(20), ")".repeat(20));
    let v = check(&deep);
    assert_eq!(v.level, Level::Dangerous);
    assert_eq!(v.reason.as_deref(), Some("deletes the entire filesystem"));
}

#[test]
fn long_lines_are_linear_enough() {
    let long_word = "a".repeat(10_000);
    let long_path = format!("rm -rf {}", "x/".repeat(5_000));
    let many_pipes = "ls |".repeat(2_500);
    let many_heredocs = "cat <<A ".repeat(2_000);
    let many_quotes = "'".repeat(10_000);
    let many_dollars = "$".repeat(10_000);
    let many_dotdots = format!("rm -rf {}", "../".repeat(3_000));
    for input in [
        long_word,
        long_path,
        many_pipes,
        many_heredocs,
        many_quotes,
        many_dollars,
        many_dotdots,
    ] {
        assert_sane(&input);
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
