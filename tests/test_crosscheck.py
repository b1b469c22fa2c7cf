"""The independent cross-check (data_quality/crosscheck.py) on the real chain: simulator tiny →
extract → duplicate matching → dbt build. It agrees with the marts, and it fails — naming the
row — when one mart row is corrupted (a child moved, a child dropped, an indicator count off)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from cww.postgres import Server
from cww.settings import Settings

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def built(module_settings: Settings, pg_server: Server) -> Iterator[Settings]:
    from cww.transform import build
    from data_quality.dedupe.warehouse import run_matching
    from extract.api import run_extract
    from simulator.api import init_source

    init_source(module_settings, "tiny", 5, force=True, as_of=AS_OF)
    run_extract(module_settings)
    run_matching(module_settings)
    build(module_settings)
    yield module_settings


def test_marts_agree_with_the_source(built: Settings, pg_server: Server) -> None:
    from data_quality.crosscheck import crosscheck

    result = crosscheck(built, pg_server)
    assert result.ok, result.lines()
    assert result.as_of == result.mart_as_of
    assert result.kids_source == result.kids_mart > 50
    assert len(result.kids_per_agency) == 3
    assert result.indicator_rows > 100
    with pg_server.connect(built.warehouse_db) as conn:  # merged persons exist: masters are exercised
        merged = conn.execute(
            "select count(*) from data_quality.master_person where master_person_id <> person_id"
        ).fetchone()[0]
    assert merged > 0


def test_a_corrupted_mart_row_is_found(built: Settings, pg_server: Server) -> None:
    from data_quality.crosscheck import crosscheck

    kids, ind = "marts.children_in_care_current", "marts.fct_indicators"
    province_row = (
        "indicator_code = 'permanency_12m' and agency_id is null"
        " and fiscal_year = (select max(fiscal_year) from marts.fct_indicators)"
    )
    with pg_server.connect(built.warehouse_db) as conn:
        moved, dropped = conn.execute(f"select child_id from {kids} order by child_id limit 2").fetchall()
        conn.execute(
            f"create table public.kids_before as select * from {kids} where child_id in (%s, %s)",
            (moved[0], dropped[0]),
        )
        conn.execute(f"update {kids} set provider_id = -1 where child_id = %s", moved)
        conn.execute(f"delete from {kids} where child_id = %s", dropped)
        conn.execute(f"update {ind} set numerator = numerator + 1 where {province_row}")
    try:
        result = crosscheck(built, pg_server)
    finally:
        with pg_server.connect(built.warehouse_db) as conn:
            conn.execute(f"delete from {kids} where child_id in (%s, %s)", (moved[0], dropped[0]))
            conn.execute(f"insert into {kids} select * from public.kids_before")
            conn.execute("drop table public.kids_before")
            conn.execute(f"update {ind} set numerator = numerator - 1 where {province_row}")
    assert not result.ok
    checks = {(d.check, d.key) for d in result.differences}
    assert ("kids: differs", f"child {moved[0]}") in checks
    assert ("kids: missing in mart", f"child {dropped[0]}") in checks
    assert any(
        c == "indicator" and k.startswith("permanency_12m FY") and k.endswith("ONTARIO") for c, k in checks
    )
    assert len(result.differences) == 3, result.lines()
    assert crosscheck(built, pg_server).ok  # restored


def test_rejected_source_rows_are_left_out_only_when_asked(built: Settings, pg_server: Server) -> None:
    """A placement the extractor rejected never reaches the marts: accounted for, not a difference."""
    from data_quality.crosscheck import crosscheck

    with pg_server.connect(built.warehouse_db) as conn:
        child, case_id, agency = conn.execute(
            "select child_id, episode_id, agency_id from marts.children_in_care_current"
            " order by child_id limit 1"
        ).fetchone()
        conn.execute(
            "insert into extract_meta.batches (batch_id, status, tables) values (-1, 'failed', '{placement}')"
        )
    with pg_server.connect(built.source_db) as conn:
        row = conn.execute(
            """insert into cpin.placement (placement_id, person_id, agency_id, case_id, provider_id,
                   placement_type_code, start_date, end_date, end_reason_code, created_at, updated_at)
               select -777, %s, %s, %s, null, 'RUN', '2025-06-30', null, null, updated_at, updated_at
               from cpin.placement where case_id = %s order by updated_at limit 1
               returning placement_id""",
            (child, agency, case_id, case_id),
        ).fetchone()
    assert row == (-777,)
    try:
        with pg_server.connect(built.warehouse_db) as conn:
            conn.execute(
                "insert into extract_meta.rejected_rows (batch_id, table_name, key, reason, row_data)"
                """ values (-1, 'placement', '{"placement_id": -777}', 'test', '{}')"""
            )
        assert crosscheck(built, pg_server).ok
        unexcluded = crosscheck(built, pg_server, exclude_rejected=False)
        assert [(d.check, d.key) for d in unexcluded.differences if d.check.startswith("kids")] == [
            ("kids: differs", f"child {child}")
        ]
    finally:
        with pg_server.connect(built.source_db) as conn:
            conn.execute("delete from cpin.placement where placement_id = -777")
        with pg_server.connect(built.warehouse_db) as conn:
            conn.execute("delete from extract_meta.rejected_rows where batch_id = -1")
            conn.execute("delete from extract_meta.batches where batch_id = -1")
