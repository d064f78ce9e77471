//! `caro bench --single`: one thread count measured in this process.

use std::time::Instant;

use super::requests::EVERYDAY_REQUESTS;
use crate::engine::candle::{CandleBackend, LoadOptions};
use crate::engine::command::{CommandOptions, generate_command};
use crate::engine::context::Context;
use crate::engine::{
    Backend, CancelToken, ChatPrompt, GenerateRequest, Preamble, Sampling, prompt,
};
use crate::error::{CaroError, exit};
use crate::model::Session;
use crate::settings::Settings;

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Mean and sample standard deviation of `xs`, as llama-bench reports its runs.
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

pub fn run(s: &Settings, reps: usize) -> Result<i32, CaroError> {
    let t = Instant::now();
    let backend = CandleBackend::load(
        &s.model,
        &LoadOptions {
            sessions: 1,
            context_cap: s.context,
            prefix_cache: None,
            device: s.device,
            speculate: s.speculate,
        },
    )?;
    let load = ms(t.elapsed());
    let warmup = ms(backend.warm_up()?);
    // Measure the steady state: the weights' move onto huge pages runs in the
    // background after load (see `model::mapping`).
    let t = Instant::now();
    backend.weights().wait_settled();
    let settle = ms(t.elapsed());
    let rss_after_load = crate::daemon::peak_rss_mb();
    tracing::debug!("rss after load+warm-up: {:.0} MB", crate::daemon::rss_mb());
    crate::outln!("\n== {} thread(s) ==", backend.info().threads);
    crate::outln!("{}", kernels_line());
    crate::outln!("load            {load:>8.0} ms");
    crate::outln!("warm-up         {warmup:>8.0} ms");
    crate::outln!("huge pages      {settle:>8.0} ms more after warm-up (in the background)");

    // Prefill of a 300-token and a 40-token prompt on fresh sessions (llama-bench's
    // pp300 and pp40: logits for the last token only).
    let text = prompt::preamble().render().repeat(2);
    let ids: Vec<u32> = backend.tokenizer().encode(&text)?;
    for n in [300, 40] {
        let ids = &ids[..n.min(ids.len())];
        let mut speeds = Vec::with_capacity(reps);
        for _ in 0..reps {
            let mut session = Session::new(backend.weights().clone());
            let t = Instant::now();
            CandleBackend::prefill(&mut session, ids, &CancelToken::new())?;
            speeds.push(ids.len() as f64 / t.elapsed().as_secs_f64());
        }
        tracing::debug!("rss after prefill: {:.0} MB", crate::daemon::rss_mb());
        let (mean, sd) = mean_sd(&speeds);
        crate::outln!(
            "prefill {:<3} tok {mean:>8.1} ± {sd:.1} tok/s ({:.0} ms)",
            ids.len(),
            ids.len() as f64 / mean * 1e3
        );
    }

    // A typical request on top of the cached system prompt.
    backend.prepare(&prompt::preamble())?;
    let ctx = Context::detect(s.shell, std::path::Path::new("/home/user/project"));
    let opts = CommandOptions {
        max_tokens: s.max_tokens,
        sampling: Sampling::default(),
        policy: Default::default(),
    };
    let cancel = CancelToken::new();
    // The first request brings a new context line; the second reuses it.
    for (request, context) in [
        (EVERYDAY_REQUESTS[1], "new"),
        (EVERYDAY_REQUESTS[2], "same"),
    ] {
        let r = generate_command(&backend, request, &ctx, &opts, &mut |_| {}, &cancel)?;
        let st = &r.generation.stats;
        crate::outln!(
            "request prefill {:>8.0} ms for {} new tokens ({} cached; {context} context)",
            st.prefill_ms,
            st.prefill_tokens,
            st.cached_tokens
        );
    }

    // Decode speed over exactly 64 tokens, after the full preamble and after a one-line
    // one: every step attends over everything cached, so the difference is attention.
    // Without speculation, as llama-bench measures it.
    backend.set_speculate(0);
    let short = Preamble {
        system: "Write shell commands.".into(),
        examples: Vec::new(),
        instructions: None,
    };
    for preamble in [prompt::preamble(), short] {
        let req = GenerateRequest {
            prompt: ChatPrompt {
                preamble,
                context: String::new(),
                request: "write a long bash script".into(),
            },
            max_tokens: 64,
            sampling: Sampling::default(),
            ignore_stop: true,
        };
        let mut speeds = Vec::with_capacity(reps);
        let mut prompt_tokens = 0;
        for _ in 0..reps {
            let g = backend.generate(&req, &mut |_| {}, &cancel)?;
            // The first sampled token comes from the prefill logits; 63 decode steps follow.
            let steps = g.stats.generated_tokens.saturating_sub(1).max(1);
            speeds.push(steps as f64 / (g.stats.decode_ms / 1e3));
            prompt_tokens = g.stats.cached_tokens + g.stats.prefill_tokens;
        }
        let (mean, sd) = mean_sd(&speeds);
        crate::outln!(
            "decode 64 tok   {mean:>8.1} ± {sd:.1} tok/s ({:.1} ms/tok after {prompt_tokens} prompt tokens)",
            1e3 / mean
        );
    }
    // Leave the shipped preamble cached for the requests below.
    backend.prepare(&prompt::preamble())?;

    // With the setting in effect; and, when that speculates, each request again without
    // it, in alternating order, so that the two are measured under the same load.
    let modes: &[usize] = if s.speculate > 0 {
        &[s.speculate, 0]
    } else {
        &[0]
    };
    let mut e2e = vec![Vec::new(); modes.len()];
    let mut counts = vec![(0, 0, 0, 0.0); modes.len()];
    for (i, req) in EVERYDAY_REQUESTS.iter().enumerate() {
        for m in (0..modes.len()).map(|k| if i % 2 == 0 { k } else { modes.len() - 1 - k }) {
            backend.set_speculate(modes[m]);
            let t = Instant::now();
            let r = generate_command(&backend, req, &ctx, &opts, &mut |_| {}, &cancel)?;
            let took = ms(t.elapsed());
            e2e[m].push(took);
            let st = &r.generation.stats;
            counts[m].0 += st.generated_tokens;
            counts[m].1 += st.decode_passes;
            counts[m].2 += st.accepted_tokens;
            counts[m].3 += st.decode_ms;
            if m == 0 {
                crate::outln!(
                    "  {took:>6.0} ms  prefill {:>3} tok  gen {:>2} tok  {req:<58} → {}",
                    st.prefill_tokens,
                    st.generated_tokens,
                    r.command
                );
            }
        }
    }
    backend.set_speculate(s.speculate);
    for (m, e2e) in e2e.iter_mut().enumerate() {
        e2e.sort_by(f64::total_cmp);
        let median = (e2e[4] + e2e[5]) / 2.0;
        let mean = e2e.iter().sum::<f64>() / e2e.len() as f64;
        let (tokens, passes, accepted, decode_ms) = counts[m];
        crate::outln!(
            "end-to-end      median {median:.0} ms · mean {mean:.0} ms · max {:.0} ms (10 requests, speculate = {}: {accepted} of {tokens} tokens guessed right, {passes} decode passes, {decode_ms:.0} ms decoding)",
            e2e[9],
            modes[m]
        );
    }
    crate::outln!(
        "peak RSS        {:>8.0} MiB after load+warm-up · {:.0} MiB at end",
        rss_after_load,
        crate::daemon::peak_rss_mb()
    );
    Ok(exit::OK)
}

/// Which matrix kernels ran and what the CPU offers: figures from machines of
/// different kinds (or a forced path) are only comparable with this line beside them.
fn kernels_line() -> String {
    use crate::model::kernels::dispatch;
    let active = dispatch::active();
    let forced = match std::env::var(dispatch::ENV) {
        Ok(v) => format!(" (forced by {}={v})", dispatch::ENV),
        Err(_) => String::new(),
    };
    format!(
        "kernels         {}{forced} · CPU features: {}",
        active.name(),
        dispatch::cpu_features().join(" ")
    )
}
