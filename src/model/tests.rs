//! The real load → prefill → decode → rollback path on the tiny random model.

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::{Session, load, tiny};

fn tiny_model() -> (tempfile::TempDir, super::LoadedModel) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tiny.gguf");
    tiny::write(&path, 7).expect("write tiny model");
    let model = load(&path, 1024, &Device::Cpu).expect("load tiny model");
    (dir, model)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    let d = (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>());
    d.expect("diff")
}

#[test]
fn logits_after_rollback_equal_a_fresh_prefill() {
    let (_dir, m) = tiny_model();
    let tok = &m.tokenizer;
    let prefix = tok
        .encode("<|im_start|>system\nbe brief<|im_end|>\n")
        .expect("encode");
    let first = tok
        .encode("<|im_start|>user\nlist files<|im_end|>\n")
        .expect("encode");
    let second = tok
        .encode("<|im_start|>user\ncount lines in main.rs<|im_end|>\n")
        .expect("encode");

    let mut s = Session::new(m.weights.clone());
    s.forward(&prefix).expect("prefix");
    s.forward(&first).expect("first request");
    for t in [5u32, 9, 11] {
        s.forward(&[t]).expect("decode");
    }
    s.truncate(prefix.len());
    assert_eq!(s.tokens(), &prefix[..]);
    let after_rollback = s.forward(&second).expect("second request");

    // A fresh session prefills the same way the engine always does: the system prefix,
    // then the request (see `CandleBackend::ensure_prefix`).
    let mut fresh = Session::new(m.weights.clone());
    fresh.forward(&prefix).expect("fresh prefix");
    let full = fresh.forward(&second).expect("fresh request");
    let delta = max_abs_diff(&after_rollback, &full);
    assert!(delta < 1e-4, "max |Δ| = {delta}");
}

#[test]
fn sessions_share_weights_but_not_caches() {
    let (_dir, m) = tiny_model();
    let mut a = Session::new(m.weights.clone());
    let mut b = Session::new(m.weights.clone());
    a.forward(&[1, 2, 3]).expect("a");
    b.forward(&[4]).expect("b");
    assert_eq!(a.len(), 3);
    assert_eq!(b.len(), 1);
    assert!(Arc::ptr_eq(a.weights(), b.weights()));
}

#[test]
fn context_overflow_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tiny.gguf");
    tiny::write(&path, 1).expect("write");
    let m = load(&path, 16, &Device::Cpu).expect("load");
    let mut s = Session::new(m.weights.clone());
    assert!(s.forward(&[1; 17]).is_err());
    assert!(s.forward(&[1; 16]).is_ok());
}

#[test]
fn tokenizer_round_trips_text_and_knows_chatml() {
    let (_dir, m) = tiny_model();
    let text = "grep -rn 'TODO' . | wc -l → ünïcode";
    let ids = m.tokenizer.encode(text).expect("encode");
    assert_eq!(m.tokenizer.decode(&ids).expect("decode"), text);
    let end = m.tokenizer.encode("<|im_end|>").expect("encode");
    assert_eq!(end.len(), 1);
    assert!(m.tokenizer.is_stop(end[0]));
}

mod load_errors {
    use super::super::{ModelError, load};
    use candle_core::Device;
    use std::io::Write;

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("m.gguf");
        std::fs::File::create(&p)
            .and_then(|mut f| f.write_all(bytes))
            .expect("write");
        (dir, p)
    }

    #[test]
    fn missing_file() {
        let r = load(
            std::path::Path::new("/nonexistent/m.gguf"),
            64,
            &Device::Cpu,
        );
        assert!(matches!(r, Err(ModelError::NotFound { .. })));
    }

    #[test]
    fn not_a_gguf() {
        let (_d, p) = write(b"<html>not found</html>");
        assert!(matches!(
            load(&p, 64, &Device::Cpu),
            Err(ModelError::NotGguf { .. })
        ));
        let (_d, p) = write(b"");
        assert!(matches!(
            load(&p, 64, &Device::Cpu),
            Err(ModelError::NotGguf { .. })
        ));
    }

    #[test]
    fn truncated_gguf() {
        let dir = tempfile::tempdir().expect("temp dir");
        let full = dir.path().join("full.gguf");
        super::tiny::write(&full, 3).expect("write");
        let bytes = std::fs::read(&full).expect("read");
        for cut in [8, 200, bytes.len() / 2, bytes.len() - 100] {
            let (_d, p) = write(&bytes[..cut]);
            let r = load(&p, 64, &Device::Cpu);
            assert!(
                matches!(r, Err(ModelError::Corrupt { .. })),
                "cut at {cut}: {:?}",
                r.err()
            );
        }
    }

    #[test]
    fn unsupported_architecture() {
        use candle_core::quantized::gguf_file::{self, Value};
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("llama.gguf");
        let mut f = std::fs::File::create(&p).expect("create");
        let arch = Value::String("llama".into());
        gguf_file::write(&mut f, &[("general.architecture", &arch)], &[]).expect("write");
        let r = load(&p, 64, &Device::Cpu);
        assert!(matches!(r, Err(ModelError::UnsupportedArch { ref arch, .. }) if arch == "llama"));
    }
}

/// A fork of a session against plain sessions decoding the same tokens alone.
mod batch {
    use candle_core::Tensor;

    use super::super::{LoadedModel, Session};
    use super::{max_abs_diff, tiny_model};

    /// Batched rows against the same tokens decoded one at a time. Each activation row
    /// is quantized to Q8 on its own and the attention kernel is the same (see
    /// `attention::decode_two`), so the rows agree bit for bit unless candle takes
    /// another matmul kernel for one row than for several; on the tiny model the
    /// measured difference is 0 for 1 row and ≤ 2e-6 (1.9e-6) for 3 rows (AVX-512, no VNNI:
    /// the fused one-row gemv is not taken there). 1e-4 leaves room for other kernels'
    /// summation orders while still catching a wrong position or a wrong prefix, which
    /// move logits by ~0.1 or more.
    const TOLERANCE: f32 = 1e-4;

    fn prefix(m: &LoadedModel) -> Vec<u32> {
        m.tokenizer
            .encode("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nlist files")
            .expect("encode")
    }

    /// A session holding `prefix` then `tokens`, and the logits that follow.
    fn alone(m: &LoadedModel, prefix: &[u32], tokens: &[u32]) -> (Session, Tensor) {
        let mut s = Session::new(m.weights.clone());
        let mut logits = s.forward(prefix).expect("prefix");
        for &t in tokens {
            logits = s.forward(&[t]).expect("decode");
        }
        (s, logits)
    }

    fn row(t: &Tensor, i: usize) -> Tensor {
        t.get(i).expect("row")
    }

    #[test]
    fn one_branch_equals_a_plain_session() {
        let (_dir, m) = tiny_model();
        let p = prefix(&m);
        let (base, _) = alone(&m, &p, &[]);
        let mut batch = base.fork(1);
        let (mut plain, _) = alone(&m, &p, &[]);
        let mut worst = 0f32;
        for t in [40u32, 71, 3, 200, 15, 99] {
            let got = batch.step(&[(0, t)]).expect("step");
            assert_eq!(got.dims(), &[1, m.weights.config().vocab]);
            let want = plain.forward(&[t]).expect("forward");
            worst = worst.max(max_abs_diff(&row(&got, 0), &want));
        }
        eprintln!("one branch: max |Δ| = {worst}");
        assert!(worst <= TOLERANCE, "max |Δ| = {worst}");
        assert_eq!(batch.tokens(0), &[40, 71, 3, 200, 15, 99]);
    }

    #[test]
    fn three_branches_equal_three_sessions() {
        let (_dir, m) = tiny_model();
        let p = prefix(&m);
        let (base, _) = alone(&m, &p, &[]);
        let seqs: [[u32; 5]; 3] = [[40, 71, 3, 200, 15], [9, 9, 9, 9, 9], [120, 4, 66, 8, 31]];
        let mut batch = base.fork(3);
        assert_eq!(batch.len(), 3);
        let mut plains: Vec<Session> = (0..3).map(|_| alone(&m, &p, &[]).0).collect();
        let mut worst = 0f32;
        for step in 0..5 {
            let feed: Vec<(usize, u32)> = seqs.iter().map(|s| s[step]).enumerate().collect();
            let got = batch.step(&feed).expect("step");
            for (b, s) in plains.iter_mut().enumerate() {
                let want = s.forward(&[feed[b].1]).expect("forward");
                worst = worst.max(max_abs_diff(&row(&got, b), &want));
            }
        }
        eprintln!("three branches: max |Δ| = {worst}");
        assert!(worst <= TOLERANCE, "max |Δ| = {worst}");
        for (b, seq) in seqs.iter().enumerate() {
            assert_eq!(batch.tokens(b), seq);
        }
    }

    /// Branches that stop, or skip steps, sit at different positions in later steps;
    /// rows come back in the order they were fed.
    #[test]
    fn branches_of_different_lengths_still_match() {
        let (_dir, m) = tiny_model();
        let p = prefix(&m);
        let (base, _) = alone(&m, &p, &[]);
        let mut batch = base.fork(3);
        // Branch 0 stops after two tokens; branch 2 skips the second step.
        let steps: Vec<Vec<(usize, u32)>> = vec![
            vec![(0, 40), (1, 9), (2, 120)],
            vec![(1, 10), (0, 71)],
            vec![(2, 4), (1, 11)],
            vec![(1, 12), (2, 66)],
        ];
        let mut worst = 0f32;
        for feed in &steps {
            let got = batch.step(feed).expect("step");
            assert_eq!(got.dim(0).expect("rows"), feed.len());
            for (i, &(b, _)) in feed.iter().enumerate() {
                let (_, want) = alone(&m, &p, batch.tokens(b));
                worst = worst.max(max_abs_diff(&row(&got, i), &want));
            }
        }
        eprintln!("uneven branches: max |Δ| = {worst}");
        assert!(worst <= TOLERANCE, "max |Δ| = {worst}");
        assert_eq!(batch.tokens(0), &[40, 71]);
        assert_eq!(batch.tokens(1), &[9, 10, 11, 12]);
        assert_eq!(batch.tokens(2), &[120, 4, 66]);
    }

    #[test]
    fn the_prefix_session_is_unchanged_by_its_batch() {
        let (_dir, m) = tiny_model();
        let p = prefix(&m);
        let (mut base, _) = alone(&m, &p, &[]);
        {
            let mut batch = base.fork(2);
            for t in [40u32, 71, 3] {
                batch.step(&[(0, t), (1, t + 1)]).expect("step");
            }
        }
        assert_eq!(base.tokens(), &p[..]);
        let after = base.forward(&[5]).expect("forward");
        let (_, want) = alone(&m, &p, &[5]);
        assert_eq!(max_abs_diff(&after, &want), 0.0);
    }

    #[test]
    fn bad_feeds_are_errors_and_leave_the_batch_usable() {
        let (_dir, m) = tiny_model();
        let p = prefix(&m);
        let (base, _) = alone(&m, &p, &[]);
        let mut batch = base.fork(2);
        assert!(batch.step(&[]).is_err());
        assert!(batch.step(&[(2, 1)]).is_err());
        assert!(batch.step(&[(0, 1), (0, 2)]).is_err());
        assert!(batch.tokens(0).is_empty());
        let got = batch.step(&[(1, 7)]).expect("step");
        let (_, want) = alone(&m, &p, &[7]);
        assert!(max_abs_diff(&row(&got, 0), &want) <= TOLERANCE);
    }

    #[test]
    fn an_empty_session_can_be_forked() {
        let (_dir, m) = tiny_model();
        let base = Session::new(m.weights.clone());
        let mut batch = base.fork(2);
        batch.step(&[(0, 40), (1, 41)]).expect("step");
        let got = batch.step(&[(0, 42)]).expect("step");
        let mut s = Session::new(m.weights.clone());
        s.forward(&[40]).expect("forward");
        let want = s.forward(&[42]).expect("forward");
        assert!(max_abs_diff(&row(&got, 0), &want) <= TOLERANCE);
    }
}
