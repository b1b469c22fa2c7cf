"""Superset dashboards on the real chain: simulator → extract → dedupe → dbt → Superset → Chromium.

One session fixture builds everything once (it is slow): a `tiny` simulated source, extracted into
a fresh warehouse, person matching, `dbt build` (the real `reporting` views with PostgreSQL
row-level security per agency login), then one Superset server with its own metadata database,
provisioned twice through the REST API exactly as `cww dashboards up` does.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import psycopg.errors
import psycopg.sql
import pytest

from cww.errors import CwwError
from cww.postgres import Server, drop_database, drop_role
from cww.security import data_team_role, role_password
from cww.settings import Settings
from dashboards.bundle import Agency
from dashboards.client import SupersetClient
from dashboards.provision import DATATEAM_USER, ProvisionResult, manager_username, provision
from dashboards.server import SupersetServer, SupersetSettings, user_password

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AS_OF = date(2026, 6, 30)
SEED = 7
KIDS_TABLE = "Children in care — placements"
WORKERS_TABLE = "Workers' caseloads today"


# --------------------------------------------------------------------------- the stack
@dataclass
class Stack:
    settings: Settings
    server: Server
    superset: SupersetServer
    first: ProvisionResult
    second: ProvisionResult
    notes: list[str] = field(default_factory=list)

    def client(self, username: str) -> SupersetClient:
        password = self.superset.admin_password if username == "admin" else user_password(username)
        return SupersetClient(self.superset.url, username, password)

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Ground truth, read as the warehouse owner (no row-level security)."""
        with psycopg.connect(self.server.conninfo(self.settings.warehouse_db)) as conn:
            return conn.execute(query, params).fetchall()

    @property
    def agency_a(self) -> Agency:
        return self.first.agencies[0]

    @property
    def agency_b(self) -> Agency:
        return self.first.agencies[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_real_warehouse(settings: Settings) -> list[str]:
    """simulate tiny → extract → person matching → dbt build; returns notes on what was skipped."""
    from cww.transform import build
    from extract.api import run_extract
    from simulator.api import init_source

    notes: list[str] = []
    init_source(settings, "tiny", SEED, force=True, as_of=AS_OF)
    summary = run_extract(settings)
    failed = [t.table for t in summary.tables if t.status != "ok"]
    assert not failed, f"extraction failed for {failed}"
    try:
        from data_quality.dedupe.warehouse import run_matching

        run_matching(settings, full=True)
    except (CwwError, ImportError, psycopg.Error) as exc:
        # Person matching is another part's (e.g. no saved model, or mid-change): the chain goes
        # on without it and the duplicates charts must then say so instead of failing.
        notes.append(f"person matching skipped: {str(exc).splitlines()[0]}")
    run = build(settings)
    assert not run.failures, run.failures
    notes.extend(write_check_results(settings))
    return notes


FAILED_CHECK = "raw.person.birth_date: 3 rows are null (a burst of missing birth dates)"


def write_check_results(settings: Settings) -> list[str]:
    """One data-quality run with a passed and a failed expectation, written through the data-quality
    store's own functions (schema dq), so the checks charts are tested against its real tables."""
    try:
        from data_quality.expectations import store
    except ImportError as exc:
        return [f"data-quality store not importable ({exc}): checks charts stay notes"]
    from cww.postgres import resolve_server

    rows = [
        store.ResultRow(
            "raw_person", "expect_column_to_exist", "person_id", "true", 0, 100, True, True, "ok"
        ),
        store.ResultRow(
            "raw_person",
            "expect_column_values_to_not_be_null",
            "birth_date",
            "3",
            3,
            100,
            False,
            True,
            FAILED_CHECK,
        ),
    ]
    try:
        with psycopg.connect(
            resolve_server(settings).conninfo(settings.warehouse_db), autocommit=True
        ) as conn:
            store.ensure_schema(conn)
            store.start_run(conn, "test-run", datetime.now(UTC), AS_OF, ["raw_person"])
            store.finish_run(conn, "test-run", rows, {}, 0.1, "")
    except (TypeError, AttributeError, psycopg.Error) as exc:  # their API moved on
        return [f"could not write data-quality results ({exc}): checks charts stay notes"]
    return []


@pytest.fixture(scope="session")
def stack(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings().namespaced(f"cwwt_{tag}", tmp_path_factory.mktemp("dashboards_home"))
    sset = SupersetSettings(port=_free_port(), metadata_db=f"cwwt_{tag}_superset", workers=2)
    superset = SupersetServer(settings, sset)
    try:
        # Superset's migration and start-up do not need the warehouse: run them beside the chain.
        with ThreadPoolExecutor(max_workers=1) as pool:
            started = pool.submit(_start_superset, superset, pg_server)
            notes = build_real_warehouse(settings)
            started.result()
        first = provision(settings, superset, pg_server)
        second = provision(settings, superset, pg_server)
        yield Stack(settings, pg_server, superset, first, second, notes)
    finally:
        superset.stop()
        for db in (sset.metadata_db, settings.warehouse_db, settings.source_db):
            drop_database(pg_server, db)
        with pg_server.connect() as conn:
            roles = [
                r[0]
                for r in conn.execute(
                    "select rolname from pg_roles where rolname like %s", (f"cwwt_{tag}_%",)
                )
            ]
        _drop_roles(pg_server, roles)


def _start_superset(superset: SupersetServer, server: Server) -> None:
    superset.ensure_env()
    superset.migrate(server)
    superset.start(server)


def _drop_roles(server: Server, roles: list[str]) -> None:
    """Drop the session's roles. Their databases are gone, so a plain DROP ROLE normally works;
    cww.postgres.drop_role (which visits every database of the shared cluster) only as fallback."""
    for role in roles:
        try:
            with server.connect() as conn:
                conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(role)))
        except psycopg.errors.DependentObjectsStillRemain:
            drop_role(server, role)


def _datasets(client: SupersetClient) -> dict[str, int]:
    """table_name → id of every dataset the user can see."""
    return {r["table_name"]: int(r["id"]) for r in client.list_all("dataset", ["id", "table_name"])}


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


def _agency_children(stack: Stack, agency: Agency) -> set[int]:
    return {
        int(r[0])
        for r in stack.rows(
            "select child_id from marts.children_in_care_current where agency_id = %s", (agency.agency_id,)
        )
    }


# --------------------------------------------------------------------------- provisioning
def test_provisioning_is_idempotent_and_complete(stack: Stack) -> None:
    a, b = stack.first, stack.second
    n = len(a.agencies)
    assert n >= 2, "the tiny preset should give several agencies"
    for name in (
        "databases",
        "datasets",
        "dashboards",
        "roles",
        "users",
        "rls_rules",
        "charts_per_dashboard",
    ):
        assert getattr(a, name) == getattr(b, name), f"{name} changed ids on the second provisioning"
    admin = stack.client("admin")
    names = [d["database_name"] for d in admin.list_all("database", ["database_name"])]
    assert sorted(names) == sorted(a.databases) and len(names) == n + 2  # agencies, analyst, data team
    dashboards = admin.list_all("dashboard", ["id", "slug"])
    assert len(dashboards) == len(a.dashboards) == 4 * n + 1, sorted(d["slug"] for d in dashboards)
    charts = admin.list_all("chart", ["id"])
    assert len(charts) == sum(a.charts_per_dashboard.values())
    for slug, dash_id in a.dashboards.items():
        shown = admin.get(f"/api/v1/dashboard/{dash_id}/charts")["result"]
        assert len(shown) == a.charts_per_dashboard[slug], slug
    datasets = admin.list_all("dataset", ["id"])
    assert len(datasets) == len(a.datasets)
    rules = admin.list_all("rowlevelsecurity", ["id", "name"])
    assert sorted(r["name"] for r in rules) == sorted(a.rls_rules)
    users = [u["username"] for u in admin.list_all("security/users", ["username"])]
    assert len(users) == len(set(users)) == n + 3  # managers, analyst, data team, admin
    # the only thing allowed to be missing is the data-quality results the DQ step has not written
    allowed = ("dq_checks", "dq.", "data_quality.")
    assert all(any(x in s for x in allowed) for s in a.skipped), a.skipped
    if not stack.notes:  # the chain ran completely: nothing is missing
        assert not a.skipped, a.skipped


def test_every_chart_answers_for_its_manager_with_real_rows(stack: Stack) -> None:
    """Every chart of the agency's four dashboards, through the chart-data API as its manager."""
    manager = stack.client(manager_username(stack.agency_a))
    empty: list[str] = []
    for slug, dash_id in stack.first.dashboards.items():
        if not slug.endswith(stack.agency_a.slug):
            continue
        for chart in manager.get(f"/api/v1/dashboard/{dash_id}/charts")["result"]:
            detail = manager.get(f"/api/v1/chart/{chart['id']}")["result"]
            qc = json.loads(detail["query_context"])
            qc["datasource"]["id"] = int(chart["form_data"]["datasource"].split("__")[0])
            resp = manager.chart_data(qc)
            assert resp.status_code == 200, f"{slug} / {chart['slice_name']}: {resp.text[:300]}"
            if not resp.json()["result"][0]["data"]:
                empty.append(chart["slice_name"])
    # tiny data may leave a chart or two empty (e.g. no approval waiting); the core ones never are
    for must in (KIDS_TABLE, WORKERS_TABLE, "Spend by month and category", "Placement moves per 1,000"):
        assert not any(e.startswith(must) for e in empty), f"{must} is empty: {empty}"
    assert len(empty) <= 3, empty


# --------------------------------------------------------------------------- agency separation
WIDENING_ATTEMPTS: list[dict[str, Any]] = [
    {},
    {"extras": {"where": "1 = 1) or (1 = 1", "having": ""}},  # break out of the parentheses
    {"extras": {"where": "agency_id <> 1 or true", "having": ""}},
    {"extras": {"where": "agency_id = {b}", "having": ""}},
    {"filters": [{"col": "agency_id", "op": "IN", "val": "ALL"}]},
    {"filters": [{"col": "agency_code", "op": "!=", "val": "{a_code}"}]},
    {
        "filters": [
            {
                "col": {"label": "x", "sqlExpression": "agency_id > 0 or true", "expressionType": "SQL"},
                "op": "==",
                "val": True,
            }
        ]
    },
]


def _fill_attempt(attempt: dict[str, Any], stack: Stack) -> dict[str, Any]:
    text = json.dumps(attempt)
    text = text.replace("{b}", str(stack.agency_b.agency_id)).replace("{a_code}", stack.agency_a.agency_code)
    out = json.loads(text)
    for f in out.get("filters", []):
        if f["val"] == "ALL":
            f["val"] = [a.agency_id for a in stack.first.agencies]
    return out


@pytest.mark.parametrize("attempt", range(len(WIDENING_ATTEMPTS)))
def test_manager_chart_data_and_csv_never_show_another_agency(stack: Stack, attempt: int) -> None:
    a = stack.agency_a
    manager = stack.client(manager_username(a))
    ds = _datasets(manager)["children_in_care_current"]
    expected = _agency_children(stack, a)
    body = _query(
        ds, ["child_id", "agency_id", "agency_code"], **_fill_attempt(WIDENING_ATTEMPTS[attempt], stack)
    )
    resp = manager.chart_data(body)
    if resp.status_code == 200:
        data = resp.json()["result"][0]["data"]
        assert {r["agency_id"] for r in data} <= {a.agency_id}
        assert {r["child_id"] for r in data} <= expected
        if attempt == 0:
            assert {r["child_id"] for r in data} == expected and expected
    else:
        assert resp.status_code in (400, 403, 422), resp.text  # refused, never widened
    csv_resp = manager.chart_data(body, result_format="csv")
    if csv_resp.status_code == 200:
        rows = list(csv.DictReader(io.StringIO(csv_resp.content.decode("utf-8-sig"))))
        agency_col = "Agency" if rows and "Agency" in rows[0] else "agency_code"
        assert {r[agency_col] for r in rows} <= {a.agency_code}
        if attempt == 0:
            assert len(rows) == len(expected)
    else:
        assert csv_resp.status_code in (400, 403, 422), csv_resp.text


def test_every_agency_dataset_returns_only_the_agencys_rows(stack: Stack) -> None:
    """All of a manager's datasets, unfiltered: agency_id is the agency's (or null for province
    indicator rows), and the row count equals the warehouse's for that agency."""
    a = stack.agency_a
    manager = stack.client(manager_username(a))
    seen = _datasets(manager)
    assert len(seen) == 9, seen  # the agency's own copies only
    for name, ds in seen.items():
        resp = manager.chart_data(_query(ds, ["agency_id"]))
        assert resp.status_code == 200, f"{name}: {resp.text[:300]}"
        ids = {r["agency_id"] for r in resp.json()["result"][0]["data"]}
        assert ids <= {a.agency_id, None}, f"{name} showed agencies {ids}"
    counted = {
        "children_in_care_current": "select count(*) from reporting.children_in_care_current "
        "where agency_id = %s",
        "approvals_waiting": "select count(*) from reporting.approvals_waiting where agency_id = %s",
        "indicators": "select count(*) from reporting.indicators where agency_id = %s or agency_id is null",
    }
    for name, query in counted.items():
        body = _query(
            seen[name], [], metrics=[{"expressionType": "SQL", "sqlExpression": "count(*)", "label": "n"}]
        )
        got = manager.chart_data(body).json()["result"][0]["data"][0]["n"]
        assert got == stack.rows(query, (a.agency_id,))[0][0], name


def test_manager_cannot_reach_another_agency_the_data_team_or_sql_lab(stack: Stack) -> None:
    a, b = stack.agency_a, stack.agency_b
    admin = stack.client("admin")
    b_ds = next(
        r["id"]
        for r in admin.list_all("dataset", ["id", "table_name", "database.database_name"])
        if r["database"]["database_name"] == f"Warehouse · {b.agency_code}"
        and r["table_name"] == "children_in_care_current"
    )
    manager = stack.client(manager_username(a))
    resp = manager.chart_data(_query(int(b_ds), ["child_id"]))
    assert resp.status_code in (403, 404), resp.text
    for slug in (f"kids-in-care-{b.slug}", f"finance-{b.slug}", "data-quality"):
        dash = manager.raw("GET", f"/api/v1/dashboard/{stack.first.dashboards[slug]}")
        assert dash.status_code in (403, 404), slug
    sqllab = manager.raw(
        "POST",
        "/api/v1/sqllab/execute/",
        json={
            "database_id": stack.first.databases[f"Warehouse · {a.agency_code}"],
            "sql": "select count(*) from reporting.children_in_care_current",
            "runAsync": False,
        },
    )
    assert sqllab.status_code in (401, 403), sqllab.text


def test_postgresql_separation_holds_without_supersets_rls(stack: Stack) -> None:
    """Remove Superset's RLS rule for an agency: its queries still run under the agency's own
    PostgreSQL login, so they still return that agency's rows only. Re-provisioning restores it."""
    a = stack.agency_a
    admin = stack.client("admin")
    rule = f"agency {a.agency_code}"
    admin.request("DELETE", f"/api/v1/rowlevelsecurity/{stack.first.rls_rules[rule]}")
    try:
        manager = stack.client(manager_username(a))
        ds = _datasets(manager)["children_in_care_current"]
        data = manager.chart_data(_query(ds, ["agency_id", "child_id"])).json()["result"][0]["data"]
        assert {r["agency_id"] for r in data} == {a.agency_id}
        assert {r["child_id"] for r in data} == _agency_children(stack, a)
    finally:
        again = provision(stack.settings, stack.superset, stack.server)
    assert rule in again.rls_rules
    assert again.datasets == stack.first.datasets


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
    truth = stack.rows("select count(*) from marts.children_in_care_current")[0][0]
    status, out = _sqllab(analyst, db_id, "select count(*) as n from pseudonymised.children_in_care")
    assert status == 200, out
    assert out["data"][0]["n"] == truth > 0
    status, out = _sqllab(analyst, db_id, "select * from pseudonymised.children_in_care limit 5")
    assert status == 200 and not {"given_name", "surname", "birth_date", "address"} & set(out["data"][0])
    for forbidden in (
        "select * from reporting.children_in_care_current",
        "select given_name from marts.children_in_care_current",
        "select * from raw.person",
        "select * from extract_meta.watermarks",
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
    assert stack.rows("select count(*) from pseudonymised.children_in_care")[0][0] == truth
    status, out = _sqllab(
        analyst, stack.first.databases[f"Warehouse · {stack.agency_a.agency_code}"], "select 1"
    )
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
ALL_RENDERED = """n => {
  const charts = document.querySelectorAll('[data-test-chart-id]');
  return charts.length === n
    && document.querySelectorAll('[data-test="loading-indicator"], .loading').length === 0
    && Array.from(charts).every(e => e.querySelector('svg, canvas, table, .header-line, .big-number'));
}"""


def _table_first_column(page: Any, chart_name: str) -> set[str]:
    rows = page.locator(f'[data-test-chart-name^="{chart_name}"] table tbody tr')
    return {
        rows.nth(i).locator("td").first.inner_text().strip().replace(",", "") for i in range(rows.count())
    }


def _sign_in(page: Any, stack: Stack, username: str) -> str:
    """Sign in through Superset's own login form, as a manager does.

    Once, in CI with the soak running beside the suite, the form's POST came back to
    ``/login/?next=/superset/welcome/`` with the right password: the URL Superset gives both a
    refused password and a session it no longer recognises. So a bounce is retried once and
    reported (a warning, with whether the same password signs in over the API at that moment);
    a second bounce fails the test with that evidence. Returns why the first attempt bounced, or "".
    """
    password = user_password(username)
    why = ""
    for attempt in (1, 2):
        # Wait for the login page's own requests to settle: a late response re-setting the
        # session cookie must not race the form's POST.
        page.goto(f"{stack.superset.url}/login/", wait_until="networkidle")
        page.fill("#username", username)
        page.fill("#password", password)
        with page.expect_navigation(timeout=60_000):
            page.click('[data-test="login-button"]')
        if "/login" not in urlparse(page.url).path:
            return why
        try:
            stack.client(username).request("GET", "/api/v1/me/")
            api = "the API accepts the same password"
        except Exception as exc:  # evidence for the message, not control flow
            api = f"the API refuses it too: {str(exc)[:200]}"
        why = f"attempt {attempt} landed on {page.url}; {api}"
    pytest.fail(f"{username} cannot sign in through the login form: {why}")


def test_dashboards_render_in_headless_chromium_with_no_outside_request(stack: Stack) -> None:
    from playwright.sync_api import sync_playwright

    a = stack.agency_a
    base = stack.superset.url
    outside: list[str] = []
    failed: list[str] = []
    timings: dict[str, float] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    kids = {str(c) for c in _agency_children(stack, a)}
    workers = {
        str(r[0])
        for r in stack.rows(
            "select worker_name from reporting.caseload_daily where agency_id = %s "
            "and activity_date = (select as_of_date from reporting.as_of_date)",
            (a.agency_id,),
        )
    }
    plan = [
        (manager_username(a), [f"{k}-{a.slug}" for k in ("kids-in-care", "caseload", "finance", "outcomes")])
    ]
    plan.append((DATATEAM_USER, ["data-quality"]))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS, headless=True)
        try:
            for username, slugs in plan:
                # Tall enough for every dashboard: a full-page screenshot then needs no resize, which
                # would make Superset re-lay-out (and briefly blank) the grid while it is captured.
                page = browser.new_page(viewport={"width": 1600, "height": 2400})
                page.on(
                    "request",
                    lambda r: (
                        outside.append(r.url)
                        if urlparse(r.url).hostname != "127.0.0.1"
                        and not r.url.startswith(("data:", "blob:"))
                        else None
                    ),
                )
                page.on(
                    "response",
                    lambda r: (
                        failed.append(f"{r.status} {r.url}")
                        if "/chart/data" in r.url and r.status >= 400
                        else None
                    ),
                )
                bounced = _sign_in(page, stack, username)
                if bounced:
                    warnings.warn(
                        f"{username}: first sign-in bounced back ({bounced}); the second held",
                        stacklevel=1,
                    )
                for slug in slugs:
                    started = time.perf_counter()
                    page.goto(f"{base}/superset/dashboard/{slug}/")
                    page.wait_for_function(
                        ALL_RENDERED, arg=stack.first.charts_per_dashboard[slug], timeout=60_000
                    )
                    timings[slug] = time.perf_counter() - started
                    errors = page.query_selector_all('[data-test="chart-container"] .alert, .ant-alert-error')
                    assert not errors, f"{slug}: a chart shows an error: {errors[0].inner_text()[:200]}"
                    body = page.inner_text("body")
                    if slug.startswith("kids-in-care"):
                        assert "Where are my kids in care" in body
                        shown = _table_first_column(page, KIDS_TABLE)
                        assert shown == kids, f"kids table differs from the warehouse: {shown ^ kids}"
                    elif slug.startswith("caseload"):
                        shown = _table_first_column(page, WORKERS_TABLE)
                        assert shown == workers, (
                            f"workers table differs from the warehouse: {shown ^ workers}"
                        )
                    elif slug.startswith("outcomes"):
                        assert "Placement moves per 1,000 days in care" in body and "Province" in body
                    elif slug.startswith("finance"):
                        assert "Spend by month and category" in body and "Approvals waiting" in body
                    elif slug == "data-quality":
                        assert "Freshness of each source table" in body and "Duplicate rate by agency" in body
                        if any("dq_checks" in s for s in stack.first.skipped):
                            assert "not available yet" in body  # the absent results are said, not hidden
                        else:
                            assert FAILED_CHECK in body, "the failed check is not listed"
                    page.wait_for_timeout(1500)  # let ECharts finish its grow-in animation
                    page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    assert outside == [], f"requests to outside hosts: {sorted(set(outside))}"
    assert failed == [], failed
    assert set(timings) == {s for _u, slugs in plan for s in slugs}
    assert max(timings.values()) < 30, timings


def test_data_team_sees_checks_duplicates_and_freshness(stack: Stack) -> None:
    """The data-quality datasets answer for the data team with the warehouse's own numbers, and the
    data team's login reads nothing agency-facing."""
    team = stack.client(DATATEAM_USER)
    seen = _datasets(team)
    fresh = team.chart_data(_query(seen["source_freshness"], ["table_name"], row_limit=1000)).json()
    tables = {r["table_name"] for r in fresh["result"][0]["data"]}
    assert tables == {r[0] for r in stack.rows("select table_name from extract_meta.watermarks")} and tables
    matched = not any(n.startswith("person matching skipped") for n in stack.notes)
    if "duplicates_by_agency" in seen and matched:
        body = _query(seen["duplicates_by_agency"], [], metrics=["records", "duplicates"])
        got = team.chart_data(body).json()["result"][0]["data"][0]
        truth = stack.rows(
            "select count(*), count(*) filter (where master_person_id <> person_id) "
            "from data_quality.master_person"
        )[0]
        assert (got["records"], got["duplicates"]) == (truth[0], truth[1]) and truth[1] > 0
    if "latest_check_results" in seen:
        body = _query(seen["latest_check_results"], [], metrics=["passed", "failed"])
        got = team.chart_data(body).json()["result"][0]["data"][0]
        assert (got["passed"], got["failed"]) == (1, 1)
    # the monitoring login itself (not only Superset) cannot read agency data
    role = data_team_role(stack.settings.role_prefix)
    conninfo = stack.server.conninfo(stack.settings.warehouse_db, user=role, password=role_password(role))
    with psycopg.connect(conninfo) as conn:
        for relation in (
            "reporting.children_in_care_current",
            "marts.children_in_care_current",
            "raw.person",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {relation} limit 1")
            conn.rollback()
        with pytest.raises((psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
            conn.execute("delete from extract_meta.watermarks")


# --------------------------------------------------------------------------- Dagster and the demo
def _point_env_at(monkeypatch: pytest.MonkeyPatch, stack: Stack, home: Path, port: int) -> None:
    """Dagster's resource and the demo read the environment: aim them at this session's stack."""
    from cww.settings import get_settings

    monkeypatch.setenv("CWW_HOME", str(home))
    monkeypatch.setenv("CWW_ROLE_PREFIX", stack.settings.role_prefix)
    monkeypatch.setenv("CWW_WAREHOUSE_DB", stack.settings.warehouse_db)
    monkeypatch.setenv("CWW_SUPERSET_PORT", str(port))
    monkeypatch.setenv("CWW_SUPERSET_METADATA_DB", stack.superset.sset.metadata_db)
    monkeypatch.delenv("CWW_DEMO_DASHBOARDS", raising=False)
    get_settings.cache_clear()


def test_dagster_asset_reprovisions_running_superset_and_skips_when_down(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cww.settings import get_settings
    from dagster_project.assets.dashboards import KEY, superset_dashboards
    from dagster_project.resources import CwwSettingsResource

    resource = CwwSettingsResource(pg_url=stack.settings.pg_url, warehouse_db=stack.settings.warehouse_db)
    try:
        _point_env_at(monkeypatch, stack, stack.settings.home, stack.superset.sset.port)
        admin = stack.client("admin")
        rule = f"agency {stack.agency_a.agency_code}"
        rule_id = next(
            r["id"] for r in admin.list_all("rowlevelsecurity", ["id", "name"]) if r["name"] == rule
        )
        admin.request("DELETE", f"/api/v1/rowlevelsecurity/{rule_id}")
        result = dg_materialize(superset_dashboards, resource)
        assert result.success
        assert [m.asset_key for m in result.get_asset_materialization_events()] == [KEY]
        rules = {r["name"] for r in admin.list_all("rowlevelsecurity", ["name"])}
        assert rules == set(stack.first.rls_rules), "the asset did not re-provision"
        datasets = {d["uuid"]: d["id"] for d in admin.list_all("dataset", ["id", "uuid"])}
        assert datasets == stack.first.datasets  # same ids: re-provisioning changed nothing else

        _point_env_at(monkeypatch, stack, tmp_path / "nobody_home", _free_port())
        skipped = dg_materialize(superset_dashboards, resource)
        assert skipped.success and skipped.get_asset_materialization_events() == []
    finally:
        get_settings.cache_clear()


def dg_materialize(asset: Any, resource: Any) -> Any:
    import dagster as dg

    return dg.materialize([asset], resources={"cww_settings": resource}, raise_on_error=False)


def test_demo_step_offers_the_dashboards_with_working_logins(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without Superset running the demo prints the command and the logins (it starts nothing);
    every manager login it prints does log in to a provisioned server."""
    from cww.settings import get_settings
    from dashboards.demo import demo_step

    try:
        _point_env_at(monkeypatch, stack, tmp_path / "demo_home", _free_port())
        lines = demo_step(get_settings())
    finally:
        get_settings.cache_clear()
    assert any(line.strip() == ".venv/bin/cww dashboards up" for line in lines), lines
    printed = dict(line.split()[:2] for line in lines if line.startswith("  manager_"))
    assert set(printed) == {manager_username(a) for a in stack.first.agencies}
    for username, password in printed.items():
        assert SupersetClient(stack.superset.url, username, password).username == username
    assert not (tmp_path / "demo_home" / "superset" / "superset.pid").exists()  # nothing started
