"""The emotion networks, written once as a list of blocks that build both forms of the model:
PyTorch for training (fastest here: training/README.md) and Keras for the TensorFlow Lite converter,
which makes the int8 file the device runs (the only converter whose int8 models both device runtimes load).

Each block is a torch module with a ``keras(x)`` method that appends the same layers to a Keras graph and
copies its trained weights into them, so the two forms cannot drift apart. Padding follows TensorFlow's
"same" rule in both (for a stride-2 layer on an even size it pads one more at the bottom and right,
where torch's symmetric padding would shift every later feature by half a pixel).

Input: a 48x48 grey face as ``(pixel - INPUT_MEAN) / INPUT_STD`` (the manifest's contract); output:
7 logits in ``training.data.EMOTIONS`` order. Only ops with fast, accurate int8 kernels on ARM.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.data import EMOTIONS, IMAGE_SIZE

# pixels map onto [-1, 1]: the int8 input tensor gets scale ~1/127.5 and zero point ~0
INPUT_MEAN = 127.5
INPUT_STD = 127.5
BN_EPS = 1e-5  # torch's default; Keras' is 1e-3, so the Keras twin is told


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (before, after) along one axis."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = same_padding(x.shape[2], kernel, stride)
    left, right = same_padding(x.shape[3], kernel, stride)
    return F.pad(x, (left, right, top, bottom), value=value) if top or bottom or left or right else x


def _keras_bn(bn: nn.BatchNorm2d, x):
    from keras import layers
    layer = layers.BatchNormalization(epsilon=bn.eps)
    x = layer(x)
    layer.set_weights([t.detach().cpu().numpy() for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)])
    return x


class Conv(nn.Module):
    """k x k convolution (optionally depthwise), then BatchNorm and ReLU where asked."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: str = "same",
                 depthwise: bool = False, bn: bool = True, relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.padding, self.depthwise = kernel, stride, padding, depthwise
        self.conv = nn.Conv2d(cin, cout, kernel, stride, groups=cin if depthwise else 1, bias=not bn)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS) if bn else None
        self.relu = relu

    def forward(self, x):
        pad = (0, 0)
        if self.padding == "same":
            (top, bottom), (left, right) = (same_padding(x.shape[i], self.kernel, self.stride) for i in (2, 3))
            if top == bottom and left == right:
                pad = (top, left)  # symmetric: the convolution pads itself, without copying x (2x faster)
            else:
                x = F.pad(x, (left, right, top, bottom))
        x = F.conv2d(x, self.conv.weight, self.conv.bias, self.stride, pad, 1, self.conv.groups)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x

    def keras(self, x):
        from keras import layers
        common = dict(strides=self.stride, padding=self.padding, use_bias=self.bn is None)
        w = self.conv.weight.detach().cpu()
        if self.depthwise:
            layer = layers.DepthwiseConv2D(self.kernel, **common)
            weights = [w.permute(2, 3, 0, 1).numpy()]
        else:
            layer = layers.Conv2D(self.conv.out_channels, self.kernel, **common)
            weights = [w.permute(2, 3, 1, 0).numpy()]
        x = layer(x)
        if self.bn is None:
            weights.append(self.conv.bias.detach().cpu().numpy())
        layer.set_weights(weights)
        if self.bn is not None:
            x = _keras_bn(self.bn, x)
        return layers.ReLU()(x) if self.relu else x


class MaxPool(nn.Module):
    def __init__(self, kernel: int = 3, stride: int = 2):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x):
        return F.max_pool2d(pad_same(x, self.kernel, self.stride, float("-inf")), self.kernel, self.stride)

    def keras(self, x):
        from keras import layers
        return layers.MaxPooling2D(self.kernel, strides=self.stride, padding="same")(x)


class Sequence(nn.Sequential):
    def keras(self, x):
        for block in self:
            x = block.keras(x)
        return x


class Residual(nn.Module):
    """body(x) + shortcut(x); the shortcut is the identity when none is given."""

    def __init__(self, body: Sequence, shortcut: Sequence | None = None):
        super().__init__()
        self.body, self.shortcut = body, shortcut if shortcut is not None else Sequence()

    def forward(self, x):
        return self.body(x) + self.shortcut(x)

    def keras(self, x):
        from keras import layers
        return layers.Add()([self.body.keras(x), self.shortcut.keras(x)])


class Head(nn.Module):
    """Global average pooling, dropout, and a dense layer to the logits (none when the body ends in them)."""

    def __init__(self, cin: int, dropout: float, dense: bool = True):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(cin, len(EMOTIONS)) if dense else None

    def forward(self, x):
        x = self.dropout(x.mean((2, 3)))
        return self.dense(x) if self.dense is not None else x

    def keras(self, x):
        from keras import layers
        x = layers.GlobalAveragePooling2D()(x)
        if self.dense is None:
            return x
        layer = layers.Dense(len(EMOTIONS), name="logits")
        x = layer(x)
        layer.set_weights([self.dense.weight.detach().cpu().T.numpy(), self.dense.bias.detach().cpu().numpy()])
        return x


class Network(Sequence):
    def to_keras(self, name: str):
        """The Keras twin of this network with its current weights (eval mode: dropout off, BN statistics)."""
        import keras
        inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="face")
        return keras.Model(inputs, self.keras(inputs), name=name)


def separable(cin: int, cout: int, stride: int = 1) -> Sequence:
    """Depthwise 3x3 then pointwise 1x1, each with BN and ReLU (MobileNet-style)."""
    return Sequence(Conv(cin, cin, 3, stride, depthwise=True), Conv(cin, cout, 1))


def channels(n: int, width: float) -> int:
    return max(8, int(n * width / 8 + 0.5) * 8)


def student(width: float = 1.0, stem: int = 32, stages=((64, 1), (128, 2), (256, 2)), dropout: float = 0.2) -> Network:
    """A full-resolution 3x3 stem, then depthwise-separable stages (stride 2, then residual blocks).

    At width 1: 227k parameters, about 16M multiply-adds; width 2: 876k (about 4x both).
    """
    c = channels(stem, width)
    blocks = [Conv(1, c)]
    for filters, repeats in stages:  # 24x24, 12x12, 6x6
        f = channels(filters, width)
        blocks.append(separable(c, f, stride=2))
        blocks += [Residual(separable(f, f)) for _ in range(repeats)]
        c = f
    return Network(*blocks, Head(c, dropout))


def mini_xception(width: float = 1.0) -> Network:
    """The baseline: mini-Xception (Arriaga et al. 2017), the `fer` package's model, at 48x48."""
    def ch(n):
        return max(4, int(n * width))
    blocks, c = [Conv(1, ch(8), padding="valid"), Conv(ch(8), ch(8), padding="valid")], ch(8)
    for filters in (16, 32, 64, 128):
        f = ch(filters)
        body = Sequence(Conv(c, c, depthwise=True, bn=False, relu=False), Conv(c, f, 1),
                        Conv(f, f, depthwise=True, bn=False, relu=False), Conv(f, f, 1, relu=False), MaxPool())
        blocks.append(Residual(body, Sequence(Conv(c, f, 1, stride=2, relu=False))))
        c = f
    blocks.append(Conv(c, len(EMOTIONS), 3, bn=False, relu=False))
    return Network(*blocks, Head(len(EMOTIONS), 0.0, dense=False))


BUILDERS = {"student": student, "mini_xception": mini_xception}


def build(arch: str, width: float = 1.0) -> Network:
    return BUILDERS[arch](width)


def multiply_adds(net: Network) -> int:
    """Multiply-adds of one 48x48 face: the figure a device's int8 rate turns into a latency estimate."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, Conv):  # counted on the block: it calls the convolution functionally
            c = module.conv
            total += output.numel() * c.kernel_size[0] * c.kernel_size[1] * c.in_channels // c.groups
        else:
            total += module.in_features * module.out_features
    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (Conv, nn.Linear))]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE))
    net.train(was_training)
    for h in hooks:
        h.remove()
    return total
