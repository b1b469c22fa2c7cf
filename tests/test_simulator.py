"""The simulated source system, against real PostgreSQL (tiny preset, built once per module).

Invariants a real case-management system keeps (one open placement per child in care, no
overlapping placements, payments that point at real children and providers), the noise it must
carry on purpose (migration duplicates, twins), and what `advance` must produce for the
incremental pipeline (inserts, late and out-of-order updates, soft and hard deletes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest

from cww.errors import CwwError
from cww.postgres import Server, drop_database, drop_role
from cww.settings import Settings
from simulator.api import advance, init_source
from simulator.model import LEGACY_DUPLICATE_P
from simulator.tables import COLUMNS, NO_TIMESTAMPS

AS_OF = date(2025, 6, 30)
SEED = 7
ADVANCE_DAYS = 6


def _settings(tag: str) -> Settings:
    return Settings().model_copy(
        update={
            "source_db": f"cwwt_{tag}_source",
            "warehouse_db": f"cwwt_{tag}_warehouse",
            "source_reader_role": f"cwwt_{tag}_reader",
        }
    )


@pytest.fixture(scope="module")
def built(pg_server: Server) -> Iterator[dict[str, Any]]:
    """Two tiny sources from the same (preset, seed, as_of); the second is then advanced."""
    tags = [uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]]
    sa, sb = (_settings(t) for t in tags)
    try:
        init_source(sa, "tiny", SEED, as_of=AS_OF)
        init_source(sb, "tiny", SEED, as_of=AS_OF)
        out: dict[str, Any] = {"a": sa, "b": sb}
        out["checksums_a"] = checksums(pg_server, sa.source_db)
        out["checksums_b"] = checksums(pg_server, sb.source_db)
        out["before"] = snapshot(pg_server, sb.source_db)
        out["advance"] = advance(sb, ADVANCE_DAYS)
        out["after"] = snapshot(pg_server, sb.source_db)
        yield out
    finally:
        for s in (sa, sb):
            drop_database(pg_server, s.source_db)
            drop_role(pg_server, s.source_reader_role)


def checksums(server: Server, db: str) -> dict[str, str]:
    """md5 of every table's rows in key order (cpin, truth and sim)."""
    out = {}
    with server.connect(db) as conn:
        tables = conn.execute(
            """select table_schema, table_name from information_schema.tables
                where table_schema in ('cpin', 'truth', 'sim') order by 1, 2"""
        ).fetchall()
        for schema, name in tables:
            q = psycopg.sql.SQL(
                "select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {} t"
            )
            out[f"{schema}.{name}"] = conn.execute(q.format(psycopg.sql.Identifier(schema, name))).fetchone()[
                0
            ]
    return out


def snapshot(server: Server, db: str) -> dict[str, Any]:
    """Per table: {pk: (md5 of the row, updated_at, is_deleted)}, plus the clock."""
    out: dict[str, Any] = {}
    with server.connect(db) as conn:
        out["clock"] = conn.execute("select clock from sim.state").fetchone()[0]
        for table, cols in COLUMNS.items():
            if table in NO_TIMESTAMPS or table == "cpin.case_participant":
                continue
            schema, name = table.split(".")
            q = psycopg.sql.SQL("select {pk}, md5(t::text), updated_at, is_deleted from {t} t").format(
                pk=psycopg.sql.Identifier(cols[0]), t=psycopg.sql.Identifier(schema, name)
            )
            out[table] = {r[0]: r[1:] for r in conn.execute(q)}
    return out


def q(server: Server, db: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with server.connect(db) as conn:
        return conn.execute(query, params).fetchall()


# ------------------------------------------------------------------------------- structure


def test_columns_match_schema(built: dict[str, Any], pg_server: Server) -> None:
    db = built["a"].source_db
    for table, cols in COLUMNS.items():
        schema, name = table.split(".")
        got = [
            r[0]
            for r in q(
                pg_server,
                db,
                """select column_name from information_schema.columns
                 where table_schema = %s and table_name = %s order by ordinal_position""",
                (schema, name),
            )
        ]
        assert got[: len(cols)] == list(cols), table


def test_every_core_table_is_populated(built: dict[str, Any], pg_server: Server) -> None:
    db = built["a"].source_db
    for table in COLUMNS:
        schema, name = table.split(".")
        n = q(pg_server, db, f'select count(*) from {schema}."{name}"')[0][0]
        assert n > 0, f"{table} is empty"
    agencies = q(
        pg_server,
        db,
        "select count(*), count(distinct migration_wave), bool_or(is_indigenous) from cpin.agency",
    )[0]
    assert agencies[0] == 3 and agencies[1] == 3 and agencies[2]


# ------------------------------------------------------------------------------- invariants


def _in_care_invariants(server: Server, db: str) -> None:
    clock = q(server, db, "select clock from sim.state")[0][0]
    # Every open child-in-care case has exactly one open placement, and vice versa.
    bad = q(
        server,
        db,
        """
        select c.case_id, count(p.placement_id)
          from cpin."case" c
          left join cpin.placement p on p.case_id = c.case_id and p.end_date is null and not p.is_deleted
         where c.case_type_code = 'CIC' and c.closed_on is null and not c.is_deleted
         group by c.case_id having count(p.placement_id) <> 1""",
    )
    assert bad == [], f"open CIC cases without exactly one open placement: {bad[:5]}"
    orphans = q(
        server,
        db,
        """
        select p.placement_id from cpin.placement p join cpin."case" c using (case_id)
         where p.end_date is null and not p.is_deleted and c.closed_on is not null""",
    )
    assert orphans == []
    per_child = q(
        server,
        db,
        """
        select person_id from cpin.placement where end_date is null and not is_deleted
         group by person_id having count(*) > 1""",
    )
    assert per_child == []
    # Placements never overlap (end_date = the day the next one starts) and lie within the episode.
    overlaps = q(
        server,
        db,
        """
        select a.placement_id, b.placement_id from cpin.placement a join cpin.placement b
          on a.person_id = b.person_id and a.placement_id < b.placement_id
         where not a.is_deleted and not b.is_deleted
           and daterange(a.start_date, coalesce(a.end_date, 'infinity')) &&
               daterange(b.start_date, coalesce(b.end_date, 'infinity'))""",
    )
    assert overlaps == []
    outside = q(
        server,
        db,
        """
        select p.placement_id from cpin.placement p join cpin."case" c using (case_id)
         where p.start_date < c.opened_on or p.end_date > c.closed_on or c.case_type_code <> 'CIC'
            or (c.closed_on is not null and p.end_date is null)""",
    )
    assert outside == []
    gaps = q(
        server,
        db,
        """
        select case_id from (
          select case_id, start_date, lag(end_date) over (partition by case_id order by start_date) prev_end,
                 row_number() over (partition by case_id order by start_date) n
            from cpin.placement where not is_deleted) x
         where n > 1 and start_date <> prev_end""",
    )
    assert gaps == [], "a move closes one placement and opens the next on the same day"
    future = q(
        server,
        db,
        """select count(*) from cpin.placement
                               where start_date > %s or end_date > %s or created_at >= %s::date + 1""",
        (clock, clock, clock),
    )
    assert future == [(0,)]


def test_children_in_care_have_one_open_placement_and_no_overlaps(
    built: dict[str, Any], pg_server: Server
) -> None:
    _in_care_invariants(pg_server, built["a"].source_db)


def test_invariants_still_hold_after_advance(built: dict[str, Any], pg_server: Server) -> None:
    _in_care_invariants(pg_server, built["b"].source_db)


def test_payments_reference_child_provider_and_agency(built: dict[str, Any], pg_server: Server) -> None:
    for s in (built["a"], built["b"]):
        rows = q(
            pg_server,
            s.source_db,
            """
            select count(*), count(*) filter (where pe.person_id is null or pr.provider_id is null
                                                 or a.agency_id is null),
                   count(*) filter (where pl.placement_id is null and pay.placement_id is not null),
                   count(*) filter (where pay.category_code = 'PDM'), count(distinct pay.status_code)
              from cpin.payment pay
              left join cpin.person pe using (person_id)
              left join cpin.provider pr using (provider_id)
              left join cpin.agency a on a.agency_id = pay.agency_id
              left join cpin.placement pl using (placement_id)""",
        )[0]
        assert rows[0] > 0 and rows[1] == 0 and rows[2] == 0 and rows[3] > 0 and rows[4] >= 3


def test_ages_and_dates_are_plausible(built: dict[str, Any], pg_server: Server) -> None:
    db = built["a"].source_db
    clock = q(pg_server, db, "select clock from sim.state")[0][0]
    # Only clean records carry the true birth date (migrated ones may have day/month swapped).
    before_birth = q(
        pg_server,
        db,
        """
        select count(*) from cpin.placement p join cpin.person pe using (person_id)
          join truth.person_identity t using (person_id)
         where cardinality(t.noise) = 0 and p.start_date < pe.birth_date""",
    )
    assert before_birth == [(0,)]
    in_care_ages = q(
        pg_server,
        db,
        """
        select count(*) filter (where pe.birth_date > %s::date - interval '21 years'), count(*)
          from cpin.placement p join cpin.person pe using (person_id)
          join truth.person_identity t using (person_id)
         where p.end_date is null and not p.is_deleted and cardinality(t.noise) = 0""",
        (clock,),
    )[0]
    assert in_care_ages[1] > 0 and in_care_ages[0] == in_care_ages[1], "children in care are under 21"
    for table in COLUMNS:
        if table in NO_TIMESTAMPS:
            continue
        schema, name = table.split(".")
        n = q(
            pg_server,
            db,
            f'select count(*) from {schema}."{name}" where created_at > updated_at '
            f"or updated_at >= %s::date + 1",
            (clock,),
        )[0][0]
        assert n == 0, f"{table}: created_at after updated_at, or a timestamp past the clock"
    future = q(
        pg_server,
        db,
        """
        select (select count(*) from cpin.referral where received_at >= %(c)s::date + 1)
             + (select count(*) from cpin.investigation where opened_on > %(c)s or closed_on > %(c)s)
             + (select count(*) from cpin."case" where opened_on > %(c)s or closed_on > %(c)s)
             + (select count(*) from cpin.payment where requested_on > %(c)s or paid_on > %(c)s)
             + (select count(*) from cpin.contact_note where contact_at >= %(c)s::date + 1)""",
        {"c": clock},
    )
    assert future == [(0,)]
    inv = q(
        pg_server,
        db,
        "select count(*) filter (where due_on <> opened_on + 30), count(*) from cpin.investigation",
    )
    assert inv[0][0] == 0 and inv[0][1] > 0


# ------------------------------------------------------------------------------- identities


def test_every_person_has_a_truth_identity(built: dict[str, Any], pg_server: Server) -> None:
    for s in (built["a"], built["b"]):
        missing = q(
            pg_server,
            s.source_db,
            """
            select count(*) filter (where t.person_id is null), count(*)
              from cpin.person p left join truth.person_identity t using (person_id)""",
        )[0]
        assert missing[0] == 0 and missing[1] > 0
        extra = q(
            pg_server,
            s.source_db,
            """select count(*) from truth.person_identity t
                                             where not exists (select 1 from cpin.person p
                                                                where p.person_id = t.person_id)""",
        )
        assert extra == [(0,)]


def test_twins_exist_and_are_distinct_identities(built: dict[str, Any], pg_server: Server) -> None:
    rows = q(
        pg_server,
        built["a"].source_db,
        """
        select ta.true_person_id, tb.true_person_id, a.surname = b.surname, a.birth_date = b.birth_date,
               a.given_name <> b.given_name, ta.is_twin and tb.is_twin
          from cpin.person_relationship r
          join cpin.person a on a.person_id = r.person_id
          join cpin.person b on b.person_id = r.related_person_id
          join truth.person_identity ta on ta.person_id = a.person_id
          join truth.person_identity tb on tb.person_id = b.person_id
         where r.relationship_code = 'TWN' and cardinality(ta.noise) = 0 and cardinality(tb.noise) = 0""",
    )
    assert len(rows) >= 3
    for a_true, b_true, same_surname, same_birth, different_given, flagged in rows:
        assert a_true != b_true and same_surname and same_birth and different_given and flagged


def test_migration_duplicates_at_expected_rate(built: dict[str, Any], pg_server: Server) -> None:
    db = built["a"].source_db
    rows, distinct = q(
        pg_server,
        db,
        """
        select count(*), count(distinct (p.agency_id, t.true_person_id))
          from cpin.person p join truth.person_identity t using (person_id) where p.source_code = 'MIG'""",
    )[0]
    assert distinct > 500
    rate = (rows - distinct) / distinct
    assert LEGACY_DUPLICATE_P * 0.5 < rate < LEGACY_DUPLICATE_P * 1.6, rate
    mig = q(
        pg_server,
        db,
        """select count(*) filter (where legacy_id is null or migrated_at is null),
                                     count(distinct migrated_at::date)
                                from cpin.person where source_code = 'MIG'""",
    )[0]
    assert mig[0] == 0 and mig[1] == 3, "every migrated row has a legacy id; one migration per wave"
    kinds = {r[0] for r in q(pg_server, db, "select distinct unnest(noise) from truth.person_identity")}
    assert {
        "typo_given",
        "typo_surname",
        "nickname",
        "swap_day_month",
        "missing_birth_date",
        "surname_change",
        "hyphenation",
    } <= kinds
    missing_birth = q(
        pg_server,
        db,
        """select count(*) from cpin.person p join truth.person_identity t
                                         using (person_id) where p.birth_date is null""",
    )[0][0]
    assert missing_birth > 0
    two_agencies = q(
        pg_server,
        db,
        """select count(*) from (select t.true_person_id from cpin.person p
                                         join truth.person_identity t using (person_id)
                                        group by 1 having count(distinct p.agency_id) > 1) x""",
    )[0][0]
    assert two_agencies > 0, "the same child known to two agencies"


# ------------------------------------------------------------------------------- determinism


def test_same_seed_and_date_give_the_same_database(built: dict[str, Any]) -> None:
    a, b = built["checksums_a"], built["checksums_b"]
    assert set(a) >= {"cpin.person", "cpin.contact_note", "truth.person_identity", "sim.pending"}
    assert a == b


# ------------------------------------------------------------------------------- advance


def test_advance_inserts_updates_and_deletes(built: dict[str, Any]) -> None:
    before, after = built["before"], built["after"]
    assert (after["clock"] - before["clock"]).days == ADVANCE_DAYS
    old_clock_end = f"{before['clock']}"
    inserted = updated = late = out_of_order = soft = hard = 0
    for table, rows in before.items():
        if table == "clock":
            continue
        new = after[table]
        inserted += len(new.keys() - rows.keys())
        hard += len(rows.keys() - new.keys())
        for pk, (digest, upd, deleted) in rows.items():
            if pk not in new or new[pk][0] == digest:
                continue
            updated += 1
            soft += (not deleted) and new[pk][2]
            if str(upd.date()) < str(before["clock"]):
                late += 1  # a change to a row last touched before the previous clock day
            if str(new[pk][1].date()) <= old_clock_end:
                out_of_order += 1  # stamped in the past: a watermark-only extractor would miss it
    assert inserted > 100 and updated > 20 and late > 5 and out_of_order > 0 and soft > 0 and hard > 0, (
        inserted,
        updated,
        late,
        out_of_order,
        soft,
        hard,
    )
    totals = built["advance"].extra
    assert totals["new_families"] > 0 and totals["pending_applied"] > 0


def test_advance_applies_the_planned_future(built: dict[str, Any], pg_server: Server) -> None:
    db = built["b"].source_db
    due = q(pg_server, db, "select count(*) from sim.pending where due_on <= (select clock from sim.state)")
    assert due == [(0,)]
    log = q(pg_server, db, "select count(*), sum(inserted), sum(updated) from sim.day_log")[0]
    assert log[0] == ADVANCE_DAYS and log[1] > 0 and log[2] > 0


# ------------------------------------------------------------------------------- access


def test_reader_role_sees_cpin_only(built: dict[str, Any], pg_server: Server) -> None:
    s = built["a"]
    with psycopg.connect(
        pg_server.conninfo(s.source_db, s.source_reader_role, s.source_reader_password)
    ) as conn:
        assert conn.execute("select count(*) from cpin.person").fetchone()[0] > 0
        for table in ("truth.person_identity", "sim.state", "sim.pending"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {table} limit 1")
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update cpin.person set phone = null where person_id = 1")


def test_init_without_force_refuses_an_existing_source(built: dict[str, Any], pg_server: Server) -> None:
    s = built["a"]
    with pytest.raises(CwwError, match="--force"):
        init_source(s, "tiny", SEED, as_of=AS_OF)
    assert q(pg_server, s.source_db, "select count(*) from sim.state") == [(1,)]


def test_cli_status_and_refusal(built: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cww.cli import app
    from cww.settings import get_settings

    s = built["a"]
    monkeypatch.setenv("CWW_SOURCE_DB", s.source_db)
    monkeypatch.setenv("CWW_SOURCE_READER_ROLE", s.source_reader_role)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        res = runner.invoke(app, ["simulate", "status"])
        assert res.exit_code == 0, res.output
        assert "clock 2025-06-30" in res.output and "cpin.contact_note" in res.output
        res = runner.invoke(
            app, ["simulate", "init", "--preset", "tiny", "--seed", "7", "--as-of", "2025-06-30"]
        )
        assert res.exit_code != 0 and isinstance(res.exception, CwwError)
    finally:
        get_settings.cache_clear()
