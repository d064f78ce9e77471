//! Quantized weight matrices times activation rows, split over the engine's threads
//! by weight rows: each weight row is read from memory once per call, whatever the
//! number of activation rows (batched decoding and prefill rely on this).

use std::ops::Range;

use super::blocks::{
    BlockQ4K, BlockQ6K, BlockQ8_0, BlockQ8K, Q8KGroup, QK_K, QK8_0, WeightBlock, as_blocks,
};
use super::dispatch::Path;
use super::rows::{MAX_ROWS, RowKernel};
use super::{q4k, q6k, q8_0, quantize};

/// A weight format the kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Q4K,
    Q6K,
    Q8_0,
}

impl Format {
    pub fn from_ggml(t: candle_core::quantized::GgmlDType) -> Option<Self> {
        use candle_core::quantized::GgmlDType as G;
        match t {
            G::Q4K => Some(Format::Q4K),
            G::Q6K => Some(Format::Q6K),
            G::Q8_0 => Some(Format::Q8_0),
            _ => None,
        }
    }

    /// (values, bytes) per block.
    fn block(self) -> (usize, usize) {
        match self {
            Format::Q4K => (QK_K, size_of::<BlockQ4K>()),
            Format::Q6K => (QK_K, size_of::<BlockQ6K>()),
            Format::Q8_0 => (QK8_0, size_of::<BlockQ8_0>()),
        }
    }

    /// Whether the activations go to Q8_K (the K-quants) rather than Q8_0.
    fn wants_q8k(self) -> bool {
        self != Format::Q8_0
    }
}

/// A `rows × cols` weight matrix stored row by row in GGUF blocks.
#[derive(Clone, Copy)]
pub struct QMatrix<'a> {
    format: Format,
    data: &'a [u8],
    rows: usize,
    cols: usize,
}

impl<'a> QMatrix<'a> {
    /// Checks that `data` holds exactly `rows × cols` values of `format`.
    pub fn new(format: Format, data: &'a [u8], rows: usize, cols: usize) -> Result<Self, String> {
        let (values, bytes) = format.block();
        if !cols.is_multiple_of(values) {
            return Err(format!(
                "{cols} columns is not a whole number of {format:?} blocks"
            ));
        }
        let want = rows * (cols / values) * bytes;
        if data.len() != want {
            return Err(format!(
                "{rows}×{cols} {format:?} needs {want} bytes, got {}",
                data.len()
            ));
        }
        Ok(Self {
            format,
            data,
            rows,
            cols,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    fn row_bytes(&self) -> usize {
        let (values, bytes) = self.format.block();
        self.cols / values * bytes
    }

    fn blocks<B: WeightBlock>(&self, rows: Range<usize>) -> &'a [B] {
        let rb = self.row_bytes();
        as_blocks(&self.data[rows.start * rb..rows.end * rb])
            .expect("whole blocks, checked by QMatrix::new")
    }

    /// Row `r`, dequantized into `out` (`cols` values).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        match self.format {
            Format::Q4K => dequantize(self.blocks::<BlockQ4K>(r..r + 1), out, q4k::dequantize),
            Format::Q6K => dequantize(self.blocks::<BlockQ6K>(r..r + 1), out, q6k::dequantize),
            Format::Q8_0 => dequantize(self.blocks::<BlockQ8_0>(r..r + 1), out, q8_0::dequantize),
        }
    }
}

fn dequantize<B: WeightBlock>(blocks: &[B], out: &mut [f32], f: impl Fn(&B, &mut [f32])) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(B::VALUES)) {
        f(b, y);
    }
}

/// `rows × cols` activations quantized for the weight formats that will use them.
pub struct Activations {
    rows: usize,
    cols: usize,
    q8k: Vec<BlockQ8K>,
    q8k_groups: Vec<Q8KGroup>,
    q8_0: Vec<BlockQ8_0>,
}

impl Activations {
    /// `x` is `rows × cols`, row-major; `cols` must suit every format in `formats`.
    pub fn quantize(x: &[f32], rows: usize, cols: usize, formats: &[Format]) -> Self {
        let mut a = Self {
            rows,
            cols,
            q8k: Vec::new(),
            q8k_groups: Vec::new(),
            q8_0: Vec::new(),
        };
        if formats.iter().any(|f| f.wants_q8k()) {
            a.q8k = vec![BlockQ8K::default(); rows * cols / QK_K];
            in_parallel(x, &mut a.q8k, QK_K, quantize::q8k);
            a.q8k_groups = quantize::q8k_groups(&a.q8k, rows, cols / QK_K);
        }
        if formats.iter().any(|f| !f.wants_q8k()) {
            a.q8_0 = vec![BlockQ8_0::default(); rows * cols / QK8_0];
            in_parallel(x, &mut a.q8_0, QK8_0, quantize::q8_0);
        }
        a
    }
}

/// Blocks per unit of parallel quantization: below this a step quantizes alone.
const QUANTIZE_UNIT: usize = 64;

/// `f(x, out)` with `x` and `out` cut into runs of [`QUANTIZE_UNIT`] blocks of
/// `values` each, shared by the engine's threads: a prompt chunk's activations,
/// quantized on one thread, kept the other waiting for 3 % of a two-thread prefill.
/// Blocks are independent, so the result does not depend on who quantized what.
fn in_parallel<B: Send>(x: &[f32], out: &mut [B], values: usize, f: fn(&[f32], &mut [B])) {
    if out.len() <= QUANTIZE_UNIT {
        return f(x, out);
    }
    let units: Vec<std::sync::Mutex<(&[f32], &mut [B])>> = x
        .chunks(QUANTIZE_UNIT * values)
        .zip(out.chunks_mut(QUANTIZE_UNIT))
        .map(std::sync::Mutex::new)
        .collect();
    share(units.len(), |range| {
        for u in &units[range] {
            // Each unit is taken by exactly one thread: the lock is never contended.
            let mut unit = u.lock().unwrap_or_else(|p| p.into_inner());
            let (xs, bs) = &mut *unit;
            f(xs, bs);
        }
    });
}

/// Weight rows one work unit of the row kernels covers: enough to amortise taking a
/// unit, few enough that two threads share a small matrix (k and v have 256 rows)
/// evenly.
pub(super) const TILE: usize = 8;

/// Weight rows one work unit of the tiled kernels covers, in bands of 8: each
/// activation row's results then leave as whole cache lines, one run per unit. With
/// units of 8 rows the scattered 32-byte writes into the outputs (a page apart for
/// the wide matrices) cost 8 % of a one-thread prefill.
pub(super) const GEMM_TILE: usize = 64;

/// The output buffers, written by several threads at once.
struct Outputs(Vec<(*mut f32, usize)>);

// SAFETY: the pointers are only written through `Outputs::write`, at indices that
// distinct work units never share (see `matmul`), while the buffers outlive the call.
unsafe impl Sync for Outputs {}

impl Outputs {
    /// Stores `v` from index `i` of buffer `m` on: a tile's results for one
    /// activation row at once, one bounds check per run rather than per element.
    ///
    /// # Safety
    /// No other thread may write or read those elements during the call.
    unsafe fn write(&self, m: usize, i: usize, v: &[f32]) {
        let (ptr, len) = self.0[m];
        assert!(i + v.len() <= len);
        // Eight at a time as fixed-size stores, the rest one by one (`black_box`
        // keeps that loop from becoming a call to `memmove`, as a copy of unknown
        // length does: decoding writes one value at a time).
        let mut chunks = v.chunks_exact(8);
        for (k, c) in chunks.by_ref().enumerate() {
            let c: [f32; 8] = c.try_into().expect("chunks of 8");
            // SAFETY: in bounds (checked above); exclusivity is the caller's promise.
            unsafe { ptr.add(i + 8 * k).cast::<[f32; 8]>().write_unaligned(c) };
        }
        let done = v.len() - chunks.remainder().len();
        for (k, x) in chunks.remainder().iter().enumerate() {
            // SAFETY: as above.
            unsafe { ptr.add(i + done + k).write(std::hint::black_box(*x)) };
        }
    }
}

/// What a matmul's activation rows need of the kernels' rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Each row's results have the bits of that row multiplied alone, up to
    /// [`MAX_EXACT_BATCH`] rows: decoding (one token, the sequences of a batch, a
    /// checked draft), whose rows are compared with one-token decoding.
    RowAlone,
    /// A prompt's rows, which nothing compares with a row alone: the tiled kernels
    /// run from fewer rows ([`PROMPT_MIN_ROWS`], [`PROMPT_MIN_ROWS_AVX2`]), from
    /// where they beat the row kernels.
    Prompt,
}

impl Rounding {
    /// Activation rows from which the K-quants take the tiled kernels on `path`.
    fn tiled_from(self, path: Path) -> usize {
        match (self, path) {
            (Rounding::RowAlone, _) => GEMM_MIN_ROWS,
            (Rounding::Prompt, Path::Avx2) => PROMPT_MIN_ROWS_AVX2,
            (Rounding::Prompt, _) => PROMPT_MIN_ROWS,
        }
    }
}

/// `x · wᵀ` for each matrix in `ws` (all with `x.cols` columns), on `path`: one
/// `x.rows × w.rows` row-major result per matrix. Work is shared by the engine's
/// threads (candle's pool, which the rest of the forward pass uses too, so the two
/// never compete for cores).
pub fn matmul(ws: &[QMatrix], x: &Activations, path: Path, rounding: Rounding) -> Vec<Vec<f32>> {
    let path = if path.supported() {
        path
    } else {
        super::dispatch::detected()
    };
    let packed = Packed::new(ws, x, path, rounding);
    let mut outs: Vec<Vec<f32>> = ws.iter().map(|w| vec![0f32; x.rows * w.rows]).collect();
    let ptrs = Outputs(outs.iter_mut().map(|o| (o.as_mut_ptr(), o.len())).collect());
    // Units: slices of each matrix in turn, of `unit` rows.
    let unit: Vec<usize> = ws
        .iter()
        .map(|w| {
            if tiled(w, x, &packed, path) {
                GEMM_TILE
            } else {
                TILE
            }
        })
        .collect();
    let starts: Vec<usize> = ws
        .iter()
        .zip(&unit)
        .scan(0, |n, (w, u)| {
            let s = *n;
            *n += w.rows.div_ceil(*u);
            Some(s)
        })
        .collect();
    let units = ws.iter().zip(&unit).map(|(w, u)| w.rows.div_ceil(*u)).sum();
    let run = |range: Range<usize>| {
        for u in range {
            let m = starts.partition_point(|&s| s <= u) - 1;
            let w = &ws[m];
            let r0 = (u - starts[m]) * unit[m];
            let rows = r0..(r0 + unit[m]).min(w.rows);
            let r0 = rows.start;
            tile(w, rows, x, &packed, path, |c, r, v| {
                // SAFETY: unit `u` alone covers weight rows `rows` of matrix `m`, and
                // elements (c, r) of output `m` belong to row r.
                unsafe { ptrs.write(m, c * w.rows + r0 + r, v) }
            });
        }
    };
    share(units, run);
    outs
}

/// Runs `run` over `0..units` on the engine's threads, each taking ranges from a
/// shared cursor that shrink as the work runs out (guided scheduling): the last
/// ranges are single units, so no thread waits long for another at the end.
/// candle's `execute_chunked` hands out eighths of a thread's share, up to 1120
/// weight rows of a decode step's gate and up projection: the other thread then
/// waited for the last of them, 10 % of a two-thread decode.
fn share(units: usize, run: impl Fn(Range<usize>) + Sync) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = candle_core::utils::barrier_pool();
    let threads = pool.n_workers() + 1;
    let next = AtomicUsize::new(0);
    pool.execute(|_| {
        loop {
            let start = next.load(Ordering::Relaxed);
            if start >= units {
                break;
            }
            let take = ((units - start) / (4 * threads)).max(1);
            if next
                .compare_exchange_weak(start, start + take, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                run(start..start + take);
            }
        }
    });
}

/// Activation rows from which the K-quants run the tiled kernels (`gemm` on AVX-512
/// VNNI, `gemm_avx2` on AVX2) rather than the row kernels: below it too many of
/// `gemm`'s 16 lanes would be empty, and smaller batches keep the row kernels' bits.
pub(super) const GEMM_MIN_ROWS: usize = 12;

/// The most activation rows a matmul takes with each row's result the bits of that
/// row alone (the row kernels'); larger batches agree up to rounding.
pub const MAX_EXACT_BATCH: usize = GEMM_MIN_ROWS - 1;

/// [`GEMM_MIN_ROWS`] for a prompt's rows ([`Rounding::Prompt`]) on AVX-512 VNNI,
/// where the row kernels are fast: one thread, Zen 4, Q4_K/Q6_K at 8 rows `gemm`
/// made 47-60 GMAC/s against the row kernels' 65-73, at 11 rows 76-81 against 70.
pub(super) const PROMPT_MIN_ROWS: usize = 10;

/// [`PROMPT_MIN_ROWS`] on AVX2, whose row kernels take one activation row at a time:
/// `gemm_avx2` at 6 rows made 39-46 GMAC/s against 25-40, at 8 rows 37-52 against
/// 26-42 (at 4 rows 29-42 against 24-41: about even).
pub(super) const PROMPT_MIN_ROWS_AVX2: usize = 6;

/// The activations rearranged for the kernel that will read them.
struct Packed {
    /// Regrouped for `gemm`, when it runs.
    #[cfg(target_arch = "x86_64")]
    gemm: Option<super::gemm::Packed>,
    /// For the AVX-512 Q4_K row kernels: the Q8_K blocks in the order they read
    /// Q4_K's nibbles (`quantize::q4k_order`); empty when they do not run.
    q4k_order: Vec<BlockQ8K>,
    /// Activation rows from which the K-quants take the tiled kernels.
    tiled_from: usize,
}

impl Packed {
    fn new(ws: &[QMatrix], x: &Activations, path: Path, rounding: Rounding) -> Self {
        let any = |f: Format| ws.iter().any(|w| w.format == f);
        let tiled_from = rounding.tiled_from(path);
        #[cfg(target_arch = "x86_64")]
        {
            let gemm = path == Path::Avx512Vnni
                && x.rows >= tiled_from
                && ws.iter().any(|w| w.format.wants_q8k());
            let reorder =
                !gemm && matches!(path, Path::Avx512 | Path::Avx512Vnni) && any(Format::Q4K);
            Self {
                gemm: gemm.then(|| super::gemm::Packed::new(&x.q8k, x.rows, x.cols / QK_K)),
                q4k_order: if reorder {
                    quantize::q4k_order(&x.q8k)
                } else {
                    Vec::new()
                },
                tiled_from,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (any, x, path);
            Self {
                q4k_order: Vec::new(),
                tiled_from,
            }
        }
    }
}

/// Whether `w` runs on a tiled kernel (`gemm`, `gemm_avx2`) rather than the row
/// kernels.
fn tiled(w: &QMatrix, x: &Activations, packed: &Packed, path: Path) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        w.format != Format::Q8_0
            && (packed.gemm.is_some() || (path == Path::Avx2 && x.rows >= packed.tiled_from))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (w, x, packed, path);
        false
    }
}

/// Weight rows `rows` (at most [`GEMM_TILE`] on the tiled kernels, [`TILE`] on the
/// row kernels) of `w` against every activation row; `put(c, r, values)` with
/// activation row `c`'s results for `rows` from the `r`-th on, in order.
fn tile(
    w: &QMatrix,
    rows: Range<usize>,
    x: &Activations,
    packed: &Packed,
    path: Path,
    put: impl Fn(usize, usize, &[f32]),
) {
    assert_eq!(w.cols, x.cols, "matmul shapes");
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = &packed.gemm
        && w.format != Format::Q8_0
    {
        let n = rows.len();
        let put = |c, v: &[f32]| put(c, 0, v);
        // SAFETY: `packed.gemm` exists only on the AVX-512 VNNI path, which `matmul`
        // checked this CPU supports.
        unsafe {
            match w.format {
                Format::Q4K => super::gemm::q4k(w.blocks::<BlockQ4K>(rows), n, p, x.rows, put),
                _ => super::gemm::q6k(w.blocks::<BlockQ6K>(rows), n, p, x.rows, put),
            }
        };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if tiled(w, x, packed, path) {
        let n = rows.len();
        let put = |c, v: &[f32]| put(c, 0, v);
        // SAFETY: `matmul` checked this CPU runs `path`, AVX2 with FMA and F16C.
        unsafe {
            match w.format {
                Format::Q4K => super::gemm_avx2::q4k(w.blocks(rows), n, &x.q8k, x.rows, put),
                _ => super::gemm_avx2::q6k(w.blocks(rows), n, &x.q8k, x.rows, put),
            }
        };
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = packed;
    assert!(rows.len() <= TILE, "a tile of weight rows");
    match w.format {
        Format::Q4K => {
            let a = if packed.q4k_order.is_empty() {
                &x.q8k
            } else {
                &packed.q4k_order
            };
            tile_of::<BlockQ4K>(w, rows, a, &x.q8k_groups, x.rows, path, put)
        }
        Format::Q6K => tile_of::<BlockQ6K>(w, rows, &x.q8k, &x.q8k_groups, x.rows, path, put),
        Format::Q8_0 => tile_of::<BlockQ8_0>(w, rows, &x.q8_0, &[], x.rows, path, put),
    }
}

/// The loop of [`tile`] for one block type: groups of up to MAX_ROWS activation
/// rows, each against every weight row of the tile (both stay in L1 meanwhile).
fn tile_of<W: RowKernel>(
    w: &QMatrix,
    rows: Range<usize>,
    a: &[W::Act],
    groups: &[Q8KGroup],
    n_act: usize,
    path: Path,
    put: impl Fn(usize, usize, &[f32]),
) {
    let blocks = w.blocks::<W>(rows.clone());
    let per_row = w.cols / W::VALUES;
    if n_act == 1 {
        let mut out = [0f32; TILE];
        let out = &mut out[..rows.len()];
        W::one_row(path, blocks, per_row, a, out);
        put(0, 0, out);
        return;
    }
    for c0 in (0..n_act).step_by(MAX_ROWS) {
        let n = MAX_ROWS.min(n_act - c0);
        let mut tmp = [0f32; MAX_ROWS];
        // Groups start at multiples of MAX_ROWS, as `c0` does.
        let g = groups.get(c0 / MAX_ROWS * per_row..).unwrap_or(&[]);
        for i in 0..rows.len() {
            let wr = &blocks[i * per_row..(i + 1) * per_row];
            W::rows(path, wr, &a[c0 * per_row..], g, per_row, &mut tmp[..n]);
            for (k, v) in tmp[..n].iter().enumerate() {
                put(c0 + k, i, std::slice::from_ref(v));
            }
        }
    }
}
