//! PNG pictures compared pixel by pixel: the changed fraction, the largest channel
//! difference, and on request a difference image (changed pixels red, brighter the
//! larger the change, over a faded copy of the second picture).

use super::report::{Item, Status};
use std::path::Path;

pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

pub fn decode(path: &Path) -> Result<Rgba, String> {
    let fail = |e: String| format!("{}: not a readable PNG: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| fail(e.to_string()))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| fail(e.to_string()))?;
    buf.truncate(info.buffer_size());
    let pixels: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
        png::ColorType::Indexed => return Err(fail("an indexed image that did not expand".into())),
    };
    Ok(Rgba { width: info.width, height: info.height, pixels })
}

pub fn compare(file: &str, pa: &Path, pb: &Path, out: Option<&Path>, pair: &str) -> Result<Item, String> {
    let (a, b) = (decode(pa)?, decode(pb)?);
    let mut item = Item::new(file, "image");
    item.compared = 1;
    if (a.width, a.height) != (b.width, b.height) {
        item.beyond = 1;
        item.detail = Some(format!("sizes differ: {}×{} vs {}×{}", a.width, a.height, b.width, b.height));
        item.status = Status::Different;
        return Ok(item);
    }
    let mut changed = 0usize;
    let mut max_channel = 0u8;
    for (pa, pb) in a.pixels.chunks_exact(4).zip(b.pixels.chunks_exact(4)) {
        let d = pa.iter().zip(pb).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        if d > 0 {
            changed += 1;
            max_channel = max_channel.max(d);
        }
    }
    if changed == 0 {
        return Ok(item);
    }
    let total = (a.width as usize * a.height as usize).max(1);
    let fraction = changed as f64 / total as f64;
    item.beyond = 1;
    item.max_abs_diff = max_channel as f64;
    item.status = Status::Different;
    let mut detail =
        format!("{:.4}% of pixels changed ({changed}), max channel difference {max_channel}", 100.0 * fraction);
    if let Some(dir) = out {
        let stem = file.trim_end_matches(".png");
        let name = if pair.is_empty() { format!("{stem}.diff.png") } else { format!("{pair}.{stem}.diff.png") };
        let path = dir.join(name);
        write_difference(&path, &a, &b).map_err(|e| format!("{}: {e}", path.display()))?;
        detail += &format!("; difference image {}", path.display());
    }
    item.detail = Some(detail);
    Ok(item)
}

fn write_difference(path: &Path, a: &Rgba, b: &Rgba) -> Result<(), String> {
    let mut out = Vec::with_capacity(b.pixels.len());
    for (pa, pb) in a.pixels.chunks_exact(4).zip(b.pixels.chunks_exact(4)) {
        let d = pa.iter().zip(pb).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        if d > 0 {
            // Even a one-level change shows clearly.
            out.extend_from_slice(&[128u8.saturating_add(d / 2).max(160), 0, 0, 255]);
        } else {
            let grey = ((pb[0] as u16 + pb[1] as u16 + pb[2] as u16) / 3) as u8;
            let faded = 255 - (255 - grey) / 4;
            out.extend_from_slice(&[faded, faded, faded, 255]);
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), b.width, b.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&out).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}
