//! Q4_K and Q6_K weights times many activation rows with AVX2 (prefill on CPUs
//! without AVX-512 VNNI).
//!
//! The row kernels unpack a weight block's nibbles (or Q6_K's split bits) again for
//! every activation row; here a band of weight rows is unpacked once per matmul
//! call and each register of weights then meets several activation rows. A tile of
//! one weight row × up to [`C`] activation rows keeps its sums in registers:
//! per 32 products one `vpmaddubsw` and one `vpmaddwd` by the sub-block's scale,
//! read as a whole register from the band (a memory operand, no broadcast).
//!
//! Per block the exact integer sum is scaled once, `acc = fma(d·dy, isum, acc)`,
//! and Q4_K's mins are added as `fma(-dmin·dy, msum, acc)`. The row kernels
//! (decoding) accumulate the same integer products per sub-block in another order,
//! so the two agree up to rounding, as with the AVX-512 `gemm`.

use std::arch::x86_64::*;

use super::avx2::{f16x, f16x2};
use super::blocks::{BlockQ4K, BlockQ6K, BlockQ8K, QK_K, unpack_scales_mins};
use super::gemm::{unpack_nibbles, unpack_q6k};

/// Weight rows unpacked at once.
const BAND: usize = 8;
/// Activation rows per tile, against one weight row. Measured on Zen 4 (Q4_K and
/// Q6_K prefill shapes, 128 rows, one thread), weight rows × activation rows: 1×4
/// ran at 55-63 GMAC/s; 2×2, 2×3, 1×5 and 1×6 at 47-54; 2×4 spilled registers
/// (Q6_K at 32).
const C: usize = 4;

/// 32-byte aligned, so the kernel reads it as a memory operand.
#[repr(C, align(32))]
#[derive(Clone, Copy, Default)]
struct I16x16([i16; 16]);

/// A band of weight rows unpacked for the kernel: values as bytes in order; per
/// 32 values the scale of each of their 16 byte pairs; per block `extra` (Q4_K:
/// the eight mins; Q6_K: the sixteen scales, for the -32 offset) and the scales.
struct Band {
    per_row: usize,
    q: Vec<u8>,
    sc: Vec<I16x16>,
    extra: Vec<I16x16>,
    d: Vec<f32>,
    dmin: Vec<f32>,
}

impl Band {
    fn new(per_row: usize) -> Self {
        let blocks = BAND * per_row;
        Self {
            per_row,
            q: vec![0; blocks * QK_K],
            sc: vec![I16x16::default(); blocks * 8],
            extra: vec![I16x16::default(); blocks],
            d: vec![0.0; blocks],
            dmin: vec![0.0; blocks],
        }
    }

    /// Zeros from block `n` on: rows past the matrix's end contribute nothing.
    fn clear_from(&mut self, n: usize) {
        self.q[n * QK_K..].fill(0);
        self.sc[n * 8..].fill(I16x16::default());
        self.extra[n..].fill(I16x16::default());
        self.d[n..].fill(0.0);
        self.dmin[n..].fill(0.0);
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    fn fill_q4k(&mut self, blocks: &[BlockQ4K]) {
        self.clear_from(blocks.len());
        for (i, x) in blocks.iter().enumerate() {
            unpack_nibbles(&x.qs, &mut self.q[i * QK_K..(i + 1) * QK_K]);
            let (sc, mn) = unpack_scales_mins(&x.scales);
            for (s, &v) in sc.iter().enumerate() {
                self.sc[i * 8 + s] = I16x16([v as i16; 16]);
            }
            self.extra[i] = I16x16::default();
            for (dst, &v) in self.extra[i].0.iter_mut().zip(&mn) {
                *dst = v as i16;
            }
            (self.d[i], self.dmin[i]) = f16x2([x.d[0], x.d[1], x.dmin[0], x.dmin[1]]);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    fn fill_q6k(&mut self, blocks: &[BlockQ6K]) {
        self.clear_from(blocks.len());
        for (i, x) in blocks.iter().enumerate() {
            unpack_q6k(x, &mut self.q[i * QK_K..(i + 1) * QK_K]);
            for s in 0..8 {
                // Byte pairs 0-7 of these 32 values are sub-block 2s, 8-15 are 2s+1.
                let v = &mut self.sc[i * 8 + s].0;
                v[..8].fill(x.scales[2 * s] as i16);
                v[8..].fill(x.scales[2 * s + 1] as i16);
            }
            for (dst, &v) in self.extra[i].0.iter_mut().zip(&x.scales) {
                *dst = v as i16;
            }
            self.d[i] = f16x(x.d);
        }
    }
}

thread_local! {
    /// This thread's band, kept from call to call (as `gemm`'s).
    static SCRATCH: std::cell::Cell<Option<Band>> = const { std::cell::Cell::new(None) };
}

/// Q4_K weights (`rows` rows of `per_row` blocks, a band at a time) against the
/// `n_act` Q8_K activation rows of `a`; `put(c, values)` with activation row `c`'s
/// results for all the rows, once each.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
pub unsafe fn q4k(
    w: &[BlockQ4K],
    rows: usize,
    a: &[BlockQ8K],
    n_act: usize,
    put: impl Fn(usize, &[f32]),
) {
    // SAFETY: the caller's promise.
    unsafe { run::<false, _>(w, rows, a, n_act, |b, w| b.fill_q4k(w), put) }
}

/// [`q4k`] for Q6_K weights.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
pub unsafe fn q6k(
    w: &[BlockQ6K],
    rows: usize,
    a: &[BlockQ8K],
    n_act: usize,
    put: impl Fn(usize, &[f32]),
) {
    // SAFETY: the caller's promise.
    unsafe { run::<true, _>(w, rows, a, n_act, |b, w| b.fill_q6k(w), put) }
}

/// The driver of [`q4k`] and [`q6k`]: fills each band, then runs its tiles.
#[target_feature(enable = "avx2,fma,f16c")]
fn run<const Q6: bool, W>(
    w: &[W],
    rows: usize,
    a: &[BlockQ8K],
    n_act: usize,
    fill: impl Fn(&mut Band, &[W]),
    put: impl Fn(usize, &[f32]),
) {
    assert!(rows > 0, "weight rows");
    let per_row = w.len() / rows;
    assert_eq!(w.len(), rows * per_row, "weight rows");
    assert!(a.len() >= n_act * per_row, "activation rows");
    let mut band = SCRATCH
        .take()
        .filter(|b| b.per_row == per_row)
        .unwrap_or_else(|| Band::new(per_row));
    let mut res = vec![0f32; n_act * rows];
    for r0 in (0..rows).step_by(BAND) {
        let nr = BAND.min(rows - r0);
        let wb = &w[r0 * per_row..(r0 + nr) * per_row];
        fill(&mut band, wb);
        super::gemm::prefetch_next(wb);
        let mut c0 = 0;
        while c0 < n_act {
            let n = C.min(n_act - c0);
            let a = &a[c0 * per_row..(c0 + n) * per_row];
            for t in 0..nr {
                let mut out = [0f32; C];
                match n {
                    1 => tile::<Q6, 1>(&band, t, a, &mut out),
                    2 => tile::<Q6, 2>(&band, t, a, &mut out),
                    3 => tile::<Q6, 3>(&band, t, a, &mut out),
                    _ => tile::<Q6, C>(&band, t, a, &mut out),
                }
                for (c, &v) in out[..n].iter().enumerate() {
                    res[(c0 + c) * rows + r0 + t] = v;
                }
            }
            c0 += n;
        }
    }
    for (c, row) in res.chunks_exact(rows).enumerate() {
        put(c, row);
    }
    SCRATCH.set(Some(band));
}

/// Band row `t` against the `N` activation rows of `a` (row `c`'s blocks at
/// `c·per_row`), into `out[c]`.
#[target_feature(enable = "avx2,fma,f16c")]
fn tile<const Q6: bool, const N: usize>(band: &Band, t: usize, a: &[BlockQ8K], out: &mut [f32; C]) {
    let per_row = band.per_row;
    assert!(t < BAND && N <= C && a.len() >= N * per_row);
    assert!(band.q.len() >= BAND * per_row * QK_K && band.sc.len() >= BAND * per_row * 8);
    assert!(band.extra.len() >= BAND * per_row && band.d.len() >= BAND * per_row);
    assert!(band.dmin.len() >= BAND * per_row);
    let zero = _mm256_setzero_si256();
    let mut acc = [_mm256_setzero_ps(); N];
    for b in 0..per_row {
        let i = t * per_row + b;
        let mut isum = [zero; N];
        for j in 0..8 {
            // SAFETY: band block i < BAND·per_row and j < 8: within the lengths
            // checked above; `sc` is 32-byte aligned.
            let (w, sc) = unsafe {
                (
                    _mm256_loadu_si256(band.q.as_ptr().add(i * QK_K + 32 * j).cast()),
                    _mm256_load_si256(band.sc.as_ptr().add(i * 8 + j).cast()),
                )
            };
            for (c, sum) in isum.iter_mut().enumerate() {
                // SAFETY: row c < N of `a` (checked), bytes 32j..32j+32 of its qs.
                let y = unsafe {
                    _mm256_loadu_si256(
                        a.as_ptr()
                            .add(c * per_row + b)
                            .cast::<u8>()
                            .add(32 * j)
                            .cast(),
                    )
                };
                let p = _mm256_maddubs_epi16(w, y);
                *sum = _mm256_add_epi32(*sum, _mm256_madd_epi16(p, sc));
            }
        }
        // SAFETY: i < BAND·per_row (checked above); aligned type.
        let extra = unsafe { _mm256_load_si256(band.extra.as_ptr().add(i).cast()) };
        for (c, (acc, isum)) in acc.iter_mut().zip(isum).enumerate() {
            let y = &a[c * per_row + b];
            let dd = _mm256_set1_ps(band.d[i] * y.d);
            if Q6 {
                // Σ sc·(q - 32)·y = Σ sc·q·y - 32·Σ sc·(Σ y) per sub-block.
                // SAFETY: `bsums` holds 16 i16s, 32 bytes; unaligned load.
                let ys = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
                let bias = _mm256_slli_epi32::<5>(_mm256_madd_epi16(ys, extra));
                *acc = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, bias)), *acc);
            } else {
                // SAFETY: `bsums32` holds 8 i16s, 16 bytes; unaligned load.
                let ys = unsafe { _mm_loadu_si128(y.bsums32.as_ptr().cast()) };
                let m = _mm_madd_epi16(ys, _mm256_castsi256_si128(extra));
                let m = _mm256_cvtepi32_ps(_mm256_zextsi128_si256(m));
                *acc = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(isum), *acc);
                *acc = _mm256_fmadd_ps(_mm256_set1_ps(-band.dmin[i] * y.d), m, *acc);
            }
        }
    }
    for (o, acc) in out.iter_mut().zip(acc) {
        *o = super::avx2::hsum256(acc);
    }
}
