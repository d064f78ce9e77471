//! Commands that run other code: shells, interpreters, `eval`, `watch`, `su -c`, `ssh`,
//! and anything fed from a download.
//!
//! Code handed to them is parsed and checked like the outer command, and code that
//! arrives from the network is dangerous whatever it says.

use super::Level;
use super::args::Arg;
use super::engine::{Engine, Input, Inv};
use super::fanout;
use super::network::{is_downloader, record_download, word_fetches};
use super::opts::Opts;
use super::paths::basename;
use crate::syntax::wrappers::{join, skip_options};

const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "fish", "csh", "tcsh", "yash",
];

pub(crate) fn is_shell(name: &str) -> bool {
    SHELLS.contains(&name)
}

fn is_interpreter(name: &str) -> bool {
    name.starts_with("python")
        || matches!(
            name,
            "perl"
                | "ruby"
                | "node"
                | "nodejs"
                | "php"
                | "lua"
                | "deno"
                | "bun"
                | "Rscript"
                | "pwsh"
        )
}

/// Handles commands that run other code. Returns true when the command was one.
pub(crate) fn check(eng: &mut Engine, inv: &Inv<'_, '_>) -> bool {
    let name = inv.name();
    if let Some(first) = inv.args.first()
        && first.text.contains('/')
        && eng.downloads.iter().any(|d| d == basename(&first.text))
    {
        eng.note(
            Level::Dangerous,
            "runs a script it just downloaded from the internet",
        );
        return true;
    }
    match name {
        _ if is_downloader(name) => record_download(eng, inv),
        _ if is_shell(name) => shell(eng, inv),
        _ if is_interpreter(name) => {
            interpreter(eng, inv);
            // `perl -i` is also sed's in-place edit of the files it is given.
            if name == "perl" {
                super::rules::rewrite::perl(eng, inv);
            }
        }
        "source" | "." => {
            if let Some(file) = inv.rest().first() {
                run_file(eng, file);
            } else {
                run_stdin(eng, inv, true);
            }
        }
        "eval" => {
            if inv.rest().iter().any(|a| a.word.is_some_and(word_fetches)) {
                eng.note(Level::Dangerous, "runs code downloaded from the internet");
            }
            eng.check_source(&join(inv.args, 1));
        }
        "iex" | "Invoke-Expression" => run_stdin(eng, inv, false),
        "xargs" => fanout::xargs(eng, inv),
        "find" => fanout::find(eng, inv),
        "watch" => {
            let start = skip_options(inv.args, 1, "nq", &["interval"]);
            let exec = inv
                .args
                .get(1..start)
                .unwrap_or_default()
                .iter()
                .any(|a| a.is("-x") || a.is("--exec"));
            if exec {
                let args = inv.args.get(start..).unwrap_or_default();
                eng.nested(|e| e.dispatch(args, inv.ctx, &Input::none()));
            } else {
                eng.check_source(&join(inv.args, start));
            }
        }
        "su" | "runuser" => {
            let opts = Opts::parse(
                inv.rest(),
                "csgGwu",
                &["command", "shell", "group", "supp-group"],
            );
            if let Some(code) = opts.value("c").or_else(|| opts.value("command")) {
                eng.check_source(&code);
            } else if name == "runuser" && opts.value("u").is_some() && !opts.operands.is_empty() {
                // `runuser -u bob -- cmd args` runs the operands directly.
                let argv: Vec<Arg<'_>> = opts.operands.iter().map(|a| (*a).clone()).collect();
                eng.nested(|e| e.dispatch(&argv, inv.ctx, &Input::none()));
            } else if let Some(text) = &inv.input.text {
                eng.check_source(text);
            } else {
                eng.note(Level::Caution, "opens a shell as another user");
            }
        }
        "ssh" => {
            let host = skip_options(inv.args, 1, "BbcDEeFIiJLlmOoPpQRSWw", &[]);
            if inv.args.get(host + 1).is_some() {
                eng.check_source(&join(inv.args, host + 1));
            } else if let Some(text) = &inv.input.text {
                eng.check_source(text);
            }
        }
        _ => return false,
    }
    true
}

fn shell(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let mut command_mode = false;
    let mut stdin_mode = false;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let t = arg.text.as_str();
        if t == "--" || t == "-" {
            stdin_mode |= t == "-";
            i += 1;
            break;
        }
        if t.len() < 2 || !(t.starts_with('-') || t.starts_with('+')) {
            break;
        }
        i += 1;
        if t.starts_with("--") {
            if t == "--rcfile" || t == "--init-file" {
                i += 1;
            }
            continue;
        }
        let letters = t.get(1..).unwrap_or_default();
        command_mode |= letters.contains('c');
        stdin_mode |= letters.contains('s');
        if letters.ends_with(['o', 'O']) {
            i += 1;
        }
    }
    match args.get(i) {
        Some(code) if command_mode => {
            // `sh -c 'rm "$1"' _ FILE`: the words after the code are `$0`, `$1`, …
            let positional = args.get(i + 1..).unwrap_or_default();
            eng.with_positional(positional, |e| e.check_code_arg(code));
        }
        Some(file) if !stdin_mode => run_file(eng, file),
        _ => run_stdin(eng, inv, true),
    }
}

fn interpreter(eng: &mut Engine, inv: &Inv<'_, '_>) {
    const CODE_FLAGS: &[&str] = &[
        "-c", "-e", "-E", "-r", "--eval", "-p", "--print", "-Command",
    ];
    let args = inv.rest();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let t = arg.text.as_str();
        if CODE_FLAGS.contains(&t)
            || (t.len() > 2
                && t.starts_with('-')
                && !t.starts_with("--")
                && t.ends_with('e')
                && inv.name() == "perl")
        {
            if let Some(code) = args.get(i + 1) {
                if code.word.is_some_and(word_fetches) {
                    eng.note(Level::Dangerous, "runs code downloaded from the internet");
                }
                for cmd in embedded_commands(&code.text) {
                    eng.check_source(&cmd);
                }
            }
            return;
        }
        if t == "-m" {
            return;
        }
        if t == "-" {
            break;
        }
        if !t.starts_with('-') {
            run_file(eng, arg);
            return;
        }
        i += if matches!(t, "-W" | "-X" | "-r" | "--require" | "-I") {
            2
        } else {
            1
        };
    }
    run_stdin(eng, inv, false);
}

/// Shell commands and deletions spelled out inside a one-line script
/// (`python -c "import os; os.system('rm -rf /')"`), found by their call names.
fn embedded_commands(code: &str) -> Vec<String> {
    const RUNS: &[&str] = &[
        "system(",
        "popen(",
        "execSync(",
        "spawnSync(",
        "check_output(",
        "check_call(",
        "call(",
        "run(",
        "Popen(",
        "shell_exec(",
        "passthru(",
        "getoutput(",
        "exec(",
    ];
    const DELETES: &[(&str, &str)] = &[
        ("rmtree(", "rm -rf"),
        ("rmSync(", "rm -rf"),
        ("unlink(", "rm"),
        ("remove(", "rm"),
    ];
    let mut out = Vec::new();
    for call in RUNS {
        for (pos, _) in code.match_indices(call).take(8) {
            if let Some(lit) = string_after(code.get(pos + call.len()..).unwrap_or_default()) {
                out.push(lit);
            }
        }
    }
    for (call, cmd) in DELETES {
        for (pos, _) in code.match_indices(call).take(8) {
            if let Some(lit) = string_after(code.get(pos + call.len()..).unwrap_or_default()) {
                out.push(format!("{cmd} '{}'", lit.replace('\'', "")));
            }
        }
    }
    if let Some(inner) = code.split('`').nth(1) {
        out.push(inner.to_string());
    }
    out
}

/// The string literal that opens `rest`, if any.
fn string_after(rest: &str) -> Option<String> {
    let rest = rest.trim_start().trim_start_matches('[').trim_start();
    let mut chars = rest.chars();
    let quote = chars.next().filter(|c| matches!(c, '\'' | '"'))?;
    let mut out = String::new();
    let mut escaped = false;
    for c in chars {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some(out);
        } else {
            out.push(c);
        }
    }
    None
}

/// A shell or interpreter running a script file.
fn run_file(eng: &mut Engine, file: &Arg<'_>) {
    if file.word.is_some_and(word_fetches) {
        eng.note(
            Level::Dangerous,
            "runs a script downloaded from the internet",
        );
    } else if eng.downloads.iter().any(|d| d == basename(&file.text)) {
        eng.note(
            Level::Dangerous,
            "runs a script it just downloaded from the internet",
        );
    }
}

/// A shell or interpreter reading its program from standard input.
fn run_stdin(eng: &mut Engine, inv: &Inv<'_, '_>, shell: bool) {
    let name = inv.name();
    let up = inv.input.up;
    if up.downloader {
        eng.note(
            Level::Dangerous,
            format!("pipes a download straight into {name}, running remote code unseen"),
        );
    } else if up.decoder {
        eng.note(
            Level::Dangerous,
            format!("runs decoded, hidden code with {name}"),
        );
    } else if let Some(text) = up.echo.as_deref().filter(|_| shell) {
        eng.check_source(text);
    } else if up.present {
        eng.note(
            Level::Caution,
            format!("runs whatever is piped into {name}"),
        );
    } else if let Some(text) = inv.input.text.as_deref().filter(|_| shell) {
        eng.check_source(text);
    } else if let Some(file) = &inv.input.file {
        if eng.downloads.iter().any(|d| d == basename(file)) {
            eng.note(
                Level::Dangerous,
                "runs a script it just downloaded from the internet",
            );
        }
    } else if shell && inv.ctx.sudo {
        eng.note(Level::Caution, "opens a root shell");
    }
}
