"""Named pause points, so reliability tests can SIGKILL the extractor at exact moments.

Production runs never set ``CWW_EXTRACT_PAUSE_AT``; then ``checkpoint`` is a no-op. A test sets it
to a point name, waits for the marker file to appear, and kills the process while it sleeps there.
"""

from __future__ import annotations

import time
from pathlib import Path

from extract.options import ExtractOptions

POINTS = (
    "after_lock",  # lock held, nothing loaded yet
    "mid_copy",  # first block of rows already streamed into the warehouse, transaction open
    "after_merge",  # merge done, watermark written, not yet committed
    "after_commit",  # first table committed, later tables not started
)


def checkpoint(name: str, options: ExtractOptions) -> None:
    """Sleep forever at ``name`` when the test hook asks for it (after writing the marker file)."""
    if options.pause_at != name:
        return
    if options.pause_file:
        Path(options.pause_file).write_text(name)
    while True:
        time.sleep(3600)
