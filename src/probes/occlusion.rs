//! `occlusion`: a `patch` × `patch` square slid by `stride` over each chosen image (in
//! every channel) and set to `baseline` (raw units); the drop in the true class's
//! probability, p(original) − p(occluded), at each position.
//!
//! Positions start at 0 and step by `stride`; where the last one would leave a border
//! uncovered, one more position flush with the edge is added, so every pixel is covered.
//! The heat map's value at a pixel is the mean drop over the patch positions covering it.
//! One `values()` call scores an image and all its occluded copies.

use super::adversarial::{chosen_images, grey, image_shape, pictures, scores_for};
use super::{class_labels, file_stem, ProbeContext, ProbeFile};
use crate::plot::{MapTile, Scale};
use crate::spec::ProbeSpec;

/// `patch` and `stride` when the spec gives none (pixels).
pub(super) const DEFAULT_PATCH: usize = 6;
pub(super) const DEFAULT_STRIDE: usize = 2;

/// The most input values built for one image's pass (2^25 f64: 256 MiB).
const MAX_VALUES: usize = 1 << 25;

/// An error when one image's pass (the image and a copy per patch position) would build
/// more than [`MAX_VALUES`] inputs; `patch` is at most the image's side.
pub(super) fn too_many_positions((c, h, w): (usize, usize, usize), patch: usize, stride: usize) -> Result<(), String> {
    let positions = starts(h, patch, stride).len() * starts(w, patch, stride).len();
    let f = c * h * w;
    if (1 + positions).saturating_mul(f) > MAX_VALUES {
        return Err(format!(
            "{positions} patch positions of {f} values per image is too many to score at once; use a larger `stride` or `patch`"
        ));
    }
    Ok(())
}

/// Top (or left) edges of the patch along an axis of `size` pixels.
fn starts(size: usize, patch: usize, stride: usize) -> Vec<usize> {
    let mut s: Vec<usize> = (0..=size - patch).step_by(stride).collect();
    if s.last() != Some(&(size - patch)) {
        s.push(size - patch);
    }
    s
}

pub fn render(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    let d = ctx.data;
    let shape = image_shape(&d.sample_shape(), "occlusion")?;
    let (c, h, w) = shape;
    let labels = class_labels(d)?;
    let scores = scores_for(ctx.model.dag(), d)?;
    let images = chosen_images(probe, d)?;
    let patch = probe.patch.unwrap_or(DEFAULT_PATCH);
    let stride = probe.stride.unwrap_or(DEFAULT_STRIDE);
    let baseline = probe.baseline.unwrap_or(0.0);
    if patch == 0 || stride == 0 {
        return Err(format!("`patch` ({patch}) and `stride` ({stride}) must be at least 1"));
    }
    if patch > h || patch > w {
        return Err(format!("`patch` is {patch} pixels; the images are {h} × {w}"));
    }
    if !baseline.is_finite() {
        return Err(format!("`baseline` is {baseline}; it must be finite"));
    }
    if let Some(&y) = images.iter().map(|&i| &labels[i]).find(|&&y| y >= scores.classes) {
        return Err(format!("a sample has label {y}; the model scores {} classes", scores.classes));
    }
    let fill = ctx.scale.to_model(baseline);
    too_many_positions(shape, patch, stride)?;
    let (ys, xs) = (starts(h, patch, stride), starts(w, patch, stride));
    let positions: Vec<(usize, usize)> = ys.iter().flat_map(|&r| xs.iter().map(move |&q| (r, q))).collect();
    let f = d.features;
    let per_image = 1 + positions.len();
    let k = scores.classes;
    let mut csv = String::from("image,true,row,col,drop\n");
    let mut originals = Vec::new();
    let mut maps = Vec::new();
    for &i in &images {
        // The original, then one copy per patch position: one pass per image.
        let original = d.input_row(i);
        let mut rows = Vec::with_capacity(per_image * f);
        rows.extend_from_slice(&original);
        for &(r, q) in &positions {
            let start = rows.len();
            rows.extend_from_slice(&original);
            let copy = &mut rows[start..];
            for ch in 0..c {
                for y in r..r + patch {
                    copy[ch * h * w + y * w + q..ch * h * w + y * w + q + patch].fill(fill);
                }
            }
        }
        let values = ctx.model.values(&rows, &[scores.node]).into_iter().next().unwrap_or_default();
        let p = scores.probabilities(&values);
        let y = labels[i];
        let p_true = |row: usize| p[row * k + y];
        let p0 = p_true(0);
        let mut sum = vec![0.0; h * w];
        let mut covered = vec![0usize; h * w];
        for (m, &(r, q)) in positions.iter().enumerate() {
            let drop = p0 - p_true(m + 1);
            csv.push_str(&format!("{i},{y},{r},{q},{}\n", ctx.num(drop)));
            for yy in r..r + patch {
                for xx in q..q + patch {
                    sum[yy * w + xx] += drop;
                    covered[yy * w + xx] += 1;
                }
            }
        }
        let heat: Vec<f64> = sum.iter().zip(&covered).map(|(s, n)| if *n > 0 { s / *n as f64 } else { 0.0 }).collect();
        let peak = heat.iter().fold(0.0f64, |m, v| m.max(*v));
        let image = grey(&d.input_row(i), shape, |v| ctx.scale.to_raw(v));
        originals.push(MapTile { values: image, height: h, width: w, caption: format!("#{i}: {y}, p={p0:.2}") });
        maps.push(MapTile { values: heat, height: h, width: w, caption: format!("max drop {peak:.2}") });
    }
    let parts = [
        pictures::Part {
            title: format!("{}: images ({}), caption: true label, p(true)", ctx.run_name, ctx.split.name()),
            tiles: originals,
            scale: Scale::Grey,
            units: "pixel value",
        },
        pictures::Part {
            title: format!(
                "occlusion: {patch}×{patch} patch of {baseline}, stride {stride}; mean drop over the patches covering each pixel"
            ),
            tiles: maps,
            scale: Scale::Diverging,
            units: "drop in p(true class)",
        },
    ];
    let stem = file_stem(probe.kind, None, ctx.split);
    let png = pictures::stacked(&parts, images.len().min(8))?;
    Ok(vec![ProbeFile::new(format!("{stem}.png"), png), ProbeFile::new(format!("{stem}.csv"), csv)])
}

#[cfg(test)]
mod tests {
    use super::super::adversarial::testkit::{csv_rows, fixture, mnist_spec, LINEAR};
    use crate::spec::{ProbeKind, ProbeSpec, Split};
    use std::collections::HashMap;

    #[test]
    fn patches_cover_every_pixel_once_the_edge_position_is_added() {
        assert_eq!(super::starts(28, 6, 2), (0..=22).step_by(2).collect::<Vec<_>>());
        assert_eq!(super::starts(10, 4, 4), [0, 4, 6]);
        assert_eq!(super::starts(5, 5, 3), [0]);
    }

    /// A dense model whose only non-zero weight reads one pixel: a 1×1 patch changes the
    /// true class's probability there and nowhere else.
    #[test]
    fn occlusion_over_a_model_that_reads_one_pixel_lights_exactly_that_pixel() {
        let plain = fixture(&mnist_spec(16, 8, LINEAR), None);
        let test = plain.p.data.test.as_ref().expect("a test split");
        // The brightest pixel of test image 0: ink, so the black patch changes it.
        let row = test.input_row(0);
        let pixel = (0..784).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        let mut weight = vec![0.0; 10 * 784];
        weight[pixel] = 1.5;
        let given = HashMap::from([("fc.weight".to_string(), weight), ("fc.bias".to_string(), vec![0.0; 10])]);
        let fix = fixture(&mnist_spec(16, 8, LINEAR), Some(&given));
        let probe = ProbeSpec { patch: Some(1), stride: Some(1), ..ProbeSpec::of(ProbeKind::Occlusion) };
        let files = fix.render(&probe, Split::Test).expect("the probe runs");
        let rows = csv_rows(&files, "occlusion_test.csv");
        assert_eq!(rows.len(), 8 * 784, "8 images × 28 × 28 positions");
        let lit: Vec<(String, String)> = rows
            .iter()
            .filter(|r| r[0] == "0" && r[4].parse::<f64>().expect("a drop") != 0.0)
            .map(|r| (r[2].clone(), r[3].clone()))
            .collect();
        assert_eq!(lit, [((pixel / 28).to_string(), (pixel % 28).to_string())]);
        // Every other image: lit at that pixel or nowhere (where the digit has no ink).
        let at = |r: &Vec<String>| r[2] == (pixel / 28).to_string() && r[3] == (pixel % 28).to_string();
        assert!(rows.iter().all(|r| r[4] == "0" || at(r)));
    }

    #[test]
    fn bad_patches_are_errors() {
        let fix = fixture(&mnist_spec(16, 8, LINEAR), None);
        for probe in [
            ProbeSpec { patch: Some(29), ..ProbeSpec::of(ProbeKind::Occlusion) },
            ProbeSpec { stride: Some(0), ..ProbeSpec::of(ProbeKind::Occlusion) },
            ProbeSpec { images: Some(vec![3, 8]), ..ProbeSpec::of(ProbeKind::Occlusion) },
        ] {
            assert!(fix.render(&probe, Split::Test).is_err());
        }
    }
}
