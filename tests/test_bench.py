import json
import subprocess
import sys

import pytest

from edge.device_info import cpu_clocks
from edge.devtools.bench import markdown, thermal_line
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # benchmark runs: make test runs it, make test-fast does not


def bench(*args):
    return subprocess.run([sys.executable, "-m", "edge", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("source", ["synthetic", "media/demo.mp4"])
def test_bench_json_and_markdown_have_every_field(source, tmp_path):
    done = bench("--source", source, "--frames", "15", "--threads", "1,2", "--json", "--markdown",
                 "--plot", str(tmp_path / "h.png"))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout[:done.stdout.rindex("}") + 1])
    for stage in ("capture", "preprocess", "detect", "crop", "classify", "track"):
        assert set(report["stages"][stage]) == {"p50_ms", "p95_ms", "p99_ms", "max_ms"}
        assert report["stages"][stage]["p50_ms"] >= 0
    assert report["total"]["p50_ms"] > 0 and report["total"]["fps"] > 0
    assert [r["threads"] for r in report["runs"]] == [1, 2] and all(r["frames"] == 15 for r in report["runs"])
    assert report["device"]["cpu"] and report["device"]["python"] and report["runtime"].startswith("ai-edge-litert")
    assert report["peak_rss_mb"] > 0 and all(v > 0 for v in report["model_sizes"].values())
    assert report["models"] == ["blazeface_short_int8", "fer_student_int8"]  # the manifest's defaults
    assert report["daemon_allocator_settings"] is True  # glibc here: frames are allocated as in the daemon
    assert "| 2 | total |" in done.stdout and (tmp_path / "h.png").stat().st_size > 5000
    assert "Temperature before -> after: " in done.stdout


def test_bench_compares_float_models_and_the_haar_pipeline():
    done = bench("--frames", "10", "--compare", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    names = [c["name"] for c in report["comparisons"]]
    assert any("float" in n for n in names) and any("Haar" in n for n in names)
    assert report["runs"][0]["faces_per_frame"] == 1  # the synthetic frame holds one face, as the target says
    for c in report["comparisons"]:
        assert c["slower_than_shipped_x"] == pytest.approx(c["total"]["p50_ms"] / report["total"]["p50_ms"])


def test_the_thermal_line_shows_each_zone_and_names_throttling_that_set_in():
    idle = {"policy0": {"mhz": 600.0, "allowed_mhz": 1800.0, "max_mhz": 1800.0}}
    capped = {"policy0": {"mhz": 1500.0, "allowed_mhz": 1500.0, "max_mhz": 1800.0}}
    quiet = {"zones_c": {"cpu-thermal": 51.2}, "cpu_clocks": idle, "vcgencmd_temp": "temp=51.0'C",
             "vcgencmd_throttled": "throttled=0x0"}
    hot = {"zones_c": {"cpu-thermal": 80.6}, "cpu_clocks": capped, "vcgencmd_temp": "temp=80.5'C",
           "vcgencmd_throttled": "throttled=0x20006"}
    line = thermal_line(quiet, hot)
    assert "cpu-thermal 51.2 -> 80.6 C" in line and "temp=51.0'C -> temp=80.5'C" in line
    assert "policy0 600 -> 1500 MHz (may run at 1500, at most 1800)" in line
    assert "throttled=0x0 -> throttled=0x20006 (ARM frequency capping, throttling now: not comparable" in line
    assert "not comparable" not in thermal_line(quiet, quiet)
    none = {"zones_c": {}, "cpu_clocks": {}, "vcgencmd_temp": None, "vcgencmd_throttled": None}
    assert thermal_line(none, none) == "Temperature before -> after: no thermal sensor readable here."


def test_the_markdown_names_a_jetsons_power_mode():
    off = {"zones_c": {}, "cpu_clocks": {}, "vcgencmd_temp": None, "vcgencmd_throttled": None}
    device = {"cpu": "ARMv8 Processor rev 1 (v8l)", "cores": 6, "machine": "aarch64", "os": "Ubuntu 22.04",
              "board": "NVIDIA Jetson Orin Nano Developer Kit", "jetson_power_mode": "NV Power Mode: 15W\n0"}
    report = {"device": device,
              "runtime": "ai-edge-litert 2.3.0", "source": "synthetic", "models": ["a", "b"], "runs": [],
              "comparisons": [], "notes": [], "thermal_before": off, "thermal_after": off, "peak_rss_mb": 1,
              "model_sizes": {}}
    assert markdown(report).startswith("Device: ARMv8 Processor rev 1 (v8l) (6 cores), "
                                       "NVIDIA Jetson Orin Nano Developer Kit (NV Power Mode: 15W), Ubuntu 22.04;")


def test_cpu_clocks_reads_each_cpufreq_policy(tmp_path):
    for policy, values in {"policy0": ("1200000", "1500000", "1800000"), "policy4": ("2000000", "2400000", "2400000"),
                           "policy6": ("", "1", "1")}.items():  # policy6: unreadable now, left out
        folder = tmp_path / "sys/devices/system/cpu/cpufreq" / policy
        folder.mkdir(parents=True)
        for name, value in zip(("scaling_cur_freq", "scaling_max_freq", "cpuinfo_max_freq"), values):
            (folder / name).write_text(value + "\n")
    assert cpu_clocks(tmp_path) == {"policy0": {"mhz": 1200.0, "allowed_mhz": 1500.0, "max_mhz": 1800.0},
                                    "policy4": {"mhz": 2000.0, "allowed_mhz": 2400.0, "max_mhz": 2400.0}}
    assert cpu_clocks(tmp_path / "nowhere") == {}


def test_bench_runs_the_models_named():
    done = bench("--frames", "5", "--models", "mini_xception_int8, blazeface_short_float", "--json", "--markdown")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout[:done.stdout.rindex("}") + 1])
    assert report["models"] == report["runs"][0]["models"] == ["blazeface_short_float", "mini_xception_int8"]
    assert report["runs"][0]["faces_per_frame"] == 1 and report["total"]["p50_ms"] > 0
    assert "models blazeface_short_float + mini_xception_int8" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--models", "fer_student_int9"], "has no face detector or emotion model named fer_student_int9; it lists: "),
    (["--models", "fer_student_int8,mini_xception_int8"], "names two emotion models"),
    (["--models", ","], "--models takes manifest names"),
    (["--threads", "0"], "--threads must be positive"),
    (["--threads", "one"], "--threads takes numbers"),
    (["--frames", "0"], "--frames must be at least 1"),
    (["--source", "/nonexistent.mp4", "--frames", "2"], "no such file, folder or camera"),
])
def test_bad_arguments_give_clear_errors(args, message):
    done = bench(*args)
    assert done.returncode != 0 and message in done.stderr
