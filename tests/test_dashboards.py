"""Superset dashboards against a real Superset server, real PostgreSQL and real headless Chromium.

One Superset server per module (start-up is slow): its own metadata database, a warehouse with
the same security layer dbt builds (a mart table with row-level security per agency login, a
security_invoker view in `reporting`, `reporting.agency_roles`, a pseudonymised table for the
analyst), provisioned through the REST API exactly as `cww dashboards up` does.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql

from cww.postgres import Server, create_database, drop_database, drop_role
from cww.security import agency_role, analyst_role, role_password
from cww.settings import Settings
from dashboards.bundle import query_context
from dashboards.client import SupersetClient
from dashboards.provision import ProvisionResult, manager_username, provision
from dashboards.server import SupersetServer, SupersetSettings

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AGENCIES = [(1, "CAS-OTT", "Ottawa CAS"), (2, "CAS-TOR", "Toronto CAS"), (3, "FNCFS-KEN", "Kenora FN")]
CHILDREN_PER_AGENCY = {1: 23, 2: 31, 3: 7}


# --------------------------------------------------------------------------- warehouse
def build_warehouse(server: Server, settings: Settings) -> None:
    """A small warehouse with the real security layer: RLS on the mart, invoker views, roles."""
    create_database(server, settings.warehouse_db)
    p = settings.role_prefix
    reader, analyst = f"{p}_agency_reader", analyst_role(p)
    ident = sql.Identifier
    with server.connect() as conn:
        conn.execute(sql.SQL("create role {} nologin").format(ident(reader)))
        conn.execute(
            sql.SQL("create role {} login password {}").format(ident(analyst), sql.Literal(role_password(analyst)))
        )
        for _id, code, _name in AGENCIES:
            role = agency_role(code, p)
            conn.execute(
                sql.SQL("create role {} login password {} in role {}").format(
                    ident(role), sql.Literal(role_password(role)), ident(reader)
                )
            )
    with server.connect(settings.warehouse_db) as conn:
        conn.execute(
            sql.SQL(
                """
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
            alter table marts.children_in_care_current enable row level security;
            create policy agency_isolation on marts.children_in_care_current for select to {reader}
              using (agency_id = any (reporting.current_agency_ids()));
            create view reporting.children_in_care_current with (security_invoker = true, security_barrier = true)
              as select * from marts.children_in_care_current;
            create table pseudonymised.children_in_care as
              select md5(child_id::text) as child_key, agency_code, placement_type, region, days_in_placement
              from marts.children_in_care_current;
            revoke all on database {db} from public;
            grant connect on database {db} to {reader}, {analyst};
            grant usage on schema reporting, marts to {reader};
            grant select on reporting.agency_roles, reporting.children_in_care_current,
              marts.children_in_care_current to {reader};
            grant execute on function reporting.current_agency_ids() to {reader};
            grant usage on schema pseudonymised to {analyst};
            grant select on pseudonymised.children_in_care to {analyst};
            """
            ).format(reader=ident(reader), analyst=ident(analyst), db=ident(settings.warehouse_db))
        )
        types = ["Foster home", "Kin home", "Group home", "Outside paid resource"]
        regions = ["East", "Central", "North", "West"]
        child = 1000
        for agency_id, code, name in AGENCIES:
            conn.execute(
                "insert into reporting.agency_roles values (%s, %s, %s)", (agency_id, code, agency_role(code, p))
            )
            conn.execute("insert into reporting.agencies values (%s, %s, %s)", (agency_id, code, name))
            for i in range(CHILDREN_PER_AGENCY[agency_id]):
                child += 1
                conn.execute(
                    """insert into marts.children_in_care_current values
                    (%s, %s, %s, date '2010-01-01' + %s, %s, %s, %s, %s, 'Extended society care', %s, %s,
                     %s, %s, %s, %s, date '2026-06-30' - %s, %s, %s, %s, %s, date '2026-06-30' - %s, %s,
                     %s, %s, %s, %s, date '2026-06-30')""",
                    (
                        child,
                        f"Given{child}",
                        f"{code.split('-')[1].title()}son",
                        (i * 97) % 3000,
                        4 + i % 14,
                        agency_id,
                        code,
                        name,
                        f"Provider {i % 5} of {code}",
                        types[i % 4],
                        f"{i} Main St",
                        f"City {agency_id}",
                        regions[(i + agency_id) % 4],
                        f"K{agency_id}A {i % 10}B{i % 7}",
                        (i * 13) % 400,
                        (i * 13) % 400,
                        f"Office {agency_id}-{i % 2}",
                        f"Worker {agency_id}-{i % 3}",
                        f"Supervisor {agency_id}",
                        (i * 7) % 60,
                        (i * 7) % 60,
                        (i * 7) % 60 > 30,
                        i % 9 == 0,
                        i % 11 == 0,
                        i % 13 == 0,
                    ),
                )
        conn.execute(
            "insert into pseudonymised.children_in_care select md5(child_id::text), agency_code, "
            "placement_type, region, days_in_placement from marts.children_in_care_current"
        )
