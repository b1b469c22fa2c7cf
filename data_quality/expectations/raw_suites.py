"""One suite per raw table: the night's landed data is whole, well-formed and plausible.

Blocking (a failure holds back the table's downstream: marts, dashboards, CSV deliveries):
  contract columns present, key not null and unique, code columns inside the value sets that
  simulator/schema.sql documents, no burst of nulls in columns people rely on, no duplicated
  batch (business-key duplicates), live row count within bounds of the last accepted night.
Warning (shown and stored, stops nothing): extra columns (additive drift the extractor already
  absorbed), implausible dates, end before start, the table's newest change lagging the rest of
  the source, the table not loaded in the last day.

Only live rows are validated (not hard-deleted ``_deleted``, not soft-deleted ``is_deleted``):
a source that loses 90 % of its rows shows up as a 90 % drop, not as rows flagged deleted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from psycopg import sql

from data_quality.expectations.contract import LOAD_COLUMNS, RawTable, raw_tables
from data_quality.expectations.spec import Check, Suite

# Code columns → the value sets written next to them in simulator/schema.sql (tests/test_dq_suites
# checks every code appears in that comment). Nulls pass: optional codes are nullable in the source.
PROVIDER_TYPES = ["FOS", "KIN", "CUS", "PAD", "GH", "OPR", "IL", "HOS", "MHC", "YJ"]
VALUE_SETS: dict[str, dict[str, list[str]]] = {
    "agency": {"region": ["Central", "East", "North", "West", "Toronto"]},
    "postal_region": {"region": ["Central", "East", "North", "West", "Toronto"]},
    "worker": {"role_code": ["CW", "SUP", "INT", "MGR"]},
    "person": {
        "sex_code": ["F", "M", "X", "U"],
        "indigenous_code": ["FN", "MET", "INU", "NON", "UNK"],
        "source_code": ["CPIN", "MIG"],
    },
    "person_relationship": {"relationship_code": ["PAR", "SIB", "TWN", "KIN", "GRD"]},
    "case": {
        "case_type_code": ["PROT", "CIC", "FS"],
        "close_reason_code": ["MOV", "REU", "KIN", "CUS", "ADO", "AGE", "TRF", "RUN", "DTH"],
    },
    "case_participant": {"role_code": ["CHILD", "CARE", "OTH"]},
    "worker_assignment": {"role_code": ["PRI", "SEC"]},
    "referral": {
        "referral_source_code": ["POL", "SCH", "HLT", "COM", "FAM", "SLF", "OTH"],
        "allegation_code": ["PHY", "SEX", "NEG", "EMO", "DV", "CCP"],
        "screening_code": ["SI", "SO", "CL"],
    },
    "investigation": {"outcome_code": ["VER", "NVER", "INC"]},
    "legal_status": {"status_code": ["INT", "TC", "ESC", "CC", "VCA", "VYSA"]},
    "provider": {"provider_type_code": PROVIDER_TYPES},
    "placement": {
        "placement_type_code": [*PROVIDER_TYPES, "THV", "RUN", "RES"],
        "end_reason_code": ["MOV", "REU", "KIN", "CUS", "ADO", "AGE", "TRF", "RUN", "DTH"],
    },
    "payment": {
        "category_code": ["PDM", "CLO", "EDU", "MED", "TRN", "REC", "OTH"],
        "status_code": ["REQ", "APP", "PAID", "VOID"],
    },
    "contact_note": {
        "contact_type_code": ["INP", "PHN", "VID", "COL"],
        "location_code": ["HOM", "PLC", "OFF", "SCH", "OTH"],
    },
}

# Columns that are nullable in the source but are filled on (nearly) every row in practice; a
# burst of nulls means a broken feed or migration. ``mostly``: the share that must be filled.
FILLED: dict[str, dict[str, float]] = {
    "person": {"given_name": 0.98, "surname": 0.98},
    "person_address": {"street": 0.98, "city": 0.98, "postal_code": 0.98},
    "provider": {"city": 0.95},
    "placement": {"case_id": 1.0},
}

# A repeated batch (the source system's import run twice) re-creates rows under new keys: the
# same business facts twice. Checked on live rows; the simulator's deliberate double entries are
# soft-deleted, as a records clerk would do.
BUSINESS_KEYS: dict[str, list[str]] = {
    "payment": ["person_id", "category_code", "service_from", "service_to", "amount", "provider_id"],
    "contact_note": ["case_id", "person_id", "worker_id", "contact_at", "contact_type_code"],
    "placement": ["person_id", "start_date", "placement_type_code", "provider_id"],
}

# Date columns: earliest plausible value (latest: the as-of date plus ``FUTURE_DAYS``; birth dates
# never after the as-of date).
DATE_COLUMNS: dict[str, dict[str, str]] = {
    "person": {"birth_date": "1900-01-01"},
    "person_address": {"start_date": "1900-01-01", "end_date": "1900-01-01"},
    "case": {"opened_on": "1950-01-01", "closed_on": "1950-01-01"},
    "referral": {"received_at": "1950-01-01"},
    "investigation": {"opened_on": "1950-01-01", "closed_on": "1950-01-01"},
    "legal_status": {"start_date": "1950-01-01", "end_date": "1950-01-01"},
    "placement": {"start_date": "1950-01-01", "end_date": "1950-01-01"},
    "payment": {"service_from": "1950-01-01", "service_to": "1950-01-01"},
    "contact_note": {"contact_at": "1950-01-01"},
}
FUTURE_DAYS = 366
# (start, end) pairs: the end may not come before the start.
PERIODS: dict[str, list[tuple[str, str]]] = {
    "case": [("opened_on", "closed_on")],
    "investigation": [("opened_on", "closed_on")],
    "legal_status": [("start_date", "end_date")],
    "placement": [("start_date", "end_date")],
    "payment": [("service_from", "service_to")],
}

# Freshness: days the table's newest source change may lag the newest change anywhere in the
# source (the as-of date). Tables that change every working day only; reference tables can be
# quiet for months.
FRESHNESS_DAYS: dict[str, int] = {
    "person": 7,
    "case": 7,
    "case_participant": 14,
    "referral": 7,
    "investigation": 14,
    "placement": 14,
    "payment": 7,
    "contact_note": 3,
}
MAX_LOAD_AGE = timedelta(hours=26)  # nightly: the table must have been loaded in the last day

# Night-over-night live row count: the drop and the growth a night may bring (beyond ``SLACK``
# rows, so small reference tables may gain a few rows).
MAX_DROP = 0.5
MAX_GROWTH = 1.0
SLACK = 50


def volume_bounds(previous: int) -> tuple[int, int]:
    """Allowed live row count tonight, given the last accepted night's count."""
    return int(previous * (1 - MAX_DROP)), int(previous * (1 + MAX_GROWTH)) + SLACK


def raw_query(t: RawTable) -> str:
    """Live rows of the raw table, with the time the table was last loaded (batch start)."""
    live = sql.SQL("not r._deleted")
    if t.soft_delete_column:
        live = sql.SQL("{} and not coalesce(r.{}, false)").format(live, sql.Identifier(t.soft_delete_column))
    return (
        sql.SQL(
            "select r.*, l.last_loaded_at as _dq_last_loaded_at from {table} as r "
            "cross join (select max(b.started_at) as last_loaded_at from extract_meta.table_loads tl "
            "join extract_meta.batches b on b.batch_id = tl.batch_id where tl.table_name = {name}) as l "
            "where {live}"
        )
        .format(table=sql.Identifier("raw", t.name), name=sql.Literal(t.name), live=live)
        .as_string(None)
    )


def _checks(t: RawTable, as_of: date, previous_rows: int | None, now: datetime) -> list[Check]:
    expected = [*t.columns, *LOAD_COLUMNS]
    checks = [
        Check(
            "ExpectTableColumnsToMatchSet",
            {"column_set": expected, "exact_match": False},
            True,
            "every contract column (schema.sql + load metadata) is present",
        ),
        Check(
            "ExpectTableColumnsToMatchSet",
            {"column_set": [*expected, "_dq_last_loaded_at"], "exact_match": True},
            False,
            "no columns beyond the contract (additive drift)",
        ),
    ]
    for col in t.key:
        checks.append(Check("ExpectColumnValuesToNotBeNull", {"column": col}, True, "key is filled"))
    if len(t.key) == 1:
        checks.append(Check("ExpectColumnValuesToBeUnique", {"column": t.key[0]}, True, "key is unique"))
    else:
        checks.append(
            Check("ExpectCompoundColumnsToBeUnique", {"column_list": list(t.key)}, True, "key is unique")
        )
    for col, values in VALUE_SETS.get(t.name, {}).items():
        checks.append(
            Check(
                "ExpectColumnValuesToBeInSet", {"column": col, "value_set": values}, True, "documented codes"
            )
        )
    for col, mostly in FILLED.get(t.name, {}).items():
        checks.append(
            Check(
                "ExpectColumnValuesToNotBeNull", {"column": col, "mostly": mostly}, True, "no burst of nulls"
            )
        )
    if t.name in BUSINESS_KEYS:
        checks.append(
            Check(
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": BUSINESS_KEYS[t.name], "ignore_row_if": "any_value_is_missing"},
                True,
                "no duplicated batch (the same business facts under new keys)",
            )
        )
    if previous_rows is None:
        checks.append(
            Check(
                "ExpectTableRowCountToBeBetween",
                {"min_value": 1},
                True,
                "not empty (first night: no baseline)",
            )
        )
    else:
        low, high = volume_bounds(previous_rows)
        checks.append(
            Check(
                "ExpectTableRowCountToBeBetween",
                {"min_value": low, "max_value": high},
                True,
                f"night-over-night volume; last accepted night: {previous_rows:,} live rows",
                {"previous_rows": previous_rows},
            )
        )
    latest = (as_of + timedelta(days=FUTURE_DAYS)).isoformat()
    for col, earliest in DATE_COLUMNS.get(t.name, {}).items():
        top = as_of.isoformat() if col == "birth_date" else latest
        checks.append(
            Check(
                "ExpectColumnValuesToBeBetween",
                {"column": col, "min_value": earliest, "max_value": top},
                False,
                "plausible date",
            )
        )
    for start, end in PERIODS.get(t.name, []):
        checks.append(
            Check(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": end,
                    "column_B": start,
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                False,
                "ends on or after it starts",
            )
        )
    if t.name in FRESHNESS_DAYS:
        since = datetime.combine(
            as_of - timedelta(days=FRESHNESS_DAYS[t.name]), datetime.min.time(), tzinfo=UTC
        )
        checks.append(
            Check(
                "ExpectColumnMaxToBeBetween",
                {"column": "_source_updated_at", "min_value": since.isoformat()},
                False,
                f"newest source change at most {FRESHNESS_DAYS[t.name]} days before the as-of date {as_of}",
            )
        )
    checks.append(
        Check(
            "ExpectColumnMaxToBeBetween",
            {"column": "_dq_last_loaded_at", "min_value": (now - MAX_LOAD_AGE).isoformat()},
            False,
            f"loaded by extract in the last {MAX_LOAD_AGE.total_seconds() / 3600:.0f} hours",
        )
    )
    return checks


def raw_suites(as_of: date, baselines: dict[str, int], now: datetime) -> list[Suite]:
    """The raw suites for tonight: volume bounds from ``baselines`` (suite → last accepted rows)."""
    suites = []
    for t in raw_tables():
        name = t.relation
        suites.append(
            Suite(
                name=name,
                relation=name,
                query=raw_query(t),
                asset_key=("raw", t.name),
                checks=_checks(t, as_of, baselines.get(name), now),
            )
        )
    return suites
