"""Extraction against real PostgreSQL: what lands in raw, incrementally, with deletes and rejects."""

from __future__ import annotations

import psycopg
import pytest

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


# --------------------------------------------------------------------------- schema drift


def test_new_source_column_appears_in_raw(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    with src(pg_server, s) as conn:
        conn.execute("alter table cpin.person add column email text")
        conn.execute(
            "update cpin.person set email = 'liam@example.org', updated_at = '2026-01-05 "
            "00:00+00' where person_id = 1000"
        )
    summary = run_extract(s)
    assert summary.ok
    assert any("email" in w for w in summary.table("person").warnings)
    with wh(pg_server, s) as conn:
        rows = dict(conn.execute("select person_id, email from raw.person").fetchall())
    assert rows[1000] == "liam@example.org" and rows[1001] is None
    assert reconcile(s).ok


def test_widening_type_changes_follow_the_source(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    with src(pg_server, s) as conn:
        conn.execute("alter table cpin.office alter column office_id type bigint")  # key column, int → bigint
        conn.execute("alter table cpin.worker alter column role_code type varchar(40)")
        conn.execute(
            "insert into cpin.office values (5000000000, 2, 'Annex', null, 'Toronto', null, "
            "'2026-01-05 00:00+00', '2026-01-05 00:00+00', false)"
        )
    summary = run_extract(s)
    assert summary.ok, [t.error for t in summary.failed]
    assert summary.table("office").inserted == 1
    with wh(pg_server, s) as conn:
        types = dict(
            conn.execute(
                "select table_name || '.' || column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and column_name in ('office_id', 'role_code') "
                "and table_name in ('office', 'worker')"
            ).fetchall()
        )
        assert types["office.office_id"] == "bigint" and types["worker.role_code"] == "text"
        # (raw keeps text: varchar(40) → text would be narrowing; text already holds every value)
    report = reconcile(s)
    assert report.ok, [d.describe() for d in report.tables if not d.ok]


def test_incompatible_type_change_stops_only_that_table(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    with src(pg_server, s) as conn:
        conn.execute("alter table cpin.worker alter column hired_on type text")
        conn.execute(
            "update cpin.person set surname = 'Roy', updated_at = '2026-01-05 00:00+00' "
            "where person_id = 1002"
        )
    summary = run_extract(s)
    assert not summary.ok and [t.table for t in summary.failed] == ["worker"]
    error = summary.table("worker").error or ""
    assert "worker" in error and "hired_on" in error and "date to text" in error and "Fix:" in error
    assert summary.table("person").updated == 1  # the other tables still loaded
    with wh(pg_server, s) as conn:
        assert conn.execute(
            "select status from extract_meta.batches order by batch_id desc limit 1"
        ).fetchone() == ("partial",)
        assert conn.execute("select table_name from extract_meta.table_errors").fetchall() == [("worker",)]
        assert conn.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'worker' and column_name = 'hired_on'"
        ).fetchone() == ("date",)


def test_dropped_key_column_stops_that_table(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    with src(pg_server, s) as conn:
        conn.execute("alter table cpin.case_participant drop column person_id")
        conn.execute("alter table cpin.agency drop column migration_wave")  # non-key: kept with a warning
    summary = run_extract(s)
    assert [t.table for t in summary.failed] == ["case_participant"]
    error = summary.table("case_participant").error or ""
    assert "key column 'person_id'" in error and "Fix:" in error
    assert any("migration_wave" in w for w in summary.table("agency").warnings)


# --------------------------------------------------------------------------- rejects

REJECT_REGISTRY = """
source_schema: cpin
defaults:
  change_tracking: {mode: watermark, column: updated_at, lookback: 3 days}
  soft_delete_column: is_deleted
  hard_deletes: {every: run}
tables:
  person:
    key: [person_id]
    rejects:
      - {rule: not_null, columns: [given_name]}
      - {rule: date_range, column: birth_date, min: 1900-01-01, max: 2030-01-01}
  office:
    key: [office_id]
    rejects:
      - {rule: matches, column: postal_code, regex: '^[A-Z][0-9][A-Z][0-9][A-Z][0-9]$'}
  case_participant:
    key: [case_id, person_id]
    rejects:
      - {rule: not_before, column: end_date, other: start_date}
  legacy_note:
    key: [note_id]
"""


def test_each_reject_rule_files_the_row_with_its_reason(
    pg_server: Server, extract_source: Settings, tmp_path
) -> None:
    s = extract_source
    registry = tmp_path / "registry.yml"
    registry.write_text(REJECT_REGISTRY)
    with src(pg_server, s) as conn:
        # A source table without a primary key: its key can be null.
        conn.execute(
            "create table cpin.legacy_note (note_id bigint, body text, updated_at timestamptz not null)"
        )
        conn.execute(
            "insert into cpin.legacy_note values (1, 'ok', '2026-01-02 00:00+00'), (null, "
            "'orphan', '2026-01-02 00:00+00')"
        )
        conn.execute("update cpin.person set given_name = null where person_id = 1001")
        conn.execute("update cpin.person set birth_date = '1850-02-03' where person_id = 1002")
        conn.execute("update cpin.office set postal_code = 'K1A 0B1!' where office_id = 10")
        conn.execute("update cpin.case_participant set end_date = '2025-12-31' where person_id = 1000")
    summary = run_extract(s, registry=registry)
    assert summary.ok, [t.error for t in summary.failed]
    assert {t.table: t.rejected for t in summary.tables} == {
        "person": 2,
        "office": 1,
        "case_participant": 1,
        "legacy_note": 1,
    }
    assert summary.totals()["rejected"] == 5
    with wh(pg_server, s) as conn:
        rows = conn.execute(
            "select table_name, key, reason, row_data from extract_meta.rejected_rows order "
            "by table_name, reason"
        ).fetchall()
        assert conn.execute("select count(*) from raw.person").fetchone() == (2,)
    got = {(t, r): (k, d) for t, k, r, d in rows}
    assert got[("person", "null in given_name")][0] == {"person_id": 1001}
    assert got[("person", "birth_date outside [1900-01-01, 2030-01-01]")][1]["birth_date"] == "1850-02-03"
    assert got[("office", "postal_code does not match ^[A-Z][0-9][A-Z][0-9][A-Z][0-9]$")][0] == {
        "office_id": 10
    }
    assert got[("case_participant", "end_date before start_date")][0] == {"case_id": 5000, "person_id": 1000}
    assert got[("legacy_note", "null in note_id")][1] == {
        "note_id": None,
        "body": "orphan",
        "updated_at": "2026-01-02T00:00:00+00:00",
    }
    report = reconcile(s, registry=registry)
    assert report.ok and report.table("person").rejected == ["(1001)", "(1002)"]
    # Fixed at the source, the row lands on the next run.
    with src(pg_server, s) as conn:
        conn.execute(
            "update cpin.person set given_name = 'Emma', updated_at = '2026-01-06 00:00+00' "
            "where person_id = 1001"
        )
    again = run_extract(s, registry=registry)
    # 1002 is re-read by the look-back and still rejected, but not filed a second time.
    assert again.table("person").inserted == 1 and again.table("person").rejected == 1
    with wh(pg_server, s) as conn:
        assert conn.execute("select count(*) from extract_meta.rejected_rows").fetchone() == (5,)
    assert reconcile(s, registry=registry).table("person").rejected == ["(1002)"]


# --------------------------------------------------------------------------- late updates and deletes


def test_late_updated_at_inside_the_look_back_is_caught(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)  # person watermark: 2026-01-03 10:00
    with src(pg_server, s) as conn:
        # Committed now, stamped two days before the watermark (a slow writer, a clock skew).
        conn.execute(
            "update cpin.person set surname = 'Late', updated_at = '2026-01-01 10:00+00' "
            "where person_id = 1000"
        )
        # A new row stamped a month before: outside the window, found by the key comparison.
        conn.execute(
            "insert into cpin.person (person_id, agency_id, given_name, surname, source_code, created_at, "
            "updated_at) values (1100, 1, 'Old', 'Record', 'MIG', '2025-12-01 00:00+00', "
            "'2025-12-01 00:00+00')"
        )
    summary = run_extract(s)
    person = summary.table("person")
    assert (person.updated, person.inserted) == (1, 1)
    assert any("watermark missed" in w for w in person.warnings)
    with wh(pg_server, s) as conn:
        assert conn.execute("select surname from raw.person where person_id = 1000").fetchone() == ("Late",)
        wm = conn.execute(
            "select watermark from extract_meta.watermarks where table_name = 'person'"
        ).fetchone()[0]
    assert wm.isoformat().startswith("2026-01-03T10:00")  # never moves backwards
    assert reconcile(s).ok


def test_weekly_hard_delete_check_and_full_refresh(
    pg_server: Server, extract_source: Settings, tmp_path
) -> None:
    from extract.registry import DEFAULT_REGISTRY

    s = extract_source
    weekly = tmp_path / "weekly.yml"
    weekly.write_text(
        DEFAULT_REGISTRY.read_text()
        .replace(
            "  contact_note:\n    key: [contact_note_id]\n",
            "  contact_note:\n    key: [contact_note_id]\n    hard_deletes: {every: 7 days}\n",
            1,
        )
        .replace("    hard_deletes: {every: run}\n", "", 1)
    )
    run_extract(s, registry=weekly)
    with src(pg_server, s) as conn:
        conn.execute("delete from cpin.contact_note where contact_note_id = 90003")
        conn.execute("delete from cpin.person where person_id = 1003")
    nightly = run_extract(s, registry=weekly)
    # contact_note compares keys weekly here: not due a day after the first load.
    assert nightly.table("contact_note").deleted == 0 and not nightly.table("contact_note").key_check
    assert nightly.table("person").deleted == 1  # every run for person
    assert not reconcile(s).ok
    full = run_extract(s, full_refresh=True, registry=weekly)
    assert full.table("contact_note").deleted == 1 and full.table("contact_note").mode == "full-refresh"
    assert sum(t.inserted + t.updated for t in full.tables) == 0  # nothing else changed
    assert reconcile(s).ok
    with wh(pg_server, s) as conn:
        row = conn.execute(
            "select _deleted, _batch_id from raw.contact_note where contact_note_id = 90003"
        ).fetchone()
    assert row == (True, full.batch_id)


def test_composite_key_update_and_reinsert(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    with src(pg_server, s) as conn:
        conn.execute(
            "update cpin.case_participant set role_code = 'CARE', updated_at = '2026-01-05 00:00+00' "
            "where case_id = 5000 and person_id = 1001"
        )
        conn.execute("delete from cpin.case_participant where case_id = 5001 and person_id = 1002")
    first = run_extract(s).table("case_participant")
    assert (first.updated, first.deleted) == (1, 1)
    with src(pg_server, s) as conn:  # the deleted pair comes back, with an old timestamp
        conn.execute(
            "insert into cpin.case_participant values (5001, 1002, 'CHILD', '2026-01-03', null, "
            "'2026-01-03 10:00+00', '2026-01-03 10:00+00', false)"
        )
    second = run_extract(s).table("case_participant")
    assert second.updated == 1  # resurrected: _deleted back to false
    with wh(pg_server, s) as conn:
        assert conn.execute(
            "select role_code, _deleted from raw.case_participant where case_id = 5001 and person_id = 1002"
        ).fetchone() == ("CHILD", False)
    assert reconcile(s).ok


def test_registry_errors_name_file_and_fix(tmp_path) -> None:
    from extract.registry import RegistryError, load_registry

    bad = tmp_path / "bad.yml"
    bad.write_text("tables:\n  person: {change_tracking: {mode: snapshot}}\n")
    with pytest.raises(RegistryError, match=r"person has no `key`\. Fix"):
        load_registry(bad)
    bad.write_text("tables:\n  person: {key: [person_id], rejects: [{rule: shout}]}\n")
    with pytest.raises(RegistryError, match="unknown reject rule 'shout'"):
        load_registry(bad)


# --------------------------------------------------------------------------- with the simulator


def test_simulated_tiny_source_nightly_cycle_reconciles_exactly(
    pg_server: Server, cww_settings: Settings
) -> None:
    import datetime as dt

    from simulator.api import advance, init_source

    s = cww_settings
    init_source(s, "tiny", seed=7, force=True, as_of=dt.date(2026, 1, 15))
    full = run_extract(s)
    assert full.ok, [t.error for t in full.failed]
    assert full.table("person").inserted > 0 and full.table("contact_note").inserted > 0
    assert reconcile(s).ok
    advance(s, 1)
    inc = run_extract(s)
    assert inc.ok, [t.error for t in inc.failed]
    changed = sum(t.inserted + t.updated + t.deleted for t in inc.tables)
    assert 0 < changed < full.totals()["rows_read"] / 2  # a day's changes, not the history
    report = reconcile(s)
    assert report.ok, [d.describe() for d in report.tables if not d.ok]
