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

import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.errors
import psycopg.sql

from cww.errors import CwwError
from cww.postgres import Server
from cww.security import analyst_role, data_team_role, role_password
from cww.settings import Settings
from dashboards.bundle import (
    AGENCY,
    ANALYST,
    DATATEAM,
    DEFAULT_RLS_CLAUSE,
    Agency,
    Connection,
    DatasetShape,
    dataset_sql,
    load_templates,
    render,
)
from dashboards.client import SupersetClient
from dashboards.server import SupersetServer, SupersetSettings, user_password

ANALYST_ROLE = "Analyst (pseudonymised)"
ANALYST_USER = "analyst"
DATATEAM_ROLE = "Data team"
DATATEAM_USER = "datateam"


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
    charts_per_dashboard: dict[str, int] = field(default_factory=dict)

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


def read_dataset_shapes(
    server: Server, settings: Settings, parameters: dict[str, Any]
) -> dict[str, DatasetShape]:
    """Each dataset template's columns as the warehouse has them, or why it is absent.

    A table/view template is looked up in the catalogue; a virtual (SQL) template is prepared with
    ``limit 0`` (as the warehouse owner: only its shape is read), so a relation it needs that does
    not exist yet (e.g. the data-quality results) makes it absent with PostgreSQL's own reason.
    """
    out: dict[str, DatasetShape] = {}
    with psycopg.connect(server.conninfo(settings.warehouse_db), autocommit=True) as conn:
        for key, spec in load_templates("datasets").items():
            query = dataset_sql(spec, parameters)
            if query is None:
                rows = conn.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = %s and table_name = %s order by ordinal_position",
                    (spec["schema"], spec["table_name"]),
                ).fetchall()
                out[key] = (
                    DatasetShape([(str(r[0]), str(r[1])) for r in rows])
                    if rows
                    else DatasetShape(absent=f"view {spec['schema']}.{spec['table_name']} is absent")
                )
                continue
            try:
                cur = conn.execute(
                    psycopg.sql.SQL("select * from ({}) as q limit 0").format(psycopg.sql.SQL(query))
                )
            except (
                psycopg.errors.UndefinedTable,
                psycopg.errors.UndefinedColumn,
                psycopg.errors.InvalidSchemaName,
            ) as exc:  # not built yet, or built by another version: absent, said on the dashboard
                out[key] = DatasetShape(absent=str(exc).splitlines()[0])
                continue
            except psycopg.Error as exc:
                raise ProvisionError(
                    f"dataset template {key} (dashboards/bundle/datasets) does not run on "
                    f"{settings.warehouse_db}: {str(exc).splitlines()[0]}. Fix: correct its sql."
                ) from exc
            desc = cur.description or []
            oids = sorted({d.type_code for d in desc})
            names = dict(
                conn.execute(
                    "select oid, format_type(oid, null) from pg_type where oid = any(%s)", (oids,)
                ).fetchall()
            )
            out[key] = DatasetShape([(d.name, str(names.get(d.type_code, "text"))) for d in desc])
    return out


def datateam_role(settings: Settings) -> str:
    """The data team's read-only monitoring login (data-quality dashboard): the same role person
    search treats as the data team (cww.security.data_team_role), not a second name for it."""
    return data_team_role(settings.role_prefix)


DATATEAM_SCHEMAS = ("extract_meta", "data_quality", "dq")
DATATEAM_TABLES = (("raw", "agency"),)


def ensure_datateam_login(server: Server, settings: Settings) -> str:
    """Create (or refresh) the data team's login: read-only, SELECT on the monitoring schemas only.

    Granted: the extraction metadata, the duplicate-detection outputs and the data-quality results
    (whichever exist now; provisioning runs again after each build) and the agency list — never
    raw person rows, marts or reporting views. Idempotent; returns the role name.
    """
    role = datateam_role(settings)
    ident = psycopg.sql.Identifier
    with server.connect() as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateObject):  # created concurrently
                conn.execute(psycopg.sql.SQL("create role {} login").format(ident(role)))
        conn.execute(
            psycopg.sql.SQL(
                "alter role {} login nosuperuser nocreatedb nocreaterole connection limit 10 password {}"
            ).format(ident(role), psycopg.sql.Literal(role_password(role)))
        )
        conn.execute(
            psycopg.sql.SQL("alter role {} set default_transaction_read_only = on").format(ident(role))
        )
        conn.execute(psycopg.sql.SQL("alter role {} set statement_timeout = '120s'").format(ident(role)))
        conn.execute(
            psycopg.sql.SQL("grant connect on database {} to {}").format(
                ident(settings.warehouse_db), ident(role)
            )
        )
    with psycopg.connect(server.conninfo(settings.warehouse_db), autocommit=True) as conn:
        present = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        for schema in DATATEAM_SCHEMAS:
            if schema not in present:
                continue
            conn.execute(psycopg.sql.SQL("grant usage on schema {} to {}").format(ident(schema), ident(role)))
            conn.execute(
                psycopg.sql.SQL("grant select on all tables in schema {} to {}").format(
                    ident(schema), ident(role)
                )
            )
        for schema, table in DATATEAM_TABLES:
            if conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0] is None:
                continue
            conn.execute(psycopg.sql.SQL("grant usage on schema {} to {}").format(ident(schema), ident(role)))
            conn.execute(
                psycopg.sql.SQL("grant select on {} to {}").format(ident(schema, table), ident(role))
            )
    return role


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
    team = datateam_role(settings)
    c = Connection(key="datateam", name="Warehouse · data team (monitoring)", username=team, scope=DATATEAM)
    conns.append(c)
    passwords[c.key] = role_password(team)
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


def bundle_parameters(sset: SupersetSettings) -> dict[str, Any]:
    """Values for the ``{name}`` placeholders of the templates that are configuration, not data."""
    return {"caseload_standard": sset.caseload_standard}


def provision(settings: Settings, superset: SupersetServer, server: Server) -> ProvisionResult:
    """Import the bundle and provision roles, users and RLS rules (idempotent)."""
    start = time.perf_counter()
    agencies = read_agencies(server, settings)
    ensure_datateam_login(server, settings)
    parameters = bundle_parameters(superset.sset)
    shapes = read_dataset_shapes(server, settings, parameters)
    conns, passwords = connections_for(agencies, settings)
    parts = server.parts()
    rendered = render(
        conns,
        passwords,
        shapes,
        str(parts["host"]),
        int(parts["port"]),
        settings.warehouse_db,
        parameters,
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

    def grant_connection(role: str, conn: Connection) -> int:
        rid = _ensure_role(api, role, roles)
        api.post(
            f"/api/v1/security/roles/{rid}/permissions",
            {"permission_view_menu_ids": [database_access(conn)]},
        )
        return rid

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
            rid = grant_connection(role, conn)
            result_roles[role] = rid
            uname = manager_username(conn.agency)
            logins[uname] = user_password(uname)
            result_users[uname] = _ensure_user(
                api, uname, "Manager", conn.agency.agency_code, logins[uname], [gamma, rid], users
            )
            # Superset's RLS (a second layer): one rule per distinct clause over the agency's
            # datasets — most read "agency_id = N"; the indicators also keep the province rows.
            by_clause: dict[str, list[int]] = {}
            for ds_uuid, key in rendered.datasets_by_connection[conn.key].items():
                clause = dataset_templates[key].get("rls_clause", DEFAULT_RLS_CLAUSE)
                clause = clause.replace("{agency_id}", str(conn.agency.agency_id))
                by_clause.setdefault(clause, []).append(datasets[ds_uuid])
            default = DEFAULT_RLS_CLAUSE.replace("{agency_id}", str(conn.agency.agency_id))
            for clause, table_ids in sorted(by_clause.items(), key=lambda kv: (kv[0] != default, kv[0])):
                rule_name = f"agency {conn.agency.agency_code}"
                if clause != default:
                    rule_name += f" · {clause}"
                body = {
                    "name": rule_name,
                    "description": f"Rows of agency {conn.agency.agency_code} only "
                    "(PostgreSQL's RLS under the agency login is the first layer).",
                    "filter_type": "Regular",
                    "tables": sorted(table_ids),
                    "roles": [rid],
                    "group_key": "",
                    "clause": clause,
                }
                if rule_name in rules:
                    api.put(f"/api/v1/rowlevelsecurity/{rules[rule_name]}", body)
                else:
                    rules[rule_name] = int(api.post("/api/v1/rowlevelsecurity/", body)["id"])
                result_rules[rule_name] = rules[rule_name]
        elif conn.scope == ANALYST:
            rid = grant_connection(ANALYST_ROLE, conn)
            result_roles[ANALYST_ROLE] = rid
            logins[ANALYST_USER] = user_password(ANALYST_USER)
            result_users[ANALYST_USER] = _ensure_user(
                api, ANALYST_USER, "Ministry", "Analyst", logins[ANALYST_USER], [gamma, sql_lab, rid], users
            )
        elif conn.scope == DATATEAM:
            rid = grant_connection(DATATEAM_ROLE, conn)
            result_roles[DATATEAM_ROLE] = rid
            logins[DATATEAM_USER] = user_password(DATATEAM_USER)
            result_users[DATATEAM_USER] = _ensure_user(
                api, DATATEAM_USER, "Data", "Team", logins[DATATEAM_USER], [gamma, rid], users
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
        charts_per_dashboard={
            d["slug"]: d["charts"] for dd in rendered.dashboards_by_connection.values() for d in dd
        },
    )
