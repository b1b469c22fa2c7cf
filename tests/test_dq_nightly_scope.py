"""The raw suites' nightly mode on a real warehouse: after a full validated load, the row checks
read only the rows extract landed since each suite's last accepted run, while volume and the
duplicated-batch check still compare with the whole table.

One tiny source and warehouse for the module, and the story of a week in order: an accepted full
load; a night with bad rows (caught, right table, right count); the nights after it (checked again
until the rows are fixed); a duplicated batch (the new rows against every live row); an old row
accepted earlier (full mode reports it, nightly mode does not).
"""

from __future__ import annotations

from datetime import date

import pytest

from cww.postgres import Server
from cww.settings import Settings
from data_quality.expectations.raw_suites import MAX_DUPLICATE_SHARE
from data_quality.expectations.runner import DqRun, run_dq, select_suites

AS_OF = date(2025, 6, 30)
RAW = select_suites(None, "raw")


@pytest.fixture(scope="module")
def loaded(module_settings: Settings) -> tuple[Settings, int, DqRun]:
    """simulate tiny → extract (the first batch) → a full run that accepts every raw table."""
    from extract.api import run_extract
    from simulator.api import init_source

    init_source(module_settings, "tiny", 11, force=True, as_of=AS_OF)
    batch = run_extract(module_settings).batch_id
    full = run_dq(module_settings, RAW, record_holdback=False)
    assert full.passed, full.failures()
    return module_settings, batch, full


def nightly(settings: Settings) -> DqRun:
    return run_dq(settings, RAW, mode="nightly")


def extract(settings: Settings) -> int:
    from extract.api import run_extract

    summary = run_extract(settings)
    assert not summary.failed, [r.error for r in summary.failed]
    return summary.batch_id


def source_sql(server: Server, settings: Settings, statement: str) -> int:
    with server.connect(settings.source_db) as conn:
        return conn.execute(statement).rowcount


def scope_of(run: DqRun, suite: str) -> tuple[str, int | None, int | None, int | None, bool]:
    x = next(x for x in run.scopes if x.suite == suite)
    return x.mode, x.after_batch, x.upto_batch, x.rows_checked, x.accepted


def failed(run: DqRun, suite: str) -> list[str]:
    return [r.message for r in run.outcome(suite).blocking_failures]


def live_rows(server: Server, settings: Settings, table: str, after: int | None = None) -> int:
    with server.connect(settings.warehouse_db) as conn:
        return conn.execute(
            f"select count(*) from raw.{table} where not _deleted and not is_deleted"
            + (f" and _batch_id > {after}" if after is not None else "")
        ).fetchone()[0]


BUMP = "(select max(updated_at) + interval '{h} hours' from cpin.{t})"


def test_a_full_run_is_the_mark_and_a_quiet_night_checks_no_old_row(
    pg_server: Server, loaded: tuple[Settings, int, DqRun]
) -> None:
    from data_quality.expectations.contract import raw_tables
    from data_quality.expectations.scope import primary_key

    settings, batch, full = loaded
    with pg_server.connect(settings.warehouse_db) as conn:
        stored = conn.execute(
            "select s.suite, s.mode, s.after_batch, s.upto_batch, s.rows_checked, s.accepted, v.row_count"
            " from dq.suite_scope s join dq.table_volume v using (run_id, suite) where s.run_id = %s",
            (full.run_id,),
        ).fetchall()
        mode = conn.execute("select mode from dq.run where run_id = %s", (full.run_id,)).fetchone()[0]
        # Key uniqueness across the table is raw's primary key: every raw table has it on its key.
        keys = {t.name: (set(primary_key(conn, t.relation)), set(t.key)) for t in raw_tables()}
    assert mode == "full" and len(stored) == len(RAW) == 17
    assert all(m == "full" and a is None and upto == batch and ok for _, m, a, upto, _, ok, _ in stored)
    assert all(checked == volume > 0 for *_, checked, _, volume in stored)  # every live row
    assert all(pk == key for pk, key in keys.values()), keys

    run = nightly(settings)  # no extract since: nothing new anywhere
    assert run.passed, run.failures()
    assert run.mode == "nightly" and run.rows_checked == 0
    assert {scope_of(run, s) for s in RAW} == {("nightly", batch, batch, 0, True)}
    assert f"raw.person: 0 new rows since batch {batch}" in run.scope_lines()
    assert f"0 new raw rows since batch {batch} in 17 tables" in run.summary()
    # the table-level checks still measured the whole table
    volume = next(r for r in run.outcome("raw.person").rows if r.column == "_dq_live_rows")
    assert volume.passed and volume.observed == str(live_rows(pg_server, settings, "person"))


def test_bad_rows_in_a_later_batch_block_their_table(
    pg_server: Server, loaded: tuple[Settings, int, DqRun]
) -> None:
    from data_quality.expectations.gate import dbt_exclusions

    settings, first, _ = loaded
    blanked = source_sql(
        pg_server,
        settings,
        f"update cpin.person_address set street = null, updated_at = {BUMP.format(h=1, t='person_address')}"
        " where address_id in (select address_id from cpin.person_address where not is_deleted"
        " order by address_id desc limit 30)",
    )
    recoded = source_sql(
        pg_server,
        settings,
        f"update cpin.payment set category_code = 'XXX', updated_at = {BUMP.format(h=1, t='payment')}"
        " where payment_id in (select payment_id from cpin.payment where not is_deleted"
        " order by payment_id limit 7)",
    )
    assert (blanked, recoded) == (30, 7)
    second = extract(settings)
    assert second > first

    run = nightly(settings)
    new_payments = live_rows(pg_server, settings, "payment", first)
    assert new_payments == 7
    [street] = failed(run, "raw.person_address")
    assert street.startswith(
        f"raw.person_address.street: 30 of 30 new rows (landed after batch {first}) are null (100.0 %"
    ), street
    assert failed(run, "raw.payment") == [
        f"raw.payment.category_code: 7 of 7 new rows (landed after batch {first}) have a code outside"
        " ['CLO', 'EDU', 'MED', 'OTH', 'PDM', 'REC', 'TRN']; e.g. XXX"
    ]
    assert {o.suite.name for o in run.outcomes if not o.passed} == {"raw.person_address", "raw.payment"}
    # the failed tables keep their mark; the others move on to tonight's batch
    assert scope_of(run, "raw.person_address") == ("nightly", first, second, 30, False)
    assert scope_of(run, "raw.payment") == ("nightly", first, second, 7, False)
    assert scope_of(run, "raw.person") == ("nightly", first, second, 0, True)
    line = f"raw.person_address: 30 new rows since batch {first} — not accepted: checked again next night"
    assert line in run.scope_lines()
    with pg_server.connect(settings.warehouse_db) as conn:
        assert dbt_exclusions(conn) == ["source:cpin.payment+", "source:cpin.person_address+"]


def test_a_failed_night_is_checked_again_until_its_rows_are_fixed(
    pg_server: Server, loaded: tuple[Settings, int, DqRun]
) -> None:
    settings, first, _ = loaded
    third = extract(settings)  # a quiet night: nothing changed in the source

    run = nightly(settings)
    [street] = failed(run, "raw.person_address")
    [code] = failed(run, "raw.payment")
    assert "street: 30 of 30 new rows" in street and "category_code: 7 of 7 new rows" in code
    assert scope_of(run, "raw.person_address") == ("nightly", first, third, 30, False)
    assert first < scope_of(run, "raw.person")[1] < third  # accepted last night: starts after it

    # The source fixes the addresses and withdraws the bad payments (soft delete).
    source_sql(
        pg_server,
        settings,
        "update cpin.person_address set street = '1 Fixed St',"
        f" updated_at = {BUMP.format(h=1, t='person_address')} where street is null",
    )
    source_sql(
        pg_server,
        settings,
        f"update cpin.payment set is_deleted = true, updated_at = {BUMP.format(h=1, t='payment')}"
        " where category_code = 'XXX'",
    )
    fourth = extract(settings)
    run = nightly(settings)
    assert run.passed, run.failures()
    assert scope_of(run, "raw.person_address") == ("nightly", first, fourth, 30, True)
    assert scope_of(run, "raw.payment") == ("nightly", first, fourth, 0, True)  # no bad row is live

    run = nightly(settings)  # released: the next night starts after the fixing batch
    assert scope_of(run, "raw.person_address") == ("nightly", fourth, fourth, 0, True)


def test_a_duplicated_batch_is_caught_among_the_new_rows(
    pg_server: Server, loaded: tuple[Settings, int, DqRun]
) -> None:
    settings, *_ = loaded
    with pg_server.connect(settings.warehouse_db) as conn:
        mark = conn.execute(
            "select max(upto_batch) from dq.suite_scope where suite = 'raw.contact_note' and accepted"
        ).fetchone()[0]
    # The source's import of a dozen contact notes runs twice: the same facts under new ids.
    copied = source_sql(
        pg_server,
        settings,
        "insert into cpin.contact_note select contact_note_id + 10000000, agency_id, case_id, person_id,"
        " worker_id, contact_at, contact_type_code, location_code, duration_minutes, note_text, created_at,"
        f" {BUMP.format(h=2, t='contact_note')}, is_deleted from cpin.contact_note"
        " where not is_deleted and person_id is not null and worker_id is not null"
        " order by contact_note_id desc limit 12",
    )
    assert copied == 12
    extract(settings)

    run = nightly(settings)
    cols = "case_id, person_id, worker_id, contact_at, contact_type_code"
    [dup] = failed(run, "raw.contact_note")
    # only the twelve new rows count: the originals are old and were accepted
    assert dup.startswith(
        f"raw.contact_note ({cols}): 12 of 12 new rows (landed after batch {mark}) duplicate another row"
    ), dup
    assert "; e.g. contact_note_id=100" in dup and " repeats contact_note_id=" in dup
    assert "Fix: if the source imported these rows twice, delete or soft-delete the repeats" in dup
    assert "(no duplicated batch (the same business facts under new keys); 100.0 %, at most" in dup
    assert "on a night this small (1.0 % or 5 rows, whichever is more)" in dup
    stored = [r for r in run.outcome("raw.contact_note").rows if not r.passed]
    # the same rows also fail the double-entry warning, which lists repeats of any number
    assert [(r.column, r.unexpected_count, r.element_count, r.blocking) for r in stored] == [
        (cols, 12, 12, True),
        (cols, 12, 12, False),
    ]

    # A full run compares every live row: originals and copies both duplicate another row. Against
    # the whole table, 24 rows are double entries (a warning), held back only above 1 %.
    full = run_dq(settings, ["raw.contact_note"], record_holdback=False)
    notes = live_rows(pg_server, settings, "contact_note")
    [warning] = [r.message for r in full.outcome("raw.contact_note").warnings]
    assert warning.startswith(f"raw.contact_note ({cols}): 24 of {notes:,} rows duplicate another row"), (
        warning
    )
    assert "double entries awaiting clean-up" in warning and " repeats contact_note_id=" in warning
    assert 24 / notes < MAX_DUPLICATE_SHARE and full.outcome("raw.contact_note").passed, full.failures()

    # the copies are withdrawn in the source: the table is released the next night
    source_sql(
        pg_server,
        settings,
        f"update cpin.contact_note set is_deleted = true, updated_at = {BUMP.format(h=1, t='contact_note')}"
        " where contact_note_id > 10000000",
    )
    extract(settings)
    run = nightly(settings)
    assert run.outcome("raw.contact_note").passed, run.failures()

    # A worker keys two notes twice (a double entry, cleaned up in a day or so): within the
    # night's slack, a warning that names them; nothing is held back.
    source_sql(
        pg_server,
        settings,
        "insert into cpin.contact_note select contact_note_id + 20000000, agency_id, case_id, person_id,"
        " worker_id, contact_at, contact_type_code, location_code, duration_minutes, note_text, created_at,"
        f" {BUMP.format(h=2, t='contact_note')}, is_deleted from cpin.contact_note"
        " where not is_deleted and contact_note_id < 10000000 and person_id is not null"
        " and worker_id is not null order by contact_note_id desc limit 2",
    )
    extract(settings)
    run = nightly(settings)
    outcome = run.outcome("raw.contact_note")
    assert outcome.passed and not failed(run, "raw.contact_note"), run.failures()
    [warning] = [r.message for r in outcome.warnings]
    assert warning.startswith(f"raw.contact_note ({cols}): 2 of 2 new rows"), warning
    assert "double entries awaiting clean-up in the source" in warning
    assert " repeats contact_note_id=" in warning


def test_the_duplicated_batch_check_looks_new_rows_up_by_index(
    pg_server: Server, loaded: tuple[Settings, int, DqRun]
) -> None:
    """Nightly: tonight's rows come off the _batch_id index and are matched through the business-key
    index, not by reading the table (planner forced off sequential scans where it has a choice:
    at this size it rightly prefers them)."""
    from data_quality.expectations.contract import raw_tables
    from data_quality.expectations.raw_suites import duplicates_query

    settings, *_ = loaded
    payment = next(t for t in raw_tables() if t.name == "payment")
    with pg_server.connect(settings.warehouse_db) as conn:
        indexes = {r[0] for r in conn.execute("select indexname from pg_indexes where schemaname = 'raw'")}
        conn.execute("set enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute("explain " + duplicates_query(payment, 10**6)))
    assert {
        "payment__dq_business_key",
        "contact_note__dq_business_key",
        "placement__dq_business_key",
    } <= indexes
    assert "payment__batch_id" in plan and "payment__dq_business_key" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_an_old_row_accepted_earlier_is_reported_by_full_mode_only(
    pg_server: Server, loaded: tuple[Settings, int, DqRun]
) -> None:
    settings, *_ = loaded
    # A worker row accepted long ago holds a code the suite no longer accepts (e.g. the code set
    # was tightened since): it sits under an old batch, so no nightly run reads it again.
    with pg_server.connect(settings.warehouse_db) as conn:
        worker, code, batch = conn.execute(
            "select worker_id, role_code, _batch_id from raw.worker order by worker_id limit 1"
        ).fetchone()
        conn.execute("update raw.worker set role_code = 'ZZZ' where worker_id = %s", (worker,))
        workers = live_rows(pg_server, settings, "worker")
    assert batch == loaded[1]  # landed by the first batch, accepted by the first full run
    try:
        run = nightly(settings)
        assert run.outcome("raw.worker").passed and scope_of(run, "raw.worker")[3] == 0

        full = run_dq(settings, ["raw.worker"], record_holdback=False)
        assert failed(full, "raw.worker") == [
            f"raw.worker.role_code: 1 of {workers:,} rows have a code outside"
            " ['CW', 'INT', 'MGR', 'SUP']; e.g. ZZZ"
        ]
        assert scope_of(full, "raw.worker")[:2] == ("full", None) and full.mode == "full"
        # the failed full run moved no mark: the next nightly run starts where it did
        assert nightly(settings).outcome("raw.worker").passed
    finally:
        with pg_server.connect(settings.warehouse_db) as conn:
            conn.execute("update raw.worker set role_code = %s where worker_id = %s", (code, worker))
