#!/usr/bin/env python3
"""Training time of examples/resnet.rs against its PyTorch twin: the same model and schedule.

    pip install torch numpy safetensors
    python3 benches/resnet_vs_pytorch.py [--threads 2] [--skip-shaped]

Run from anywhere; it works in the repository root. In order:

1. Builds `examples/resnet.rs` in release (`cargo build --release --example resnet`), then runs
   the binary once with SHAPED_NUM_THREADS=THREADS and reads the training time and test accuracy
   it prints. The example saves its trained model (target/resnet.safetensors) and the rows of
   the data file it held out (target/resnet-split.txt). `--skip-shaped` reuses both from an
   earlier run.
2. Reads examples/data/digits.csv.gz as the example does (64 pixels / 16, then the label) and
   splits it into the same training and test images (the rows from target/resnet-split.txt:
   the example's seeded shuffle is Rust's `StdRng`, which Python does not reproduce).
3. Loads the example's trained model strictly into the twin (every name and shape must be
   PyTorch's) and evaluates it on the test images: the same accuracy shows that the twin is
   the same model.
4. Trains a fresh twin (PyTorch's default initialisation, `torch.manual_seed(1)`) with the
   example's schedule: 20 epochs of batches of 32 (a fresh permutation each epoch, the last
   batch partial), `F.cross_entropy`, `torch.optim.SGD(lr=0.1, momentum=0.9,
   weight_decay=5e-4)` and `CosineAnnealingLR(T_max=20)` stepped once an epoch, in
   `model.train()` (batch statistics); per step it also sums the loss and counts the right
   answers, as the example does for its progress line. The time is that of the epoch loop
   alone, as in the example (no data loading or evaluation), measured once.
5. Prints both times, their ratio, both test accuracies, and the versions.

Both sides use f32 and THREADS threads (`torch.set_num_threads`; SHAPED_NUM_THREADS caps
shaped's threads). Run it with the machine otherwise idle: one run each, not a median.
"""
import argparse
import csv
import gzip
import json
import math
import os
import platform
import re
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
from twins import resnet as resnet_of  # noqa: E402 (found through the path above)
DATA = os.path.join(ROOT, "examples", "data", "digits.csv.gz")
MODEL = os.path.join(ROOT, "target", "resnet.safetensors")
SPLIT = os.path.join(ROOT, "target", "resnet-split.txt")

# As in examples/resnet.rs.
BATCH = 32
EPOCHS = 20
LR = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def resnet():
    """The `ResNet` type of examples/resnet.rs, entry for entry (so the names agree); the
    builder is shared with the golden scripts."""
    return resnet_of(16, 10)


def load_digits():
    """(pixels (n, 1, 8, 8) in [0, 1], labels (n,)) from the bundled file, row by row."""
    pixels, labels = [], []
    with gzip.open(DATA, "rt", newline="") as f:
        for row in csv.reader(f):
            pixels.append([float(v) / 16.0 for v in row[:64]])
            labels.append(int(row[64]))
    x = torch.tensor(pixels, dtype=torch.float32).reshape(-1, 1, 8, 8)
    return x, torch.tensor(labels, dtype=torch.int64)


def read_split():
    rows = {}
    with open(SPLIT) as f:
        for line in f:
            name, *values = line.split()
            rows[name] = torch.tensor([int(v) for v in values], dtype=torch.int64)
    return rows["train"], rows["test"]


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).double().mean().item()


def train(model, x, y):
    """The example's schedule; returns the seconds of the epoch loop."""
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
    g = torch.Generator().manual_seed(1)
    n = len(y)
    start = time.perf_counter()
    for epoch in range(1, EPOCHS + 1):
        model.train()
        order = torch.randperm(n, generator=g)
        loss_sum, right = 0.0, 0
        for b in range(0, n, BATCH):
            idx = order[b:b + BATCH]
            xb, yb = x[idx], y[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            right += (logits.argmax(1) == yb).sum().item()
            loss_sum += loss.item() * len(yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 5 == 0:
            print(f"epoch {epoch:>2}: lr {sched.get_last_lr()[0]:.4f}, loss {loss_sum / n:.4f}, "
                  f"train accuracy {100 * right / n:.2f} %", flush=True)
        sched.step()
    return time.perf_counter() - start


def run_shaped(threads):
    """Builds and runs the example once; returns (seconds, accuracy) from what it prints."""
    done = subprocess.run(
        ["cargo", "build", "--release", "--example", "resnet", "--message-format=json"],
        cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"cargo build failed:\n{done.stderr}")
    binary = None
    for line in done.stdout.splitlines():
        msg = json.loads(line)
        if (msg.get("reason") == "compiler-artifact" and msg.get("executable")
                and msg["target"]["name"] == "resnet"):
            binary = msg["executable"]
    if binary is None:
        raise SystemExit("cargo build named no resnet executable")
    env = dict(os.environ, SHAPED_NUM_THREADS=str(threads))
    out = subprocess.run([binary], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    print(out, end="")
    seconds = float(re.search(r"training time: ([0-9.]+) s", out).group(1))
    acc = float(re.search(r"test accuracy: ([0-9.]+) %", out).group(1)) / 100
    return seconds, acc


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-shaped", action="store_true",
                    help="reuse target/resnet.safetensors and target/resnet-split.txt")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    shaped = None
    if not args.skip_shaped:
        print("== shaped (examples/resnet.rs)", flush=True)
        shaped = run_shaped(args.threads)

    x, y = load_digits()
    train_rows, test_rows = read_split()
    assert len(set(train_rows.tolist()) | set(test_rows.tolist())) == len(y), "a row is missing"
    x_train, y_train = x[train_rows], y[train_rows]
    x_test, y_test = x[test_rows], y[test_rows]

    from safetensors.torch import load_file
    twin = resnet()
    twin.load_state_dict(load_file(MODEL))  # strict: every name and shape as PyTorch's
    shaped_in_torch = accuracy(twin, x_test, y_test)

    print(f"== PyTorch twin ({len(y_train)} training and {len(y_test)} test images)", flush=True)
    torch.manual_seed(1)
    model = resnet()
    seconds = train(model, x_train, y_train)
    acc = accuracy(model, x_test, y_test)

    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"\n{cpu_model()}, {os.cpu_count()} cores; {rustc}; torch {torch.__version__}; "
          f"{args.threads} thread(s) on both sides; one run each, f32")
    print(f"{EPOCHS} epochs of {math.ceil(len(y_train) / BATCH)} steps of up to {BATCH} images\n")
    print("| | training time | test accuracy |")
    print("|---|---:|---:|")
    if shaped is not None:
        print(f"| shaped (`cargo run --release --example resnet`) | {shaped[0]:.2f} s "
              f"| {100 * shaped[1]:.2f} % |")
    print(f"| PyTorch twin | {seconds:.2f} s | {100 * acc:.2f} % |")
    if shaped is not None:
        print(f"\nshaped / PyTorch: {shaped[0] / seconds:.2f}×")
    print(f"The model shaped trained, loaded into the twin: {100 * shaped_in_torch:.2f} % "
          f"test accuracy in PyTorch")


if __name__ == "__main__":
    main()
