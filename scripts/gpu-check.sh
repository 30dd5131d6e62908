#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (driver installed, nothing else needed but cargo):
# builds, runs the GPU tests with RUNNER_REQUIRE_CUDA=1 (every op and backward against
# the CPU, the finite-difference checks on CUDA f64, short runs of xor, diamond and
# mnist_cnn against the CPU, reruns byte for byte), then times mnist_cnn training at
# batch 64 and 512 and inference on --backend cuda, the CPU and PyTorch eager on the
# same GPU (where torch imports), and prints a table last. Everything is bounded by
# `timeout` so the whole takes at most 8 minutes. Exit status: 0 when the tests passed.
# GPU_CHECK_NO_PIP=1 skips installing NVRTC/cuBLAS wheels; PYTHON picks the interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
budget=${GPU_CHECK_SECONDS:-470}
left() { echo $((budget - (SECONDS - start))); }
say() { echo "--- [$((SECONDS - start)) s] $*"; }
python=${PYTHON:-python3}
declare -A result

say "GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2 || true

# NVRTC and cuBLAS: from pip wheels where the system has no toolkit (torch brings them
# too); their lib folders go on LD_LIBRARY_PATH.
say "NVRTC and cuBLAS libraries"
libdirs() {
  "$python" - <<'PY' 2>/dev/null
import importlib
for name in ("nvidia.cuda_nvrtc", "nvidia.cublas", "nvidia.cuda_runtime"):
    try:
        m = importlib.import_module(name)
        print(list(m.__path__)[0] + "/lib")
    except Exception:
        pass
PY
}
if ! ldconfig -p 2>/dev/null | grep -q libnvrtc.so.12 || ! ldconfig -p 2>/dev/null | grep -q libcublas.so.12; then
  if [ "$(libdirs | wc -l)" -lt 2 ] && [ -z "${GPU_CHECK_NO_PIP:-}" ]; then
    timeout 120 "$python" -m pip install --quiet --disable-pip-version-check \
      nvidia-cuda-nvrtc-cu12 nvidia-cublas-cu12 nvidia-cuda-runtime-cu12 \
      || echo "pip could not install NVRTC/cuBLAS (offline?); relying on what the system has"
  fi
  for d in $(libdirs); do LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
  export LD_LIBRARY_PATH
fi
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

say "build"
build_secs=$(( $(left) - 200 )); [ "$build_secs" -gt 60 ] || build_secs=60
# A fresh machine needs crates.io (or a filled ~/.cargo registry) for the first build.
if timeout "$build_secs" cargo build --release --tests --quiet; then
  result[build]=ok
else
  result[build]=FAILED
fi

export RUNNER_REQUIRE_CUDA=1 RUNNER_REQUIRE_NVRTC=1
run_tests() { # name, seconds, cargo test args…
  local name=$1 secs=$2; shift 2
  say "tests: $name"
  if timeout "$secs" cargo test --release --quiet "$@" 2>&1 | tee "/tmp/gpu-check-$name.log" | grep -E "^test |test result|panicked|skipped:|within|worst" | tail -60; then
    if grep -q "test result: ok" "/tmp/gpu-check-$name.log" && ! grep -q "test result: FAILED" "/tmp/gpu-check-$name.log"; then
      result[$name]=ok
    else
      result[$name]=FAILED
    fi
  else
    result[$name]="FAILED or timed out"
  fi
}
if [ "${result[build]}" = ok ]; then
  run_tests unit 120 --lib -- backend::cuda gradcheck::on_cuda
  run_tests ops 90 --test main -- cuda::every_op
  run_tests runs 120 --test main -- cuda::short_runs
fi

# Timing: one epoch of mnist_cnn (8,000 digits) at each batch size, no probes; the
# runner's manifest gives training and inference images/s.
bench() { # backend batch → "train infer" images/s
  local out dir
  out=$(mktemp -d)
  dir=$(timeout "$2" ./target/release/runner run experiments/mnist_cnn.toml --quiet --results "$out" \
        --backend "$1" --set train.epochs=1 --set train.batch_size="$3" --unset probes 2>"$out/err" | tail -1)
  if [ -f "$dir/manifest.json" ]; then
    "$python" -c 'import json,sys; m=json.load(open(sys.argv[1])); print("%.0f %.0f" % (m["train_samples_per_second"], m["inference_samples_per_second"]))' "$dir/manifest.json"
  else
    echo "- -"; head -3 "$out/err" >&2
  fi
}
declare -A speed
if [ "${result[build]}" = ok ]; then
  for b in 64 512; do
    for be in cuda cpu; do
      [ "$(left)" -gt 40 ] || break
      say "mnist_cnn batch $b on $be"
      speed[$be.$b]=$(bench "$be" 60 "$b")
    done
    if [ "$(left)" -gt 60 ]; then
      say "PyTorch eager on the GPU, batch $b"
      if t=$(timeout 60 "$python" bench/mnist_cnn_torch_gpu.py "$b"); then
        speed[torch.$b]=$("$python" -c 'import json,sys; t=json.loads(sys.argv[1]); print("%.0f %.0f" % (t["train_images_per_second"], t["inference_images_per_second"]))' "$t")
      else
        speed[torch.$b]="- -"
      fi
    fi
  done
fi

echo
echo "=== gpu-check ($((SECONDS - start)) s)"
printf "%-34s %s\n" "build" "${result[build]}"
printf "%-34s %s\n" "unit tests (kernels, gradcheck)" "${result[unit]:-not run}"
printf "%-34s %s\n" "every op vs CPU (f32, f64), reruns" "${result[ops]:-not run}"
printf "%-34s %s\n" "xor, diamond, mnist_cnn vs CPU" "${result[runs]:-not run}"
printf "\n%-10s %6s %14s %14s\n" "backend" "batch" "train img/s" "infer img/s"
for b in 64 512; do
  for be in cuda cpu torch; do
    read -r tr inf <<< "${speed[$be.$b]:-- -}"
    printf "%-10s %6s %14s %14s\n" "$be" "$b" "$tr" "$inf"
  done
done
for k in unit ops runs; do
  [ "${result[$k]:-}" = ok ] || exit 1
done
exit 0
