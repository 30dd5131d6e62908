"""The machine's fp32 matrix-multiply ceiling: numpy (OpenBLAS) float32 2048×2048
matmul, best of a few, in GFLOP/s (2·n³ flops per product). Prints one JSON line.
The CNN's training throughput is reported as a fraction of this number."""
import json
import os
import time

import numpy as np

n = int(os.environ.get("SGEMM_N", "2048"))
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
a @ b  # warm-up: thread pool start, page faults
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - start)
try:
    from threadpoolctl import threadpool_info  # optional: says which BLAS and how many threads

    blas = [f"{i['internal_api']} {i.get('version')} {i['num_threads']} threads" for i in threadpool_info()]
except ImportError:
    blas = []
print(json.dumps({"reference": f"numpy {np.__version__} sgemm {n}x{n}", "gflops": 2 * n**3 / best / 1e9,
                  "best_seconds": best, "blas": blas}))
