"""The nightly scenario on hand-made rows: build, one more day of source changes lands in raw
(including late corrections of rows more than a year old and a soft delete), nightly incremental
build. The incremental models must end up exactly as a full rebuild would, the as-of date must
follow the data, and the snapshots must keep the history the source overwrote."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import create_raw_tables

from cww.postgres import Server, create_database, drop_database, drop_role
from cww.settings import Settings
from cww.transform import build

NEXT_DAY = """
-- 2024-07-01: Ava (1001) moves from over-full foster home 501 to foster home 507, her worker
-- visits, and Ben's (1002) temporary care order ends and extended society care starts.
update raw.placement set end_date = '2024-07-01', end_reason_code = 'MOV',
    updated_at = '2024-07-01 09:00+00', _source_updated_at = '2024-07-01 09:00+00', _batch_id = 2
  where placement_id = 1;
insert into raw.placement (placement_id, person_id, agency_id, case_id, provider_id, placement_type_code,
    start_date, created_at, updated_at, _source_updated_at, _batch_id)
  values (20, 1001, 1, 3001, 507, 'FOS', '2024-07-01', '2024-07-01 09:00+00', '2024-07-01 09:00+00',
          '2024-07-01 09:00+00', 2);
update raw.legal_status set end_date = '2024-07-01', updated_at = '2024-07-01 11:00+00',
    _source_updated_at = '2024-07-01 11:00+00', _batch_id = 2 where legal_status_id = 2;
insert into raw.legal_status (legal_status_id, person_id, agency_id, status_code, start_date, created_at,
    updated_at, _source_updated_at, _batch_id)
  values (6, 1002, 1, 'ESC', '2024-07-01', '2024-07-01 11:00+00', '2024-07-01 11:00+00',
          '2024-07-01 11:00+00', 2);
insert into raw.contact_note (contact_note_id, agency_id, case_id, person_id, worker_id, contact_at,
    contact_type_code, created_at, updated_at, _source_updated_at, _batch_id)
  values (5, 1, 3002, 1002, 101, '2024-07-01 14:00+00', 'INP', '2024-07-01 15:00+00',
          '2024-07-01 15:00+00', '2024-07-01 15:00+00', 2);
-- Late corrections of old rows (far beyond any trailing window): Jade's (2001) runaway in October
-- 2023 lasted two days longer, and investigation 3's due date was ten days earlier (so worker 201
-- had it overdue for ten days in June 2023).
update raw.placement set end_date = '2023-10-07', updated_at = '2024-07-01 10:00+00',
    _source_updated_at = '2024-07-01 10:00+00', _batch_id = 2 where placement_id = 12;
update raw.placement set start_date = '2023-10-07', updated_at = '2024-07-01 10:00+00',
    _source_updated_at = '2024-07-01 10:00+00', _batch_id = 2 where placement_id = 13;
update raw.investigation set due_on = '2023-06-20', updated_at = '2024-07-01 10:00+00',
    _source_updated_at = '2024-07-01 10:00+00', _batch_id = 2 where investigation_id = 3;
-- A soft delete: child 1004's four-day stay in June 2023 was entered in error; so was the visit
-- to Jade (2001) on 25 June (soft delete), and the call on case 4002 was hard-deleted at the source.
update raw.placement set is_deleted = true, updated_at = '2024-07-01 10:00+00',
    _source_updated_at = '2024-07-01 10:00+00', _batch_id = 2 where placement_id = 5;
update raw.contact_note set is_deleted = true, updated_at = '2024-07-01 10:00+00',
    _source_updated_at = '2024-07-01 10:00+00', _batch_id = 2 where contact_note_id = 3;
update raw.contact_note set _deleted = true, _batch_id = 2 where contact_note_id = 4;
-- The source hard-deleted the address of 2002 (entered in error): its history keeps the address
-- and gains a last version flagged deleted.
update raw.person_address set _deleted = true, _batch_id = 2 where address_id = 1;
-- Payments move on: Ben's per diem is paid; the clothing request for Ava was entered in error.
update raw.payment set status_code = 'PAID', paid_on = '2024-07-01', updated_at = '2024-07-01 12:00+00',
    _source_updated_at = '2024-07-01 12:00+00', _batch_id = 2 where payment_id = 2;
update raw.payment set is_deleted = true, updated_at = '2024-07-01 12:00+00',
    _source_updated_at = '2024-07-01 12:00+00', _batch_id = 2 where payment_id = 3;
"""

# Entered the day before it happened (a visit booked for the morning of 1 July): dated after the first
# build's as-of date (2024-06-30) it does not count yet; the next night's as-of date reaches it
# although the note itself never changes again.
AHEAD_NOTE = """
insert into raw.contact_note (contact_note_id, agency_id, case_id, person_id, worker_id, contact_at,
    contact_type_code, created_at, updated_at, _batch_id)
  values (6, 1, 3004, 1003, 101, '2024-07-01 09:30+00', 'INP', '2024-06-30 10:00+00',
          '2024-06-30 10:00+00', 1);
"""

# Every incremental model: after the nightly build its rows must equal a --full-refresh build's.
INCREMENTAL_MODELS = {
    "fct_children_in_care_daily": "marts",
    "fct_caseload_daily": "marts",
    "int_contacts_summarised": "intermediate",
    "fct_payments": "marts",
}


@pytest.fixture(scope="module")
def nightly(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict]]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings().model_copy(
        update={
            "warehouse_db": f"cwwt_{tag}_warehouse",
            "role_prefix": f"cwwt_{tag}",
            "home": tmp_path_factory.mktemp("dbt_nightly") / "cww_home",
        }
    )
    try:
        create_database(pg_server, settings.warehouse_db)
        tables = create_raw_tables(pg_server, settings.warehouse_db)
        with pg_server.connect(settings.warehouse_db) as conn:
            conn.execute((Path(__file__).parent / "test_dbt_fixture.sql").read_text())
            conn.execute(AHEAD_NOTE)
            for t in tables:
                if t != "postal_region":
                    conn.execute(f'update raw."{t}" set _source_updated_at = updated_at')
        build(settings)
        with pg_server.connect(settings.warehouse_db) as conn:
            before = {
                "daily_rows": conn.execute(
                    "select count(*) from marts.fct_children_in_care_daily"
                ).fetchone()[0],
                "contacts_before": conn.execute(
                    "select child_id, last_contact_on::text from intermediate.int_contacts_summarised"
                    " order by child_id"
                ).fetchall(),
                "old_day": conn.execute(
                    "select count(*) from marts.fct_children_in_care_daily where care_date = '2024-03-01'"
                ).fetchone()[0],
            }
            conn.execute(NEXT_DAY)
        incremental = build(settings, nightly=True)
        before["incremental_statuses"] = dict(incremental.statuses)
        before["incremental_failures"] = list(incremental.failures)
        yield settings, before
    finally:
        drop_database(pg_server, settings.warehouse_db)
        with pg_server.connect() as conn:
            roles = [
                r[0]
                for r in conn.execute(
                    "select rolname from pg_roles where rolname like %s", (f"cwwt_{tag}_%",)
                )
            ]
        for role in roles:
            drop_role(pg_server, role)


def q(server: Server, settings: Settings, query: str) -> list[tuple]:
    with server.connect(settings.warehouse_db) as conn:
        return list(conn.execute(query))


def test_as_of_date_follows_the_new_data(pg_server: Server, nightly: tuple[Settings, dict]) -> None:
    settings, _ = nightly
    assert q(pg_server, settings, "select as_of_date::text from intermediate.int_as_of_date") == [
        ("2024-07-01",)
    ]


def test_incremental_daily_fact_adds_the_new_day(pg_server: Server, nightly: tuple[Settings, dict]) -> None:
    settings, before = nightly
    assert q(
        pg_server,
        settings,
        "select child_id, provider_id from marts.fct_children_in_care_daily"
        " where care_date = '2024-07-01' order by 1",
    ) == [(1001, 507), (1002, 502), (1003, 501), (2001, 505), (2002, None)]
    after = q(pg_server, settings, "select count(*) from marts.fct_children_in_care_daily")[0][0]
    assert after == before["daily_rows"] + 5 - 4  # five children on the new day; 1004's stay deleted
    assert q(
        pg_server,
        settings,
        "select count(*) from marts.fct_children_in_care_daily where care_date = '2024-03-01'",
    ) == [(before["old_day"],)]


def test_nightly_build_skips_unit_tests_and_runs_incrementally(nightly: tuple[Settings, dict]) -> None:
    _, before = nightly
    assert before["incremental_failures"] == []
    # --exclude resource_type:unit_test: the full build runs them, the nightly one does not.
    assert "unit_test" not in str(before["incremental_statuses"])


def test_late_changes_and_soft_delete_reach_the_incremental_facts(
    pg_server: Server, nightly: tuple[Settings, dict]
) -> None:
    settings, before = nightly
    runaway = q(
        pg_server,
        settings,
        "select care_date::text from marts.fct_children_in_care_daily where child_id = 2001"
        " and placement_type_code = 'RUN' order by 1",
    )
    assert [r[0] for r in runaway] == [f"2023-10-0{d}" for d in range(1, 7)]
    assert q(
        pg_server, settings, "select count(*) from marts.fct_children_in_care_daily where child_id = 1004"
    ) == [(0,)]
    overdue = q(
        pg_server,
        settings,
        "select min(activity_date)::text, max(activity_date)::text from marts.fct_caseload_daily"
        " where worker_id = 201 and overdue_investigations > 0 and activity_date < '2024-01-01'",
    )
    assert overdue == [("2023-06-21", "2023-06-30")]
    contacts = q(
        pg_server,
        settings,
        "select child_id, last_contact_on::text from intermediate.int_contacts_summarised",
    )
    # 2001's and 2002's notes deleted; 1003's visit, landed a night early, counts once the day comes
    assert before["contacts_before"] == [
        (1001, "2024-06-20"), (1002, "2024-04-01"), (2001, "2024-06-25"), (2002, "2024-06-28")
    ]
    assert sorted(contacts) == [(1001, "2024-06-20"), (1002, "2024-07-01"), (1003, "2024-07-01")]
    payments = q(pg_server, settings, "select payment_id, lifecycle_stage from marts.fct_payments order by 1")
    assert payments == [(1, "paid"), (2, "paid"), (4, "paid"), (5, "voided")]


def test_incremental_equals_full_refresh(pg_server: Server, nightly: tuple[Settings, dict]) -> None:
    """Each incremental model's rows after the nightly build = a --full-refresh build's, both ways."""
    settings, _ = nightly
    with pg_server.connect(settings.warehouse_db) as conn:
        conn.execute("create schema if not exists nightly_copy")
        for model, schema in INCREMENTAL_MODELS.items():
            conn.execute(f"create table nightly_copy.{model} as select * from {schema}.{model}")
    build(settings, select=" ".join(INCREMENTAL_MODELS), full_refresh=True)
    for model, schema in INCREMENTAL_MODELS.items():
        rows = q(pg_server, settings, f"select count(*) from {schema}.{model}")[0][0]
        assert rows > 0, model
        for a, b in (
            (f"nightly_copy.{model}", f"{schema}.{model}"),
            (f"{schema}.{model}", f"nightly_copy.{model}"),
        ):
            extra = q(pg_server, settings, f"select * from {a} except all select * from {b} limit 5")
            assert extra == [], (model, f"rows in {a} missing from {b}", extra)


def test_current_marts_and_snapshots_reflect_the_day(
    pg_server: Server, nightly: tuple[Settings, dict]
) -> None:
    settings, _ = nightly
    cur = dict(
        q(
            pg_server,
            settings,
            "select child_id, provider_id::text || '/' || flag_over_capacity::text || '/'"
            " || legal_status_code from marts.children_in_care_current",
        )
    )
    assert cur[1001] == "507/false/ESC"  # moved: no longer in the over-full home
    assert cur[1003] == "501/false/INT"  # 501 now holds one child: within capacity
    assert cur[1002].endswith("/ESC")
    history = q(
        pg_server,
        settings,
        "select coalesce(end_date::text, 'open') from snapshots.snp_legal_statuses"
        " where legal_status_id = 2 order by dbt_valid_to is null",
    )
    assert history == [("open",), ("2024-07-01",)]  # the overwritten version is kept
    addresses = q(
        pg_server,
        settings,
        "select address_id, is_deleted, dbt_valid_to is null, dbt_valid_from > min(dbt_valid_from)"
        " over (partition by address_id), source_batch_id"
        " from snapshots.snp_person_addresses order by address_id, dbt_valid_from",
    )
    assert addresses == [
        (1, False, False, False, 1),  # the address as it was, closed by the deletion
        (1, True, True, True, 2),  # deleted at the source in batch 2: current, flagged
        (2, False, True, False, 1),  # untouched: one version, still open
    ]
    # The nightly select read only batch 2's keys: nothing else gained a version.
    assert q(pg_server, settings, "select count(*) from snapshots.snp_providers") == [(7,)]
    assert q(
        pg_server, settings, "select count(*) from marts.fct_placements where is_move and child_id = 1001"
    ) == [(1,)]


def test_duplicate_matching_output_is_used_once_it_exists(
    pg_server: Server, nightly: tuple[Settings, dict]
) -> None:
    """data_quality/ publishes person_match later: the same project then maps persons to masters."""
    settings, _ = nightly
    with pg_server.connect(settings.warehouse_db) as conn:
        conn.execute("create schema data_quality")
        conn.execute(
            "create table data_quality.person_match as"
            " select person_id, case when person_id = 1007 then 1003 else person_id end as master_person_id"
            " from raw.person"
        )
    build(settings, select="int_persons_mastered+")
    assert q(
        pg_server,
        settings,
        "select child_id, master_person_id, episode_number from intermediate.int_care_episodes_built"
        " where master_person_id = 1003 order by entry_date",
    ) == [(1003, 1003, 1), (1007, 1003, 2), (1003, 1003, 3)]  # by entry date: 2023-05, 2023-10, 2024-02
