"""Provision Superset from git: import the bundle, then roles, users and row-level-security rules.

Everything goes through Superset's REST API as the admin, and every step is "find by name, then
create or update", so running it again changes nothing and duplicates nothing:

- the bundle (databases, datasets, charts, dashboards) through ``POST /api/v1/assets/import/``,
  which overwrites objects with the same uuid in place (same ids);
- one role per agency ("Agency manager · CODE") granting access to that agency's connection only;
  an "Analyst" role granting the pseudonymised connection (SQL Lab comes from the built-in
  ``sql_lab`` role, DML is off on the connection and impossible for the login anyway);
- demo users: ``manager_<agency>`` (Gamma + its agency role, no SQL Lab), ``analyst``, ``admin``;
- one Superset RLS rule per agency (the second layer; PostgreSQL's RLS under the agency login is
  the first).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from cww.errors import CwwError
from cww.postgres import Server
from cww.security import analyst_role, role_password
from cww.settings import Settings
from dashboards.bundle import AGENCY, ANALYST, Agency, Connection, load_templates, render
from dashboards.client import SupersetClient
from dashboards.server import SupersetServer, user_password

ANALYST_ROLE = "Analyst (pseudonymised)"
ANALYST_USER = "analyst"


class ProvisionError(CwwError):
    """Provisioning could not proceed; says what is missing and how to fix it."""


def manager_role_name(agency: Agency) -> str:
    return f"Agency manager · {agency.agency_code}"


def manager_username(agency: Agency) -> str:
    return "manager_" + re.sub(r"[^a-z0-9]+", "_", agency.agency_code.lower()).strip("_")


@dataclass
class ProvisionResult:
    agencies: list[Agency]
    databases: dict[str, int]
    datasets: dict[str, int]
    dashboards: dict[str, int]
    roles: dict[str, int]
    users: dict[str, int]
    rls_rules: dict[str, int]
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    logins: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[str]:
        return [
            f"{len(self.agencies)} agencies, {len(self.databases)} connections, "
            f"{len(self.datasets)} datasets, "
            f"{len(self.dashboards)} dashboards, {len(self.roles)} roles, {len(self.users)} users, "
            f"{len(self.rls_rules)} RLS rules ({self.seconds:.1f} s)",
            *[f"skipped: {s}" for s in self.skipped],
        ]


# --------------------------------------------------------------------------- warehouse facts
def read_agencies(server: Server, settings: Settings) -> list[Agency]:
    """Agencies and their login roles, from the warehouse's reporting.agency_roles (built by dbt)."""
    with psycopg.connect(server.conninfo(settings.warehouse_db)) as conn:
        exists = conn.execute("select to_regclass('reporting.agency_roles')").fetchone()
        if exists is None or exists[0] is None:
            raise ProvisionError(
                f"table reporting.agency_roles is missing in warehouse {settings.warehouse_db}. "
                "Fix: build the warehouse first (`cww dbt build`, or `cww demo`)."
            )
        has_names = conn.execute("select to_regclass('reporting.agencies')").fetchone()[0] is not None
        name_sql = (
            "coalesce((select a.agency_name from reporting.agencies a where a.agency_id = r.agency_id), "
            "r.agency_code)"
            if has_names
            else "r.agency_code"
        )
        rows = conn.execute(
            f"select r.agency_id, r.agency_code, {name_sql}, r.role_name "
            "from reporting.agency_roles r order by r.agency_code"
        ).fetchall()
    if not rows:
        raise ProvisionError(
            f"reporting.agency_roles in {settings.warehouse_db} is empty. Fix: load and build the warehouse."
        )
    return [Agency(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def read_view_columns(server: Server, settings: Settings) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, relation) → [(column, type)] for every relation a dataset template names."""
    wanted = {(d["schema"], d["table_name"]) for d in load_templates("datasets").values()}
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    with psycopg.connect(server.conninfo(settings.warehouse_db)) as conn:
        for schema, table in sorted(wanted):
            rows = conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table),
            ).fetchall()
            if rows:
                out[(schema, table)] = [(str(r[0]), str(r[1])) for r in rows]
    return out


def connections_for(agencies: list[Agency], settings: Settings) -> tuple[list[Connection], dict[str, str]]:
    conns: list[Connection] = []
    passwords: dict[str, str] = {}
    for a in agencies:
        c = Connection(
            key=f"agency_{a.slug.replace('-', '_')}",
            name=f"Warehouse · {a.agency_code}",
            username=a.role_name,
            scope=AGENCY,
            agency=a,
        )
        conns.append(c)
        passwords[c.key] = role_password(a.role_name)
    analyst = analyst_role(settings.role_prefix)
    c = Connection(
        key="analyst",
        name="Warehouse · pseudonymised (analysts)",
        username=analyst,
        scope=ANALYST,
        expose_in_sqllab=True,
    )
    conns.append(c)
    passwords[c.key] = role_password(analyst)
    return conns, passwords


# --------------------------------------------------------------------------- Superset objects
def _ensure_role(api: SupersetClient, name: str, existing: dict[str, int]) -> int:
    if name not in existing:
        existing[name] = int(api.post("/api/v1/security/roles/", {"name": name})["id"])
    return existing[name]


def _ensure_user(
    api: SupersetClient,
    username: str,
    first: str,
    last: str,
    password: str,
    role_ids: list[int],
    existing: dict[str, int],
) -> int:
    body: dict[str, Any] = {
        "active": True,
        "email": f"{username}@cww.invalid",
        "first_name": first,
        "last_name": last,
        "password": password,
        "roles": role_ids,
    }
    if username in existing:
        api.put(f"/api/v1/security/users/{existing[username]}", body)
    else:
        existing[username] = int(api.post("/api/v1/security/users/", dict(body, username=username))["id"])
    return existing[username]


def provision(settings: Settings, superset: SupersetServer, server: Server) -> ProvisionResult:
    """Import the bundle and provision roles, users and RLS rules (idempotent)."""
    start = time.perf_counter()
    agencies = read_agencies(server, settings)
    view_columns = read_view_columns(server, settings)
    conns, passwords = connections_for(agencies, settings)
    parts = server.parts()
    rendered = render(
        conns, passwords, view_columns, str(parts["host"]), int(parts["port"]), settings.warehouse_db
    )

    api = SupersetClient(superset.url, "admin", superset.admin_password)
    api.import_assets(rendered.zip_bytes, rendered.passwords)

    databases = {d["database_name"]: int(d["id"]) for d in api.list_all("database", ["id", "database_name"])}
    datasets = {d["uuid"]: int(d["id"]) for d in api.list_all("dataset", ["id", "uuid"])}
    dash_rows = api.list_all("dashboard", ["id", "slug"])
    dashboards = {d["slug"]: int(d["id"]) for d in dash_rows if d.get("slug")}
    perms = api.list_all("security/permissions-resources", None)
    pv_ids = {(p["permission"]["name"], p["view_menu"]["name"]): int(p["id"]) for p in perms}
    roles = {r["name"]: int(r["id"]) for r in api.list_all("security/roles", None)}
    users = {u["username"]: int(u["id"]) for u in api.list_all("security/users", ["id", "username"])}
    rules = {r["name"]: int(r["id"]) for r in api.list_all("rowlevelsecurity", ["id", "name"])}

    def database_access(conn: Connection) -> int:
        key = ("database_access", f"[{conn.name}].(id:{databases[conn.name]})")
        if key not in pv_ids:
            raise ProvisionError(
                f"Superset has no permission {key[0]} on {key[1]} after import. Fix: re-run."
            )
        return pv_ids[key]

    gamma, sql_lab = roles["Gamma"], roles["sql_lab"]
    result_roles: dict[str, int] = {}
    result_users: dict[str, int] = {}
    result_rules: dict[str, int] = {}
    logins: dict[str, str] = {"admin": superset.admin_password}
    dataset_templates = load_templates("datasets")
    for conn in conns:
        if conn.scope == AGENCY:
            assert conn.agency is not None
            role = manager_role_name(conn.agency)
            rid = _ensure_role(api, role, roles)
            api.post(
                f"/api/v1/security/roles/{rid}/permissions",
                {"permission_view_menu_ids": [database_access(conn)]},
            )
            result_roles[role] = rid
            uname = manager_username(conn.agency)
            logins[uname] = user_password(uname)
            result_users[uname] = _ensure_user(
                api, uname, "Manager", conn.agency.agency_code, logins[uname], [gamma, rid], users
            )
            # Superset's RLS: one rule per agency over all of its datasets (a second layer).
            table_ids = [datasets[u] for u in rendered.datasets_by_connection[conn.key]]
            clauses = {
                t.get("rls_clause") for t in dataset_templates.values() if t.get("scope", AGENCY) == AGENCY
            }
            clauses.discard(None)
            clause = " and ".join(
                sorted(c.replace("{agency_id}", str(conn.agency.agency_id)) for c in clauses)
            )
            rule_name = f"agency {conn.agency.agency_code}"
            body = {
                "name": rule_name,
                "description": f"Rows of agency {conn.agency.agency_code} only "
                "(PostgreSQL's RLS under the agency login is the first layer).",
                "filter_type": "Regular",
                "tables": table_ids,
                "roles": [rid],
                "group_key": "",
                "clause": clause or "1 = 0",
            }
            if rule_name in rules:
                api.put(f"/api/v1/rowlevelsecurity/{rules[rule_name]}", body)
            else:
                rules[rule_name] = int(api.post("/api/v1/rowlevelsecurity/", body)["id"])
            result_rules[rule_name] = rules[rule_name]
        elif conn.scope == ANALYST:
            rid = _ensure_role(api, ANALYST_ROLE, roles)
            api.post(
                f"/api/v1/security/roles/{rid}/permissions",
                {"permission_view_menu_ids": [database_access(conn)]},
            )
            result_roles[ANALYST_ROLE] = rid
            logins[ANALYST_USER] = user_password(ANALYST_USER)
            result_users[ANALYST_USER] = _ensure_user(
                api, ANALYST_USER, "Ministry", "Analyst", logins[ANALYST_USER], [gamma, sql_lab, rid], users
            )
    ours_db = {c.name: databases[c.name] for c in conns}
    ours_ds = {u: datasets[u] for uu in rendered.datasets_by_connection.values() for u in uu}
    ours_dash = {
        d["slug"]: dashboards[d["slug"]] for dd in rendered.dashboards_by_connection.values() for d in dd
    }
    return ProvisionResult(
        agencies=agencies,
        databases=ours_db,
        datasets=ours_ds,
        dashboards=ours_dash,
        roles=result_roles,
        users=result_users,
        rls_rules=result_rules,
        skipped=rendered.skipped,
        seconds=time.perf_counter() - start,
        logins=logins,
    )
