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

Two modes (``data_quality.expectations.scope``). *Full*: every check reads every live row.
*Nightly*: the row-level checks (keys, codes, bursts of nulls, dates, periods) read only the live
rows landed since the suite's last accepted run; the table-level ones stay whole but cheap —
volume, freshness and last load read facts measured in one scan (the ``table`` part), the column
set is the query's, key uniqueness across the table is raw's primary key; and the duplicated-batch
check compares the new rows with every live row of the table (the ``duplicates`` part, through an
index on the business key's first column), in both modes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from psycopg import sql

from data_quality.expectations.contract import LOAD_COLUMNS, RawTable, raw_tables
from data_quality.expectations.scope import Facts, Scope
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
# soft-deleted, as a records clerk would do. The first column is indexed (business_key_index, built
# by the first nightly run) so that a nightly run looks tonight's rows up instead of reading the table.
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
# A nightly run checks "mostly filled" columns on tonight's rows only: on a small night one
# legitimate null is already several percent. Up to this many nulls pass whatever their share.
NULL_SLACK = 5

# Parts of a raw suite besides its main query (spec.Check.part).
TABLE_PART = "table"  # nightly: whole-table facts, one constant row (scope.measure)
DUPLICATES_PART = "duplicates"  # the rows checked, each with another live row of the same facts
DUPLICATE_COLUMN = "_dq_duplicate_of"
# Double entries against a duplicated batch. Staff key the same payment or note twice now and then
# and soft-delete the repeat within days (at provincial scale dozens are pending after each
# month's per-diem run); a re-run import repeats a whole batch. Repeats up to this share of the
# rows checked (or NULL_SLACK rows on a small night) are a warning that lists them; more hold the
# table back.
MAX_DUPLICATE_SHARE = 0.01


def volume_bounds(previous: int) -> tuple[int, int]:
    """Allowed live row count tonight, given the last accepted night's count."""
    return int(previous * (1 - MAX_DROP)), int(previous * (1 + MAX_GROWTH)) + SLACK


def raw_query(t: RawTable, after: int | None = None) -> str:
    """Live rows of the raw table (only those landed after batch ``after`` when given), with the
    time the table was last loaded (batch start)."""
    where = t.live("r")
    if after is not None:
        where = sql.SQL("{} and r._batch_id > {}").format(where, sql.Literal(after))
    return (
        sql.SQL(
            "select r.*, l.last_loaded_at as _dq_last_loaded_at from {table} as r "
            "cross join (select max(b.started_at) as last_loaded_at from extract_meta.table_loads tl "
            "join extract_meta.batches b on b.batch_id = tl.batch_id where tl.table_name = {name}) as l "
            "where {where}"
        )
        .format(table=sql.Identifier("raw", t.name), name=sql.Literal(t.name), where=where)
        .as_string(None)
    )


def facts_query(facts: Facts) -> str:
    """The whole-table facts of a nightly run as one constant row for GX (measured in one scan by
    scope.measure; the Data Docs show the numbers in the query)."""
    return (
        sql.SQL(
            "select {}::bigint as _dq_live_rows, {}::timestamptz as _source_updated_at,"
            " {}::timestamptz as _dq_last_loaded_at"
        )
        .format(
            sql.Literal(facts.live_rows), sql.Literal(facts.newest_change), sql.Literal(facts.last_loaded_at)
        )
        .as_string(None)
    )


def _key_text(t: RawTable, alias: str) -> sql.Composable:
    """E.g. ``'payment_id=' || n.payment_id`` (composite keys joined by ', ')."""
    return sql.SQL(" || ', ' || ").join(
        sql.SQL("{} || {}::text").format(sql.Literal(f"{k}="), sql.Identifier(alias, k)) for k in t.key
    )


def duplicates_query(t: RawTable, after: int | None = None) -> str:
    """Each live row (landed after batch ``after`` when given) with another live row of the whole
    table holding the same business facts under another key, as text (null: none).

    Rows with a missing business-key value never match (as GX's ``any_value_is_missing``). The
    rows checked are joined to the table on the business key, whose first column is indexed: a
    nightly run probes the index for tonight's rows, a full run hash-joins the table with itself.
    (GX takes a query asset only when it starts with SELECT: no CTE.)
    """
    bk = BUSINESS_KEYS[t.name]
    cols = list(dict.fromkeys([*t.key, *bk]))
    where = t.live("r")
    if after is not None:
        where = sql.SQL("{} and r._batch_id > {}").format(where, sql.Literal(after))
    n_cols = sql.SQL(", ").join(sql.Identifier("n", c) for c in cols)
    return (
        sql.SQL(
            "select {n_cols}, case when min({o_text}) is not null"
            " then {n_text} || ' repeats ' || min({o_text}) end as {dup} "
            "from (select {cols} from {table} as r where {where}) as n "
            "left join {table} as o on {match} and ({o_key}) <> ({n_key}) and {live_o} "
            "group by {n_cols}"
        )
        .format(
            n_cols=n_cols,
            cols=sql.SQL(", ").join(sql.Identifier("r", c) for c in cols),
            table=sql.Identifier("raw", t.name),
            where=where,
            n_key=sql.SQL(", ").join(sql.Identifier("n", k) for k in t.key),
            o_key=sql.SQL(", ").join(sql.Identifier("o", k) for k in t.key),
            o_text=_key_text(t, "o"),
            n_text=_key_text(t, "n"),
            match=sql.SQL(" and ").join(
                sql.SQL("{} = {}").format(sql.Identifier("o", c), sql.Identifier("n", c)) for c in bk
            ),
            live_o=t.live("o"),
            dup=sql.Identifier(DUPLICATE_COLUMN),
        )
        .as_string(None)
    )


def business_key_index(t: RawTable) -> sql.Composed | None:
    """DDL of the index the duplicated-batch check looks tonight's rows up by (None: no check)."""
    if t.name not in BUSINESS_KEYS:
        return None
    return sql.SQL("create index if not exists {} on {} ({})").format(
        sql.Identifier(f"{t.name}__dq_business_key"),
        sql.Identifier("raw", t.name),
        sql.Identifier(BUSINESS_KEYS[t.name][0]),
    )


def _mostly(mostly: float, rows: int | None) -> float:
    """The share that must be filled tonight: ``mostly``, eased on a small night (NULL_SLACK)."""
    if rows is None or mostly >= 1 or rows <= 0:
        return mostly
    return min(mostly, max(0.0, 1 - NULL_SLACK / rows))


def _tolerance(mostly: float, new_rows: int | None) -> tuple[float, dict[str, float | int]]:
    """The share a check allows tonight (``_mostly``) and, when a small night eased it, the facts
    its message names; a full run (``new_rows`` None) allows ``mostly`` as is."""
    share = _mostly(mostly, new_rows)
    return share, ({"mostly": mostly, "slack_rows": NULL_SLACK} if share != mostly else {})


def _checks(
    t: RawTable,
    as_of: date,
    previous_rows: int | None,
    now: datetime,
    scope: Scope | None = None,
    facts: Facts | None = None,
) -> list[Check]:
    """The table's checks; with a nightly scope (and its facts) the table-level ones read the
    ``table`` part and the row-level ones the rows landed since the scope's mark."""
    nightly = scope is not None and not scope.whole and facts is not None
    table_part = TABLE_PART if nightly else ""
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
    unique = "key is unique" + (" (across the table: raw's primary key)" if nightly else "")
    if len(t.key) == 1:
        checks.append(Check("ExpectColumnValuesToBeUnique", {"column": t.key[0]}, True, unique))
    else:
        checks.append(Check("ExpectCompoundColumnsToBeUnique", {"column_list": list(t.key)}, True, unique))
    for col, values in VALUE_SETS.get(t.name, {}).items():
        checks.append(
            Check(
                "ExpectColumnValuesToBeInSet", {"column": col, "value_set": values}, True, "documented codes"
            )
        )
    new_rows = facts.new_rows if nightly and facts else None
    for col, mostly in FILLED.get(t.name, {}).items():
        share, eased = _tolerance(mostly, new_rows)
        checks.append(
            Check(
                "ExpectColumnValuesToNotBeNull",
                {"column": col, "mostly": share},
                True,
                "no burst of nulls",
                eased,
            )
        )
    if t.name in BUSINESS_KEYS:
        label = ", ".join(BUSINESS_KEYS[t.name])
        share, eased = _tolerance(1 - MAX_DUPLICATE_SHARE, new_rows)
        checks += [
            Check(
                "ExpectColumnValuesToBeNull",
                {"column": DUPLICATE_COLUMN, "mostly": share},
                True,
                "no duplicated batch (the same business facts under new keys)",
                {"duplicates": True, **eased},
                part=DUPLICATES_PART,
                label=label,
            ),
            Check(
                "ExpectColumnValuesToBeNull",
                {"column": DUPLICATE_COLUMN},
                False,
                "double entries awaiting clean-up in the source",
                {"duplicates": True},
                part=DUPLICATES_PART,
                label=label,
            ),
        ]
    if previous_rows is None:
        low, high, why, context = 1, None, "not empty (first night: no baseline)", {"volume": True}
    else:
        low, high = volume_bounds(previous_rows)
        why = f"night-over-night volume; last accepted night: {previous_rows:,} live rows"
        context = {"volume": True, "previous_rows": previous_rows}
    bounds = {"min_value": low, **({"max_value": high} if high is not None else {})}
    if nightly:
        kind, kwargs = "ExpectColumnMaxToBeBetween", {"column": "_dq_live_rows", **bounds}
    else:
        kind, kwargs = "ExpectTableRowCountToBeBetween", bounds
    checks.append(Check(kind, kwargs, True, why, context, part=table_part))
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
                part=table_part,
            )
        )
    checks.append(
        Check(
            "ExpectColumnMaxToBeBetween",
            {"column": "_dq_last_loaded_at", "min_value": (now - MAX_LOAD_AGE).isoformat()},
            False,
            f"loaded by extract in the last {MAX_LOAD_AGE.total_seconds() / 3600:.0f} hours",
            part=table_part,
        )
    )
    return checks


def raw_suites(
    as_of: date,
    baselines: dict[str, int],
    now: datetime,
    scopes: dict[str, Scope] | None = None,
    facts: dict[str, Facts] | None = None,
) -> list[Suite]:
    """The raw suites for tonight: volume bounds from ``baselines`` (suite → last accepted rows);
    a suite with a nightly scope (and its measured facts) checks only the rows landed since its
    mark. Without scopes every suite reads every live row (full mode)."""
    suites = []
    for t in raw_tables():
        name = t.relation
        scope = (scopes or {}).get(name)
        fact = (facts or {}).get(name)
        after = scope.after if scope is not None and fact is not None else None
        parts = {}
        if after is not None and fact is not None:
            parts[TABLE_PART] = facts_query(fact)
        if t.name in BUSINESS_KEYS:
            parts[DUPLICATES_PART] = duplicates_query(t, after)
        suites.append(
            Suite(
                name=name,
                relation=name,
                query=raw_query(t, after),
                asset_key=("raw", t.name),
                checks=_checks(t, as_of, baselines.get(name), now, scope, fact),
                parts=parts,
                rows_label=scope.rows_label() if scope is not None and after is not None else "rows",
            )
        )
    return suites
