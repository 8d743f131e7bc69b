"""Keras models that become the shipped int8 .tflite files.

Both take a 48x48x1 float face already normalised as ``(pixel - mean) / std`` (the manifest's contract)
and return 7 logits. Only ops with fast, accurate int8 kernels on ARM: Conv2D, DepthwiseConv2D,
BatchNorm (folded into the convolutions at conversion), ReLU, Add, MaxPool, global average pool, Dense.
"""
from __future__ import annotations

import keras
from keras import layers

from training.data import EMOTIONS, IMAGE_SIZE

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
# float input = (pixel - INPUT_MEAN) / INPUT_STD: pixels map onto [-1, 1], so the int8 input tensor
# ends up with scale ~1/127.5 and zero point ~0, i.e. nearly the raw pixel minus 128.
INPUT_MEAN = 127.5
INPUT_STD = 127.5


def _bn_relu(x):
    return layers.ReLU()(layers.BatchNormalization()(x))


def _separable(x, filters: int, stride: int = 1):
    """Depthwise 3x3 then pointwise 1x1, each with BN and ReLU (MobileNet-style)."""
    x = _bn_relu(layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x))
    return _bn_relu(layers.Conv2D(filters, 1, use_bias=False)(x))


def student(width: float = 1.0) -> keras.Model:
    """The distilled student: a plain-conv stem, then depthwise-separable stages with residual blocks.

    About 160k parameters and 9M multiply-adds at width 1.0: under 256 KB as int8. The stem keeps the
    full 48x48 resolution but only 16 channels: 32 doubled the CPU training time for no gain in size.
    """
    def ch(n: int) -> int:
        return max(8, int(n * width / 8 + 0.5) * 8)

    inputs = keras.Input(INPUT_SHAPE, name="face")
    x = _bn_relu(layers.Conv2D(ch(16), 3, padding="same", use_bias=False)(inputs))  # 48x48
    for filters, repeats in ((64, 1), (128, 2), (256, 1)):  # 24x24, 12x12, 6x6
        x = _separable(x, ch(filters), stride=2)
        for _ in range(repeats):
            x = layers.Add()([x, _separable(x, ch(filters))])
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(len(EMOTIONS), name="logits")(x)
    return keras.Model(inputs, outputs, name="student")


def mini_xception(width: float = 1.0) -> keras.Model:
    """The baseline: mini-Xception (Arriaga et al. 2017), the model of the `fer` package, at 48x48."""
    def ch(n: int) -> int:
        return max(4, int(n * width))

    inputs = keras.Input(INPUT_SHAPE, name="face")
    x = _bn_relu(layers.Conv2D(ch(8), 3, use_bias=False)(inputs))
    x = _bn_relu(layers.Conv2D(ch(8), 3, use_bias=False)(x))
    for filters in (16, 32, 64, 128):
        residual = layers.BatchNormalization()(layers.Conv2D(ch(filters), 1, strides=2, padding="same",
                                                             use_bias=False)(x))
        x = _bn_relu(layers.SeparableConv2D(ch(filters), 3, padding="same", use_bias=False)(x))
        x = layers.BatchNormalization()(layers.SeparableConv2D(ch(filters), 3, padding="same", use_bias=False)(x))
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.Add()([x, residual])
    x = layers.Conv2D(len(EMOTIONS), 3, padding="same")(x)
    outputs = layers.GlobalAveragePooling2D(name="logits")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


BUILDERS = {"student": student, "mini_xception": mini_xception}


def build(arch: str, width: float = 1.0) -> keras.Model:
    return BUILDERS[arch](width)
