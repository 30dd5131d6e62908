#!/usr/bin/env bash
# `just bench [avx2]`: every benchmark beside its reference, then one summary table.
# `avx2` runs runner with RUNNER_CPU=avx2 and PyTorch with ATEN_CPU_CAPABILITY=avx2 and
# ONEDNN_MAX_CPU_ISA=AVX2, as an AVX2 machine would run them (on an AVX-512 machine;
# elsewhere it is what runs anyway). Both PyTorch switches are needed: ATen's switch leaves
# its convolutions to oneDNN, which picks AVX-512 by itself (measured on a Zen 5: PyTorch
# trains mnist_cnn at 5,724 images/s with ATen's switch alone, 2,986 with both).
# PYTHON names an interpreter with numpy and torch for the references (numpy's sgemm
# ceiling and diamond loop, PyTorch's CNN; each skipped without its package); python3
# by default.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-native}
case "$mode" in
  native) ;;
  # OPENBLAS_CORETYPE=Haswell: numpy's sgemm ceiling with OpenBLAS's AVX2 kernels too.
  avx2) export RUNNER_CPU=avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell ;;
  *) echo "usage: just bench [native|avx2]" >&2; exit 2 ;;
esac
export BENCH_OUT=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$BENCH_OUT"
# One description of the CPU for every figure (bench/cpu.sh), passed to each benchmark.
export BENCH_CPU=${BENCH_CPU:-$(bash bench/cpu.sh)}
echo "CPU: $BENCH_CPU; mode $mode"
echo "== the machine's fp32 sgemm ceiling"
python=${PYTHON:-python3}
if "$python" bench/sgemm_ceiling.py > "$BENCH_OUT/sgemm.json"; then
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(f\"{s['reference']}: {s['gflops']:.1f} GFLOP/s (best of 5)\")" "$BENCH_OUT/sgemm.json"
else
  rm -f "$BENCH_OUT/sgemm.json"; echo "sgemm ceiling skipped (numpy missing)"
fi
python3 bench/cnn_flops.py experiments/mnist_cnn.toml > "$BENCH_OUT/flops.json"
echo "== diamond loop vs numpy"
cargo bench --bench diamond
echo "== mnist_cnn vs PyTorch"
bash bench/mnist_cnn.sh
# The ceiling again, right after the CNN: on a shared machine whose speed drifts over
# minutes, the fraction is taken against the higher of the two, and the table shows both.
if [ -f "$BENCH_OUT/sgemm.json" ] && "$python" bench/sgemm_ceiling.py > "$BENCH_OUT/sgemm_after.json"; then
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(f\"sgemm ceiling after the CNN: {s['gflops']:.1f} GFLOP/s\")" "$BENCH_OUT/sgemm_after.json"
else
  rm -f "$BENCH_OUT/sgemm_after.json"
fi
python3 bench/summary.py "$BENCH_OUT"
