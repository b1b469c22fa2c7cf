"""What every delivery backend offers the runner."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cww.errors import CwwError


class DeliveryError(CwwError):
    """A send that failed for a reason worth retrying later (server down, auth refused …)."""


@dataclass(frozen=True)
class SendContext:
    """Facts about the file being sent, for subjects, message ids and remote names."""

    report: str
    title: str
    description: str
    agency: str
    period: str
    file_name: str
    checksum: str
    rows: int


class Sender(Protocol):
    key: str

    def holds(self, ctx: SendContext) -> bool | None:
        """True if the destination already has exactly this file; None if it cannot be asked."""
        ...

    def send(self, path: Path, ctx: SendContext) -> str:
        """Deliver the file; return a receipt for the log. Raise DeliveryError on failure."""
        ...


def secret(env: str) -> str:
    """A secret from the environment (validated before sending; this is the last line of defence)."""
    value = os.environ.get(env)
    if not value:
        raise DeliveryError(f"environment variable {env} is not set. Fix: export it where reports run.")
    return value
