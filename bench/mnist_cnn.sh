#!/usr/bin/env bash
# `just bench-cnn`: runner and PyTorch side by side on the course's CNN, same data,
# same machine, one after the other; prints images/s for each and the ratios, with the
# CPU model and the kernels each side ran beside the figures.
# Run it on a quiet machine: another process on the second core skews both.
# RUNNER_CPU=avx2 and ATEN_CPU_CAPABILITY=avx2 (set by `just bench avx2`) make both run
# as they would on an AVX2 machine. BENCH_OUT, when set, receives runner_cnn[_bn].json
# and torch_cnn[_bn].json for bench/summary.py.
set -euo pipefail
# PYTHON picks the interpreter that has torch (a virtual environment, say).
python=${PYTHON:-python3}
cd "$(dirname "$0")/.."
variant=${1:-plain}
spec=experiments/mnist_cnn.toml
suffix=""
[ "$variant" = bn ] && spec=experiments/mnist_cnn_bn.toml && suffix=_bn
cargo build --release --quiet
results=$(mktemp -d)
out=${BENCH_OUT:-$results}
cpu_model=${BENCH_CPU:-$(bash bench/cpu.sh)}
echo "CPU: $cpu_model; RUNNER_CPU=${RUNNER_CPU:-auto} ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-default}"
# The BN reference trains without augmentation, so the comparison does too.
extra=()
[ "$variant" = bn ] && extra=(--set 'data.augment={}')
/usr/bin/time -f "%M" -o "$results/rss" ./target/release/runner run "$spec" --quiet --results "$results" "${extra[@]}" > "$results/dir"
dir=$(tail -1 "$results/dir")
ours=$(python3 - "$dir/manifest.json" "$results/rss" "$cpu_model" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rss = int(open(sys.argv[2]).read().split()[-1]) / 1024
cpu = m.get("cpu") or {}
ops = {k: v for k, v in cpu.get("ops", {}).items() if v}
print(json.dumps({"train": m["train_samples_per_second"], "infer": m["inference_samples_per_second"],
                  "acc": m["final_metrics"].get("test.accuracy"), "rss": rss, "threads": m.get("threads"),
                  "cpu_model": sys.argv[3], "path": cpu.get("path"), "ops": ops}))
PY
)
echo "$ours" > "$out/runner_cnn$suffix.json"
python3 - "$ours" "$variant" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
kernels = "; ".join(f"{k}: {','.join(v)}" for k, v in o["ops"].items())
print(f"runner ({sys.argv[2]}, cpu path {o['path']}, {o['threads']} threads): train {o['train']:.0f} images/s, "
      f"inference {o['infer']:.0f} images/s, test accuracy {o['acc']}, peak RSS {o['rss']:.0f} MiB")
print(f"  kernels that ran: {kernels}")
PY
if theirs=$("$python" bench/mnist_cnn_torch.py "$variant"); then
  echo "$theirs" > "$out/torch_cnn$suffix.json"
  python3 - "$ours" "$theirs" "$variant" <<'PY'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{t['reference']} ({sys.argv[3]}, ATen capability {t.get('cpu_capability')}, {t.get('threads')} threads): "
      f"train {t['train_images_per_second']:.0f} images/s, inference {t['inference_images_per_second']:.0f} images/s, "
      f"peak RSS {t['peak_rss_mib']:.0f} MiB")
print(f"training  {o['train'] / t['train_images_per_second']:.2f}x PyTorch (goal >= 1.5x)")
print(f"inference {o['infer'] / t['inference_images_per_second']:.2f}x PyTorch (goal >= 2x)")
print(f"peak RSS  {o['rss']:.0f} MiB vs {t['peak_rss_mib']:.0f} MiB (goal < 100 MiB)")
PY
else
  echo "pytorch reference skipped (see the message above); runner's figures stand alone"
fi
