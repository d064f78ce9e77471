//! One weight row against a few activation rows, on the chosen path.

use super::blocks::{BlockQ4K, BlockQ6K, BlockQ8_0, BlockQ8K, GROUP, Q8KGroup, WeightBlock};
use super::dispatch::Path;
use super::{q4k, q6k, q8_0};

/// Activation rows one kernel call takes at most.
pub const MAX_ROWS: usize = GROUP;

/// A weight block type with its activation block type and its kernels.
pub trait RowKernel: WeightBlock {
    type Act: Copy;

    /// `w` (one weight row) against `out.len()` (≤ MAX_ROWS) activation rows, row
    /// `c` starting at `a[c * stride]`; `g` holds those rows' [`Q8KGroup`]s, one per
    /// block (K-quants only, empty otherwise).
    fn rows(
        path: Path,
        w: &[Self],
        a: &[Self::Act],
        g: &[Q8KGroup],
        stride: usize,
        out: &mut [f32],
    );

    /// `out.len()` (≤ the row kernels' tile) weight rows of `per_row` blocks, one
    /// after another in `w`, against the one activation row `a`: decoding. The same
    /// bits as [`RowKernel::rows`] per weight row.
    fn one_row(path: Path, w: &[Self], per_row: usize, a: &[Self::Act], out: &mut [f32]);
}

/// The row-at-a-time kernels' shared loop.
fn each<W, A>(w: &[W], a: &[A], stride: usize, out: &mut [f32], dot: impl Fn(&[W], &[A]) -> f32) {
    for (c, o) in out.iter_mut().enumerate() {
        *o = dot(w, &a[c * stride..c * stride + w.len()]);
    }
}

/// Implements [`RowKernel`]: `$vnni` and `$avx512` (in `avx512`) take several
/// activation rows, `$avx2` (in `avx2`) and `$portable` one.
macro_rules! row_kernel {
    ($block:ty, $act:ty, $vnni:ident, $avx512:ident, $vnni_one:ident, $avx512_one:ident,
     $avx2:ident, $avx2_one:ident, $portable:path) => {
        impl RowKernel for $block {
            type Act = $act;

            fn rows(
                path: Path,
                w: &[Self],
                a: &[$act],
                g: &[Q8KGroup],
                stride: usize,
                out: &mut [f32],
            ) {
                debug_assert!(out.len() <= MAX_ROWS);
                debug_assert!(a.len() >= (out.len() - 1) * stride + w.len());
                let _ = g;
                match path {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `path` is one `dispatch` found this CPU to run (see
                    // `matmul`), which enables every feature the kernel is built for.
                    Path::Avx512Vnni => unsafe { super::avx512::$vnni(w, a, g, stride, out) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above.
                    Path::Avx512 => unsafe { super::avx512::$avx512(w, a, g, stride, out) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above.
                    Path::Avx2 => each(w, a, stride, out, |w, a| unsafe {
                        super::avx2::$avx2(w, a)
                    }),
                    _ => each(w, a, stride, out, $portable),
                }
            }

            fn one_row(path: Path, w: &[Self], per_row: usize, a: &[$act], out: &mut [f32]) {
                debug_assert!(w.len() == out.len() * per_row && a.len() >= per_row);
                match path {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as in `rows`.
                    Path::Avx512Vnni => unsafe { super::avx512::$vnni_one(w, per_row, a, out) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as in `rows`.
                    Path::Avx512 => unsafe { super::avx512::$avx512_one(w, per_row, a, out) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as in `rows`.
                    Path::Avx2 => unsafe { super::avx2::$avx2_one(w, per_row, a, out) },
                    _ => {
                        for (o, wr) in out.iter_mut().zip(w.chunks_exact(per_row)) {
                            Self::rows(path, wr, a, &[], per_row, std::slice::from_mut(o));
                        }
                    }
                }
            }
        }
    };
}

row_kernel!(
    BlockQ4K,
    BlockQ8K,
    q4k_vnni,
    q4k,
    q4k_vnni_one,
    q4k_one_row,
    dot_q4k,
    q4k_one_row,
    q4k::dot
);
row_kernel!(
    BlockQ6K,
    BlockQ8K,
    q6k_vnni,
    q6k,
    q6k_vnni_one,
    q6k_one_row,
    dot_q6k,
    q6k_one_row,
    q6k::dot
);
row_kernel!(
    BlockQ8_0,
    BlockQ8_0,
    q8_0_vnni,
    q8_0,
    q8_0_vnni_one,
    q8_0_one_row,
    dot_q8_0,
    q8_0_one_row,
    q8_0::dot
);
