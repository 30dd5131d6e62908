"""Training FLOPs per image of a conv/pool/dense spec, from its layer shapes.

Forward: a conv2d output element is c_in·k·k multiply-adds (2 flops each), so a layer
costs 2·c_out·h_out·w_out·c_in·k·k per image; a dense layer 2·in·units. Pools, ReLUs
and the loss are O(activations) and left out, as is the bias add. Backward computes the
input gradient and the weight gradient, each a product the size of the forward one, so
training costs 3× the forward flops (the first conv's input gradient is not needed,
which this ignores: it overstates by 2·conv1 flops, about 4% for mnist_cnn).
Usage: cnn_flops.py SPEC.toml -> prints JSON {forward, training} flops per image."""
import json
import sys
import tomllib


def flops(spec_path, shape=(1, 28, 28)):
    spec = tomllib.load(open(spec_path, "rb"))
    c, h, w = shape
    forward = 0
    for layer in spec["model"]["layers"]:
        op = layer["op"]
        if op == "conv2d":
            k, pad, stride = layer["kernel"], layer.get("padding", 0), layer.get("stride", 1)
            out_c = layer["channels"]
            h = (h + 2 * pad - k) // stride + 1
            w = (w + 2 * pad - k) // stride + 1
            forward += 2 * out_c * h * w * c * k * k
            c = out_c
        elif op == "maxpool2d":
            k = layer["kernel"]
            s = layer.get("stride", k)
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif op == "flatten":
            c, h, w = c * h * w, 1, 1
        elif op == "dense":
            forward += 2 * c * h * w * layer["units"]
            c, h, w = layer["units"], 1, 1
    return {"forward": forward, "training": 3 * forward}


if __name__ == "__main__":
    print(json.dumps(flops(sys.argv[1])))
