"""Peak memory of a child process tree, shared by the benchmark scripts.

Benchmarks run the real CLI as a subprocess; its peak resident memory (children included, e.g.
dbt or DuckDB workers) is sampled from a thread while the caller waits for it.
"""

from __future__ import annotations

import subprocess
import threading

import psutil


def communicate_with_peak_rss(proc: subprocess.Popen[str], interval: float = 0.2) -> tuple[str, str, int]:
    """`proc.communicate()` plus the peak RSS in bytes of the process and its descendants."""
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            p = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not done.is_set():
            try:
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak = max(peak, rss)
            except psutil.Error:
                pass
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    return out or "", err or "", peak
