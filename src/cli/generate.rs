//! `caro "<request>"`: generate one command and print it.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::style::Style;
use super::{CommonArgs, GenerateArgs};
use crate::engine::candle::{CandleBackend, LoadOptions};
use crate::engine::command::{CommandOptions, generate_command};
use crate::engine::context::Context;
use crate::engine::{Backend, CancelToken, EngineError, Sampling};
use crate::error::{CaroError, exit};
use crate::settings::Settings;

pub fn run(args: &GenerateArgs, common: &CommonArgs, s: &Settings) -> Result<i32, CaroError> {
    let request = args.request.join(" ");
    if request.trim().is_empty() {
        return Err(EngineError::EmptyRequest.into());
    }
    let spinner = Spinner::start("loading model…");
    let t0 = Instant::now();
    let backend = CandleBackend::load(
        &s.model,
        &LoadOptions {
            sessions: 1,
            context_cap: s.context,
        },
    )?;
    let load_ms = ms(t0.elapsed());
    spinner.set("thinking…");

    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let ctx = Context::detect(&s.shell, &cwd);
    let opts = CommandOptions {
        max_tokens: s.max_tokens,
        sampling: Sampling {
            temperature: s.temperature,
            seed: s.seed,
            ..Sampling::default()
        },
    };
    let mut on_token = |_: &str| spinner.tick();
    let result = generate_command(
        &backend,
        &request,
        &ctx,
        &opts,
        &mut on_token,
        &CancelToken::new(),
    );
    spinner.finish();
    let result = result?;
    let stats = &result.generation.stats;

    if common.verbose {
        let info = backend.info();
        eprintln!(
            "{}",
            Style::for_stderr().dim(&format!(
                "model {} · {} threads · load {:.0} ms · prefill {} tok in {:.0} ms · {} tok generated in {:.0} ms ({:.1} tok/s)",
                info.model,
                info.threads,
                load_ms,
                stats.prefill_tokens,
                stats.prefill_ms,
                stats.generated_tokens,
                stats.decode_ms,
                stats.generated_tokens as f64 / (stats.decode_ms / 1e3).max(1e-9),
            ))
        );
    }
    if args.json {
        let out = json!({
            "command": result.command,
            "raw": result.raw,
            "shell": s.shell,
            "model": s.model,
            "threads": backend.info().threads,
            "load_ms": load_ms,
            "stats": stats,
        });
        println!("{out}");
    } else {
        println!("{}", Style::for_stdout().bold(&result.command));
    }
    Ok(exit::OK)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A spinner on stderr while the user waits; nothing at all when stderr is not a terminal.
struct Spinner(Option<ProgressBar>);

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
