//! Everyday requests through the real Qwen2.5-Coder model: the first program and the
//! key flag must be right, greedily and deterministically.

mod common;

use caro::engine::candle::{CandleBackend, LoadOptions};
use caro::engine::command::{CommandOptions, generate_command};
use caro::engine::context::Context;
use caro::engine::{Backend, CancelToken, Sampling, prompt};
use caro::settings::Shell;
use caro::syntax;

/// (request, expected first program, a fragment the command must contain)
const CASES: &[(&str, &str, &str)] = &[
    ("list all files including hidden ones", "ls", "-a"),
    ("count lines in main.rs", "wc", "-l"),
    (
        "find files larger than 100MB in this directory",
        "find",
        "-size",
    ),
    (
        "show disk usage of this folder in human readable units",
        "du",
        "-h",
    ),
    (
        "show free disk space on all mounted filesystems in human readable form",
        "df",
        "-h",
    ),
    (
        "search for the word TODO in all files under src recursively",
        "grep",
        "-r",
    ),
    ("show the last 20 lines of app.log", "tail", "20"),
    ("follow the output of server.log as it grows", "tail", "-f"),
    (
        "create a directory called build including missing parents",
        "mkdir",
        "-p",
    ),
    (
        "find all python files in this directory tree",
        "find",
        "*.py",
    ),
    ("make deploy.sh executable", "chmod", "+x"),
    (
        "create a gzipped tar archive logs.tar.gz of the logs directory",
        "tar",
        "logs",
    ),
    ("show the first 5 lines of data.csv", "head", "5"),
    ("print the current working directory", "pwd", ""),
    (
        "sort names.txt and remove duplicate lines",
        "sort",
        "names.txt",
    ),
    ("show all running processes", "ps", ""),
    (
        "count the number of files in the current directory",
        "ls",
        "wc",
    ),
];

/// `-h` matches a bundle such as `-sh`; anything else must appear as written.
fn has(cmd: &str, want: &str) -> bool {
    let short = want.len() == 2 && want.starts_with('-') && want != "--";
    let script = syntax::parse(cmd).script;
    let mut words = script.commands().into_iter().flat_map(|c| &c.words);
    words.any(|w| {
        let w = w.text(cmd);
        w.contains(want)
            || (short && w.starts_with('-') && !w.starts_with("--") && w.contains(&want[1..]))
    }) || cmd.contains(want)
}

#[test]
fn everyday_requests_give_the_right_program_and_flag() {
    let Some(model) = common::real_model() else {
        return;
    };
    let backend = CandleBackend::load(&model, &LoadOptions::default()).expect("load real model");
    backend.warm_up().expect("warm up");
    backend.prepare(&prompt::preamble()).expect("prepare");
    let ctx = Context::detect(Shell::Bash, std::path::Path::new("/home/user/project"));
    let opts = CommandOptions {
        max_tokens: 96,
        sampling: Sampling::default(),
        policy: Default::default(),
    };
    let cancel = CancelToken::new();
    let mut failures = Vec::new();
    for (req, program, flag) in CASES {
        let r =
            generate_command(&backend, req, &ctx, &opts, &mut |_| {}, &cancel).expect("generate");
        // `cat FILE | wc -l` answers the request as `wc -l FILE` does.
        let ok = syntax::working_program(&r.command).as_deref() == Some(*program)
            && has(&r.command, flag);
        println!(
            "{} {req:<70} → {}",
            if ok { "ok  " } else { "FAIL" },
            r.command
        );
        if !ok {
            failures.push(format!("{req} → {} (want {program} … {flag})", r.command));
        }
        // Every request after the first reuses the cached system prompt.
        assert!(r.generation.stats.cached_tokens > 0);
    }
    assert!(
        failures.is_empty(),
        "{} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Prompt-lookup speculation checks guessed tokens in one pass whose rows have the
/// bits of one-token decoding, so the replies, and their log-probabilities, are the
/// same with it on and off.
#[test]
fn speculation_gives_the_replies_of_plain_decoding() {
    let Some(model) = common::real_model() else {
        return;
    };
    let backend = CandleBackend::load(&model, &LoadOptions::default()).expect("load real model");
    backend.prepare(&prompt::preamble()).expect("prepare");
    let ctx = Context::detect(Shell::Bash, std::path::Path::new("/home/user/project"));
    let opts = CommandOptions {
        max_tokens: 96,
        sampling: Sampling::default(),
        policy: caro::engine::checked::Policy::OFF,
    };
    let cancel = CancelToken::new();
    let mut accepted = 0;
    for (req, _, _) in CASES.iter().take(8) {
        let run = |speculate| {
            backend.set_speculate(speculate);
            generate_command(&backend, req, &ctx, &opts, &mut |_| {}, &cancel).expect("generate")
        };
        let plain = run(0);
        let spec = run(2);
        assert_eq!(spec.raw, plain.raw, "{req}");
        assert_eq!(spec.generation.logprob, plain.generation.logprob, "{req}");
        accepted += spec.generation.stats.accepted_tokens;
    }
    assert!(accepted > 0, "some guesses were right");
}

#[test]
fn greedy_generation_is_deterministic_and_cache_independent() {
    let Some(model) = common::real_model() else {
        return;
    };
    let backend = CandleBackend::load(&model, &LoadOptions::default()).expect("load real model");
    let ctx = Context::detect(Shell::Zsh, std::path::Path::new("/tmp"));
    let opts = CommandOptions {
        max_tokens: 64,
        sampling: Sampling::default(),
        policy: Default::default(),
    };
    let cancel = CancelToken::new();
    let req = "find files larger than 100MB in this directory";
    // First call: nothing cached. Second: system prompt cached. Same answer.
    let a = generate_command(&backend, req, &ctx, &opts, &mut |_| {}, &cancel).expect("first");
    assert_eq!(a.generation.stats.cached_tokens, 0);
    let mut streamed = String::new();
    let b = generate_command(
        &backend,
        req,
        &ctx,
        &opts,
        &mut |t| streamed.push_str(t),
        &cancel,
    )
    .expect("second");
    assert!(b.generation.stats.cached_tokens > 0);
    assert_eq!(
        b.generation.stats.prefill_tokens + b.generation.stats.cached_tokens,
        b.generation.stats.prompt_tokens
    );
    assert_eq!(a.command, b.command);
    assert_eq!(streamed, b.raw, "tokens are streamed as they are produced");
}

#[test]
fn cancel_stops_generation_and_keeps_the_prefix() {
    let Some(model) = common::real_model() else {
        return;
    };
    let backend = CandleBackend::load(&model, &LoadOptions::default()).expect("load real model");
    backend.prepare(&prompt::preamble()).expect("prepare");
    let ctx = Context::detect(Shell::Bash, std::path::Path::new("/tmp"));
    let opts = CommandOptions {
        max_tokens: 64,
        sampling: Sampling::default(),
        policy: Default::default(),
    };
    let cancel = CancelToken::new();
    let mut n = 0;
    let c2 = cancel.clone();
    let r = generate_command(
        &backend,
        "write a long bash script that backs up /etc",
        &ctx,
        &opts,
        &mut |_| {
            n += 1;
            if n == 2 {
                c2.cancel();
            }
        },
        &cancel,
    );
    assert!(matches!(r, Err(caro::engine::EngineError::Cancelled)));
    assert!(n <= 3, "stopped within one token step, got {n} tokens");
    // The worker still holds the system prompt: the next request reuses it.
    let r = generate_command(
        &backend,
        "list files",
        &ctx,
        &opts,
        &mut |_| {},
        &CancelToken::new(),
    )
    .expect("next");
    assert!(r.generation.stats.cached_tokens > 0);
    let _ = backend.info();
}

/// `caro explain --with-model` prints the manual-page gloss, then a few sentences from
/// the model about the same command.
#[test]
fn explain_with_the_model_adds_its_words_to_the_gloss() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = common::Sandbox::with_model(&model);
    let o = sb.run(&["explain", "--with-model", "--", "tar -xzvf a.tgz -C /tmp"]);
    let out = common::stdout(&o);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(out.contains("tar: Archiving utility."), "{out}");
    let said = out
        .lines()
        .find_map(|l| l.strip_prefix("model: "))
        .unwrap_or_default()
        .to_lowercase();
    assert!(said.contains("extract") && said.contains("/tmp"), "{out}");
}
