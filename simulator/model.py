"""The model of behaviour: rates, probabilities and duration distributions.

One place, shared by `init` (which samples whole life-cycles of history) and `advance` (which
samples new life-cycles and the day's routine work), so both produce the same kind of world.
Defaults are tuned so the indicators land near the published Ontario figures in INDICATORS.md
(days of care 79 / 13 / 8 %, 62 / 77 / 85 % discharged within 12 / 24 / 36 months, ≈ 85 % of
investigated families without verified recurrence within 12 months); `simulator.indicators`
measures them.
"""

from __future__ import annotations

import math
import random

from simulator.clock import DAY, month_of, weekday
from simulator.names import pick_weighted

# --- intake ------------------------------------------------------------------------------
REFERRAL_SOURCES = (
    ("POL", 0.24),
    ("SCH", 0.21),
    ("HLT", 0.15),
    ("COM", 0.14),
    ("FAM", 0.1),
    ("SLF", 0.05),
    ("OTH", 0.11),
)
ALLEGATIONS = (("NEG", 0.3), ("DV", 0.2), ("PHY", 0.18), ("EMO", 0.12), ("CCP", 0.15), ("SEX", 0.05))
SCREENING = (("SI", 0.8), ("SO", 0.15), ("CL", 0.05))
OUTCOMES = (("VER", 0.3), ("NVER", 0.55), ("INC", 0.15))
RECURRENT_OUTCOMES = (("VER", 0.5), ("NVER", 0.38), ("INC", 0.12))
ONGOING_P = {"VER": 0.45, "INC": 0.15, "NVER": 0.05}
ADMIT_P = {"VER": 0.136, "INC": 0.046, "NVER": 0.009}
ADMIT_P_MAX = max(ADMIT_P.values())
RECUR_P = 0.45  # a family is referred again at some point…
RECUR_MEAN_DAYS = 240  # …after an exponential wait with this mean
MAX_REFERRALS = 6
MOVE_AGENCY_P = 0.05  # the family has moved to another agency's area by the next referral
LIVE_DUPLICATE_P = 0.02  # intake creates new person records instead of finding the existing ones
NEWBORN_P = 0.15
FAMILIES_PER_INVESTIGATION = 0.72  # arrivals of new families per investigation (recurrences add the rest)

# --- in care -----------------------------------------------------------------------------
# Duration classes (cumulative share of admissions discharged within 12 / 24 / 36 months).
DURATION_CLASSES = ((0.60, 8, 365), (0.76, 365, 730), (0.85, 730, 1095), (1.0, 1095, 4000))
REASONS_BY_CLASS = (
    (("REU", 0.74), ("KIN", 0.14), ("CUS", 0.06), ("TRF", 0.04), ("RUN", 0.01), ("DTH", 0.01)),
    (("REU", 0.45), ("KIN", 0.15), ("CUS", 0.15), ("ADO", 0.2), ("TRF", 0.05)),
    (("ADO", 0.4), ("CUS", 0.2), ("REU", 0.25), ("KIN", 0.1), ("TRF", 0.05)),
    (("ADO", 0.35), ("CUS", 0.2), ("REU", 0.1), ("AGE", 0.35)),
)
ADMIT_AGE = ((0, 2, 0.2), (2, 6, 0.18), (6, 12, 0.24), (12, 16, 0.27), (16, 18, 0.11))
MOVES_PER_1000_DAYS = {"young": 3.0, "teen": 6.0}
THV_P = 0.35
RUNAWAY_P = 0.25  # teens, per episode
RESPITE_P = 0.12
CUSTOMARY_P = 0.35  # First Nations children served by an Indigenous society
PLACEMENT_MIX = {
    "young": (("FOS", 0.69), ("KIN", 0.19), ("GH", 0.045), ("OPR", 0.03), ("HOS", 0.025), ("MHC", 0.02)),
    "teen": (
        ("FOS", 0.4),
        ("KIN", 0.11),
        ("GH", 0.21),
        ("OPR", 0.12),
        ("MHC", 0.05),
        ("HOS", 0.04),
        ("YJ", 0.07),
    ),
    "older": (
        ("FOS", 0.27),
        ("KIN", 0.09),
        ("GH", 0.19),
        ("OPR", 0.1),
        ("IL", 0.23),
        ("YJ", 0.07),
        ("MHC", 0.03),
        ("HOS", 0.02),
    ),
}
PER_DIEM = {
    "FOS": (48, 75),
    "KIN": (30, 45),
    "PAD": (50, 60),
    "CUS": (40, 55),
    "GH": (280, 420),
    "OPR": (320, 650),
    "IL": (38, 55),
    "MHC": (450, 700),
}
CAPACITY = {
    "FOS": (1, 4),
    "KIN": (1, 3),
    "PAD": (1, 2),
    "CUS": (1, 3),
    "GH": (4, 10),
    "OPR": (6, 14),
    "IL": (1, 1),
    "HOS": (10, 40),
    "MHC": (8, 20),
    "YJ": (10, 30),
}
PAY_DAY = 5  # per diems for a month are requested on the 5th of the next month
PURCHASES_PER_DAY = 1 / 40
PURCHASES = (
    ("CLO", 0.3, 60, 250),
    ("EDU", 0.15, 40, 400),
    ("MED", 0.15, 30, 600),
    ("TRN", 0.2, 20, 180),
    ("REC", 0.15, 30, 300),
    ("OTH", 0.05, 20, 500),
)
VOID_P = 0.02

# --- contact notes (per case-day) --------------------------------------------------------
NOTE_RATE = {"INV": 0.14, "PROT": 0.045, "CIC": 0.05}
CONTACT_TYPES = (("INP", 0.5), ("PHN", 0.3), ("VID", 0.1), ("COL", 0.1))
LOCATIONS = {
    "PROT": (("HOM", 0.6), ("OFF", 0.2), ("SCH", 0.1), ("OTH", 0.1)),
    "CIC": (("PLC", 0.7), ("OFF", 0.1), ("SCH", 0.15), ("OTH", 0.05)),
}

# --- noise ---------------------------------------------------------------------------------
MIGRATION_NOISE_P = 0.3
LEGACY_DUPLICATE_P = 0.05  # a migrated person has a second legacy record
NOISE_KINDS = (
    ("typo_given", 0.2),
    ("typo_surname", 0.2),
    ("nickname", 0.15),
    ("swap_day_month", 0.1),
    ("missing_birth_date", 0.1),
    ("surname_change", 0.1),
    ("hyphenation", 0.1),
    ("missing_middle", 0.05),
)
TWIN_P = 0.035  # families with at least two children, per family
HISTORY_CORRECTION_P = 0.02  # rows corrected some time after they were written
DUPLICATE_ENTRY_P = {"cpin.contact_note": 0.005, "cpin.payment": 0.003, "cpin.referral": 0.01}


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def work_ts(rng: random.Random, day: int) -> int:
    """A moment during office hours in Ontario (13:00–23:00 UTC ≈ 8:00–18:00 Eastern)."""
    return day * DAY + 13 * 3600 + rng.randrange(10 * 3600)


def arrival_rate(day: int) -> float:
    """Seasonality of referrals: fewer in summer and on weekends (schools report a large share)."""
    m = month_of(day)
    season = 0.8 if m in (7, 8) else 1.12 if m in (9, 10, 11) else 1.0
    wd = weekday(day)
    return season * (0.45 if wd >= 5 else 1.22)


def sample_duration(rng: random.Random) -> tuple[int, str]:
    """Length of a stay in care (days) and how it ends, before the 18th-birthday cap."""
    u = rng.random()
    for i, (cum, lo, hi) in enumerate(DURATION_CLASSES):
        if u <= cum:
            if i == 0:
                # Short stays: many end within weeks (a few within days: excluded by indicators).
                d = rng.randint(1, 7) if rng.random() < 0.04 else int(min(hi, lo + rng.expovariate(1 / 110)))
            else:
                d = rng.randint(lo, hi)
            return d, pick_weighted(rng, REASONS_BY_CLASS[i])
    raise AssertionError("unreachable")


def admit_age(rng: random.Random) -> float:
    u = rng.random()
    for lo, hi, w in ADMIT_AGE:
        u -= w
        if u <= 0:
            return rng.uniform(lo, hi)
    return rng.uniform(0, 18)


def age_band(age: float) -> str:
    return "young" if age < 12 else "teen" if age < 16 else "older"


def purchase(rng: random.Random) -> tuple[str, str]:
    u = rng.random()
    for code, w, lo, hi in PURCHASES:
        u -= w
        if u <= 0:
            return code, f"{rng.uniform(lo, hi):.2f}"
    return "OTH", f"{rng.uniform(20, 200):.2f}"


def payment_timeline(rng: random.Random, requested: int) -> list[tuple[int, dict[str, object], int]]:
    """The status changes of a payment after its request: (day, changes, day-for-timestamp)."""
    from simulator.clock import dstr

    if rng.random() < VOID_P:
        d = requested + rng.randint(1, 20)
        return [(d, {"status_code": "VOID"}, d)]
    a = requested + rng.randint(1, 10)
    p = a + rng.randint(3, 14)
    return [
        (a, {"status_code": "APP", "approved_on": dstr(a)}, a),
        (p, {"status_code": "PAID", "paid_on": dstr(p)}, p),
    ]
