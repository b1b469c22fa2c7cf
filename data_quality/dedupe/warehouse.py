"""Duplicate persons in the warehouse: full and incremental matching, outputs dbt reads, evaluation.

Tables (schema ``data_quality``, which dbt's ``int_persons_mastered`` reads through the view
``data_quality.person_match``):

* ``person_frame`` — the normalised matcher input per person, with a fingerprint of the raw
  person + address rows it came from: the nightly run re-normalises only rows whose fingerprint
  changed (cost ∝ change).
* ``person_match_pairs`` — scored pairs at or above the review threshold: probability, weight,
  which fields agreed (``given_name=nickname; birth_date=exact; …``), and why a pair may never be
  merged (twins, recorded relationship).
* ``master_person`` — person_id → master_person_id (the smallest person id of the cluster).
* ``match_run`` — one row per run: full or incremental, model version, prior, counts, seconds.

Nightly: new/changed persons are scored against everyone (Splink ``predict_between`` +
``predict_within``) and only the clusters they touch are re-clustered. ``--full`` re-scores and
re-clusters everyone (and is what the first run does).
"""

from __future__ import annotations

import copy
import gc
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from cww.errors import CwwError
from cww.postgres import resolve_server
from cww.settings import Settings
from data_quality.dedupe.cluster import constrained_clusters
from data_quality.dedupe.evaluate import PairwiseScore, pairwise_score
from data_quality.dedupe.match import finish_pairs, score_and_cluster, twin_cannot_links
from data_quality.dedupe.model import (
    DuckTable,
    block_keys,
    duckdb_connection,
    load_model,
    new_linker,
    save_model,
    train,
)
from data_quality.dedupe.normalise import FRAME_COLUMNS, person_frame

SCHEMA = "data_quality"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.person_frame (
    person_id bigint primary key,
    fingerprint text not null,
    agency_id smallint,
    given_name text, middle_name text, given_set text[], given_key text, given_mp text,
    surname text, surname_tokens text[], surname_mp text,
    birth_date text, dob_y int, dob_m int, dob_d int, sex text,
    street text, city text, postal_code text, fsa text, postal_history text[], phone text,
    rel_dobs text[], rel_names text[]
);
-- model v2 added the relatives' birth dates and names (tables created by v1 lack them)
alter table {SCHEMA}.person_frame add column if not exists rel_dobs text[];
alter table {SCHEMA}.person_frame add column if not exists rel_names text[];
create table if not exists {SCHEMA}.person_match_pairs (
    person_id_l bigint not null,
    person_id_r bigint not null,
    match_probability double precision not null,
    match_weight double precision not null,
    agreement text not null,
    cannot_link text,
    model_version int not null,
    scored_at timestamptz not null default now(),
    primary key (person_id_l, person_id_r)
);
create index if not exists person_match_pairs_r on {SCHEMA}.person_match_pairs (person_id_r);
create table if not exists {SCHEMA}.master_person (
    person_id bigint primary key,
    master_person_id bigint not null,
    matched_at timestamptz not null default now()
);
create index if not exists master_person_master on {SCHEMA}.master_person (master_person_id);
-- the nightly run fetches the blocking neighbourhood of changed persons through one GIN index on
-- their blocking keys (model.block_keys); the per-column indexes it used before returned ~10^5
-- rows a night that the blocking rules' second column then discarded
alter table {SCHEMA}.person_frame add column if not exists block_keys text[];
drop index if exists {SCHEMA}.person_frame_birth_date;
drop index if exists {SCHEMA}.person_frame_phone;
drop index if exists {SCHEMA}.person_frame_postal_history;
drop index if exists {SCHEMA}.person_frame_rel_dobs;
create index if not exists person_frame_block_keys on {SCHEMA}.person_frame using gin (block_keys);
create table if not exists {SCHEMA}.match_run (
    run_id bigserial primary key,
    started_at timestamptz not null default now(),
    mode text not null,
    model_version int not null,
    prior double precision not null,
    persons int not null,
    changed int not null,
    removed int not null,
    pairs int not null,
    merged_records int not null,
    seconds double precision not null
);
-- newest extract batch seen by a run: the next night looks only at raw rows of later batches
alter table {SCHEMA}.match_run add column if not exists raw_batch_id bigint;
create or replace view {SCHEMA}.person_match as
    select person_id, master_person_id from {SCHEMA}.master_person;
comment on table {SCHEMA}.master_person is
    'person_id -> master_person_id (smallest person_id of the cluster), written by cww dedupe run';
comment on table {SCHEMA}.person_match_pairs is
    'Candidate duplicate pairs at or above the review threshold, written by cww dedupe run';
"""

# Raw person rows with their current address and postal-code history; the fingerprint covers
# every column the matcher reads, so any change to them (or a move) re-matches the person.
_SOURCE_SQL_TEMPLATE = """
with addr as (
    select person_id,
           (array_agg(street order by end_date is not null, start_date desc, address_id desc))[1] as street,
           (array_agg(city order by end_date is not null, start_date desc, address_id desc))[1] as city,
           (array_agg(postal_code order by end_date is not null, start_date desc, address_id desc))[1]
               as postal_code,
           array_agg(distinct postal_code) filter (where postal_code is not null) as postal_history
    from raw.person_address
    where not _deleted and not is_deleted {only_ids}
    group by person_id
),
link as (
    select person_id, related_person_id as other_id from raw.person_relationship
    where not _deleted and not is_deleted {only_ids}
    union
    select related_person_id, person_id from raw.person_relationship
    where not _deleted and not is_deleted {only_related_ids}
),
rel as (
    select l.person_id,
           array_agg(distinct q.birth_date order by q.birth_date)
               filter (where q.birth_date is not null) as relative_birth_dates,
           array_agg(distinct q.given_name order by q.given_name)
               filter (where q.given_name is not null) as relative_given_names
    from link l
    join raw.person q on q.person_id = l.other_id and not q._deleted and not q.is_deleted
    where l.person_id <> l.other_id
    group by l.person_id
)
select p.person_id, p.agency_id, p.given_name, p.middle_name, p.surname, p.birth_date, p.sex_code as sex,
       p.phone, a.street, a.city, a.postal_code, a.postal_history,
       r.relative_birth_dates, r.relative_given_names,
       md5(concat_ws('|', p.given_name, p.middle_name, p.surname, p.birth_date, p.sex_code, p.phone,
                     a.street, a.city, a.postal_code, array_to_string(a.postal_history, ','),
                     array_to_string(r.relative_birth_dates, ','),
                     array_to_string(r.relative_given_names, ','))) as fingerprint
from raw.person p
left join addr a using (person_id)
left join rel r using (person_id)
where not p._deleted and not p.is_deleted {only_p_ids}
"""
_SOURCE_SQL = _SOURCE_SQL_TEMPLATE.format(only_ids="", only_related_ids="", only_p_ids="")
# The same rows for some persons only (parameter: an array of person ids); every CTE is
# restricted, so a night's few hundred persons do not aggregate the whole province. The raw
# tables have no index on person_id that we own: `in (select unnest(…))` gives a hash semi-join,
# where `= any(array)` would compare every raw row with every id (minutes at provincial scale).
_SOURCE_SQL_FOR_IDS = _SOURCE_SQL_TEMPLATE.format(
    only_ids="and person_id in (select unnest(%(ids)s::bigint[]))",
    only_related_ids="and related_person_id in (select unnest(%(ids)s::bigint[]))",
    only_p_ids="and p.person_id in (select unnest(%(ids)s::bigint[]))",
)


@dataclass
class RunSummary:
    mode: str
    persons: int
    changed: int
    removed: int
    pairs: int
    merged_records: int
    seconds: float
    model_version: int
    prior: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"{self.mode} matching with model v{self.model_version}: {self.persons:,} persons, "
            f"{self.changed:,} new/changed, {self.removed:,} removed",
            f"{self.pairs:,} candidate pairs for review; {self.merged_records:,} records merged into "
            f"another master person ({self.seconds:.1f} s)",
        ]


def connect(settings: Settings) -> psycopg.Connection:
    server = resolve_server(settings)
    return psycopg.connect(server.conninfo(settings.warehouse_db), autocommit=False)


def ensure_schema(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def _require_raw(conn: psycopg.Connection) -> None:
    missing = [
        t
        for t in ("person", "person_address", "person_relationship")
        if conn.execute("select to_regclass(%s)", (f"raw.{t}",)).fetchone()[0] is None
    ]
    if missing:
        raise CwwError(
            f"warehouse has no raw.{', raw.'.join(missing)}: nothing to match. Fix: run `cww extract` first."
        )


def _read_source(conn: psycopg.Connection, only_ids: list[int] | None = None) -> pd.DataFrame:
    if only_ids is None:
        cur = conn.execute(_SOURCE_SQL)
    else:
        cur = conn.execute(_SOURCE_SQL_FOR_IDS, {"ids": only_ids})
    cols = [d.name for d in cur.description]
    return pd.DataFrame(cur.fetchall(), columns=cols)


# Rows normalised per batch when reading everyone: a batch of raw rows with their lists costs a
# few hundred MB as Python objects at most, and is gone before the next one (the full run's
# resident memory is the largest batch, not the province).
READ_BATCH = 100_000

# DuckDB columns of the matcher's frame (lists of text for the array columns).
_DUCK_TYPES = {
    "dob_y": "integer",
    "dob_m": "integer",
    "dob_d": "integer",
    "given_set": "varchar[]",
    "surname_tokens": "varchar[]",
    "postal_history": "varchar[]",
    "rel_dobs": "varchar[]",
    "rel_names": "varchar[]",
}


def _arrow_schema():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    kinds = {"integer": pa.int32(), "varchar[]": pa.list_(pa.string())}
    return pa.schema([(c, kinds.get(_DUCK_TYPES.get(c, ""), pa.string())) for c in FRAME_COLUMNS])


def _stream_frame(conn: psycopg.Connection, duck: DuckTable) -> int:
    """Normalise every person batch by batch into person_frame (PostgreSQL) and a DuckDB table.

    Nothing of the province stays in Python: each batch is read through a server-side cursor,
    normalised, copied to both places and dropped. Returns the number of persons.
    """
    import pyarrow as pa

    duck.con.execute(
        f"create or replace table {duck.name} ("
        + ", ".join(f"{c} {_DUCK_TYPES.get(c, 'varchar')}" for c in FRAME_COLUMNS)
        + ")"
    )
    schema = _arrow_schema()
    n = 0
    with conn.cursor(name="dedupe_person_source") as cur:
        cur.itersize = READ_BATCH
        cur.execute(_SOURCE_SQL)
        cols: list[str] | None = None
        while rows := cur.fetchmany(READ_BATCH):
            cols = cols or [d.name for d in cur.description]
            frame = _frame_from_source(pd.DataFrame(rows, columns=cols))
            del rows
            _copy_frame(conn, frame)
            batch = pa.Table.from_pandas(frame[FRAME_COLUMNS], schema=schema, preserve_index=False)
            duck.con.register("_person_batch", batch)
            duck.con.execute(f"insert into {duck.name} select * from _person_batch")
            duck.con.unregister("_person_batch")
            n += len(frame)
            del frame, batch
            gc.collect()
    return n


def _relationships_among(conn: psycopg.Connection, ids: set[str]) -> list[tuple[str, str]]:
    """Recorded relationships (parent, sibling, twin, kin: different people) between some records.

    Only records in a scored pair can be merged, so only their relationships are cannot-links.
    """
    rows = conn.execute(
        "select person_id, related_person_id from raw.person_relationship"
        " where not _deleted and not is_deleted and person_id <> related_person_id"
        " and person_id in (select unnest(%(ids)s::bigint[]))"
        " and related_person_id in (select unnest(%(ids)s::bigint[]))",
        {"ids": sorted(int(i) for i in ids)},
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def _frame_from_source(src: pd.DataFrame) -> pd.DataFrame:
    records = src.rename(columns={"person_id": "record_id"})
    frame = person_frame(records)
    frame["fingerprint"] = src["fingerprint"].tolist()
    frame["agency_id"] = src["agency_id"].tolist()
    frame["block_keys"] = block_keys(frame)
    return frame


def _copy_frame(conn: psycopg.Connection, frame: pd.DataFrame) -> None:
    cols = ["unique_id", "fingerprint", "agency_id", *FRAME_COLUMNS[1:], "block_keys"]
    target = ["person_id", "fingerprint", "agency_id", *FRAME_COLUMNS[1:], "block_keys"]
    with conn.cursor().copy(f"copy {SCHEMA}.person_frame ({', '.join(target)}) from stdin") as cp:
        for row in frame[cols].itertuples(index=False):
            cp.write_row([None if _isna(v) else (int(v) if i == 0 else v) for i, v in enumerate(row)])


def _isna(v: Any) -> bool:
    return v is None or (not isinstance(v, list | tuple) and pd.isna(v))


def _write_pairs(conn: psycopg.Connection, pairs: pd.DataFrame, version: int) -> None:
    with conn.cursor().copy(
        f"copy {SCHEMA}.person_match_pairs (person_id_l, person_id_r, match_probability, match_weight,"
        " agreement, cannot_link, model_version) from stdin"
    ) as cp:
        for a, b, p, w, ag, cl in pairs[
            ["id_l", "id_r", "match_probability", "match_weight", "agreement", "cannot_link"]
        ].itertuples(index=False):
            lo, hi = sorted((int(a), int(b)))
            cp.write_row([lo, hi, float(p), float(w), ag, cl if isinstance(cl, str) else None, version])


def _write_clusters(conn: psycopg.Connection, clusters: dict[str, str]) -> None:
    with conn.cursor().copy(f"copy {SCHEMA}.master_person (person_id, master_person_id) from stdin") as cp:
        for pid, master in clusters.items():
            cp.write_row([int(pid), int(master)])


def _last_prior(conn: psycopg.Connection) -> tuple[float, int] | None:
    row = conn.execute(
        f"select prior, model_version from {SCHEMA}.match_run where mode = 'full'"
        " order by run_id desc limit 1"
    ).fetchone()
    return (float(row[0]), int(row[1])) if row else None


def run_dedupe(settings: Settings, full: bool = False, retrain: bool = False) -> list[str]:
    """`cww dedupe run`: incremental by default, full on demand or when nothing was matched yet."""
    return run_matching(settings, full=full, retrain=retrain).lines()


def run_matching(settings: Settings, full: bool = False, retrain: bool = False) -> RunSummary:
    started = time.perf_counter()
    with connect(settings) as conn:
        _require_raw(conn)
        ensure_schema(conn)
        conn.commit()
        model = None if retrain else load_model()
        watermark = _raw_watermark(conn)
        previous = _last_prior(conn)
        # person_frame rows written before the blocking keys existed cannot be looked up: one full run
        unkeyed = conn.execute(
            f"select exists (select 1 from {SCHEMA}.person_frame where block_keys is null)"
        ).fetchone()[0]
        if full or retrain or previous is None or unkeyed:
            summary = _full(conn, model, retrain)
        else:
            assert model is not None
            summary = _incremental(conn, model, prior=previous[0])
        summary.seconds = time.perf_counter() - started
        conn.execute(
            f"insert into {SCHEMA}.match_run (mode, model_version, prior, persons, changed, removed, pairs,"
            " merged_records, seconds, raw_batch_id) values (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                summary.mode,
                summary.model_version,
                summary.prior,
                summary.persons,
                summary.changed,
                summary.removed,
                summary.pairs,
                summary.merged_records,
                summary.seconds,
                watermark,
            ),
        )
        conn.commit()
    return summary


def _merged(conn: psycopg.Connection) -> int:
    return conn.execute(
        f"select count(*) from {SCHEMA}.master_person where person_id <> master_person_id"
    ).fetchone()[0]


def _full(conn: psycopg.Connection, model: dict[str, Any] | None, retrain: bool) -> RunSummary:
    for table in ("person_frame", "person_match_pairs", "master_person"):
        conn.execute(f"truncate {SCHEMA}.{table}")
    con = duckdb_connection()
    try:
        source = DuckTable(con, "person_source")
        # a GIN index filled row by row costs more than building it once after the load
        conn.execute(f"drop index if exists {SCHEMA}.person_frame_block_keys")
        n = _stream_frame(conn, source)
        conn.execute(f"create index person_frame_block_keys on {SCHEMA}.person_frame using gin (block_keys)")
        conn.execute(f"analyze {SCHEMA}.person_frame")  # the nightly look-ups plan on its statistics
        if retrain:
            path = save_model(train(source), "warehouse raw.person", n)
            model = load_model(path)
        assert model is not None
        result = (
            score_and_cluster(source, model, cannot_link=lambda ids: _relationships_among(conn, ids))
            if n > 1
            else None
        )
    finally:
        con.close()
    if result is not None:
        _write_pairs(conn, result.pairs, model["version"])
        _write_clusters(conn, result.clusters)
    # everyone not in a scored pair is their own master person
    conn.execute(
        f"insert into {SCHEMA}.master_person (person_id, master_person_id)"
        f" select f.person_id, f.person_id from {SCHEMA}.person_frame f"
        f" where not exists (select 1 from {SCHEMA}.master_person m where m.person_id = f.person_id)"
    )
    summary = RunSummary(
        "full",
        n,
        n,
        0,
        len(result.pairs) if result else 0,
        _merged(conn),
        0.0,
        model["version"],
    )
    summary.prior = result.prior if result else 1e-6
    return summary


_RAW_WATERMARK_SQL = """
select greatest((select max(_batch_id) from raw.person),
                (select max(_batch_id) from raw.person_address),
                (select max(_batch_id) from raw.person_relationship))
"""

# Raw rows of extract batches after the last run's (batch ids come from a sequence, so a batch
# still loading while a run reads is later than what it saw), and the relatives of those persons
# (their lists of relatives' names and birth dates change with them). Only these are
# fingerprinted again; the fingerprint decides what changed.
_TOUCHED_SQL = """
with touched as (
    select person_id from raw.person where _batch_id > %(since)s
    union select person_id from raw.person_address where _batch_id > %(since)s
    union select person_id from raw.person_relationship where _batch_id > %(since)s
    union select related_person_id from raw.person_relationship where _batch_id > %(since)s
)
select person_id from touched
union select r.related_person_id from raw.person_relationship r join touched t using (person_id)
union select r.person_id from raw.person_relationship r join touched t on t.person_id = r.related_person_id
"""


def _raw_watermark(conn: psycopg.Connection) -> Any:
    return conn.execute(_RAW_WATERMARK_SQL).fetchone()[0]


def _last_watermark(conn: psycopg.Connection) -> Any:
    row = conn.execute(f"select raw_batch_id from {SCHEMA}.match_run order by run_id desc limit 1").fetchone()
    return row[0] if row else None


def _changes(conn: psycopg.Connection) -> tuple[list[int], list[int]]:
    """(new or changed person ids, removed person ids) since the last run.

    With a watermark from the last run only the raw rows extracted since then (and their
    relatives) are fingerprinted: cost ∝ change. Without one (a run by an older version),
    everyone is fingerprinted once.
    """
    since = _last_watermark(conn)
    if since is None:
        current = dict(conn.execute(f"select person_id, fingerprint from ({_SOURCE_SQL}) s").fetchall())
        stored = dict(conn.execute(f"select person_id, fingerprint from {SCHEMA}.person_frame").fetchall())
        changed = [pid for pid, fp in current.items() if stored.get(pid) != fp]
        return changed, [pid for pid in stored if pid not in current]
    candidates = [r[0] for r in conn.execute(_TOUCHED_SQL, {"since": since}).fetchall()]
    current = dict(
        conn.execute(
            f"select person_id, fingerprint from ({_SOURCE_SQL_FOR_IDS}) s", {"ids": candidates}
        ).fetchall()
    )
    stored = dict(
        conn.execute(
            f"select person_id, fingerprint from {SCHEMA}.person_frame where person_id = any(%s)",
            (candidates,),
        ).fetchall()
    )
    changed = [pid for pid, fp in current.items() if stored.get(pid) != fp]
    removed = [
        r[0]
        for r in conn.execute(
            f"select f.person_id from {SCHEMA}.person_frame f where not exists (select 1 from raw.person p"
            " where p.person_id = f.person_id and not p._deleted and not p.is_deleted)"
        )
    ]
    return changed, removed


def _incremental(conn: psycopg.Connection, model: dict[str, Any], prior: float) -> RunSummary:
    """Re-normalise and re-score only new/changed persons; re-cluster only what they touch."""
    changed, removed = _changes(conn)
    touched = changed + removed
    if touched:
        conn.execute(f"delete from {SCHEMA}.person_frame where person_id = any(%s)", (touched,))
    if changed:
        _copy_frame(conn, _frame_from_source(_read_source(conn, changed)))
    persons = conn.execute(f"select count(*) from {SCHEMA}.person_frame").fetchone()[0]
    summary = RunSummary("incremental", persons, len(changed), len(removed), 0, 0, 0.0, model["version"])
    summary.prior = prior
    if not touched:
        summary.merged_records = _merged(conn)
        summary.pairs = conn.execute(f"select count(*) from {SCHEMA}.person_match_pairs").fetchone()[0]
        return summary
    # old clusters of everything touched are re-clustered as a whole
    old_masters = [
        r[0]
        for r in conn.execute(
            f"select distinct master_person_id from {SCHEMA}.master_person where person_id = any(%s)",
            (touched,),
        )
    ]
    conn.execute(
        f"delete from {SCHEMA}.person_match_pairs where person_id_l = any(%s) or person_id_r = any(%s)",
        (touched, touched),
    )
    new_pairs = _score_changed(conn, model, prior, changed) if changed else pd.DataFrame()
    if not new_pairs.empty:
        _write_pairs(conn, new_pairs, model["version"])
    region = set(
        r[0]
        for r in conn.execute(
            f"select person_id from {SCHEMA}.master_person where master_person_id = any(%s)", (old_masters,)
        )
    )
    region |= set(changed)
    if not new_pairs.empty:
        partners = {int(x) for x in pd.concat([new_pairs["id_l"], new_pairs["id_r"]])}
        region |= set(
            r[0]
            for r in conn.execute(
                f"select m2.person_id from {SCHEMA}.master_person m1 join {SCHEMA}.master_person m2 "
                "using (master_person_id) where m1.person_id = any(%s)",
                (list(partners),),
            )
        )
        region |= partners
    region -= set(removed)
    region_ids = sorted(region)
    edges = conn.execute(
        "select person_id_l::text, person_id_r::text, match_probability, cannot_link"
        f" from {SCHEMA}.person_match_pairs"
        " where person_id_l = any(%s) and person_id_r = any(%s)",
        (region_ids, region_ids),
    ).fetchall()
    rel = [
        (str(a), str(b))
        for a, b in conn.execute(
            "select person_id, related_person_id from raw.person_relationship"
            " where not _deleted and not is_deleted"
            " and person_id in (select unnest(%s::bigint[]))"
            " and related_person_id in (select unnest(%s::bigint[]))",
            (region_ids, region_ids),
        )
    ]
    blocked = [(a, b) for a, b, _, cl in edges if cl]
    clusters = constrained_clusters(
        [str(i) for i in region_ids],
        [(a, b, p) for a, b, p, cl in edges if not cl],
        model["match_threshold"],
        blocked + rel,
    )
    conn.execute(f"delete from {SCHEMA}.master_person where person_id = any(%s)", (region_ids + removed,))
    _write_clusters(conn, clusters)
    summary.pairs = conn.execute(f"select count(*) from {SCHEMA}.person_match_pairs").fetchone()[0]
    summary.merged_records = _merged(conn)
    return summary


def _neighbourhood(conn: psycopg.Connection, changed: list[int]) -> pd.DataFrame:
    """Changed persons plus every stored person a blocking rule pairs them with.

    Each blocking rule instance is a key (``model.block_keys``: "same postal code ever and same
    given-name initial", "same relative's birth date and same given-name sound" …), so one GIN
    index look-up returns exactly the rules' partners instead of loading the province.
    """
    cur = conn.execute(
        f"select person_id::text as unique_id, {', '.join(FRAME_COLUMNS[1:])} from {SCHEMA}.person_frame"
        " where person_id = any(%s)",
        (changed,),
    )
    mine = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    keys = sorted({k for ks in block_keys(mine, query=True) for k in ks}) if len(mine) else []
    # With thousands of keys the planner expects every row to match and scans the province,
    # testing each row's keys against the whole list (minutes); the GIN index takes seconds.
    conn.execute("select set_config('enable_seqscan', 'off', true)")
    cur = conn.execute(
        f"select person_id::text as unique_id, {', '.join(FRAME_COLUMNS[1:])} from {SCHEMA}.person_frame"
        " where block_keys && %(keys)s::text[] and not person_id = any(%(changed)s)",
        {"keys": keys, "changed": changed},
    )
    others = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    conn.execute("select set_config('enable_seqscan', 'on', true)")
    frame = pd.concat([mine, others], ignore_index=True) if len(others) else mine
    for c in ("dob_y", "dob_m", "dob_d"):
        frame[c] = pd.array(frame[c], dtype="Int32")
    return frame[FRAME_COLUMNS]


def _register_province_term_frequencies(  # type: ignore[no-untyped-def]
    conn: psycopg.Connection, linker, splink_settings: dict[str, Any]
) -> None:
    """Name frequencies of the whole province (computed in PostgreSQL), not of the neighbourhood."""
    columns = {
        lv["tf_adjustment_column"]
        for comp in splink_settings["comparisons"]
        for lv in comp["comparison_levels"]
        if lv.get("tf_adjustment_column")
    }
    for name in sorted(columns):
        cur = conn.execute(
            sql.SQL(
                "select {c}, count(*)::float8 / sum(count(*)) over () as {tf} from {t}"
                " where {c} is not null group by {c}"
            ).format(
                c=sql.Identifier(name),
                tf=sql.Identifier(f"tf_{name}"),
                t=sql.Identifier(SCHEMA, "person_frame"),
            )
        )
        table = pd.DataFrame(cur.fetchall(), columns=[name, f"tf_{name}"])
        registered = linker._db_api.register(table, table_name=f"province_tf_{name}")
        linker.table_management.register_term_frequency_lookup(registered, name)


def _score_changed(
    conn: psycopg.Connection, model: dict[str, Any], prior: float, changed: list[int]
) -> pd.DataFrame:
    """Score changed persons against their blocking neighbourhood and among themselves."""
    frame = _neighbourhood(conn, changed)
    ids = {str(i) for i in changed}
    is_new = frame["unique_id"].isin(ids)
    settings = copy.deepcopy(model["splink_settings"])
    settings["linker_uid"] = None
    settings["probability_two_random_records_match"] = prior
    linker = new_linker(frame, settings)
    _register_province_term_frequencies(conn, linker, settings)
    db_api = linker._db_api
    left = db_api.register(frame[is_new].reset_index(drop=True), table_name="changed_persons")
    right = db_api.register(frame[~is_new].reset_index(drop=True), table_name="other_persons")
    review = min(model["review_threshold"], model["match_threshold"])
    parts = [
        linker.inference.predict_within(
            left, threshold_match_probability=review, warning_mode="never"
        ).as_pandas_dataframe()
    ]
    if (~is_new).any():
        parts.append(
            linker.inference.predict_between(
                left, right, threshold_match_probability=review, warning_mode="never"
            ).as_pandas_dataframe()
        )
    pairs = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True)
        if any(not p.empty for p in parts)
        else pd.DataFrame()
    )
    twins = [(a, b) for a, b in twin_cannot_links(linker) if a in ids or b in ids]
    rel = [(a, b) for a, b in _relationships_for(conn, changed)]
    return finish_pairs(pairs, model["splink_settings"], twins, rel, frame)


def _relationships_for(conn: psycopg.Connection, ids: list[int]) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select person_id, related_person_id from raw.person_relationship"
        " where not _deleted and not is_deleted"
        " and (person_id in (select unnest(%s::bigint[]))"
        " or related_person_id in (select unnest(%s::bigint[])))",
        (ids, ids),
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


# --------------------------------------------------------------------------- evaluation


def evaluate_against_truth(settings: Settings) -> PairwiseScore:
    """Pairwise precision/recall/F1 of master_person vs the simulator's truth.person_identity.

    The truth schema lives in the source database and is never granted to the pipeline: this is
    a scoring tool for the data team, run with the server's administrative login.
    """
    server = resolve_server(settings)
    with psycopg.connect(server.conninfo(settings.source_db)) as src:
        if (
            src.execute("select to_regclass(%s)", (f"{settings.truth_schema}.person_identity",)).fetchone()[0]
            is None
        ):
            raise CwwError(
                f"no {settings.truth_schema}.person_identity in {settings.source_db}: evaluation needs the "
                "simulator's truth. Fix: run `cww simulate init` first."
            )
        truth = {
            str(a): b
            for a, b in src.execute(
                f'select person_id, true_person_id from "{settings.truth_schema}".person_identity'
            )
        }
    with connect(settings) as conn:
        if conn.execute("select to_regclass(%s)", (f"{SCHEMA}.master_person",)).fetchone()[0] is None:
            raise CwwError("no data_quality.master_person yet. Fix: run `cww dedupe run` first.")
        clusters = {
            str(a): b
            for a, b in conn.execute(f"select person_id, master_person_id from {SCHEMA}.master_person")
        }
    return pairwise_score(clusters, truth)
