//! The local backend: Qwen2 on candle, with a pool of sessions that each keep the
//! preamble's KV cache (and the last context's) between requests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use candle_core::Device;
use candle_transformers::generation::{LogitsProcessor, Sampling as CandleSampling};

use super::prefix_store::PrefixStore;
use super::{
    Backend, BackendInfo, CancelToken, EngineError, GenerateRequest, Generation, GenerationStats,
    Preamble, StopReason,
};
use crate::model::{self, Session, TextStream, Tokenizer, Weights};

/// Prompt tokens evaluated per forward pass; between chunks a cancel is noticed.
///
/// Kept under 32 rows on purpose: from 32 rows candle switches Q4_K matmuls to AMX
/// tiles on CPUs that have them, which packs a third copy of every weight (+1.4 GB
/// resident) for no measurable prefill gain at our prompt sizes (see README,
/// "Performance"). `CARO_PREFILL_CHUNK` overrides it for experiments.
pub fn prefill_chunk() -> usize {
    crate::settings::env::prefill_chunk().unwrap_or(31)
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Independent sessions (daemon workers); each holds its own KV cache.
    pub sessions: usize,
    /// Upper bound on the context a session may hold, in tokens.
    pub context_cap: usize,
    /// Directory where the preamble's KV cache is kept between processes; None to
    /// always compute it.
    pub prefix_cache: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            sessions: 1,
            context_cap: 4096,
            prefix_cache: None,
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
    /// The last preamble's rendering and tokens.
    preamble: Mutex<Option<(String, Vec<u32>)>>,
    store: Option<PrefixStore>,
    /// Times the preamble came from the prefix store instead of being computed.
    store_hits: std::sync::atomic::AtomicUsize,
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
            preamble: Mutex::new(None),
            store: opts
                .prefix_cache
                .as_deref()
                .map(|dir| PrefixStore::new(dir, path, prefill_chunk())),
            store_hits: Default::default(),
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

    /// Number of tokens of the prepared preamble (the always-cached prefix).
    pub fn cached_prefix_tokens(&self) -> usize {
        lock(&self.preamble).as_ref().map_or(0, |(_, t)| t.len())
    }

    /// How often the preamble was loaded from disk rather than computed.
    pub fn prefix_store_hits(&self) -> usize {
        self.store_hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn preamble_tokens(&self, preamble: &Preamble) -> Result<Vec<u32>, EngineError> {
        let text = preamble.render();
        let mut cached = lock(&self.preamble);
        if let Some((s, t)) = cached.as_ref()
            && *s == text
        {
            return Ok(t.clone());
        }
        let tokens = self.tokenizer.encode(&text)?;
        *cached = Some((text, tokens.clone()));
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

    /// Makes the session hold exactly `preamble` followed by `context`, reusing what it
    /// already holds. Each segment is always evaluated as its own pass from its own
    /// start, so a request gives bit-identical logits whether its prefix was cached or
    /// not (chunking changes float rounding, which the quantized matmuls can amplify
    /// into a different greedy token). Returns how many tokens were reused.
    fn ensure_prefix(
        &self,
        session: &mut Session,
        preamble: &[u32],
        context: &[u32],
        cancel: &CancelToken,
    ) -> Result<usize, EngineError> {
        let held = session.tokens();
        let whole = preamble.len() + context.len();
        if held.len() == whole && held.starts_with(preamble) && held.ends_with(context) {
            return Ok(whole);
        }
        let has_preamble = held.starts_with(preamble);
        let reused = if has_preamble {
            session.truncate(preamble.len());
            preamble.len()
        } else {
            self.fill_preamble(session, preamble, cancel)?;
            0
        };
        Self::prefill(session, context, cancel)?;
        Ok(reused)
    }

    /// Makes `session` hold exactly the preamble: from the prefix store when it has
    /// it, else computed (and then stored).
    fn fill_preamble(
        &self,
        session: &mut Session,
        preamble: &[u32],
        cancel: &CancelToken,
    ) -> Result<(), EngineError> {
        session.truncate(0);
        if let Some(store) = &self.store
            && store.load(session, preamble)
        {
            self.store_hits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        Self::prefill(session, preamble, cancel)?;
        if let Some(store) = &self.store {
            store.save(session);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        session: &mut Session,
        req: &GenerateRequest,
        preamble: &[u32],
        context: &[u32],
        request: &[u32],
        on_token: &mut dyn FnMut(&str),
        cancel: &CancelToken,
    ) -> Result<Generation, EngineError> {
        let start = Instant::now();
        let keep = self.ensure_prefix(session, preamble, context, cancel)?;
        let Some(mut logits) = Self::prefill(session, request, cancel)? else {
            return Err(EngineError::EmptyRequest);
        };
        let prompt_len = preamble.len() + context.len() + request.len();
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
        if req.prompt.request.trim().is_empty() {
            return Err(EngineError::EmptyRequest);
        }
        let preamble = self.preamble_tokens(&req.prompt.preamble)?;
        let context = self.tokenizer.encode(&req.prompt.context_segment())?;
        let request = self.tokenizer.encode(&req.prompt.request_segment())?;
        let limit = self.weights.config().max_context;
        let needed = preamble.len() + context.len() + request.len() + req.max_tokens;
        if needed > limit {
            return Err(EngineError::RequestTooLong {
                tokens: needed,
                limit,
            });
        }
        let mut session = self.take_session();
        let result = self.run(
            &mut session,
            req,
            &preamble,
            &context,
            &request,
            on_token,
            cancel,
        );
        // Back to preamble + context, the likely start of the next request; a prefix
        // that was not completed is shorter, and the next request rebuilds it.
        session.truncate(preamble.len() + context.len());
        self.give_back(session);
        result
    }

    fn prepare(&self, preamble: &Preamble) -> Result<(), EngineError> {
        let tokens = self.preamble_tokens(preamble)?;
        let mut sessions: Vec<Session> = (0..self.sessions).map(|_| self.take_session()).collect();
        let cancel = CancelToken::new();
        let mut result = Ok(());
        // The first session without the preamble computes (or loads) it; the others
        // copy its keys and values instead of computing them again.
        let mut ready: Option<model::SessionState> = None;
        for s in &mut sessions {
            if s.tokens().starts_with(&tokens) {
                continue;
            }
            let filled = match &ready {
                Some((t, kv)) => s.import(t, kv).map_err(EngineError::from),
                None => self.fill_preamble(s, &tokens, &cancel).and_then(|()| {
                    ready = Some(s.export()?);
                    Ok(())
                }),
            };
            if let Err(e) = filled {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ChatPrompt, Sampling};
    use crate::model::tiny;

    fn tiny_backend() -> (tempfile::TempDir, CandleBackend) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tiny.gguf");
        tiny::write(&path, 11).expect("write tiny model");
        let b = CandleBackend::load(&path, &LoadOptions::default()).expect("load tiny model");
        (dir, b)
    }

    fn prompt(context: &str, request: &str) -> GenerateRequest {
        GenerateRequest {
            prompt: ChatPrompt {
                preamble: Preamble {
                    system: "answer with one command".into(),
                    examples: vec![("list files".into(), "ls".into())],
                },
                context: context.into(),
                request: request.into(),
            },
            max_tokens: 12,
            sampling: Sampling::default(),
            ignore_stop: true,
        }
    }

    fn run(b: &CandleBackend, req: &GenerateRequest) -> Generation {
        b.generate(req, &mut |_| {}, &CancelToken::new())
            .expect("generate")
    }

    #[test]
    fn cached_preamble_and_context_give_the_same_tokens_as_a_cold_start() {
        let (_dir, b) = tiny_backend();
        let a = prompt("context: zsh on Linux, cwd ~/src", "count lines in main.rs");
        let other = prompt("context: bash on Linux, cwd /tmp", "count lines in main.rs");

        let cold = run(&b, &a);
        assert_eq!(cold.stats.cached_tokens, 0);
        let preamble = b.cached_prefix_tokens();
        assert!(preamble > 0);

        // Same context: preamble and context reused, only the request evaluated.
        let warm = run(&b, &a);
        assert!(warm.stats.cached_tokens > preamble);
        assert_eq!(warm.text, cold.text);

        // Another context: only the preamble is reused.
        let moved = run(&b, &other);
        assert_eq!(moved.stats.cached_tokens, preamble);
        let back = run(&b, &a);
        assert_eq!(back.stats.cached_tokens, preamble);
        assert_eq!(back.text, cold.text);

        // A fresh backend that never saw a request agrees token for token.
        let (_dir2, fresh) = tiny_backend();
        assert_eq!(run(&fresh, &other).text, moved.text);
        for g in [&cold, &warm, &moved, &back] {
            assert_eq!(
                g.stats.cached_tokens + g.stats.prefill_tokens,
                g.stats.prompt_tokens
            );
        }
    }

    #[test]
    fn a_stored_prefix_is_loaded_by_the_next_process_and_gives_the_same_tokens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let model = dir.path().join("tiny.gguf");
        tiny::write(&model, 11).expect("write tiny model");
        let store = dir.path().join("prefix");
        let opts = LoadOptions {
            sessions: 2,
            prefix_cache: Some(store.clone()),
            ..LoadOptions::default()
        };
        let req = prompt("context: zsh", "find big files");

        let first = CandleBackend::load(&model, &opts).expect("load");
        first.prepare(&req.prompt.preamble).expect("prepare");
        let files = || std::fs::read_dir(&store).map_or(0, |d| d.count());
        assert_eq!(files(), 1, "the computed prefix is stored");
        let want = run(&first, &req).text;

        // A new process (backend) finds the file; two sessions, one file.
        assert_eq!(first.prefix_store_hits(), 0);
        let second = CandleBackend::load(&model, &opts).expect("load");
        second.prepare(&req.prompt.preamble).expect("prepare");
        assert_eq!(second.prefix_store_hits(), 1);
        assert_eq!(run(&second, &req).text, want);
        assert_eq!(run(&second, &req).text, want);

        // Values changed in a file that still parses: caught, computed again, the file
        // replaced, the answer unchanged.
        for e in std::fs::read_dir(&store).expect("store").flatten() {
            crate::engine::prefix_store::tests::corrupt(&e.path());
        }
        let changed = CandleBackend::load(&model, &opts).expect("load");
        assert_eq!(run(&changed, &req).text, want);
        assert_eq!(changed.prefix_store_hits(), 0);
        assert_eq!(files(), 1);
        let next = CandleBackend::load(&model, &opts).expect("load");
        assert_eq!(run(&next, &req).text, want);
        assert_eq!(next.prefix_store_hits(), 1, "the replaced file is used");

        // A file that is not safetensors at all is dropped the same way.
        for e in std::fs::read_dir(&store).expect("store").flatten() {
            std::fs::write(e.path(), b"not safetensors").expect("damage");
        }
        let third = CandleBackend::load(&model, &opts).expect("load");
        assert_eq!(run(&third, &req).text, want);
        assert_eq!(third.prefix_store_hits(), 0);
        assert_eq!(files(), 1);
    }

    #[test]
    fn a_cancelled_request_leaves_a_usable_prefix() {
        let (_dir, b) = tiny_backend();
        let a = prompt("context: fish", "show disk usage");
        let expected = run(&b, &a).text;
        let cancel = CancelToken::new();
        cancel.cancel();
        let r = b.generate(&prompt("context: other", "x"), &mut |_| {}, &cancel);
        assert!(matches!(r, Err(EngineError::Cancelled)));
        assert_eq!(run(&b, &a).text, expected);
    }
}
