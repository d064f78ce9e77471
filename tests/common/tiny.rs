//! A tiny random-weight Qwen2 GGUF with the real tensor names, metadata layout and a
//! byte-level vocabulary, so tests exercise the real load → prefill → decode → rollback
//! path without the 1.1 GB model.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result, Tensor};

pub const HIDDEN: usize = 256;
pub const FFN: usize = 512;
pub const HEADS: usize = 4;
pub const KV_HEADS: usize = 2;
pub const LAYERS: usize = 2;
pub const CONTEXT: usize = 4096;

/// GPT-2's printable stand-ins for the 256 byte values, as used by byte-level BPE.
fn byte_tokens() -> Vec<String> {
    let mut printable: Vec<u32> = (33..=126).chain(161..=172).chain(174..=255).collect();
    let mut map = vec![0u32; 256];
    for &b in &printable {
        map[b as usize] = b;
    }
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            map[b as usize] = 256 + extra;
            extra += 1;
        }
    }
    printable.clear();
    map.into_iter()
        .map(|c| char::from_u32(c).map(String::from).unwrap_or_default())
        .collect()
}

/// Deterministic uniform noise in `[-scale, scale]` (xorshift; no RNG crate needed).
fn noise(n: usize, seed: &mut u64, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            ((*seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Writes the tiny model to `path`. Different seeds give different weights.
pub fn write(path: &Path, seed: u64) -> Result<()> {
    let dev = Device::Cpu;
    let mut tokens = byte_tokens();
    let mut types: Vec<Value> = tokens.iter().map(|_| Value::I32(1)).collect();
    // A few merges so the BPE model has real merge rules to apply.
    let merges_src = [
        ("l", "s"),
        ("Ġ", "-"),
        ("-", "l"),
        ("c", "d"),
        ("Ġ", "."),
        ("e", "c"),
    ];
    let mut merges = Vec::new();
    for (a, b) in merges_src {
        merges.push(Value::String(format!("{a} {b}")));
        tokens.push(format!("{a}{b}"));
        types.push(Value::I32(1));
    }
    for special in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
        tokens.push(special.to_owned());
        types.push(Value::I32(3));
    }
    // Round the vocabulary to a multiple of 16 so packed matmul kernels apply to it.
    while !tokens.len().is_multiple_of(16) {
        tokens.push(format!("<|extra_{}|>", tokens.len()));
        types.push(Value::I32(3));
    }
    let vocab = tokens.len();
    let id = |name: &str| tokens.iter().position(|t| t == name).unwrap_or(0) as u32;
    let im_end = id("<|im_end|>");
    let eot = id("<|endoftext|>");

    let u32v = |v: usize| Value::U32(v as u32);
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("qwen2".into())),
        ("general.name", Value::String("caro tiny test model".into())),
        ("qwen2.block_count", u32v(LAYERS)),
        ("qwen2.context_length", u32v(CONTEXT)),
        ("qwen2.embedding_length", u32v(HIDDEN)),
        ("qwen2.feed_forward_length", u32v(FFN)),
        ("qwen2.attention.head_count", u32v(HEADS)),
        ("qwen2.attention.head_count_kv", u32v(KV_HEADS)),
        ("qwen2.rope.freq_base", Value::F32(10_000.0)),
        ("qwen2.attention.layer_norm_rms_epsilon", Value::F32(1e-6)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("qwen2".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.iter().cloned().map(Value::String).collect()),
        ),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.merges", Value::Array(merges)),
        ("tokenizer.ggml.eos_token_id", Value::U32(im_end)),
        ("tokenizer.ggml.bos_token_id", Value::U32(eot)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
    ];

    let mut seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut mk = |shape: (usize, usize), scale: f32, dtype: GgmlDType| -> Result<QTensor> {
        let t = Tensor::from_vec(noise(shape.0 * shape.1, &mut seed, scale), shape, &dev)?;
        QTensor::quantize(&t, dtype)
    };
    let ones = |n: usize| -> Result<QTensor> {
        QTensor::quantize(
            &Tensor::ones(n, candle_core::DType::F32, &dev)?,
            GgmlDType::F32,
        )
    };
    let kv = KV_HEADS * (HIDDEN / HEADS);
    let mut tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            mk((vocab, HIDDEN), 1.0, GgmlDType::Q4K)?,
        ),
        (
            "output.weight".into(),
            mk((vocab, HIDDEN), 0.2, GgmlDType::Q6K)?,
        ),
        ("output_norm.weight".into(), ones(HIDDEN)?),
    ];
    for i in 0..LAYERS {
        let p = |n: &str| format!("blk.{i}.{n}");
        let bias = |n: usize, seed: &mut u64| -> Result<QTensor> {
            QTensor::quantize(
                &Tensor::from_vec(noise(n, seed, 0.1), n, &dev)?,
                GgmlDType::F32,
            )
        };
        tensors.push((p("attn_norm.weight"), ones(HIDDEN)?));
        tensors.push((p("ffn_norm.weight"), ones(HIDDEN)?));
        tensors.push((
            p("attn_q.weight"),
            mk((HIDDEN, HIDDEN), 0.1, GgmlDType::Q4K)?,
        ));
        tensors.push((p("attn_k.weight"), mk((kv, HIDDEN), 0.1, GgmlDType::Q4K)?));
        tensors.push((p("attn_v.weight"), mk((kv, HIDDEN), 0.1, GgmlDType::Q4K)?));
        tensors.push((
            p("attn_output.weight"),
            mk((HIDDEN, HIDDEN), 0.1, GgmlDType::Q4K)?,
        ));
        tensors.push((
            p("ffn_gate.weight"),
            mk((FFN, HIDDEN), 0.1, GgmlDType::Q4K)?,
        ));
        tensors.push((p("ffn_up.weight"), mk((FFN, HIDDEN), 0.1, GgmlDType::Q4K)?));
        tensors.push((
            p("ffn_down.weight"),
            mk((HIDDEN, FFN), 0.1, GgmlDType::Q6K)?,
        ));
        let mut s = 0xA5A5_0000 ^ (i as u64 + 1);
        tensors.push((p("attn_q.bias"), bias(HIDDEN, &mut s)?));
        tensors.push((p("attn_k.bias"), bias(kv, &mut s)?));
        tensors.push((p("attn_v.bias"), bias(kv, &mut s)?));
    }

    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    gguf_file::write(&mut file, &md, &ts)?;
    use std::io::Write;
    file.flush()?;
    Ok(())
}
