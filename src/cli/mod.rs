//! The command line: argument definitions and dispatch to one module per subcommand.

mod bench;
mod clipboard;
mod complete_line;
mod config_cmd;
mod daemon_cmd;
mod doctor;
mod explain_cmd;
mod generate;
mod init_cmd;
mod model_cmd;
pub mod output;
mod pick;
pub mod style;
mod tty;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::CaroError;
use crate::settings::{BackendKind, DeviceSetting, Overrides, Settings, Shell};

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
    #[arg(long, global = true, value_name = "PATH", help = model_help())]
    pub model: Option<PathBuf>,
    /// CPU threads for inference [env: CARO_THREADS] [default: one per core]
    #[arg(long, short = 't', global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Where the local engine runs: cpu, cuda, cuda:N or metal [env: CARO_DEVICE] [default: cpu]
    #[arg(long, global = true, value_name = "DEVICE")]
    pub device: Option<DeviceSetting>,
    /// Print timings and details on stderr
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

fn model_help() -> String {
    format!(
        "GGUF model file [env: CARO_MODEL] [default: ~/.cache/caro/models/{}]",
        crate::settings::default_model_file()
    )
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// What you want to do, in plain words (quote it)
    #[arg(value_name = "REQUEST")]
    pub request: Vec<String>,
    /// Shell to write the command for [env: CARO_SHELL] [default: from $SHELL]
    #[arg(long, value_enum)]
    pub shell: Option<Shell>,
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
    /// Generate in this process instead of asking the background daemon
    #[arg(long)]
    pub no_daemon: bool,
    /// Also put the command on the clipboard (OSC 52: works through ssh and tmux)
    #[arg(long)]
    pub copy: bool,
    /// Another answer to the same request: 1, 2, … (0 is the first answer)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub alternative: u32,
    /// Engine that answers: local, or openai (an OpenAI-compatible server) [env: CARO_BACKEND]
    #[arg(long, value_name = "NAME")]
    pub backend: Option<BackendKind>,
    /// The server's base URL, with /v1 [env: CARO_OPENAI_URL]
    #[arg(long, value_name = "URL")]
    pub openai_url: Option<String>,
    /// Model name the server knows [env: CARO_OPENAI_MODEL]
    #[arg(long, value_name = "NAME")]
    pub openai_model: Option<String>,
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
    /// Run the background daemon that keeps the model loaded (foreground without an action)
    Daemon {
        #[command(subcommand)]
        action: Option<DaemonAction>,
    },
    /// Print the shell integration: eval "$(caro init zsh)" (bash alike; fish: caro init fish | source)
    Init {
        /// zsh, bash or fish
        #[arg(value_enum)]
        shell: Shell,
        /// Key to bind, e.g. ctrl-g (default), alt-g, '^X' [env: CARO_KEY]
        #[arg(long, value_name = "KEYSPEC")]
        key: Option<String>,
        /// Key that explains the command on the line, e.g. alt-i (default), or none [env: CARO_EXPLAIN_KEY]
        #[arg(long, value_name = "KEYSPEC")]
        explain_key: Option<String>,
        /// Key that lists answers to pick from, e.g. alt-m (default), or none [env: CARO_PICK_KEY]
        #[arg(long, value_name = "KEYSPEC")]
        pick_key: Option<String>,
        /// Define the widget but bind no key
        #[arg(long)]
        no_bind: bool,
    },
    /// Print shell completions for caro
    Completions {
        /// zsh, bash or fish
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Rate a command: safe, caution or dangerous, with the reason
    Check {
        /// The command, as one argument after `--`
        #[arg(allow_hyphen_values = true, num_args = 1.., required = true, value_name = "COMMAND")]
        command: Vec<String>,
        /// Print the verdict as JSON
        #[arg(long)]
        json: bool,
    },
    /// Say what a command does: each program and option from tldr-pages and the man
    /// page, and the safety verdict (nothing is run, no model is asked)
    Explain {
        /// The command, as one argument after `--`
        #[arg(allow_hyphen_values = true, num_args = 1.., required = true, value_name = "COMMAND")]
        command: Vec<String>,
        /// Print the explanation as JSON
        #[arg(long)]
        json: bool,
        /// Also ask the model for a short explanation (slower: loads the model). Not
        /// `--model`, which names the model file everywhere
        #[arg(long)]
        with_model: bool,
    },
    /// Check the model, daemon, shell integration, key bindings, CPU and memory
    Doctor,
    /// Download, list, verify or remove model files
    Model {
        #[command(subcommand)]
        action: model_cmd::ModelAction,
    },
    /// Replace a shell line with a command (used by the shell widgets)
    #[command(hide = true)]
    CompleteLine(complete_line::CompleteLineArgs),
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum DaemonAction {
    /// Start the daemon in the background and wait until it is ready
    Start,
    /// Stop the running daemon
    Stop,
    /// Show pid, uptime, model, workers, requests served, latency and memory
    Status,
    /// Stop the daemon, then start a fresh one
    Restart,
    /// Round-trip one ping to a running daemon (measures client overhead)
    #[command(hide = true)]
    Ping,
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
            shell: self.generate.shell,
            max_tokens: self.generate.max_tokens,
            temperature: self.generate.temperature,
            seed: self.generate.seed,
            idle_timeout_secs: None,
            backend: self.generate.backend,
            device: self.common.device,
            speculate: None,
            openai_url: self.generate.openai_url.clone(),
            openai_model: self.generate.openai_model.clone(),
            openai_api_key_env: None,
        }
    }
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, CaroError> {
    // Paths that need no settings: the widget's keypress path above all (no config file,
    // no model), and shell start-up (`init`), which must stay fast.
    match &cli.command {
        Some(Command::CompleteLine(args)) => return Ok(complete_line::run(args)),
        Some(Command::Daemon {
            action: Some(DaemonAction::Ping),
        }) => return Ok(daemon_cmd::ping()),
        Some(Command::Init {
            shell,
            key,
            explain_key,
            pick_key,
            no_bind,
        }) => {
            return init_cmd::init(
                *shell,
                [key.as_deref(), explain_key.as_deref(), pick_key.as_deref()],
                *no_bind,
            );
        }
        Some(Command::Completions { shell }) => return init_cmd::completions(*shell),
        Some(Command::Check { command, json }) => return Ok(check_cmd(&command.join(" "), *json)),
        Some(Command::Explain {
            command,
            json,
            with_model: false,
        }) => {
            return Ok(explain_cmd::run(&command.join(" "), *json));
        }
        _ => {}
    }
    let settings = Settings::resolve(&cli.overrides())?;
    // Candle reads its thread settings once, on first use: set them before any work.
    crate::engine::threads::configure(settings.threads);
    crate::logging::init(cli.common.verbose);
    match &cli.command {
        None => {
            let mut settings = settings;
            if let Some(path) = model_cmd::offer_first_download(&settings)? {
                settings.model = path;
            }
            generate::run(&cli.generate, &cli.common, &settings)
        }
        Some(Command::Config { action }) => config_cmd::run(*action, &settings),
        Some(Command::Bench(args)) => bench::run(args, &settings),
        Some(Command::Daemon { action }) => daemon_cmd::run(*action, &settings),
        Some(Command::Model { action }) => model_cmd::run(action, &settings),
        Some(Command::Doctor) => doctor::run(&settings),
        Some(Command::Explain { command, json, .. }) => {
            explain_cmd::run_with_model(&command.join(" "), *json, &settings)
        }
        Some(
            Command::CompleteLine(_)
            | Command::Init { .. }
            | Command::Completions { .. }
            | Command::Check { .. },
        ) => Ok(crate::error::exit::USAGE),
    }
}

/// `caro check`: exit 0 safe, 1 caution, 10 dangerous (so scripts can branch on it).
fn check_cmd(command: &str, json: bool) -> i32 {
    use crate::safety::Level;
    let v = crate::safety::check(command);
    if json {
        crate::outln!("{}", serde_json::to_string(&v).unwrap_or_default());
    } else {
        let st = style::Style::for_stdout();
        let level = match v.level {
            Level::Safe => st.bold("safe"),
            Level::Caution => st.yellow("caution"),
            Level::Dangerous => st.red("dangerous"),
        };
        match &v.reason {
            Some(r) => crate::outln!("{level}: {r}"),
            None => crate::outln!("{level}"),
        }
    }
    match v.level {
        Level::Safe => crate::error::exit::OK,
        Level::Caution => crate::error::exit::FAILURE,
        Level::Dangerous => crate::error::exit::DANGEROUS,
    }
}
