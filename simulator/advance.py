"""`advance`: one simulated day per transaction.

A day applies what the history planned for it (`sim.pending`: placements that end, cases that
close, families that come back), brings new families (the same `FamilyLife` model as init), and
does the day's routine work against the current database state: contact notes on open cases,
purchases for children in care, the monthly per-diem run, and the untidy parts of a real system —
late corrections to old rows (some stamped in the past, out of order), soft deletes, and rare
hard deletes of rows entered in error. Interrupting `advance` loses at most the day in progress.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from cww.console import progress
from simulator import model
from simulator.build import PendingWriter, family_seed, row_tuple
from simulator.clock import DAY, day_of, dstr, month_start, next_month_start, to_date, tsstr
from simulator.family import FamilyLife, make_note
from simulator.ops import Emitter, Op, fold
from simulator.presets import Preset
from simulator.tables import COLUMNS, PRIMARY_KEYS, RANK, full_columns, split
from simulator.world import Ids, World

ADVANCE_TAG = 1  # separates advance's random streams from init's


def advance_days(
    conn: psycopg.Connection, preset: Preset, seed: int, init_as_of: int, days: int
) -> dict[str, int]:
    world = World(preset, seed, init_as_of)
    totals: dict[str, int] = defaultdict(int)
    with progress() as prog:
        task = prog.add_task("advancing", total=days, detail="")
        for _ in range(days):
            with conn.transaction():
                clock = conn.execute("select clock from sim.state for update").fetchone()[0]  # type: ignore[index]
                day = day_of(clock) + 1
                counters = dict(conn.execute("select table_name, next_id from sim.id_counter").fetchall())
                world.ids = Ids({k: int(v) for k, v in counters.items() if k != "sim.pending"})
                world.now = day
                pending = PendingWriter(int(counters["sim.pending"]) - 1)
                stats = Day(conn, world, day, pending).run()
                conn.execute("update sim.state set clock = %s", (to_date(day),))
                with conn.cursor() as cur:
                    cur.executemany(
                        "update sim.id_counter set next_id = %s where table_name = %s",
                        [(v, k) for k, v in sorted(world.ids.next.items())]
                        + [(pending.seq + 1, "sim.pending")],
                    )
                conn.execute(
                    "insert into sim.day_log values (%s, %s, %s, %s, %s, %s)",
                    (
                        to_date(day),
                        stats["inserted"],
                        stats["updated"],
                        stats["soft_deleted"],
                        stats["hard_deleted"],
                        stats["late_updates"],
                    ),
                )
            for k, v in stats.items():
                totals[k] += v
            prog.update(
                task,
                advance=1,
                detail=f"{to_date(day)} · {stats['inserted']:,} inserts · {stats['updated']:,} updates",
            )
    return dict(totals)


class Day:
    def __init__(self, conn: psycopg.Connection, world: World, day: int, pending: PendingWriter) -> None:
        self.conn = conn
        self.w = world
        self.day = day
        self.pending = pending
        self.rng = random.Random(family_seed(world.seed, 0, day, ADVANCE_TAG))
        self.e = Emitter()
        self.stats = dict.fromkeys(
            (
                "inserted",
                "updated",
                "soft_deleted",
                "hard_deleted",
                "late_updates",
                "new_families",
                "pending_applied",
            ),
            0,
        )

    # ------------------------------------------------------------------ the day
    def run(self) -> dict[str, int]:
        planned = self._load_pending()
        self._new_families()
        self._notes()
        self._purchases()
        if to_date(self.day).day == model.PAY_DAY:
            self._per_diems()
        ops = planned + self.e.ops
        rows, outside, future = fold(ops, self.w.now_ts, self.w.join_ts, self.w.mig_ts)
        by_table: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for f in rows.values():
            by_table[f.table].append(row_tuple(f))
        for t, r in self.e.direct:
            by_table[t].append(r)
        for t in sorted(by_table, key=RANK.__getitem__):
            self._copy(t, full_columns(t), by_table[t])
            self.stats["inserted"] += len(by_table[t])
        self._apply_updates(outside)
        self._copy("sim.pending", full_columns("sim.pending"), self.pending.rows(future))
        self.conn.execute("delete from sim.pending where due_on <= %s", (to_date(self.day),))
        self._untidy()
        return self.stats

    def _copy(self, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        schema, name = split(table)
        stmt = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier(schema, name), sql.SQL(", ").join(map(sql.Identifier, cols))
        )
        with self.conn.cursor() as cur, cur.copy(stmt) as cp:
            for r in rows:
                cp.write_row(r)

    def _load_pending(self) -> list[Op]:
        rows = self.conn.execute(
            """select seq, table_name, kind, pk, data, extract(epoch from ts)::bigint, agency_id
                 from sim.pending where due_on <= %s order by seq""",
            (to_date(self.day),),
        ).fetchall()
        self.stats["pending_applied"] = len(rows)
        return [
            Op(int(ts), int(seq), kind, table, tuple(pk), data, int(ag))
            for seq, table, kind, pk, data, ts, ag in rows
        ]

    def _apply_updates(self, ops: list[Op]) -> None:
        """Updates of rows already in the database, in order, batched per table and column set."""
        batch: list[Op] = []
        for op in ops:
            if batch and (
                op.table != batch[0].table
                or op.data.keys() != batch[0].data.keys()
                or any(b.pk == op.pk for b in batch)
            ):
                self._update_batch(batch)
                batch = []
            batch.append(op)
        if batch:
            self._update_batch(batch)

    def _update_batch(self, batch: list[Op]) -> None:
        table = batch[0].table
        schema, name = split(table)
        cols = list(batch[0].data.keys())
        pks = PRIMARY_KEYS[table]
        payload = []
        for op in batch:
            rec = dict(op.data)
            rec.update(zip(pks, op.pk, strict=True))
            rec["updated_at"] = tsstr(op.ts)
            payload.append(rec)
        set_cols = [*cols, "updated_at"]
        stmt = sql.SQL(
            "update {t} as t set ({cols}) = (select {rcols}) "
            "from jsonb_populate_recordset(null::{t}, %s::jsonb) as r where {cond}"
        ).format(
            t=sql.Identifier(schema, name),
            cols=sql.SQL(", ").join(map(sql.Identifier, set_cols)),
            rcols=sql.SQL(", ").join(sql.Identifier("r", c) for c in set_cols),
            cond=sql.SQL(" and ").join(
                sql.SQL("t.{} = r.{}").format(sql.Identifier(k), sql.Identifier(k)) for k in pks
            ),
        )
        cur = self.conn.execute(stmt, (json.dumps(payload),))
        self.stats["updated"] += cur.rowcount

    # ------------------------------------------------------------------ the world moves on
    def _new_families(self) -> None:
        w = self.w
        agencies = sorted(w.agencies.values(), key=lambda a: a.id)
        g = np.random.Generator(np.random.PCG64([w.seed, self.day, 99]))
        counts = g.poisson([a.families_per_day * model.arrival_rate(self.day) for a in agencies])
        for a, n in zip(agencies, counts.tolist(), strict=True):
            for k in range(n):
                frng = random.Random(family_seed(w.seed, a.id, self.day * 1000 + k, ADVANCE_TAG))
                e = Emitter()
                FamilyLife(w, frng, e).run(a.id, self.day)
                self.e.ops.extend(e.ops)
                self.e.direct.extend(e.direct)
                self.stats["new_families"] += 1

    def _notes(self) -> None:
        """Contact notes on the cases open this morning, at the same rates init used."""
        rows = self.conn.execute(
            """select c.case_id, c.agency_id, c.case_type_code, c.primary_worker_id,
                      exists (select 1 from cpin.investigation i where i.case_id = c.case_id
                                 and i.closed_on is null and not i.is_deleted) as investigating,
                      array(select p.person_id from cpin.case_participant p
                             where p.case_id = c.case_id and p.end_date is null and not p.is_deleted
                             order by p.person_id) as persons
                 from cpin."case" c
                where c.closed_on is null and not c.is_deleted and c.opened_on <= %s
                order by c.case_id""",
            (to_date(self.day),),
        ).fetchall()
        rng, w = self.rng, self.w
        for cid, ag, ctype, wk, investigating, persons in rows:
            key = "CIC" if ctype == "CIC" else "INV" if investigating else "PROT"
            if rng.random() >= model.NOTE_RATE[key] or wk is None:
                continue
            a = w.agencies[ag]
            pid = rng.choice(persons) if persons else None
            self.e.direct.append(
                make_note(
                    rng,
                    w,
                    ag,
                    a.join_day,
                    a.mig_ts,
                    cid,
                    pid,
                    wk,
                    self.day,
                    "CIC" if ctype == "CIC" else "PROT",
                    "the child",
                )
            )

    def _purchases(self) -> None:
        rows = self.conn.execute(
            """select placement_id, person_id, agency_id, provider_id from cpin.placement
                where end_date is null and not is_deleted and provider_id is not null and start_date <= %s
                order by placement_id""",
            (to_date(self.day),),
        ).fetchall()
        rng = self.rng
        for _pl, pid, ag, prov in rows:
            if rng.random() < model.PURCHASES_PER_DAY:
                cat, amount = model.purchase(rng)
                self._payment(ag, pid, prov, None, cat, self.day, self.day, amount)

    def _per_diems(self) -> None:
        """The monthly per-diem run for last month (requested on the PAY_DAY of this month)."""
        m1 = month_start(self.day)
        m0 = month_start(m1 - 1)
        rows = self.conn.execute(
            """select pl.placement_id, pl.person_id, pl.agency_id, pl.provider_id, pl.start_date, pl.end_date,
                      pr.per_diem
                 from cpin.placement pl join cpin.provider pr using (provider_id)
                where pl.start_date < %s and (pl.end_date is null or pl.end_date > %s)
                  and not pl.is_deleted and pr.per_diem is not null
                order by pl.placement_id""",
            (to_date(m1), to_date(m0)),
        ).fetchall()
        assert next_month_start(m0) == m1
        for pl, pid, ag, prov, s, e, per_diem in rows:
            lo = max(m0, day_of(s))
            hi = min(m1, day_of(e) if e else m1)
            if hi > lo:
                self._payment(ag, pid, prov, pl, "PDM", lo, hi - 1, f"{(hi - lo) * float(per_diem):.2f}")

    def _payment(
        self, ag: int, pid: int, prov: int | None, pl: int | None, cat: str, s: int, en: int, amount: str
    ) -> None:
        rng, w = self.rng, self.w
        pay = w.ids.take("cpin.payment")
        row = {
            "payment_id": pay,
            "agency_id": ag,
            "person_id": pid,
            "provider_id": prov,
            "placement_id": pl,
            "category_code": cat,
            "service_from": dstr(s),
            "service_to": dstr(en),
            "amount": amount,
            "status_code": "REQ",
            "requested_on": dstr(self.day),
            "approved_on": None,
            "paid_on": None,
            "is_deleted": False,
        }
        changes = [(model.work_ts(rng, d), ch) for d, ch, _ in model.payment_timeline(rng, self.day)]
        self.e.row_with_changes(
            "cpin.payment", (pay,), row, model.work_ts(rng, self.day), ag, changes, w.now_ts
        )

    # ------------------------------------------------------------------ the untidy parts
    def _random_ids(self, table: str, n: int, recent: int | None = None) -> list[int]:
        """Ids drawn at random (from the `recent` newest when given); some may no longer exist."""
        top = self.w.ids.next[table]
        low = max(1, top - recent) if recent else 1
        return sorted({self.rng.randrange(low, top) for _ in range(n)}) if top > low else []

    def _untidy(self) -> None:
        rng, day = self.rng, self.day
        scale = max(1.0, self.stats["inserted"] / 200)
        now = model.work_ts(rng, day)
        # Late corrections of old rows; some are stamped days in the past (out of order), which an
        # extractor reading only `updated_at > last watermark` would miss.
        corrections = (
            ("cpin.person", "phone = left(phone, 8) || lpad(mod({r}, 10000)::text, 4, '0')"),
            (
                "cpin.referral",
                "referral_source_code = case when referral_source_code = 'OTH' then 'COM' else 'OTH' end",
            ),
            ("cpin.contact_note", "duration_minutes = coalesce(duration_minutes, 0) + 15"),
            ("cpin.person_address", "postal_code = upper(replace(postal_code, ' ', ''))"),
            ("cpin.provider", "capacity = greatest(1, capacity + 1)"),
            ("cpin.investigation", "due_on = due_on + 1"),
        )
        for table, assignment in corrections:
            ids = self._random_ids(table, model.poisson(rng, 2 * scale))
            if not ids:
                continue
            back = rng.random() < 0.2
            ts = now - rng.randint(1, 4) * DAY if back else now
            schema, name = split(table)
            pk = COLUMNS[table][0]
            cur = self.conn.execute(
                sql.SQL(
                    "update {} set " + assignment.format(r=rng.randrange(10_000)) + ", updated_at = %s "
                    "where {} = any(%s) and created_at < %s"
                ).format(sql.Identifier(schema, name), sql.Identifier(pk)),
                (tsstr(ts), ids, tsstr((day - 7) * DAY)),
            )
            self.stats["late_updates"] += cur.rowcount
            self.stats["updated"] += cur.rowcount
        # Soft deletes and (rarer) hard deletes of recent rows entered in error: contact notes and
        # payment requests, which nothing else references.
        for table, cond in (("cpin.contact_note", "true"), ("cpin.payment", "status_code = 'REQ'")):
            schema, name = split(table)
            pk = COLUMNS[table][0]
            candidates = [
                r[0]
                for r in self.conn.execute(
                    sql.SQL(
                        "select {pk} from {t} where not is_deleted and "
                        + cond
                        + " order by {pk} desc limit 500"
                    ).format(pk=sql.Identifier(pk), t=sql.Identifier(schema, name))
                )
            ]
            n_soft = min(len(candidates), model.poisson(rng, 0.6 * scale))
            n_hard = min(len(candidates) - n_soft, model.poisson(rng, 0.4 * scale))
            chosen = rng.sample(candidates, n_soft + n_hard)
            if n_soft:
                cur = self.conn.execute(
                    sql.SQL("update {} set is_deleted = true, updated_at = %s where {} = any(%s)").format(
                        sql.Identifier(schema, name), sql.Identifier(pk)
                    ),
                    (tsstr(now), chosen[:n_soft]),
                )
                self.stats["soft_deleted"] += cur.rowcount
            if n_hard:
                cur = self.conn.execute(
                    sql.SQL("delete from {} where {} = any(%s)").format(
                        sql.Identifier(schema, name), sql.Identifier(pk)
                    ),
                    (chosen[n_soft:],),
                )
                self.stats["hard_deleted"] += cur.rowcount
