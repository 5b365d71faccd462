#!/usr/bin/env python3
"""Ten training steps of a small ResNet in PyTorch, for tests/trains_like_pytorch.rs: the
initial state, the batches, the loss of every step and the final state, in float64
(tests/golden/train_resnet_f64.safetensors) and float32 (train_resnet_f32.safetensors).

Run from the repository root:  python3 tests/golden/make_train_golden.py
(needs `pip install torch numpy safetensors`). The tests never run Python.

The model is the ResNet of examples/resnet.rs at small sizes (4 and 8 channels, 5 classes): a
stem (conv, BatchNorm2d, ReLU), an identity block, a downsampling block with a projection
shortcut (a stride-2 1x1 convolution and BatchNorm2d), global average pooling and a linear
head. It trains as a user's loop does: `model.train()` (batch statistics, the running ones
updated), `F.cross_entropy` (mean), `zero_grad`, `backward`, then `torch.optim.SGD` with
momentum and weight decay (dampening 0, not Nesterov), on fixed batches of 6 images.

Each file holds, under safetensors' own names:
- the model's state_dict as `nn.Sequential` names it ("0.weight", "3.block.1.running_mean",
  "5.shortcut.1.num_batches_tracked" as an int64 scalar, ...): the state before the first step,
  with BatchNorm's weights, biases and running statistics drawn away from their defaults so
  that every one of them is tested;
- `batch.x` (10, 6, 1, 8, 8) and `batch.labels` (10, 6, int64): the batch of every step;
- `losses` (10,): the loss of every step, before its update;
- `final.NAME` for every state_dict entry: the state after the ten steps.
The float32 file holds the float64 file's initial state and batches rounded to float32, and
PyTorch's float32 run from them. The header's metadata records the torch version and the
optimizer's settings.
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

from twins import resnet

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS, BATCH, CLASSES = 10, 6, 5
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 1e-3


def small_resnet():
    """The `SmallResNet` type of tests/trains_like_pytorch.rs, entry for entry."""
    return resnet(4, CLASSES)


def train(net, xs, labels):
    """The ten steps; returns the losses."""
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=WEIGHT_DECAY, dampening=0, nesterov=False)
    net.train()
    losses = []
    for x, y in zip(xs, labels):
        loss = F.cross_entropy(net(x), y)  # reduction="mean"
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses)


def run(initial, xs, labels, dtype):
    """PyTorch in `dtype` from the state `initial` (converted to `dtype`): the file's tensors."""
    net = small_resnet().to(dtype)
    net.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v
                         for k, v in initial.items()})
    start = {k: v.clone() for k, v in net.state_dict().items()}
    xs = xs.to(dtype)
    losses = train(net, xs, labels)
    tensors = dict(start)
    tensors["batch.x"] = xs
    tensors["batch.labels"] = labels
    tensors["losses"] = losses
    for k, v in net.state_dict().items():
        tensors[f"final.{k}"] = v.clone()
    assert tensors["final.1.num_batches_tracked"].item() == 3 + STEPS
    return {k: v.contiguous() for k, v in tensors.items()}


def main():
    torch.manual_seed(20261201)
    net = small_resnet().double()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(3)
    initial = net.state_dict()
    assert initial["1.num_batches_tracked"].dtype == torch.int64
    rng = np.random.default_rng(7)
    xs = torch.tensor(rng.standard_normal((STEPS, BATCH, 1, 8, 8)))
    labels = torch.tensor(rng.integers(0, CLASSES, (STEPS, BATCH)), dtype=torch.int64)
    metadata = {
        "made_by": "tests/golden/make_train_golden.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "optimizer": f"torch.optim.SGD(lr={LR}, momentum={MOMENTUM}, "
                     f"weight_decay={WEIGHT_DECAY}, dampening=0, nesterov=False)",
        "steps": str(STEPS),
    }
    for dtype, name in [(torch.float64, "f64"), (torch.float32, "f32")]:
        tensors = run(initial, xs, labels, dtype)
        path = os.path.join(HERE, f"train_resnet_{name}.safetensors")
        save_file(tensors, path, metadata=dict(metadata, dtype=name))
        print(f"{path}: losses {tensors['losses'].tolist()}")


if __name__ == "__main__":
    main()
