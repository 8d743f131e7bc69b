"""One self-test row (PASS / WARN / FAIL with what was found and what to do), the table and the exit code."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
_RANK = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Result:
    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)  # the measured figures, for --json

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail, "data": self.data}


def worst(*statuses: str) -> str:
    return max(statuses, key=_RANK.__getitem__, default=PASS)


def overall(results: list[Result]) -> str:
    return worst(*(r.status for r in results))


def exit_code(results: list[Result]) -> int:
    """0 when nothing failed (warnings allowed), 1 when any check failed."""
    return 1 if overall(results) == FAIL else 0


def summary(results: list[Result]) -> str:
    fails = sum(r.status == FAIL for r in results)
    warns = sum(r.status == WARN for r in results)
    return f"{overall(results)}: {len(results)} checks, {fails} failed, {warns} warned"


def table(results: list[Result], width: int = 110) -> str:
    name_w = max(len("check"), *(len(r.name) for r in results))
    indent = name_w + len("  status  ")
    lines = [f"{'check':<{name_w}}  status  detail"]
    for r in results:
        # long advice wraps under the detail column instead of running off a technician's terminal
        wrapped = textwrap.wrap(r.detail, max(width - indent, 40)) or [""]
        lines.append(f"{r.name:<{name_w}}  {r.status:<6}  {wrapped[0]}")
        lines += [" " * indent + more for more in wrapped[1:]]
    return "\n".join([*lines, "", summary(results)]) + "\n"
