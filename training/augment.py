"""Batch augmentation for the Keras stages, in TensorFlow so it runs inside tf.data.

One projective transform per image (flip, rotation, zoom, shift together: one resampling, not four),
then brightness/contrast jitter and random erasing. Works on normalised float faces (N,48,48,1).
"""
from __future__ import annotations

import math

import tensorflow as tf


def augment(x: tf.Tensor, erasing_p: float, max_degrees: float = 12.0, max_zoom: float = 0.12,
            max_shift: float = 0.1) -> tf.Tensor:
    n = tf.shape(x)[0]
    size = tf.cast(tf.shape(x)[1], tf.float32)
    u = lambda lo, hi: tf.random.uniform([n], lo, hi)  # noqa: E731
    angle = u(-max_degrees, max_degrees) * (math.pi / 180)
    zoom = u(1 - max_zoom, 1 + max_zoom)
    flip = tf.where(u(0, 1) < 0.5, -1.0, 1.0)
    tx, ty = u(-max_shift, max_shift) * size, u(-max_shift, max_shift) * size
    # output pixel (ox, oy) samples input (a0*ox + a1*oy + a2, b0*ox + b1*oy + b2), about the centre
    c = (size - 1) / 2
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    a0, a1 = cos * flip, -sin
    b0, b1 = sin * flip, cos
    a2 = c - a0 * c - a1 * c + tx
    b2 = c - b0 * c - b1 * c + ty
    zeros = tf.zeros([n])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    x = tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=transforms, output_shape=tf.shape(x)[1:3],
                                              fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")
    x = x * u(0.75, 1.25)[:, None, None, None] + u(-0.2, 0.2)[:, None, None, None]
    return random_erasing(x, erasing_p)


def random_erasing(x: tf.Tensor, p: float) -> tf.Tensor:
    """Replace one rectangle (2-20 % of the face, aspect 0.3-3.3) with noise, in a share p of images."""
    n, h, w = tf.shape(x)[0], tf.cast(tf.shape(x)[1], tf.float32), tf.cast(tf.shape(x)[2], tf.float32)
    area = tf.random.uniform([n], 0.02, 0.2) * h * w
    ratio = tf.exp(tf.random.uniform([n], math.log(0.3), math.log(3.3)))
    eh, ew = tf.minimum(tf.sqrt(area * ratio), h), tf.minimum(tf.sqrt(area / ratio), w)
    y0, x0 = tf.random.uniform([n]) * (h - eh), tf.random.uniform([n]) * (w - ew)
    rows = tf.range(h)[None, :, None]
    cols = tf.range(w)[None, None, :]
    box = ((rows >= y0[:, None, None]) & (rows < (y0 + eh)[:, None, None]) &
           (cols >= x0[:, None, None]) & (cols < (x0 + ew)[:, None, None]) &
           (tf.random.uniform([n]) < p)[:, None, None])
    return tf.where(box[..., None], tf.random.normal(tf.shape(x)), x)
