"""PyTorch eager on the GPU, for scripts/gpu-check.sh: the course's CNN (as
bench/mnist_cnn_torch.py), Adam lr 1e-3, one epoch over the 8,000 training digits at
the batch size given (argv[1]), then inference over the 2,000 test digits. Data lives on
the GPU; times end with torch.cuda.synchronize(). Prints one JSON line; exits 3 with a
message when torch or a CUDA device is missing."""
import gzip
import json
import os
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print("torch is not installed: skipping the PyTorch reference", file=sys.stderr)
    sys.exit(3)
if not torch.cuda.is_available():
    print("torch sees no CUDA device: skipping the PyTorch reference", file=sys.stderr)
    sys.exit(3)

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 64
dev = torch.device("cuda")
torch.manual_seed(1)
# Full precision, as the runner computes: no TF32 in convolutions or products.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
root = os.path.join(os.path.dirname(__file__), "..", "data", "mnist-10k")


def idx(name):
    with gzip.open(os.path.join(root, name + ".gz")) as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def images(name):
    return ((idx(name).float() / 255 - 0.1307) / 0.3081).unsqueeze(1).to(dev)


x_train, y_train = images("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte").long().to(dev)
x_test, y_test = images("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte").long().to(dev)
model = nn.Sequential(
    nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1568, 10),
).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()


def epoch():
    perm = torch.randperm(len(x_train), device=dev)
    for i in range(0, len(x_train), batch):
        b = perm[i:i + batch]
        opt.zero_grad()
        loss_fn(model(x_train[b]), y_train[b]).backward()
        opt.step()


epoch()  # warm-up: cuDNN's choices, the allocator
torch.cuda.synchronize()
start = time.perf_counter()
epoch()
torch.cuda.synchronize()
train = len(x_train) / (time.perf_counter() - start)
model.eval()
with torch.no_grad():
    model(x_test[:1000])
    torch.cuda.synchronize()
    start = time.perf_counter()
    correct = sum((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item() for i in range(0, len(x_test), 1000))
    torch.cuda.synchronize()
    infer = len(x_test) / (time.perf_counter() - start)
print(json.dumps({"reference": "pytorch " + torch.__version__, "batch": batch, "train_images_per_second": train,
                  "inference_images_per_second": infer, "test_accuracy": correct / len(x_test)}))
