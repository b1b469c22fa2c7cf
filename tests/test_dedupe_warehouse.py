"""`cww dedupe run` against a real warehouse: full, incremental (cost ∝ change), removals, twins."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from cww.postgres import Server, create_database
from cww.settings import Settings
from data_quality.dedupe.evaluate import pairwise_score
from data_quality.dedupe.synthetic import generate
from data_quality.dedupe.warehouse import run_matching

RAW_DDL = """
create schema raw;
create table raw.person (person_id bigint primary key, agency_id smallint not null, given_name text,
  middle_name text, surname text, birth_date date, sex_code text, indigenous_code text, first_language text,
  phone text, legacy_id text, source_code text not null, migrated_at timestamptz,
  created_at timestamptz not null, updated_at timestamptz not null, is_deleted boolean not null default false,
  _batch_id bigint not null, _extracted_at timestamptz not null, _source_updated_at timestamptz,
  _deleted boolean not null default false);
create table raw.person_address (address_id bigint primary key, person_id bigint not null, street text,
  city text, province text not null default 'ON', postal_code text, start_date date not null, end_date date,
  created_at timestamptz not null, updated_at timestamptz not null, is_deleted boolean not null default false,
  _batch_id bigint not null, _extracted_at timestamptz not null, _source_updated_at timestamptz,
  _deleted boolean not null default false);
create table raw.person_relationship (relationship_id bigint primary key, person_id bigint not null,
  related_person_id bigint not null, relationship_code text not null, start_date date, end_date date,
  created_at timestamptz not null, updated_at timestamptz not null, is_deleted boolean not null default false,
  _batch_id bigint not null, _extracted_at timestamptz not null, _source_updated_at timestamptz,
  _deleted boolean not null default false);
"""
TS = "2025-01-01T00:00:00Z"


def _load_raw(conn: psycopg.Connection, df: pd.DataFrame, rels: pd.DataFrame) -> None:
    conn.execute(RAW_DDL)
    with conn.cursor().copy(
        "copy raw.person (person_id, agency_id, given_name, middle_name, surname, birth_date, sex_code,"
        " phone,"
        " source_code, created_at, updated_at, _batch_id, _extracted_at) from stdin"
    ) as cp:
        for r in df.itertuples(index=False):
            cp.write_row(
                [
                    r.pid,
                    1 + r.pid % 3,
                    r.given_name,
                    r.middle_name,
                    r.surname,
                    r.birth_date,
                    r.sex,
                    r.phone,
                    "MIG",
                    TS,
                    TS,
                    1,
                    TS,
                ]
            )
    with conn.cursor().copy(
        "copy raw.person_address (address_id, person_id, street, city, postal_code, start_date, created_at,"
        " updated_at, _batch_id, _extracted_at) from stdin"
    ) as cp:
        for r in df.itertuples(index=False):
            cp.write_row([r.pid, r.pid, r.street, r.city, r.postal_code, "2020-01-01", TS, TS, 1, TS])
    ids = dict(zip(df["record_id"], df["pid"], strict=True))
    with conn.cursor().copy(
        "copy raw.person_relationship (relationship_id, person_id, related_person_id, relationship_code,"
        " created_at, updated_at, _batch_id, _extracted_at) from stdin"
    ) as cp:
        for i, r in enumerate(rels.itertuples(index=False), 1):
            cp.write_row([i, ids[r.record_id], ids[r.related_record_id], r.code, TS, TS, 1, TS])


@pytest.fixture
def warehouse(cww_settings: Settings, pg_server: Server) -> tuple[Settings, pd.DataFrame]:
    df, rels = generate(n_families=150, seed=9)
    df["pid"] = range(1000, 1000 + len(df))
    create_database(pg_server, cww_settings.warehouse_db)
    with psycopg.connect(pg_server.conninfo(cww_settings.warehouse_db), autocommit=True) as conn:
        _load_raw(conn, df, rels)
    return cww_settings, df


def _masters(settings: Settings, server: Server) -> dict[str, int]:
    with psycopg.connect(server.conninfo(settings.warehouse_db)) as conn:
        return {
            str(a): b
            for a, b in conn.execute("select person_id, master_person_id from data_quality.person_match")
        }


def test_full_then_incremental(warehouse, pg_server: Server) -> None:
    settings, df = warehouse
    first = run_matching(settings)
    assert first.mode == "full" and first.persons == len(df)
    masters = _masters(settings, pg_server)
    truth = {str(p): t for p, t in zip(df["pid"], df["true_id"], strict=True)}
    score = pairwise_score(masters, truth)
    assert score.precision >= 0.95 and score.recall >= 0.85, score.lines()
    # twins (distinct true persons with one birth date and surname) never share a master
    twins = df[df["is_twin"]]
    for _, g in twins.groupby(["birth_date"]):
        per_person = [set(masters[str(p)] for p in s) for _, s in g.groupby("true_id")["pid"]]
        for i in range(len(per_person)):
            for j in range(i + 1, len(per_person)):
                assert not per_person[i] & per_person[j]
    with psycopg.connect(pg_server.conninfo(settings.warehouse_db)) as conn:
        n_pairs, n_agree = conn.execute(
            "select count(*), count(*) filter (where agreement like '%birth_date=%')"
            " from data_quality.person_match_pairs"
        ).fetchone()
        assert n_pairs > 0 and n_pairs == n_agree

    # nothing changed: nothing re-matched, clusters identical
    same = run_matching(settings)
    assert (same.mode, same.changed, same.removed) == ("incremental", 0, 0)
    assert _masters(settings, pg_server) == masters

    # a new migrated copy of a known child arrives, and another record is deleted at the source
    single = df[(df["noise"] == "") & ~df["is_twin"] & df["birth_date"].notna()].iloc[0]
    target_master = masters[str(single["pid"])]
    victim = df[df["pid"] != single["pid"]].iloc[5]
    with psycopg.connect(pg_server.conninfo(settings.warehouse_db), autocommit=True) as conn:
        conn.execute(
            "insert into raw.person (person_id, agency_id, given_name, surname, birth_date, sex_code,"
            " source_code, created_at, updated_at, _batch_id, _extracted_at)"
            " values (99999, 2, %s, %s, %s, %s, 'MIG', %s, %s, 2, %s)",
            (
                single["given_name"].upper(),
                single["surname"],
                single["birth_date"],
                single["sex"],
                TS,
                TS,
                TS,
            ),
        )
        conn.execute(
            "insert into raw.person_address (address_id, person_id, street, city, postal_code, start_date,"
            " created_at, updated_at, _batch_id, _extracted_at)"
            " values (99999, 99999, %s, %s, %s, '2021-01-01',"
            " %s, %s, 2, %s)",
            (single["street"], single["city"], single["postal_code"], TS, TS, TS),
        )
        conn.execute("update raw.person set _deleted = true where person_id = %s", (int(victim["pid"]),))
    inc = run_matching(settings)
    assert (inc.mode, inc.changed, inc.removed) == ("incremental", 1, 1)
    after = _masters(settings, pg_server)
    assert after["99999"] == target_master
    assert str(victim["pid"]) not in after
    # everything not touched kept its master id
    untouched = {k: v for k, v in masters.items() if k != str(victim["pid"])}
    changed = [k for k, v in untouched.items() if after[k] != v]
    assert len(changed) <= 3, changed

    # a full re-cluster on demand agrees with the incremental result
    full = run_matching(settings, full=True)
    assert full.mode == "full"
    assert _masters(settings, pg_server) == after


def test_dagster_asset_materialises_master_person(warehouse, pg_server: Server) -> None:
    import dagster as dg

    from dagster_project.assets.quality import person_match
    from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource

    settings, df = warehouse
    result = dg.materialize(
        [person_match], resources={RESOURCE_KEY: CwwSettingsResource.from_settings(settings)}
    )
    assert result.success
    mat = result.asset_materializations_for_node("data_quality__person_match")[0]
    assert mat.metadata["persons"].value == len(df) and mat.metadata["mode"].value == "full"
    assert len(_masters(settings, pg_server)) == len(df)


def test_nightly_reads_only_rows_extracted_since_the_last_run(warehouse, pg_server: Server) -> None:
    """Cost ∝ change: the night looks at raw rows of later extract batches and their relatives.

    A parent's corrected birth date changes the relatives' lists of the parent's children, so
    they are re-matched too; a row changed without being re-extracted (an impossible edit that
    bypasses the extractor) is not looked at, which shows nothing else was read.
    """
    settings, df = warehouse
    run_matching(settings)
    with psycopg.connect(pg_server.conninfo(settings.warehouse_db), autocommit=True) as conn:
        parent = conn.execute(
            "select person_id from (select person_id from raw.person_relationship"
            " union all select related_person_id from raw.person_relationship) r"
            " group by person_id order by count(*) desc, person_id limit 1"
        ).fetchone()[0]
        related = {
            r[0]
            for r in conn.execute(
                "select related_person_id from raw.person_relationship where person_id = %s"
                " union select person_id from raw.person_relationship where related_person_id = %s",
                (parent, parent),
            )
        }
        conn.execute(
            "update raw.person set birth_date = birth_date - 400, _batch_id = 2 where person_id = %s",
            (parent,),
        )
        silent = next(int(p) for p in reversed(df["pid"].tolist()) if p not in related | {parent})
        conn.execute("update raw.person set given_name = 'Zebedee' where person_id = %s", (silent,))
    night = run_matching(settings)
    assert night.mode == "incremental"
    assert len(related) >= 2 and night.changed == 1 + len(related), night
    with psycopg.connect(pg_server.conninfo(settings.warehouse_db)) as conn:
        stored = conn.execute(
            "select given_name from data_quality.person_frame where person_id = %s", (silent,)
        ).fetchone()[0]
    assert stored != "zebedee"
    # the full run on demand sees everything
    run_matching(settings, full=True)
    with psycopg.connect(pg_server.conninfo(settings.warehouse_db)) as conn:
        stored = conn.execute(
            "select given_name from data_quality.person_frame where person_id = %s", (silent,)
        ).fetchone()[0]
    assert stored == "zebedee"
