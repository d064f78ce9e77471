//! The local backend: Qwen2 on candle, with a pool of sessions that each keep the
//! system prompt's KV cache between requests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use candle_core::Device;
use candle_transformers::generation::{LogitsProcessor, Sampling as CandleSampling};

use super::{
    Backend, BackendInfo, CancelToken, EngineError, GenerateRequest, Generation, GenerationStats,
    StopReason,
};
use crate::model::{self, Session, TextStream, Tokenizer, Weights};

/// Prompt tokens evaluated per forward pass; between chunks a cancel is noticed.
///
/// Kept under 32 rows on purpose: from 32 rows candle switches Q4_K matmuls to AMX
/// tiles on CPUs that have them, which packs a third copy of every weight (+1.4 GB
/// resident) for no measurable prefill gain at our prompt sizes (see README,
/// "Performance"). `CARO_PREFILL_CHUNK` overrides it for experiments.
pub fn prefill_chunk() -> usize {
    std::env::var("CARO_PREFILL_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(31)
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Independent sessions (daemon workers); each holds its own KV cache.
    pub sessions: usize,
    /// Upper bound on the context a session may hold, in tokens.
    pub context_cap: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            sessions: 1,
            context_cap: 4096,
        }
    }
}

pub struct CandleBackend {
    weights: Arc<Weights>,
    tokenizer: Arc<Tokenizer>,
    pool: Mutex<Vec<Session>>,
    returned: Condvar,
    sessions: usize,
    model_path: PathBuf,
    system: Mutex<Option<(String, Vec<u32>)>>,
    pub load_time: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CandleBackend {
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Self, EngineError> {
        let start = Instant::now();
        let loaded = model::load(path, opts.context_cap, &Device::Cpu)?;
        let sessions = opts.sessions.max(1);
        let pool = (0..sessions)
            .map(|_| Session::new(loaded.weights.clone()))
            .collect();
        Ok(Self {
            weights: loaded.weights,
            tokenizer: loaded.tokenizer,
            pool: Mutex::new(pool),
            returned: Condvar::new(),
            sessions,
            model_path: path.to_owned(),
            system: Mutex::new(None),
            load_time: start.elapsed(),
        })
    }

    /// Runs throw-away forwards once: candle repacks weights for its fast kernels on
    /// first use, which would otherwise make the first request several times slower.
    pub fn warm_up(&self) -> Result<Duration, EngineError> {
        let start = Instant::now();
        let mut s = Session::new(self.weights.clone());
        let ids = self
            .tokenizer
            .encode("<|im_start|>user\nlist files<|im_end|>\n")?;
        s.forward(&ids)?;
        s.forward(&ids[..1])?;
        Ok(start.elapsed())
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn weights(&self) -> &Arc<Weights> {
        &self.weights
    }

    /// Number of tokens of the prepared system turn (the cached prefix).
    pub fn cached_prefix_tokens(&self) -> usize {
        lock(&self.system).as_ref().map_or(0, |(_, t)| t.len())
    }

    fn system_tokens(&self, system: &str) -> Result<Vec<u32>, EngineError> {
        let mut cached = lock(&self.system);
        if let Some((s, t)) = cached.as_ref()
            && s == system
        {
            return Ok(t.clone());
        }
        let tokens = self
            .tokenizer
            .encode(&format!("<|im_start|>system\n{system}<|im_end|>\n"))?;
        *cached = Some((system.to_owned(), tokens.clone()));
        Ok(tokens)
    }

    fn take_session(&self) -> Session {
        let mut pool = lock(&self.pool);
        loop {
            if let Some(s) = pool.pop() {
                return s;
            }
            pool = self.returned.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn give_back(&self, s: Session) {
        lock(&self.pool).push(s);
        self.returned.notify_one();
    }

    /// Evaluates `tokens` in fixed-size chunks counted from their first token.
    fn prefill(
        session: &mut Session,
        tokens: &[u32],
        cancel: &CancelToken,
    ) -> Result<Option<candle_core::Tensor>, EngineError> {
        let mut logits = None;
        for chunk in tokens.chunks(prefill_chunk().max(1)) {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            logits = Some(session.forward(chunk)?);
        }
        Ok(logits)
    }

    /// Makes the session hold exactly the system prefix. The system turn and the user
    /// turn are always evaluated as separate passes, so a request gives bit-identical
    /// logits whether the prefix was cached or not (chunking changes float rounding,
    /// which the quantized matmuls can amplify into a different greedy token).
    fn ensure_prefix(
        session: &mut Session,
        system: &[u32],
        cancel: &CancelToken,
    ) -> Result<bool, EngineError> {
        if session.tokens() == system {
            return Ok(true);
        }
        session.truncate(0);
        Self::prefill(session, system, cancel)?;
        Ok(false)
    }

    fn run(
        &self,
        session: &mut Session,
        req: &GenerateRequest,
        system: &[u32],
        user: &[u32],
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Generation, EngineError> {
        let start = Instant::now();
        let reused = Self::ensure_prefix(session, system, cancel)?;
        let Some(mut logits) = Self::prefill(session, user, cancel)? else {
            return Err(EngineError::EmptyRequest);
        };
        let keep = if reused { system.len() } else { 0 };
        let prompt_len = system.len() + user.len();
        let prefill = start.elapsed();

        let mut sampler = match req.sampling.temperature {
            t if t <= 0.0 => {
                LogitsProcessor::from_sampling(req.sampling.seed, CandleSampling::ArgMax)
            }
            t => LogitsProcessor::from_sampling(
                req.sampling.seed,
                CandleSampling::TopP {
                    p: req.sampling.top_p,
                    temperature: t,
                },
            ),
        };
        let mut stream = TextStream::default();
        let mut stop = StopReason::MaxTokens;
        while stream.len() < req.max_tokens {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let next = sampler.sample(&logits)?;
            if self.tokenizer.is_stop(next) && !req.ignore_stop {
                stop = StopReason::EndOfTurn;
                break;
            }
            if let Some(piece) = stream.push(&self.tokenizer, next)? {
                on_token(&piece);
            }
            if stream.len() < req.max_tokens {
                logits = session.forward(&[next])?;
            }
        }
        let total = start.elapsed();
        Ok(Generation {
            text: stream.text(&self.tokenizer)?,
            stop,
            stats: GenerationStats {
                prompt_tokens: prompt_len,
                cached_tokens: keep,
                prefill_tokens: prompt_len - keep,
                generated_tokens: stream.len(),
                prefill_ms: prefill.as_secs_f64() * 1e3,
                decode_ms: (total - prefill).as_secs_f64() * 1e3,
                total_ms: total.as_secs_f64() * 1e3,
            },
        })
    }
}

impl Backend for CandleBackend {
    fn generate(
        &self,
        req: &GenerateRequest,
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Generation, EngineError> {
        if req.prompt.user.trim().is_empty() {
            return Err(EngineError::EmptyRequest);
        }
        let system = self.system_tokens(&req.prompt.system)?;
        let user = self.tokenizer.encode(&format!(
            "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n",
            req.prompt.user
        ))?;
        let limit = self.weights.config().max_context;
        let needed = system.len() + user.len() + req.max_tokens;
        if needed > limit {
            return Err(EngineError::RequestTooLong {
                tokens: needed,
                limit,
            });
        }
        let mut session = self.take_session();
        let result = self.run(&mut session, req, &system, &user, on_token, cancel);
        // Back to the cached prefix; if the prefix itself was not completed, this leaves
        // a shorter prefix that the next request notices and rebuilds.
        session.truncate(system.len());
        self.give_back(session);
        result
    }

    fn prepare(&self, system: &str) -> Result<(), EngineError> {
        let tokens = self.system_tokens(system)?;
        let mut sessions: Vec<Session> = (0..self.sessions).map(|_| self.take_session()).collect();
        let cancel = CancelToken::new();
        let mut result = Ok(());
        for s in &mut sessions {
            if let Err(e) = Self::ensure_prefix(s, &tokens, &cancel) {
                s.truncate(0);
                result = Err(e);
                break;
            }
        }
        for s in sessions {
            self.give_back(s);
        }
        result
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "candle-cpu".into(),
            model: self.model_path.display().to_string(),
            threads: super::threads::current(),
            sessions: self.sessions,
        }
    }
}
