import os
from pathlib import Path

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
