"""The PyTorch reference for `just bench-cnn`: the course's CNN (conv 1->16 5x5 pad 2,
ReLU, maxpool 2, conv 16->32 5x5 pad 2, ReLU, maxpool 2, dense 1568->10), Adam lr 1e-3,
batch 64, on the same 8,000 + 2,000 digits, 2 threads. Prints one JSON line; exits 3
with a message when torch is not installed."""
import gzip
import json
import os
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print("torch is not installed (pip install torch): skipping the PyTorch reference", file=sys.stderr)
    sys.exit(3)

import resource

torch.set_num_threads(2)
torch.manual_seed(int(os.environ.get("BENCH_SEED", "1")))
root = os.path.join(os.path.dirname(__file__), "..", "data", "mnist-10k")


def idx(name):
    with gzip.open(os.path.join(root, name + ".gz")) as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


x_train = ((idx("train-images-idx3-ubyte").float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
y_train = idx("train-labels-idx1-ubyte").long()
x_test = ((idx("t10k-images-idx3-ubyte").float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
y_test = idx("t10k-labels-idx1-ubyte").long()
bn = len(sys.argv) > 1 and sys.argv[1] == "bn"
epochs = int(os.environ.get("BENCH_EPOCHS", "3"))


def block(cin, cout):
    layers = [nn.Conv2d(cin, cout, 5, padding=2)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    return layers + [nn.ReLU(), nn.MaxPool2d(2)]


model = nn.Sequential(*block(1, 16), *block(16, 32), nn.Flatten(), nn.Linear(1568, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
train_seconds = 0.0
for epoch in range(epochs):
    model.train()
    perm = torch.randperm(len(x_train))
    start = time.perf_counter()
    for i in range(0, len(x_train), 64):
        idx_b = perm[i:i + 64]
        opt.zero_grad()
        loss = loss_fn(model(x_train[idx_b]), y_train[idx_b])
        loss.backward()
        opt.step()
    train_seconds += time.perf_counter() - start
model.eval()
with torch.no_grad():
    start = time.perf_counter()
    correct = 0
    for _ in range(3):
        correct = 0
        for i in range(0, len(x_test), 1000):
            correct += (model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item()
    infer_seconds = (time.perf_counter() - start) / 3
rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "reference": "pytorch " + torch.__version__,
    # The kernels ATen dispatched to (ATEN_CPU_CAPABILITY=avx2 forces an AVX2 machine's).
    "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    # oneDNN, which runs the convolutions, picks its own ISA; ONEDNN_MAX_CPU_ISA caps it.
    "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "native"),
    "threads": torch.get_num_threads(),
    "train_images_per_second": epochs * len(x_train) / train_seconds,
    "inference_images_per_second": len(x_test) / infer_seconds,
    "test_accuracy": correct / len(x_test),
    "peak_rss_mib": rss_mib,
}))
