"""Superset dashboards against a real Superset server, real PostgreSQL and real headless Chromium.

One Superset server per module (start-up is slow): its own metadata database, a warehouse with
the same security layer dbt builds (a mart table with row-level security per agency login, a
security_invoker view in `reporting`, `reporting.agency_roles`, a pseudonymised table for the
analyst), provisioned through the REST API exactly as `cww dashboards up` does.
"""

from __future__ import annotations

import csv
import io
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from cww.postgres import Server, drop_database, drop_role
from cww.settings import Settings
from dashboards.client import SupersetClient
from dashboards.provision import ProvisionResult, manager_username, provision
from dashboards.sample_warehouse import build_sample_warehouse
from dashboards.server import SupersetServer, SupersetSettings, user_password

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AGENCIES = [(1, "CAS-OTT", "Ottawa CAS"), (2, "CAS-TOR", "Toronto CAS"), (3, "FNCFS-KEN", "Kenora FN")]
CHILDREN_PER_AGENCY = {1: 23, 2: 31, 3: 7}


def build_warehouse(server: Server, settings: Settings) -> None:
    build_sample_warehouse(server, settings, AGENCIES, CHILDREN_PER_AGENCY)


# --------------------------------------------------------------------------- the stack
@dataclass
class Stack:
    settings: Settings
    server: Server
    superset: SupersetServer
    first: ProvisionResult
    second: ProvisionResult

    def client(self, username: str) -> SupersetClient:
        password = self.superset.admin_password if username == "admin" else user_password(username)
        return SupersetClient(self.superset.url, username, password)

    def warehouse_rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.server.conninfo(self.settings.warehouse_db)) as conn:
            return conn.execute(query, params).fetchall()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def stack(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings().model_copy(
        update={
            "warehouse_db": f"cwwt_{tag}_warehouse",
            "source_db": f"cwwt_{tag}_source",
            "role_prefix": f"cwwt_{tag}",
            "home": tmp_path_factory.mktemp("superset_home"),
        }
    )
    sset = SupersetSettings(port=_free_port(), metadata_db=f"cwwt_{tag}_superset", workers=2)
    superset = SupersetServer(settings, sset)
    try:
        build_warehouse(pg_server, settings)
        superset.ensure_env()
        superset.migrate(pg_server)
        superset.start(pg_server)
        first = provision(settings, superset, pg_server)
        second = provision(settings, superset, pg_server)
        yield Stack(settings, pg_server, superset, first, second)
    finally:
        superset.stop()
        for db in (sset.metadata_db, settings.warehouse_db):
            drop_database(pg_server, db)
        with pg_server.connect() as conn:
            roles = [
                r[0]
                for r in conn.execute(
                    "select rolname from pg_roles where rolname like %s", (f"cwwt_{tag}_%",)
                )
            ]
        for role in roles:
            drop_role(pg_server, role)


def _agency(stack: Stack, code: str) -> Any:
    return next(a for a in stack.first.agencies if a.agency_code == code)


def _dataset_id(stack: Stack, client: SupersetClient) -> int:
    rows = client.list_all("dataset", ["id", "table_name"])
    ids = [r["id"] for r in rows if r["table_name"] == "children_in_care_current"]
    assert len(ids) == 1, f"{client.username} should see exactly its own dataset, saw {rows}"
    return int(ids[0])


def _query(dataset_id: int, columns: list[str], **extra: Any) -> dict[str, Any]:
    q: dict[str, Any] = {
        "columns": columns,
        "metrics": [],
        "filters": [],
        "extras": {"where": "", "having": ""},
        "row_limit": 100000,
        "orderby": [],
    }
    q.update(extra)
    return {"datasource": {"id": dataset_id, "type": "table"}, "queries": [q], "result_type": "full"}


# --------------------------------------------------------------------------- provisioning
def test_provisioning_is_idempotent(stack: Stack) -> None:
    a, b = stack.first, stack.second
    assert len(a.agencies) == len(AGENCIES)
    for name in ("databases", "datasets", "dashboards", "roles", "users", "rls_rules"):
        assert getattr(a, name) == getattr(b, name), f"{name} changed ids on the second provisioning"
    admin = stack.client("admin")
    names = [d["database_name"] for d in admin.list_all("database", ["database_name"])]
    assert sorted(names) == sorted(a.databases) and len(names) == len(AGENCIES) + 1
    datasets = admin.list_all("dataset", ["id"])
    assert len(datasets) == len(AGENCIES)
    charts = admin.list_all("chart", ["id"])
    per_agency = len(admin.get(f"/api/v1/dashboard/{next(iter(a.dashboards.values()))}/charts")["result"])
    assert per_agency >= 9 and len(charts) == per_agency * len(AGENCIES)
    rules = admin.list_all("rowlevelsecurity", ["id", "name", "clause"])
    assert sorted(r["name"] for r in rules) == sorted(a.rls_rules)
    users = [u["username"] for u in admin.list_all("security/users", ["username"])]
    assert len(users) == len(set(users)) == len(AGENCIES) + 2  # managers, analyst, admin
    assert not a.skipped, a.skipped


# --------------------------------------------------------------------------- agency separation
WIDENING_ATTEMPTS: list[dict[str, Any]] = [
    {},
    {"extras": {"where": "1 = 1) or (1 = 1", "having": ""}},  # break out of the parentheses
    {"extras": {"where": "agency_id <> 1 or true", "having": ""}},
    {"extras": {"where": "agency_id = 2", "having": ""}},
    {"filters": [{"col": "agency_id", "op": "IN", "val": [1, 2, 3]}]},
    {"filters": [{"col": "agency_code", "op": "!=", "val": "CAS-OTT"}]},
    {
        "filters": [
            {
                "col": {
                    "label": "x",
                    "sqlExpression": "agency_id in (1, 2, 3) or true",
                    "expressionType": "SQL",
                },
                "op": "==",
                "val": True,
            }
        ]
    },
]


@pytest.mark.parametrize("attempt", range(len(WIDENING_ATTEMPTS)))
def test_manager_chart_data_and_csv_never_show_another_agency(stack: Stack, attempt: int) -> None:
    ott = _agency(stack, "CAS-OTT")
    manager = stack.client(manager_username(ott))
    ds = _dataset_id(stack, manager)
    expected = {
        r[0]
        for r in stack.warehouse_rows(
            "select child_id from marts.children_in_care_current where agency_id = %s", (ott.agency_id,)
        )
    }
    body = _query(ds, ["child_id", "agency_id", "agency_code"], **WIDENING_ATTEMPTS[attempt])
    resp = manager.chart_data(body)
    if resp.status_code == 200:
        data = resp.json()["result"][0]["data"]
        assert {r["agency_id"] for r in data} <= {ott.agency_id}
        assert {r["child_id"] for r in data} <= expected
        if attempt == 0:
            assert {r["child_id"] for r in data} == expected
    else:
        assert resp.status_code in (400, 403, 422), resp.text  # refused, never widened
    csv_resp = manager.chart_data(body, result_format="csv")
    if csv_resp.status_code == 200:
        text = csv_resp.content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        # CSV headers carry the dataset's labels (verbose names) where it has them
        agency_col = "Agency" if rows and "Agency" in rows[0] else "agency_code"
        assert {r[agency_col] for r in rows} <= {"CAS-OTT"}, text[:300]
        if attempt == 0:
            assert len(rows) == len(expected)
    else:
        assert csv_resp.status_code in (400, 403, 422), csv_resp.text


def test_manager_cannot_reach_another_agencys_dataset_or_sql_lab(stack: Stack) -> None:
    ott, tor = _agency(stack, "CAS-OTT"), _agency(stack, "CAS-TOR")
    admin = stack.client("admin")
    tor_ds = next(
        r["id"]
        for r in admin.list_all("dataset", ["id", "database.database_name"])
        if r["database"]["database_name"] == f"Warehouse · {tor.agency_code}"
    )
    manager = stack.client(manager_username(ott))
    resp = manager.chart_data(_query(int(tor_ds), ["child_id"]))
    assert resp.status_code in (403, 404), resp.text
    dash = manager.raw("GET", f"/api/v1/dashboard/{stack.first.dashboards['kids-in-care-cas-tor']}")
    assert dash.status_code in (403, 404)
    sqllab = manager.raw(
        "POST",
        "/api/v1/sqllab/execute/",
        json={
            "database_id": stack.first.databases[f"Warehouse · {ott.agency_code}"],
            "sql": "select count(*) from reporting.children_in_care_current",
            "runAsync": False,
        },
    )
    assert sqllab.status_code in (401, 403), sqllab.text


def test_postgresql_separation_holds_without_supersets_rls(stack: Stack) -> None:
    """Remove Superset's RLS rule for an agency: its queries still run under the agency's own
    PostgreSQL login, so they still return that agency's rows only. Re-provisioning restores it."""
    ott = _agency(stack, "CAS-OTT")
    admin = stack.client("admin")
    rule_id = stack.first.rls_rules["agency CAS-OTT"]
    admin.request("DELETE", f"/api/v1/rowlevelsecurity/{rule_id}")
    try:
        manager = stack.client(manager_username(ott))
        data = manager.chart_data(_query(_dataset_id(stack, manager), ["agency_id"])).json()["result"][0][
            "data"
        ]
        assert data and {r["agency_id"] for r in data} == {ott.agency_id}
    finally:
        again = provision(stack.settings, stack.superset, stack.server)
    assert "agency CAS-OTT" in again.rls_rules
    assert {k: v for k, v in again.datasets.items()} == stack.first.datasets


# --------------------------------------------------------------------------- analyst
def _sqllab(client: SupersetClient, database_id: int, query: str) -> tuple[int, dict[str, Any]]:
    resp = client.raw(
        "POST",
        "/api/v1/sqllab/execute/",
        json={
            "database_id": database_id,
            "sql": query,
            "runAsync": False,
            "schema": "pseudonymised",
            "client_id": uuid.uuid4().hex[:10],
            "queryLimit": 1000,
        },
    )
    try:
        return resp.status_code, resp.json()
    except ValueError:
        return resp.status_code, {"text": resp.text}


def test_analyst_sql_lab_reads_pseudonymised_only_and_no_dml(stack: Stack) -> None:
    analyst = stack.client("analyst")
    db_id = stack.first.databases["Warehouse · pseudonymised (analysts)"]
    status, out = _sqllab(analyst, db_id, "select count(*) as n from pseudonymised.children_in_care")
    assert status == 200, out
    assert out["data"][0]["n"] == sum(CHILDREN_PER_AGENCY.values())
    for forbidden in (
        "select * from reporting.children_in_care_current",
        "select given_name from marts.children_in_care_current",
    ):
        status, out = _sqllab(analyst, db_id, forbidden)
        assert status != 200 or not out.get("data"), f"analyst read {forbidden}: {out}"
        assert "permission denied" in str(out).lower() or status in (400, 403, 422), out
    for dml in (
        "delete from pseudonymised.children_in_care",
        "update pseudonymised.children_in_care set region = 'x'",
        "create table pseudonymised.x (a int)",
    ):
        status, out = _sqllab(analyst, db_id, dml)
        assert status != 200, f"DML accepted: {dml}: {out}"
    assert stack.warehouse_rows("select count(*) from pseudonymised.children_in_care")[0][0] == sum(
        CHILDREN_PER_AGENCY.values()
    )
    agency_db = stack.first.databases["Warehouse · CAS-OTT"]
    status, out = _sqllab(analyst, agency_db, "select 1")
    # Superset hides connections a user has no access to: "database ... was not found"
    assert status != 200 and ("not found" in str(out) or status in (401, 403)), out


# --------------------------------------------------------------------------- browser
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_manager_dashboard_in_headless_chromium(stack: Stack) -> None:
    from playwright.sync_api import sync_playwright

    ott = _agency(stack, "CAS-OTT")
    username = manager_username(ott)
    base = stack.superset.url
    outside: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    expected = {
        str(r[0])
        for r in stack.warehouse_rows(
            "select child_id from marts.children_in_care_current where agency_id = %s", (ott.agency_id,)
        )
    }
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            page.on(
                "request",
                lambda r: (
                    outside.append(r.url)
                    if urlparse(r.url).hostname != "127.0.0.1" and not r.url.startswith(("data:", "blob:"))
                    else None
                ),
            )
            page.goto(f"{base}/login/")
            page.fill("#username", username)
            page.fill("#password", user_password(username))
            page.keyboard.press("Enter")
            page.wait_for_url(lambda u: "/login" not in u, timeout=30_000)
            for dash in stack.first.dashboards:
                if not dash.endswith(ott.slug):
                    continue
                started = time.perf_counter()
                page.goto(f"{base}/superset/dashboard/{dash}/")
                n_charts = len(
                    stack.client("admin").get(f"/api/v1/dashboard/{stack.first.dashboards[dash]}/charts")[
                        "result"
                    ]
                )
                page.wait_for_function(
                    """n => document.querySelectorAll('[data-test-chart-id]').length === n
                        && document.querySelectorAll('[data-test="loading-indicator"], .loading').length === 0
                        && Array.from(document.querySelectorAll('[data-test-chart-id]'))
                             .every(e => e.querySelector('svg, canvas, table, .header-line, .big-number'))""",
                    arg=n_charts,
                    timeout=60_000,
                )
                render_s = time.perf_counter() - started
                errors = page.query_selector_all('[data-test="chart-container"] .alert, .ant-alert-error')
                assert not errors, f"{dash}: a chart shows an error"
                page.screenshot(path=str(ARTIFACTS / f"{dash}.png"), full_page=True)
                if dash.startswith("kids-in-care"):
                    assert page.title() and "Where are my kids in care" in page.inner_text("body")
                    table = page.locator(
                        '[data-test-chart-name^="Children in care — placements"] table tbody tr'
                    )
                    cells = [table.nth(i).locator("td").first.inner_text() for i in range(table.count())]
                    shown = {c.strip().replace(",", "") for c in cells}
                    assert shown == expected, f"table rows differ from the warehouse: {shown ^ expected}"
                    assert render_s < 30, f"rendering took {render_s:.1f} s"
        finally:
            browser.close()
    assert outside == [], f"requests to outside hosts: {sorted(set(outside))}"
    assert (ARTIFACTS / f"kids-in-care-{ott.slug}.png").exists()
