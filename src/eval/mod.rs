//! `caro eval`: runs the real generation path over a case file and measures the
//! commands: exact match, first program, key flags, and whether they do the same as a
//! reference when run on a fixture directory inside bubblewrap.

pub mod cases;
pub mod fixture;
pub mod metrics;
pub mod report;
pub mod sandbox;
pub mod variants;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::candle::{CandleBackend, LoadOptions};
use crate::engine::command::{CommandOptions, generate_from_prompt};
use crate::engine::context::Context;
use crate::engine::{Backend, CancelToken, Sampling};
use crate::error::{CaroError, exit};
use crate::safety::Level;
use crate::settings::Settings;

use cases::Case;
use report::{Exec, Report, Row, RunInfo};
use sandbox::{Outcome, Sandbox};
use variants::{ContextMode, Variant};

/// The shell the commands are written for and run with (the references are bash).
const SHELL: &str = "bash";

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// JSONL case file(s): {"id", "nl", "gold": [..]} per line
    #[arg(long, value_name = "FILE", required_unless_present = "compare")]
    pub cases: Vec<PathBuf>,
    /// Evaluate only the first N cases
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Skip the first N cases
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub skip: usize,
    /// Print the summary as JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Write every row and the summary to this JSON file
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Prompt to evaluate
    #[arg(
        long = "prompt",
        value_enum,
        value_name = "VARIANT",
        default_value = "current"
    )]
    pub variant: Variant,
    /// Context in the user turn [default: the variant's own]
    #[arg(long, value_enum, value_name = "MODE")]
    pub context: Option<ContextMode>,
    /// Do not run commands (string measures only)
    #[arg(long)]
    pub no_exec: bool,
    /// Time limit per command run, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub exec_timeout: u64,
    /// Print two saved results side by side and exit
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"], conflicts_with = "cases")]
    pub compare: Option<Vec<PathBuf>>,
    /// No line per case on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// Answer with each case's first reference instead of the model (checks the harness)
    #[arg(long)]
    pub oracle: bool,
}

pub fn run(args: &EvalArgs, settings: &Settings) -> Result<i32, CaroError> {
    if let Some(files) = &args.compare {
        return compare(files);
    }
    let mut all = Vec::new();
    for path in &args.cases {
        all.extend(cases::load(path).map_err(CaroError::Usage)?);
    }
    let selected: Vec<Case> = all
        .into_iter()
        .skip(args.skip)
        .take(args.limit.unwrap_or(usize::MAX))
        .collect();
    if selected.is_empty() {
        return Err(CaroError::Usage("no cases to evaluate".into()));
    }
    let mode = args.context.unwrap_or(args.variant.default_context());

    let base = SystemTime::now();
    let sandbox = if args.no_exec {
        Err("turned off with --no-exec".to_owned())
    } else {
        Sandbox::probe(
            Duration::from_secs(args.exec_timeout),
            fixture::Fixture::new(base),
        )
    };
    if let Err(reason) = &sandbox {
        eprintln!("execution equivalence unavailable: {reason}");
    }
    // The model sees the fixture as its working directory, listed like a real one.
    let ctx_dir = ContextDir::create(base).map_err(CaroError::Other)?;
    let mut ctx = Context::detect(SHELL, &ctx_dir.root);
    ctx.cwd = PathBuf::from(sandbox::WORKDIR);

    let backend = if args.oracle {
        None
    } else {
        let b = CandleBackend::load(
            &settings.model,
            &LoadOptions {
                sessions: 1,
                context_cap: settings.context,
            },
        )?;
        b.warm_up()?;
        b.prepare(args.variant.system())?;
        Some(b)
    };
    let opts = CommandOptions {
        max_tokens: settings.max_tokens,
        sampling: Sampling::default(),
    };

    let pristine = sandbox.as_ref().ok().map(|s| s.run("true"));
    let mut rows = Vec::with_capacity(selected.len());
    for (i, case) in selected.iter().enumerate() {
        let backend = backend.as_ref().map(|b| b as &dyn Backend);
        let row = evaluate(
            case,
            backend,
            args.variant,
            mode,
            &ctx,
            &opts,
            &sandbox,
            &pristine,
        );
        if !args.quiet {
            eprintln!(
                "[{:>3}/{}] {:<10} {:>6.0} ms  prog {}  flags {:.2}  {:<13} {}",
                i + 1,
                selected.len(),
                row.id,
                row.latency_ms,
                if row.first_program { "✓" } else { "✗" },
                row.flag_overlap,
                format!("{:?}", row.exec).to_lowercase(),
                row.command
                    .as_deref()
                    .or(row.error.as_deref())
                    .unwrap_or_default()
                    .replace('\n', "⏎")
            );
        }
        rows.push(row);
    }

    let summary = report::summarise(
        RunInfo {
            variant: if args.oracle {
                "oracle".into()
            } else {
                args.variant.name().into()
            },
            context: mode.name().into(),
            model: settings
                .model
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            threads: crate::engine::threads::current(),
            exec_available: sandbox.is_ok(),
            exec_reason: sandbox.as_ref().err().cloned(),
        },
        &rows,
    );
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| CaroError::Other(e.to_string()))?
        );
    } else {
        print!("{}", report::render(&[&summary]));
    }
    if let Some(out) = &args.out {
        report::save(&Report { summary, rows }, out).map_err(CaroError::Other)?;
    }
    Ok(exit::OK)
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    case: &Case,
    backend: Option<&dyn Backend>,
    variant: Variant,
    mode: ContextMode,
    ctx: &Context,
    opts: &CommandOptions,
    sandbox: &Result<Sandbox, String>,
    pristine: &Option<Result<Outcome, String>>,
) -> Row {
    let chat = variant.build(mode, &case.nl, ctx);
    let start = Instant::now();
    let result =
        backend.map(|b| generate_from_prompt(b, &chat, opts, &mut |_| {}, &CancelToken::new()));
    let latency_ms = start.elapsed().as_secs_f64() * 1e3;
    let (command, error, retried, user_tokens, generated_tokens) = match result {
        None => (case.gold.first().cloned(), None, None, 0, 0),
        Some(Ok(r)) => {
            let st = &r.generation.stats;
            (
                Some(r.command),
                None,
                r.retried.map(|x| x.to_string()),
                st.prefill_tokens,
                st.generated_tokens,
            )
        }
        Some(Err(e)) => (None, Some(e.to_string()), None, 0, 0),
    };
    let cmd = command.as_deref().unwrap_or_default();
    let safety = command.as_deref().map(|c| crate::safety::check(c).level);
    let exec = match (sandbox, pristine) {
        (Ok(sb), Some(Ok(pristine))) => execute(sb, pristine, case, command.as_deref(), safety),
        _ => Exec::NotRun,
    };
    Row {
        id: case.id.clone(),
        nl: case.nl.clone(),
        gold: case.gold.clone(),
        exact: command.is_some() && metrics::exact_match(cmd, &case.gold),
        first_program: command.is_some() && metrics::first_program_match(cmd, &case.gold),
        flag_overlap: if command.is_some() {
            metrics::best_flag_overlap(cmd, &case.gold)
        } else {
            0.0
        },
        command,
        error,
        retried,
        exec,
        safety,
        latency_ms,
        user_tokens,
        generated_tokens,
    }
}

/// Runs the references (dangerous ones never), decides whether the case can be
/// compared at all, then runs the generated command and compares.
fn execute(
    sb: &Sandbox,
    pristine: &Outcome,
    case: &Case,
    command: Option<&str>,
    safety: Option<Level>,
) -> Exec {
    let refs: Vec<Outcome> = case
        .gold
        .iter()
        .filter(|g| crate::safety::check(g).level != Level::Dangerous)
        .filter_map(|g| sb.run(g).ok())
        .collect();
    let visible = |o: &Outcome| !o.stdout.is_empty() || o.tree != pristine.tree;
    let Some(first_visible) = case
        .gold
        .iter()
        .filter(|g| crate::safety::check(g).level != Level::Dangerous)
        .zip(&refs)
        .find(|(_, o)| visible(o))
    else {
        return Exec::Uninformative;
    };
    // Time, process lists and the like differ between two runs: nothing to compare.
    match sb.run(first_visible.0) {
        Ok(again) if same(&again, first_visible.1) => {}
        _ => return Exec::Unstable,
    }
    let Some(cmd) = command else {
        return Exec::NoCommand;
    };
    if safety == Some(Level::Dangerous) {
        return Exec::Dangerous;
    }
    match sb.run(cmd) {
        Ok(out) if refs.iter().any(|r| same(&out, r)) => Exec::Equivalent,
        _ => Exec::Different,
    }
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    a.stdout == b.stdout && a.tree == b.tree
}

fn compare(files: &[PathBuf]) -> Result<i32, CaroError> {
    let reports = files
        .iter()
        .map(|f| report::load(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CaroError::Usage)?;
    for (f, r) in files.iter().zip(&reports) {
        println!("{}: {} cases", f.display(), r.rows.len());
    }
    let summaries: Vec<&report::Summary> = reports.iter().map(|r| &r.summary).collect();
    print!("{}", report::render(&summaries));
    if let [a, b] = reports.as_slice() {
        print_changes(a, b);
    }
    Ok(exit::OK)
}

/// Cases whose execution verdict flipped between the two runs.
fn print_changes(a: &Report, b: &Report) {
    let mut gained = 0;
    let mut lost = 0;
    for rb in &b.rows {
        let Some(ra) = a.rows.iter().find(|r| r.id == rb.id) else {
            continue;
        };
        let was = ra.exec == Exec::Equivalent;
        let is = rb.exec == Exec::Equivalent;
        if was != is {
            if is {
                gained += 1;
            } else {
                lost += 1;
            }
        }
    }
    println!("execution: {gained} cases became equivalent, {lost} stopped being equivalent");
}

/// A fixture copy the context is read from (its listing), removed afterwards.
struct ContextDir {
    parent: PathBuf,
    root: PathBuf,
}

impl ContextDir {
    fn create(base: SystemTime) -> Result<Self, String> {
        let parent = std::env::temp_dir().join(format!("caro-eval-ctx-{}", std::process::id()));
        let root = parent.join("work");
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent)
            .and_then(|()| fixture::Fixture::new(base).build(&root))
            .map_err(|e| format!("cannot build the fixture in {}: {e}", parent.display()))?;
        Ok(Self { parent, root })
    }
}

impl Drop for ContextDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.parent);
    }
}
