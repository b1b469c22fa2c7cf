"""Building the history: every family that ever came to an agency's attention, streamed to COPY.

Families arrive as a Poisson process per agency (seasonal, fewer on weekends). Each is sampled
whole by `FamilyLife`, folded at the clock, and written; its future operations go to
`sim.pending`. Memory stays bounded by one family plus the COPY batches.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from simulator import model
from simulator.clock import DAY, dstr, tsstr
from simulator.copysink import CopySink
from simulator.family import FamilyLife
from simulator.geography import postal_regions
from simulator.ops import Emitter, Folded, Op, fold
from simulator.tables import COLUMNS, NO_TIMESTAMPS
from simulator.world import PRE_HISTORY_FULL_DAYS, STOCK_RATE_FACTOR, World

PENDING_TABLE = "sim.pending"
PENDING_COLUMNS = ("seq", "due_on", "table_name", "kind", "pk", "data", "ts", "agency_id")


def family_seed(seed: int, agency: int, serial: int, tag: int = 0) -> int:
    """A distinct, reproducible random stream per family (tag separates init from advance)."""
    return ((seed * 1_000_003 + tag) * 1_009 + agency) * 10_000_019 + serial


def arrivals(world: World, start: int, end: int, stock_until: int) -> list[tuple[int, int, int]]:
    """(day, agency, serial) of new families from `start` to `end` inclusive, in time order."""
    out: list[tuple[int, int, int]] = []
    days = np.arange(start, end + 1)
    season = np.array(
        [model.arrival_rate(int(d)) * (STOCK_RATE_FACTOR if d < stock_until else 1.0) for d in days]
    )
    for a in world.agencies.values():
        rng = np.random.Generator(np.random.PCG64([world.seed, a.id, 17]))
        counts = rng.poisson(a.families_per_day * season)
        serial = 0
        for d, c in zip(days.tolist(), counts.tolist(), strict=True):
            for _ in range(c):
                serial += 1
                out.append((d, a.id, serial))
    out.sort()
    return out


def row_tuple(f: Folded) -> tuple[Any, ...]:
    data = f.data
    vals = tuple(data.get(c) for c in COLUMNS[f.table])
    if f.table in NO_TIMESTAMPS:
        return vals
    return (*vals, tsstr(f.created), tsstr(f.updated), bool(data.get("is_deleted", False)))


class PendingWriter:
    """Future operations, as rows of sim.pending."""

    def __init__(self, seq: int = 0) -> None:
        self.seq = seq

    def rows(self, ops: list[Op]) -> list[tuple[Any, ...]]:
        out = []
        for op in ops:
            self.seq += 1
            out.append(
                (
                    self.seq,
                    dstr(op.ts // DAY),
                    op.table,
                    op.kind,
                    json.dumps(list(op.pk)),
                    json.dumps(op.data),
                    tsstr(op.ts),
                    op.agency,
                )
            )
        return out


def correct_late(rng: random.Random, f: Folded, now_ts: int) -> None:
    """Some rows are corrected long after they were written (a new phone number, a fixed source)."""
    if f.table == "cpin.person" and f.data.get("phone"):
        f.data["phone"] = f.data["phone"][:-4] + f"{rng.randint(0, 9999):04d}"
    elif f.table == "cpin.referral":
        f.data["referral_source_code"] = "OTH" if f.data["referral_source_code"] != "OTH" else "COM"
    else:
        return
    f.updated = max(f.updated, min(now_ts, f.updated + rng.randint(DAY, 200 * DAY)))


def write_ops(sink: CopySink, pending: PendingWriter, world: World, e: Emitter, rng: random.Random) -> None:
    rows, outside, future = fold(e.ops, world.now_ts, world.join_ts, world.mig_ts)
    if outside:
        raise AssertionError(f"update of a row outside its life-cycle: {outside[0]}")
    for f in rows.values():
        if f.table in ("cpin.person", "cpin.referral") and rng.random() < model.HISTORY_CORRECTION_P:
            correct_late(rng, f, world.now_ts)
        sink.write(f.table, row_tuple(f))
    for t, r in e.direct:
        sink.write(t, r)
    for r in pending.rows(future):
        sink.write(PENDING_TABLE, r)


def generate(world: World, sink: CopySink, on_progress: Callable[[int, int], None]) -> dict[str, int]:
    """Write the whole history up to world.now; returns counters worth reporting."""
    pending = PendingWriter()
    rng = random.Random(world.seed)
    write_ops(sink, pending, world, world.emitter, rng)
    for r in postal_regions():
        sink.write("cpin.postal_region", r)
    stock_until = world.hist_start - PRE_HISTORY_FULL_DAYS
    arr = arrivals(world, world.first_day, world.now, stock_until)
    total = len(arr)
    kept = 0
    last = time.perf_counter()
    for i, (day, agency, serial) in enumerate(arr):
        frng = random.Random(family_seed(world.seed, agency, serial))
        e = Emitter()
        if FamilyLife(world, frng, e).run(agency, day, stock_only=day < stock_until):
            kept += 1
            write_ops(sink, pending, world, e, frng)
        if i % 500 == 0 and time.perf_counter() - last > 0.25:
            on_progress(i, total)
            last = time.perf_counter()
    on_progress(total, total)
    return {"families": kept, "pending_seq": pending.seq}
