//! The GGUF block layouts the kernels read, and the activation blocks they write.
//!
//! Weight blocks are byte arrays (alignment 1) so a slice of the memory-mapped file
//! can be viewed as blocks wherever the tensor starts; their `f16` fields are read
//! through [`f16_le`].

/// Values per K-quant super-block.
pub const QK_K: usize = 256;
/// Values per Q8_0 block.
pub const QK8_0: usize = 32;

/// GGML's Q4_K: 8 sub-blocks of 32 four-bit values, 6-bit scales and mins.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ4K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; 12],
    pub qs: [u8; QK_K / 2],
}

/// GGML's Q6_K: 16 sub-blocks of 16 six-bit values (low 4 bits in `ql`, high 2 in
/// `qh`), 8-bit scales.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: [u8; 2],
}

/// GGML's Q8_0: 32 signed bytes and one scale.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ8_0 {
    pub d: [u8; 2],
    pub qs: [i8; QK8_0],
}

/// An activation super-block as GGML's Q8_K: `bsums` holds the sums of each 16
/// values, which the K-quant dot products use for their offsets (Q6_K's -32), and
/// `bsums32` those of each 32 (Q4_K's mins), which GGML adds up again in every dot
/// product. Aligned to a cache line; the extra field fits in the padding.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct BlockQ8K {
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
    pub bsums32: [i16; QK_K / 32],
    pub d: f32,
}

/// Rows per [`Q8KGroup`]: the most activation rows one kernel call takes.
pub const GROUP: usize = 8;

/// Per-block figures of [`GROUP`] activation rows side by side (one group per block
/// index), so a kernel applies Q4_K's mins to all the rows with a few wide
/// instructions instead of a narrow chain per row: `bsums32` of row `r` at
/// `8r..8r+8`, its scale `d` four times at `4r..4r+4` of `d4` and once in `d`. Rows
/// past the end of the batch are zeros.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct Q8KGroup {
    pub bsums32: [i16; 8 * GROUP],
    pub d4: [f32; 4 * GROUP],
    pub d: [f32; GROUP],
}

impl Default for Q8KGroup {
    fn default() -> Self {
        Self {
            bsums32: [0; 8 * GROUP],
            d4: [0.0; 4 * GROUP],
            d: [0.0; GROUP],
        }
    }
}

impl Default for BlockQ8K {
    fn default() -> Self {
        Self {
            qs: [0; QK_K],
            bsums: [0; QK_K / 16],
            bsums32: [0; QK_K / 32],
            d: 0.0,
        }
    }
}

impl Default for BlockQ8_0 {
    fn default() -> Self {
        Self {
            d: [0; 2],
            qs: [0; QK8_0],
        }
    }
}

const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);
const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);
const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);

/// A little-endian f16, exactly. Not `half::f16::to_f32`: that checks for F16C at
/// every call, which cost as much as the rest of a Q4_K block's dot product.
#[inline(always)]
pub fn f16_le(b: [u8; 2]) -> f32 {
    let h = u16::from_le_bytes(b) as u32;
    let em = h & 0x7fff;
    // Exponent and mantissa in f32 position; × 2¹¹² re-biases normals and
    // normalises subnormals, both exactly.
    let f = f32::from_bits(em << 13) * f32::from_bits(0x7780_0000);
    let bits = if em >= 0x7c00 {
        (em << 13) | 0x7f80_0000
    } else {
        f.to_bits()
    };
    f32::from_bits(bits | ((h & 0x8000) << 16))
}

pub fn f16_bytes(x: f32) -> [u8; 2] {
    half::f16::from_f32(x).to_bits().to_le_bytes()
}

/// A weight block type: its size and how a byte slice becomes a slice of blocks.
pub trait WeightBlock: Copy {
    const VALUES: usize;
}

impl WeightBlock for BlockQ4K {
    const VALUES: usize = QK_K;
}
impl WeightBlock for BlockQ6K {
    const VALUES: usize = QK_K;
}
impl WeightBlock for BlockQ8_0 {
    const VALUES: usize = QK8_0;
}

/// Views `bytes` as blocks; `None` when the length is not a whole number of blocks.
pub fn as_blocks<B: WeightBlock>(bytes: &[u8]) -> Option<&[B]> {
    let size = std::mem::size_of::<B>();
    if !bytes.len().is_multiple_of(size) {
        return None;
    }
    // SAFETY: every block type here is `repr(C)` made of byte arrays only (alignment
    // 1, no padding, every bit pattern valid), and the length is a whole number of
    // blocks, so the bytes are a valid `[B]` for the borrow's lifetime.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<B>(), bytes.len() / size) })
}

/// Q4_K's packed 6-bit scale and min of sub-block `j` (GGML's `get_scale_min_k4`).
#[cfg(test)]
pub fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// All eight Q4_K scales then all eight mins, unpacked to bytes (GGML's `utmp`
/// shuffle: the same bits as [`scale_min_k4`] for j = 0..8, without a branch per j).
pub fn unpack_scales_mins(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    const KMASK1: u32 = 0x3f3f3f3f;
    const KMASK2: u32 = 0x0f0f0f0f;
    const KMASK3: u32 = 0x03030303;
    let word = |i: usize| u32::from_le_bytes([q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]]);
    let (u0, u1, u2) = (word(0), word(1), word(2));
    let m1 = ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4);
    let m0 = u1 & KMASK1;
    let s1 = (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4);
    let s0 = u0 & KMASK1;
    let join = |a: u32, b: u32| {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&a.to_le_bytes());
        out[4..].copy_from_slice(&b.to_le_bytes());
        out
    };
    (join(s0, s1), join(m0, m1))
}
