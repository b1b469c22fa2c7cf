"""A family's life-cycle in the system: referrals, investigations, cases, children in care.

Sampled event by event (durations drawn, not simulated day by day), so five years of a province
cost one pass over its families. Everything a family does is emitted as operations stamped with
the moment they happen (see `simulator.ops`); the caller folds them at the clock.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

from simulator import model
from simulator.clock import DAY, add_years, dstr, month_start, next_month_start, tsstr
from simulator.model import pick_weighted, poisson, work_ts
from simulator.names import COMMUNITIES, NOTE_TEMPLATES, nicknames_of, typo
from simulator.ops import Emitter
from simulator.world import PRE_HISTORY_FULL_DAYS, World, random_address, random_phone

RECURRENCE_HORIZON_DAYS = 730  # future referrals are pre-sampled at most this far past the clock


@dataclass
class Human:
    hid: int
    given: str
    middle: str | None
    surname: str
    birth: int
    sex: str
    adult: bool
    twin: bool = False
    care_until: int = -(10**9)  # last day of the current/last stay in care


@dataclass
class PersonRow:
    pid: int
    agency: int
    created: int  # day
    created_ts: int


@dataclass
class Case:
    id: int
    agency: int
    opened: int
    close: int
    requests: list[tuple[int, str]]  # (day, worker role) staffing changes
    phases: list[tuple[int, int, str]] = field(default_factory=list)  # note-rate phases


class FamilyLife:
    """Generates one family. `run` returns False when a pre-history family is not worth keeping."""

    def __init__(self, w: World, rng: random.Random, e: Emitter) -> None:
        self.w = w
        self.rng = rng
        self.e = e
        self.humans: list[Human] = []
        self.rows: dict[tuple[int, int], PersonRow] = {}  # (agency, hid) -> current row
        self.addr_rows: dict[int, tuple[int, int]] = {}  # person_id -> (address_id, agency)
        self.case: Case | None = None
        self.last_close = -(10**9)
        self.first_day = 0

    # ------------------------------------------------------------------ household
    def _household(self, day: int) -> None:
        rng, w = self.rng, self.w
        c = COMMUNITIES[w.community(rng, self.agency)]
        self.comm = c
        self.indigenous = pick_weighted(rng, c.indigenous)
        self.language = pick_weighted(rng, c.languages)
        city = rng.choice(w.agencies[self.agency].spec.cities)
        self.address = random_address(rng, city)
        self.address_since = day - rng.randint(0, 1500)
        self.phone = random_phone(rng, city)
        mother_age = rng.uniform(17, 46)
        sm = rng.choice(c.surnames)
        sf = sm if rng.random() < 0.5 else rng.choice(c.surnames)
        single_father = rng.random() < 0.05
        if not single_father:
            self.humans.append(self._human(day - int(mother_age * 365.25), "F", sm, adult=True))
        if single_father or rng.random() < 0.55:
            self.humans.append(
                self._human(day - int(rng.uniform(mother_age, mother_age + 8) * 365.25), "M", sf, adult=True)
            )
        k = pick_weighted(rng, (("1", 0.35), ("2", 0.3), ("3", 0.2), ("4", 0.1), ("5", 0.05)))
        has_father = any(h.sex == "M" for h in self.humans)
        surname = sf if has_father and rng.random() < 0.7 else sm
        if has_father and sf != sm and rng.random() < 0.1:
            surname = f"{sf}-{sm}"
        max_age = min(17.9, mother_age - 16)
        for i in range(int(k)):
            if i == 1 and rng.random() < model.TWIN_P:
                first = self.humans[-1]
                twin = self._human(first.birth, rng.choice("FM"), surname, adult=False, avoid=first.given)
                first.twin = twin.twin = True
                self.humans.append(twin)
                continue
            age = rng.uniform(0, max(0.1, max_age))
            self.humans.append(self._human(day - int(age * 365.25), rng.choice("FM"), surname, adult=False))

    def _human(self, birth: int, sex: str, surname: str, adult: bool, avoid: str | None = None) -> Human:
        rng, c = self.rng, self.comm
        pool = c.female if sex == "F" else c.male
        given = rng.choice(pool)
        while given == avoid:
            given = rng.choice(pool)
        middle = rng.choice(pool) if rng.random() < 0.6 else None
        if middle == given:
            middle = None
        return Human(self.w.ids.take("human"), given, middle, surname, birth, sex, adult)

    def _noisy(self, h: Human, values: dict[str, Any], kinds: int) -> list[str]:
        """Apply `kinds` kinds of data-entry noise to a copy of a person's values; say which."""
        rng = self.rng
        applied: list[str] = []
        for _ in range(kinds):
            kind = pick_weighted(rng, model.NOISE_KINDS)
            if kind in applied:
                continue
            if kind == "nickname":
                nicks = nicknames_of(values["given_name"])
                if not nicks:
                    kind = "typo_given"
                else:
                    values["given_name"] = rng.choice(nicks)
            if kind == "swap_day_month":
                b = values["birth_date"]
                if b and int(b[8:10]) <= 12 and b[5:7] != b[8:10]:
                    values["birth_date"] = f"{b[:4]}-{b[8:10]}-{b[5:7]}"
                else:
                    kind = "missing_birth_date"
            if kind == "missing_middle" and not values["middle_name"]:
                kind = "typo_surname"
            if kind == "typo_given":
                values["given_name"] = typo(rng, values["given_name"])
            elif kind == "typo_surname":
                values["surname"] = typo(rng, values["surname"])
            elif kind == "missing_birth_date":
                values["birth_date"] = None
            elif kind == "surname_change":
                values["surname"] = rng.choice(self.comm.surnames)
            elif kind == "hyphenation":
                values["surname"] = f"{values['surname']}-{rng.choice(self.comm.surnames)}"
            elif kind == "missing_middle":
                values["middle_name"] = None
            applied.append(kind)
        return applied

    def _person_row(
        self, h: Human, agency: int, day: int, live_noise: bool = False, legacy_copy: bool = False
    ) -> PersonRow:
        rng, w, e = self.rng, self.w, self.e
        a = w.agencies[agency]
        legacy = day < a.join_day
        pid = w.ids.take("cpin.person")
        values: dict[str, Any] = {
            "person_id": pid,
            "agency_id": agency,
            "given_name": h.given,
            "middle_name": h.middle,
            "surname": h.surname,
            "birth_date": dstr(h.birth),
            "sex_code": h.sex,
            "indigenous_code": self.indigenous,
            "first_language": self.language,
            "phone": self.phone if h.adult else None,
            "legacy_id": None,
            "source_code": "CPIN",
            "migrated_at": None,
            "is_deleted": False,
        }
        noise: list[str] = []
        if legacy:
            values.update(
                source_code="MIG", legacy_id=f"{a.spec.code}-{700000 + pid * 3}", migrated_at=tsstr(a.mig_ts)
            )
            if legacy_copy or rng.random() < model.MIGRATION_NOISE_P:
                noise = self._noisy(h, values, 2 if rng.random() < 0.2 else 1)
            if rng.random() < 0.05:
                values["sex_code"] = "U"
                noise.append("unknown_sex")
        elif live_noise and rng.random() < 0.5:
            noise = self._noisy(h, values, 1)
        ts = work_ts(rng, day)
        e.ins("cpin.person", (pid,), values, ts, agency)
        e.ins(
            "truth.person_identity",
            (pid,),
            {"person_id": pid, "true_person_id": h.hid, "is_twin": h.twin, "noise": noise},
            ts,
            agency,
        )
        street, city, postal = self.address
        if legacy and rng.random() < 0.1:
            postal = postal.replace(" ", "")
        aid = w.ids.take("cpin.person_address")
        e.ins(
            "cpin.person_address",
            (aid,),
            {
                "address_id": aid,
                "person_id": pid,
                "street": street,
                "city": city,
                "province": "ON",
                "postal_code": postal,
                "start_date": dstr(min(self.address_since, day)),
                "end_date": None,
                "is_deleted": False,
            },
            ts,
            agency,
        )
        self.addr_rows[pid] = (aid, agency)
        row = PersonRow(pid, agency, day, ts)
        if legacy and not legacy_copy and rng.random() < model.LEGACY_DUPLICATE_P:
            self._person_row(h, agency, day, legacy_copy=True)  # a second legacy record, never linked
        return row

    def _register(self, day: int, live_noise: bool = False) -> None:
        """Create person rows at the current agency for everyone who has none, with relationships."""
        new = []
        for h in self.humans:
            if (self.agency, h.hid) not in self.rows:
                self.rows[(self.agency, h.hid)] = self._person_row(h, self.agency, day, live_noise)
                new.append(h)
        if not new:
            return
        new_ids = {h.hid for h in new}
        adults = [h for h in self.humans if h.adult]
        kids = [h for h in self.humans if not h.adult]
        pairs: list[tuple[Human, Human, str]] = [(p, c, "PAR") for p in adults for c in kids]
        for i, a in enumerate(kids):
            for b in kids[i + 1 :]:
                pairs.append((a, b, "TWN" if a.twin and b.twin and a.birth == b.birth else "SIB"))
        for a, b, code in pairs:
            if a.hid not in new_ids and b.hid not in new_ids:
                continue
            ra, rb = self.rows[(self.agency, a.hid)], self.rows[(self.agency, b.hid)]
            rid = self.w.ids.take("cpin.person_relationship")
            self.e.ins(
                "cpin.person_relationship",
                (rid,),
                {
                    "relationship_id": rid,
                    "person_id": ra.pid,
                    "related_person_id": rb.pid,
                    "relationship_code": code,
                    "start_date": dstr(b.birth if code == "PAR" else max(a.birth, b.birth)),
                    "end_date": None,
                    "is_deleted": False,
                },
                max(ra.created_ts, rb.created_ts) + 1,
                self.agency,
            )

    def _move_house(self, day: int, city: str | None = None) -> None:
        """The household moves: every current address row at the current agency is ended."""
        rng = self.rng
        city = city or rng.choice(self.w.agencies[self.agency].spec.cities)
        self.address = random_address(rng, city)
        self.address_since = day - rng.randint(0, 60)
        for (agency, _hid), r in list(self.rows.items()):
            if agency != self.agency:
                continue
            old, _ = self.addr_rows[r.pid]
            ts = work_ts(rng, day)
            self.e.upd("cpin.person_address", (old,), {"end_date": dstr(self.address_since)}, ts, agency)
            aid = self.w.ids.take("cpin.person_address")
            street, city_, postal = self.address
            self.e.ins(
                "cpin.person_address",
                (aid,),
                {
                    "address_id": aid,
                    "person_id": r.pid,
                    "street": street,
                    "city": city_,
                    "province": "ON",
                    "postal_code": postal,
                    "start_date": dstr(self.address_since),
                    "end_date": None,
                    "is_deleted": False,
                },
                ts + 1,
                agency,
            )
            self.addr_rows[r.pid] = (aid, agency)

    # ------------------------------------------------------------------ the life-cycle
    def run(self, agency: int, t0: int, stock_only: bool = False) -> bool:
        rng, w = self.rng, self.w
        u_admit = rng.random()
        if stock_only and u_admit >= model.ADMIT_P_MAX:
            return False
        self.agency = agency
        self.first_day = t0
        self._household(t0)
        day, n, forced = t0, 0, None
        horizon = w.now + RECURRENCE_HORIZON_DAYS
        while True:
            n += 1
            if n > 1:
                self._transitions(day)
            quiet, reentry = self._referral(day, u_admit if n == 1 else rng.random(), n > 1, forced)
            forced = None
            nxt = None
            if rng.random() < model.RECUR_P and n < model.MAX_REFERRALS:
                nxt = quiet + 7 + int(rng.expovariate(1 / model.RECUR_MEAN_DAYS))
            if reentry is not None and (nxt is None or reentry[1] < nxt):
                nxt, forced = reentry[1], reentry[0]
            if nxt is None or nxt > horizon:
                break
            day = nxt
        self._finish_case()
        if stock_only:
            return self.last_close >= w.hist_start - PRE_HISTORY_FULL_DAYS
        return True

    def _transitions(self, day: int) -> None:
        """What changed in the family between two referrals."""
        rng, w = self.rng, self.w
        if rng.random() < model.NEWBORN_P:
            mother = next((h for h in self.humans if h.adult and h.sex == "F"), None)
            if mother and day - mother.birth < 44 * 365:
                kid = next((h for h in self.humans if not h.adult), None)
                self.humans.append(
                    self._human(
                        day - rng.randint(0, 300),
                        rng.choice("FM"),
                        kid.surname if kid else mother.surname,
                        adult=False,
                    )
                )
        if rng.random() < model.MOVE_AGENCY_P and len(w.agencies) > 1:
            here = w.agencies[self.agency]
            others = [a for a in w.agencies.values() if a.id != here.id]
            same = [a for a in others if a.spec.region == here.spec.region]
            dest = rng.choice(same if same and rng.random() < 0.7 else others)
            self._finish_case()
            self.agency = dest.id
            self.address = random_address(rng, rng.choice(dest.spec.cities))
            self.address_since = day - rng.randint(0, 200)
            self._register(day, live_noise=True)
            return
        if rng.random() < 0.25:
            self._move_house(day)
        if rng.random() < model.LIVE_DUPLICATE_P:
            self._finish_case()
            for h in self.humans:
                self.rows.pop((self.agency, h.hid), None)
            self._register(day, live_noise=True)

    def _referral(
        self, day: int, u_admit: float, recurrent: bool, forced: Human | None
    ) -> tuple[int, tuple[Human, int] | None]:
        """One referral and what follows from it; returns (quiet day, planned re-entry)."""
        rng, w, e = self.rng, self.w, self.e
        ag = self.agency
        self._register(day)
        rid = w.ids.take("cpin.referral")
        caregiver = next((h for h in self.humans if h.adult), self.humans[0])
        primary = self.rows[(ag, caregiver.hid)]
        ts = max(work_ts(rng, day), primary.created_ts + 1)
        screen_day = day + rng.choice((0, 0, 0, 1, 2))
        code = "SI" if forced else pick_weighted(rng, model.SCREENING)
        row = {
            "referral_id": rid,
            "agency_id": ag,
            "case_id": None,
            "received_at": tsstr(ts),
            "referral_source_code": pick_weighted(rng, model.REFERRAL_SOURCES),
            "allegation_code": pick_weighted(rng, model.ALLEGATIONS),
            "screening_code": None,
            "primary_person_id": primary.pid,
            "intake_worker_id": w.worker(rng, ag, "INT", day),
            "is_deleted": False,
        }
        if rng.random() < model.DUPLICATE_ENTRY_P["cpin.referral"]:
            dup = w.ids.take("cpin.referral")
            e.row_with_changes(
                "cpin.referral",
                (dup,),
                dict(row, referral_id=dup),
                ts + 60,
                ag,
                [(ts + rng.randint(3600, 5 * DAY), {"is_deleted": True})],
                w.now_ts,
            )
        screen_ts = max(work_ts(rng, screen_day), ts + 1)
        if code != "SI":
            e.row_with_changes(
                "cpin.referral", (rid,), row, ts, ag, [(screen_ts, {"screening_code": code})], w.now_ts
            )
            return screen_day, None
        case = self._open_case(screen_day)
        e.row_with_changes(
            "cpin.referral",
            (rid,),
            row,
            ts,
            ag,
            [(screen_ts, {"screening_code": code, "case_id": case.id})],
            w.now_ts,
        )
        # Investigation.
        opened = screen_day
        dur = max(3, min(240, int(rng.lognormvariate(math.log(38), 0.45))))
        closed = opened + dur
        outcome = pick_weighted(rng, model.RECURRENT_OUTCOMES if recurrent else model.OUTCOMES)
        admit = forced is not None or u_admit < model.ADMIT_P[outcome]
        if forced is not None and outcome == "NVER":
            outcome = "VER"
        ongoing = admit or rng.random() < model.ONGOING_P[outcome]
        iid = w.ids.take("cpin.investigation")
        inv_ts = max(work_ts(rng, opened), screen_ts + 1)
        e.row_with_changes(
            "cpin.investigation",
            (iid,),
            {
                "investigation_id": iid,
                "referral_id": rid,
                "agency_id": ag,
                "case_id": case.id,
                "worker_id": w.worker(rng, ag, "INT", opened),
                "opened_on": dstr(opened),
                "due_on": dstr(opened + 30),
                "closed_on": None,
                "outcome_code": None,
                "ongoing_services": None,
                "is_deleted": False,
            },
            inv_ts,
            ag,
            [
                (
                    work_ts(rng, closed),
                    {"closed_on": dstr(closed), "outcome_code": outcome, "ongoing_services": ongoing},
                )
            ],
            w.now_ts,
        )
        case.phases.append((opened, closed, "INV"))
        case.close = max(case.close, closed)
        if ongoing:
            end = closed + max(30, int(rng.lognormvariate(math.log(270), 0.6)))
            case.requests.append((closed, "CW"))
            case.close = max(case.close, end)
        reentry = None
        if admit:
            kids = [
                h
                for h in self.humans
                if not h.adult and h.care_until < opened and opened - h.birth < 18 * 365
            ]
            if forced is not None and forced in kids:
                chosen = [forced]
            else:
                chosen = [h for h in kids if rng.random() < 0.6] or kids[:1]
            adm = rng.randint(opened, closed) if rng.random() < 0.7 else closed + rng.randint(0, 120)
            for child in chosen:
                end, reason = self._episode(child, adm, case)
                if end is None:
                    continue
                case.close = max(case.close, end + rng.randint(0, 60))
                if reason in ("REU", "KIN") and rng.random() < 0.11 and reentry is None:
                    reentry = (child, end + rng.randint(20, 360))
        return closed, reentry

    # ------------------------------------------------------------------ cases
    def _open_case(self, day: int) -> Case:
        if self.case is not None and self.case.close >= day and self.case.agency == self.agency:
            return self.case
        self._finish_case()
        self.case = Case(self.w.ids.take("cpin.case"), self.agency, day, day, [(day, "INT")])
        return self.case

    def _staff(self, agency: int, requests: list[tuple[int, str]], end: int) -> list[tuple[int, int, int]]:
        """Primary workers over a case's life: (worker, from, to); reassigned when a worker leaves."""
        out: list[tuple[int, int, int]] = []
        requests = sorted(requests)
        for i, (s, role) in enumerate(requests):
            e = requests[i + 1][0] if i + 1 < len(requests) else end
            if e < s:
                continue
            day = s
            while True:
                wk = self.w.worker(self.rng, agency, role, day)
                left = self.w.worker_left.get(wk)
                if left is not None and day < left < e:
                    out.append((wk, day, left))
                    day = left
                else:
                    out.append((wk, day, e))
                    break
        return out

    def _emit_case(
        self,
        cid: int,
        agency: int,
        ctype: str,
        parent: int | None,
        opened: int,
        close: int,
        reason: str | None,
        staff: list[tuple[int, int, int]],
        participants: list[tuple[PersonRow, str]],
        phases: list[tuple[int, int, str]],
        min_ts: int,
    ) -> None:
        rng, w, e = self.rng, self.w, self.e
        ts = max(work_ts(rng, opened), min_ts)
        changes: list[tuple[int, dict[str, Any]]] = [
            (work_ts(rng, s), {"primary_worker_id": wk}) for wk, s, _ in staff[1:]
        ]
        changes.append((work_ts(rng, close) + 3600, {"closed_on": dstr(close), "close_reason_code": reason}))
        e.row_with_changes(
            "cpin.case",
            (cid,),
            {
                "case_id": cid,
                "agency_id": agency,
                "case_type_code": ctype,
                "parent_case_id": parent,
                "opened_on": dstr(opened),
                "closed_on": None,
                "close_reason_code": None,
                "primary_worker_id": staff[0][0],
                "is_deleted": False,
            },
            ts,
            agency,
            changes,
            w.now_ts,
        )
        for wk, s, en in staff:
            aid = w.ids.take("cpin.worker_assignment")
            e.row_with_changes(
                "cpin.worker_assignment",
                (aid,),
                {
                    "assignment_id": aid,
                    "worker_id": wk,
                    "case_id": cid,
                    "role_code": "PRI",
                    "start_date": dstr(s),
                    "end_date": None,
                    "is_deleted": False,
                },
                max(work_ts(rng, s), ts + 1),
                agency,
                [(work_ts(rng, en) + 3600, {"end_date": dstr(en)})],
                w.now_ts,
            )
        for r, role in participants:
            start = max(opened, r.created)
            e.row_with_changes(
                "cpin.case_participant",
                (cid, r.pid),
                {
                    "case_id": cid,
                    "person_id": r.pid,
                    "role_code": role,
                    "start_date": dstr(start),
                    "end_date": None,
                    "is_deleted": False,
                },
                max(ts + 1, r.created_ts + 1),
                agency,
                [(work_ts(rng, close) + 3600, {"end_date": dstr(close)})],
                w.now_ts,
            )
        self._notes(cid, agency, ctype, staff, participants, phases)
        self.last_close = max(self.last_close, close)

    def _finish_case(self) -> None:
        c = self.case
        if c is None:
            return
        self.case = None
        staff = self._staff(c.agency, c.requests, c.close)
        parts = []
        for h in self.humans:
            r = self.rows.get((c.agency, h.hid))
            if r is None or r.created > c.close:
                continue
            parts.append((r, "CARE" if h.adult else "CHILD" if c.opened - h.birth < 18 * 365 else "OTH"))
        # Outside its investigations, an open family case is in ongoing service.
        phases = sorted(c.phases)
        prot, cursor = [], c.opened
        for s, e, _ in phases:
            if s > cursor:
                prot.append((cursor, s, "PROT"))
            cursor = max(cursor, e)
        if c.close > cursor:
            prot.append((cursor, c.close, "PROT"))
        self._emit_case(c.id, c.agency, "PROT", None, c.opened, c.close, None, staff, parts, phases + prot, 0)

    # ------------------------------------------------------------------ children in care
    def _episode(self, child: Human, adm: int, case: Case) -> tuple[int | None, str | None]:
        rng, w, e = self.rng, self.w, self.e
        ag = case.agency
        age = (adm - child.birth) / 365.25
        if age >= 18 or age < 0:
            return None, None
        row = self.rows[(ag, child.hid)]
        d, reason = model.sample_duration(rng)
        b18 = add_years(child.birth, 18)
        if adm + d >= b18:
            d, reason = b18 - adm, "AGE"
        if reason == "ADO" and age > 13:
            reason = "CUS"
        d = max(d, 1)
        end = adm + d
        child.care_until = end
        cid = w.ids.take("cpin.case")
        customary = (
            w.agencies[ag].spec.indigenous and self.indigenous == "FN" and rng.random() < model.CUSTOMARY_P
        )
        segs = self._placements(child, adm, end, reason, age, customary, ag)
        mother = next((h for h in self.humans if h.adult), None)
        parts = [(row, "CHILD")]
        if mother is not None and (ag, mother.hid) in self.rows:
            parts.append((self.rows[(ag, mother.hid)], "OTH"))
        staff = self._staff(ag, [(adm, "CW")], end)
        self._emit_case(
            cid, ag, "CIC", case.id, adm, end, reason, staff, parts, [(adm, end, "CIC")], row.created_ts + 1
        )
        self._legal(row.pid, ag, adm, end, age, customary)
        pl_ts = 0
        seg_starts = []
        for i, (ptype, prov, per_diem, s, en) in enumerate(segs):
            pid = w.ids.take("cpin.placement")
            last = i == len(segs) - 1
            ts = max(work_ts(rng, s) + 1800, pl_ts + 1)
            pl_ts = ts
            e.row_with_changes(
                "cpin.placement",
                (pid,),
                {
                    "placement_id": pid,
                    "person_id": row.pid,
                    "agency_id": ag,
                    "case_id": cid,
                    "provider_id": prov,
                    "placement_type_code": ptype,
                    "start_date": dstr(s),
                    "end_date": None,
                    "end_reason_code": None,
                    "is_deleted": False,
                },
                ts,
                ag,
                [
                    (
                        work_ts(rng, en) + 1200,
                        {"end_date": dstr(en), "end_reason_code": reason if last else "MOV"},
                    )
                ],
                w.now_ts,
            )
            seg_starts.append(s)
            if per_diem:
                self._per_diems(ag, row.pid, prov, pid, per_diem, s, en)
        self._purchases(ag, row.pid, segs, seg_starts, adm, end)
        return end, reason

    def _placements(
        self, child: Human, adm: int, end: int, reason: str, age: float, customary: bool, ag: int
    ) -> list[tuple[str, int | None, float | None, int, int]]:
        """Placement segments (type, provider, per diem, start, end) covering [adm, end] without gaps."""
        rng = self.rng
        d = end - adm
        band = model.age_band(age)
        rate = model.MOVES_PER_1000_DAYS["young" if band == "young" else "teen"]
        n_moves = min(poisson(rng, d * rate / 1000), max(0, d // 20))
        cuts = sorted(rng.sample(range(1, d), n_moves)) if n_moves and d > 2 else []
        bounds = [adm, *[adm + c for c in cuts], end]
        tail: list[tuple[str, int, int]] = []
        if reason == "REU" and d > 20 and rng.random() < model.THV_P:
            tail = [("THV", end - min(rng.randint(14, 90), d // 3), end)]
        elif reason == "ADO" and d > 200:
            tail = [("PAD", end - rng.randint(120, min(400, d - 60)), end)]
        if tail:
            cut = tail[0][1]
            bounds = [b for b in bounds if b < cut] + [cut]
        segs: list[tuple[str, int | None, float | None, int, int]] = []
        prev_prov = None
        for s, en in itertools.pairwise(bounds):
            if customary:
                ptype = "CUS"
            else:
                cur_age = (s - child.birth) / 365.25
                ptype = pick_weighted(rng, model.PLACEMENT_MIX[model.age_band(cur_age)])
            prov, per_diem = self._provider(ag, ptype, s, child)
            if prov == prev_prov:
                prov, per_diem = self._provider(ag, ptype, s, child)
            prev_prov = prov
            segs.extend(self._interruptions(ag, ptype, prov, per_diem, s, en, age))
        for ptype, s, en in tail:
            if ptype == "THV":
                segs.append(("THV", None, None, s, en))
            else:
                prov, per_diem = self._provider(ag, ptype, s, child)
                segs.append((ptype, prov, per_diem, s, en))
        return segs

    def _interruptions(
        self, ag: int, ptype: str, prov: int | None, per_diem: float | None, s: int, en: int, age: float
    ) -> list[tuple[str, int | None, float | None, int, int]]:
        """Runaway (teens) or respite (young children in foster care) inside one placement; the child
        returns to the same provider afterwards."""
        rng = self.rng
        if en - s < 40:
            return [(ptype, prov, per_diem, s, en)]
        if age >= 12 and rng.random() < model.RUNAWAY_P:
            kind, length, other, od = "RUN", rng.randint(1, 14), None, None
        elif ptype == "FOS" and rng.random() < model.RESPITE_P:
            kind, length = "RES", rng.randint(2, 7)
            other, od = self.w.provider(rng, ag, "FOS")
        else:
            return [(ptype, prov, per_diem, s, en)]
        x = rng.randint(s + 10, en - length - 10)
        return [
            (ptype, prov, per_diem, s, x),
            (kind, other, od, x, x + length),
            (ptype, prov, per_diem, x + length, en),
        ]

    def _provider(self, ag: int, ptype: str, day: int, child: Human) -> tuple[int, float | None]:
        if ptype in ("KIN", "CUS"):
            return self.w.new_provider(
                self.rng,
                self.w.agencies[ag],
                ptype,
                day,
                name=f"{'Kin' if ptype == 'KIN' else 'Customary care'} home — "
                f"{self.rng.choice(self.comm.surnames)} family",
                emitter=self.e,
            )
        return self.w.provider(self.rng, ag, ptype)

    def _legal(self, pid: int, ag: int, adm: int, end: int, age: float, customary: bool) -> None:
        rng = self.rng
        if customary:
            spans = [("CC", adm, end)]
        elif age >= 16 and rng.random() < 0.35:
            spans = [("VYSA", adm, end)]
        else:
            first = "VCA" if rng.random() < 0.08 else "INT"
            t1 = min(end, adm + rng.randint(30, 120))
            spans = [(first, adm, t1)]
            if t1 < end:
                t2 = min(end, adm + 365)
                spans.append(("TC", t1, t2))
                if t2 < end:
                    spans.append(("ESC", t2, end))
        for code, s, en in spans:
            lid = self.w.ids.take("cpin.legal_status")
            self.e.row_with_changes(
                "cpin.legal_status",
                (lid,),
                {
                    "legal_status_id": lid,
                    "person_id": pid,
                    "agency_id": ag,
                    "status_code": code,
                    "start_date": dstr(s),
                    "end_date": None,
                    "is_deleted": False,
                },
                work_ts(rng, s) + 2400,
                ag,
                [(work_ts(rng, en) + 2400, {"end_date": dstr(en)})],
                self.w.now_ts,
            )

    # ------------------------------------------------------------------ money
    def _payment(
        self,
        ag: int,
        pid: int,
        prov: int | None,
        placement: int | None,
        cat: str,
        s: int,
        en: int,
        amount: str,
        requested: int,
    ) -> None:
        rng, w = self.rng, self.w
        if requested > w.now or requested < w.hist_start:
            return
        pay = w.ids.take("cpin.payment")
        row = {
            "payment_id": pay,
            "agency_id": ag,
            "person_id": pid,
            "provider_id": prov,
            "placement_id": placement,
            "category_code": cat,
            "service_from": dstr(s),
            "service_to": dstr(en),
            "amount": amount,
            "status_code": "REQ",
            "requested_on": dstr(requested),
            "approved_on": None,
            "paid_on": None,
            "is_deleted": False,
        }
        ts = work_ts(rng, requested)
        changes = [(work_ts(rng, d), ch) for d, ch, _ in model.payment_timeline(rng, requested)]
        self.e.row_with_changes("cpin.payment", (pay,), row, ts, ag, changes, w.now_ts)
        if rng.random() < model.DUPLICATE_ENTRY_P["cpin.payment"]:
            dup = w.ids.take("cpin.payment")
            self.e.row_with_changes(
                "cpin.payment",
                (dup,),
                dict(row, payment_id=dup),
                ts + 90,
                ag,
                [(ts + rng.randint(3600, 3 * DAY), {"is_deleted": True})],
                w.now_ts,
            )

    def _per_diems(
        self, ag: int, pid: int, prov: int | None, placement: int, per_diem: float, s: int, en: int
    ) -> None:
        m = month_start(s)
        while m < en:
            nm = next_month_start(m)
            lo, hi = max(m, s), min(nm, en)
            if hi > lo:
                self._payment(
                    ag,
                    pid,
                    prov,
                    placement,
                    "PDM",
                    lo,
                    hi - 1,
                    f"{(hi - lo) * per_diem:.2f}",
                    nm + model.PAY_DAY - 1,
                )
            m = nm

    def _purchases(
        self,
        ag: int,
        pid: int,
        segs: list[tuple[str, int | None, float | None, int, int]],
        starts: list[int],
        adm: int,
        end: int,
    ) -> None:
        rng, w = self.rng, self.w
        lo, hi = max(adm, w.hist_start), min(end, w.now)
        if hi <= lo:
            return
        for _ in range(poisson(rng, (hi - lo) * model.PURCHASES_PER_DAY)):
            day = rng.randint(lo, hi - 1)
            i = max(0, bisect.bisect_right(starts, day) - 1)
            while i > 0 and segs[i][1] is None:
                i -= 1
            prov = segs[i][1]
            if prov is None:
                continue
            cat, amount = model.purchase(rng)
            self._payment(ag, pid, prov, None, cat, day, day, amount, day)

    # ------------------------------------------------------------------ contact notes
    def _notes(
        self,
        cid: int,
        ag: int,
        ctype: str,
        staff: list[tuple[int, int, int]],
        participants: list[tuple[PersonRow, str]],
        phases: list[tuple[int, int, str]],
    ) -> None:
        rng, w = self.rng, self.w
        starts = [s for _, s, _ in staff]
        a = w.agencies[ag]
        loc_key = "CIC" if ctype == "CIC" else "PROT"
        kids = [h for h in self.humans if not h.adult]
        name = kids[0].given if kids else "the child"
        for ps, pe, key in phases:
            lo, hi = max(ps, w.hist_start), min(pe, w.now + 1)
            if hi <= lo:
                continue
            for _ in range(poisson(rng, (hi - lo) * model.NOTE_RATE[key])):
                day = rng.randrange(lo, hi)
                wk = staff[max(0, bisect.bisect_right(starts, day) - 1)][0]
                persons = [r for r, _ in participants if r.created <= day]
                person = rng.choice(persons) if persons else None
                self.e.direct.append(
                    make_note(
                        rng,
                        w,
                        a.id,
                        a.join_day,
                        a.mig_ts,
                        cid,
                        person.pid if person else None,
                        wk,
                        day,
                        loc_key,
                        name,
                    )
                )


def make_note(
    rng: random.Random,
    w: World,
    ag: int,
    join_day: int,
    mig_ts: int,
    cid: int,
    pid: int | None,
    wk: int,
    day: int,
    loc_key: str,
    name: str,
) -> tuple[str, tuple[Any, ...]]:
    """One contact note row (shared by init and advance)."""
    ts = work_ts(rng, day)
    created = ts + (0 if rng.random() < 0.7 else rng.randint(600, 3 * DAY))
    created = min(created, w.now_ts)
    if day < join_day:
        created = mig_ts
    updated = created
    deleted = False
    duration = rng.choice((10, 15, 20, 30, 45, 60, 90, 120))
    if rng.random() < model.HISTORY_CORRECTION_P:
        updated = min(w.now_ts, created + rng.randint(DAY, 120 * DAY))
        duration += 15
    elif rng.random() < model.DUPLICATE_ENTRY_P["cpin.contact_note"]:
        updated = min(w.now_ts, created + rng.randint(600, 5 * DAY))
        deleted = True
    nid = w.ids.take("cpin.contact_note")
    text = rng.choice(NOTE_TEMPLATES).format(child=name)
    return "cpin.contact_note", (
        nid,
        ag,
        cid,
        pid,
        wk,
        tsstr(ts),
        pick_weighted(rng, model.CONTACT_TYPES),
        pick_weighted(rng, model.LOCATIONS[loc_key]),
        duration,
        text,
        tsstr(created),
        tsstr(updated),
        deleted,
    )
