"""Writes the PyTorch side of the golden test `mnist::the_cnn_follows_pytorch_step_by_step`:
the course's CNN with PyTorch's default initialisation (seed 1), saved as
mnist_cnn_init.safetensors, then trained one epoch on the shipped digits in file order
(no shuffling), Adam lr 1e-3, batch 64; the loss of every 10th batch and the test
accuracy go to mnist_cnn_trace.json. runner, started from the same file with
shuffling off, must follow the same path. Needs torch and safetensors; run by hand:
    python tests/golden/mnist_cnn_pytorch.py"""
import gzip
import json
import os

import torch
from safetensors.torch import save_file
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..", "data", "mnist-10k")
torch.manual_seed(1)
torch.set_num_threads(2)


def idx(name):
    with gzip.open(os.path.join(root, name + ".gz")) as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def pixels(name):
    # runner normalises in f64, then rounds to f32; so does this.
    return ((idx(name).double() / 255 - 0.1307) / 0.3081).float().unsqueeze(1)


x_train, y_train = pixels("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte").long()
x_test, y_test = pixels("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte").long()


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]


model = nn.Sequential(*block(1, 16), *block(16, 32), nn.Flatten(), nn.Linear(1568, 10))
layer_names = {"0": "conv1", "3": "conv2", "7": "fc"}
state = {layer_names[k.split(".")[0]] + "." + k.split(".")[1]: v.contiguous() for k, v in model.state_dict().items()}
save_file(state, os.path.join(here, "mnist_cnn_init.safetensors"))

opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
losses = {}
model.train()
for step, start in enumerate(range(0, len(x_train), 64)):
    opt.zero_grad()
    loss = loss_fn(model(x_train[start:start + 64]), y_train[start:start + 64])
    if step % 10 == 0:
        losses[step] = loss.item()
    loss.backward()
    opt.step()
model.eval()
with torch.no_grad():
    accuracy = (model(x_test).argmax(1) == y_test).double().mean().item()
with open(os.path.join(here, "mnist_cnn_trace.json"), "w") as f:
    json.dump({"reference": "pytorch " + torch.__version__, "batch_loss": losses, "test_accuracy": accuracy}, f, indent=1)
    f.write("\n")
print(json.dumps({"steps": step + 1, "test_accuracy": accuracy}))
