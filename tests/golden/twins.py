"""PyTorch twins of shaped's composite layers and of the ResNet of the examples, shared by the
golden scripts here and by benches/resnet_vs_pytorch.py. Only definitions: importing this
changes no global state of torch (the golden scripts set their own default dtype)."""
import torch


class Residual(torch.nn.Module):
    """x + block(x), or shortcut(x) + block(x): the module shaped's Residual and Projected are
    named after (their parameters are block.* and shortcut.*)."""

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = block
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        s = self.shortcut(x) if hasattr(self, "shortcut") else x
        return s + self.block(x)


def resnet(width, classes):
    """The ResNet layout of examples/resnet.rs (`width` channels, then `2 * width` after the
    stride-2 block), entry for entry, so the parameter names agree: `resnet(16, 10)` is the
    example's model, `resnet(4, 5)` the `SmallResNet` of tests/trains_like_pytorch.rs."""
    nn = torch.nn
    w, w2 = width, 2 * width
    return nn.Sequential(
        nn.Conv2d(1, w, 3, padding=1),
        nn.BatchNorm2d(w),
        nn.ReLU(),
        Residual(nn.Sequential(
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w))),
        nn.ReLU(),
        Residual(
            nn.Sequential(
                nn.Conv2d(w, w2, 3, stride=2, padding=1), nn.BatchNorm2d(w2), nn.ReLU(),
                nn.Conv2d(w2, w2, 3, padding=1), nn.BatchNorm2d(w2)),
            nn.Sequential(nn.Conv2d(w, w2, 1, stride=2), nn.BatchNorm2d(w2))),
        nn.ReLU(),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        nn.Linear(w2, classes),
    )
