"""Named crash points, so tests can kill a real delivery process exactly where it hurts most.

``CWW_REPORTS_FAILPOINT=after-send`` makes the process exit abruptly (no cleanup, no log write)
right after a destination accepted a file — the "crash between send and log write" the delivery
protocol must survive. Unset in production; costs one environment lookup per send.
"""

from __future__ import annotations

import os

ENV = "CWW_REPORTS_FAILPOINT"
EXIT_CODE = 75


def hit(name: str) -> None:
    if os.environ.get(ENV) == name:
        os._exit(EXIT_CODE)
