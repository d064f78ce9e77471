//! The generation policy: which decodes answer a request, and in what order. Every
//! caller (the daemon, `caro --no-daemon`) asks a [`Translator`], so the same request in
//! the same context with the same settings gets the same answer wherever it is asked.
//!
//! The first answer is the settings' own decode (greedy by default), checked as
//! `checked` says. Alternatives come from one batch decoded from the same prompt: the
//! 2nd, 3rd, … most likely first token, each continued greedily; those that pass their
//! checks come first, each group in the model's order of likelihood. A backend that
//! cannot batch gets them from a fixed sequence of samples instead, with seeds and
//! temperatures that depend only on their place in it: alternative k is the k-th
//! distinct command, looked for in at most `1 + k × DECODES_PER_ALTERNATIVE` decodes.
//! Either way the work is bounded by counts, never by time, and what a translator
//! remembers only saves time: it changes no answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::checked::{Checking, Policy, Verification, generate_checked};
use super::command::{CommandOptions, CommandResult, Rejection, command_in, validate};
use super::context::Context;
use super::trial::{SandboxTrial, Trial};
use super::{Backend, CancelToken, ChatPrompt, EngineError, Preamble, Sampling, prompt};
use super::{BatchRequest, Branch, Generation, GenerationStats};
use crate::check::Checker;
use crate::sandbox::Sandbox;
use crate::settings::TrialSetting;

/// The first sample's temperature when the settings ask for less (greedy).
const SAMPLE_TEMPERATURE: f64 = 0.8;
/// Added for each later sample: a 1.5B model is confident enough on common requests
/// that T=0.8 alone often gives the greedy answer again.
const TEMPERATURE_STEP: f64 = 0.15;
const MAX_TEMPERATURE: f64 = 1.55;
/// Decodes spent per alternative asked for before answers are allowed to come round
/// again.
pub const DECODES_PER_ALTERNATIVE: usize = 6;
/// Requests whose sequences are remembered; all are forgotten when one more arrives.
const REMEMBERED: usize = 64;
/// Other answers decoded, as one batch, when an alternative is first asked for.
pub const RANKED_CANDIDATES: usize = 6;
/// Most answers a pick list holds: one digit each.
pub const MAX_CANDIDATES: usize = 9;

/// One request to translate.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    /// The line as typed: the request in plain words, perhaps marked as a comment.
    pub request: &'a str,
    pub context: &'a Context,
    /// Token limit and the first answer's sampling; later decodes derive theirs from it.
    pub options: CommandOptions,
    /// 0 for the first answer; 1, 2, … for another one.
    pub alternative: u32,
}

/// Turns requests into commands with `B`, remembering each request's decodes so that
/// asking for another answer costs only the decodes not made yet.
pub struct Translator<B> {
    backend: B,
    /// The system turn and examples, with the user's instructions.
    preamble: Mutex<Preamble>,
    /// Option tables of the installed programs, read once per program and version.
    checker: Checker,
    /// Set when answers are also tried in a sandbox (`trial = "sandbox"`).
    sandbox: Option<Sandbox>,
    /// Per request, its first answer and the ranked alternatives of one batch.
    ranked: Mutex<HashMap<Key, Arc<Vec<CommandResult>>>>,
    sequences: Mutex<HashMap<Key, Vec<Decode>>>,
}

/// One decode of the sequence: a command, or `None` when the model gave none.
type Decode = Option<CommandResult>;

/// Everything a decode depends on besides its place in the sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The system turn: it changes with the user's instructions.
    system: String,
    context: String,
    request: String,
    max_tokens: usize,
    temperature: u64,
    top_p: u64,
    seed: u64,
}

impl Key {
    fn new(chat: &ChatPrompt, opts: &CommandOptions) -> Self {
        Self {
            system: chat.preamble.system.clone(),
            context: chat.context.clone(),
            request: chat.request.clone(),
            max_tokens: opts.max_tokens,
            temperature: opts.sampling.temperature.to_bits(),
            top_p: opts.sampling.top_p.to_bits(),
            seed: opts.sampling.seed,
        }
    }
}

impl<B: Backend> Translator<B> {
    pub fn new(backend: B) -> Self {
        Self {
            preamble: Mutex::new(prompt::preamble()),
            backend,
            checker: Checker::new(),
            sandbox: None,
            ranked: Mutex::new(HashMap::new()),
            sequences: Mutex::new(HashMap::new()),
        }
    }

    /// Also tries answers rated safe in `sandbox`, over the request's working
    /// directory, read-only ([`super::trial`]).
    pub fn with_trial(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// Tries answers when `trial` asks for it; where bubblewrap cannot run, answers
    /// are shown untried and a warning says why.
    pub fn with_trial_setting(self, trial: TrialSetting) -> Self {
        if trial != TrialSetting::Sandbox {
            return self;
        }
        match SandboxTrial::probe() {
            Ok(sb) => self.with_trial(sb),
            Err(e) => {
                tracing::warn!("trial = \"sandbox\" is set, but {e}; answers are not tried");
                self
            }
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Follows the user's standing instructions from now on (`None`: none). Cheap
    /// when they did not change, so the daemon calls it before every request.
    pub fn set_instructions(&self, instructions: Option<&str>) {
        // Only the instructions' turn can differ: the rest is built once, in `new`.
        let wanted = prompt::instructions_turn(instructions);
        let mut current = self.preamble.lock().unwrap_or_else(|e| e.into_inner());
        if current.instructions != wanted {
            current.instructions = wanted;
        }
    }

    /// The preamble every prompt starts with now.
    pub fn preamble(&self) -> Preamble {
        self.preamble
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The command for `ask`: its first answer, or its alternative. `on_token` sees the
    /// text of every decode made for it.
    pub fn translate(
        &self,
        ask: &Ask<'_>,
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<CommandResult, EngineError> {
        let request = super::request::prose(ask.request);
        if request.is_empty() {
            return Err(EngineError::EmptyRequest);
        }
        let chat = prompt::build_with(self.preamble(), request, ask.context);
        let key = Key::new(&chat, &ask.options);
        if ask.alternative == 0 {
            // Always decoded afresh: the first answer also reflects what is installed
            // now (a rejected program is retried), which a remembered one would not.
            let first = self.decode(&chat, ask, 0, on_token, cancel)?;
            self.remember_first(key, &first);
            return first.ok_or(EngineError::NoCommand);
        }
        let k = ask.alternative as usize;
        if let Some(answers) = self.ranked(&chat, ask, &key, cancel)? {
            // Fewer answers than asked for: they come round again in order.
            return Ok(answers[k % answers.len()].clone());
        }
        let bound = k.saturating_mul(DECODES_PER_ALTERNATIVE).saturating_add(1);
        let mut decodes = self.recall(&key);
        decodes.truncate(bound);
        while distinct(&decodes).len() <= k && decodes.len() < bound {
            let next = self.decode(&chat, ask, decodes.len(), on_token, cancel)?;
            decodes.push(next);
            self.remember(&key, &decodes);
        }
        let answers = distinct(&decodes);
        tracing::debug!(
            "alternative {k}: {} distinct answers in {} decodes",
            answers.len(),
            decodes.len()
        );
        if answers.is_empty() {
            return Err(EngineError::NoCommand);
        }
        // Fewer distinct answers than asked for: they come round again in order.
        Ok(answers[k % answers.len()].clone())
    }

    /// The answers alternatives 0, 1, … give, at most `n` and each once: the first
    /// answer, then (with a backend that batches) the others of one batch. What the
    /// pick list shows; picking the k-th is asking for alternative k.
    pub fn candidates(
        &self,
        ask: &Ask<'_>,
        n: usize,
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Vec<CommandResult>, EngineError> {
        let n = n.min(MAX_CANDIDATES);
        // The ranked list is what alternatives 0, 1, … index, and it reuses the first
        // answer the key press before made instead of decoding it again.
        let request = super::request::prose(ask.request);
        if request.is_empty() {
            return Err(EngineError::EmptyRequest);
        }
        let chat = prompt::build_with(self.preamble(), request, ask.context);
        let key = Key::new(&chat, &ask.options);
        if let Some(answers) = self.ranked(&chat, ask, &key, cancel)? {
            return Ok(answers.iter().take(n).cloned().collect());
        }
        let mut out: Vec<CommandResult> = Vec::new();
        for k in 0..n {
            let r = self.translate(
                &Ask {
                    alternative: k as u32,
                    ..ask.clone()
                },
                on_token,
                cancel,
            )?;
            // Alternatives come round again once the distinct ones are used up.
            if out.iter().any(|o| o.command == r.command) {
                break;
            }
            out.push(r);
        }
        Ok(out)
    }

    /// The first answer followed by the other answers of one batch (the 2nd, 3rd, …
    /// most likely first token, each continued greedily): those that pass their checks
    /// first, each group by the model's likelihood. `None` when the backend cannot
    /// batch (alternatives then come from the sampled sequence).
    fn ranked(
        &self,
        chat: &ChatPrompt,
        ask: &Ask<'_>,
        key: &Key,
        cancel: &CancelToken,
    ) -> Result<Option<Arc<Vec<CommandResult>>>, EngineError> {
        if let Some(known) = self.ranked_lists().get(key) {
            return Ok(Some(known.clone()));
        }
        let first = match self.recall(key).into_iter().next() {
            Some(first) => first,
            None => {
                let first = self.decode(chat, ask, 0, &mut |_| {}, cancel)?;
                self.remember_first(key.clone(), &first);
                first
            }
        };
        let req = BatchRequest {
            prompt: chat.clone(),
            reply_prefix: String::new(),
            max_tokens: ask.options.max_tokens,
            branches: (1..=RANKED_CANDIDATES).map(Branch::Rank).collect(),
        };
        let candidates = self.backend.generate_batch(&req, cancel)?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let trial = self.trial(ask);
        let checking = self.checking(ask, trial.as_ref());
        let mut answers: Vec<CommandResult> = first.into_iter().collect();
        let mut others: Vec<(bool, f64, CommandResult)> = Vec::new();
        for c in candidates {
            let Some(command) = command_in(&c.text) else {
                continue;
            };
            let known = |r: &CommandResult| r.command == command;
            // A missing program is for the checks to rank, not a reason to drop it.
            if matches!(
                validate(Some(&command)),
                Err(Rejection::Empty | Rejection::Prose)
            ) || answers.iter().any(known)
                || others.iter().any(|(_, _, r)| known(r))
            {
                continue;
            }
            let findings = checking.findings(&command);
            let passed = findings.is_empty();
            others.push((
                passed,
                c.logprob,
                CommandResult {
                    command,
                    raw: c.text.clone(),
                    generation: Generation {
                        text: c.text,
                        stop: c.stop,
                        stats: GenerationStats::default(),
                        logprob: c.logprob,
                    },
                    retried: None,
                    verification: Verification {
                        checked: true,
                        first: findings.clone(),
                        remaining: findings,
                        ..Verification::default()
                    },
                },
            ));
        }
        others.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
        answers.extend(others.into_iter().map(|(_, _, r)| r));
        if answers.is_empty() {
            return Err(EngineError::NoCommand);
        }
        let answers = Arc::new(answers);
        let mut lists = self.ranked_lists();
        if lists.len() >= REMEMBERED {
            lists.clear();
        }
        lists.insert(key.clone(), answers.clone());
        Ok(Some(answers))
    }

    fn ranked_lists(&self) -> MutexGuard<'_, HashMap<Key, Arc<Vec<CommandResult>>>> {
        self.ranked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn trial(&self, ask: &Ask<'_>) -> Option<SandboxTrial> {
        self.sandbox
            .as_ref()
            .map(|sb| SandboxTrial::new(sb.clone(), &ask.context.cwd))
    }

    fn checking<'a>(&'a self, ask: &Ask<'_>, trial: Option<&'a SandboxTrial>) -> Checking<'a> {
        Checking {
            checker: &self.checker,
            shell: ask.context.shell,
            trial: trial.map(|t| t as &dyn Trial),
        }
    }

    /// Decode `index` of the sequence; `None` when it gave no usable command. Only the
    /// first answer gets candidates and a retry when it fails a check; a sample that
    /// fails one is marked, and ranked after those that pass.
    fn decode(
        &self,
        chat: &ChatPrompt,
        ask: &Ask<'_>,
        index: usize,
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Decode, EngineError> {
        let policy = ask.options.policy;
        let opts = CommandOptions {
            max_tokens: ask.options.max_tokens,
            sampling: sampling(&ask.options.sampling, index),
            policy: if index == 0 {
                policy
            } else {
                Policy {
                    candidates: 0,
                    note_retry: false,
                    ..policy
                }
            },
        };
        let trial = self.trial(ask);
        let checking = self.checking(ask, trial.as_ref());
        match generate_checked(&self.backend, chat, &opts, Some(checking), on_token, cancel) {
            Ok(r) => Ok(Some(r)),
            Err(EngineError::NoCommand) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn sequences(&self) -> MutexGuard<'_, HashMap<Key, Vec<Decode>>> {
        self.sequences.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn recall(&self, key: &Key) -> Vec<Decode> {
        self.sequences().get(key).cloned().unwrap_or_default()
    }

    /// Keeps the longer of `decodes` and what is remembered (a concurrent request for
    /// the same key computes the same decodes, so the longer one holds the other).
    fn remember(&self, key: &Key, decodes: &[Decode]) {
        let mut all = self.sequences();
        if all.len() >= REMEMBERED && !all.contains_key(key) {
            all.clear();
        }
        let known = all.entry(key.clone()).or_default();
        if decodes.len() > known.len() {
            *known = decodes.to_vec();
        }
    }

    /// A sequence that starts with another first answer (something was installed or
    /// removed since) is outdated as a whole.
    fn remember_first(&self, key: Key, first: &Decode) {
        let command = |d: &Decode| d.as_ref().map(|r| r.command.clone());
        let known = self.recall(&key);
        if known.first().map(command) != Some(command(first)) {
            self.sequences().remove(&key);
            self.remember(&key, std::slice::from_ref(first));
        }
    }
}

/// The sampling of decode `index`: the settings' own for the first, then seeded samples
/// at a temperature that climbs with the index up to a ceiling.
fn sampling(first: &Sampling, index: usize) -> Sampling {
    if index == 0 {
        return *first;
    }
    let climb = TEMPERATURE_STEP * (index - 1) as f64;
    Sampling {
        temperature: (first.temperature.max(SAMPLE_TEMPERATURE) + climb).min(MAX_TEMPERATURE),
        top_p: first.top_p,
        seed: first.seed.wrapping_add(index as u64),
    }
}

/// The different commands among `decodes`, in the order they first appear, except that
/// after the first answer those that passed their checks come before those that did not.
fn distinct(decodes: &[Decode]) -> Vec<&CommandResult> {
    let mut out: Vec<&CommandResult> = Vec::new();
    for r in decodes.iter().flatten() {
        if !out.iter().any(|o| o.command == r.command) {
            out.push(r);
        }
    }
    if let Some(rest) = out.get_mut(1..) {
        rest.sort_by_key(|r| !r.verification.remaining.is_empty());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::engine::candle::{CandleBackend, LoadOptions};
    use crate::engine::{BackendInfo, GenerateRequest, Generation, Preamble};
    use crate::model::tiny;

    /// The tiny random model, counting its generations; `greedy` makes every decode the
    /// greedy one, as a model too sure of itself to vary would.
    struct Counted {
        inner: CandleBackend,
        greedy: bool,
        calls: AtomicUsize,
        /// Whether batches reach the model (otherwise it cannot batch).
        batches: bool,
        batch_calls: AtomicUsize,
    }

    impl Backend for Counted {
        fn generate(
            &self,
            req: &GenerateRequest,
            on_token: &mut dyn FnMut(&str),
            cancel: &CancelToken,
        ) -> Result<Generation, EngineError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut req = req.clone();
            if self.greedy {
                req.sampling = Sampling::default();
            }
            self.inner.generate(&req, on_token, cancel)
        }
        fn generate_batch(
            &self,
            req: &BatchRequest,
            cancel: &CancelToken,
        ) -> Result<Vec<crate::engine::Candidate>, EngineError> {
            if !self.batches {
                return Ok(Vec::new());
            }
            self.batch_calls.fetch_add(1, Ordering::SeqCst);
            self.inner.generate_batch(req, cancel)
        }
        fn prepare(&self, preamble: &Preamble) -> Result<(), EngineError> {
            self.inner.prepare(preamble)
        }
        fn info(&self) -> BackendInfo {
            self.inner.info()
        }
    }

    impl Counted {
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    /// The tiny model as a backend that cannot batch (alternatives from samples).
    fn translator(dir: &tempfile::TempDir, greedy: bool) -> Translator<Counted> {
        counted(dir, greedy, false)
    }

    fn counted(dir: &tempfile::TempDir, greedy: bool, batches: bool) -> Translator<Counted> {
        let path = dir.path().join("tiny.gguf");
        if !path.exists() {
            tiny::write(&path, 11).expect("write tiny model");
        }
        let inner = CandleBackend::load(&path, &LoadOptions::default()).expect("load tiny");
        Translator::new(Counted {
            inner,
            greedy,
            calls: AtomicUsize::new(0),
            batches,
            batch_calls: AtomicUsize::new(0),
        })
    }

    #[test]
    fn alternatives_of_one_batch_are_ranked_remembered_and_repeatable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let req = "show disk usage";
        let t = counted(&dir, false, true);
        let first = answer(&t, req, 0);
        let one = answer(&t, req, 1);
        let two = answer(&t, req, 2);
        assert!(
            first != one && one != two && first != two,
            "{first} {one} {two}"
        );
        assert_eq!(t.backend().batch_calls.load(Ordering::SeqCst), 1);
        // Asked again, nothing is decoded: the list is remembered.
        let made = t.backend().calls();
        assert_eq!(answer(&t, req, 2), two);
        assert_eq!(answer(&t, req, 1), one);
        assert_eq!(t.backend().calls(), made);
        assert_eq!(t.backend().batch_calls.load(Ordering::SeqCst), 1);
        // A fresh process asked for the second alternative straight away agrees.
        let fresh = counted(&dir, false, true);
        assert_eq!(answer(&fresh, req, 2), two);
        assert_eq!(answer(&fresh, req, 0), first);
        // Past its end the list comes round again, starting with the first answer.
        let all: Vec<String> = (0..=RANKED_CANDIDATES as u32)
            .map(|k| answer(&t, req, k))
            .collect();
        let n = 1 + all[1..].iter().take_while(|a| **a != first).count();
        assert!(n >= 3, "{all:?}");
        assert_eq!(answer(&t, req, n as u32), first);
        assert_eq!(answer(&t, req, n as u32 + 1), one);
    }

    fn answer(t: &Translator<Counted>, request: &str, alternative: u32) -> String {
        let ctx = Context::for_tests("bash", "/tmp");
        let ask = Ask {
            request,
            context: &ctx,
            options: CommandOptions {
                max_tokens: 6,
                sampling: Sampling::default(),
                // The random model's text fails every check; what is tested here is the
                // order of decodes, not the checks.
                policy: Policy::OFF,
            },
            alternative,
        };
        t.translate(&ask, &mut |_| {}, &CancelToken::new())
            .expect("a command")
            .command
    }

    #[test]
    fn alternatives_differ_and_do_not_depend_on_what_was_asked_before() {
        let dir = tempfile::tempdir().expect("temp dir");
        let req = "show disk usage";
        // One client walks through the answers in order, as pressing the key again does.
        let walked = translator(&dir, false);
        let first = answer(&walked, req, 0);
        let one = answer(&walked, req, 1);
        let two = answer(&walked, req, 2);
        assert_ne!(first, one);
        assert_ne!(first, two);
        assert_ne!(one, two);
        // Another process asks for the second alternative straight away.
        let direct = translator(&dir, false);
        assert_eq!(answer(&direct, req, 2), two);
        assert_eq!(answer(&direct, req, 1), one);
        assert_eq!(answer(&direct, req, 0), first);
        // Remembered decodes are not made again.
        let made = walked.backend().calls();
        assert_eq!(answer(&walked, req, 2), two);
        assert_eq!(answer(&walked, req, 1), one);
        assert_eq!(walked.backend().calls(), made);
    }

    #[test]
    fn a_model_that_never_varies_costs_a_bounded_number_of_decodes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let t = translator(&dir, true);
        let req = "list files";
        let first = answer(&t, req, 0);
        let after_first = t.backend().calls();
        assert!((1..=2).contains(&after_first), "one decode, one retry");
        // Only one distinct answer exists, so it comes round again.
        assert_eq!(answer(&t, req, 2), first);
        // Each decode is at most a generation and its retry.
        let decodes = 1 + 2 * DECODES_PER_ALTERNATIVE;
        assert!(
            t.backend().calls() <= 2 * decodes,
            "{}",
            t.backend().calls()
        );
        assert!(t.backend().calls() >= decodes);
        // Asked again, nothing new is decoded.
        let made = t.backend().calls();
        assert_eq!(answer(&t, req, 1), first);
        assert_eq!(t.backend().calls(), made);
    }

    #[test]
    fn the_sampling_ladder_depends_only_on_the_index() {
        let base = Sampling::default();
        assert_eq!(sampling(&base, 0), base);
        let one = sampling(&base, 1);
        assert_eq!(one.temperature, SAMPLE_TEMPERATURE);
        assert_ne!(one.seed, base.seed);
        assert!(sampling(&base, 2).temperature > one.temperature);
        assert_eq!(sampling(&base, 100).temperature, MAX_TEMPERATURE);
        let warm = Sampling {
            temperature: 1.0,
            ..base
        };
        assert_eq!(sampling(&warm, 1).temperature, 1.0);
    }

    #[test]
    fn an_empty_request_is_refused_before_any_decode() {
        let dir = tempfile::tempdir().expect("temp dir");
        let t = translator(&dir, false);
        let ctx = Context::for_tests("zsh", "/");
        let ask = Ask {
            request: "  ",
            context: &ctx,
            options: CommandOptions {
                max_tokens: 4,
                sampling: Sampling::default(),
                policy: Default::default(),
            },
            alternative: 1,
        };
        let r = t.translate(&ask, &mut |_| {}, &CancelToken::new());
        assert!(matches!(r, Err(EngineError::EmptyRequest)));
        assert_eq!(t.backend().calls(), 0);
    }
}
