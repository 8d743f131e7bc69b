import importlib
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).with_name("fixtures")


def require_installed(found: bool, what: str, packages: str) -> None:
    """Skip a test whose Debian tools are missing; under CI fail instead: .ci/run installs them."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing but CI is set: .ci/run installs it (apt-get install {packages})")
    pytest.skip(f"needs {what} (apt-get install {packages})")


def require_module(name: str):
    """The module, or a skip naming it where it is not installed (make test-fast installs the runtime only);
    under CI a failure instead: make test installs everything."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing but CI is set: make test installs requirements/test.txt")
        pytest.skip(f"needs {name}: installed by make test (requirements/test.txt), not by make test-fast",
                    allow_module_level=True)


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


def severe(driver) -> list[dict]:
    """The page's console errors so far (the browser fixture keeps its log)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture
def browser():
    """Debian's headless Chromium driven by Selenium, with the page's console log kept for assertions."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    require_installed(bool(chromium and driver_path), "chromium and chromedriver", "chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()
