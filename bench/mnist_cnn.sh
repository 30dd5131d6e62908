#!/usr/bin/env bash
# `just bench-cnn`: runner and PyTorch side by side on the course's CNN, same data,
# same machine, one after the other; prints images/s for each and the ratios.
# Run it on a quiet machine: another process on the second core skews both.
set -euo pipefail
# PYTHON picks the interpreter that has torch (a virtual environment, say).
python=${PYTHON:-python3}
cd "$(dirname "$0")/.."
variant=${1:-plain}
spec=experiments/mnist_cnn.toml
[ "$variant" = bn ] && spec=experiments/mnist_cnn_bn.toml
cargo build --release --quiet
results=$(mktemp -d)
# The BN reference trains without augmentation, so the comparison does too.
extra=()
[ "$variant" = bn ] && extra=(--set 'data.augment={}')
/usr/bin/time -f "%M" -o "$results/rss" ./target/release/runner run "$spec" --quiet --results "$results" "${extra[@]}" > "$results/dir"
dir=$(tail -1 "$results/dir")
ours=$(python3 - "$dir/manifest.json" "$results/rss" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rss = int(open(sys.argv[2]).read().split()[-1]) / 1024
print(json.dumps({"train": m["train_samples_per_second"], "infer": m["inference_samples_per_second"],
                  "acc": m["final_metrics"].get("test.accuracy"), "rss": rss}))
PY
)
echo "runner ($variant): $ours"
if theirs=$("$python" bench/mnist_cnn_torch.py "$variant"); then
  echo "pytorch ($variant): $theirs"
  python3 - "$ours" "$theirs" <<'PY'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"training  {o['train']:.0f} vs {t['train_images_per_second']:.0f} images/s: {o['train'] / t['train_images_per_second']:.2f}x (goal >= 1.25x)")
print(f"inference {o['infer']:.0f} vs {t['inference_images_per_second']:.0f} images/s: {o['infer'] / t['inference_images_per_second']:.2f}x (goal >= 1.25x)")
print(f"peak RSS  {o['rss']:.0f} MiB vs {t['peak_rss_mib']:.0f} MiB (goal < 200 MiB)")
PY
else
  echo "pytorch reference skipped (see the message above); runner's figures stand alone"
fi
