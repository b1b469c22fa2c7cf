"""Great Expectations suites against a real warehouse: the simulator's tiny preset, extracted and
built by dbt once for the module, then bad nights injected into the *source* and carried through
extract (and dbt for the marts) — the right expectation must fail, saying table, column and count.

Order matters and is the story of a week: a clean night (baseline), a night with broken marts, a
night with three broken raw tables.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cww.postgres import Server
from cww.settings import Settings
from data_quality.expectations.runner import DqRun, run_dq

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def chain(module_settings: Settings) -> Settings:
    """simulate tiny → extract → dbt build, once for the module."""
    from cww.transform import prepare_warehouse, run_dbt
    from extract.api import run_extract
    from simulator.api import init_source

    settings = module_settings
    init_source(settings, "tiny", 11, force=True, as_of=AS_OF)
    run_extract(settings)
    # dbt's own tests are other suites' business (and cost time): models, seeds, snapshots only.
    prepare_warehouse(settings)
    run_dbt(settings, ["build", "--exclude-resource-type", "test", "unit_test"])
    return settings


def source_sql(server: Server, settings: Settings, statement: str) -> int:
    """Run a statement in the source as the simulator would; returns the affected row count."""
    with server.connect(settings.source_db) as conn:
        return conn.execute(statement).rowcount


def failed(run: DqRun, suite: str) -> list[str]:
    return [r.message for r in run.outcome(suite).blocking_failures]


def test_a_clean_night_passes_and_is_stored_with_data_docs(pg_server: Server, chain: Settings) -> None:
    from data_quality.expectations.runner import gx_context, upsert_suite

    run = run_dq(chain)
    assert run.as_of == AS_OF
    assert run.passed, run.failures()
    assert [o.suite.name for o in run.outcomes][:2] == ["raw.agency", "raw.office"]
    assert len(run.outcomes) == 20 and len(run.rows) == sum(len(o.suite.checks) for o in run.outcomes)
    with pg_server.connect(chain.warehouse_db) as conn:
        stored = conn.execute(
            "select count(*), count(*) filter (where passed), count(*) filter (where blocking)"
            " from dq.expectation_result where run_id = %s",
            (run.run_id,),
        ).fetchone()
        volumes = dict(
            conn.execute("select suite, row_count from dq.table_volume where run_id = %s", (run.run_id,))
        )
        source_notes = None
        held = conn.execute(
            "select count(*), bool_and(passed), min(as_of_date) from reports.dq_blocking"
        ).fetchone()
        summary = conn.execute(
            "select passed, blocking_failed, docs_path from dq.run where run_id = %s", (run.run_id,)
        ).fetchone()
    with pg_server.connect(chain.source_db) as conn:
        source_notes = conn.execute("select count(*) from cpin.contact_note where not is_deleted").fetchone()[
            0
        ]
    assert stored == (len(run.rows), len(run.rows), sum(r.blocking for r in run.rows))
    assert volumes["raw.contact_note"] == source_notes and len(volumes) == 17  # live rows only
    assert held == (20, True, AS_OF)  # every suite's blocking status recorded for the report hold-back
    assert summary == (True, 0, str(chain.home / "data_docs" / "index.html"))
    index = Path(summary[2]).read_text()
    assert "raw.payment" in index and "marts.children_in_care_current" in index
    assert len(list((chain.home / "data_docs" / "validations").rglob("*.html"))) >= 20

    # Suites are added or updated, never appended: building one twice keeps one copy of each check
    # (across the suite's parts: the duplicated-batch check reads its own query).
    from cww.postgres import resolve_server
    from data_quality.expectations.spec import gx_suite_name

    context = gx_context(resolve_server(chain), chain)
    suite = run.outcome("raw.payment").suite
    upsert_suite(context, suite)
    upsert_suite(context, suite)
    assert suite.part_names == ["", "duplicates"]
    per_part = [len(context.suites.get(gx_suite_name(suite.name, p)).expectations) for p in suite.part_names]
    assert per_part == [len(suite.checks) - 2, 2]  # duplicated batch (blocking), double entries (warning)


def test_a_night_with_broken_marts_fails_the_mart_suites(pg_server: Server, chain: Settings) -> None:
    from cww.transform import run_dbt
    from extract.api import run_extract

    ts = "(select max(updated_at) + interval '1 hour' from cpin.payment)"
    source_sql(
        pg_server,
        chain,
        f"update cpin.payment set amount = -120.00, updated_at = {ts}"
        " where payment_id = (select min(payment_id) from cpin.payment where not is_deleted)",
    )
    # The provider of some children in care loses its address (a bad edit in the source system).
    with pg_server.connect(chain.warehouse_db) as conn:
        provider, kids = conn.execute(
            "select provider_id, count(*) from marts.children_in_care_current where provider_id is not null"
            " group by 1 order by 2 desc, 1 limit 1"
        ).fetchone()
    source_sql(
        pg_server,
        chain,
        f"update cpin.provider set street = null, updated_at = {ts} where provider_id = {provider}",
    )
    run_extract(chain)
    # dbt run, not build: the marts must land broken for the suites to see them (dbt's own tests
    # would stop them, which is the point of having both).
    run_dbt(chain, ["run", "--select", "+children_in_care_current +fct_payments"])

    run = run_dq(chain, ["marts.children_in_care_current", "marts.fct_payments", "marts.fct_indicators"])
    assert not run.passed
    with pg_server.connect(chain.warehouse_db) as conn:
        in_care, payments = conn.execute(
            "select (select count(*) from marts.children_in_care_current),"
            " (select count(*) from marts.fct_payments)"
        ).fetchone()
    assert failed(run, "marts.fct_payments") == [
        f"marts.fct_payments.amount: 1 of {payments:,} rows outside [0, ∞] (non-negative); e.g. -120.00"
    ]
    assert failed(run, "marts.children_in_care_current") == [
        f"marts.children_in_care_current.placement_address: {kids} of {in_care} rows are null "
        f"({100 * kids / in_care:.1f} %)"
    ]
    assert run.outcome("marts.fct_indicators").passed


def test_a_bad_raw_night_names_table_column_and_count(pg_server: Server, chain: Settings) -> None:
    from data_quality.expectations.gate import dbt_exclusions
    from extract.api import run_extract
    from reports.holdback import blocking_failures

    ts = "(select max(updated_at) + interval '2 hours' from cpin.payment)"
    # 1. A burst of null addresses: a broken migration blanks 800 addresses.
    blanked = source_sql(
        pg_server,
        chain,
        "update cpin.person_address set street = null, city = null, postal_code = null,"
        f" updated_at = {ts} where address_id in (select address_id from cpin.person_address"
        " where not is_deleted order by address_id desc limit 800)",
    )
    # 2. A duplicated batch: the last month's payments are imported a second time under new ids.
    duplicated = source_sql(
        pg_server,
        chain,
        "insert into cpin.payment select payment_id + 10000000, agency_id, person_id, provider_id,"
        " placement_id, category_code, service_from, service_to, amount, status_code, requested_on,"
        " approved_on, paid_on,"
        f" created_at, {ts}, is_deleted from cpin.payment"
        " where not is_deleted and requested_on > date '2025-05-31'",
    )
    # 3. A 90 % volume drop: the source lost nine family relationships in ten (hard deletes,
    #    which extract detects every night for this table).
    with pg_server.connect(chain.source_db) as conn:
        before = conn.execute(
            "select count(*) from cpin.person_relationship where not is_deleted"
        ).fetchone()[0]
        conn.execute("delete from cpin.person_relationship where relationship_id % 10 <> 0")
        after = conn.execute("select count(*) from cpin.person_relationship where not is_deleted").fetchone()[
            0
        ]
    assert blanked == 800 and duplicated > 20 and after < before * 0.11
    run_extract(chain)

    run = run_dq(chain, ["raw.person_address", "raw.payment", "raw.person_relationship", "raw.person"])
    with pg_server.connect(chain.warehouse_db) as conn:
        addresses = conn.execute(
            "select count(*) from raw.person_address where not _deleted and not is_deleted"
        ).fetchone()[0]
        payments = conn.execute(
            "select count(*) from raw.payment where not _deleted and not is_deleted"
        ).fetchone()[0]
    pct = f"{100 * 800 / addresses:.1f} %"
    assert failed(run, "raw.person_address") == [
        f"raw.person_address.{col}: 800 of {addresses:,} rows are null ({pct}; at most 2.0 % allowed)"
        for col in ("street", "city", "postal_code")
    ]
    [dup] = failed(run, "raw.payment")
    assert dup.startswith(
        "raw.payment (person_id, category_code, service_from, service_to, amount, provider_id): "
        f"{2 * duplicated:,} of {payments:,} rows duplicate another row"
    ), dup
    low, high = int(before * 0.5), before * 2 + 50
    drop = round(100 * (before - after) / before)
    assert failed(run, "raw.person_relationship") == [
        f"raw.person_relationship (all columns): {after:,} live rows, expected {low:,}–{high:,}"
        f" (night-over-night volume; last accepted night: {before:,} live rows, a drop of {drop} %)"
    ]
    assert run.outcome("raw.person").passed  # unrelated tables stay green

    with pg_server.connect(chain.warehouse_db) as conn:
        held = blocking_failures(conn)
        accepted = conn.execute(
            "select accepted from dq.table_volume where run_id = %s and suite = 'raw.person_relationship'",
            (run.run_id,),
        ).fetchone()[0]
        stored = conn.execute(
            "select column_name, unexpected_count, passed, blocking from dq.expectation_result"
            " where run_id = %s and suite = 'raw.person_address' and column_name = 'street' and not passed",
            (run.run_id,),
        ).fetchall()
    # (the marts broken earlier may share the night; the raw tables must be among the held checks)
    assert {"dq raw.payment", "dq raw.person_address", "dq raw.person_relationship"} <= {
        h.split(":")[0] for h in held
    }
    assert "dq raw.person" not in {h.split(":")[0] for h in held}
    assert accepted is False  # tonight's 10 % does not become tomorrow's baseline
    # dbt's gate: leave out what reads the three broken tables, build everything else
    with pg_server.connect(chain.warehouse_db) as conn:
        assert dbt_exclusions(conn) == [
            "source:cpin.payment+",
            "source:cpin.person_address+",
            "source:cpin.person_relationship+",
        ]
    assert stored == [("street", 800, False, True)]
