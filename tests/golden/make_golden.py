#!/usr/bin/env python3
"""Golden values for the gradient tests, computed by PyTorch autograd in float64; also
tests/golden/torch_cnn.safetensors and tests/golden/torch_options_cnn.safetensors (PyTorch
models' parameters for shaped to load) and the logits PyTorch computes from
tests/golden/shaped_cnn.safetensors (written by shaped's test `shaped_file_loads_into_pytorch`
with SHAPED_WRITE_GOLDEN=1); likewise for a model with batch normalisation and a residual
block, tests/golden/torch_bn.safetensors (a state_dict with running statistics) and
tests/golden/shaped_bn.safetensors (written by shaped's test `shaped_bn_file_loads_into_pytorch`
in tests/batchnorm.rs).

Run from the repository root:  python3 tests/golden/make_golden.py
(needs `pip install torch numpy`). It rewrites tests/golden/*.txt; the tests never run Python.

File format, one record a line: `name d0,d1,... v0 v1 v2 ...` (dims, then values row-major,
printed with 17 significant digits so f64 round-trips exactly). Lines starting with `#` are
comments; the first records the library versions that made the file.
"""
import os
import numpy as np
import torch

from twins import Residual

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


# (tag, N, C, H, W, K, HF, WF, S, P): every configuration the convolution tests cover.
CONV_CASES = [
    ("s1p0", 2, 3, 7, 7, 4, 3, 3, 1, 0),
    ("s1p1", 2, 2, 6, 6, 3, 3, 3, 1, 1),
    ("s2p1", 2, 3, 8, 8, 4, 3, 3, 2, 1),
    ("s3p2", 1, 2, 10, 10, 2, 3, 3, 3, 2),
    ("kernel_2x4", 2, 2, 7, 9, 3, 2, 4, 1, 1),
    ("input_5x11", 2, 1, 5, 11, 2, 3, 3, 2, 0),
    ("k1_s2", 2, 4, 6, 6, 3, 1, 1, 2, 0),
    ("kernel_fills_padded_input", 2, 2, 3, 3, 2, 5, 5, 1, 1),
    ("stride_remainder", 2, 2, 8, 8, 2, 3, 3, 3, 0),
    ("s2p2", 3, 2, 7, 6, 3, 3, 3, 2, 2),
    ("pointwise", 2, 3, 4, 5, 2, 1, 1, 1, 0),
    ("k5_s2p2", 4, 3, 12, 12, 5, 5, 5, 2, 2),
    ("lenet", 2, 1, 12, 12, 3, 5, 5, 1, 0),
    ("padding_beyond_kernel_reach", 2, 2, 4, 3, 2, 1, 7, 1, 2),
    # Strided with 120 and 110 wide positions: dX computed plane by plane (`Geom::direct_dx`).
    ("s2p1_wide", 2, 3, 20, 22, 4, 3, 3, 2, 1),
    ("s3p1_wide", 2, 2, 30, 31, 3, 3, 3, 3, 1),
]


def conv(rng, tag, n, c, h, w, k, hf, wf, s, p):
    """Y = conv2d(X, W, b, stride=S, padding=P); L = Σ Y ∘ dY; gradients by autograd."""
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((k, c, hf, wf)) / np.sqrt(c * hf * wf)
    b = rng.standard_normal(k)
    ho, wo = (h + 2 * p - hf) // s + 1, (w + 2 * p - wf) // s + 1
    dy = rng.standard_normal((n, k, ho, wo))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    y = torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p)
    assert y.shape == (n, k, ho, wo)
    (y * torch.tensor(dy)).sum().backward()
    out = ""
    for name, t in [("x", x), ("w", wt), ("b", b), ("dy", dy), ("y", y),
                    ("dx", tx.grad), ("dw", tw.grad), ("db", tb.grad)]:
        out += record(f"{tag}.{name}", t)
    return out


def pools(rng):
    """max_pool2d and avg_pool2d, forward and backward."""
    out = ""
    for tag, kind, shape, k, st in [
        ("max_k2s2", "max", (2, 3, 6, 6), 2, 2),
        ("max_k3s2", "max", (1, 2, 7, 7), 3, 2),
        ("avg_k2s2", "avg", (2, 3, 6, 6), 2, 2),
        ("avg_k3s1", "avg", (1, 2, 5, 6), 3, 1),
    ]:
        x = torch.tensor(rng.standard_normal(shape), requires_grad=True)
        f = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
        y = f(x, k, st)
        dy = torch.tensor(rng.standard_normal(tuple(y.shape)))
        y.backward(dy)
        for name, t in [("x", x), ("dy", dy), ("y", y), ("dx", x.grad)]:
            out += record(f"{tag}.{name}", t)
    return out


def losses(rng):
    """cross_entropy (mean) on integer labels, and mse_loss (mean), with their gradients."""
    z = torch.tensor(rng.standard_normal((4, 5)) * 3, requires_grad=True)
    labels = torch.tensor([0, 4, 2, 2])
    loss = torch.nn.functional.cross_entropy(z, labels)
    loss.backward()
    out = record("ce.logits", z) + record("ce.labels", labels.double()) + record("ce.loss", loss.reshape(1)) + record("ce.grad", z.grad)
    p = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = torch.tensor(rng.standard_normal((3, 4)))
    loss = torch.nn.functional.mse_loss(p, t)
    loss.backward()
    out += record("mse.pred", p) + record("mse.target", t) + record("mse.loss", loss.reshape(1)) + record("mse.grad", p.grad)
    return out


def optimizers(rng):
    """Three steps of SGD (momentum, weight decay) and of Adam on a Linear(3, 2), given grads."""
    out = ""
    w0, b0 = rng.standard_normal((2, 3)), rng.standard_normal(2)
    grads = [(rng.standard_normal((2, 3)), rng.standard_normal(2)) for _ in range(3)]
    out += record("opt.w0", w0) + record("opt.b0", b0)
    for i, (gw, gb) in enumerate(grads):
        out += record(f"opt.gw{i}", gw) + record(f"opt.gb{i}", gb)
    for tag, make in [
        ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)),
        ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.001)),
    ]:
        w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
        opt = make([w, b])
        for i, (gw, gb) in enumerate(grads):
            w.grad, b.grad = torch.tensor(gw), torch.tensor(gb)
            opt.step()
            out += record(f"{tag}.w{i}", w) + record(f"{tag}.b{i}", b)
    return out


def sequential():
    """The CNN of tests/models.rs as nn.Sequential, in float64."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, stride=1, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 3),
    ).double()


def model(rng):
    """A whole model: PyTorch's parameters saved as safetensors, then forward, loss, backward;
    and the logits PyTorch computes from the file shaped wrote (tests/golden/shaped_cnn.safetensors)."""
    from safetensors.torch import load_file, save_file
    torch.manual_seed(7)
    net = sequential()
    save_file(net.state_dict(), os.path.join(HERE, "torch_cnn.safetensors"))
    x = torch.tensor(rng.standard_normal((2, 1, 8, 8)))
    labels = torch.tensor([2, 0])
    logits = net(x)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    out = record("model.x", x) + record("model.logits", logits) + record("model.loss", loss.reshape(1))
    for name, p in net.named_parameters():
        out += record(f"model.grad.{name}", p.grad)
    shaped_file = os.path.join(HERE, "shaped_cnn.safetensors")
    if os.path.exists(shaped_file):
        net2 = sequential()
        net2.load_state_dict(load_file(shaped_file))
        out += record("model.shaped_file_logits", net2(x))
    return out


def edge_cases():
    """NaN and extreme values, as PyTorch treats them: ReLU and pooling with NaN inputs and
    tied maxima, cross-entropy at logits far apart (its loss is finite where exp underflows)."""
    nan = float("nan")
    out = ""
    x = torch.tensor([[nan, -1.0, 0.0, 2.0]], requires_grad=True)
    dy = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    y = torch.relu(x)
    (y * dy).sum().backward()
    out += record("relu_nan.x", x) + record("relu_nan.y", y) + record("relu_nan.dx", x.grad)
    # 4x4 input, 2x2 windows: a window with a NaN, a window with a tie, a window with a NaN
    # after its maximum, a plain window.
    x = torch.tensor([[[[1.0, nan, 5.0, 5.0],
                        [2.0, 0.0, 5.0, 1.0],
                        [9.0, 3.0, 7.0, 1.0],
                        [4.0, nan, 0.0, 8.0]]]], requires_grad=True)
    dy = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = torch.nn.functional.max_pool2d(x, 2)
    (y * dy).sum().backward()
    out += record("maxpool_nan.x", x) + record("maxpool_nan.dy", dy)
    out += record("maxpool_nan.y", y) + record("maxpool_nan.dx", x.grad)
    x2 = x.detach().clone().requires_grad_(True)
    y = torch.nn.functional.avg_pool2d(x2, 2)
    (y * dy).sum().backward()
    out += record("avgpool_nan.y", y) + record("avgpool_nan.dx", x2.grad)
    # Cross-entropy: the label's logit 110 and 800 below the maximum, and a NaN logit.
    for tag, logits, label in [("ce_far", [[0.0, 110.0], [-400.0, 400.0]], [0, 0]),
                               ("ce_nan", [[0.0, nan, 1.0]], [2])]:
        z = torch.tensor(logits, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(z, torch.tensor(label))
        loss.backward()
        out += record(f"{tag}.z", z) + record(f"{tag}.loss", loss.reshape(1))
        out += record(f"{tag}.dz", z.grad)
    return out


# (tag, N, C, H, W, K, HF, WF, S, P, D, G, bias): dilated, grouped, depthwise and bias-free
# convolutions (Conv2d), each option alone and together.
CONV_OPTION_CASES = [
    ("dil2", 2, 2, 7, 7, 3, 3, 3, 1, 2, 2, 1, True),
    ("dil2_s2", 2, 3, 9, 8, 4, 3, 3, 2, 1, 2, 1, True),
    ("dil3_kernel_2x3", 1, 2, 8, 10, 2, 2, 3, 1, 0, 3, 1, True),
    ("groups2", 2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2, True),
    ("depthwise", 2, 3, 6, 5, 3, 3, 3, 1, 1, 1, 3, True),
    ("depthwise_x2", 2, 2, 5, 5, 4, 3, 3, 2, 1, 1, 2, True),
    ("groups_dil_s2_nobias", 3, 6, 9, 9, 4, 3, 3, 2, 2, 2, 2, False),
    ("nobias", 2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, False),
    ("pointwise_groups", 2, 4, 3, 4, 6, 1, 1, 1, 0, 1, 2, True),
]


def conv_option(rng, tag, n, c, h, w, k, hf, wf, s, p, d, g, bias):
    """Y = conv2d(X, W, b, stride=S, padding=P, dilation=D, groups=G); L = Σ Y ∘ dY."""
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((k, c // g, hf, wf)) / np.sqrt(c // g * hf * wf)
    b = rng.standard_normal(k) if bias else None
    ho = (h + 2 * p - d * (hf - 1) - 1) // s + 1
    wo = (w + 2 * p - d * (wf - 1) - 1) // s + 1
    dy = rng.standard_normal((n, k, ho, wo))
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, wt))
    tb = torch.tensor(b, requires_grad=True) if bias else None
    y = torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p, dilation=d, groups=g)
    assert y.shape == (n, k, ho, wo)
    (y * torch.tensor(dy)).sum().backward()
    rows = [("x", x), ("w", wt), ("dy", dy), ("y", y), ("dx", tx.grad), ("dw", tw.grad)]
    if bias:
        rows += [("b", b), ("db", tb.grad)]
    return "".join(record(f"{tag}.{name}", t) for name, t in rows)


# (tag, kind, (N, C, H, W), (KH, KW), (SH, SW), (PH, PW)): padded and non-square pools
# (MaxPool2dHW pads with -inf, AvgPool2dHW counts the padding: PyTorch's defaults).
POOL_OPTION_CASES = [
    ("maxpad_k3s2p1", "max", (2, 2, 7, 7), (3, 3), (2, 2), (1, 1)),
    ("maxpad_2x1", "max", (1, 2, 6, 5), (2, 1), (2, 1), (0, 0)),
    ("maxpad_3x2_s21_p10", "max", (2, 1, 7, 6), (3, 2), (2, 1), (1, 0)),
    ("avgpad_k3s1p1", "avg", (2, 2, 5, 5), (3, 3), (1, 1), (1, 1)),
    ("avgpad_3x2_s2_p11", "avg", (1, 3, 6, 7), (3, 2), (2, 2), (1, 1)),
]


def pool_options(rng):
    """max_pool2d and avg_pool2d with padding and per-axis windows, and global average pooling
    (adaptive_avg_pool2d to 1 x 1, flattened), forward and backward."""
    out = ""
    for tag, kind, shape, k, st, pad in POOL_OPTION_CASES:
        x = torch.tensor(rng.standard_normal(shape), requires_grad=True)
        if kind == "max":
            y = torch.nn.functional.max_pool2d(x, k, st, pad)
        else:
            y = torch.nn.functional.avg_pool2d(x, k, st, pad, count_include_pad=True)
        dy = torch.tensor(rng.standard_normal(tuple(y.shape)))
        y.backward(dy)
        for name, t in [("x", x), ("dy", dy), ("y", y), ("dx", x.grad)]:
            out += record(f"{tag}.{name}", t)
    x = torch.tensor(rng.standard_normal((3, 4, 5, 6)), requires_grad=True)
    y = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
    dy = torch.tensor(rng.standard_normal(tuple(y.shape)))
    y.backward(dy)
    for name, t in [("x", x), ("dy", dy), ("y", y), ("dx", x.grad)]:
        out += record(f"gap.{name}", t)
    return out


def options_model(rng):
    """A PyTorch model of the new options, saved as safetensors for shaped to load (the bias-free
    convolution's only tensor is `0.weight`); its logits, loss and gradients on one batch."""
    from safetensors.torch import save_file
    torch.manual_seed(11)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=2, dilation=2, groups=2, bias=False),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(3, stride=2, padding=1),
        torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()),
        torch.nn.Linear(4, 3),
    ).double()
    save_file(net.state_dict(), os.path.join(HERE, "torch_options_cnn.safetensors"))
    x = torch.tensor(rng.standard_normal((2, 2, 7, 7)))
    labels = torch.tensor([1, 2])
    logits = net(x)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    out = record("options_model.x", x) + record("options_model.logits", logits)
    out += record("options_model.loss", loss.reshape(1))
    for name, p in net.named_parameters():
        out += record(f"options_model.grad.{name}", p.grad)
    return out


def batchnorm(rng):
    """BatchNorm2d and BatchNorm1d (on (N, C) and on (N, C, L)): the training pass (batch
    statistics) and its gradients, the running statistics after one and two training passes,
    and the evaluation pass."""
    nn = torch.nn
    out = ""
    for tag, cls, shape in [("bn2d", nn.BatchNorm2d, (4, 3, 5, 5)),
                            ("bn1d", nn.BatchNorm1d, (6, 4)),
                            ("bn2d_n1", nn.BatchNorm2d, (1, 2, 3, 3)),
                            ("bn1d_ncl", nn.BatchNorm1d, (5, 3, 4))]:
        c = shape[1]
        bn = cls(c).double()
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(rng.standard_normal(c) * 0.5 + 1.0))
            bn.bias.copy_(torch.tensor(rng.standard_normal(c)))
        x1 = rng.standard_normal(shape) * 2.0 + 0.5
        x2 = rng.standard_normal(shape) * 0.5 - 1.0
        dy = rng.standard_normal(shape)
        for name, t in [("w", bn.weight), ("b", bn.bias), ("x1", x1), ("x2", x2), ("dy", dy)]:
            out += record(f"{tag}.{name}", t)
        bn.train()
        tx = torch.tensor(x1, requires_grad=True)
        y = bn(tx)
        (y * torch.tensor(dy)).sum().backward()
        for name, t in [("y_train", y), ("dx", tx.grad), ("dw", bn.weight.grad), ("db", bn.bias.grad),
                        ("running_mean1", bn.running_mean), ("running_var1", bn.running_var)]:
            out += record(f"{tag}.{name}", t)
        with torch.no_grad():
            bn(torch.tensor(x2))
        assert bn.num_batches_tracked.item() == 2
        out += record(f"{tag}.running_mean2", bn.running_mean)
        out += record(f"{tag}.running_var2", bn.running_var)
        bn.eval()
        out += record(f"{tag}.y_eval", bn(torch.tensor(x1)))
        # The gradient of the evaluation pass (running statistics frozen).
        bn.weight.grad, bn.bias.grad = None, None
        tx = torch.tensor(x1, requires_grad=True)
        (bn(tx) * torch.tensor(dy)).sum().backward()
        for name, t in [("dx_eval", tx.grad), ("dw_eval", bn.weight.grad),
                        ("db_eval", bn.bias.grad)]:
            out += record(f"{tag}.{name}", t)
    # PyTorch refuses a batch of one vector in training; shaped panics with the same words.
    try:
        nn.BatchNorm1d(4).double().train()(torch.zeros(1, 4))
        raise AssertionError("BatchNorm1d trained on a batch of 1")
    except ValueError as e:
        assert "Expected more than 1 value per channel when training" in str(e), e
    return out


def residual(rng):
    """An identity block (conv-relu-conv) and a projected block (a stride-2 block beside a
    stride-2 1x1 convolution): forward, input and parameter gradients."""
    nn = torch.nn
    torch.manual_seed(11)
    out = ""
    cases = [
        ("identity", (2, 4, 6, 6), Residual(nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)))),
        ("projected", (2, 4, 7, 7), Residual(
            nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1)),
            nn.Sequential(nn.Conv2d(4, 8, 1, stride=2)))),
    ]
    for tag, shape, net in cases:
        net = net.double()
        tx = torch.tensor(rng.standard_normal(shape), requires_grad=True)
        y = net(tx)
        dy = torch.tensor(rng.standard_normal(tuple(y.shape)))
        (y * dy).sum().backward()
        for name, t in [("x", tx), ("dy", dy), ("y", y), ("dx", tx.grad)]:
            out += record(f"{tag}.{name}", t)
        for name, p in net.named_parameters():
            out += record(f"{tag}.param.{name}", p)
            out += record(f"{tag}.grad.{name}", p.grad)
    return out


def bn_sequential():
    """The model of tests/batchnorm.rs: batch normalisation in 2-D and 1-D, and a residual
    block with batch normalisation inside."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        Residual(nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 8),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Linear(8, 3),
    ).double()


def bn_model(rng):
    """A state_dict with running statistics (two training passes) saved as safetensors; the
    evaluation logits, then a training pass's logits, loss, gradients and updated running
    statistics; and the evaluation logits PyTorch computes from the file shaped wrote
    (tests/golden/shaped_bn.safetensors)."""
    from safetensors.torch import load_file, save_file
    torch.manual_seed(13)
    net = bn_sequential()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
        net.train()
        for _ in range(2):
            net(torch.tensor(rng.standard_normal((4, 1, 8, 8))))
    state = net.state_dict()
    assert state["1.num_batches_tracked"].dtype == torch.int64
    assert state["1.num_batches_tracked"].shape == ()
    save_file(state, os.path.join(HERE, "torch_bn.safetensors"))
    x = torch.tensor(rng.standard_normal((3, 1, 8, 8)))
    labels = torch.tensor([2, 0, 1])
    out = record("bnmodel.x", x)
    net.eval()
    out += record("bnmodel.eval_logits", net(x))
    net.train()
    logits = net(x)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    out += record("bnmodel.train_logits", logits) + record("bnmodel.loss", loss.reshape(1))
    for name, p in net.named_parameters():
        out += record(f"bnmodel.grad.{name}", p.grad)
    for name, b in net.named_buffers():
        out += record(f"bnmodel.after.{name}", b.double().reshape(-1))
    shaped_file = os.path.join(HERE, "shaped_bn.safetensors")
    if os.path.exists(shaped_file):
        saved = load_file(shaped_file)
        for name, b in saved.items():
            if name.endswith("num_batches_tracked"):
                assert b.dtype == torch.int64 and b.shape == (), (name, b.dtype, b.shape)
        net2 = bn_sequential()
        net2.load_state_dict(saved)  # strict: every name and shape must be PyTorch's
        net2.eval()
        out += record("bnmodel.shaped_file_logits", net2(x))
        out += record("bnmodel.shaped_file_num_batches_tracked",
                      saved["1.num_batches_tracked"].double().reshape(1))
    return out


# Inputs every activation is checked at: negative, zero (both signs), tiny, and large enough
# that exp overflows or the function saturates.
ACTIVATION_POINTS = [-1000.0, -40.0, -10.0, -3.0, -1.0, -0.5, -1e-8, -0.0,
                     0.0, 1e-8, 0.5, 1.0, 3.0, 10.0, 40.0, 1000.0]

ACTIVATIONS = [
    ("leaky_relu", torch.nn.LeakyReLU()),
    ("leaky_relu_0.2", torch.nn.LeakyReLU(0.2)),
    ("sigmoid", torch.nn.Sigmoid()),
    ("tanh", torch.nn.Tanh()),
    ("gelu", torch.nn.GELU()),
    ("silu", torch.nn.SiLU()),
]


def activations(rng):
    """Each activation, forward and input gradient, on (4, 8): the points above, then 16 draws
    of 3·N(0, 1); and on NaN and ±inf. L = Σ y ∘ dY."""
    out = ""
    x0 = np.concatenate([ACTIVATION_POINTS, 3 * rng.standard_normal(16)]).reshape(4, 8)
    dy0 = rng.standard_normal((4, 8))
    edge = [float("nan"), float("inf"), -float("inf"), 0.0]
    for tag, f in ACTIVATIONS:
        for suffix, xs, dys in [("", x0, dy0), ("_edge", np.array([edge]), np.ones((1, 4)))]:
            x = torch.tensor(xs, requires_grad=True)
            dy = torch.tensor(dys)
            y = f(x)
            y.backward(dy)
            for name, t in [("x", x), ("dy", dy), ("y", y), ("dx", x.grad)]:
                out += record(f"{tag}{suffix}.{name}", t)
    return out


def softmaxes(rng):
    """softmax and log_softmax over the last dim: (3, 5) with a row of logits 1000 apart,
    (2, 3, 4) for a rank of 3, and rows holding +inf, only -inf, NaN, and one -inf."""
    out = ""
    a = rng.standard_normal((3, 5)) * 3
    a[2] = [1000.0, 0.0, -1000.0, 1.0, -1.0]
    b = rng.standard_normal((2, 3, 4)) * 3
    inf, nan = float("inf"), float("nan")
    c = np.array([[1.0, inf, 2.0], [-inf, -inf, -inf], [1.0, nan, 2.0], [-inf, 0.0, 1.0]])
    for tag, x in [("rank2", a), ("rank3", b), ("edge", c)]:
        t = torch.tensor(x)
        out += record(f"softmax_{tag}.x", t)
        out += record(f"softmax_{tag}.softmax", torch.softmax(t, -1))
        out += record(f"softmax_{tag}.log_softmax", torch.log_softmax(t, -1))
    return out


def main():
    rng = np.random.default_rng(20261127)
    text = header()
    text += affine_relu(rng, "small", 4, 5, 3)
    text += affine_relu(rng, "wide", 7, 33, 17)
    text += relu_at_zero()
    with open(os.path.join(HERE, "affine_relu.txt"), "w") as f:
        f.write(text)
    rng = np.random.default_rng(3)
    text = header()
    for case in CONV_CASES:
        text += conv(rng, *case)
    with open(os.path.join(HERE, "conv.txt"), "w") as f:
        f.write(text)
    rng = np.random.default_rng(4)
    text = header() + pools(rng) + losses(rng) + optimizers(rng) + model(rng)
    with open(os.path.join(HERE, "models.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(HERE, "edge.txt"), "w") as f:
        f.write(header() + edge_cases())
    rng = np.random.default_rng(5)
    with open(os.path.join(HERE, "batchnorm.txt"), "w") as f:
        f.write(header() + batchnorm(rng) + bn_model(rng))
    rng = np.random.default_rng(6)
    with open(os.path.join(HERE, "residual.txt"), "w") as f:
        f.write(header() + residual(rng))
    rng = np.random.default_rng(7)
    text = header()
    for case in CONV_OPTION_CASES:
        text += conv_option(rng, *case)
    text += pool_options(rng)
    text += options_model(rng)
    with open(os.path.join(HERE, "conv_options.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(HERE, "activations.txt"), "w") as f:
        f.write(header() + activations(rng) + softmaxes(rng))


if __name__ == "__main__":
    main()
