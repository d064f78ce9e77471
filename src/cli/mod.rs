//! The command line: argument definitions and dispatch to one module per subcommand.

mod bench;
mod config_cmd;
mod generate;
pub mod style;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::CaroError;
use crate::settings::{Overrides, Settings};

const EXAMPLES: &str = "\
Examples:
  caro \"find files larger than 100MB in this directory\"
  caro --json \"count lines in main.rs\"
  caro config show

Inside your shell, type the request and press Ctrl-G (see `caro init --help`).";

#[derive(Debug, Parser)]
#[command(
    name = "caro",
    version,
    about = "Turn plain words into one shell command, with a local model",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(flatten)]
    pub generate: GenerateArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options shared by generation, the daemon and the benchmark.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// GGUF model file [env: CARO_MODEL] [default: ~/.cache/caro/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf]
    #[arg(
        long,
        global = true,
        env = "CARO_MODEL",
        value_name = "PATH",
        hide_env = true
    )]
    pub model: Option<PathBuf>,
    /// CPU threads for inference [env: CARO_THREADS] [default: one per core]
    #[arg(
        long,
        short = 't',
        global = true,
        env = "CARO_THREADS",
        value_name = "N",
        hide_env = true
    )]
    pub threads: Option<usize>,
    /// Print timings and details on stderr
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetShell {
    Zsh,
    Bash,
    Fish,
    Sh,
}

impl TargetShell {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zsh => "zsh",
            Self::Bash => "bash",
            Self::Fish => "fish",
            Self::Sh => "sh",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// What you want to do, in plain words (quote it)
    #[arg(value_name = "REQUEST")]
    pub request: Vec<String>,
    /// Shell to write the command for [default: from $SHELL]
    #[arg(long, value_enum)]
    pub shell: Option<TargetShell>,
    /// Most tokens the model may generate
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
    /// Sampling temperature; 0 is greedy and deterministic
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// Random seed for sampling
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Print the command, verdict, timings and token counts as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show where the config file is, or the settings in effect
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Measure load time, prefill and decode speed, and end-to-end latency
    Bench(bench::BenchArgs),
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum ConfigAction {
    /// Print the config file's path
    Path,
    /// Print the settings in effect, as TOML
    Show,
}

impl Cli {
    fn overrides(&self) -> Overrides {
        Overrides {
            model: self.common.model.clone(),
            threads: self.common.threads,
            shell: self.generate.shell.map(|s| s.as_str().to_owned()),
            max_tokens: self.generate.max_tokens,
            temperature: self.generate.temperature,
            seed: self.generate.seed,
        }
    }
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, CaroError> {
    let settings = Settings::resolve(&cli.overrides())?;
    // Candle reads its thread settings once, on first use: set them before any work.
    crate::engine::threads::configure(settings.threads);
    crate::logging::init(cli.common.verbose);
    match &cli.command {
        None => generate::run(&cli.generate, &cli.common, &settings),
        Some(Command::Config { action }) => config_cmd::run(*action, &settings),
        Some(Command::Bench(args)) => bench::run(args, &settings),
    }
}
