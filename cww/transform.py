"""`cww dbt …` and the Python API that runs the dbt project (dbt/) against a Settings.

dbt runs in-process through ``dbt.cli.main.dbtRunner``: the CLI costs 4–5 s of start-up per call on
this machine, which tests, the demo and Dagster would otherwise pay on every invocation. The
connection is never written to a file: ``dbt/profiles.yml`` reads environment variables that
:func:`dbt_env` derives from the settings and :meth:`cww.postgres.Server.parts`.

Secrets stay out of dbt: login passwords of the agency and analyst roles (cww.security) and the
pseudonymisation key are written here with psycopg, so they never appear in dbt's compiled SQL,
logs or artefacts.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from psycopg import sql

from cww.console import console
from cww.errors import CwwError
from cww.settings import PROJECT_ROOT, Settings, get_settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
# Where `dbt parse` leaves the manifest Dagster loads (DbtProject's default target path).
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
PSEUDONYM_SECRET_ENV = "CWW_PSEUDONYM_SECRET"

app = typer.Typer(help="Build the warehouse with dbt.", no_args_is_help=True)

# dbtRunner keeps process-wide state (flags, adapters): one invocation at a time per process.
_DBT_LOCK = threading.Lock()


class DbtError(CwwError):
    """dbt failed; the message names the failing models/tests and where the logs are."""


@dataclass
class DbtRun:
    """What one dbt invocation did: counts by status, the failures, and how long it took."""

    command: str
    seconds: float
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        return f"dbt {self.command}: {counts or 'nothing to do'} in {self.seconds:.1f} s"


def target_path(settings: Settings) -> Path:
    """Per-settings target folder, so concurrent builds of different warehouses never share one."""
    return settings.home / "dbt" / "target"


def dbt_env(settings: Settings, server: Any = None) -> dict[str, str]:
    """Environment variables dbt/profiles.yml reads, for this settings' warehouse."""
    from cww.postgres import resolve_server

    server = server or resolve_server(settings)
    parts = server.parts()
    return {
        "CWW_DBT_HOST": str(parts["host"]),
        "CWW_DBT_PORT": str(parts["port"]),
        "CWW_DBT_USER": str(parts["user"]),
        "DBT_ENV_SECRET_CWW_PASSWORD": str(parts["password"]),
        "CWW_DBT_DBNAME": settings.warehouse_db,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PRINTER_WIDTH": "100",
    }


def dbt_vars(settings: Settings, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Project vars derived from settings (role prefix) plus the caller's (e.g. as_of_date)."""
    out: dict[str, Any] = {"role_prefix": settings.role_prefix}
    out.update(extra or {})
    return out


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (dbt reads its profile from them), then restore."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _node_name(res: Any) -> str:
    node = getattr(res, "node", None)
    return getattr(node, "unique_id", None) or getattr(node, "name", None) or "?"


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    vars: dict[str, Any] | None = None,
    server: Any = None,
    quiet: bool = True,
    target: Path | None = None,
) -> DbtRun:
    """Run one dbt command in-process against the settings' warehouse; raise DbtError on failure."""
    import json

    from dbt.cli.main import dbtRunner

    tpath = target or target_path(settings)
    tpath.mkdir(parents=True, exist_ok=True)
    full = [
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(tpath),
        "--log-path",
        str(tpath.parent / "logs"),
        "--vars",
        json.dumps(dbt_vars(settings, vars)),
    ]
    if quiet:
        full.append("--quiet")
    start = time.perf_counter()
    with _DBT_LOCK, environment(dbt_env(settings, server)):
        result = dbtRunner().invoke(full)
    run = DbtRun(command=" ".join(args), seconds=time.perf_counter() - start)
    results = getattr(result.result, "results", None) or []
    for res in results:
        status = str(getattr(res.status, "value", res.status))
        run.statuses[status] += 1
        run.timings[_node_name(res)] = float(getattr(res, "execution_time", 0.0) or 0.0)
        if status in {"error", "fail", "runtime error"}:
            msg = (getattr(res, "message", None) or "").strip().splitlines()
            run.failures.append(f"{_node_name(res)}: {msg[0] if msg else status}")
    if not result.success:
        detail = "; ".join(run.failures[:5]) or (str(result.exception) if result.exception else "see log")
        raise DbtError(
            f"dbt {' '.join(args)} failed on warehouse {settings.warehouse_db}: {detail}. "
            f"Fix: read {tpath.parent / 'logs' / 'dbt.log'} (compiled SQL under {tpath})."
        )
    return run


def parse(settings: Settings | None = None) -> Path:
    """`dbt parse` into dbt/target, leaving the manifest.json Dagster's @dbt_assets loads."""
    settings = settings or get_settings()
    run_dbt(settings, ["parse"], target=MANIFEST_PATH.parent, server=_NoServer())
    if not MANIFEST_PATH.exists():
        raise DbtError(
            f"dbt parse left no manifest at {MANIFEST_PATH}. Fix: run `cww dbt parse` and read its log."
        )
    return MANIFEST_PATH


class _NoServer:
    """`dbt parse` never connects: placeholder connection parts, so parsing needs no server."""

    def parts(self) -> dict[str, str | int]:
        return {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": ""}


def prepare_warehouse(settings: Settings, server: Any = None) -> None:
    """Create the warehouse database if missing and install the pseudonymisation key.

    The key comes from CWW_PSEUDONYM_SECRET when set (stable across rebuilds of the warehouse);
    otherwise dbt's on-run-start keeps a random key that, once created, never changes.
    """
    from cww.postgres import create_database, database_exists, resolve_server

    server = server or resolve_server(settings)
    if not database_exists(server, settings.warehouse_db):
        create_database(server, settings.warehouse_db)
    secret = os.environ.get(PSEUDONYM_SECRET_ENV)
    if not secret:
        return
    with server.connect(settings.warehouse_db) as conn:
        conn.execute("create schema if not exists private")
        conn.execute("revoke all on schema private from public")
        conn.execute(
            "create table if not exists private.pseudonym_key ("
            " id boolean primary key default true check (id),"
            " key text not null, set_at timestamptz not null default now())"
        )
        conn.execute(
            "insert into private.pseudonym_key (key) values (%s) on conflict (id) do update"
            " set key = excluded.key, set_at = now() where private.pseudonym_key.key <> excluded.key",
            (secret,),
        )


def set_role_passwords(settings: Settings, server: Any = None) -> list[str]:
    """Give every agency login (reporting.agency_roles) and the analyst its derived password.

    dbt creates the roles (macro sync_reporting_roles); passwords are set here so the secret
    (CWW_ROLE_SECRET, cww.security) never passes through dbt. Returns the roles touched.
    """
    from cww.postgres import resolve_server
    from cww.security import analyst_role, role_password

    server = server or resolve_server(settings)
    with server.connect(settings.warehouse_db) as conn:
        # A subset build (Dagster selection, `--select`) may not have built the mapping yet.
        built = conn.execute("select to_regclass('reporting.agency_roles') is not null").fetchone()[0]
        roles = (
            [r[0] for r in conn.execute("select role_name from reporting.agency_roles order by 1")]
            if built
            else []
        )
        roles.append(analyst_role(settings.role_prefix))
        for role in roles:
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(role), sql.Literal(role_password(role))
                )
            )
    return roles


# The nightly build leaves unit tests to CI (dbt's advice: they test logic, not data, and need
# not run in production). A flag of its own, not --exclude, so it never mixes with the selection
# Dagster or the caller passes.
NIGHTLY_ARGS = ("--exclude-resource-type", "unit_test")
# Where the nightly build records the newest extract batch whose rows its data tests have checked
# (the table dbt's on-run-start creates; incremental models keep their own marks there too).
TESTED_MARK = "_nightly_data_tests"


@dataclass
class NightlyOptions:
    """What makes a dbt build the cheap nightly one: vars scoping the data tests to the rows landed
    since the last nightly build (dbt/macros/test_scope.sql), extra dbt arguments, and the batch
    to record once the build succeeded."""

    vars: dict[str, Any]
    args: tuple[str, ...]
    upto_batch: int | None


def nightly_options(settings: Settings, server: Any = None) -> NightlyOptions:
    """Options for the nightly build of the settings' warehouse (read before the build starts)."""
    from cww.postgres import resolve_server

    server = server or resolve_server(settings)
    after, updated_after, upto = 0, None, None
    with server.connect(settings.warehouse_db) as conn:
        if conn.execute("select to_regclass('private.incremental_marks') is not null").fetchone()[0]:
            row = conn.execute(
                "select batch_id, (as_of_date - 7)::text from private.incremental_marks where model = %s",
                (TESTED_MARK,),
            ).fetchone()
            after, updated_after = (int(row[0]), row[1]) if row else (0, None)
        if conn.execute("select to_regclass('extract_meta.batches') is not null").fetchone()[0]:
            # Batches still running land rows after the build started: test them next night.
            upto = conn.execute(
                "select coalesce(min(batch_id) filter (where status = 'running') - 1, max(batch_id), 0)"
                " from extract_meta.batches"
            ).fetchone()[0]
    return NightlyOptions(
        vars={"test_rows_after_batch": after, "test_rows_updated_after": updated_after},
        args=NIGHTLY_ARGS,
        upto_batch=upto,
    )


def record_tested_batch(settings: Settings, options: NightlyOptions, server: Any = None) -> None:
    """After a successful nightly build: the next one tests only rows landed after this batch."""
    from cww.postgres import resolve_server

    if options.upto_batch is None:
        return
    server = server or resolve_server(settings)
    with server.connect(settings.warehouse_db) as conn:
        conn.execute(
            "insert into private.incremental_marks (model, batch_id, as_of_date)"
            " select %s, %s, as_of_date from intermediate.int_as_of_date"
            " on conflict (model) do update set batch_id = excluded.batch_id,"
            " as_of_date = excluded.as_of_date, recorded_at = now()",
            (TESTED_MARK, options.upto_batch),
        )


# A build split into several runs of dbt (Dagster's steps: the person matcher sits between dbt
# models) records the mark only after its last part; each part's scope travels with what it built.
TEST_SCOPE_KEY = "cww/nightly_test_scope"


def nightly_test_scope(
    options: NightlyOptions, excluded: Sequence[str], reads_landed_rows: bool = True
) -> dict[str, Any]:
    """What one part of a nightly build scoped its data tests to, and what it left out (--exclude).

    reads_landed_rows: False for a part that builds only seeds (CSV files, no landed row; Dagster
    runs them before the night's extract, so their ``upto_batch`` is the previous night's).
    """
    return {
        "test_rows_after_batch": options.vars["test_rows_after_batch"],
        "test_rows_updated_after": options.vars["test_rows_updated_after"],
        "upto_batch": options.upto_batch,
        "reads_landed_rows": reads_landed_rows,
        "excluded": sorted(excluded),
    }


def batch_tested_by_build(
    nodes: Collection[Hashable], scopes: Mapping[Hashable, Mapping[str, Any] | None]
) -> int | None:
    """The batch a nightly build split into parts may record (:func:`record_tested_batch`), or None.

    ``nodes``: every node of the dbt project; ``scopes``: node → :func:`nightly_test_scope` of the part
    that built it in this build (None: built without one). Only a build in which every node was
    built, no part excluded anything and every part read the same mark tested every new row. It
    records the smallest ``upto_batch`` of the parts that read landed rows: those batches had
    landed before any such part started, so their rows were in every part's tests (a later part
    may have seen a newer batch, whose rows an earlier part did not test).
    """
    found = [scopes.get(node) for node in nodes]
    if not found or any(s is None or s["excluded"] for s in found):
        return None
    if len({(s["test_rows_after_batch"], s["test_rows_updated_after"]) for s in found if s}) != 1:
        return None
    uptos = [s["upto_batch"] for s in found if s and s["reads_landed_rows"]]
    if not uptos or None in uptos:
        return None
    return min(int(u) for u in uptos)


def build(
    settings: Settings | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    as_of_date: str | None = None,
    exclude: str | None = None,
    quiet: bool = True,
    nightly: bool = False,
) -> DbtRun:
    """`dbt build` (seeds, snapshots, models, tests) into the settings' warehouse, then passwords.

    nightly: the production nightly run — no unit tests, data tests on what changed since the
    last nightly build (:func:`nightly_options`); incremental models are incremental either way.
    """
    from cww.postgres import resolve_server

    settings = settings or get_settings()
    server = resolve_server(settings)
    prepare_warehouse(settings, server)
    nightly = nightly and not full_refresh
    options = nightly_options(settings, server)
    args = ["build", *(options.args if nightly else ())]
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
    if full_refresh:
        args.append("--full-refresh")
    extra: dict[str, Any] = {"as_of_date": as_of_date} if as_of_date else {}
    if nightly:
        extra.update(options.vars)
    run = run_dbt(settings, args, vars=extra or None, server=server, quiet=quiet)
    if not select and not exclude:
        # Every data test ran (on the new rows, or on all of them): the next nightly build
        # need only test rows landed after this batch.
        record_tested_batch(settings, options, server)
    set_role_passwords(settings, server)
    return run


def docs_generate(settings: Settings | None = None) -> Path:
    """`dbt docs generate` (catalog from the built warehouse); returns the target folder."""
    settings = settings or get_settings()
    run_dbt(settings, ["docs", "generate"])
    return target_path(settings)


def children_in_care_by_agency(settings: Settings, server: Any = None) -> list[tuple[str, int, str, str]]:
    """(agency, children in care, by placement type, by region) from the built marts."""
    from cww.postgres import resolve_server

    server = server or resolve_server(settings)
    query = """
        with c as (select agency_code, coalesce(placement_type, 'unknown') as placement_type,
                          coalesce(region, 'no address') as region
                   from marts.children_in_care_current),
             t as (select agency_code, placement_type, count(*) n from c group by 1, 2),
             r as (select agency_code, region, count(*) n from c group by 1, 2)
        select a.agency_code,
               (select count(*) from c where c.agency_code = a.agency_code),
               coalesce((select string_agg(placement_type || ' ' || n, ', ' order by n desc, placement_type)
                         from t where t.agency_code = a.agency_code), ''),
               coalesce((select string_agg(region || ' ' || n, ', ' order by n desc, region)
                         from r where r.agency_code = a.agency_code), '')
        from marts.dim_agency a order by a.agency_code
    """
    with server.connect(settings.warehouse_db) as conn:
        return [(r[0], int(r[1]), r[2], r[3]) for r in conn.execute(query)]


def demo_step(settings: Settings) -> list[str]:
    """The `cww demo` step: build the marts, then print per agency who is in care and where."""
    run = build(settings)
    parse(settings)  # the manifest Dagster's definitions load (dbt/target/manifest.json)
    lines = [run.summary()]
    for agency, n, types, regions in children_in_care_by_agency(settings):
        lines.append(f"{agency}: {n} children in care — by type: {types or '-'}; by region: {regions or '-'}")
    for line in lines:
        console.print(f"  {line}")
    return lines


# --------------------------------------------------------------------------- CLI


@app.command("build")
def build_cmd(
    select: str = typer.Option(None, "--select", "-s", help="dbt selector, e.g. 'marts.placement+'"),
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Rebuild incremental models from scratch"
    ),
    as_of_date: str = typer.Option(None, "--as-of", help="Override the as-of date (YYYY-MM-DD)"),
    nightly: bool = typer.Option(
        False, "--nightly", help="The production nightly run: no unit tests, data tests on new rows only"
    ),
) -> None:
    """Build seeds, snapshots, models and tests into the warehouse."""
    run = build(
        get_settings(),
        select=select,
        full_refresh=full_refresh,
        as_of_date=as_of_date,
        quiet=False,
        nightly=nightly,
    )
    console.print(run.summary())


@app.command("parse")
def parse_cmd() -> None:
    """Write dbt/target/manifest.json (Dagster's @dbt_assets needs it before definitions load)."""
    console.print(f"manifest: {parse(get_settings())}")


@app.command("docs")
def docs_cmd() -> None:
    """Generate dbt docs (lineage, column descriptions) for the built warehouse."""
    path = docs_generate(get_settings())
    console.print(f"docs: {path / 'index.html'} (serve with `dbt docs serve --target-path {path}`)")


@app.command("summary")
def summary_cmd() -> None:
    """Per agency: children in care now, by placement type and region."""
    for agency, n, types, regions in children_in_care_by_agency(get_settings()):
        console.print(f"{agency}: {n} — {types} — {regions}")
