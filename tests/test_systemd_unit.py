"""The service unit: systemd-analyze verify is clean apart from the app not being installed here, and
the sandboxing scores an exposure of at most 2.0 (systemd-analyze security)."""
import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "systemd/fer-edge.service"


@pytest.fixture(scope="module")
def analyze():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing but CI is set: .ci/run installs Debian's systemd")
        pytest.skip("needs systemd-analyze (Debian package systemd)")
    return tool


def test_unit_verifies(analyze):
    done = subprocess.run([analyze, "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and "/opt/fer-edge/.venv/bin/python is not executable" not in line]
    assert problems == []


def test_unit_exposure_is_at_most_2(analyze):
    done = subprocess.run([analyze, "security", "--offline=yes", str(UNIT)], capture_output=True, text=True,
                          timeout=60)
    score = float(re.search(r"Overall exposure level for fer-edge.service: ([\d.]+)", done.stdout).group(1))
    assert score <= 2.0


def test_unit_is_type_notify_with_watchdog_and_closed_devices():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "DevicePolicy=closed", "DeviceAllow=char-video4linux rw",
                 "CapabilityBoundingSet=\n", "SupplementaryGroups=video", "StartLimitBurst="):
        assert line in text, line
