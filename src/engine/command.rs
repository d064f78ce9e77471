//! From a request in plain words to one command: prompt, generate, extract, validate.

use super::checked::{Policy, Verification};
use super::context::{self, Context};
use super::extract::extract_command;
use super::repair;
use super::{
    Backend, CancelToken, ChatPrompt, EngineError, GenerateRequest, Generation, Sampling, prompt,
};
use crate::check;

#[derive(Debug, Clone)]
pub struct CommandOptions {
    pub max_tokens: usize,
    pub sampling: Sampling,
    /// What is done about an answer that fails its checks (when it is checked).
    pub policy: Policy,
}

impl CommandOptions {
    /// A token limit and sampling at `temperature` (0: greedy) with `seed`.
    pub fn new(max_tokens: usize, temperature: f64, seed: u64) -> Self {
        Self {
            max_tokens,
            sampling: Sampling {
                temperature,
                seed,
                ..Sampling::default()
            },
            policy: Policy::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CommandResult {
    pub command: String,
    /// What the model wrote before extraction.
    pub raw: String,
    pub generation: Generation,
    /// Why the first answer was rejected, when a second one was asked for.
    pub retried: Option<Rejection>,
    /// How the answer was checked against the parser and the installed tools.
    pub verification: Verification,
}

/// Why an answer is not a usable command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    Prose,
    NotInstalled(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty answer"),
            Self::Prose => f.write_str("prose instead of a command"),
            Self::NotInstalled(p) => write!(f, "`{p}` is not installed"),
        }
    }
}

/// Generates one command for `request`.
pub fn generate_command(
    backend: &dyn Backend,
    request: &str,
    ctx: &Context,
    opts: &CommandOptions,
    on_token: &mut dyn FnMut(&str),
    cancel: &CancelToken,
) -> Result<CommandResult, EngineError> {
    let request = request.trim();
    if request.is_empty() {
        return Err(EngineError::EmptyRequest);
    }
    generate_from_prompt(
        backend,
        &prompt::build(request, ctx),
        opts,
        on_token,
        cancel,
    )
}

/// Generates from a ready prompt; an unusable first answer gets one retry with a note
/// after the request (preamble and context stay as they are, so their cache is kept).
/// Forms the local tools would reject are then repaired. The work is bounded by count,
/// never by time: at most two decodes of at most `max_tokens` each, so a busy machine
/// gives the same answer as an idle one, only later.
pub fn generate_from_prompt(
    backend: &dyn Backend,
    chat: &ChatPrompt,
    opts: &CommandOptions,
    on_token: &mut dyn FnMut(&str),
    cancel: &CancelToken,
) -> Result<CommandResult, EngineError> {
    let mut result = generate_validated(backend, chat, opts, on_token, cancel)?;
    result.command = repair::repair(&result.command, context::local_userland_is_gnu());
    Ok(result)
}

/// The command in a reply of the model, repaired as every answer is: what a candidate
/// decoded outside [`generate_from_prompt`] becomes.
pub fn command_in(reply: &str) -> Option<String> {
    extract_command(reply).map(|c| repair::repair(&c, context::local_userland_is_gnu()))
}

fn generate_validated(
    backend: &dyn Backend,
    chat: &ChatPrompt,
    opts: &CommandOptions,
    on_token: &mut dyn FnMut(&str),
    cancel: &CancelToken,
) -> Result<CommandResult, EngineError> {
    let first = attempt(backend, chat, opts, on_token, cancel)?;
    let rejection = match validate(first.command.as_deref()) {
        Ok(()) => return first.into_result(None),
        Err(r) => r,
    };
    let nudged = ChatPrompt {
        request: format!("{}\n{}", chat.request, nudge(&rejection)),
        ..chat.clone()
    };
    let second = attempt(backend, &nudged, opts, on_token, cancel)?;
    match validate(second.command.as_deref()) {
        Ok(()) => second.into_result(Some(rejection)),
        // A command that only lacks its program is still more useful than none.
        Err(_) if matches!(rejection, Rejection::NotInstalled(_)) => {
            first.into_result(Some(rejection))
        }
        Err(Rejection::NotInstalled(_)) => second.into_result(Some(rejection)),
        Err(_) => Err(EngineError::NoCommand),
    }
}

/// One attempt, no validation: what caro did before answers were checked (kept so the
/// evaluation can measure the difference).
pub fn generate_once(
    backend: &dyn Backend,
    chat: &ChatPrompt,
    opts: &CommandOptions,
    on_token: &mut dyn FnMut(&str),
    cancel: &CancelToken,
) -> Result<CommandResult, EngineError> {
    attempt(backend, chat, opts, on_token, cancel)?.into_result(None)
}

struct Attempt {
    command: Option<String>,
    generation: Generation,
}

impl Attempt {
    fn into_result(self, retried: Option<Rejection>) -> Result<CommandResult, EngineError> {
        let command = self.command.ok_or(EngineError::NoCommand)?;
        Ok(CommandResult {
            command,
            raw: self.generation.text.clone(),
            generation: self.generation,
            retried,
            verification: Verification::default(),
        })
    }
}

fn attempt(
    backend: &dyn Backend,
    chat: &ChatPrompt,
    opts: &CommandOptions,
    on_token: &mut dyn FnMut(&str),
    cancel: &CancelToken,
) -> Result<Attempt, EngineError> {
    let req = GenerateRequest {
        prompt: chat.clone(),
        max_tokens: opts.max_tokens,
        sampling: opts.sampling,
        ignore_stop: false,
    };
    let generation = backend.generate(&req, on_token, cancel)?;
    Ok(Attempt {
        command: extract_command(&generation.text),
        generation,
    })
}

fn nudge(r: &Rejection) -> String {
    match r {
        Rejection::NotInstalled(p) => {
            format!("note: `{p}` is not installed here; use a tool that is.")
        }
        _ => "note: answer with one shell command only, no prose.".to_owned(),
    }
}

/// Checks an extracted answer without running anything.
pub fn validate(command: Option<&str>) -> Result<(), Rejection> {
    let command = command.map(str::trim).unwrap_or_default();
    if command.is_empty() {
        return Err(Rejection::Empty);
    }
    if looks_like_prose(command) {
        return Err(Rejection::Prose);
    }
    match crate::syntax::first_program(command) {
        // "No command…", "Sorry": a short sentence, not a missing program.
        Some(p) if !is_available(&p) && PROSE_STARTS.contains(&p.to_lowercase().as_str()) => {
            Err(Rejection::Prose)
        }
        Some(p) if !is_available(&p) => Err(Rejection::NotInstalled(p)),
        _ => Ok(()),
    }
}

/// Words that start an English sentence but never a command on a usual system.
const PROSE_STARTS: &[&str] = &[
    "i",
    "i'm",
    "sorry",
    "the",
    "this",
    "that",
    "these",
    "to",
    "you",
    "your",
    "here",
    "it",
    "it's",
    "unfortunately",
    "please",
    "there",
    "as",
    "in",
    "note",
    "however",
    "we",
    "a",
    "an",
    "assuming",
    "if",
    "yes",
    "no",
];

fn looks_like_prose(command: &str) -> bool {
    let first_line = command.lines().next().unwrap_or_default();
    let words: Vec<&str> = first_line.split_whitespace().collect();
    let Some(first) = words.first() else {
        return false;
    };
    let first = first.trim_end_matches([',', ':', '.']).to_lowercase();
    if PROSE_STARTS.contains(&first.as_str()) && words.len() >= 3 {
        return true;
    }
    // A sentence: several plain words, ending in a full stop, with no shell syntax.
    let plain = words.iter().all(|w| {
        w.chars()
            .all(|c| c.is_alphanumeric() || ",.'!?".contains(c))
    });
    plain && words.len() >= 5 && first_line.trim_end().ends_with(['.', '!', '?'])
}

/// Whether `program` can be started: a builtin, or an executable file on `PATH` (or at
/// the path given). Only metadata is read.
fn is_available(program: &str) -> bool {
    if check::is_builtin(program) || program.contains(['$', '*', '?', '~']) {
        return true;
    }
    let Some(path) = std::env::var_os("PATH") else {
        return true;
    };
    std::env::split_paths(&path).any(|dir| check::is_executable(&dir.join(program)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_empty_and_missing_programs_are_rejected() {
        assert_eq!(validate(None), Err(Rejection::Empty));
        assert_eq!(validate(Some("  ")), Err(Rejection::Empty));
        assert_eq!(
            validate(Some("I cannot help with that request.")),
            Err(Rejection::Prose)
        );
        assert_eq!(
            validate(Some("This lists the files in the folder.")),
            Err(Rejection::Prose)
        );
        assert_eq!(validate(Some("no command")), Err(Rejection::Prose));
        assert_eq!(
            validate(Some("surely-not-a-program-caro --x")),
            Err(Rejection::NotInstalled("surely-not-a-program-caro".into()))
        );
    }

    #[test]
    fn commands_and_builtins_pass() {
        for ok in [
            "cd /tmp",
            "for f in *.txt; do echo $f; done",
            "sh -c 'ls'",
            "read -p 'name: ' n",
            "[ -f x ] && echo yes",
            "$EDITOR notes.txt",
            "time sh -c true",
        ] {
            assert_eq!(validate(Some(ok)), Ok(()), "{ok}");
        }
    }
}
