"""Row operations, and folding them into the state of the world at the simulated "now".

A life-cycle (a family's referrals, cases, children in care…) is sampled in one go, as a list of
inserts and updates stamped with the moment they happen. Folding that list at the clock gives the
rows that exist now (with created_at / updated_at from the operations that built them) and the
operations still in the future, which are kept in `sim.pending` for `advance` to apply on their
day. Init and advance share this code, so both follow exactly the same model of behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass(slots=True)
class Op:
    ts: int
    seq: int
    kind: str  # "I" insert, "U" update
    table: str
    pk: tuple[Any, ...]
    data: Row
    agency: int
    upd_ts: int | None = None  # an insert already carrying later changes (folded at creation)


@dataclass
class Emitter:
    """Collects the operations and the insert-only rows (contact notes) of one life-cycle."""

    ops: list[Op] = field(default_factory=list)
    direct: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    _seq: int = 0

    def ins(
        self, table: str, pk: tuple[Any, ...], row: Row, ts: int, agency: int, upd_ts: int | None = None
    ) -> None:
        self._seq += 1
        self.ops.append(Op(ts, self._seq, "I", table, pk, row, agency, upd_ts))

    def upd(self, table: str, pk: tuple[Any, ...], changes: Row, ts: int, agency: int) -> None:
        self._seq += 1
        self.ops.append(Op(ts, self._seq, "U", table, pk, changes, agency))

    def row_with_changes(
        self,
        table: str,
        pk: tuple[Any, ...],
        row: Row,
        ts: int,
        agency: int,
        changes: list[tuple[int, Row]],
        now_ts: int,
    ) -> None:
        """Insert a row whose later changes are already known: those up to now are folded in."""
        if ts > now_ts:
            self.ins(table, pk, row, ts, agency)
            for cts, ch in changes:
                self.upd(table, pk, ch, max(cts, ts + 1), agency)
            return
        upd_ts = None
        for cts, ch in changes:
            cts = max(cts, ts + 1)
            if cts <= now_ts:
                row.update(ch)
                upd_ts = cts
            else:
                self.upd(table, pk, ch, cts, agency)
        self.ins(table, pk, row, ts, agency, upd_ts)


@dataclass(slots=True)
class Folded:
    """A row as it stands at the clock."""

    table: str
    data: Row
    created: int
    updated: int
    agency: int
    born: int  # when the operation really happened (before migration re-stamping)


def fold(
    ops: list[Op], now_ts: int, join_ts: dict[int, int], mig_ts: dict[int, int]
) -> tuple[dict[tuple[str, tuple[Any, ...]], Folded], list[Op], list[Op]]:
    """Split operations at `now_ts`: rows as of now, updates of rows that are not in this batch
    (advance: rows already in the database), and the operations still to come.

    Anything that happened before the row's agency joined the shared system happened in its legacy
    system: it appears at the migration, stamped with the migration's timestamp.
    """
    rows: dict[tuple[str, tuple[Any, ...]], Folded] = {}
    outside: list[Op] = []
    future: list[Op] = []
    for op in sorted(ops, key=lambda o: (o.ts, o.seq)):
        if op.ts > now_ts:
            future.append(op)
            continue
        a = op.agency
        eff = op.ts if op.ts >= join_ts[a] else mig_ts[a]
        key = (op.table, op.pk)
        if op.kind == "I":
            upd = eff
            if op.upd_ts is not None:
                upd = op.upd_ts if op.upd_ts >= join_ts[a] else mig_ts[a]
            rows[key] = Folded(op.table, op.data, eff, max(eff, upd), a, op.ts)
        else:
            f = rows.get(key)
            if f is None:
                outside.append(op)
            else:
                f.data.update(op.data)
                f.updated = max(f.updated, eff)
    return rows, outside, future
