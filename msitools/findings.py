"""Non-fatal findings: one type for everything a reader notices but does not stop for.

A :class:`Finding` says *where* (a chain such as ``hotfix.msi > x.msp > PCW_CAB``, a
table, a file), *what* (one sentence) and *how much it matters* (:class:`Level`), in the
spirit of olefile's graded defects.  Reports keep the one-line text under their
historical keys (``issues``, ``anomalies``, ``notes``...) and add the structured
findings beside them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Level(str, enum.Enum):
    """How much a finding matters: information, a warning, or an error (something could not be read)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One thing noticed: where, what, and its level."""

    where: str
    message: str
    level: Level = Level.WARNING

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "message": self.message, "level": self.level.value}


def texts(findings: list[Finding]) -> list[str]:
    """The one-line texts of *findings* (the historical JSON lists)."""
    return [str(f) for f in findings]


def dicts(findings: list[Finding]) -> list[dict[str, Any]]:
    """The structured form of *findings* (``{"where", "message", "level"}``)."""
    return [f.to_dict() for f in findings]
