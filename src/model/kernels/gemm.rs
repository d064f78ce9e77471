//! Q4_K weights times many activation rows with AVX-512 VNNI (prefill).
//!
//! The row kernels put 64 values of one activation row across a register, so each
//! 64 products cost a `vpmaddubsw` and a `vpdpwssd` (the sub-block scale). Here the
//! activation rows lie across the register instead, 16 of them, four values each:
//! one `vpdpbusd` against four weights broadcast from one weight row adds four
//! products to each of the 16 rows, and a lane sums a whole 32-value sub-block
//! before its scale is applied once (`vpmulld`). That is one multiply instruction
//! per 64 products instead of two, as llama.cpp's tiled kernels do.
//!
//! Per block, the exact integer sums of the scaled products and of the mins, then
//! `acc = fma(d·dy, isum, acc)` and `acc = fma(-dmin·dy, msum, acc)`. The row
//! kernels (decoding) accumulate partial sums instead, so the two agree up to
//! rounding. Eight weight rows per band: eight independent accumulator chains keep
//! `vpdpbusd` busy despite its latency.

use std::arch::x86_64::*;

use super::avx2::{f16x, f16x2};
use super::blocks::{BlockQ4K, BlockQ6K, BlockQ8K, QK_K, unpack_scales_mins};

/// Activation rows per register.
pub const LANES: usize = 16;

/// Weight rows that share each activation load.
const BAND: usize = 8;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct I8x64([i8; 64]);

impl Default for I8x64 {
    fn default() -> Self {
        Self([0; 64])
    }
}

#[repr(C, align(64))]
#[derive(Clone, Copy, Default)]
struct I16x32([i16; 32]);

#[repr(C, align(64))]
#[derive(Clone, Copy, Default)]
struct F32x16([f32; 16]);

#[repr(C, align(64))]
#[derive(Clone, Copy, Default)]
struct I32x16([i32; 16]);

/// Q8_K activations regrouped 16 rows to a register: for group `g` (rows 16g..16g+16)
/// and block `b`, `q` holds 64 registers (four values of each row per register, in
/// value order), `bs` four registers of the rows' 32-value sums in pairs (sub-blocks
/// 2p and 2p+1 side by side per row), `d` the rows' scales. Rows past the end are 0.
pub struct Packed {
    per_row: usize,
    q: Vec<I8x64>,
    bs: Vec<I16x32>,
    /// 32 × the rows' 16-value sums, 16 registers per block: Q6_K's -32 offset.
    b16: Vec<I32x16>,
    d: Vec<F32x16>,
}

impl Packed {
    pub fn new(a: &[BlockQ8K], rows: usize, per_row: usize) -> Self {
        let groups = rows.div_ceil(LANES);
        let mut p = Self {
            per_row,
            q: vec![I8x64::default(); groups * per_row * (QK_K / 4)],
            bs: vec![I16x32::default(); groups * per_row * 4],
            b16: vec![I32x16::default(); groups * per_row * 16],
            d: vec![F32x16::default(); groups * per_row],
        };
        for r in 0..rows {
            let (g, c) = (r / LANES, r % LANES);
            for b in 0..per_row {
                let y = &a[r * per_row + b];
                let gb = g * per_row + b;
                for (k, reg) in p.q[gb * 64..(gb + 1) * 64].iter_mut().enumerate() {
                    reg.0[4 * c..4 * c + 4].copy_from_slice(&y.qs[4 * k..4 * k + 4]);
                }
                for (k, reg) in p.bs[gb * 4..(gb + 1) * 4].iter_mut().enumerate() {
                    reg.0[2 * c] = y.bsums32[2 * k];
                    reg.0[2 * c + 1] = y.bsums32[2 * k + 1];
                }
                for (k, reg) in p.b16[gb * 16..(gb + 1) * 16].iter_mut().enumerate() {
                    reg.0[c] = 32 * y.bsums[k] as i32;
                }
                p.d[gb].0[c] = y.d;
            }
        }
        p
    }

    fn groups(&self) -> usize {
        self.d.len() / self.per_row.max(1)
    }
}

/// One band of weight rows unpacked for the kernel: values as bytes in order, the
/// sub-block scales, the mins in pairs (two i16 in an i32, as the activation sums
/// pair up), and the block scales.
struct Band {
    per_row: usize,
    q: Vec<u8>,
    sc: Vec<i32>,
    mn: Vec<i32>,
    d: Vec<f32>,
    dmin: Vec<f32>,
}

impl Unpacked for Band {
    type Block = BlockQ4K;

    fn per_row(&self) -> usize {
        self.per_row
    }

    unsafe fn group(&self, x: &Packed, g: usize, out: &mut [F32x16; BAND]) {
        // SAFETY: the caller's promise.
        unsafe { band_group(self, x, g, out) }
    }

    fn scratch() -> &'static std::thread::LocalKey<std::cell::Cell<Option<Self>>> {
        &SCRATCH
    }

    fn new(per_row: usize) -> Self {
        Self {
            per_row,
            q: vec![0; BAND * per_row * QK_K],
            sc: vec![0; BAND * per_row * 8],
            mn: vec![0; BAND * per_row * 4],
            d: vec![0.0; BAND * per_row],
            dmin: vec![0.0; BAND * per_row],
        }
    }

    fn fill(&mut self, blocks: &[BlockQ4K]) {
        let n = blocks.len();
        self.q[n * QK_K..].fill(0);
        self.sc[n * 8..].fill(0);
        self.mn[n * 4..].fill(0);
        self.d[n..].fill(0.0);
        self.dmin[n..].fill(0.0);
        for (i, x) in blocks.iter().enumerate() {
            // SAFETY: `fill` is only called from `run`, whose caller promises AVX2.
            unsafe { unpack_nibbles(&x.qs, &mut self.q[i * QK_K..(i + 1) * QK_K]) };
            let (sc, mn) = unpack_scales_mins(&x.scales);
            for (dst, &v) in self.sc[i * 8..i * 8 + 8].iter_mut().zip(&sc) {
                *dst = v as i32;
            }
            for p in 0..4 {
                self.mn[i * 4 + p] = mn[2 * p] as i32 | (mn[2 * p + 1] as i32) << 16;
            }
            // SAFETY: as above. F16C: the software conversion was half of `fill`.
            (self.d[i], self.dmin[i]) = unsafe { f16x2([x.d[0], x.d[1], x.dmin[0], x.dmin[1]]) };
        }
    }
}

/// A Q4_K block's 128 bytes of nibbles to its 256 values in order: per 32 bytes,
/// the low nibbles are 32 values and the high nibbles the next 32.
#[target_feature(enable = "avx2")]
pub(super) fn unpack_nibbles(qs: &[u8; QK_K / 2], out: &mut [u8]) {
    assert!(out.len() >= QK_K);
    let m4 = _mm256_set1_epi8(0xF);
    for j in 0..4 {
        // SAFETY: 32 bytes read at 32j < 128 and 64 written at 64j < 256, both in
        // bounds (checked above); unaligned accesses.
        unsafe {
            let v = _mm256_loadu_si256(qs.as_ptr().add(32 * j).cast());
            let lo = _mm256_and_si256(v, m4);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4);
            _mm256_storeu_si256(out.as_mut_ptr().add(64 * j).cast(), lo);
            _mm256_storeu_si256(out.as_mut_ptr().add(64 * j + 32).cast(), hi);
        }
    }
}

/// Weight rows unpacked into a band for the kernel, one kind per block type.
trait Unpacked: Sized + 'static {
    type Block;
    fn new(per_row: usize) -> Self;
    fn per_row(&self) -> usize;
    /// Unpacks `blocks` (the blocks of ≤ BAND weight rows, row after row); the rest
    /// of the band is zeros.
    fn fill(&mut self, blocks: &[Self::Block]);
    /// The band's rows against activation group `g`.
    ///
    /// # Safety
    /// The CPU must support AVX-512F/BW/VL/VNNI, AVX2, FMA and F16C.
    unsafe fn group(&self, x: &Packed, g: usize, out: &mut [F32x16; BAND]);
    /// This thread's band, kept from call to call: allocating and zeroing it per
    /// work unit showed as 2.5 % of prefill.
    fn scratch() -> &'static std::thread::LocalKey<std::cell::Cell<Option<Self>>>;
}

/// `w` (`rows` weight rows of `per_row` blocks, a band at a time) against every
/// activation row of `x`; `put(c, values)` with activation row `c`'s results for
/// all the rows, once each.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/VNNI, AVX2, FMA and F16C.
unsafe fn run<B: Unpacked>(
    w: &[B::Block],
    rows: usize,
    x: &Packed,
    n_act: usize,
    put: impl Fn(usize, &[f32]),
) {
    let per_row = x.per_row;
    assert_eq!(w.len(), rows * per_row, "weight rows");
    assert!(x.groups() * LANES >= n_act, "packed activations");
    let mut band = B::scratch()
        .take()
        .filter(|b| b.per_row() == per_row)
        .unwrap_or_else(|| B::new(per_row));
    let mut res = vec![0f32; n_act * rows];
    for r0 in (0..rows).step_by(BAND) {
        let n = BAND.min(rows - r0);
        let wb = &w[r0 * per_row..(r0 + n) * per_row];
        band.fill(wb);
        prefetch_next(wb);
        for g in 0..n_act.div_ceil(LANES) {
            let mut out = [F32x16::default(); BAND];
            // SAFETY: the caller's promise.
            unsafe { band.group(x, g, &mut out) };
            for c in 0..LANES.min(n_act - g * LANES) {
                let row = &mut res[(g * LANES + c) * rows + r0..][..n];
                for (v, o) in row.iter_mut().zip(&out) {
                    *v = o.0[c];
                }
            }
        }
    }
    for (c, row) in res.chunks_exact(rows).enumerate() {
        put(c, row);
    }
    B::scratch().set(Some(band));
}

/// Q4_K weights against every activation row of `x`, as [`run`].
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/VNNI, AVX2, FMA and F16C.
pub unsafe fn q4k(
    w: &[BlockQ4K],
    rows: usize,
    x: &Packed,
    n_act: usize,
    put: impl Fn(usize, &[f32]),
) {
    // SAFETY: the caller's promise.
    unsafe { run::<Band>(w, rows, x, n_act, put) }
}

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Band>> = const { std::cell::Cell::new(None) };
    static SCRATCH6: std::cell::Cell<Option<Band6>> = const { std::cell::Cell::new(None) };
}

/// The BAND weight rows of `band` against activation group `g`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")]
fn band_group(band: &Band, x: &Packed, g: usize, out: &mut [F32x16; BAND]) {
    let per_row = x.per_row;
    let q = &x.q[g * per_row * 64..(g + 1) * per_row * 64];
    let bs = &x.bs[g * per_row * 4..(g + 1) * per_row * 4];
    let dy = &x.d[g * per_row..(g + 1) * per_row];
    assert!(band.q.len() >= BAND * per_row * QK_K);
    assert!(band.sc.len() >= BAND * per_row * 8 && band.mn.len() >= BAND * per_row * 4);
    assert!(band.d.len() >= BAND * per_row && band.dmin.len() >= BAND * per_row);
    let wq = band.q.as_ptr();
    let zero = _mm512_setzero_si512();
    let mut acc = [_mm512_setzero_ps(); BAND];
    for b in 0..per_row {
        let mut isum = [zero; BAND];
        for s in 0..8 {
            let mut a = [zero; BAND];
            for k in 0..8 {
                // SAFETY: `q` holds 64 registers per block (checked by slicing), and
                // 8s + k < 64; the register type is 64-byte aligned.
                let codes = unsafe { _mm512_load_si512(q.as_ptr().add(b * 64 + 8 * s + k).cast()) };
                for (t, at) in a.iter_mut().enumerate() {
                    // SAFETY: row t's values start at (t·per_row + b)·256 in the band,
                    // whose length was checked above; 32s + 4k + 4 ≤ 256.
                    let word = unsafe {
                        wq.add((t * per_row + b) * QK_K + 32 * s + 4 * k)
                            .cast::<i32>()
                            .read_unaligned()
                    };
                    *at = _mm512_dpbusd_epi32(*at, _mm512_set1_epi32(word), codes);
                }
            }
            for t in 0..BAND {
                let sc = _mm512_set1_epi32(band.sc[(t * per_row + b) * 8 + s]);
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(a[t], sc));
            }
        }
        // SAFETY: `dy` and `bs` are sliced to this group's blocks; aligned types.
        let yd = unsafe { _mm512_load_ps(dy[b].0.as_ptr()) };
        let pairs: [__m512i; 4] =
            std::array::from_fn(|p| unsafe { _mm512_load_si512(bs[b * 4 + p].0.as_ptr().cast()) });
        for t in 0..BAND {
            let i = t * per_row + b;
            let mut msum = zero;
            for (p, pair) in pairs.iter().enumerate() {
                msum = _mm512_dpwssd_epi32(msum, *pair, _mm512_set1_epi32(band.mn[i * 4 + p]));
            }
            let dd = _mm512_mul_ps(_mm512_set1_ps(band.d[i]), yd);
            acc[t] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(isum[t]), acc[t]);
            let dm = _mm512_mul_ps(_mm512_set1_ps(-band.dmin[i]), yd);
            acc[t] = _mm512_fmadd_ps(dm, _mm512_cvtepi32_ps(msum), acc[t]);
        }
    }
    for t in 0..BAND {
        // SAFETY: aligned 64-byte destination.
        unsafe { _mm512_store_ps(out[t].0.as_mut_ptr(), acc[t]) };
    }
}

/// [`Band`] for Q6_K: values 0..64 as bytes in order, the 16 scales, the block scale.
struct Band6 {
    per_row: usize,
    q: Vec<u8>,
    sc: Vec<i32>,
    d: Vec<f32>,
}

impl Unpacked for Band6 {
    type Block = BlockQ6K;

    fn per_row(&self) -> usize {
        self.per_row
    }

    unsafe fn group(&self, x: &Packed, g: usize, out: &mut [F32x16; BAND]) {
        // SAFETY: the caller's promise.
        unsafe { band_group6(self, x, g, out) }
    }

    fn scratch() -> &'static std::thread::LocalKey<std::cell::Cell<Option<Self>>> {
        &SCRATCH6
    }

    fn new(per_row: usize) -> Self {
        Self {
            per_row,
            q: vec![0; BAND * per_row * QK_K],
            sc: vec![0; BAND * per_row * 16],
            d: vec![0.0; BAND * per_row],
        }
    }

    fn fill(&mut self, blocks: &[BlockQ6K]) {
        let n = blocks.len();
        self.q[n * QK_K..].fill(0);
        self.sc[n * 16..].fill(0);
        self.d[n..].fill(0.0);
        for (i, x) in blocks.iter().enumerate() {
            // SAFETY: `fill` is only called from `run`, whose caller promises AVX2.
            unsafe { unpack_q6k(x, &mut self.q[i * QK_K..(i + 1) * QK_K]) };
            for (dst, &v) in self.sc[i * 16..i * 16 + 16].iter_mut().zip(&x.scales) {
                *dst = v as i32;
            }
            // SAFETY: as above.
            self.d[i] = unsafe { f16x(x.d) };
        }
    }
}

/// A Q6_K block's values (without the -32 offset) as bytes in order, as GGML's
/// `dequantize_row_q6_K` lays them out.
#[target_feature(enable = "avx2")]
pub(super) fn unpack_q6k(x: &BlockQ6K, out: &mut [u8]) {
    assert!(out.len() >= QK_K);
    let m4 = _mm256_set1_epi8(0xF);
    let m3 = _mm256_set1_epi8(3);
    for n in 0..2 {
        // SAFETY: reads of 32 bytes at 64n, 64n + 32 < 128 (`ql`) and 32n < 64 (`qh`),
        // writes of 32 bytes at 128n + 32m < 256, all in bounds; unaligned accesses.
        unsafe {
            let ql0 = _mm256_loadu_si256(x.ql.as_ptr().add(64 * n).cast());
            let ql1 = _mm256_loadu_si256(x.ql.as_ptr().add(64 * n + 32).cast());
            let qh = _mm256_loadu_si256(x.qh.as_ptr().add(32 * n).cast());
            let high = |shift: __m128i| {
                _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srl_epi16(qh, shift), m3))
            };
            let v = [
                _mm256_or_si256(_mm256_and_si256(ql0, m4), high(_mm_cvtsi32_si128(0))),
                _mm256_or_si256(_mm256_and_si256(ql1, m4), high(_mm_cvtsi32_si128(2))),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4),
                    high(_mm_cvtsi32_si128(4)),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4),
                    high(_mm_cvtsi32_si128(6)),
                ),
            ];
            for (m, v) in v.iter().enumerate() {
                _mm256_storeu_si256(out.as_mut_ptr().add(128 * n + 32 * m).cast(), *v);
            }
        }
    }
}

/// [`q4k`] for Q6_K weights: per 16-value sub-block the products' sum less 32 × the
/// activations' sum, times the scale, in integers; per block one fma.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/VNNI, AVX2, FMA and F16C.
pub unsafe fn q6k(
    w: &[BlockQ6K],
    rows: usize,
    x: &Packed,
    n_act: usize,
    put: impl Fn(usize, &[f32]),
) {
    // SAFETY: the caller's promise.
    unsafe { run::<Band6>(w, rows, x, n_act, put) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")]
fn band_group6(band: &Band6, x: &Packed, g: usize, out: &mut [F32x16; BAND]) {
    let per_row = x.per_row;
    let q = &x.q[g * per_row * 64..(g + 1) * per_row * 64];
    let b16 = &x.b16[g * per_row * 16..(g + 1) * per_row * 16];
    let dy = &x.d[g * per_row..(g + 1) * per_row];
    assert!(band.q.len() >= BAND * per_row * QK_K);
    assert!(band.sc.len() >= BAND * per_row * 16 && band.d.len() >= BAND * per_row);
    let wq = band.q.as_ptr();
    let zero = _mm512_setzero_si512();
    let mut acc = [_mm512_setzero_ps(); BAND];
    for b in 0..per_row {
        let mut isum = [zero; BAND];
        for s in 0..16 {
            let mut a = [zero; BAND];
            for k in 0..4 {
                // SAFETY: `q` holds 64 registers per block (checked by slicing), and
                // 4s + k < 64; the register type is 64-byte aligned.
                let codes = unsafe { _mm512_load_si512(q.as_ptr().add(b * 64 + 4 * s + k).cast()) };
                for (t, at) in a.iter_mut().enumerate() {
                    // SAFETY: row t's values start at (t·per_row + b)·256 in the band,
                    // whose length was checked above; 16s + 4k + 4 ≤ 256.
                    let word = unsafe {
                        wq.add((t * per_row + b) * QK_K + 16 * s + 4 * k)
                            .cast::<i32>()
                            .read_unaligned()
                    };
                    *at = _mm512_dpbusd_epi32(*at, _mm512_set1_epi32(word), codes);
                }
            }
            // SAFETY: sliced to this group's blocks; aligned type.
            let bias = unsafe { _mm512_load_si512(b16[b * 16 + s].0.as_ptr().cast()) };
            for t in 0..BAND {
                let sc = _mm512_set1_epi32(band.sc[(t * per_row + b) * 16 + s]);
                let v = _mm512_mullo_epi32(_mm512_sub_epi32(a[t], bias), sc);
                isum[t] = _mm512_add_epi32(isum[t], v);
            }
        }
        // SAFETY: sliced to this group's blocks; aligned type.
        let yd = unsafe { _mm512_load_ps(dy[b].0.as_ptr()) };
        for t in 0..BAND {
            let dd = _mm512_mul_ps(_mm512_set1_ps(band.d[t * per_row + b]), yd);
            acc[t] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    for t in 0..BAND {
        // SAFETY: aligned 64-byte destination.
        unsafe { _mm512_store_ps(out[t].0.as_mut_ptr(), acc[t]) };
    }
}

/// Asks for the weights after `w` (the next band of the same matrix, which the same
/// thread usually takes next) while this band computes: the hardware prefetcher
/// alone left `fill` waiting on memory. A prefetch never faults, so addresses past
/// the matrix's end are harmless.
pub(super) fn prefetch_next<T>(w: &[T]) {
    let bytes = std::mem::size_of_val(w);
    let next = w.as_ptr().cast::<i8>().wrapping_add(bytes);
    for off in (0..bytes).step_by(64) {
        // SAFETY: prefetching reads nothing architecturally and cannot fault.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(off)) };
    }
}
