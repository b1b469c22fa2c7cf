"""Render the dashboards kept in git (dashboards/bundle/*.yaml) into a Superset import bundle.

Why one copy per agency. Each agency manager must query through a database login that PostgreSQL
itself limits to that agency (row-level security on the mart tables under the ``reporting`` views).
A Superset dataset belongs to exactly one database connection, so the bundle holds one connection
per agency (logged in as ``cww.security.agency_role``), and that agency's own datasets, charts and
dashboards on it. A manager's Superset role grants access to that one connection only: even with
Superset's own row-level security removed, every query a manager can run goes to PostgreSQL under
the agency's login and can only return the agency's rows.

The YAML in git is written once (templates with stable uuids); uuids of the per-agency copies are
derived (uuid5 of the template uuid and the agency code), so re-importing overwrites the same
objects and keeps their ids. Dataset columns are read from the live warehouse, so the bundle always
matches what dbt built; a template whose view does not exist yet (e.g. the data-quality schema) is
left out and reported, instead of failing the import.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUNDLE_DIR = Path(__file__).resolve().parent / "bundle"
ROOT = "cww_bundle"
NAMESPACE = uuid.UUID("6f1d2c0e-4c55-4b5e-9a57-0c2d1b8e7a10")

# Scopes: which connection a template's objects are bound to.
AGENCY = "agency"  # one copy per agency, on that agency's login
ANALYST = "analyst"  # the pseudonymised views, on the analyst login (SQL Lab)


@dataclass(frozen=True)
class Agency:
    agency_id: int
    agency_code: str
    agency_name: str
    role_name: str

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.agency_code.lower()).strip("-")


@dataclass(frozen=True)
class Connection:
    """A Superset database connection to render: who it logs in as."""

    key: str
    name: str
    username: str
    scope: str
    agency: Agency | None = None
    expose_in_sqllab: bool = False

    @property
    def uuid(self) -> str:
        return str(uuid.uuid5(NAMESPACE, f"database:{self.key}"))

    @property
    def file_name(self) -> str:
        return f"databases/{self.key}.yaml"


@dataclass
class Rendered:
    """The zipped bundle plus what provisioning needs to know about it."""

    zip_bytes: bytes
    files: dict[str, dict[str, Any]]
    passwords: dict[str, str]
    # per connection key: dataset uuids (for roles and RLS rules)
    datasets_by_connection: dict[str, list[str]] = field(default_factory=dict)
    dashboards_by_connection: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def load_templates(kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((BUNDLE_DIR / kind).glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        spec.setdefault("key", path.stem)
        out[spec["key"]] = spec
    return out


def derived_uuid(template_uuid: str, connection: Connection) -> str:
    return str(uuid.uuid5(uuid.UUID(template_uuid), connection.key))


def _fill(text: str, connection: Connection) -> str:
    """Replace {agency_id} / {agency_code} / {agency_name} placeholders in titles and clauses."""
    a = connection.agency
    if a is None:
        return text
    return (
        text.replace("{agency_id}", str(a.agency_id))
        .replace("{agency_code}", a.agency_code)
        .replace("{agency_name}", a.agency_name)
        .replace("{agency_slug}", a.slug)
    )


# --------------------------------------------------------------------------- databases
def database_file(conn: Connection, host: str, port: int, database: str) -> dict[str, Any]:
    return {
        "database_name": conn.name,
        "sqlalchemy_uri": f"postgresql+psycopg2://{conn.username}:XXXXXXXXXX@{host}:{port}/{database}",
        "cache_timeout": None,
        "expose_in_sqllab": conn.expose_in_sqllab,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "allow_csv_upload": False,
        "extra": {
            "allows_virtual_table_explore": False,
            "disable_data_preview": not conn.expose_in_sqllab,
            "schema_options": {},
            "engine_params": {"connect_args": {"application_name": f"superset:{conn.key}"}},
        },
        "uuid": conn.uuid,
        "version": "1.0.0",
    }


# --------------------------------------------------------------------------- datasets
def _is_temporal(pg_type: str) -> bool:
    return pg_type.startswith(("date", "timestamp"))


def dataset_file(spec: dict[str, Any], conn: Connection, columns: list[tuple[str, str]]) -> dict[str, Any]:
    """A Superset dataset for one view on one connection; columns come from the live warehouse."""
    labels: dict[str, str] = spec.get("labels", {})
    cols: list[dict[str, Any]] = [
        {
            "column_name": name,
            "verbose_name": labels.get(name),
            "is_dttm": _is_temporal(pg_type),
            "is_active": True,
            "type": pg_type.upper(),
            "groupby": True,
            "filterable": True,
            "expression": None,
            "description": None,
            "python_date_format": None,
            "extra": {},
        }
        for name, pg_type in columns
    ]
    for calc in spec.get("calculated_columns", []):
        cols.append(
            {
                "column_name": calc["column_name"],
                "verbose_name": calc.get("verbose_name"),
                "is_dttm": False,
                "is_active": True,
                "type": calc.get("type", "TEXT"),
                "groupby": True,
                "filterable": True,
                "expression": calc["expression"],
                "description": calc.get("description"),
                "python_date_format": None,
                "extra": {},
            }
        )
    metrics = [
        {
            "metric_name": m["metric_name"],
            "verbose_name": m.get("verbose_name"),
            "metric_type": None,
            "expression": m["expression"],
            "description": m.get("description"),
            "d3format": m.get("d3format"),
            "currency": None,
            "extra": {},
            "warning_text": None,
        }
        for m in spec.get("metrics", [])
    ]
    return {
        "table_name": spec["table_name"],
        "main_dttm_col": spec.get("main_dttm_col"),
        "description": spec.get("description"),
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": spec["schema"],
        "sql": None,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": derived_uuid(spec["uuid"], conn),
        "metrics": metrics,
        "columns": cols,
        "version": "1.0.0",
        "database_uuid": conn.uuid,
    }


# --------------------------------------------------------------------------- charts
def query_context(params: dict[str, Any], datasource_id: int | None = None) -> dict[str, Any]:
    """The chart-data request a chart's form data stands for (what the API and CSV export run).

    Covers the viz types the bundle uses: ``table`` (raw or aggregated), ``big_number_total``,
    ``pie`` and ``echarts_timeseries_bar`` / ``echarts_timeseries_line`` with a category x axis.
    """
    viz = params["viz_type"]
    columns: list[Any] = []
    metrics: list[Any] = []
    orderby: list[Any] = []
    if viz == "table" and params.get("query_mode") == "raw":
        columns = list(params["all_columns"])
        orderby = [[c, asc] for c, asc in (json.loads(o) for o in params.get("order_by_cols", []))]
    elif viz == "table":
        columns = list(params.get("groupby", []))
        metrics = list(params.get("metrics", []))
        if metrics:
            orderby = [[metrics[0], False]]
    elif viz == "big_number_total":
        metrics = [params["metric"]]
    elif viz == "pie":
        columns = list(params["groupby"])
        metrics = [params["metric"]]
        orderby = [[params["metric"], False]]
    elif viz.startswith("echarts_timeseries"):
        columns = [params["x_axis"], *params.get("groupby", [])]
        metrics = list(params["metrics"])
    else:
        raise ValueError(f"no query-context rule for viz type {viz!r}")
    filters = [
        {"col": f["subject"], "op": f["operator"], "val": f.get("comparator")}
        for f in params.get("adhoc_filters", [])
        if f.get("expressionType") == "SIMPLE"
    ]
    return {
        "datasource": {"id": datasource_id, "type": "table"},
        "force": False,
        "queries": [
            {
                "filters": filters,
                "extras": {"having": "", "where": ""},
                "applied_time_extras": {},
                "columns": columns,
                "metrics": metrics,
                "orderby": orderby,
                "annotation_layers": [],
                "row_limit": params.get("row_limit", 10000),
                "series_limit": 0,
                "order_desc": True,
                "url_params": {},
                "custom_params": {},
                "custom_form_data": {},
                "time_range": "No filter",
            }
        ],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }


def chart_file(spec: dict[str, Any], conn: Connection, dataset_uuid: str) -> dict[str, Any]:
    params = dict(spec["params"], viz_type=spec["viz_type"])
    params.setdefault("adhoc_filters", [])
    return {
        "slice_name": f"{spec['slice_name']} · {conn.agency.agency_code if conn.agency else conn.key}",
        "description": spec.get("description"),
        "certified_by": None,
        "certification_details": None,
        "viz_type": spec["viz_type"],
        "params": params,
        "query_context": json.dumps(query_context(params)),
        "cache_timeout": None,
        "uuid": derived_uuid(spec["uuid"], conn),
        "version": "1.0.0",
        "dataset_uuid": dataset_uuid,
    }


# --------------------------------------------------------------------------- dashboards
def _position(spec: dict[str, Any], charts: dict[str, dict[str, Any]], chart_specs: dict[str, Any]) -> dict:
    """Superset's layout tree from the template's rows of ``[chart_key, width, height]``."""
    pos: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": spec["title"]}},
    }
    placeholder = 0
    for r, row in enumerate(spec["rows"]):
        row_id = f"ROW-{r}"
        pos["GRID_ID"]["children"].append(row_id)
        pos[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for key, width, height in row:
            placeholder += 1
            chart_id = f"CHART-{key}"
            pos[row_id]["children"].append(chart_id)
            pos[chart_id] = {
                "type": "CHART",
                "id": chart_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    # a placeholder id next to the uuid, or the import fails with an opaque 500
                    "chartId": placeholder,
                    "uuid": charts[key]["uuid"],
                    "width": width,
                    "height": height,
                    "sliceName": charts[key]["slice_name"],
                    "sliceNameOverride": chart_specs[key]["slice_name"],
                },
            }
    return pos


def _native_filters(
    spec: dict[str, Any], dataset_uuids: dict[str, str], dataset_columns: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """Native filters of the template whose column exists in the dataset (others are skipped)."""
    out = []
    for i, f in enumerate(spec.get("filters", [])):
        if f["column"] not in dataset_columns.get(f["dataset"], set()):
            continue
        out.append(
            {
                "id": f"NATIVE_FILTER-{spec['key']}-{i}",
                "name": f["name"],
                "filterType": "filter_select",
                "targets": [{"datasetUuid": dataset_uuids[f["dataset"]], "column": {"name": f["column"]}}],
                "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
                "controlValues": {
                    "enableEmptyFilter": False,
                    "defaultToFirstItem": False,
                    "multiSelect": True,
                    "searchAllOptions": False,
                    "inverseSelection": False,
                },
                "cascadeParentIds": [],
                "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
                "type": "NATIVE_FILTER",
                "description": f.get("description", ""),
                "chartsInScope": [],
                "tabsInScope": [],
            }
        )
    return out


def dashboard_file(
    spec: dict[str, Any],
    conn: Connection,
    charts: dict[str, dict[str, Any]],
    chart_specs: dict[str, Any],
    dataset_uuids: dict[str, str],
    dataset_columns: dict[str, set[str]],
) -> dict[str, Any]:
    title = _fill(spec["title"], conn)
    slug = _fill(spec["slug"], conn)
    return {
        "dashboard_title": title,
        "description": spec.get("description"),
        "css": "",
        "slug": slug,
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": derived_uuid(spec["uuid"], conn),
        "position": _position(dict(spec, title=title), charts, chart_specs),
        "metadata": {
            "native_filter_configuration": _native_filters(spec, dataset_uuids, dataset_columns),
            "chart_configuration": {},
            "global_chart_configuration": {"scope": {"rootPath": ["ROOT_ID"], "excluded": []}},
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "label_colors": {},
            "shared_label_colors": [],
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": False,
            "default_filters": "{}",
            "filter_scopes": {},
        },
        "version": "1.0.0",
    }


# --------------------------------------------------------------------------- the bundle
def render(
    connections: list[Connection],
    passwords: dict[str, str],
    view_columns: dict[tuple[str, str], list[tuple[str, str]]],
    host: str,
    port: int,
    database: str,
) -> Rendered:
    """Render every template for every connection of its scope; ``view_columns`` maps
    (schema, view) → [(column, type)] as found in the warehouse (absent views are skipped)."""
    datasets = load_templates("datasets")
    chart_specs = load_templates("charts")
    dashboards = load_templates("dashboards")
    files: dict[str, dict[str, Any]] = {}
    pw: dict[str, str] = {}
    out = Rendered(b"", files, pw)
    missing_views = {k for k, d in datasets.items() if (d["schema"], d["table_name"]) not in view_columns}
    out.skipped.extend(
        sorted(
            f"dataset {k}: view {datasets[k]['schema']}.{datasets[k]['table_name']} is absent"
            for k in missing_views
        )
    )
    for conn in connections:
        files[conn.file_name] = database_file(conn, host, port, database)
        pw[conn.file_name] = passwords[conn.key]  # keyed by path inside the root folder
        ds_uuids: dict[str, str] = {}
        ds_columns: dict[str, set[str]] = {}
        for key, spec in datasets.items():
            if spec.get("scope", AGENCY) != conn.scope or key in missing_views:
                continue
            f = dataset_file(spec, conn, view_columns[(spec["schema"], spec["table_name"])])
            files[f"datasets/{conn.key}/{key}.yaml"] = f
            ds_uuids[key] = f["uuid"]
            ds_columns[key] = {c["column_name"] for c in f["columns"]}
        out.datasets_by_connection[conn.key] = list(ds_uuids.values())
        charts: dict[str, dict[str, Any]] = {}
        for key, spec in chart_specs.items():
            if spec["dataset"] in ds_uuids:
                c = chart_file(spec, conn, ds_uuids[spec["dataset"]])
                charts[key] = c
        out.dashboards_by_connection[conn.key] = []
        for key, spec in dashboards.items():
            if spec.get("scope", AGENCY) != conn.scope:
                continue
            needed = {k for row in spec["rows"] for k, _w, _h in row}
            absent = sorted(k for k in needed if k not in charts)
            if absent:
                if conn is connections[0] or conn.scope != AGENCY:
                    out.skipped.append(f"dashboard {key}: charts {', '.join(absent)} have no dataset yet")
                continue
            for k in needed:
                files[f"charts/{conn.key}/{k}.yaml"] = charts[k]
            if conn is connections[0]:
                out.skipped.extend(
                    f"dashboard {key}: filter {f['name']!r} (no column {f['column']} in {f['dataset']})"
                    for f in spec.get("filters", [])
                    if f["column"] not in ds_columns.get(f["dataset"], set())
                )
            d = dashboard_file(spec, conn, charts, chart_specs, ds_uuids, ds_columns)
            files[f"dashboards/{conn.key}/{key}.yaml"] = d
            out.dashboards_by_connection[conn.key].append(
                {"key": key, "uuid": d["uuid"], "slug": d["slug"], "title": d["dashboard_title"]}
            )
    out.zip_bytes = zip_bundle(files)
    return out


def zip_bundle(files: dict[str, dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            f"{ROOT}/metadata.yaml",
            yaml.safe_dump({"version": "1.0.0", "type": "assets", "timestamp": "2026-01-01T00:00:00+00:00"}),
        )
        for name, content in sorted(files.items()):
            zf.writestr(f"{ROOT}/{name}", yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    return buf.getvalue()
