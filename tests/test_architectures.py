"""The networks' two forms (PyTorch for training, Keras for the converter) compute the same function."""
import numpy as np
import pytest

from tests.conftest import require_module

torch = require_module("torch")
from training.architectures import build, multiply_adds, same_padding  # noqa: E402

pytestmark = pytest.mark.slow  # PyTorch and TensorFlow: make test runs it, make test-fast does not


@pytest.mark.parametrize("size, kernel, stride, want", [(48, 3, 1, (1, 1)), (48, 3, 2, (0, 1)), (11, 3, 2, (1, 1)),
                                                        (44, 1, 2, (0, 0)), (6, 3, 2, (0, 1))])
def test_same_padding_is_tensorflows(size, kernel, stride, want):
    assert same_padding(size, kernel, stride) == want
    import tensorflow as tf
    x = tf.ones((1, size, size, 1))
    out = tf.nn.conv2d(x, tf.ones((kernel, kernel, 1, 1)), stride, "SAME")
    # TensorFlow's corner sum shows how much padding sits before the first row
    top_left = float(out[0, 0, 0, 0])
    assert top_left == (kernel - want[0]) ** 2


@pytest.mark.parametrize("arch, width", [("student", 0.5), ("student", 1.0), ("mini_xception", 1.0)])
def test_keras_twin_matches_the_torch_network(arch, width):
    torch.manual_seed(0)
    net = build(arch, width).eval()
    for m in net.modules():  # trained-looking BatchNorm statistics, so the copy of every one is checked
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.3, 0.3)
    x = torch.randn(3, 1, 48, 48)
    with torch.no_grad():
        want = net(x).numpy()
    twin = net.to_keras("twin")
    got = np.asarray(twin(x.permute(0, 2, 3, 1).numpy(), training=False))
    assert got.shape == (3, 7) and np.abs(got - want).max() < 1e-4
    assert twin.count_params() >= sum(p.numel() for p in net.parameters())  # + BN statistics


def test_width_scales_parameters_and_multiply_adds():
    small, big = build("student", 1.0), build("student", 2.0)
    assert sum(p.numel() for p in small.parameters()) == 227_271
    assert 3.5 < multiply_adds(big) / multiply_adds(small) < 4.1


@pytest.mark.parametrize("arch", ["student", "mini_xception"])
def test_the_tflite_graph_count_of_multiply_adds_matches_the_networks_own(arch):
    # two independent counts: the PyTorch modules' (training's reports) and the shipped file's graph (the
    # device estimates in edge/devtools/estimate.py)
    from edge.devtools.estimate import multiply_adds as from_tflite
    from tests.conftest import ROOT
    file = {"student": "fer_student_int8", "mini_xception": "mini_xception_int8"}[arch]
    assert from_tflite(ROOT / f"models/emotion/{file}.tflite") == multiply_adds(build(arch, 1.0))
