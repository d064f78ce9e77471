//! `caro bench`: prints load time, memory, prefill and decode speed and end-to-end
//! latency for fixed everyday requests, once per thread count. Each thread count runs
//! in a fresh child process because candle fixes its thread pool at first use.

mod daemon;
mod explain;
mod requests;
mod single;

use std::process::Command as Process;

use clap::Args;

use crate::error::{CaroError, exit};
use crate::settings::Settings;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Thread counts to compare, comma separated
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    pub thread_counts: Vec<usize>,
    /// Run one measurement in this process (used by the parent run)
    #[arg(long, hide = true)]
    pub single: bool,
    /// Measure the daemon instead: client overhead, cold start, warm latency
    #[arg(long)]
    pub daemon: bool,
    /// Measure the safety checker's speed
    #[arg(long)]
    pub safety: bool,
    /// Measure `caro explain` (no model) as the explain key runs it: a fresh process
    #[arg(long)]
    pub explain: bool,
    /// Runs of each prefill and decode test, reported as mean ± standard deviation
    /// (llama-bench's -r)
    #[arg(short = 'r', long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repetitions: u32,
}

pub fn run(args: &BenchArgs, s: &Settings) -> Result<i32, CaroError> {
    if args.single {
        return single::run(s, args.repetitions as usize);
    }
    if args.safety {
        crate::outln!("{}", crate::safety::bench_report());
        return Ok(exit::OK);
    }
    if args.daemon {
        return daemon::run(s);
    }
    if args.explain {
        return explain::run();
    }
    let exe = std::env::current_exe().map_err(|e| CaroError::Other(e.to_string()))?;
    crate::outln!("caro bench · model {}", s.model.display());
    for t in &args.thread_counts {
        let status = Process::new(&exe)
            .args(["bench", "--single", "--threads", &t.to_string()])
            .args(["--repetitions", &args.repetitions.to_string(), "--model"])
            .arg(&s.model)
            .status()
            .map_err(|e| CaroError::Other(format!("cannot run the benchmark child: {e}")))?;
        if !status.success() {
            return Ok(status.code().unwrap_or(exit::FAILURE));
        }
    }
    Ok(exit::OK)
}
