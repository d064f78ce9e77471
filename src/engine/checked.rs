//! Answers checked against the parser and the installed tools. The first (greedy) answer
//! is kept whenever its checks pass: a small model's greedy answer is hard to beat by
//! adding text or votes (docs/quality.md), so extra work is spent only where a check
//! shows a real mistake. Then a few candidates are decoded as one batch from the words
//! before the mistake, and the most likely one that passes replaces it; failing that,
//! one retry with a note naming the mistake; failing that, the first answer is given
//! with what failed. Work is bounded by counts (candidates, tokens), never by time.

use serde::Serialize;

use super::command::{self, CommandOptions, CommandResult};
use super::extract::extract_command;
use super::trial::Trial;
use super::{Backend, BatchRequest, Branch, CancelToken, ChatPrompt, EngineError, repair};
use crate::check::{Checker, Finding, Kind};
use crate::settings::Shell;

/// What is done about an answer that fails a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Check answers at all.
    pub checks: bool,
    /// Candidates decoded as one batch when the first answer fails (0: none).
    pub candidates: usize,
    /// Ask once more with a note naming the failed check when no candidate passes.
    pub note_retry: bool,
}

impl Policy {
    /// What caro does.
    pub const SHIPPED: Self = Self {
        checks: true,
        candidates: 4,
        note_retry: true,
    };
    /// Answers as the model gives them (the evaluation's reference point).
    pub const OFF: Self = Self {
        checks: false,
        candidates: 0,
        note_retry: false,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::SHIPPED
    }
}

/// Where the answer given came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The first answer (it passed, or nothing better was found).
    #[default]
    First,
    /// A candidate of the batch decoded after the first answer failed.
    Candidate,
    /// The retry with a note naming the failed check.
    Note,
}

/// How an answer was checked, and what replaced a failing one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verification {
    /// Whether checks ran at all.
    pub checked: bool,
    /// What the checks found in the first answer.
    pub first: Vec<Finding>,
    /// The first answer, when another one replaced it.
    pub replaced: Option<String>,
    pub source: Source,
    /// What the checks found in the answer given: empty when it passed.
    pub remaining: Vec<Finding>,
    /// Candidates decoded (0 when the first answer passed).
    pub candidates: usize,
}

impl Verification {
    /// The line shown with an answer that failed its checks, e.g. "unverified: `--foo`
    /// is not an option of ls".
    pub fn warning(&self) -> Option<String> {
        let f = self.remaining.first()?;
        Some(format!("unverified: {f}"))
    }
}

/// Checking for one request: the checker (its tables are cached across requests), the
/// shell the answer is for, and the trial run when the user turned it on.
#[derive(Clone, Copy)]
pub struct Checking<'a> {
    pub checker: &'a Checker,
    pub shell: Shell,
    pub trial: Option<&'a dyn Trial>,
}

impl Checking<'_> {
    /// What is wrong with `command`: the checks' findings, or else the usage error its
    /// trial run gave.
    fn findings(&self, command: &str) -> Vec<Finding> {
        let found = self.checker.check(command, self.shell);
        if !found.is_empty() {
            return found;
        }
        match self.trial.and_then(|t| t.usage_error(command)) {
            Some(message) => vec![Finding {
                kind: Kind::Trial,
                span: None,
                message,
            }],
            None => Vec::new(),
        }
    }
}

/// One command for `chat`, checked as [`Policy`] says when `checking` is given.
pub fn generate_checked(
    backend: &dyn Backend,
    chat: &ChatPrompt,
    opts: &CommandOptions,
    checking: Option<Checking<'_>>,
    on_token: &mut dyn FnMut(&str),
    cancel: &CancelToken,
) -> Result<CommandResult, EngineError> {
    let mut first = command::generate_from_prompt(backend, chat, opts, on_token, cancel)?;
    let policy = opts.policy;
    let Some(ck) = checking.filter(|_| policy.checks) else {
        return Ok(first);
    };
    let findings = ck.findings(&first.command);
    first.verification = Verification {
        checked: true,
        first: findings.clone(),
        remaining: findings.clone(),
        ..Verification::default()
    };
    if findings.is_empty() {
        return Ok(first);
    }
    if policy.candidates > 0 {
        let (best, decoded) = best_candidate(backend, chat, opts, &first, &findings, ck, cancel)?;
        first.verification.candidates = decoded;
        if let Some(mut best) = best {
            best.verification = Verification {
                replaced: Some(first.command.clone()),
                source: Source::Candidate,
                remaining: Vec::new(),
                ..first.verification.clone()
            };
            return Ok(best);
        }
    }
    if policy.note_retry {
        let noted = ChatPrompt {
            request: format!(
                "{}\nnote: `{}` is wrong: {}. Write it another way.",
                chat.request, first.command, findings[0]
            ),
            ..chat.clone()
        };
        let plain = CommandOptions {
            policy: Policy::OFF,
            ..opts.clone()
        };
        if let Ok(mut retry) =
            command::generate_from_prompt(backend, &noted, &plain, &mut |_| {}, cancel)
            && retry.command != first.command
            && ck.findings(&retry.command).is_empty()
        {
            retry.verification = Verification {
                replaced: Some(first.command.clone()),
                source: Source::Note,
                remaining: Vec::new(),
                ..first.verification.clone()
            };
            return Ok(retry);
        }
    }
    Ok(first)
}

/// The most likely candidate that passes every check, and how many were decoded. The
/// candidates keep the first answer up to its first mistake and take the second, third,
/// … most likely token there (a different program when the mistake has no place).
fn best_candidate(
    backend: &dyn Backend,
    chat: &ChatPrompt,
    opts: &CommandOptions,
    first: &CommandResult,
    findings: &[Finding],
    ck: Checking<'_>,
    cancel: &CancelToken,
) -> Result<(Option<CommandResult>, usize), EngineError> {
    let req = BatchRequest {
        prompt: chat.clone(),
        reply_prefix: reply_prefix(&first.command, findings),
        max_tokens: opts.max_tokens,
        branches: (1..=opts.policy.candidates).map(Branch::Rank).collect(),
    };
    let candidates = backend.generate_batch(&req, cancel)?;
    let decoded = candidates.len();
    let gnu = super::context::local_userland_is_gnu();
    let mut best: Option<(f64, CommandResult)> = None;
    for c in candidates {
        let Some(cmd) = extract_command(&c.text) else {
            continue;
        };
        let cmd = repair::repair(&cmd, gnu);
        if cmd == first.command
            || command::validate(Some(&cmd)).is_err()
            || !ck.findings(&cmd).is_empty()
        {
            continue;
        }
        if best.as_ref().is_none_or(|(lp, _)| c.logprob > *lp) {
            let mut r = first.clone();
            r.command = cmd;
            r.raw = c.text.clone();
            r.generation.text = c.text.clone();
            r.generation.logprob = c.logprob;
            best = Some((c.logprob, r));
        }
    }
    Ok((best.map(|(_, r)| r), decoded))
}

/// The first answer's text before its first located mistake, without the space before
/// it (the model's tokens carry their leading space).
fn reply_prefix(command: &str, findings: &[Finding]) -> String {
    let start = findings
        .iter()
        .filter_map(|f| f.span.as_ref().map(|s| s.start))
        .min()
        .unwrap_or(0);
    command
        .get(..start)
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(span: Option<std::ops::Range<usize>>) -> Finding {
        Finding {
            kind: Kind::UnknownOption,
            span,
            message: "x".into(),
        }
    }

    #[test]
    fn candidates_branch_right_before_the_first_located_mistake() {
        let cmd = "ls -l --nosuch /tmp";
        assert_eq!(reply_prefix(cmd, &[finding(Some(6..14))]), "ls -l");
        assert_eq!(
            reply_prefix(
                cmd,
                &[finding(None), finding(Some(15..19)), finding(Some(6..14))]
            ),
            "ls -l"
        );
        assert_eq!(reply_prefix(cmd, &[finding(None)]), "");
        // A span that does not fall on a character boundary starts over.
        assert_eq!(reply_prefix("é x", &[finding(Some(1..2))]), "");
    }
}
