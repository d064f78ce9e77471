//! Positions, incompleteness and programs, checked against the real parser.

use proptest::prelude::*;

use super::parse::Parser;
use super::wrappers::is_wrapper;
use super::*;

/// The word's parts with positions left out, so words lexed from different places
/// compare equal when they read the same.
fn shape(word: &Word) -> String {
    let spans = regex::Regex::new(r"span: \d+\.\.\d+").expect("valid pattern");
    spans
        .replace_all(&format!("{:?}", word.parts), "")
        .into_owned()
}

/// Every word and command span lies on character boundaries of `src`, each command's
/// words lie inside its span, and a word the script itself runs (not one inside a
/// substitution) lexes on its own, from its source text, into the same word. Text with
/// a heredoc is left out of that last check: the lexer jumps over a heredoc body at
/// the next line break, even one inside a word, so such a word reads differently alone.
fn assert_spans(src: &str) {
    let parsed = parse(src);
    for simple in parsed.script.commands() {
        let whole = src.get(simple.span.clone());
        assert!(whole.is_some(), "{src:?}: command span {:?}", simple.span);
        for word in simple
            .words
            .iter()
            .chain(simple.assigns.iter().map(|a| &a.value))
        {
            assert!(src.get(word.span.clone()).is_some(), "{src:?}: {word:?}");
            assert!(
                simple.span.start <= word.span.start && word.span.end <= simple.span.end,
                "{src:?}: word {:?} outside command {:?}",
                word.span,
                simple.span
            );
        }
    }
    if src.contains("<<") {
        return;
    }
    for simple in parsed.script.top_commands() {
        for word in &simple.words {
            let text = src.get(word.span.clone()).unwrap_or_default();
            let mut alone = Parser::new(text, 0);
            let again = alone.lex_word();
            assert_eq!(
                alone.pos,
                alone.src.len(),
                "{src:?}: {text:?} is not one word"
            );
            assert_eq!(shape(&again), shape(word), "{src:?}: {text:?}");
        }
    }
}

/// Words as a model writes them, quoting and expansions included.
const WORDS: &[&str] = &[
    "plain",
    "-la",
    "--color=auto",
    "'single quoted'",
    "\"double $HOME\"",
    "\"$(echo \"in\")\"",
    "$(date +%s)",
    "`uname -r`",
    "`echo \\`nested\\``",
    "<(sort a)",
    "${x:-dflt}",
    "${#PATH}",
    "a\\ b",
    "~/dir",
    "$'tab\\t'",
    "ünïcödé",
    "x=1",
    "{}",
    "\\;",
    "*.txt",
    "a'b'\"c\"",
    "$((1 + 2))",
    "@(a|b)",
    "\"multi\nline\"",
];

/// Fragments that stress the lexer and parser where they are most intricate (the
/// safety checker's fuzzing adds its own risky ones to these).
pub(crate) const PIECES: &[&str] = &[
    "$(",
    ")",
    "`",
    "'",
    "\"",
    "${",
    "}",
    "{",
    "(",
    "<(",
    "\\",
    "\n",
    " ",
    ";",
    "&&",
    "||",
    "|",
    "&",
    ";;",
    "case x in ",
    "a) ",
    "esac",
    "<<EOF\n",
    "EOF\n",
    "<<<",
    "2>&1",
    "ls -l",
    "if ",
    "then ",
    "fi",
    "for i in ",
    "do ",
    "done",
    "f() ",
    "[[ ",
    " ]]",
    "#",
    "=",
    "a=(",
    "é",
    "$'\\''",
    "echo ",
    "x",
    "\"$(a b)\"",
    "`b c`",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn generated_words_keep_their_source_text(
        words in prop::collection::vec(prop::sample::select(WORDS), 1..8),
        gap in prop::sample::select(&[" ", "  ", "\t", " \\\n "][..]),
    ) {
        let src = format!("echo {}", words.join(gap));
        let parsed = parse(&src);
        let top = parsed.script.top_commands();
        prop_assert_eq!(top.len(), 1, "{:?}", src);
        let got: Vec<&str> = top[0].words.iter().skip(1).map(|w| &src[w.span.clone()]).collect();
        prop_assert_eq!(got, words, "{:?}", src);
        prop_assert_eq!(&src[top[0].span.clone()], src.as_str());
        assert_spans(&src);
    }

    #[test]
    fn spans_hold_on_shell_shaped_noise(parts in prop::collection::vec(prop::sample::select(PIECES), 0..60)) {
        assert_spans(&parts.concat());
    }

    #[test]
    fn spans_hold_on_arbitrary_text(s in ".{0,200}") {
        assert_spans(&s);
    }
}

#[test]
fn nested_words_point_into_the_top_level_text() {
    let src = "echo $(ls -l 'a b') \"$(cat <(sort x))\" `uname -r` <<EOF\n$(id -u)\nEOF";
    let parsed = parse(src);
    let words: Vec<Vec<&str>> = parsed
        .script
        .commands()
        .iter()
        .map(|c| c.words.iter().map(|w| &src[w.span.clone()]).collect())
        .collect();
    assert_eq!(
        words,
        [
            vec![
                "echo",
                "$(ls -l 'a b')",
                "\"$(cat <(sort x))\"",
                "`uname -r`"
            ],
            vec!["ls", "-l", "'a b'"],
            vec!["cat", "<(sort x)"],
            vec!["sort", "x"],
            vec!["uname", "-r"],
            vec!["id", "-u"],
        ]
    );
    // Inside backticks, escapes are undone before parsing; positions still count in
    // the text as written.
    let src = "echo `printf '%s' \\`whoami\\``";
    let parsed = parse(src);
    let inner = parsed.script.commands()[2];
    assert_eq!(&src[inner.words[0].span.clone()], "whoami");
    let src = "A='x y' B=$(pwd) make";
    let parsed = parse(src);
    let assigns = &parsed.script.top_commands()[0].assigns;
    assert_eq!(&src[assigns[0].value.span.clone()], "'x y'");
    assert_eq!(&src[assigns[1].value.span.clone()], "$(pwd)");
}

#[test]
fn unfinished_text_is_reported_with_what_is_open() {
    let open = |src: &str| parse(src).incomplete.map(|i| i.what);
    let cases: &[(&str, Unfinished)] = &[
        ("echo 'abc", Unfinished::Quote("'")),
        ("echo \"abc", Unfinished::Quote("\"")),
        ("echo `date", Unfinished::Quote("`")),
        ("echo $'a", Unfinished::Quote("$'")),
        ("cat <<EOF", Unfinished::HereDoc("EOF".into())),
        ("cat <<'END' > f\nline", Unfinished::HereDoc("END".into())),
        ("ps aux |", Unfinished::Operator("|")),
        ("ps aux |\n", Unfinished::Operator("|")),
        ("make &&", Unfinished::Operator("&&")),
        ("test -f x ||  ", Unfinished::Operator("||")),
        ("docker run \\", Unfinished::Backslash),
        ("docker run \\\n", Unfinished::Backslash),
        ("(cd a && ls", Unfinished::Open("(")),
        ("{ ls;", Unfinished::Open("{")),
        ("echo $(ls", Unfinished::Open("$(")),
        ("echo ${HOME", Unfinished::Open("${")),
        ("echo $((1+", Unfinished::Open("$((")),
        ("diff <(ls a", Unfinished::Open("<(")),
        ("if true; then ls", Unfinished::Open("if")),
        ("for f in *; do echo $f", Unfinished::Open("for")),
        ("while true; do", Unfinished::Open("while")),
        ("case $x in a) ls;;", Unfinished::Open("case")),
    ];
    for (src, want) in cases {
        assert_eq!(open(src).as_ref(), Some(want), "{src:?}");
    }
    for done in [
        "ls -la",
        "echo 'a|b' | wc -c",
        "cat <<EOF\nhi\nEOF",
        "cat <<-EOF\n\thi\n\tEOF\n",
        "for f in *; do echo \"$f\"; done",
        "if [ -f x ]; then echo y; else echo n; fi",
        "case $x in a) ls;; *) pwd;; esac",
        "f() { ls; }",
        "(cd a && ls) &",
        "echo \\\\",
        "find . -exec rm {} \\;",
        "echo ${#x} $((1+2)) `date` $(pwd) # done",
        "ls |& cat",
    ] {
        assert_eq!(parse(done).incomplete, None, "{done:?}");
    }
    let at = parse("echo ok; echo 'x").incomplete.map(|i| i.at);
    assert_eq!(at, Some(14));
}

#[test]
fn syntax_errors_are_listed_with_positions() {
    let faults =
        |src: &str| -> Vec<Fault> { parse(src).problems.into_iter().map(|p| p.what).collect() };
    assert_eq!(faults("| wc -l"), [Fault::MissingCommand("|")]);
    assert_eq!(faults("ls | | wc"), [Fault::MissingCommand("|")]);
    assert_eq!(faults("ls |;"), [Fault::MissingCommand("|")]);
    assert_eq!(faults("&& ls"), [Fault::MissingCommand("&&")]);
    assert_eq!(faults("ls && ; pwd"), [Fault::MissingCommand("&&")]);
    assert_eq!(faults("; ls"), [Fault::MissingCommand(";")]);
    assert_eq!(faults("ls )"), [Fault::Unexpected(")")]);
    assert_eq!(faults("ls; fi"), [Fault::Unexpected("fi")]);
    assert_eq!(faults("ls; done"), [Fault::Unexpected("done")]);
    assert_eq!(faults("ls;;"), [Fault::Unexpected(";;")]);
    assert_eq!(faults("echo $(if true)"), [Fault::Unclosed("if")]);
    for fine in [
        "ls -la; pwd",
        "ls &\npwd",
        "a && b || c",
        "make &&\n  make install",
        "if a; then b; elif c; then d; else e; fi",
        "while read l; do echo \"$l\"; done < f",
        "case x in a|b) ls;; esac",
        "{ ls; } > out",
        "ls # trailing; comment | here",
    ] {
        assert_eq!(parse(fine).problems, [], "{fine:?}");
    }
    let p = parse("ls && ; pwd").problems;
    assert_eq!(p.first().map(|p| p.at), Some(3));
}

#[test]
fn comments_are_where_the_shell_sees_them() {
    let src = "echo a#b '# no' ${#x} # yes\ncat <<EOF\n# body\nEOF";
    let comments: Vec<&str> = parse(src)
        .comments
        .iter()
        .map(|c| &src[c.clone()])
        .collect();
    assert_eq!(comments, ["# yes"]);
}

#[test]
fn first_program_looks_through_wrappers_and_assignments() {
    assert_eq!(first_program("ls -la").as_deref(), Some("ls"));
    assert_eq!(
        first_program("sudo -u www find / -name x").as_deref(),
        Some("find")
    );
    assert_eq!(
        first_program("LANG=C FOO='a b' sort f").as_deref(),
        Some("sort")
    );
    assert_eq!(
        first_program("env -i PATH=/bin /usr/bin/du -sh").as_deref(),
        Some("du")
    );
    assert_eq!(
        first_program("find . | xargs grep x").as_deref(),
        Some("find")
    );
    assert_eq!(first_program("`sudo rm x`").as_deref(), Some("rm"));
    assert_eq!(first_program("(cd a && ls)").as_deref(), Some("cd"));
    assert_eq!(first_program("nice -n 5 make").as_deref(), Some("make"));
    assert_eq!(first_program("sudo").as_deref(), Some("sudo"));
    assert_eq!(first_program("echo 'a|b'").as_deref(), Some("echo"));
    assert_eq!(
        first_program("timeout -s KILL 5 stdbuf -oL tail -f log").as_deref(),
        Some("tail")
    );
    assert_eq!(first_program("X=1; ionice -c 3 du").as_deref(), Some("du"));
    assert_eq!(first_program("$EDITOR notes").as_deref(), Some("$EDITOR"));
    assert_eq!(first_program("command -v rg").as_deref(), Some("command"));
    assert_eq!(first_program("time sh -c true").as_deref(), Some("sh"));
    assert_eq!(first_program("  ").as_deref(), None);
}

#[test]
fn programs_and_arguments_of_every_command() {
    assert_eq!(
        programs("sudo find . -name '*.rs' -print0 | xargs -0 wc -l; echo $(git rev-parse HEAD)"),
        ["find", "xargs", "echo", "git"]
    );
    let src = "sudo -u bob grep -rn 'a b' src/";
    let parsed = parse(src);
    let grep = parsed.script.top_commands()[0];
    let program = grep.program(src).expect("a program");
    assert_eq!((program.index, program.name.as_str()), (3, "grep"));
    let args: Vec<String> = grep.words[program.index + 1..]
        .iter()
        .map(|w| w.text(src).into_owned())
        .collect();
    assert_eq!(args, ["-rn", "a b", "src/"]);
    assert_eq!(
        working_program("cat a | sort | uniq").as_deref(),
        Some("sort")
    );
    assert_eq!(working_program("cat -n a | sort").as_deref(), Some("cat"));
    assert_eq!(working_program("cat a b").as_deref(), Some("cat"));
}

#[test]
fn one_wrapper_table() {
    for name in [
        "sudo", "doas", "env", "nohup", "nice", "ionice", "timeout", "stdbuf", "exec",
    ] {
        assert!(is_wrapper(name), "{name}");
    }
    for name in ["ls", "xargs", "sh", "find"] {
        assert!(!is_wrapper(name), "{name}");
    }
}
