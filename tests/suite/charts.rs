//! Line charts drawn by real runs: a diverging run's lines stay inside their panels,
//! and epoch-based runs record the untrained model at step 0.

use crate::common::{metric, run_ok};

/// The RGB pixels and width of a PNG.
fn pixels(path: &std::path::Path) -> (Vec<u8>, usize) {
    let mut reader =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap())).read_info().unwrap();
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    (buf, info.width as usize)
}

#[test]
fn diamond_at_lr_1_draws_no_line_through_the_titles() {
    let tmp = tempfile::tempdir().unwrap();
    let dir =
        run_ok("experiments/diamond.toml", tmp.path(), &["--set", "train.lr=1.0", "--set", "train.iterations=3000"]);
    let (rgb, w) = pixels(&dir.join("curves.png"));
    // The train split's colour (the palette's second, orange).
    let train = |i: &usize| rgb[3 * i..3 * i + 3] == [255, 127, 14];
    // The figure title takes the top 50 rows, each panel's caption the next ~35: the
    // plotting boxes start below row 85.
    let in_titles = (0..85 * w).filter(train).count();
    assert_eq!(in_titles, 0, "train-coloured pixels in the title and caption bands");
    let drawn = (0..rgb.len() / 3).filter(train).count();
    assert!(drawn > 20_000, "the jumping curves are drawn ({drawn} pixels)");
}

#[test]
fn an_epoch_run_records_its_splits_before_the_first_step() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--unset", "train.iterations", "--set", "train.epochs=3", "--set", "train.batch_size=50"];
    let dir = run_ok("experiments/xor.toml", tmp.path(), &args);
    let steps: Vec<usize> = metric(&dir, "train", "loss").into_iter().map(|r| r.0).collect();
    let per_epoch = steps[1];
    assert_eq!(steps, [0, per_epoch, 2 * per_epoch, 3 * per_epoch], "step 0, then after each epoch");
}
