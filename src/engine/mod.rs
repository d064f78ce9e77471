//! Generation of one shell command from a request: the backend abstraction, the
//! prompt, the context it carries, turning model text into a command, and the policy
//! that picks the decodes behind a first answer and its alternatives (`translator`).

pub mod candle;
pub mod checked;
pub mod command;
pub mod context;
pub mod extract;
pub mod hints;
pub mod openai;
mod prefix_store;
pub mod prompt;
pub mod repair;
pub mod request;
pub mod speculate;
pub mod threads;
pub mod translator;
pub mod trial;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::ModelError;

/// The constant start of every prompt: the system turn and worked example exchanges.
/// Its KV cache is computed once per process and reused by every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preamble {
    pub system: String,
    /// (user turn, assistant reply) pairs shown before the real request. A 1.5B model
    /// copies conventions from demonstrated turns far more reliably than from rules.
    pub examples: Vec<(String, String)>,
    /// The user's standing instructions: a system turn of their own after the
    /// examples, nearest the request, where a small model heeds them.
    pub instructions: Option<String>,
}

impl Preamble {
    pub fn new(system: &str) -> Self {
        Self {
            system: system.to_owned(),
            examples: Vec::new(),
            instructions: None,
        }
    }

    /// The preamble in ChatML, as the model sees it.
    pub fn render(&self) -> String {
        let mut out = format!("<|im_start|>system\n{}<|im_end|>\n", self.system);
        for (user, assistant) in &self.examples {
            out.push_str(&format!(
                "<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{assistant}<|im_end|>\n"
            ));
        }
        if let Some(text) = &self.instructions {
            out.push_str(&format!("<|im_start|>system\n{text}<|im_end|>\n"));
        }
        out
    }
}

/// One request to the model, split by how often each part changes: the preamble never,
/// the context (shell, OS, directory) rarely, the request every time. The backend
/// evaluates the three as separate passes and keeps the first two cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPrompt {
    pub preamble: Preamble,
    /// Start of the user turn describing the environment; empty for none.
    pub context: String,
    /// The rest of the user turn.
    pub request: String,
}

impl ChatPrompt {
    /// Opens the user turn and carries the context.
    pub fn context_segment(&self) -> String {
        if self.context.is_empty() {
            "<|im_start|>user\n".to_owned()
        } else {
            format!("<|im_start|>user\n{}\n", self.context)
        }
    }

    /// The request, closing the user turn and opening the assistant's.
    pub fn request_segment(&self) -> String {
        format!(
            "{}<|im_end|>\n<|im_start|>assistant\n",
            self.request.trim_end()
        )
    }

    /// The user turn's text (context and request), for display and tests.
    pub fn user(&self) -> String {
        if self.context.is_empty() {
            self.request.clone()
        } else {
            format!("{}\n{}", self.context, self.request)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0 means greedy (deterministic).
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 0.95,
            seed: crate::settings::DEFAULT_SEED,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub prompt: ChatPrompt,
    pub max_tokens: usize,
    pub sampling: Sampling,
    /// Generate exactly `max_tokens`, ignoring stop tokens (benchmarks only).
    pub ignore_stop: bool,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndOfTurn,
    MaxTokens,
}

/// Token counts and timings of one generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    /// Tokens in the whole prompt (system + user turn).
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV cache was reused (preamble, and context when unchanged).
    pub cached_tokens: usize,
    /// Prompt tokens evaluated for this request.
    pub prefill_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_ms: f64,
    pub decode_ms: f64,
    pub total_ms: f64,
    /// Forward passes after the prompt's: fewer than the generated tokens when
    /// speculative guesses were accepted (see `speculate`).
    #[serde(default)]
    pub decode_passes: usize,
    /// Tokens guessed by prompt lookup, and those the model then chose.
    #[serde(default)]
    pub drafted_tokens: usize,
    #[serde(default)]
    pub accepted_tokens: usize,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub stop: StopReason,
    pub stats: GenerationStats,
    /// Sum of the natural-log probabilities (untempered softmax of the logits) of the
    /// generated tokens; the stop token that ended the reply is not counted.
    pub logprob: f64,
}

/// How one candidate of a batch picks its tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Branch {
    /// The `k`-th most likely first token (0 = the most likely), then greedy.
    Rank(usize),
    /// Sampled throughout with this sampling.
    Sample(Sampling),
}

/// Several candidate replies to one prompt, decoded together (see
/// [`Backend::generate_batch`]).
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub prompt: ChatPrompt,
    /// Text every candidate's reply starts with, forced rather than generated (may be
    /// empty).
    pub reply_prefix: String,
    /// Generated tokens per candidate, after the reply prefix.
    pub max_tokens: usize,
    pub branches: Vec<Branch>,
}

/// One reply of a batch, in the order of the request's branches.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The whole reply: reply_prefix followed by the generated text.
    pub text: String,
    /// Sum of the natural-log probabilities (untempered softmax of the logits) of the
    /// generated tokens; the stop token that ended the reply is not counted.
    pub logprob: f64,
    /// Generated tokens (the reply prefix's not counted).
    pub tokens: usize,
    pub stop: StopReason,
}

/// Shared flag that asks a running generation to stop at its next token step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the request is empty")]
    EmptyRequest,
    #[error("the request is too long: {tokens} tokens, the model's context holds {limit}")]
    RequestTooLong { tokens: usize, limit: usize },
    #[error("cancelled")]
    Cancelled,
    #[error("the model gave no command")]
    NoCommand,
    /// The configured GPU is not there, or this build has no support for it.
    #[error("cannot use device {device}: {detail}")]
    Device {
        device: crate::settings::DeviceSetting,
        detail: String,
    },
    /// The OpenAI-compatible server failed (`backend = "openai"`).
    #[error(transparent)]
    Remote(#[from] openai::RemoteError),
}

impl From<candle_core::Error> for EngineError {
    fn from(e: candle_core::Error) -> Self {
        Self::Model(ModelError::Compute(e))
    }
}

/// What a backend reports about itself (shown by `--verbose`, `daemon status`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackendInfo {
    pub name: String,
    pub model: String,
    pub threads: usize,
    pub sessions: usize,
}

/// A text generator. Implementations: local candle (CPU, CUDA, Metal); later MLX and
/// remote OpenAI-compatible servers. Callers only see this trait.
pub trait Backend: Send + Sync {
    /// Generates a reply, calling `on_token` with each piece of text as it is produced.
    /// Returns `EngineError::Cancelled` soon after `cancel` fires (within one token step).
    fn generate(
        &self,
        req: &GenerateRequest,
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Generation, EngineError>;

    /// Decodes one candidate per branch of `req`, all continuing the same prompt and
    /// reply prefix; candidates may coincide (callers deduplicate). An empty result
    /// means this backend cannot batch: ask [`Backend::generate`] instead.
    /// Returns `EngineError::Cancelled` soon after `cancel` fires (within one step).
    fn generate_batch(
        &self,
        req: &BatchRequest,
        cancel: &CancelToken,
    ) -> Result<Vec<Candidate>, EngineError> {
        let _ = (req, cancel);
        Ok(Vec::new())
    }

    /// Prepares for requests that start with `preamble` (KV-caches it).
    fn prepare(&self, preamble: &Preamble) -> Result<(), EngineError>;

    fn info(&self) -> BackendInfo;

    /// Prompt tokens kept cached in this process (0 where a server keeps them).
    fn cached_prefix_tokens(&self) -> usize {
        0
    }
}

/// So that callers can pick the backend at run time (`backend = "local" | "openai"`).
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn generate(
        &self,
        req: &GenerateRequest,
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Generation, EngineError> {
        (**self).generate(req, on_token, cancel)
    }
    fn generate_batch(
        &self,
        req: &BatchRequest,
        cancel: &CancelToken,
    ) -> Result<Vec<Candidate>, EngineError> {
        (**self).generate_batch(req, cancel)
    }
    fn prepare(&self, preamble: &Preamble) -> Result<(), EngineError> {
        (**self).prepare(preamble)
    }
    fn info(&self) -> BackendInfo {
        (**self).info()
    }
    fn cached_prefix_tokens(&self) -> usize {
        (**self).cached_prefix_tokens()
    }
}
