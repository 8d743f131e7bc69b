"""The opt-in MediaPipe comparison of `python -m edge bench --compare`: it runs in .venv-peers (make
bench-peers), and where mediapipe is missing the report says how to get it."""
import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the peers' venv: make test runs it, make test-fast does not

PEERS_PYTHON = ROOT / ".venv-peers/bin/python"
HINT = "MediaPipe: not installed (make bench-peers)"


def bench(python, *args):
    done = subprocess.run([str(python), "-m", "edge", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(not PEERS_PYTHON.exists(), reason="opt-in: .venv-peers is absent; `make bench-peers` builds it "
                    "(mediapipe and its protobuf < 5 stay out of the runtime venv)")
def test_mediapipe_comparison_runs_in_the_peers_venv():
    report = json.loads(bench(PEERS_PYTHON, "--frames", "5", "--compare", "--json"))
    mediapipe = [c for c in report["comparisons"] if c["name"].startswith("MediaPipe FaceDetection")]
    assert len(mediapipe) == 1 and HINT not in report["notes"]
    c = mediapipe[0]
    assert c["faces_per_frame"] == pytest.approx(1)  # the synthetic frame holds one face
    assert c["total"]["p50_ms"] > 0 and c["total"]["fps"] > 0 and c["cpu_share_of_one_core"] > 0
    assert c["slower_than_shipped_x"] == pytest.approx(c["total"]["p50_ms"] / report["total"]["p50_ms"])


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None,
                    reason="mediapipe is installed here, so the comparison runs instead of the hint")
def test_report_says_how_to_enable_the_mediapipe_comparison():
    out = bench(sys.executable, "--frames", "2", "--compare", "--json", "--markdown")
    report, end = json.JSONDecoder().raw_decode(out)
    assert report["notes"] == [HINT]
    assert not any(c["name"].startswith("MediaPipe") for c in report["comparisons"])
    assert f"\n{HINT}\n" in out[end:]  # the Markdown report, on a line of its own after the comparison table
