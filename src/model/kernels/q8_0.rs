//! Q8_0 weights: the reference dequantization and the portable dot product.

use super::blocks::{BlockQ8_0, f16_le};

pub fn dequantize(b: &BlockQ8_0, out: &mut [f32]) {
    let d = f16_le(b.d);
    for (y, &q) in out.iter_mut().zip(&b.qs) {
        *y = d * q as f32;
    }
}

pub fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(x, y)| {
            let s: i32 =
                x.qs.iter()
                    .zip(&y.qs)
                    .map(|(&p, &q)| p as i32 * q as i32)
                    .sum();
            f16_le(x.d) * f16_le(y.d) * s as f32
        })
        .sum()
}
