#!/usr/bin/env python3
"""Golden values for the gradient tests, computed by PyTorch autograd in float64.

Run from the repository root:  python3 tests/golden/make_golden.py
(needs `pip install torch numpy`). It rewrites tests/golden/*.txt; the tests never run Python.

File format, one record a line: `name d0,d1,... v0 v1 v2 ...` (dims, then values row-major,
printed with 17 significant digits so f64 round-trips exactly). Lines starting with `#` are
comments; the first records the library versions that made the file.
"""
import os
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)


def header():
    return f"# made by tests/golden/make_golden.py with torch {torch.__version__}, numpy {np.__version__}, float64\n"


def record(name, t):
    a = np.asarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    dims = ",".join(str(d) for d in a.shape)
    vals = " ".join(f"{v:.17g}" for v in a.reshape(-1))
    return f"{name} {dims} {vals}\n"


def affine_relu(rng, tag, n, di, do):
    """Y = relu(X·Wᵀ + b); L = Σ Y ∘ dY; the gradients of L by autograd."""
    x = rng.standard_normal((n, di))
    w = rng.standard_normal((do, di)) / np.sqrt(di)
    b = rng.standard_normal(do)
    dy = rng.standard_normal((n, do))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    z = torch.nn.functional.linear(tx, tw, tb)
    z.retain_grad()
    y = torch.relu(z)
    (y * torch.tensor(dy)).sum().backward()
    out = ""
    for name, t in [("x", x), ("w", w), ("b", b), ("dy", dy), ("z", z), ("y", y),
                    ("dz", z.grad), ("dx", tx.grad), ("dw", tw.grad), ("db", tb.grad)]:
        out += record(f"{tag}.{name}", t)
    return out


def relu_at_zero():
    """ReLU's gradient where x is exactly 0 (PyTorch: 0)."""
    x = torch.tensor([[-2.0, 0.0, 0.5], [0.0, 3.0, -0.0]], requires_grad=True)
    dy = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (torch.relu(x) * dy).sum().backward()
    return record("relu0.x", x) + record("relu0.dy", dy) + record("relu0.dx", x.grad)


def main():
    rng = np.random.default_rng(20261127)
    text = header()
    text += affine_relu(rng, "small", 4, 5, 3)
    text += affine_relu(rng, "wide", 7, 33, 17)
    text += relu_at_zero()
    with open(os.path.join(HERE, "affine_relu.txt"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
