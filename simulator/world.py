"""The fixed part of the simulated province: agencies, offices, workers, providers, postal areas.

Built deterministically from (preset, seed, as_of of the init), so `advance` can rebuild the same
pickers (which worker is active on a day, which foster homes an agency has) without reading them
back from the database.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

from simulator import model
from simulator.clock import DAY, dstr
from simulator.geography import AGENCIES, CITIES, LDU_LETTERS, STREET_NAMES, STREET_TYPES, AgencySpec
from simulator.names import COMMUNITIES, REGION_MIX, pick_weighted
from simulator.ops import Emitter
from simulator.presets import Preset
from simulator.tables import ID_TABLES

PRE_HISTORY_FULL_DAYS = 730  # legacy history migrated in full before the shared system started
# Older families are kept only when a child of theirs is still in care when the full history begins:
# long enough for a baby admitted then to be in extended society care until 18 (the stock of children
# in care at the start of the history would otherwise be too small and grow through the history).
PRE_HISTORY_STOCK_DAYS = 11 * 365
# Older families are sampled only when their first referral can lead to an admission (the rest are
# skipped unseen, which is what keeps the warm-up cheap); this factor makes up for the admissions
# that would have happened at their later referrals.
STOCK_RATE_FACTOR = 1.6


class Ids:
    """Next id per table: allocation order is part of the deterministic output."""

    def __init__(self, start: dict[str, int] | None = None) -> None:
        self.next = dict.fromkeys(ID_TABLES, 1)
        self.next["human"] = 1
        if start:
            self.next.update(start)

    def take(self, table: str) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n


@dataclass
class Agency:
    id: int
    spec: AgencySpec
    wave: int
    join_day: int
    join_ts: int
    mig_ts: int
    families_per_day: float
    mix: tuple[tuple[str, float], ...]
    offices: list[int] = field(default_factory=list)
    # role -> (change days, active worker tuples)
    timelines: dict[str, tuple[list[int], list[tuple[int, ...]]]] = field(default_factory=dict)
    providers: dict[str, list[tuple[int, float | None]]] = field(default_factory=dict)


def random_address(rng: random.Random, city: str) -> tuple[str, str, str]:
    """(street, city, postal code) somewhere in `city`."""
    _, fsas, _ = CITIES[city]
    street = f"{rng.randint(1, 2999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
    ldu = f"{rng.randint(0, 9)}{rng.choice(LDU_LETTERS)}{rng.randint(0, 9)}"
    return street, city, f"{rng.choice(fsas)} {ldu}"


def random_phone(rng: random.Random, city: str) -> str:
    area = rng.choice(CITIES[city][2])
    return f"{area}-{rng.randint(200, 989)}-{rng.randint(0, 9999):04d}"


class World:
    """Agencies and their resources, plus the clock boundaries of the history."""

    def __init__(self, preset: Preset, seed: int, init_as_of: int, now: int | None = None) -> None:
        self.preset = preset
        self.seed = seed
        self.init_as_of = init_as_of
        self.now = init_as_of if now is None else now  # the simulated today (end of day = now_ts)
        self.hist_start = init_as_of - round(preset.years * 365.25)
        self.first_day = self.hist_start - PRE_HISTORY_FULL_DAYS - PRE_HISTORY_STOCK_DAYS
        self.ids = Ids()
        self.agencies: dict[int, Agency] = {}
        self.emitter = Emitter()
        self.worker_left: dict[int, int] = {}
        self._managers: list[int] = []
        self._build()

    @property
    def now_ts(self) -> int:
        return (self.now + 1) * DAY - 1

    @property
    def join_ts(self) -> dict[int, int]:
        return {a.id: a.join_ts for a in self.agencies.values()}

    @property
    def mig_ts(self) -> dict[int, int]:
        return {a.id: a.mig_ts for a in self.agencies.values()}

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        p = self.preset
        rng = random.Random(self.seed * 7919 + 1)
        specs = AGENCIES[: p.agencies]
        total_w = sum(s.weight for s in specs)
        span = round(p.years * 365.25 * 0.8)
        for i, spec in enumerate(specs):
            aid = i + 1
            wave = i % p.waves + 1
            join_day = self.hist_start + (wave - 1) * span // max(1, p.waves - 1)
            inv_year = p.investigations_per_year * spec.weight / total_w
            mix = REGION_MIX["Indigenous" if spec.indigenous else spec.region]
            self.agencies[aid] = Agency(
                id=aid,
                spec=spec,
                wave=wave,
                join_day=join_day,
                join_ts=join_day * DAY + 2 * 3600,
                mig_ts=join_day * DAY + 2 * 3600,
                families_per_day=inv_year * model.FAMILIES_PER_INVESTIGATION / 365.25,
                mix=mix,
            )
        for a in self.agencies.values():
            self._emit_agency(rng, a)
            self._build_workers(rng, a)
            self._build_providers(rng, a)

    def _emit_agency(self, rng: random.Random, a: Agency) -> None:
        e = self.emitter
        e.ins(
            "cpin.agency",
            (a.id,),
            {
                "agency_id": a.id,
                "agency_code": a.spec.code,
                "name": a.spec.name,
                "region": a.spec.region,
                "is_indigenous": a.spec.indigenous,
                "joined_on": dstr(a.join_day),
                "migration_wave": a.wave,
                "is_deleted": False,
            },
            a.join_ts,
            a.id,
        )
        n_offices = 1 + (a.spec.weight > 1.5) + (a.spec.weight > 3)
        for k in range(n_offices):
            city = a.spec.cities[k % len(a.spec.cities)]
            street, city, postal = random_address(rng, city)
            oid = self.ids.take("cpin.office")
            a.offices.append(oid)
            e.ins(
                "cpin.office",
                (oid,),
                {
                    "office_id": oid,
                    "agency_id": a.id,
                    "name": f"{city} office" + (f" {k + 1}" if k else ""),
                    "street": street,
                    "city": city,
                    "postal_code": postal,
                    "is_deleted": False,
                },
                a.join_ts,
                a.id,
            )

    def _build_workers(self, rng: random.Random, a: Agency) -> None:
        """Worker slots with turnover: each slot is a chain of people, each hired when the last left."""
        inv_year = a.families_per_day * 365.25 / model.FAMILIES_PER_INVESTIGATION
        counts = {"INT": max(2, math.ceil(inv_year / 70)), "CW": max(3, math.ceil(inv_year / 45))}
        counts["SUP"] = max(1, math.ceil((counts["INT"] + counts["CW"]) / 6))
        counts["MGR"] = len(a.offices)
        events: dict[str, list[tuple[int, int, int]]] = {r: [] for r in counts}  # (day, +1/-1, worker)
        self._managers = []
        supervisors: list[tuple[int, int, int | None]] = []  # (worker, hired, left)
        mix = a.mix
        for role in ("MGR", "SUP", "INT", "CW"):
            for slot in range(counts[role]):
                office = a.offices[slot % len(a.offices)]
                hired = self.first_day - rng.randint(0, 3000)
                while hired <= self.init_as_of:
                    tenure = int(rng.expovariate(1 / (6 * 365))) + 60
                    left: int | None = hired + tenure
                    if left is not None and left > self.init_as_of:
                        left = None
                    wid = self.ids.take("cpin.worker")
                    comm = COMMUNITIES[pick_weighted(rng, mix)]
                    sex = rng.random() < 0.8
                    sup = None
                    if role in ("INT", "CW") and supervisors:
                        active = [w for w, h, l_ in supervisors if h <= hired and (l_ is None or l_ > hired)]
                        sup = rng.choice(active) if active else supervisors[0][0]
                    elif role == "SUP" and self._managers:
                        sup = self._managers[slot % len(self._managers)]
                    if role == "SUP":
                        supervisors.append((wid, hired, left))
                    if role == "MGR" and slot >= len(self._managers):
                        self._managers.append(wid)
                    changes = []
                    if left is not None:
                        self.worker_left[wid] = left
                        changes.append((left * DAY + 20 * 3600, {"left_on": dstr(left)}))
                    self.emitter.row_with_changes(
                        "cpin.worker",
                        (wid,),
                        {
                            "worker_id": wid,
                            "agency_id": a.id,
                            "office_id": office,
                            "given_name": rng.choice(comm.female if sex else comm.male),
                            "surname": rng.choice(comm.surnames),
                            "role_code": role,
                            "supervisor_id": sup,
                            "hired_on": dstr(hired),
                            "left_on": None,
                            "is_deleted": False,
                        },
                        hired * DAY + 15 * 3600,
                        a.id,
                        changes,
                        self.now_ts,
                    )
                    events[role].append((hired, 1, wid))
                    if left is None:
                        break
                    events[role].append((left, -1, wid))
                    hired = left + rng.randint(0, 45)
        for role, evs in events.items():
            evs.sort()
            days: list[int] = []
            sets: list[tuple[int, ...]] = []
            active: set[int] = set()
            for day, sign, wid in evs:
                if sign > 0:
                    active.add(wid)
                else:
                    active.discard(wid)
                if days and days[-1] == day:
                    sets[-1] = tuple(sorted(active))
                else:
                    days.append(day)
                    sets.append(tuple(sorted(active)))
            a.timelines[role] = (days, sets)

    def _build_providers(self, rng: random.Random, a: Agency) -> None:
        inv_year = a.families_per_day * 365.25 / model.FAMILIES_PER_INVESTIGATION
        in_care = 12_000 * inv_year / 80_000
        wanted = {
            "FOS": in_care * 0.5 / 2,
            "PAD": in_care * 0.03,
            "GH": in_care * 0.12 / 6,
            "OPR": in_care * 0.07 / 8,
            "IL": in_care * 0.04,
            "HOS": 1,
            "MHC": 1,
            "YJ": 1,
        }
        for ptype, n in wanted.items():
            a.providers[ptype] = []
            for _ in range(max(1, round(n))):
                pid, per_diem = self.new_provider(rng, a, ptype, self.first_day - rng.randint(0, 2000))
                a.providers[ptype].append((pid, per_diem))

    def new_provider(
        self,
        rng: random.Random,
        a: Agency,
        ptype: str,
        opened: int,
        name: str | None = None,
        emitter: Emitter | None = None,
    ) -> tuple[int, float | None]:
        """A provider row (world providers, or a kin / customary home created for one child)."""
        pid = self.ids.take("cpin.provider")
        city = rng.choice(a.spec.cities)
        street, city, postal = random_address(rng, city)
        lo, hi = model.PER_DIEM.get(ptype, (0, 0))
        per_diem = round(rng.uniform(lo, hi), 2) if hi else None
        cap_lo, cap_hi = model.CAPACITY[ptype]
        label = {
            "FOS": "Foster home",
            "KIN": "Kin home",
            "PAD": "Adoption probation home",
            "CUS": "Customary care home",
            "GH": "Group home",
            "OPR": "Residential program",
            "IL": "Independent living",
            "HOS": "Hospital",
            "MHC": "Children's mental health centre",
            "YJ": "Youth justice facility",
        }[ptype]
        (emitter or self.emitter).ins(
            "cpin.provider",
            (pid,),
            {
                "provider_id": pid,
                "agency_id": a.id,
                "provider_type_code": ptype,
                "name": name or f"{label} {city} #{pid}",
                "street": street,
                "city": city,
                "postal_code": postal,
                "capacity": rng.randint(cap_lo, cap_hi),
                "per_diem": None if per_diem is None else f"{per_diem:.2f}",
                "opened_on": dstr(opened),
                "closed_on": None,
                "is_deleted": False,
            },
            opened * DAY + 16 * 3600,
            a.id,
        )
        return pid, per_diem

    # ------------------------------------------------------------------ pickers
    def active_workers(self, agency: int, role: str, day: int) -> tuple[int, ...]:
        days, sets = self.agencies[agency].timelines[role]
        i = bisect.bisect_right(days, min(day, self.init_as_of)) - 1
        return sets[max(i, 0)]

    def worker(self, rng: random.Random, agency: int, role: str, day: int) -> int:
        ws = self.active_workers(agency, role, day)
        if not ws:
            ws = self.active_workers(agency, role, self.init_as_of)
        return rng.choice(ws)

    def provider(self, rng: random.Random, agency: int, ptype: str) -> tuple[int, float | None]:
        return rng.choice(self.agencies[agency].providers[ptype])

    def community(self, rng: random.Random, agency: int) -> str:
        return pick_weighted(rng, self.agencies[agency].mix)
