//! The local backend: Qwen2 on candle, with a pool of sessions that each keep the
//! preamble's KV cache (and the last context's) between requests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use candle_core::Device;
use candle_transformers::generation::{LogitsProcessor, Sampling as CandleSampling};

use super::prefix_store::PrefixStore;
use super::speculate::Decoder;
use super::{
    Backend, BackendInfo, BatchRequest, Branch, CancelToken, Candidate, ChatPrompt, EngineError,
    GenerateRequest, Generation, GenerationStats, Preamble, Sampling, StopReason,
};
use crate::model::{self, Session, TextStream, Tokenizer, Weights};
use crate::settings::DeviceSetting;

/// Prompt tokens evaluated per forward pass; between chunks a cancel is noticed.
///
/// On the CPU our kernels read each weight row once per chunk, and the prefill
/// kernel unpacks each weight block once per chunk, so larger chunks are faster:
/// 128 rows prefill 300 tokens about 1.3 times as fast as 31 did (Zen 4, 1 and 2
/// threads), and a cancel waits at most one chunk (under 2 s on one core).
/// `CARO_PREFILL_CHUNK` overrides it for experiments.
pub fn prefill_chunk() -> usize {
    crate::settings::env::prefill_chunk().unwrap_or(128)
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
    /// Where the weights, KV caches and the loaded prefix live.
    pub device: DeviceSetting,
    /// Tokens guessed per decode pass by prompt lookup (0: none); see `speculate`.
    pub speculate: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            sessions: 1,
            context_cap: 4096,
            prefix_cache: None,
            device: DeviceSetting::Cpu,
            speculate: crate::settings::DEFAULT_SPECULATE,
        }
    }
}

/// The device in [`BackendInfo::name`]: `candle-cpu`, `candle-cuda:0`, …
fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The candle device for `setting`; a GPU this build or machine lacks is an error that
/// names it rather than a silent fall back to the CPU.
pub fn open_device(setting: DeviceSetting) -> Result<Device, EngineError> {
    let opened = match setting {
        DeviceSetting::Cpu => return Ok(Device::Cpu),
        DeviceSetting::Cuda(n) => Device::new_cuda(n),
        DeviceSetting::Metal(n) => Device::new_metal(n),
    };
    opened.map_err(|e| EngineError::Device {
        device: setting,
        detail: e.to_string().lines().next().unwrap_or_default().to_owned(),
    })
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
    /// Tokens guessed per decode pass (0: none); changed by `set_speculate`.
    speculate: std::sync::atomic::AtomicUsize,
    pub load_time: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CandleBackend {
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Self, EngineError> {
        let start = Instant::now();
        let device = open_device(opts.device)?;
        let loaded = model::load(path, opts.context_cap, &device)?;
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
            speculate: opts.speculate.into(),
            load_time: start.elapsed(),
        })
    }

    /// Runs throw-away forwards once, so the first request does not pay for first use:
    /// candle packing weights where it still runs the matmuls (off the CPU), and
    /// buffers, caches and thread start-up everywhere.
    pub fn warm_up(&self) -> Result<Duration, EngineError> {
        let start = Instant::now();
        let mut s = Session::new(self.weights.clone());
        let ids = self
            .tokenizer
            .encode("<|im_start|>user\nlist files<|im_end|>\n")?;
        s.forward(&ids)?;
        s.forward(&ids[..1])?;
        // Only processes that stay warm up, so only they move the weights onto huge
        // pages; after loading and the first forwards, so neither waits for it.
        self.weights.settle_in_background();
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

    /// Sets the tokens guessed per decode pass (0: none) for the requests that
    /// follow: `caro bench` measures plain decoding with it off.
    pub fn set_speculate(&self, draft: usize) {
        self.speculate
            .store(draft, std::sync::atomic::Ordering::Relaxed);
    }

    /// At most what keeps a checking pass (the chosen token and the guesses) within
    /// the batches whose rows have the bits of one-token decoding.
    fn speculate(&self) -> usize {
        self.speculate
            .load(std::sync::atomic::Ordering::Relaxed)
            .min(model::kernels::MAX_EXACT_BATCH - 1)
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

    /// Evaluates `tokens` in fixed-size chunks counted from their first token; the
    /// logits after the last one (`None` for no tokens).
    pub(crate) fn prefill(
        session: &mut Session,
        tokens: &[u32],
        cancel: &CancelToken,
    ) -> Result<Option<candle_core::Tensor>, EngineError> {
        Self::chunked(session, tokens, cancel, true)
    }

    /// [`Self::prefill`] without logits: a prefix the request continues.
    fn extend(
        session: &mut Session,
        tokens: &[u32],
        cancel: &CancelToken,
    ) -> Result<(), EngineError> {
        Self::chunked(session, tokens, cancel, false).map(drop)
    }

    /// Only the last chunk of a prompt that needs logits runs the output head.
    fn chunked(
        session: &mut Session,
        tokens: &[u32],
        cancel: &CancelToken,
        logits: bool,
    ) -> Result<Option<candle_core::Tensor>, EngineError> {
        let n = tokens.len().div_ceil(prefill_chunk().max(1));
        for (i, chunk) in tokens.chunks(prefill_chunk().max(1)).enumerate() {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            if logits && i + 1 == n {
                return Ok(Some(session.forward(chunk)?));
            }
            session.extend(chunk)?;
        }
        Ok(None)
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
        Self::extend(session, context, cancel)?;
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
        Self::extend(session, preamble, cancel)?;
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
        let Some(logits) = Self::prefill(session, request, cancel)? else {
            return Err(EngineError::EmptyRequest);
        };
        let prompt_len = preamble.len() + context.len() + request.len();
        let prefill = start.elapsed();

        let mut sampler = sampler(&req.sampling);
        let mut stream = TextStream::default();
        let mut stop = StopReason::MaxTokens;
        let mut logprob = 0.0;
        let is_stop = |t: u32| self.tokenizer.is_stop(t) && !req.ignore_stop;
        let user = preamble.len()..prompt_len;
        let mut decoder = Decoder::new(logits, self.speculate(), user);
        while stream.len() < req.max_tokens {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let logits = decoder.logits()?;
            let next = sampler.sample(logits)?;
            if is_stop(next) {
                stop = StopReason::EndOfTurn;
                break;
            }
            logprob += log_prob(&logits.to_vec1::<f32>()?, next);
            if let Some(piece) = stream.push(&self.tokenizer, next)? {
                on_token(&piece);
            }
            if stream.len() < req.max_tokens {
                let budget = req.max_tokens - stream.len();
                decoder.feed(session, next, budget, &is_stop)?;
            }
        }
        let counts = decoder.counts();
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
                decode_passes: counts.passes,
                drafted_tokens: counts.drafted,
                accepted_tokens: counts.accepted,
            },
            logprob,
        })
    }

    /// The prompt's three segments, tokenized, with `reply_prefix`'s tokens appended to
    /// the request's; refused when they and `max_tokens` more would not fit.
    fn encode_prompt(
        &self,
        prompt: &ChatPrompt,
        reply_prefix: &str,
        max_tokens: usize,
    ) -> Result<[Vec<u32>; 3], EngineError> {
        if prompt.request.trim().is_empty() {
            return Err(EngineError::EmptyRequest);
        }
        let preamble = self.preamble_tokens(&prompt.preamble)?;
        let context = self.tokenizer.encode(&prompt.context_segment())?;
        let mut request = self.tokenizer.encode(&prompt.request_segment())?;
        if !reply_prefix.is_empty() {
            request.extend(self.tokenizer.encode(reply_prefix)?);
        }
        let limit = self.weights.config().max_context;
        let needed = preamble.len() + context.len() + request.len() + max_tokens;
        if needed > limit {
            return Err(EngineError::RequestTooLong {
                tokens: needed,
                limit,
            });
        }
        Ok([preamble, context, request])
    }

    /// Decodes every branch of `req` from the session once it holds the prompt and the
    /// reply prefix (`forced`, after `preamble` and `context`).
    fn run_batch(
        &self,
        session: &mut Session,
        req: &BatchRequest,
        [preamble, context, forced]: &[Vec<u32>; 3],
        cancel: &CancelToken,
    ) -> Result<Vec<Candidate>, EngineError> {
        self.ensure_prefix(session, preamble, context, cancel)?;
        let Some(first) = Self::prefill(session, forced, cancel)? else {
            return Err(EngineError::EmptyRequest);
        };
        let mut decodings: Vec<Decoding> = req.branches.iter().map(Decoding::new).collect();
        let mut feed = Vec::new();
        if req.max_tokens > 0 {
            let values = first.to_vec1::<f32>()?;
            for (i, d) in decodings.iter_mut().enumerate() {
                let token = d.pick_first(&first, &values)?;
                if let Some(t) = d.accept(&self.tokenizer, token, &values, req.max_tokens)? {
                    feed.push((i, t));
                }
            }
        }
        let mut batch = session.fork(decodings.len());
        while !feed.is_empty() {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let logits = batch.step(&feed)?;
            let mut next = Vec::with_capacity(feed.len());
            for (row, &(i, _)) in feed.iter().enumerate() {
                let logits = logits.get(row)?;
                let values = logits.to_vec1::<f32>()?;
                let d = &mut decodings[i];
                let token = d.pick_next(&logits, &values)?;
                if let Some(t) = d.accept(&self.tokenizer, token, &values, req.max_tokens)? {
                    next.push((i, t));
                }
            }
            feed = next;
        }
        decodings
            .into_iter()
            .map(|d| d.finish(&self.tokenizer, &req.reply_prefix))
            .collect()
    }
}

/// candle's sampler for `s`: greedy at temperature 0, else top-p.
fn sampler(s: &Sampling) -> LogitsProcessor {
    if s.temperature <= 0.0 {
        return LogitsProcessor::from_sampling(s.seed, CandleSampling::ArgMax);
    }
    LogitsProcessor::from_sampling(
        s.seed,
        CandleSampling::TopP {
            p: s.top_p,
            temperature: s.temperature,
        },
    )
}

/// Natural-log probability of `token` under the untempered softmax of `logits`,
/// computed in f64 so that summing a reply's tokens loses nothing to rounding.
fn log_prob(logits: &[f32], token: u32) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum = exp_sum(logits, max);
    match logits.get(token as usize) {
        Some(&x) => x as f64 - max as f64 - sum.ln(),
        None => f64::NEG_INFINITY,
    }
}

/// Σ exp(x − max) over `xs` (all ≤ `max`): the terms in f32 by a polynomial that
/// the compiler vectorizes, eight lanes summed in f32 for 1024 terms at a time and
/// those sums in f64. libm's exp, a call per vocabulary entry, took 2 % of a
/// two-thread decoding step on the one thread while the other waited.
fn exp_sum(xs: &[f32], max: f32) -> f64 {
    let mut total = 0f64;
    for run in xs.chunks(1024) {
        let mut lanes = [0f32; 8];
        let mut eights = run.chunks_exact(8);
        for c in &mut eights {
            for (l, &x) in lanes.iter_mut().zip(c) {
                *l += exp_nonpositive(x - max);
            }
        }
        for &x in eights.remainder() {
            lanes[0] += exp_nonpositive(x - max);
        }
        total += lanes.iter().map(|&l| l as f64).sum::<f64>();
    }
    total
}

/// e^x for x ≤ 0 to within a few units in the last place (2^n times a degree-6
/// polynomial on |r| ≤ ln 2 / 2); below -87 the value is at most 2^-126.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    let x = x.max(-87.0);
    // Round to nearest by adding and removing 1.5 · 2^23.
    let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    // ln 2 in two parts, so n · (high part) is exact.
    let r = (x - n * 0.693_145_75) - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The `k`-th most likely token (0 = the argmax). Ties go to the lower id, as in
/// candle's argmax, so rank 0 is the greedy token.
fn nth_best(logits: &[f32], k: usize) -> Result<u32, EngineError> {
    if k >= logits.len() {
        return Err(candle_core::Error::Msg(format!(
            "rank {k} asked of a vocabulary of {}",
            logits.len()
        ))
        .into());
    }
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    let order = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    if k == 0 {
        return Ok(ids.into_iter().min_by(order).unwrap_or(0));
    }
    ids.select_nth_unstable_by(k, order);
    Ok(ids[k])
}

/// One candidate of a batch being decoded.
struct Decoding {
    branch: Branch,
    /// Set for sampled branches only; ranked ones pick from the logits directly.
    sampler: Option<LogitsProcessor>,
    stream: TextStream,
    logprob: f64,
    stop: StopReason,
}

impl Decoding {
    fn new(branch: &Branch) -> Self {
        Self {
            branch: *branch,
            sampler: match branch {
                Branch::Sample(s) => Some(sampler(s)),
                Branch::Rank(_) => None,
            },
            stream: TextStream::default(),
            logprob: 0.0,
            stop: StopReason::MaxTokens,
        }
    }

    fn pick_first(
        &mut self,
        logits: &candle_core::Tensor,
        values: &[f32],
    ) -> Result<u32, EngineError> {
        match (&mut self.sampler, self.branch) {
            (Some(s), _) => Ok(s.sample(logits)?),
            (None, Branch::Rank(k)) => nth_best(values, k),
            (None, Branch::Sample(_)) => nth_best(values, 0),
        }
    }

    fn pick_next(
        &mut self,
        logits: &candle_core::Tensor,
        values: &[f32],
    ) -> Result<u32, EngineError> {
        match &mut self.sampler {
            Some(s) => Ok(s.sample(logits)?),
            None => nth_best(values, 0),
        }
    }

    /// Takes `token` into the reply; returns it when the branch goes on (it is then fed
    /// to the next step), `None` when the branch is done.
    fn accept(
        &mut self,
        tokenizer: &Tokenizer,
        token: u32,
        logits: &[f32],
        max_tokens: usize,
    ) -> Result<Option<u32>, EngineError> {
        if tokenizer.is_stop(token) {
            self.stop = StopReason::EndOfTurn;
            return Ok(None);
        }
        self.logprob += log_prob(logits, token);
        self.stream.push(tokenizer, token)?;
        Ok((self.stream.len() < max_tokens).then_some(token))
    }

    fn finish(self, tokenizer: &Tokenizer, reply_prefix: &str) -> Result<Candidate, EngineError> {
        Ok(Candidate {
            text: format!("{reply_prefix}{}", self.stream.text(tokenizer)?),
            logprob: self.logprob,
            tokens: self.stream.len(),
            stop: self.stop,
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
        let [preamble, context, request] = self.encode_prompt(&req.prompt, "", req.max_tokens)?;
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

    fn generate_batch(
        &self,
        req: &BatchRequest,
        cancel: &CancelToken,
    ) -> Result<Vec<Candidate>, EngineError> {
        let segments = self.encode_prompt(&req.prompt, &req.reply_prefix, req.max_tokens)?;
        if req.branches.is_empty() {
            return Ok(Vec::new());
        }
        let mut session = self.take_session();
        let result = self.run_batch(&mut session, req, &segments, cancel);
        // As after `generate`: the session goes back holding preamble + context.
        session.truncate(segments[0].len() + segments[1].len());
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
            name: format!("candle-{}", device_name(self.weights.device())),
            model: self.model_path.display().to_string(),
            threads: super::threads::current(),
            sessions: self.sessions,
        }
    }

    fn cached_prefix_tokens(&self) -> usize {
        CandleBackend::cached_prefix_tokens(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tiny;

    #[test]
    fn the_vectorized_exp_sum_agrees_with_libm() {
        let xs: Vec<f32> = (0..151_937u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 40_000) as f32 / 1000.0 - 30.0)
            .chain([-200.0, 0.0, 10.0])
            .collect();
        let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exact: f64 = xs.iter().map(|&x| (x as f64 - max as f64).exp()).sum();
        let fast = exp_sum(&xs, max);
        assert!(((fast - exact) / exact).abs() < 1e-6, "{fast} vs {exact}");
        for x in [-87.5f32, -50.0, -1.0, -0.3466, -1e-8, 0.0] {
            let (f, e) = (exp_nonpositive(x) as f64, (x as f64).exp());
            assert!(((f - e) / e).abs() < 1e-6 || e < 1e-37, "{x}: {f} vs {e}");
        }
    }

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
                    instructions: None,
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
    fn speculation_changes_the_passes_but_not_the_reply() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tiny.gguf");
        tiny::write(&path, 11).expect("write tiny model");
        let with = |speculate| {
            let opts = LoadOptions {
                speculate,
                ..LoadOptions::default()
            };
            CandleBackend::load(&path, &opts).expect("load tiny model")
        };
        let (plain, spec) = (with(0), with(4));
        let mut drafted = 0;
        for (context, request) in [
            ("context: zsh on Linux, cwd ~/src", "count lines in main.rs"),
            (
                "context: bash",
                "copy a.txt to b.txt then copy b.txt to c.txt",
            ),
            ("context: fish", "ls ls ls ls ls ls"),
        ] {
            let req = GenerateRequest {
                max_tokens: 24,
                ..prompt(context, request)
            };
            let want = run(&plain, &req);
            let got = run(&spec, &req);
            assert_eq!(got.text, want.text, "{request}");
            assert_eq!(got.logprob, want.logprob, "{request}");
            assert_eq!(got.stats.generated_tokens, want.stats.generated_tokens);
            assert_eq!(want.stats.decode_passes, want.stats.generated_tokens - 1);
            let st = &got.stats;
            assert_eq!(
                st.decode_passes + st.accepted_tokens,
                st.generated_tokens - 1
            );
            drafted += st.drafted_tokens;
        }
        assert!(drafted > 0, "some guesses were checked");
        // Turned off at run time, as `caro bench` does for its decode figure.
        spec.set_speculate(0);
        let req = prompt("context: fish", "ls ls ls ls ls ls");
        assert_eq!(run(&spec, &req).stats.drafted_tokens, 0);
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

    mod batch {
        use super::*;

        /// `prompt`, decoded as a batch of `branches`.
        fn batch_of(
            req: &GenerateRequest,
            reply_prefix: &str,
            branches: &[Branch],
        ) -> BatchRequest {
            BatchRequest {
                prompt: req.prompt.clone(),
                reply_prefix: reply_prefix.into(),
                max_tokens: req.max_tokens,
                branches: branches.to_vec(),
            }
        }

        fn greedy(max_tokens: usize) -> GenerateRequest {
            GenerateRequest {
                max_tokens,
                ignore_stop: false,
                ..prompt("context: zsh on Linux", "find big files")
            }
        }

        fn decode(b: &CandleBackend, req: &BatchRequest) -> Vec<Candidate> {
            b.generate_batch(req, &CancelToken::new())
                .expect("generate_batch")
        }

        /// One row per step takes the very kernels of `generate`, so the log-probabilities
        /// agree to f64 rounding of the same sums.
        #[test]
        fn rank_zero_is_the_greedy_generation() {
            let (_dir, b) = tiny_backend();
            let req = greedy(8);
            let want = run(&b, &req);
            let got = decode(&b, &batch_of(&req, "", &[Branch::Rank(0)]));
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].text, want.text);
            assert_eq!(got[0].stop, want.stop);
            assert_eq!(got[0].tokens, want.stats.generated_tokens);
            assert!(want.logprob < 0.0);
            let delta = (got[0].logprob - want.logprob).abs();
            assert!(
                delta < 1e-9,
                "logprob {} vs {}",
                got[0].logprob,
                want.logprob
            );
        }

        #[test]
        fn ranks_start_with_different_tokens_in_order_of_likelihood() {
            let (_dir, b) = tiny_backend();
            let ranks = [Branch::Rank(0), Branch::Rank(1), Branch::Rank(2)];
            let first = decode(&b, &batch_of(&greedy(1), "", &ranks));
            let lp: Vec<f64> = first.iter().map(|c| c.logprob).collect();
            // Strictly falling log-probabilities: three different first tokens.
            assert!(lp[0] > lp[1] && lp[1] > lp[2], "{lp:?}");

            // Longer, with sampled branches beside them; the rank-0 row now shares its
            // steps with four others and still gives the greedy reply.
            let hot = Sampling {
                temperature: 0.8,
                ..Sampling::default()
            };
            let mut branches = ranks.to_vec();
            branches.push(Branch::Sample(hot));
            branches.push(Branch::Sample(Sampling::default()));
            let req = greedy(8);
            let all = decode(&b, &batch_of(&req, "", &branches));
            assert_eq!(all.len(), 5);
            assert!(all.iter().all(|c| c.tokens <= 8 && c.logprob <= 0.0));
            let want = run(&b, &req);
            assert_eq!(all[0].text, want.text);
            assert_eq!(all[4].text, want.text, "temperature 0 samples greedily");
            // The same seed gives the same sample.
            let again = decode(&b, &batch_of(&req, "", &branches));
            assert_eq!(again, all);
        }

        #[test]
        fn candidates_start_with_the_reply_prefix() {
            let (_dir, b) = tiny_backend();
            let req = batch_of(&greedy(4), "ls -", &[Branch::Rank(0), Branch::Rank(1)]);
            for c in decode(&b, &req) {
                assert!(c.text.starts_with("ls -"), "{:?}", c.text);
                assert!(c.tokens <= 4);
            }
        }

        #[test]
        fn cancel_stops_the_batch_and_the_pool_stays_usable() {
            let (_dir, b) = tiny_backend();
            let req = greedy(8);
            let want = run(&b, &req);
            let warm = run(&b, &req);
            let cancel = CancelToken::new();
            cancel.cancel();
            let r = b.generate_batch(&batch_of(&req, "", &[Branch::Rank(0)]), &cancel);
            assert!(matches!(r, Err(EngineError::Cancelled)));
            assert_eq!(run(&b, &req).text, want.text);

            // A batch leaves the session holding preamble + context, as `generate` does.
            decode(
                &b,
                &batch_of(&req, "ls", &[Branch::Rank(0), Branch::Rank(3)]),
            );
            let after = run(&b, &req);
            assert_eq!(after.text, want.text);
            assert_eq!(after.stats.cached_tokens, warm.stats.cached_tokens);
            assert!(after.stats.cached_tokens > b.cached_prefix_tokens());
        }

        #[test]
        fn a_batch_past_the_context_is_refused() {
            let (_dir, b) = tiny_backend();
            let mut req = batch_of(&greedy(8), "", &[Branch::Rank(0)]);
            req.max_tokens = 1 << 20;
            assert!(matches!(
                b.generate_batch(&req, &CancelToken::new()),
                Err(EngineError::RequestTooLong { .. })
            ));
            req.max_tokens = 0;
            let empty = decode(&b, &req);
            assert_eq!(empty[0].text, "");
            assert_eq!(empty[0].stop, StopReason::MaxTokens);
        }
    }
}
