"""Named crash points, so tests can kill a real delivery process exactly where it hurts most.

``CWW_REPORTS_FAILPOINT=after-send`` makes the process exit abruptly (no cleanup, no log write)
right after a destination accepted a file — the "crash between send and log write" the delivery
protocol must survive; ``after-send:<destination key>`` does it for one destination only.
Unset in production; costs one environment lookup per send.
"""

from __future__ import annotations

import os

ENV = "CWW_REPORTS_FAILPOINT"
EXIT_CODE = 75


def hit(name: str, where: str = "") -> None:
    """Exit now if the environment names this point (``after-send``) or this point at ``where``."""
    wanted = os.environ.get(ENV)
    if wanted and (wanted == name or wanted == f"{name}:{where}"):
        os._exit(EXIT_CODE)
