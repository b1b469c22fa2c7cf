"""Extraction against real PostgreSQL: what lands in raw, incrementally, with deletes and rejects."""

from __future__ import annotations

import psycopg

from cww.postgres import Server
from cww.settings import Settings
from extract.api import reconcile, run_extract


def src(server: Server, s: Settings) -> psycopg.Connection:
    return server.connect(s.source_db)


def wh(server: Server, s: Settings) -> psycopg.Connection:
    return server.connect(s.warehouse_db)


def test_first_load_lands_every_table_and_reconciles(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    summary = run_extract(s)
    assert summary.ok, [t.error for t in summary.failed]
    assert summary.table("person").inserted == 4
    assert summary.table("contact_note").path == "copy-direct"
    assert summary.table("case_participant").inserted == 3
    assert summary.table("postal_region").inserted == 3
    report = reconcile(s)
    assert report.ok, [d.describe() for d in report.tables if not d.ok]
    with wh(pg_server, s) as conn:
        row = conn.execute(
            "select note_text, _batch_id, _source_updated_at, _deleted from raw.contact_note "
            "where contact_note_id = 90001"
        ).fetchone()
        assert row[0] == "visit 1 with a tab\tand a newline\n and 'quotes'"
        assert row[1] == summary.batch_id and row[3] is False
        assert row[2].isoformat().startswith("2026-01-04T12:00")
        wm = dict(conn.execute("select table_name, watermark from extract_meta.watermarks").fetchall())
        assert wm["person"].isoformat().startswith("2026-01-03T10:00")
        assert wm["postal_region"] is None


def test_incremental_updates_soft_and_hard_deletes(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    with src(pg_server, s) as conn:
        conn.execute(
            "update cpin.person set surname = 'Tremblay-Roy', updated_at = '2026-01-05 08:00+00' "
            "where person_id = 1000"
        )
        conn.execute(
            "update cpin.person set is_deleted = true, updated_at = '2026-01-05 09:00+00' "
            "where person_id = 1001"
        )
        conn.execute(
            "insert into cpin.person (person_id, agency_id, given_name, surname, source_code, created_at, "
            "updated_at) values (1004, 1, 'Zoe', 'Roy', 'CPIN', '2026-01-05 10:00+00', '2026-01-05 10:00+00')"
        )
        conn.execute("delete from cpin.case_participant where case_id = 5000 and person_id = 1001")
        conn.execute("update cpin.postal_region set city = 'Greater Sudbury' where fsa = 'P3A'")
        conn.execute("delete from cpin.postal_region where fsa = 'M5H'")
    summary = run_extract(s)
    assert summary.ok
    person = summary.table("person")
    assert (person.inserted, person.updated, person.soft_deleted, person.mode) == (1, 2, 1, "watermark")
    cp = summary.table("case_participant")
    assert cp.deleted == 1 and cp.key_check
    pr = summary.table("postal_region")
    assert (pr.updated, pr.deleted, pr.mode) == (1, 1, "snapshot")
    assert reconcile(s).ok
    with wh(pg_server, s) as conn:
        assert conn.execute(
            "select _deleted from raw.case_participant where person_id = 1001"
        ).fetchone() == (True,)
        assert conn.execute(
            "select is_deleted, _deleted from raw.person where person_id = 1001"
        ).fetchone() == (
            True,
            False,
        )
    # A third run with nothing changed touches nothing, even though the look-back re-reads rows.
    again = run_extract(s)
    assert sum(t.inserted + t.updated + t.deleted for t in again.tables) == 0
    assert again.table("person").rows_read == 5


def test_reconcile_names_the_differences(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    with src(pg_server, s) as conn:
        # Changes the extractor has not seen yet: reconcile must notice each kind.
        conn.execute("update cpin.agency set name = 'Ottawa CAS (renamed)' where agency_id = 1")
        conn.execute("delete from cpin.contact_note where contact_note_id = 90002")
        conn.execute("insert into cpin.postal_region values ('N2L', 'Waterloo', 'West')")
    report = reconcile(s)
    assert not report.ok
    assert report.table("agency").changed == ["(1)"]
    assert report.table("contact_note").extra == ["(90002)"]
    assert report.table("postal_region").missing == ["(N2L)"]
    assert report.table("person").ok
