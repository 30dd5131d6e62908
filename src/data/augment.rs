//! Image augmentation for training batches: a random translation, rotation and zoom
//! per image (bilinear resampling), each drawn from the run's `augment` stream so a
//! seed gives the same batches every time.

use crate::rng::{uniform, StreamRng};
use crate::spec::AugmentSpec;

/// Transforms every image of a batch in place. `shape` is one sample's [C, H, W].
pub fn apply(inputs: &mut [f64], shape: &[usize], spec: &AugmentSpec, rng: &mut StreamRng) {
    let [c, h, w] = shape[..] else { return };
    let size = c * h * w;
    let mut scratch = vec![0.0; size];
    for image in inputs.chunks_exact_mut(size) {
        let dx = uniform(rng, -spec.shift, spec.shift);
        let dy = uniform(rng, -spec.shift, spec.shift);
        let angle = uniform(rng, -spec.rotate, spec.rotate).to_radians();
        let zoom = uniform(rng, 1.0 - spec.scale, 1.0 + spec.scale);
        scratch.copy_from_slice(image);
        // Background: the darkest value, whatever normalisation did to zero.
        let fill = scratch.iter().copied().fold(f64::INFINITY, f64::min);
        let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
        let (sin, cos) = angle.sin_cos();
        for ch in 0..c {
            let src = &scratch[ch * h * w..(ch + 1) * h * w];
            for y in 0..h {
                for x in 0..w {
                    // Where this output pixel comes from: the inverse of shift ∘ rotate ∘ zoom.
                    let (px, py) = (x as f64 - cx - dx, y as f64 - cy - dy);
                    let sx = (cos * px + sin * py) / zoom + cx;
                    let sy = (-sin * px + cos * py) / zoom + cy;
                    image[ch * h * w + y * w + x] = bilinear(src, h, w, sy, sx, fill);
                }
            }
        }
    }
}

fn bilinear(img: &[f64], h: usize, w: usize, y: f64, x: f64, fill: f64) -> f64 {
    let (y0, x0) = (y.floor(), x.floor());
    let (fy, fx) = (y - y0, x - x0);
    let at = |yy: f64, xx: f64| -> f64 {
        if yy < 0.0 || xx < 0.0 || yy >= h as f64 || xx >= w as f64 {
            fill
        } else {
            img[yy as usize * w + xx as usize]
        }
    };
    let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1.0) * fx;
    let bottom = at(y0 + 1.0, x0) * (1.0 - fx) + at(y0 + 1.0, x0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_change_is_the_identity_and_a_whole_pixel_shift_moves_pixels() {
        let mut img: Vec<f64> = (0..25).map(|v| v as f64).collect();
        let original = img.clone();
        let mut r = crate::rng::stream(1, "augment");
        apply(&mut img, &[1, 5, 5], &AugmentSpec::default(), &mut r);
        assert_eq!(img, original);
        // shift = 1 draws dx, dy in (−1, 1): every output is a blend of neighbours.
        let spec = AugmentSpec { shift: 1.0, ..Default::default() };
        let mut img2 = original.clone();
        apply(&mut img2, &[1, 5, 5], &spec, &mut r);
        assert_ne!(img2, original);
        assert!(img2.iter().all(|v| (0.0..=24.0).contains(v)));
    }
}
