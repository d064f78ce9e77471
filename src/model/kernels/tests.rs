//! Every path against a plain reference on random blocks: dequantize the weights,
//! then an f32 dot product.
//!
//! Two references, two bounds:
//! - against the *quantized* activations (dequantized back to f32) the kernels do
//!   the same sums in integers, exact, then scale per block: they agree up to f32
//!   rounding, bounded here by 1e-5 × Σ|w·a| + 1e-6 (observed ~1e-7 relative);
//! - against the original f32 activations the one extra error is the activation
//!   quantization, at most half a step per value (step = the block's amax/127;
//!   Q8_0 stores that step as f16, which adds 127·2⁻¹¹ < 0.07 of a step), so
//!   |Δ| ≤ Σ|wᵢ|·0.57·stepᵢ plus the rounding term above.

use super::blocks::{BlockQ4K, BlockQ6K, BlockQ8_0, BlockQ8K, QK_K, QK8_0, f16_bytes, f16_le};
use super::dispatch::Path;
use super::matmul::{Activations, Format, QMatrix, Rounding, matmul};
use super::{q4k, q6k, q8_0, quantize};

/// xorshift64*: enough randomness for test data, with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 32) as u8
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.byte())
    }
}

/// Random blocks of `format` for a `rows × cols` matrix, as raw bytes.
fn random_matrix(rng: &mut Rng, format: Format, rows: usize, cols: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let scale = |rng: &mut Rng| f16_bytes(rng.unit().abs() * 0.02 + 1e-4);
    match format {
        Format::Q4K => {
            for _ in 0..rows * cols / QK_K {
                let b = BlockQ4K {
                    d: scale(rng),
                    dmin: scale(rng),
                    scales: rng.bytes(),
                    qs: rng.bytes(),
                };
                out.extend_from_slice(as_bytes(&b));
            }
        }
        Format::Q6K => {
            for _ in 0..rows * cols / QK_K {
                let b = BlockQ6K {
                    ql: rng.bytes(),
                    qh: rng.bytes(),
                    scales: rng.bytes::<16>().map(|x| x as i8),
                    d: scale(rng),
                };
                out.extend_from_slice(as_bytes(&b));
            }
        }
        Format::Q8_0 => {
            for _ in 0..rows * cols / QK8_0 {
                let b = BlockQ8_0 {
                    d: scale(rng),
                    qs: rng.bytes::<32>().map(|x| x as i8),
                };
                out.extend_from_slice(as_bytes(&b));
            }
        }
    }
    out
}

fn as_bytes<T: Copy>(b: &T) -> &[u8] {
    // SAFETY: the weight block types are byte arrays only (no padding), so every byte
    // of the value is initialised.
    unsafe { std::slice::from_raw_parts((b as *const T).cast::<u8>(), size_of::<T>()) }
}

fn random_vec(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.unit() * 3.0).collect()
}

/// The activations as the kernels see them: quantized, then back to f32; and the
/// quantization step of each value.
fn requantized(x: &[f32], format: Format) -> (Vec<f32>, Vec<f32>) {
    let mut back = vec![0f32; x.len()];
    let mut step = vec![0f32; x.len()];
    if format == Format::Q8_0 {
        let mut q = vec![BlockQ8_0::default(); x.len() / QK8_0];
        quantize::q8_0(x, &mut q);
        for (i, b) in q.iter().enumerate() {
            for j in 0..QK8_0 {
                back[i * QK8_0 + j] = f16_le(b.d) * b.qs[j] as f32;
                step[i * QK8_0 + j] = f16_le(b.d);
            }
        }
    } else {
        let mut q = vec![BlockQ8K::default(); x.len() / QK_K];
        quantize::q8k(x, &mut q);
        for (i, b) in q.iter().enumerate() {
            for j in 0..QK_K {
                back[i * QK_K + j] = b.d * b.qs[j] as f32;
                step[i * QK_K + j] = b.d.abs();
            }
        }
    }
    (back, step)
}

fn check(format: Format, rows: usize, cols: usize, n_act: usize, path: Path, seed: u64) {
    check_rounding(format, rows, cols, n_act, path, seed, Rounding::RowAlone)
}

fn check_rounding(
    format: Format,
    rows: usize,
    cols: usize,
    n_act: usize,
    path: Path,
    seed: u64,
    rounding: Rounding,
) {
    let mut rng = Rng(seed);
    let data = random_matrix(&mut rng, format, rows, cols);
    let w = QMatrix::new(format, &data, rows, cols).expect("shape");
    let x = random_vec(&mut rng, n_act * cols);
    let got = matmul(
        &[w],
        &Activations::quantize(&x, n_act, cols, &[format]),
        path,
        rounding,
    );
    let mut wrow = vec![0f32; cols];
    for r in 0..rows {
        w.dequantize_row(r, &mut wrow);
        for c in 0..n_act {
            let xs = &x[c * cols..(c + 1) * cols];
            let (xq, step) = requantized(xs, format);
            let exact: f32 = wrow.iter().zip(&xq).map(|(a, b)| a * b).sum();
            let mag: f32 = wrow.iter().zip(&xq).map(|(a, b)| (a * b).abs()).sum();
            let plain: f32 = wrow.iter().zip(xs).map(|(a, b)| a * b).sum();
            let qerr: f32 = wrow
                .iter()
                .zip(&step)
                .map(|(a, s)| a.abs() * 0.57 * s)
                .sum();
            let v = got[0][c * rows + r];
            let round = 1e-5 * mag + 1e-6;
            assert!(
                (v - exact).abs() <= round,
                "{format:?} {path:?} row {r} act {c}: {v} vs {exact} (bound {round})"
            );
            assert!(
                (v - plain).abs() <= qerr + round,
                "{format:?} {path:?} row {r} act {c}: {v} vs f32 {plain} (bound {})",
                qerr + round
            );
        }
    }
}

fn supported_paths() -> Vec<Path> {
    Path::ALL.into_iter().filter(|p| p.supported()).collect()
}

#[test]
fn every_path_matches_the_reference() {
    for path in supported_paths() {
        for (i, format) in [Format::Q4K, Format::Q6K, Format::Q8_0]
            .into_iter()
            .enumerate()
        {
            // Every kernel width (1-8) and a remainder past it.
            for n_act in [1, 2, 3, 4, 5, 6, 7, 8, 11] {
                check(
                    format,
                    19,
                    512,
                    n_act,
                    path,
                    7 + i as u64 * 100 + n_act as u64,
                );
            }
            // An odd block count (Q8_0's two-block AVX-512 step has a tail).
            check(
                format,
                3,
                768 + 32 * (format == Format::Q8_0) as usize,
                2,
                path,
                99,
            );
        }
    }
}

#[test]
fn the_portable_path_runs_everywhere() {
    assert!(Path::Portable.supported());
    check(Format::Q4K, 9, 256, 3, Path::Portable, 1);
}

#[test]
fn an_unsupported_forced_path_falls_back() {
    // Whatever this CPU is, the best path plus anything below it is supported and
    // nothing above it is claimed.
    let best = super::dispatch::detected();
    for p in Path::ALL {
        assert_eq!(p.supported(), p <= best, "{p:?}");
    }
}

#[test]
fn fused_matrices_get_their_own_outputs() {
    let mut rng = Rng(5);
    let (cols, n_act) = (512, 3);
    let a = random_matrix(&mut rng, Format::Q4K, 17, cols);
    let b = random_matrix(&mut rng, Format::Q6K, 8, cols);
    let c = random_matrix(&mut rng, Format::Q8_0, 5, cols);
    let ws = [
        QMatrix::new(Format::Q4K, &a, 17, cols).expect("a"),
        QMatrix::new(Format::Q6K, &b, 8, cols).expect("b"),
        QMatrix::new(Format::Q8_0, &c, 5, cols).expect("c"),
    ];
    let x = random_vec(&mut rng, n_act * cols);
    let formats: Vec<Format> = ws.iter().map(|w| w.format()).collect();
    let acts = Activations::quantize(&x, n_act, cols, &formats);
    let path = super::dispatch::detected();
    let fused = matmul(&ws, &acts, path, Rounding::Prompt);
    for (w, out) in ws.iter().zip(&fused) {
        let alone = matmul(std::slice::from_ref(w), &acts, path, Rounding::Prompt);
        assert_eq!(out, &alone[0]);
    }
}

/// A row's result does not depend on the batch the row kernels run it in: alone,
/// or at another position of a batch (other lane of a group, another group), the
/// same bits. Batched decoding (candidates, speculation) relies on it. Batches
/// large enough for `gemm` (prefill) sum each block exactly before scaling it, so
/// they agree with these up to rounding only; [`gemm_batches_match_the_reference`]
/// bounds that.
#[test]
fn a_row_gives_the_same_bits_in_any_batch() {
    let mut rng = Rng(21);
    let cols = 768;
    for path in supported_paths() {
        for format in [Format::Q4K, Format::Q6K, Format::Q8_0] {
            let rows = 13;
            let data = random_matrix(&mut rng, format, rows, cols);
            let w = QMatrix::new(format, &data, rows, cols).expect("shape");
            // The largest batch below `gemm`'s: a full group of 8 and a partial one.
            let n = super::matmul::GEMM_MIN_ROWS - 1;
            let x = random_vec(&mut rng, n * cols);
            let run = |first: usize, count: usize| {
                let xs = &x[first * cols..(first + count) * cols];
                matmul(
                    &[w],
                    &Activations::quantize(xs, count, cols, &[format]),
                    path,
                    Rounding::RowAlone,
                )
                .remove(0)
            };
            let all = run(0, n);
            let some = run(3, 6);
            for c in 0..n {
                let alone = run(c, 1);
                for r in 0..rows {
                    let v = all[c * rows + r];
                    assert_eq!(
                        v.to_bits(),
                        alone[r].to_bits(),
                        "{format:?} {path:?} {c} {r}"
                    );
                    if (3..9).contains(&c) {
                        let u = some[(c - 3) * rows + r];
                        assert_eq!(v.to_bits(), u.to_bits(), "{format:?} {path:?} {c} {r}");
                    }
                }
            }
        }
    }
}

/// Batches that `gemm` takes (prefill), on every path, against the reference with
/// the bound of [`check`].
#[test]
fn gemm_batches_match_the_reference() {
    for path in supported_paths() {
        for (i, format) in [Format::Q4K, Format::Q6K].into_iter().enumerate() {
            for n_act in [super::matmul::GEMM_MIN_ROWS, 16, 37] {
                check(
                    format,
                    13,
                    512,
                    n_act,
                    path,
                    300 + i as u64 * 10 + n_act as u64,
                );
            }
            // Several work units of several bands, the last ones partial.
            let rows = super::matmul::GEMM_TILE + 13;
            check(format, rows, 256, 17, path, 400 + i as u64);
            // A prompt's rows take them from fewer rows.
            let from = [
                super::matmul::PROMPT_MIN_ROWS,
                super::matmul::PROMPT_MIN_ROWS_AVX2,
            ];
            for n_act in from.into_iter().chain([super::matmul::GEMM_MIN_ROWS - 1]) {
                let seed = 500 + i as u64 * 10 + n_act as u64;
                check_rounding(format, 13, 512, n_act, path, seed, Rounding::Prompt);
            }
        }
    }
}

#[test]
fn f16_conversion_is_exact_for_every_value() {
    for h in 0..=u16::MAX {
        let want = half::f16::from_bits(h).to_f32();
        let got = f16_le(h.to_le_bytes());
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{h:#x}"
        );
    }
}

#[test]
fn q4k_scale_unpacking_matches_ggml() {
    let mut rng = Rng(3);
    for _ in 0..100 {
        let q: [u8; 12] = rng.bytes();
        let (sc, mn) = super::blocks::unpack_scales_mins(&q);
        for j in 0..8 {
            assert_eq!((sc[j], mn[j]), super::blocks::scale_min_k4(j, &q));
        }
    }
}

#[test]
fn q8k_quantization_keeps_ggml_conventions() {
    let mut rng = Rng(11);
    let x = random_vec(&mut rng, QK_K);
    let mut q = [BlockQ8K::default()];
    quantize::q8k(&x, &mut q);
    let (imax, _) = x
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .expect("values");
    // The largest magnitude maps to -127 (GGML scales by -127/max).
    assert_eq!(q[0].qs[imax], -127);
    for (s, qs) in q[0].bsums.iter().zip(q[0].qs.chunks_exact(16)) {
        assert_eq!(*s as i32, qs.iter().map(|&v| v as i32).sum::<i32>());
    }
    let zero = [0f32; QK_K];
    quantize::q8k(&zero, &mut q);
    assert_eq!(q[0].d, 0.0);
}

#[test]
fn dequantization_matches_the_portable_dot() {
    // The portable dot products are the integer reference; tie them to the
    // dequantizers once more through a single one-hot activation per value.
    let mut rng = Rng(13);
    let data = random_matrix(&mut rng, Format::Q4K, 1, QK_K);
    let w = QMatrix::new(Format::Q4K, &data, 1, QK_K).expect("shape");
    let mut row = vec![0f32; QK_K];
    w.dequantize_row(0, &mut row);
    let blocks: &[BlockQ4K] = super::blocks::as_blocks(&data).expect("blocks");
    for i in [0, 31, 32, 100, 255] {
        let mut x = vec![0f32; QK_K];
        x[i] = 1.0;
        let mut a = [BlockQ8K::default()];
        quantize::q8k(&x, &mut a);
        let v = q4k::dot(blocks, &a);
        assert!(
            (v - row[i]).abs() <= 1e-6 + row[i].abs() * 1e-5,
            "{i}: {v} vs {}",
            row[i]
        );
    }
    let _ = (q6k::dot, q8_0::dot);
}

/// CPU seconds used by this thread: on a shared machine, less disturbed by other
/// work than the wall clock.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Not a check but a measurement, in this thread's CPU time: real-model shapes on
/// every path. Run with `CANDLE_NUM_THREADS=1 cargo test --release --lib
/// kernel_timings -- --ignored --nocapture` (one thread, so all work is this one's).
#[test]
#[ignore = "a timing, run by hand"]
fn kernel_timings() {
    let mut rng = Rng(17);
    let shapes = [
        ("ffn_gate Q4_K 8960×1536", Format::Q4K, 8960, 1536),
        ("ffn_down Q6_K 1536×8960", Format::Q6K, 1536, 8960),
        ("ffn_down Q4_K 1536×8960", Format::Q4K, 1536, 8960),
        ("q8_0 1536×1536", Format::Q8_0, 1536, 1536),
    ];
    for (name, format, rows, cols) in shapes {
        let data = random_matrix(&mut rng, format, rows, cols);
        let w = QMatrix::new(format, &data, rows, cols).expect("shape");
        let runs = [1, 4, 6, 8, 11, 16, 31, 128].into_iter().flat_map(|n| {
            let prompt = (super::matmul::PROMPT_MIN_ROWS_AVX2..super::matmul::GEMM_MIN_ROWS)
                .contains(&n)
                .then_some((n, Rounding::Prompt));
            [Some((n, Rounding::RowAlone)), prompt]
                .into_iter()
                .flatten()
        });
        for (n_act, rounding) in runs {
            let x = random_vec(&mut rng, n_act * cols);
            for path in supported_paths() {
                // The fastest of several: the run least disturbed by other work.
                let reps = if n_act == 1 { 30 } else { 8 };
                let s = (0..reps)
                    .map(|_| {
                        let t = thread_cpu_seconds();
                        let a = Activations::quantize(&x, n_act, cols, &[format]);
                        std::hint::black_box(matmul(&[w], &a, path, rounding));
                        thread_cpu_seconds() - t
                    })
                    .fold(f64::INFINITY, f64::min);
                let macs = (rows * cols * n_act) as f64;
                eprintln!(
                    "{name} × {n_act:>3} rows {:>12} {rounding:?}: {:>7.3} ms  {:>6.1} GB/s weights  {:>6.1} GMAC/s",
                    path.name(),
                    s * 1e3,
                    data.len() as f64 / s / 1e9,
                    macs / s / 1e9
                );
            }
        }
    }
}
