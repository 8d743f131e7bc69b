"""The one base of every settings model, the daemon's and training's: unknown keys are rejected (a typo
is an error that names the key, not a silently ignored setting), and objects are frozen because every
thread reads the same configuration, so nobody may change it under the others."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
