import os
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (FER2013 etc.): skipped where absent, but CI must have it."""
    data = SHARED / "data"
    if not (data / "fer2013").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{data} is missing but CI is set: CI runs every test, shared data included")
        pytest.skip(f"{data} is absent: these tests need the team's shared FER2013 data next to the checkout")
    return data


@pytest.fixture(scope="session")
def noise_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of 30 fps noise: a source that never ends badly and never shows a face, for daemon tests
    about everything but the models."""
    path = tmp_path_factory.mktemp("clip") / "noise.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(60):
        writer.write(rng.integers(0, 256, (240, 320, 3), np.uint8))
    writer.release()
    return path
