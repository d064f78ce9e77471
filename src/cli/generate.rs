//! `caro "<request>"`: generate one command and print it. Uses the warm daemon
//! (starting it if needed) unless `--no-daemon` asks for in-process generation.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::style::Style;
use super::{CommonArgs, GenerateArgs};
use crate::daemon::client::{Client, Progress, Wait, Waiter};
use crate::daemon::protocol::GenerateParams;
use crate::engine::candle::{CandleBackend, LoadOptions};
use crate::engine::command::CommandOptions;
use crate::engine::context::Context;
use crate::engine::openai::OpenAiBackend;
use crate::engine::translator::{Ask, Translator};
use crate::engine::{Backend, CancelToken, EngineError, GenerationStats};
use crate::error::{CaroError, exit};
use crate::safety::{Level, Verdict};
use crate::settings::{BackendKind, Settings};

struct Outcome {
    command: String,
    verdict: Verdict,
    /// What a check found wrong, when no answer passed them all.
    unverified: Option<String>,
    stats: GenerationStats,
    /// Model load time when generating in-process.
    load_ms: Option<f64>,
    total_ms: f64,
}

pub fn run(args: &GenerateArgs, common: &CommonArgs, s: &Settings) -> Result<i32, CaroError> {
    let request = args.request.join(" ");
    if request.trim().is_empty() {
        return Err(EngineError::EmptyRequest.into());
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let t0 = Instant::now();
    let spinner = Spinner::start("thinking…");
    let outcome = if args.no_daemon {
        in_process(&request, args.alternative, &cwd, s, &spinner)
    } else {
        via_daemon(&request, args.alternative, &cwd, s, &spinner)
    };
    spinner.finish();
    let mut outcome = outcome?;
    outcome.total_ms = t0.elapsed().as_secs_f64() * 1e3;
    print(&outcome, args, common, s);
    if args.copy
        && let Err(e) = super::clipboard::copy(&outcome.command)
    {
        eprintln!("caro: not copied: no terminal to send the clipboard escape to ({e})");
    }
    let dangerous = outcome.verdict.level == Level::Dangerous;
    // Scripts learn about a dangerous command from the exit code (the command is still
    // printed so they can show it).
    Ok(if dangerous && !std::io::stdout().is_terminal() {
        exit::DANGEROUS
    } else {
        exit::OK
    })
}

fn in_process(
    request: &str,
    alternative: u32,
    cwd: &std::path::Path,
    s: &Settings,
    spinner: &Spinner,
) -> Result<Outcome, CaroError> {
    let t = Instant::now();
    let backend = open_backend(s, Some(spinner))?;
    let translator = Translator::new(backend).with_trial_setting(s.trial);
    translator.set_instructions(s.instructions.as_deref());
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    spinner.set("thinking…");
    let ctx = Context::detect(s.shell, cwd);
    let ask = Ask {
        request,
        context: &ctx,
        options: CommandOptions::new(s.max_tokens, s.temperature, s.seed),
        alternative,
    };
    let mut on_token = |_: &str| spinner.tick();
    let r = translator.translate(&ask, &mut on_token, &CancelToken::new())?;
    Ok(Outcome {
        verdict: crate::safety::check(&r.command),
        unverified: r.verification.warning(),
        command: r.command,
        stats: r.generation.stats,
        load_ms: Some(load_ms),
        total_ms: 0.0,
    })
}

/// The backend the settings name, in this process (the local model is loaded).
pub fn open_backend(
    s: &Settings,
    spinner: Option<&Spinner>,
) -> Result<Box<dyn Backend>, CaroError> {
    Ok(match s.backend {
        BackendKind::Openai => Box::new(OpenAiBackend::new(&s.openai, 1)),
        BackendKind::Local => {
            if let Some(sp) = spinner {
                sp.set("loading model…");
            }
            Box::new(CandleBackend::load(
                &s.model,
                &LoadOptions {
                    sessions: 1,
                    context_cap: s.context,
                    prefix_cache: s.prefix_cache.clone(),
                    device: s.device,
                    speculate: s.speculate,
                },
            )?)
        }
    })
}

fn via_daemon(
    request: &str,
    alternative: u32,
    cwd: &std::path::Path,
    s: &Settings,
    spinner: &Spinner,
) -> Result<Outcome, CaroError> {
    let params = GenerateParams {
        alternative,
        temperature: Some(s.temperature),
        max_tokens: Some(s.max_tokens),
        seed: Some(s.seed),
        ..GenerateParams::new(request.to_owned(), s.shell, cwd.display().to_string())
    };
    // A daemon started from here uses the model, threads and device this command resolved.
    let mut env = vec![
        ("CARO_MODEL".to_owned(), s.model.display().to_string()),
        ("CARO_THREADS".to_owned(), s.threads.to_string()),
        ("CARO_DEVICE".to_owned(), s.device.to_string()),
        ("CARO_BACKEND".to_owned(), s.backend.to_string()),
        ("CARO_OPENAI_URL".to_owned(), s.openai.url.clone()),
        ("CARO_OPENAI_MODEL".to_owned(), s.openai.model.clone()),
    ];
    if let Some(var) = &s.openai.api_key_env {
        env.push(("CARO_OPENAI_API_KEY_ENV".to_owned(), var.clone()));
    }
    let done = Client::new()
        .with_daemon_env(env)
        .generate(&params, &mut SpinnerWaiter(spinner))?;
    Ok(Outcome {
        command: done.command,
        verdict: done.verdict,
        unverified: done.unverified,
        stats: done.stats,
        load_ms: None,
        total_ms: 0.0,
    })
}

fn print(o: &Outcome, args: &GenerateArgs, common: &CommonArgs, s: &Settings) {
    let st = &o.stats;
    if common.verbose {
        let tok_s = st.generated_tokens as f64 / (st.decode_ms / 1e3).max(1e-9);
        let load = o
            .load_ms
            .map_or_else(|| "daemon".to_owned(), |ms| format!("load {ms:.0} ms"));
        eprintln!(
            "{}",
            Style::for_stderr().dim(&format!(
                "{load} · prefill {} tok in {:.0} ms ({} cached) · {} tok in {:.0} ms ({tok_s:.1} tok/s) · total {:.0} ms",
                st.prefill_tokens, st.prefill_ms, st.cached_tokens, st.generated_tokens, st.decode_ms, o.total_ms
            ))
        );
        if st.drafted_tokens > 0 {
            eprintln!(
                "{}",
                Style::for_stderr().dim(&format!(
                    "speculation: {} decode passes · {} of {} guessed tokens accepted",
                    st.decode_passes, st.accepted_tokens, st.drafted_tokens
                ))
            );
        }
    }
    if args.json {
        let out = json!({
            "command": o.command,
            "verdict": o.verdict,
            "unverified": o.unverified,
            "shell": s.shell,
            "model": s.model,
            "via": if o.load_ms.is_some() { "in-process" } else { "daemon" },
            "load_ms": o.load_ms,
            "total_ms": o.total_ms,
            "stats": st,
        });
        crate::outln!("{out}");
        return;
    }
    if !std::io::stdout().is_terminal() {
        crate::outln!("{}", o.command);
        return;
    }
    let out = Style::for_stdout();
    crate::outln!("{}", out.bold(&o.command));
    let err = Style::for_stderr();
    match (o.verdict.level, &o.verdict.reason) {
        (Level::Dangerous, Some(r)) => eprintln!("{} {r}", err.red("⚠ dangerous:")),
        (Level::Caution, Some(r)) => eprintln!("{} {r}", err.yellow("caution:")),
        _ => {}
    }
    if let Some(w) = &o.unverified {
        eprintln!("{}", err.yellow(w));
    }
}

/// A spinner on stderr while the user waits; nothing at all when stderr is not a terminal.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    fn start(msg: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let pb = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            pb.set_style(style);
        }
        pb.set_message(msg.to_owned());
        pb.enable_steady_tick(Duration::from_millis(100));
        Self(Some(pb))
    }
    fn set(&self, msg: &str) {
        if let Some(pb) = &self.0 {
            pb.set_message(msg.to_owned());
        }
    }
    fn tick(&self) {
        if let Some(pb) = &self.0 {
            pb.tick();
        }
    }
    fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

struct SpinnerWaiter<'a>(&'a Spinner);

impl Waiter for SpinnerWaiter<'_> {
    fn progress(&mut self, p: Progress<'_>) {
        match p {
            Progress::Waiting(Wait::Loading) => self.0.set("loading model (first use)…"),
            Progress::Tick(_) | Progress::Token(_) => self.0.set("thinking…"),
        }
    }
}
