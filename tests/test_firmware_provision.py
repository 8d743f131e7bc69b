"""First-boot provisioning templates (firmware_setup/provision/): they parse with their placeholders,
render.py fills them so that awkward values (quotes, backslashes, colons) come out exactly, refuses
missing, unknown or malformed settings, and the first-boot unit verifies."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_installed, require_module

yaml = require_module("yaml")

pytestmark = pytest.mark.slow  # provisioning: make test runs it, make test-fast does not

PROVISION = ROOT / "firmware_setup/provision"
RENDER = PROVISION / "render.py"
VALUES = {
    "HOSTNAME": "booth-07",
    "ADMIN_USER": "technician",
    "ADMIN_PASSWORD_HASH": "$6$salt$K9p/2xQ.example",
    "SSH_PUBLIC_KEY": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx technician@laptop",
    "WIFI_SSID": "Cafe \"Booth\": 2.4 GHz",
    "WIFI_PASSWORD": "it's a \\secret\\: #1 $HOME",
    "WIFI_COUNTRY": "DE",
    "TIMEZONE": "Europe/Berlin",
}


def write_env(path, values):
    path.write_text("# a booth\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def render(tmp_path, values=VALUES, *extra):
    boot = tmp_path / "bootfs"
    boot.mkdir(exist_ok=True)
    if not (boot / "cmdline.txt").exists():
        (boot / "cmdline.txt").write_text("console=serial0,115200 root=PARTUUID=1234-02 rootwait quiet\n")
    env = write_env(tmp_path / "booth.env", values)
    done = subprocess.run([sys.executable, str(RENDER), "--env", str(env), "--boot", str(boot), *extra],
                          capture_output=True, text=True, timeout=60)
    return done, boot


@pytest.mark.parametrize("name", ["user-data", "network-config", "meta-data"])
def test_templates_are_yaml_with_their_placeholders(name):
    text = (PROVISION / name).read_text()
    assert yaml.safe_load(text)  # a placeholder sits inside a quoted string, so the template itself parses
    assert re.search(r"@[A-Z_]+@", text)
    if name == "user-data":
        assert text.startswith("#cloud-config\n")


def test_example_env_covers_every_placeholder_and_renders(tmp_path):
    example = PROVISION / "booth.env.example"
    boot = tmp_path / "bootfs"
    boot.mkdir()
    (boot / "cmdline.txt").write_text("root=PARTUUID=1-02 rootwait\n")
    done = subprocess.run([sys.executable, str(RENDER), "--env", str(example), "--boot", str(boot),
                           "--imager-bookworm"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_rendered_cloud_init_carries_the_values_exactly(tmp_path):
    done, boot = render(tmp_path)
    assert done.returncode == 0, done.stderr
    user = yaml.safe_load((boot / "user-data").read_text())
    assert (boot / "user-data").read_text().startswith("#cloud-config\n")
    assert user["hostname"] == "booth-07" and user["timezone"] == "Europe/Berlin"
    admin = user["users"][0]
    assert admin["name"] == "technician" and admin["hashed_passwd"] == VALUES["ADMIN_PASSWORD_HASH"]
    assert admin["ssh_authorized_keys"] == [VALUES["SSH_PUBLIC_KEY"]] and user["ssh_pwauth"] is False
    assert ["systemctl", "enable", "fer-edge-firstboot.service"] in user["runcmd"]
    wifi = yaml.safe_load((boot / "network-config").read_text())["network"]["wifis"]["wlan0"]
    assert wifi["access-points"] == {VALUES["WIFI_SSID"]: {"password": VALUES["WIFI_PASSWORD"]}}
    assert wifi["regulatory-domain"] == "DE"
    assert yaml.safe_load((boot / "meta-data").read_text()) == {"instance-id": "fer-edge-booth-07"}
    assert (boot / "fer-edge-firstboot.service").read_text() == (PROVISION / "fer-edge-firstboot.service").read_text()
    assert not (boot / "firstrun.sh").exists()  # only for --imager-bookworm


def test_bookworm_firstrun_gets_the_values_and_cmdline_is_hooked_once(tmp_path):
    done, boot = render(tmp_path, VALUES, "--imager-bookworm")
    assert done.returncode == 0, done.stderr
    script = (boot / "firstrun.sh").read_text()
    values_block = script.split("# -- values", 1)[1].split("# -- end of values", 1)[0]
    names = list(VALUES)
    shown = subprocess.run(["bash", "-c", values_block.split("\n", 1)[1] + "".join(
        f'printf "%s\\0" "${"HOSTNAME_NEW" if n == "HOSTNAME" else n}";' for n in names)],
        capture_output=True, text=True, timeout=30)
    assert shown.stdout.split("\0")[:-1] == [VALUES[n] for n in names]
    assert subprocess.run(["bash", "-n", str(boot / "firstrun.sh")]).returncode == 0
    done, boot = render(tmp_path, VALUES, "--imager-bookworm")  # a second run must not hook twice
    cmdline = (boot / "cmdline.txt").read_text()
    assert cmdline.count("systemd.run=/boot/firmware/firstrun.sh") == 1 and cmdline.endswith("kernel-command-line.target\n")
    assert cmdline.count("\n") == 1  # the kernel reads one line


@pytest.mark.parametrize("change, message", [
    ({"WIFI_PASWORD": "x"}, "unknown WIFI_PASWORD (a typo?)"),
    ({"HOSTNAME": None}, "missing HOSTNAME"),
    ({"HOSTNAME": "Booth_7"}, "HOSTNAME='Booth_7' is not valid"),
    ({"WIFI_PASSWORD": "short"}, "8 to 63 characters"),
    ({"ADMIN_PASSWORD_HASH": "hunter2"}, "openssl passwd -6"),
])
def test_bad_settings_are_refused_with_the_reason(tmp_path, change, message):
    values = {k: v for k, v in {**VALUES, **change}.items() if v is not None}
    done, boot = render(tmp_path, values)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (boot / "user-data").exists()  # nothing half-written on the card


def test_firstboot_unit_verifies():
    analyze = shutil.which("systemd-analyze")
    require_installed(analyze is not None, "systemd-analyze", "systemd")
    done = subprocess.run([analyze, "verify", str(PROVISION / "fer-edge-firstboot.service")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr
