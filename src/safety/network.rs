//! Code that arrives from the network: downloaders, decoders, and where downloads land.
//!
//! Piping a download into an interpreter runs code nobody has read, so any stage that
//! fetches taints what it feeds.

use super::Level::Dangerous;
use super::args::{Arg, HOME, command_name};
use super::engine::{Engine, Inv};
use super::opts::Opts;
use super::paths::{PathInfo, Scope, basename};
use crate::syntax::wrappers::is_wrapper;
use crate::syntax::{Command, MAX_DEPTH, Part, Script, Word};

const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "wget2",
    "fetch",
    "http",
    "https",
    "xh",
    "aria2c",
    "lwp-request",
    "GET",
    "nc",
    "ncat",
    "netcat",
    "iwr",
    "irm",
    "Invoke-WebRequest",
    "Invoke-RestMethod",
];

pub(crate) fn is_downloader(name: &str) -> bool {
    DOWNLOADERS.contains(&name)
}

/// Decoding stages hide what a piped-in script really does.
pub(crate) fn is_decoder(name: &str, rest: &[Arg<'_>]) -> bool {
    let has = |flags: &[&str]| rest.iter().any(|a| flags.contains(&a.text.as_str()));
    match name {
        "base64" | "base32" => has(&["-d", "--decode", "-D"]),
        "xxd" => rest
            .iter()
            .any(|a| a.text.starts_with('-') && a.text.contains('r')),
        "openssl" => has(&["-d"]) || has(&["base64"]),
        "uudecode" | "rev" => true,
        _ => false,
    }
}

/// Any command in the script fetches from the network.
pub(crate) fn script_fetches(script: &Script) -> bool {
    fn command_fetches(cmd: &Command, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match cmd {
            Command::Simple(s) => {
                let name = s
                    .words
                    .iter()
                    .filter_map(Word::literal)
                    .map(|w| command_name(&w).to_string())
                    .find(|w| !is_wrapper(w) && !w.starts_with('-'));
                name.is_some_and(|n| is_downloader(&n))
                    || s.words.iter().any(|w| word_fetches_at(w, depth + 1))
            }
            Command::Group { body, .. } => body
                .pipelines
                .iter()
                .flat_map(|p| &p.stages)
                .any(|c| command_fetches(c, depth + 1)),
            Command::Function { body, .. } => command_fetches(body, depth + 1),
        }
    }
    script
        .pipelines
        .iter()
        .flat_map(|p| &p.stages)
        .any(|c| command_fetches(c, 0))
}

/// The word's value comes from a substitution that downloads something.
pub(crate) fn word_fetches(word: &Word) -> bool {
    word_fetches_at(word, 0)
}

fn word_fetches_at(word: &Word, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    word.parts.iter().any(|part| match part {
        Part::Sub(s) | Part::ProcSub(s) => script_fetches(s),
        Part::Param { inner: Some(w), .. } => word_fetches_at(w, depth + 1),
        _ => false,
    })
}

/// Remembers where a download lands, so running it later is caught.
pub(crate) fn record_download(eng: &mut Engine, inv: &Inv<'_, '_>) {
    // netcat sends whatever it reads as well as receiving.
    if matches!(inv.name(), "nc" | "ncat" | "netcat") {
        upload_stdin(eng, inv);
    }
    let wget = inv.name().starts_with("wget");
    let opts = if wget {
        Opts::parse(
            inv.rest(),
            "OoPaitTwUeYlARDXIB",
            &["output-document", "output-file"],
        )
    } else {
        Opts::parse(
            inv.rest(),
            "oHdXuAebcTxmwFrEKYyzCQtUP",
            &[
                "output",
                "header",
                "data",
                "user-agent",
                "data-binary",
                "data-raw",
                "data-urlencode",
                "form",
                "upload-file",
            ],
        )
    };
    let url_name = opts
        .operands
        .iter()
        .find(|a| a.text.contains("://"))
        .map(|a| {
            let url = a.text.split(['?', '#']).next().unwrap_or_default();
            basename(url).to_string()
        });
    let explicit = if wget {
        opts.value("O").or_else(|| opts.value("output-document"))
    } else {
        opts.value("o").or_else(|| opts.value("output"))
    };
    let target = match explicit {
        Some(file) => (file != "-").then(|| basename(&file).to_string()),
        None if wget || opts.short('O') || opts.long("remote-name") => url_name,
        None => None,
    };
    if let Some(file) = target.filter(|f| !f.is_empty()) {
        eng.downloads.push(file);
    }
    let sent: Vec<String> = [
        "d",
        "F",
        "T",
        "data",
        "data-binary",
        "data-urlencode",
        "form",
        "upload-file",
    ]
    .iter()
    .filter_map(|k| opts.value(k))
    .collect();
    for value in sent {
        // `-d @file`, `-F key=@file`, `-T file`: the file's contents leave the machine.
        let file = value.split_once('@').map_or(value.as_str(), |(_, f)| f);
        if file == "-" {
            upload_stdin(eng, inv);
        } else if !file.is_empty() {
            let info = eng.classify(&Arg::synthetic(file));
            exposes(eng, &info);
        }
    }
}

/// Implements D2 (credentials exposed): a key or saved login sent over the network.
fn exposes(eng: &mut Engine, info: &PathInfo) {
    if info.scope == Scope::Credentials {
        eng.note(
            Dangerous,
            format!("sends {} over the network", info.describe()),
        );
    }
}

/// A network client sending what it reads on standard input (`nc host 9000`,
/// `curl -d @-`): implements D2 when a stage before it read credentials.
pub(crate) fn upload_stdin(eng: &mut Engine, inv: &Inv<'_, '_>) {
    if inv.input.up.secret {
        eng.note(
            Dangerous,
            "sends your keys or saved logins over the network",
        );
    }
}

/// The stage reads credentials (`cat ~/.ssh/id_rsa`, `tar c ~/.aws`), so what it
/// prints is secret. Only path-like words are classified: the check runs on every stage.
pub(crate) fn reads_secret(eng: &Engine, rest: &[Arg<'_>]) -> bool {
    rest.iter()
        .filter(|a| a.text.contains('/') || a.text.starts_with(HOME))
        .any(|a| eng.classify(a).scope == Scope::Credentials)
}
