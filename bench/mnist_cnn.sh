#!/usr/bin/env bash
# `just bench-cnn`: runner and PyTorch side by side on the course's CNN, same data,
# same machine, in ROUNDS (3) alternating pairs; prints images/s for each round and the
# median ratios with their range, with the CPU model and the kernels each side ran
# beside the figures.
# Run it on a quiet machine: another process on the second core skews both.
# RUNNER_CPU=avx2, ATEN_CPU_CAPABILITY=avx2 and ONEDNN_MAX_CPU_ISA=AVX2 (set by `just bench
# avx2`) make both run
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
mkdir -p "$out"
cpu_model=${BENCH_CPU:-$(bash bench/cpu.sh)}
echo "CPU: $cpu_model; RUNNER_CPU=${RUNNER_CPU:-auto} ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-default} ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-default}"
# The BN reference trains without augmentation, so the comparison does too.
extra=()
[ "$variant" = bn ] && extra=(--set 'data.augment={}')
# ROUNDS pairs, each runner then PyTorch back to back: on a shared machine whose speed
# drifts over minutes one pair can land in a slow minute for one side, so the ratio
# reported is the median of the pairs' ratios, with their range.
rounds=${ROUNDS:-3}
case "$rounds" in
  ''|*[!0-9]*|0) echo "ROUNDS must be a whole number of at least 1, not '$rounds'" >&2; exit 2 ;;
esac
# No figures of an earlier run stay to be summarised as this one's.
rm -f "$out/runner_cnn$suffix.json" "$out/torch_cnn$suffix.json"
: > "$results/ours.jsonl"
: > "$results/theirs.jsonl"
: > "$results/ceilings.jsonl"
torch_ok=1
ceiling_ok=1
for round in $(seq "$rounds"); do
  rm -rf "$results/run"
  # The machine's sgemm ceiling right before each runner run, so each round's fraction
  # of it compares two figures from the same minute (the speed drifts between minutes).
  if [ "$ceiling_ok" = 1 ] && ! "$python" bench/sgemm_ceiling.py >> "$results/ceilings.jsonl"; then
    ceiling_ok=0
    : > "$results/ceilings.jsonl"
    echo "sgemm ceiling skipped (numpy missing); no per-round fraction"
  fi
  /usr/bin/time -f "%M" -o "$results/rss" ./target/release/runner run "$spec" --quiet --results "$results/run" ${extra[@]+"${extra[@]}"} > "$results/dir"
  dir=$(tail -1 "$results/dir")
  python3 - "$dir/manifest.json" "$results/rss" "$cpu_model" >> "$results/ours.jsonl" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rss = int(open(sys.argv[2]).read().split()[-1]) / 1024
cpu = m.get("cpu") or {}
ops = {k: v for k, v in cpu.get("ops", {}).items() if v}
print(json.dumps({"train": m["train_samples_per_second"], "infer": m["inference_samples_per_second"],
                  "acc": m["final_metrics"].get("test.accuracy"), "rss": rss, "threads": m.get("threads"),
                  "cpu_model": sys.argv[3], "path": cpu.get("path"), "ops": ops}))
PY
  if [ "$torch_ok" = 1 ]; then
    if theirs=$("$python" bench/mnist_cnn_torch.py "$variant"); then
      echo "$theirs" >> "$results/theirs.jsonl"
    else
      torch_ok=0
      echo "pytorch reference skipped (see the message above); runner's figures stand alone"
    fi
  fi
  python3 - "$results/ours.jsonl" "$results/theirs.jsonl" "$round" <<'PY'
import json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[-1])
t = open(sys.argv[2]).read().splitlines()
line = f"round {sys.argv[3]}: runner train {o['train']:.0f} images/s, inference {o['infer']:.0f}"
if len(t) == int(sys.argv[3]):
    t = json.loads(t[-1])
    tt, ti = t["train_images_per_second"], t["inference_images_per_second"]
    line += f"; PyTorch {tt:.0f}, {ti:.0f}; ratios {o['train'] / tt:.2f}x, {o['infer'] / ti:.2f}x"
print(line)
PY
done
python3 - "$results/ours.jsonl" "$results/theirs.jsonl" "$variant" "$out" "$suffix" "$results/ceilings.jsonl" <<'PY'
import json, statistics, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
theirs = [json.loads(l) for l in open(sys.argv[2])]
variant, out, suffix = sys.argv[3], sys.argv[4], sys.argv[5]
ceilings = [json.loads(l)["gflops"] for l in open(sys.argv[6])]
med = statistics.median
# The runner and PyTorch files hold each side's medians and every round (with the sgemm
# ceiling measured just before it, where numpy was there).
rounds = [{"train": r["train"], "infer": r["infer"]} for r in ours]
if len(ceilings) == len(ours):
    for r, c in zip(rounds, ceilings):
        r["sgemm_gflops"] = c
o = dict(ours[-1], train=med(r["train"] for r in ours), infer=med(r["infer"] for r in ours),
         rss=max(r["rss"] for r in ours), rounds=rounds)
json.dump(o, open(f"{out}/runner_cnn{suffix}.json", "w"))
kernels = "; ".join(f"{k}: {','.join(v)}" for k, v in o["ops"].items())
print(f"runner ({variant}, cpu path {o['path']}, {o['threads']} threads, median of {len(ours)} runs): "
      f"train {o['train']:.0f} images/s, inference {o['infer']:.0f} images/s, test accuracy {o['acc']}, "
      f"peak RSS {o['rss']:.0f} MiB")
print(f"  kernels that ran: {kernels}")
if len(theirs) == len(ours):
    keys = ["train_images_per_second", "inference_images_per_second"]
    t = dict(theirs[-1], **{k: med(r[k] for r in theirs) for k in keys},
             peak_rss_mib=max(r["peak_rss_mib"] for r in theirs), rounds=[{k: r[k] for k in keys} for r in theirs])
    train = sorted(a["train"] / b[keys[0]] for a, b in zip(ours, theirs))
    infer = sorted(a["infer"] / b[keys[1]] for a, b in zip(ours, theirs))
    t["ratios"] = {"train": train, "infer": infer}
    json.dump(t, open(f"{out}/torch_cnn{suffix}.json", "w"))
    print(f"{t['reference']} ({variant}, ATen capability {t.get('cpu_capability')}, oneDNN {t.get('onednn_max_isa', 'native')}, {t.get('threads')} threads, "
          f"median of {len(theirs)} runs): train {t[keys[0]]:.0f} images/s, inference {t[keys[1]]:.0f} images/s, "
          f"peak RSS {t['peak_rss_mib']:.0f} MiB")
    span = lambda r: f"{med(r):.2f}x (rounds {r[0]:.2f}-{r[-1]:.2f}x)"
    print(f"training  {span(train)} PyTorch (goal >= 1.5x)")
    print(f"inference {span(infer)} PyTorch (goal >= 2x)")
    print(f"peak RSS  {o['rss']:.0f} MiB vs {t['peak_rss_mib']:.0f} MiB (goal < 100 MiB)")
PY
