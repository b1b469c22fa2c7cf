"""A stand-in reporting layer with the real security design, for tests and the benchmark.

It reproduces what dbt builds around "Where are my kids in care" — a mart table with PostgreSQL
row-level security per agency login, a ``security_invoker`` view in ``reporting``,
``reporting.agency_roles`` / ``reporting.agencies``, the agency reader group and login roles
named by ``cww.security``, and a pseudonymised table only the analyst login may read — filled with
synthetic rows generated in SQL. The dashboards can then be tested and benchmarked at any size
(e.g. 50 agencies × 240 children ≈ the provincial preset's 12,000 children in care) without
running the whole pipeline first. It never replaces the real layer in `cww dashboards up`.
"""

from __future__ import annotations

from psycopg import sql

from cww.postgres import Server, create_database
from cww.security import agency_role, analyst_role, role_password
from cww.settings import Settings

_DDL = """
create schema marts; create schema reporting; create schema pseudonymised;
create table reporting.agency_roles (agency_id smallint, agency_code text, role_name text);
create table reporting.agencies (agency_id smallint, agency_code text, agency_name text);
create function reporting.current_agency_ids() returns smallint[] language sql stable as
  $$ select coalesce(array_agg(agency_id), '{{}}') from reporting.agency_roles
     where role_name = current_user $$;
create table marts.children_in_care_current (
    child_id bigint primary key, given_name text, surname text, birth_date date, age_years int,
    agency_id smallint not null, agency_code text, agency_name text, legal_status text,
    provider_name text, placement_type text, address text, city text, region text,
    postal_code text, placement_start_date date, days_in_placement int, office_name text,
    worker_name text, supervisor_name text, last_contact_date date,
    days_since_last_contact int, flag_no_contact_30_days boolean,
    flag_no_placement_address boolean, flag_over_capacity boolean,
    flag_approaching_transition boolean, as_of_date date);
create index on marts.children_in_care_current (agency_id);
alter table marts.children_in_care_current enable row level security;
create policy agency_isolation on marts.children_in_care_current for select to {reader}
  using (agency_id = any (reporting.current_agency_ids()));
create view reporting.children_in_care_current
  with (security_invoker = true, security_barrier = true)
  as select * from marts.children_in_care_current;
create table pseudonymised.children_in_care
  (child_key text, agency_code text, placement_type text, region text, days_in_placement int);
revoke all on database {db} from public;
grant connect on database {db} to {reader}, {analyst};
grant usage on schema reporting, marts to {reader};
grant select on reporting.agency_roles, reporting.children_in_care_current,
  marts.children_in_care_current to {reader};
grant execute on function reporting.current_agency_ids() to {reader};
grant usage on schema pseudonymised to {analyst};
grant select on pseudonymised.children_in_care to {analyst};
"""

# One agency's children, generated set-based: %(agency_id)s, %(code)s, %(name)s, %(n)s, %(first)s.
_CHILDREN = """
insert into marts.children_in_care_current
select %(first)s + i, 'Given' || (%(first)s + i), initcap(split_part(%(code)s, '-', 2)) || 'son',
       date '2010-01-01' + (i * 97) %% 3000, 4 + i %% 14, %(agency_id)s, %(code)s, %(name)s,
       'Extended society care', 'Provider ' || i %% 5 || ' of ' || %(code)s,
       (array['Foster home', 'Kin home', 'Group home', 'Outside paid resource'])[1 + i %% 4],
       i || ' Main St', 'City ' || %(agency_id)s,
       (array['East', 'Central', 'North', 'West'])[1 + (i + %(agency_id)s) %% 4],
       'K' || %(agency_id)s %% 10 || 'A ' || i %% 10 || 'B' || i %% 7,
       date '2026-06-30' - (i * 13) %% 400, (i * 13) %% 400,
       'Office ' || %(agency_id)s || '-' || i %% 2, 'Worker ' || %(agency_id)s || '-' || i %% 3,
       'Supervisor ' || %(agency_id)s, date '2026-06-30' - (i * 7) %% 60, (i * 7) %% 60,
       (i * 7) %% 60 > 30, i %% 9 = 0, i %% 11 = 0, i %% 13 = 0, date '2026-06-30'
from generate_series(0, %(n)s - 1) as i
"""


def build_sample_warehouse(
    server: Server,
    settings: Settings,
    agencies: list[tuple[int, str, str]],
    children: dict[int, int],
) -> None:
    """Create ``settings.warehouse_db`` with the security layer and ``children[agency_id]`` rows each.

    Creates the cluster-wide roles under ``settings.role_prefix`` (the caller drops them).
    """
    create_database(server, settings.warehouse_db)
    p = settings.role_prefix
    reader, analyst = f"{p}_agency_reader", analyst_role(p)
    ident = sql.Identifier
    with server.connect() as conn:
        conn.execute(sql.SQL("create role {} nologin").format(ident(reader)))
        conn.execute(
            sql.SQL("create role {} login password {}").format(
                ident(analyst), sql.Literal(role_password(analyst))
            )
        )
        for _id, code, _name in agencies:
            role = agency_role(code, p)
            conn.execute(
                sql.SQL("create role {} login password {} in role {}").format(
                    ident(role), sql.Literal(role_password(role)), ident(reader)
                )
            )
    with server.connect(settings.warehouse_db) as conn:
        conn.execute(
            sql.SQL(_DDL).format(
                reader=ident(reader), analyst=ident(analyst), db=ident(settings.warehouse_db)
            )
        )
        first = 1000
        for agency_id, code, name in agencies:
            role = agency_role(code, p)
            conn.execute("insert into reporting.agency_roles values (%s, %s, %s)", (agency_id, code, role))
            conn.execute("insert into reporting.agencies values (%s, %s, %s)", (agency_id, code, name))
            n = children[agency_id]
            conn.execute(
                _CHILDREN, {"agency_id": agency_id, "code": code, "name": name, "n": n, "first": first}
            )
            first += n
        conn.execute(
            "insert into pseudonymised.children_in_care select md5(child_id::text), agency_code, "
            "placement_type, region, days_in_placement from marts.children_in_care_current"
        )
        conn.execute("analyze marts.children_in_care_current")
