//! Safety checker: a fast, model-free risk verdict for every generated shell command.
//!
//! A model can produce anything, so the command is parsed the way the shell would run it
//! (lists, pipelines, substitutions, wrappers such as `sudo` or `sh -c`), and each command
//! is judged by what it touches rather than by its name alone. Parsing and the table of
//! wrappers live in [`crate::syntax`]. Nothing here may panic or
//! recurse without bound: the check runs on every suggestion before it is shown.

pub(crate) mod args;
mod bench;
mod engine;
mod exec;
mod fanout;
mod network;
pub(crate) mod opts;
mod paths;
mod rules;

#[cfg(test)]
mod blind_sets;
#[cfg(test)]
mod cases;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod scope_table;
#[cfg(test)]
mod tests;

pub use bench::bench_report;

/// How risky a command is; ordered so the worst compares greatest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Safe,
    Caution,
    Dangerous,
}

impl Level {
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Safe => "safe",
            Level::Caution => "caution",
            Level::Dangerous => "dangerous",
        }
    }
}

/// The verdict on one command: its worst part's level, and why (None only when safe).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub level: Level,
    pub reason: Option<String>,
}

/// Judges a shell command line. Pure, allocation-light, and total: any input, however
/// malformed, gets a verdict.
pub fn check(command: &str) -> Verdict {
    engine::run(command)
}
