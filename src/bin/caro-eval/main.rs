//! `caro-eval`: runs caro's real generation path over a case file and measures the
//! commands: exact match, first program, key flags, and whether they do the same as a
//! reference when run on a fixture directory inside bubblewrap. A program of its own,
//! so that the product binary carries no evaluation harness.

mod cases;
mod category;
mod equivalence;
mod fixture;
mod fixture_file;
mod metrics;
mod report;
mod variants;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;

use caro::check::Checker;
use caro::cli::style::Style;
use caro::engine::candle::{CandleBackend, LoadOptions};
use caro::engine::checked::{Checking, Policy, generate_checked};
use caro::engine::command::{CommandOptions, generate_once};
use caro::engine::context::Context;
use caro::engine::openai::OpenAiBackend;
use caro::engine::trial::Trial;
use caro::engine::{Backend, CancelToken, Preamble, Sampling};
use caro::error::{CaroError, exit};
use caro::sandbox::{HOME, WORKDIR};
use caro::settings::{BackendKind, Overrides, Settings, Shell};
use caro::{out, outln};

use cases::Case;
use equivalence::{Bench, NotScorable, References, Setup};
use report::{Exec, Report, Row, RunInfo};
use variants::{ContextMode, Variant};

/// The shell the commands are written for and run with (the references are bash).
const SHELL: Shell = Shell::Bash;

/// Measure command quality on a case file (string measures and sandboxed execution)
#[derive(Debug, Clone, Parser)]
#[command(name = "caro-eval", version)]
struct Args {
    /// GGUF model file [env: CARO_MODEL] [default: caro's configured model]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// CPU threads for inference [env: CARO_THREADS] [default: one per core]
    #[arg(long, short = 't', value_name = "N")]
    threads: Option<usize>,
    /// Engine that answers: local, or openai (the product's `[openai]` settings, e.g. a
    /// llama-server serving the same model) [env: CARO_BACKEND]
    #[arg(long, value_name = "NAME")]
    backend: Option<BackendKind>,
    /// The server's base URL, with /v1 [env: CARO_OPENAI_URL]
    #[arg(long, value_name = "URL")]
    openai_url: Option<String>,
    /// Model name the server knows [env: CARO_OPENAI_MODEL]
    #[arg(long, value_name = "NAME")]
    openai_model: Option<String>,
    /// Print diagnostics on stderr
    #[arg(long, short = 'v')]
    verbose: bool,
    /// JSONL case file(s): {"id", "nl", "gold": [..], "fixture"?} per line; a case with
    /// "fixture": "NAME" runs on the tree of fixtures/NAME.json beside its file
    #[arg(long, value_name = "FILE", required_unless_present = "compare")]
    cases: Vec<PathBuf>,
    /// Evaluate only the cases whose ids this file lists, one a line (e.g.
    /// docs/eval/splits/alfa-tune.ids); repeat to take the union
    #[arg(long, value_name = "FILE")]
    ids: Vec<PathBuf>,
    /// Evaluate only the first N cases
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Skip the first N cases
    #[arg(long, value_name = "N", default_value_t = 0)]
    skip: usize,
    /// Print the summary as JSON instead of a table
    #[arg(long)]
    json: bool,
    /// Write every row and the summary to this JSON file
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Prompt to evaluate
    #[arg(
        long = "prompt",
        value_enum,
        value_name = "VARIANT",
        default_value = "current"
    )]
    variant: Variant,
    /// Take the --prompt variant's system turn and examples from this TOML file
    /// (`system = "…"`, `examples = [["request", "command"], …]`) to try a prompt
    /// without rebuilding
    #[arg(long, value_name = "FILE", conflicts_with = "oracle")]
    prompt_file: Option<PathBuf>,
    /// Context in the user turn [default: the variant's own]
    #[arg(long, value_enum, value_name = "MODE")]
    context: Option<ContextMode>,
    /// Do not run commands (string measures only)
    #[arg(long)]
    no_exec: bool,
    /// Time limit per command run, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    exec_timeout: u64,
    /// Print two saved results side by side and exit
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"], conflicts_with = "cases")]
    compare: Option<Vec<PathBuf>>,
    /// No line per case on stderr
    #[arg(long, short)]
    quiet: bool,
    /// One attempt per case, no validation and retry (always so for baseline and original)
    #[arg(long)]
    no_retry: bool,
    /// Evaluate a second prompt in the same run, case by case in alternating order, so
    /// that latencies are measured under the same machine load
    #[arg(long, value_enum, value_name = "VARIANT")]
    vs: Option<Variant>,
    /// Context for the --vs prompt [default: its own]
    #[arg(long, value_enum, value_name = "MODE", requires = "vs")]
    vs_context: Option<ContextMode>,
    /// Write the --vs prompt's results to this JSON file
    #[arg(long, value_name = "FILE", requires = "vs")]
    vs_out: Option<PathBuf>,
    /// Sample at this temperature instead of greedy decoding (as alternatives are made)
    #[arg(long, value_name = "T", default_value_t = 0.0)]
    temperature: f64,
    /// Seed for sampling
    #[arg(long, value_name = "N", default_value_t = caro::settings::DEFAULT_SEED)]
    seed: u64,
    /// Answer with each case's first reference instead of the model (checks the harness)
    #[arg(long)]
    oracle: bool,
    /// Check answers against the parser and the installed tools, and replace one that
    /// fails (only for the current prompt)
    #[arg(long, value_enum, value_name = "ON|OFF", default_value = "on")]
    checks: Switch,
    /// Candidates decoded as one batch when an answer fails a check
    #[arg(long, value_name = "N", default_value_t = Policy::SHIPPED.candidates)]
    candidates: usize,
    /// Retry once with a note naming the failed check when no candidate passes
    #[arg(long, value_enum, value_name = "ON|OFF", default_value = "on")]
    note_retry: Switch,
    /// The request notes of `engine::hints`, after requests and on the examples
    #[arg(long, value_enum, value_name = "ON|OFF", default_value = "on")]
    hints: Switch,
    /// Try answers rated safe in the case's tree first, as `trial = "sandbox"` does
    #[arg(long, value_enum, value_name = "ON|OFF", default_value = "off")]
    trial: Switch,
    /// Print the request notes (`engine::hints`) each case gets, and exit
    #[arg(long)]
    print_notes: bool,
    /// Run the checks over every case's references instead of the model, and print what
    /// they find (each finding there is a false alarm or a bad reference)
    #[arg(long)]
    check_references: bool,
    /// Leave out the preamble's example I (0-based; repeat for more)
    #[arg(long, value_name = "I")]
    drop_example: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

impl Switch {
    fn on(self) -> bool {
        self == Self::On
    }
}

/// One prompt configuration under test, with its own backend (its own cached system turn).
struct Config {
    variant: Variant,
    preamble: Preamble,
    /// Set when the preamble came from --prompt-file.
    label: Option<String>,
    mode: ContextMode,
    retry: bool,
    /// Request notes (current prompt only).
    notes: bool,
    /// Answers are tried in the case's tree before they count.
    trial: bool,
    policy: Policy,
    backend: Option<Box<dyn Backend>>,
    rows: Vec<Row>,
}

impl Config {
    fn new(
        variant: Variant,
        mode: Option<ContextMode>,
        file: Option<&std::path::Path>,
        args: &Args,
        settings: &Settings,
    ) -> Result<Self, CaroError> {
        let (preamble, label) = match file {
            Some(f) => (
                variants::load_preamble(f).map_err(CaroError::Usage)?,
                Some(format!(
                    "{}:{}",
                    variant.name(),
                    f.file_stem().unwrap_or_default().to_string_lossy()
                )),
            ),
            None => {
                let mut p = variant.preamble(args.hints.on());
                let mut i = 0;
                p.examples.retain(|_| {
                    i += 1;
                    !args.drop_example.contains(&(i - 1))
                });
                (p, None)
            }
        };
        let current = variant == Variant::Current;
        let policy = Policy {
            checks: current && args.checks.on(),
            candidates: args.candidates,
            note_retry: args.note_retry.on(),
        };
        let backend: Option<Box<dyn Backend>> = match (args.oracle, settings.backend) {
            (true, _) => None,
            (false, BackendKind::Openai) => {
                let b = OpenAiBackend::new(&settings.openai, 1);
                b.prepare(&preamble)?;
                Some(Box::new(b))
            }
            (false, BackendKind::Local) => {
                let b = CandleBackend::load(
                    &settings.model,
                    &LoadOptions {
                        sessions: 1,
                        context_cap: settings.context,
                        prefix_cache: None,
                        device: settings.device,
                        speculate: settings.speculate,
                    },
                )?;
                b.warm_up()?;
                b.prepare(&preamble)?;
                Some(Box::new(b))
            }
        };
        Ok(Self {
            variant,
            preamble,
            label,
            mode: mode.unwrap_or(variant.default_context()),
            retry: !args.no_retry && current,
            notes: args.hints.on(),
            trial: args.trial.on(),
            policy,
            backend,
            rows: Vec::new(),
        })
    }

    fn name(&self, oracle: bool) -> String {
        match (&self.label, oracle) {
            (_, true) => "oracle".into(),
            (Some(l), _) => l.clone(),
            (None, _) => self.variant.name().into(),
        }
    }
}

fn main() {
    let args = Args::parse();
    let code = match settings(&args).and_then(|s| run(&args, &s)) {
        Ok(code) => code,
        Err(e) => {
            let s = Style::for_stderr();
            eprintln!("{} {e}", s.red("caro-eval: error:"));
            if let Some(hint) = e.hint() {
                eprintln!("  {} {hint}", s.dim("hint:"));
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// caro's settings with this run's model and threads, applied before any tensor work.
fn settings(args: &Args) -> Result<Settings, CaroError> {
    let settings = Settings::resolve(&Overrides {
        model: args.model.clone(),
        threads: args.threads,
        backend: args.backend,
        openai_url: args.openai_url.clone(),
        openai_model: args.openai_model.clone(),
        ..Overrides::default()
    })?;
    caro::engine::threads::configure(settings.threads);
    caro::logging::init(args.verbose);
    Ok(settings)
}

fn run(args: &Args, settings: &Settings) -> Result<i32, CaroError> {
    if let Some(files) = &args.compare {
        return compare(files);
    }
    let mut all = Vec::new();
    for path in &args.cases {
        all.extend(cases::load(path).map_err(CaroError::Usage)?);
    }
    if !args.ids.is_empty() {
        let mut ids = std::collections::BTreeSet::new();
        for f in &args.ids {
            ids.extend(cases::load_ids(f).map_err(CaroError::Usage)?);
        }
        let (kept, missing) = cases::select(all, &ids);
        if !missing.is_empty() {
            eprintln!(
                "caro-eval: {} of the --ids are in no case file (first: {})",
                missing.len(),
                missing[0]
            );
        }
        all = kept;
    }
    let selected: Vec<Case> = all
        .into_iter()
        .skip(args.skip)
        .take(args.limit.unwrap_or(usize::MAX))
        .collect();
    if selected.is_empty() {
        return Err(CaroError::Usage("no cases to evaluate".into()));
    }
    if args.check_references {
        return check_references(&selected);
    }
    if args.print_notes {
        for case in &selected {
            let notes = caro::engine::hints::for_request(&case.nl);
            outln!("{}\t{}", case.id, notes.join("; "));
        }
        return Ok(exit::OK);
    }

    let base = SystemTime::now();
    let sandbox = if args.no_exec {
        Err("turned off with --no-exec".to_owned())
    } else {
        Bench::probe(Duration::from_secs(args.exec_timeout), base)
    };
    // Each fixture file once, shared by its cases.
    let mut specs: HashMap<PathBuf, Arc<fixture_file::Spec>> = HashMap::new();
    let mut setups = Vec::with_capacity(selected.len());
    for case in &selected {
        setups.push(match &case.fixture_file {
            None => Setup::Builtin,
            Some(path) => {
                if !specs.contains_key(path) {
                    let spec = fixture_file::Spec::load(path).map_err(CaroError::Usage)?;
                    specs.insert(path.clone(), Arc::new(spec));
                }
                Setup::File(specs[path].clone())
            }
        });
    }
    if let Err(reason) = &sandbox {
        eprintln!("execution equivalence unavailable: {reason}");
    }
    // The model sees the fixture as its working directory, listed like a real one.
    let ctx_dir = ContextDir::create(base).map_err(CaroError::Other)?;
    let mut ctx = Context::detect(SHELL, &ctx_dir.root);
    ctx.cwd = PathBuf::from(WORKDIR);
    // The sandbox's home, so the context reads as it would for a user there.
    ctx.home = Some(PathBuf::from(HOME));

    let mut configs = vec![Config::new(
        args.variant,
        args.context,
        args.prompt_file.as_deref(),
        args,
        settings,
    )?];
    if let Some(vs) = args.vs {
        configs.push(Config::new(vs, args.vs_context, None, args, settings)?);
    }
    let opts = CommandOptions {
        max_tokens: settings.max_tokens,
        sampling: Sampling {
            temperature: args.temperature,
            seed: args.seed,
            ..Sampling::default()
        },
        policy: Policy::OFF,
    };
    // Option tables are read once per program for the whole run, as the daemon does.
    let checker = Checker::new();

    for (i, (case, setup)) in selected.iter().zip(&setups).enumerate() {
        let refs = match &sandbox {
            Ok(sb) => sb.references(setup, case),
            Err(_) => Err(NotScorable {
                exec: Exec::NotRun,
                note: "execution unavailable".into(),
            }),
        };
        // The model is told the working directory and home the commands will run in.
        let mut case_ctx = ctx.clone();
        if let Setup::File(spec) = setup {
            case_ctx.cwd = PathBuf::from(&spec.cwd);
            case_ctx.home = Some(PathBuf::from(&spec.home));
            case_ctx.git = false;
        }
        // Alternate which configuration goes first, so that neither is always measured
        // right after the other (caches, machine load).
        let n = configs.len();
        for k in 0..n {
            let c = &mut configs[(i + k) % n];
            let row = evaluate(
                case,
                c,
                &case_ctx,
                &opts,
                &checker,
                sandbox.as_ref().ok().map(|sb| (sb, setup)),
                &refs,
            );
            if !args.quiet {
                eprintln!(
                    "[{:>3}/{}] {:<10} {:<8} {:>6.0} ms  prog {}  flags {:.2}  {:<13} {}",
                    i + 1,
                    selected.len(),
                    row.id,
                    c.name(args.oracle),
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
            c.rows.push(row);
        }
    }

    let model = match settings.backend {
        BackendKind::Local => settings
            .model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        BackendKind::Openai => format!("{} at {}", settings.openai.model, settings.openai.url),
    };
    let reports: Vec<Report> = configs
        .into_iter()
        .map(|c| {
            let summary = report::summarise(
                RunInfo {
                    variant: c.name(args.oracle),
                    context: c.mode.name().into(),
                    model: model.clone(),
                    threads: caro::engine::threads::current(),
                    exec_available: sandbox.is_ok(),
                    exec_reason: sandbox.as_ref().err().cloned(),
                },
                &c.rows,
            );
            Report {
                summary,
                rows: c.rows,
            }
        })
        .collect();
    let summaries: Vec<&report::Summary> = reports.iter().map(|r| &r.summary).collect();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&summaries)
                .map_err(|e| CaroError::Other(e.to_string()))?
        );
    } else {
        out!("{}", report::render(&summaries));
    }
    for (report, out) in reports.iter().zip([&args.out, &args.vs_out]) {
        if let Some(out) = out {
            report::save(report, out).map_err(CaroError::Other)?;
        }
    }
    Ok(exit::OK)
}

fn evaluate(
    case: &Case,
    config: &Config,
    ctx: &Context,
    opts: &CommandOptions,
    checker: &Checker,
    sandbox: Option<(&Bench, &Setup)>,
    refs: &Result<References, NotScorable>,
) -> Row {
    let chat = config
        .variant
        .build(&config.preamble, config.mode, &case.nl, ctx, config.notes);
    let opts = CommandOptions {
        policy: config.policy,
        ..opts.clone()
    };
    let trial = sandbox
        .filter(|_| config.trial)
        .map(|(bench, setup)| FixtureTrial { bench, setup });
    let checking = Checking {
        checker,
        shell: SHELL,
        trial: trial.as_ref().map(|t| t as &dyn Trial),
    };
    let start = Instant::now();
    let result = config.backend.as_ref().map(|b| {
        if config.retry {
            generate_checked(
                b,
                &chat,
                &opts,
                Some(checking),
                &mut |_| {},
                &CancelToken::new(),
            )
        } else {
            generate_once(b, &chat, &opts, &mut |_| {}, &CancelToken::new())
        }
    });
    let latency_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut verification = None;
    let (command, error, retried, user_tokens, generated_tokens) = match result {
        None => (case.gold.first().cloned(), None, None, 0, 0),
        Some(Ok(r)) => {
            let st = &r.generation.stats;
            verification = Some(r.verification.clone());
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
    let judged = judge(case, command.as_deref(), sandbox, refs);
    // A replaced first answer is judged too, so each check's effect can be counted.
    let checks = verification.filter(|v| v.checked).map(|v| {
        let first = v
            .replaced
            .as_deref()
            .map(|c| judge(case, Some(c), sandbox, refs));
        report::Checks::new(&v, first.as_ref())
    });
    Row {
        id: case.id.clone(),
        nl: case.nl.clone(),
        gold: case.gold.clone(),
        exact: judged.exact,
        first_program: judged.first_program,
        flag_overlap: judged.flag_overlap,
        command,
        error,
        retried,
        exec: judged.exec,
        exec_note: judged.exec_note,
        category: category::of(case.gold.first().map_or("", String::as_str)).into(),
        safety: judged.safety,
        latency_ms,
        user_tokens,
        generated_tokens,
        checks,
    }
}

/// The product's trial run, over the case's own tree.
struct FixtureTrial<'a> {
    bench: &'a Bench,
    setup: &'a Setup,
}

impl Trial for FixtureTrial<'_> {
    fn usage_error(&self, command: &str) -> Option<String> {
        self.bench.trial(self.setup, command)
    }
}

/// How one command measures against a case's references.
fn judge(
    case: &Case,
    command: Option<&str>,
    sandbox: Option<(&Bench, &Setup)>,
    refs: &Result<References, NotScorable>,
) -> report::Judged {
    let cmd = command.unwrap_or_default();
    let safety = command.map(|c| caro::safety::check(c).level);
    let (exec, exec_note) = match (sandbox, refs) {
        (Some((sb, setup)), Ok(refs)) => {
            (sb.judge(setup, refs, command, safety), refs.note.clone())
        }
        (_, Err(e)) => (e.exec, Some(e.note.clone())),
        (None, Ok(_)) => (Exec::NotRun, None),
    };
    report::Judged {
        exact: command.is_some() && metrics::exact_match(cmd, &case.gold),
        first_program: command.is_some() && metrics::first_program_match(cmd, &case.gold),
        flag_overlap: if command.is_some() {
            metrics::best_flag_overlap(cmd, &case.gold)
        } else {
            0.0
        },
        exec,
        exec_note,
        safety,
    }
}

fn check_references(cases: &[Case]) -> Result<i32, CaroError> {
    let checker = Checker::new();
    let (mut refs, mut flagged) = (0, 0);
    for case in cases {
        for gold in &case.gold {
            refs += 1;
            let found = checker.check(gold, SHELL);
            if !found.is_empty() {
                flagged += 1;
                let what: Vec<String> = found
                    .iter()
                    .map(|f| format!("{}: {f}", f.kind.name()))
                    .collect();
                outln!("{}\t{gold}\t{}", case.id, what.join("; "));
            }
        }
    }
    outln!("{flagged} of {refs} references flagged");
    Ok(exit::OK)
}

fn compare(files: &[PathBuf]) -> Result<i32, CaroError> {
    let reports = files
        .iter()
        .map(|f| report::load(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CaroError::Usage)?;
    for (f, r) in files.iter().zip(&reports) {
        outln!("{}: {} cases", f.display(), r.rows.len());
    }
    let summaries: Vec<&report::Summary> = reports.iter().map(|r| &r.summary).collect();
    out!("{}", report::render(&summaries));
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
    outln!("execution: {gained} cases became equivalent, {lost} stopped being equivalent");
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
