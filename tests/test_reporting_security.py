"""The reporting security layer, against the warehouse dbt built from hand-made rows.

Agency CAS-A's login must not be able to read a CAS-B child by any query: not through the
reporting views, not through the mart tables under them, not through the catalogue's statistics,
not through a leaky function of its own, not by switching role. The analyst reads the
pseudonymised schema and nothing else.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from cww.postgres import Server
from cww.security import agency_role, analyst_role, role_password
from cww.settings import Settings

CAS_B_CHILDREN = {2001, 2002, 2003}
CAS_B_NAMES = {"Hal", "Ivy", "Jo", "Eight", "Nine", "Ten"}
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def connect_as(server: Server, settings: Settings, role: str) -> psycopg.Connection:
    """A real login as the role, with its derived password (cww.security)."""
    return psycopg.connect(
        server.conninfo(settings.warehouse_db, user=role, password=role_password(role)), autocommit=True
    )


def all_relations(server: Server, settings: Settings) -> list[tuple[str, str]]:
    with server.connect(settings.warehouse_db) as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_schema <> all(%s) order by 1, 2",
                (list(SYSTEM_SCHEMAS),),
            )
        ]


@pytest.fixture(scope="module")
def cas_a(pg_server: Server, dbt_hand_warehouse: Settings) -> str:
    return agency_role("CAS-A", dbt_hand_warehouse.role_prefix)


def test_agency_sees_only_its_children_in_reporting_views(
    pg_server: Server, dbt_hand_warehouse: Settings, cas_a: str
) -> None:
    with connect_as(pg_server, dbt_hand_warehouse, cas_a) as conn:
        kids = [
            r[0] for r in conn.execute("select child_id from reporting.children_in_care_current order by 1")
        ]
        assert kids == [1001, 1002, 1003]
        assert {r[0] for r in conn.execute("select distinct agency_id from reporting.placements")} == {1}
        # Indicators: its own rows and the province's, never CAS-B's.
        codes = {r[0] for r in conn.execute("select distinct agency_code from reporting.indicators")}
        assert codes == {"CAS-A", "ONTARIO"}


def test_no_relation_readable_by_an_agency_reveals_another_agencys_child(
    pg_server: Server, dbt_hand_warehouse: Settings, cas_a: str
) -> None:
    """Every table and view in the warehouse, queried directly as CAS-A: either denied, or no
    CAS-B child id or name anywhere in any row."""
    readable, denied = [], []
    with connect_as(pg_server, dbt_hand_warehouse, cas_a) as conn:
        for schema, table in all_relations(pg_server, dbt_hand_warehouse):
            query = sql.SQL("select row_to_json(t)::text from {}.{} as t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            try:
                texts = [r[0] for r in conn.execute(query)]
            except psycopg.errors.InsufficientPrivilege:
                denied.append(f"{schema}.{table}")
                continue
            readable.append(f"{schema}.{table}")
            for text in texts:
                for name in CAS_B_NAMES:
                    assert f'"{name}"' not in text, (schema, table, text)
                for child in CAS_B_CHILDREN:
                    assert f'"child_id":{child},' not in text and f'"child_id":{child}}}' not in text, (
                        schema,
                        table,
                    )
                assert '"agency_id":2,' not in text and '"agency_id":2}' not in text, (schema, table, text)
    # Direct access to everything below the reporting layer is denied outright.
    for rel in (
        "raw.person",
        "raw.placement",
        "staging.stg_cpin__persons",
        "marts.dim_child",
        "intermediate.int_care_episodes_built",
        "marts.fct_children_in_care_daily",
        "pseudonymised.children_in_care",
        "private.pseudonym_key",
    ):
        assert rel in denied, rel
    assert "reporting.children_in_care_current" in readable


def test_reporting_views_run_with_the_callers_rights(pg_server: Server, dbt_hand_warehouse: Settings) -> None:
    """A plain view runs as its owner, who bypasses row-level security: every reporting view over
    agency data must be security_invoker."""
    with pg_server.connect(dbt_hand_warehouse.warehouse_db) as conn:
        views = dict(
            conn.execute(
                "select c.relname, coalesce(array_to_string(c.reloptions, ','), '') from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = 'reporting' and c.relkind = 'v'"
            ).fetchall()
        )
    assert len(views) >= 8
    for view, options in views.items():
        if view != "as_of_date":
            assert "security_invoker=true" in options, view


def test_statistics_and_leaky_functions_do_not_reveal_other_agencies(
    pg_server: Server, dbt_hand_warehouse: Settings, cas_a: str
) -> None:
    stats_sql = (
        "select count(*) from pg_stats where schemaname = 'marts' and tablename = 'children_in_care_current'"
    )
    with pg_server.connect(dbt_hand_warehouse.warehouse_db) as conn:
        conn.execute("analyze marts.children_in_care_current")
        assert conn.execute(stats_sql).fetchone()[0] > 0  # the statistics exist (and hold names)
    with connect_as(pg_server, dbt_hand_warehouse, cas_a) as conn:
        # ... but pg_stats hides them from a role under row-level security on that table.
        assert conn.execute(stats_sql).fetchone()[0] == 0
        # A function of the role's own that leaks every value it is given: row-level security
        # filters before any non-leakproof function sees a row.
        conn.execute(
            "create function pg_temp.leak(v text) returns boolean language plpgsql cost 0.0000001 as"
            " $$ begin raise notice 'saw %', v; return true; end $$"
        )
        seen: list[str] = []
        conn.add_notice_handler(lambda d: seen.append(d.message_primary or ""))
        conn.execute(
            "select * from reporting.children_in_care_current where pg_temp.leak(surname)"
        ).fetchall()
        conn.execute("select * from marts.children_in_care_current where pg_temp.leak(given_name)").fetchall()
        assert seen and not any(n in m for m in seen for n in CAS_B_NAMES), seen
        assert conn.execute("select reporting.current_agency_ids()").fetchone()[0] == [1]


def test_an_agency_cannot_become_another(pg_server: Server, dbt_hand_warehouse: Settings, cas_a: str) -> None:
    other = agency_role("CAS-B", dbt_hand_warehouse.role_prefix)
    with connect_as(pg_server, dbt_hand_warehouse, cas_a) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(other)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into reporting.agency_roles values (2, 'CAS-B', current_user)")


def test_analyst_reads_pseudonymised_data_and_nothing_else(
    pg_server: Server, dbt_hand_warehouse: Settings
) -> None:
    settings = dbt_hand_warehouse
    analyst = analyst_role(settings.role_prefix)
    with pg_server.connect(settings.warehouse_db) as conn:
        for schema, table in all_relations(pg_server, settings):
            can = conn.execute(
                "select has_table_privilege(%s, format('%%I.%%I', %s::text, %s::text), 'select')",
                (analyst, schema, table),
            ).fetchone()[0]
            assert can == (schema == "pseudonymised"), (schema, table)
        key = conn.execute("select key from private.pseudonym_key").fetchone()[0]
        limits = conn.execute(
            "select rolconnlimit, rolconfig from pg_roles where rolname = %s", (analyst,)
        ).fetchone()
    assert limits[0] == 5 and "statement_timeout=60s" in limits[1]
    with connect_as(pg_server, settings, analyst) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == "1min"
        cols = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'pseudonymised'"
            )
        ]
        for forbidden in (
            "given_name",
            "surname",
            "birth_date",
            "address",
            "street",
            "postal_code",
            "child_id",
        ):
            assert forbidden not in cols
        got = dict(
            conn.execute("select child_key, birth_year_month from pseudonymised.children_in_care").fetchall()
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts.children_in_care_current")
    # Stable keys: md5(secret key : child : master id) — 1001 was born 2010-05.
    with pg_server.connect(settings.warehouse_db) as conn:
        expected = conn.execute("select md5(%s || ':child:' || 1001)", (key,)).fetchone()[0]
    assert got[expected] == "2010-05"
    assert len(got) == 5
