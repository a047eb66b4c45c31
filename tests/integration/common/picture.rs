//! Pictures compared as people see them: decoded, and a mean difference
//! over a grid of samples (JPEG moves each pixel a little).
#![allow(dead_code)]

use std::path::Path;

pub fn decode(path: &Path) -> image::RgbImage {
    image::open(path).expect("a picture").to_rgb8()
}

/// Mean absolute difference per channel between `a` at `at` and `b` at
/// the origin, over a grid of 400 samples in a `size` area.
pub fn difference(
    a: &image::RgbImage,
    at: (u32, u32),
    b: &image::RgbImage,
    size: (u32, u32),
) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for i in 0..20 {
        for j in 0..20 {
            let (x, y) = (size.0 * i / 20 + 7, size.1 * j / 20 + 5);
            let p = a.get_pixel(at.0 + x, at.1 + y).0;
            let q = b.get_pixel(x, y).0;
            for c in 0..3 {
                sum += (i64::from(p[c]) - i64::from(q[c])).unsigned_abs();
                n += 1;
            }
        }
    }
    sum as f64 / n as f64
}
