"""schemathesis against the app's own OpenAPI document (GET /api/openapi.json), served by waitress on
loopback with a real SQLite session store: every operation, every check (no 5xx, responses and status
codes as documented, invalid data refused, valid data accepted, auth enforced, links followed through
start -> mark -> stop -> export -> erase). A fixed seed keeps CI reproducible; FER_EDGE_SCHEMATHESIS_SEED
picks another one to look further."""
import os
import re
import subprocess
import sys

import pytest

from edge.web.openapi import PYTHON_SPACE
from edge.web.security import AccessPolicy
from tests.conftest import ROOT
from tests.helpers.served import TOKEN, Served

pytestmark = pytest.mark.slow  # generated API requests: make test runs it, make test-fast does not

SEED = os.environ.get("FER_EDGE_SCHEMATHESIS_SEED", "2")


def schemathesis(served: Served, headers: dict[str, str], tmp_path) -> tuple[int, str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(ROOT / "tests/schemathesis.toml"),
        "run", f"http://{served.host}/api/openapi.json", "--checks", "all", "--max-examples", "50",
        "--seed", SEED, "--workers", "1", "--report", "junit", "--report-dir", str(tmp_path),
        # an event stream never ends, so no response could be checked: tests/test_daemon.py reads it instead
        "--exclude-path", "/api/stream",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    # in tmp_path: schemathesis keeps a cache folder in its working directory
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("mode", ["token", "no token"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path, mode):
    # schemathesis sends wrong tokens on purpose (its auth checks): no lock-out here, test_security.py tests that
    served = Served(tmp_path, AccessPolicy(TOKEN if mode == "token" else None, failure_limit=10**9))
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"} if mode == "token" else \
            {"X-CSRF-Token": served.access.csrf_token}
        code, output = schemathesis(served, headers, tmp_path)
    finally:
        served.close()
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    operations = re.search(r"Tested: (\d+)", output)
    print(f"schemathesis ({mode}): {operations and operations.group(1)} operations, "
          f"{summary and summary.group(1)} cases generated, {summary and summary.group(2)} passed")
    assert code == 0, output[-6000:]
    assert summary and summary.group(1) == summary.group(2) and int(summary.group(1)) > 300, output[-3000:]
    assert int(operations.group(1)) >= 14  # every documented operation but the event stream


def test_the_documents_idea_of_white_space_is_the_apis():
    """The question pattern names exactly what str.strip() drops (JSON Schema's "\\S" would not)."""
    space = re.compile(f"[{PYTHON_SPACE}]")
    assert [c for c in map(chr, range(0x110000)) if bool(space.fullmatch(c)) != c.isspace()] == []
