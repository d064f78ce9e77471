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
