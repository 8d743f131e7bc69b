"""The device estimates on paper: read from the model files' graphs, and the frame's sum follows the cadence."""
import re
import subprocess
import sys

from edge.devtools.estimate import DEVICES, multiply_adds
from tests.conftest import ROOT

DETECTOR = ROOT / "models/face_detector/blazeface_short_int8.tflite"


def test_int8_and_float_files_of_one_network_have_the_same_multiply_adds_and_a_wider_one_more():
    short = multiply_adds(DETECTOR)
    assert short == multiply_adds(ROOT / "models/face_detector/blazeface_short_float.tflite") > 0
    assert multiply_adds(ROOT / "models/face_detector/blazeface_full_float.tflite") > 2 * short  # 192 px input


def test_the_command_prints_each_device_and_a_frame_that_adds_up():
    done = subprocess.run([sys.executable, "-m", "edge.devtools.estimate", "--duty", "0.5", "--faces", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(device in done.stdout for device in DEVICES) and "not measurements" in done.stdout
    work = {row: float(m) for row, m in re.findall(r"^\| (detector|emotion|a frame)\S*.*? \| ([\d.]+) M \|",
                                                   done.stdout, flags=re.M)}
    assert abs(work["a frame"] - (0.5 * work["detector"] + 2 * work["emotion"])) < 0.15
