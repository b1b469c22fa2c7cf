"""A small reporting layer built exactly like dbt's, for tests and the benchmark.

Same mechanism as the real ``reporting`` schema (cww.security contract): one LOGIN role per agency
(``agency_role(code, prefix)`` with ``role_password``), a mapping table ``reporting.agency_role``,
a base table with row-level security keyed on ``current_user`` through that mapping, and a
``security_invoker`` view on top — so a report run under an agency's login proves what the real
views will do. Used only in databases the caller created (tests, bench), never in the real warehouse.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg import sql

from cww.postgres import Server, ensure_login_role
from cww.security import agency_role, analyst_role, role_password
from cww.settings import Settings

ROSTER_VIEW = "reporting.synthetic_roster"
PROVINCIAL_VIEW = "reporting.synthetic_totals"

DDL = """
create schema if not exists reporting;
create schema if not exists synthetic;
create table if not exists reporting.agency_roles (
    agency_id smallint primary key, agency_code text not null unique, role_name text not null unique);
create or replace function synthetic.current_agency_ids() returns smallint[]
    language sql stable security invoker set search_path = pg_catalog as $$
    select coalesce(array_agg(agency_id), '{{}}') from reporting.agency_roles
    where role_name = current_user $$;
create table if not exists synthetic.roster (
    child_id bigint primary key,
    agency_id smallint not null,
    agency_code text not null,
    child_name text not null,
    provider text,
    placement_type text,
    city text,
    postal_code text,
    start_date date not null,
    days_in_placement integer not null,
    needs_visit boolean not null,
    per_diem numeric(10, 2)
);
create index if not exists roster_agency on synthetic.roster (agency_id);
alter table synthetic.roster enable row level security;
drop policy if exists agency_isolation on synthetic.roster;
create policy agency_isolation on synthetic.roster as permissive for select to {reader}
    using (agency_id = any (synthetic.current_agency_ids()));
create or replace view reporting.synthetic_roster with (security_invoker = true, security_barrier = true) as
    select * from synthetic.roster;
create or replace view reporting.synthetic_totals as
    select agency_code, count(*) as children, sum(per_diem) as per_diem_total, min(start_date) as first_start
    from synthetic.roster group by agency_code;
grant usage on schema reporting, synthetic to {reader};
grant execute on function synthetic.current_agency_ids() to {reader};
grant select on reporting.agency_roles, synthetic.roster, reporting.synthetic_roster to {reader};
grant usage on schema reporting to {analyst};
grant select on reporting.synthetic_totals to {analyst};
"""


def agency_codes(n: int) -> list[str]:
    return [f"CAS-{i:02d}" for i in range(1, n + 1)]


def reader_role(prefix: str) -> str:
    """The group every agency login belongs to (as dbt's security macros name it)."""
    return f"{prefix}_agency_reader"


def build(
    server: Server,
    settings: Settings,
    codes: list[str],
    children_per_agency: int,
    start: date = date(2026, 1, 1),
) -> None:
    """Create the schema, logins and rows (deterministic: child ids and values derive from i)."""
    prefix = settings.role_prefix
    roles = [agency_role(c, prefix) for c in codes]
    reader = reader_role(prefix)
    analyst = analyst_role(prefix)
    with server.connect() as conn:
        if conn.execute("select 1 from pg_roles where rolname = %s", (reader,)).fetchone() is None:
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(reader)))
    for role in [*roles, analyst]:
        ensure_login_role(server, role, role_password(role))
    with server.connect() as conn:
        for role in roles:
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(reader), sql.Identifier(role)))
    with server.connect(settings.warehouse_db) as conn:
        conn.execute(sql.SQL(DDL).format(reader=sql.Identifier(reader), analyst=sql.Identifier(analyst)))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into reporting.agency_roles values (%s, %s, %s) on conflict do nothing",
                [(i + 1, c, r) for i, (c, r) in enumerate(zip(codes, roles, strict=True))],
            )
        insert_children(conn, codes, children_per_agency, start)


def insert_children(conn: psycopg.Connection, codes: list[str], per_agency: int, start: date) -> None:
    """Rows generated in SQL (fast at provincial scale), with names that need CSV quoting."""
    conn.execute(
        """
        insert into synthetic.roster
        select a.idx * 1000000 + g,
               a.idx,
               a.code,
               case when g %% 7 = 0 then 'O''Brien, Zoë ' || g else 'Child ' || a.code || '-' || g end,
               'Foster home "' || (g %% 50) || '"',
               (array['foster', 'kin', 'group', 'outside paid'])[1 + g %% 4],
               (array['Ottawa', 'Sudbury', 'Thunder Bay', 'Toronto', 'Kingston'])[1 + g %% 5],
               'K' || (g %% 10) || 'A ' || (g %% 10) || 'B' || (g %% 10),
               %(start)s::date + (g %% 300),
               300 - g %% 300,
               g %% 3 = 0,
               (50 + g %% 200)::numeric + 0.25
        from unnest(%(codes)s::text[]) with ordinality as a(code, idx),
             generate_series(1, %(n)s) as g
        on conflict do nothing
        """,
        {"codes": codes, "n": per_agency, "start": start},
    )


def definition_yaml(
    name: str, destinations_yaml: str, view: str = ROSTER_VIEW, schedule: str = "0 6 * * *", extra: str = ""
) -> str:
    """A roster definition over the synthetic view (tests write it to a temp folder)."""
    return f"""\
name: {name}
title: Synthetic placement roster
description: Test report over the synthetic reporting view.
view: {view}
columns:
  - {{column: child_id, heading: Child ID}}
  - {{column: child_name, heading: Child}}
  - {{column: agency_code, heading: Agency}}
  - {{column: provider, heading: Provider}}
  - {{column: start_date, heading: Placement start}}
  - {{column: days_in_placement, heading: Days in placement}}
  - {{column: needs_visit, heading: Visit overdue}}
  - {{column: per_diem, heading: Per diem}}
sort:
  - {{column: child_id}}
split: [per_agency]
schedule: "{schedule}"
retry: {{max_attempts: 3, backoff_minutes: 0}}
{extra}destinations:
{destinations_yaml}"""
