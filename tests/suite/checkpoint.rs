//! The checkpoint is a real safetensors file: read back here with the safetensors
//! crate, and by Python's `safetensors` where the environment provides it (CI does).

use crate::common::*;

#[test]
fn the_checkpoint_holds_every_parameter_in_pytorch_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/xor.toml", tmp.path(), &[]);
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    assert_eq!(names, ["hidden.bias", "hidden.weight", "logit.bias", "logit.weight"]);
    let w = st.tensor("hidden.weight").unwrap();
    assert_eq!(w.shape(), [4, 2], "dense weight is [out, in], as torch.nn.Linear");
    assert_eq!(w.dtype(), safetensors::Dtype::F32);
    // The trained network, re-run by hand from the checkpoint, gives the written predictions.
    let f = |name: &str| -> Vec<f32> {
        st.tensor(name).unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    let (w1, b1, w2, b2) = (f("hidden.weight"), f("hidden.bias"), f("logit.weight"), f("logit.bias"));
    let out = column(&dir.join("predictions.csv"), "out");
    for (row, (x0, x1)) in [(0.0f32, 0.0f32), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)].iter().enumerate() {
        let h: Vec<f32> = (0..4).map(|o| (w1[o * 2] * x0 + w1[o * 2 + 1] * x1 + b1[o]).tanh()).collect();
        let z: f32 = (0..4).map(|o| w2[o] * h[o]).sum::<f32>() + b2[0];
        let p = 1.0 / (1.0 + (-z).exp());
        assert!((p as f64 - out[row]).abs() < 1e-5, "row {row}: {p} vs {}", out[row]);
    }
    if std::env::var("RUNNER_PYTHON_CHECKS").as_deref() == Ok("1") {
        let script = "import sys\nfrom safetensors.numpy import load_file\nt = load_file(sys.argv[1])\nprint(sorted((k, v.shape, str(v.dtype)) for k, v in t.items()))";
        let out = std::process::Command::new("python3")
            .args(["-c", script, dir.join("model.safetensors").to_str().unwrap()])
            .output()
            .expect("python3 runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            text.trim(),
            "[('hidden.bias', (4,), 'float32'), ('hidden.weight', (4, 2), 'float32'), ('logit.bias', (1,), 'float32'), ('logit.weight', (1, 4), 'float32')]"
        );
    }
}
