"""A widening drift under views that read raw (as dbt's staging views do): the column is widened,
the views come back with the same definition, options, owner, comments and grants; found by the
soak (simulator/soak.py), where the schema-change night failed with "cannot alter type of a column
used by a view or rule"."""

from __future__ import annotations

from cww.postgres import Server
from cww.settings import Settings
from extract.api import reconcile, run_extract


def test_widening_a_column_read_by_views_keeps_the_views(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    run_extract(s)
    grantee = f"{s.role_prefix}_viewer"
    with pg_server.connect(s.warehouse_db) as conn:
        conn.execute(f'create role "{grantee}"')
        conn.execute("create schema staging")
        conn.execute(
            "create view staging.stg_worker with (security_invoker = true) as"
            " select worker_id, hired_on from raw.worker where not _deleted"
        )
        conn.execute("create view staging.worker_years as select worker_id, hired_on from staging.stg_worker")
        conn.execute("comment on view staging.stg_worker is 'staged workers'")
        conn.execute("comment on column staging.stg_worker.worker_id is 'the worker'")
        conn.execute(f'grant select on staging.worker_years to "{grantee}"')
        before = conn.execute(
            "select pg_get_viewdef('staging.worker_years'::regclass),"
            " pg_get_viewdef('staging.stg_worker'::regclass)"
        ).fetchone()
    with pg_server.connect(s.source_db) as conn:
        conn.execute("alter table cpin.worker alter column worker_id type bigint")  # a widening
        conn.execute("update cpin.worker set updated_at = '2026-01-07 09:00+00' where worker_id = 100")
    summary = run_extract(s)
    worker = next(r for r in summary.tables if r.table == "worker")
    assert worker.status == "ok", worker.error
    assert any("widened" in w and "staging.stg_worker" in w for w in worker.warnings), worker.warnings
    with pg_server.connect(s.warehouse_db) as conn:
        assert conn.execute(
            "select data_type from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'worker' and column_name = 'worker_id'"
        ).fetchone() == ("bigint",)
        after = conn.execute(
            "select pg_get_viewdef('staging.worker_years'::regclass),"
            " pg_get_viewdef('staging.stg_worker'::regclass)"
        ).fetchone()
        assert after == before
        assert conn.execute(
            "select reloptions from pg_class where oid = 'staging.stg_worker'::regclass"
        ).fetchone() == (["security_invoker=true"],)
        assert conn.execute(
            "select obj_description('staging.stg_worker'::regclass, 'pg_class')"
        ).fetchone() == ("staged workers",)
        assert conn.execute("select col_description('staging.stg_worker'::regclass, 1)").fetchone() == (
            "the worker",
        )
        assert conn.execute(
            "select has_table_privilege(%s, 'staging.worker_years', 'select')", (grantee,)
        ).fetchone() == (True,)
        assert conn.execute("select count(*) from staging.worker_years").fetchone() == (2,)
    assert reconcile(s).ok
