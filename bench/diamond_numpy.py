"""The notes' diamond backpropagation loop in numpy, timed: the reference `runner` must
beat. Same sizes as experiments/diamond.toml: 500 points, 3 -> 4 -> 1 sigmoid, full
batch, lr 0.001, log(SSE) and accuracy every iteration. Prints one JSON line."""
import json
import sys
import time

import numpy as np

iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
rng = np.random.default_rng(7)
num_obs = 500
x_mat_1 = rng.uniform(-1, 1, size=(num_obs, 2))
x_mat = np.concatenate((x_mat_1, np.ones((num_obs, 1))), axis=1)
y = ((np.abs(x_mat[:, 0]) + np.abs(x_mat[:, 1])) < 1).astype(int)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def forward_pass(W_1, W_2):
    z_2 = np.dot(x_mat, W_1)
    a_2 = sigmoid(z_2)
    z_3 = np.dot(a_2, W_2)
    y_pred = sigmoid(z_3).reshape((len(x_mat),))
    J_z_3_grad = -y + y_pred
    J_W_2_grad = np.dot(J_z_3_grad, a_2)
    a_2_z_2_grad = sigmoid(z_2) * (1 - sigmoid(z_2))
    J_W_1_grad = (np.dot((J_z_3_grad).reshape(-1, 1), W_2.reshape(-1, 1).T) * a_2_z_2_grad).T.dot(x_mat).T
    return y_pred, (J_W_1_grad, J_W_2_grad)


def loss_fn(y, y_pred):
    return np.log(np.sum((y - y_pred) ** 2))


def run():
    W_1 = rng.uniform(-1, 1, size=(3, 4))
    W_2 = rng.uniform(-1, 1, size=(4))
    loss_vals, accuracies = [], []
    start = time.perf_counter()
    for i in range(iterations):
        y_pred, (J_W_1_grad, J_W_2_grad) = forward_pass(W_1, W_2)
        W_1 = W_1 - 0.001 * J_W_1_grad
        W_2 = W_2 - 0.001 * J_W_2_grad
        loss_vals.append(loss_fn(y, y_pred))
        accuracies.append(np.sum((y_pred >= 0.5) == y) / num_obs)
    return time.perf_counter() - start, accuracies[-1]


times = []
for _ in range(repeats):
    t, acc = run()
    times.append(t)
times.sort()
median = times[len(times) // 2]
print(json.dumps({"reference": "numpy " + np.__version__, "iterations": iterations,
                  "median_seconds": median, "us_per_iteration": 1e6 * median / iterations,
                  "final_accuracy": float(acc)}))
