"""The service unit: systemd-analyze verify is clean apart from the app not being installed here, and
the sandboxing scores an exposure of at most 2.0 (systemd-analyze security), both through
firmware_setup/unit_security.sh."""
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT, require_installed

UNIT = ROOT / "systemd/fer-edge.service"


@pytest.fixture(scope="module")
def analyze():
    tool = shutil.which("systemd-analyze")
    require_installed(tool is not None, "systemd-analyze", "systemd")
    return tool


def test_unit_verifies_and_exposure_is_at_most_2(analyze):
    """firmware_setup/unit_security.sh prints the figures quoted in the notes and fails on a missed target."""
    done = subprocess.run(["bash", str(ROOT / "firmware_setup/unit_security.sh"), str(UNIT)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verify: clean" in done.stdout
    score = float(re.search(r"^exposure: ([\d.]+) ", done.stdout, flags=re.M).group(1))
    assert score <= 2.0


def test_security_script_fails_a_weakened_unit(analyze, tmp_path):
    weak = tmp_path / "fer-edge.service"
    text = UNIT.read_text()
    for setting in ("ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
                    "SystemCallFilter=@system-service", "RestrictNamespaces=yes", "ProtectKernelTunables=yes"):
        text = text.replace(setting, "")
    weak.write_text(text + "[Service]\nExecStartPre=/bin/true\nBogusSetting=1\n")
    done = subprocess.run(["bash", str(ROOT / "firmware_setup/unit_security.sh"), str(weak)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert float(re.search(r"^exposure: ([\d.]+) ", done.stdout, flags=re.M).group(1)) > 2.0
    assert "BogusSetting" in done.stdout  # verify's complaint is shown, not swallowed


def test_unit_is_type_notify_with_watchdog_and_closed_devices():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "DevicePolicy=closed", "DeviceAllow=char-video4linux rw",
                 "CapabilityBoundingSet=\n", "SupplementaryGroups=video", "StartLimitBurst="):
        assert line in text, line
