"""The last thing `just bench` prints: one table of the figures bench/all.sh gathered
in BENCH_OUT (diamond.json, runner_cnn.json, torch_cnn.json, sgemm.json and, measured
after the CNN, sgemm_after.json, flops.json), their ratios and the goals of issue 13. A
missing reference shows as "skipped". The CNN's images/s are medians over the rounds
of bench/mnist_cnn.sh, its ratios the median of the rounds' ratios, and its fraction of
the sgemm ceiling the median of the rounds' fractions, each against the ceiling measured
just before that round (sgemm.json and sgemm_after.json only where no round has one)."""
import json
import os
import statistics
import sys

out = sys.argv[1]


def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return None


d, r, t, s, f, s2 = (
    load(n) for n in ["diamond.json", "runner_cnn.json", "torch_cnn.json", "sgemm.json", "flops.json", "sgemm_after.json"]
)
rows = []


def row(work, ours, ref, ratio, goal, met):
    rows.append((work, ours, ref, ratio, goal, "yes" if met else ("no" if met is not None else "-")))


if d:
    np_us = d.get("numpy_us_per_iteration")
    ok = np_us is not None and np_us == np_us
    ratio = np_us / d["us_per_iteration"] if ok else None
    row("diamond, µs/iteration", f"{d['us_per_iteration']:.2f}", f"numpy {np_us:.1f}" if ok else "numpy skipped",
        f"{ratio:.1f}x" if ratio else "-", ">= 10x", ratio >= 10 if ratio else None)
if r:
    tt = t["train_images_per_second"] if t else None
    ti = t["inference_images_per_second"] if t else None

    def ratio(side, ours, theirs):
        """The median of the rounds' ratios (bench/mnist_cnn.sh pairs each runner run with
        a PyTorch run) and their range; one pair's ratio where rounds were not kept."""
        rounds = ((t or {}).get("ratios") or {}).get(side)
        if not rounds:
            return ours / theirs, ""
        return statistics.median(rounds), f" ({min(rounds):.2f}-{max(rounds):.2f}, {len(rounds)} rounds)"

    if t:
        (rt, rt_span), (ri, ri_span) = ratio("train", r["train"], tt), ratio("infer", r["infer"], ti)
    row("mnist_cnn training, images/s", f"{r['train']:.0f}", f"torch {tt:.0f}" if t else "torch skipped",
        f"{rt:.2f}x{rt_span}" if t else "-", ">= 1.5x", rt >= 1.5 if t else None)
    row("mnist_cnn inference, images/s", f"{r['infer']:.0f}", f"torch {ti:.0f}" if t else "torch skipped",
        f"{ri:.2f}x{ri_span}" if t else "-", ">= 2x", ri >= 2 if t else None)
    paired = [x for x in r.get("rounds", []) if "sgemm_gflops" in x]
    if f and paired:
        # Each round's training rate against the ceiling measured just before it (the
        # machine's speed drifts between minutes), then the median of those fractions.
        fracs = sorted(x["train"] * f["training"] / 1e9 / x["sgemm_gflops"] for x in paired)
        frac, gflops = statistics.median(fracs), r["train"] * f["training"] / 1e9
        ref = "sgemm " + "/".join(f"{x['sgemm_gflops']:.0f}" for x in paired) + " (per round)"
        span = f" ({100 * fracs[0]:.0f}-{100 * fracs[-1]:.0f}%, {len(fracs)} rounds)"
        row("CNN training GFLOP/s (vs sgemm)", f"{gflops:.1f}", ref, f"{100 * frac:.0f}%{span}", ">= 60%", frac >= 0.6)
    elif s and f:
        gflops = r["train"] * f["training"] / 1e9
        # Against the higher ceiling of the two measured (before and after the CNN).
        ceilings = [x["gflops"] for x in (s, s2) if x]
        frac = gflops / max(ceilings)
        ref = "sgemm " + "/".join(f"{c:.1f}" for c in ceilings)
        row("CNN training GFLOP/s (vs sgemm)", f"{gflops:.1f}", ref, f"{100 * frac:.0f}%", ">= 60%", frac >= 0.6)
    row("mnist_cnn peak RSS, MiB", f"{r['rss']:.0f}", f"torch {t['peak_rss_mib']:.0f}" if t else "torch skipped", "-",
        "< 100", r["rss"] < 100)
paths = sorted({x["path"] for x in (d, r) if x})
cpu = (r or d or {}).get("cpu_model", "unknown CPU")
print(f"\nSummary: {cpu}; runner cpu path {', '.join(paths)}"
      + (f"; torch ATen {t.get('cpu_capability')}, oneDNN {t.get('onednn_max_isa', 'native')}" if t else "; PyTorch skipped"))
widths = [max(len(str(x[i])) for x in rows + [("work", "runner", "reference", "ratio", "goal", "met")]) for i in range(6)]
for line in [("work", "runner", "reference", "ratio", "goal", "met")] + rows:
    print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))
