//! Generation of one shell command from a request: the backend abstraction, the
//! prompt, the context it carries, and turning model text into a command.

pub mod candle;
pub mod command;
pub mod context;
pub mod extract;
pub mod prompt;
pub mod request;
pub mod threads;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::ModelError;

/// One chat exchange for the model: a constant system turn (cacheable) and a user turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPrompt {
    pub system: String,
    pub user: String,
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
            seed: DEFAULT_SEED,
        }
    }
}

pub const DEFAULT_SEED: u64 = 299_792_458;

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
    /// Prompt tokens whose KV cache was reused.
    pub cached_tokens: usize,
    /// Prompt tokens evaluated for this request.
    pub prefill_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_ms: f64,
    pub decode_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub stop: StopReason,
    pub stats: GenerationStats,
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

    /// Prepares for requests that use `system` as their system turn (KV-cache it).
    fn prepare(&self, system: &str) -> Result<(), EngineError>;

    fn info(&self) -> BackendInfo;
}
