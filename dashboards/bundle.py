"""Render the dashboards kept in git (dashboards/bundle/**.yaml) into a Superset import bundle.

Why one copy per agency. Each agency manager must query through a database login that PostgreSQL
itself limits to that agency (row-level security on the mart tables under the ``reporting`` views).
A Superset dataset belongs to exactly one database connection, so the bundle holds one connection
per agency (logged in as ``cww.security.agency_role``), and that agency's own datasets, charts and
dashboards on it. A manager's Superset role grants access to that one connection only: even with
Superset's own row-level security removed, every query a manager can run goes to PostgreSQL under
the agency's login and can only return the agency's rows.

Three scopes of templates: ``agency`` (copied per agency connection), ``analyst`` (the
pseudonymised login, SQL Lab) and ``datateam`` (one read-only monitoring login for the data-quality
dashboard: extraction metadata, duplicate detection, check results; never agency-facing).

The YAML in git is written once (templates with stable uuids); uuids of the per-connection copies
are derived (uuid5 of the template uuid and the connection key), so re-importing overwrites the same
objects and keeps their ids. Dataset columns are read from the live warehouse, so the bundle always
matches what dbt built. A dataset whose relation is absent (e.g. the data-quality results before the
data-quality step has run) is left out and reported; the charts on it are replaced on their
dashboard by a note saying what is missing, instead of failing the import.
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
DATATEAM = "datateam"  # pipeline monitoring (data quality), on the data team's read-only login

DEFAULT_RLS_CLAUSE = "agency_id = {agency_id}"


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


@dataclass(frozen=True)
class DatasetShape:
    """What the warehouse says about a dataset template: its columns, or why it is absent."""

    columns: list[tuple[str, str]] = field(default_factory=list)
    absent: str | None = None


@dataclass
class Rendered:
    """The zipped bundle plus what provisioning needs to know about it."""

    zip_bytes: bytes
    files: dict[str, dict[str, Any]]
    passwords: dict[str, str]
    # per connection key: dataset uuid → template key (for roles and RLS rules)
    datasets_by_connection: dict[str, dict[str, str]] = field(default_factory=dict)
    dashboards_by_connection: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def load_templates(kind: str) -> dict[str, dict[str, Any]]:
    """Every ``bundle/<kind>/**/*.yaml``, keyed by file stem (unique across sub-folders)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((BUNDLE_DIR / kind).rglob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        spec.setdefault("key", path.stem)
        if spec["key"] in out:
            raise ValueError(f"{path}: template key {spec['key']!r} is used twice under bundle/{kind}")
        out[spec["key"]] = spec
    return out


def derived_uuid(template_uuid: str, connection: Connection) -> str:
    return str(uuid.uuid5(uuid.UUID(template_uuid), connection.key))


def placeholders(connection: Connection, parameters: dict[str, Any]) -> dict[str, str]:
    """Values for ``{name}`` placeholders in templates: the agency's, then the bundle parameters."""
    values = {k: str(v) for k, v in parameters.items()}
    a = connection.agency
    if a is not None:
        values.update(
            agency_id=str(a.agency_id),
            agency_code=a.agency_code,
            agency_name=a.agency_name,
            agency_slug=a.slug,
        )
    return values


def fill(value: Any, values: dict[str, str]) -> Any:
    """Replace ``{name}`` placeholders in every string of a nested template value (unknown names stay)."""
    if isinstance(value, str):
        return re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


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


def dataset_sql(spec: dict[str, Any], parameters: dict[str, Any]) -> str | None:
    """The SQL of a virtual dataset with the bundle parameters filled in (None for a table/view)."""
    return fill(spec["sql"], {k: str(v) for k, v in parameters.items()}) if spec.get("sql") else None


def dataset_file(
    spec: dict[str, Any], conn: Connection, columns: list[tuple[str, str]], values: dict[str, str]
) -> dict[str, Any]:
    """A Superset dataset for one relation (or SQL) on one connection; columns from the warehouse."""
    spec = fill(spec, values)
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
        "sql": spec.get("sql"),
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
    ``pie`` and ``echarts_timeseries_bar`` / ``echarts_timeseries_line`` (x axis + series).
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
        if params.get("timeseries_limit_metric"):
            orderby = [[params["timeseries_limit_metric"], not params.get("order_desc", True)]]
        elif metrics:
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
        orderby = [[params["x_axis"], True]]
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


def _simple_filters(filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Template shorthand ``{subject, operator, comparator}`` → Superset's adhoc filter objects."""
    out = []
    for i, f in enumerate(filters):
        out.append(
            {
                "expressionType": "SIMPLE",
                "clause": "WHERE",
                "subject": f["subject"],
                "operator": f["operator"],
                "operatorId": f.get("operatorId"),
                "comparator": f.get("comparator"),
                "isExtra": False,
                "isNew": False,
                "filterOptionName": f"filter_{i}_{f['subject']}",
                "sqlExpression": None,
            }
        )
    return out


def chart_file(
    spec: dict[str, Any], conn: Connection, dataset_uuid: str, values: dict[str, str]
) -> dict[str, Any]:
    spec = fill(spec, values)
    params = dict(spec["params"], viz_type=spec["viz_type"])
    params["adhoc_filters"] = _simple_filters(params.get("adhoc_filters", []))
    params.setdefault("time_range", "No filter")
    suffix = conn.agency.agency_code if conn.agency else conn.key
    return {
        "slice_name": f"{spec['slice_name']} · {suffix}",
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
def _row_items(row: list[Any]) -> list[dict[str, Any]]:
    """A template row: ``[chart_key, width, height]`` items or ``{markdown, width, height}``."""
    items = []
    for item in row:
        if isinstance(item, dict):
            items.append({"markdown": item["markdown"], "width": item["width"], "height": item["height"]})
        else:
            key, width, height = item
            items.append({"chart": key, "width": width, "height": height})
    return items


def _position(
    spec: dict[str, Any],
    charts: dict[str, dict[str, Any]],
    chart_specs: dict[str, Any],
    notes: dict[str, str],
) -> dict:
    """Superset's layout tree from the template's rows; a chart whose dataset is absent becomes a
    markdown note saying so (``notes``: chart key → text)."""
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
        for i, item in enumerate(_row_items(row)):
            key = item.get("chart")
            if key is not None and key in charts:
                placeholder += 1
                elem_id = f"CHART-{key}"
                pos[elem_id] = {
                    "type": "CHART",
                    "id": elem_id,
                    "children": [],
                    "parents": ["ROOT_ID", "GRID_ID", row_id],
                    "meta": {
                        # a placeholder id next to the uuid, or the import fails with an opaque 500
                        "chartId": placeholder,
                        "uuid": charts[key]["uuid"],
                        "width": item["width"],
                        "height": item["height"],
                        "sliceName": charts[key]["slice_name"],
                        "sliceNameOverride": chart_specs[key]["slice_name"],
                    },
                }
            else:
                text = item.get("markdown") or notes.get(str(key), f"{key}: not available")
                elem_id = f"MARKDOWN-{r}-{i}"
                pos[elem_id] = {
                    "type": "MARKDOWN",
                    "id": elem_id,
                    "children": [],
                    "parents": ["ROOT_ID", "GRID_ID", row_id],
                    "meta": {"width": item["width"], "height": item["height"], "code": text},
                }
            pos[row_id]["children"].append(elem_id)
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
    notes: dict[str, str],
    values: dict[str, str],
) -> dict[str, Any]:
    spec = fill(spec, values)
    return {
        "dashboard_title": spec["title"],
        "description": spec.get("description"),
        "css": "",
        "slug": spec["slug"],
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": derived_uuid(spec["uuid"], conn),
        "position": _position(spec, charts, chart_specs, notes),
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
    shapes: dict[str, DatasetShape],
    host: str,
    port: int,
    database: str,
    parameters: dict[str, Any] | None = None,
) -> Rendered:
    """Render every template for every connection of its scope.

    ``shapes`` maps each dataset template key to its columns as found in the warehouse, or to the
    reason it is absent; absent datasets are skipped and their charts become notes.
    """
    parameters = parameters or {}
    datasets = load_templates("datasets")
    chart_specs = load_templates("charts")
    dashboards = load_templates("dashboards")
    files: dict[str, dict[str, Any]] = {}
    pw: dict[str, str] = {}
    out = Rendered(b"", files, pw)
    absent = {k: shapes[k].absent or "" for k in datasets if k not in shapes or shapes[k].absent}
    for k in sorted(absent):
        out.skipped.append(f"dataset {k}: {absent[k] or 'not inspected'}")
    notes = {
        key: f"**{spec['slice_name']}**: not available yet — {absent[spec['dataset']]}"
        for key, spec in chart_specs.items()
        if spec["dataset"] in absent
    }
    reported: set[str] = set()
    for conn in connections:
        values = placeholders(conn, parameters)
        files[conn.file_name] = database_file(conn, host, port, database)
        pw[conn.file_name] = passwords[conn.key]  # keyed by path inside the root folder
        ds_uuids: dict[str, str] = {}
        ds_columns: dict[str, set[str]] = {}
        out.datasets_by_connection[conn.key] = {}
        for key, spec in datasets.items():
            if spec.get("scope", AGENCY) != conn.scope or key in absent:
                continue
            f = dataset_file(spec, conn, shapes[key].columns, values)
            files[f"datasets/{conn.key}/{key}.yaml"] = f
            ds_uuids[key] = f["uuid"]
            ds_columns[key] = {c["column_name"] for c in f["columns"]}
            out.datasets_by_connection[conn.key][f["uuid"]] = key
        charts: dict[str, dict[str, Any]] = {}
        for key, spec in chart_specs.items():
            if spec["dataset"] in ds_uuids:
                charts[key] = chart_file(spec, conn, ds_uuids[spec["dataset"]], values)
        out.dashboards_by_connection[conn.key] = []
        for key, spec in dashboards.items():
            if spec.get("scope", AGENCY) != conn.scope:
                continue
            needed = [i["chart"] for row in spec["rows"] for i in _row_items(row) if "chart" in i]
            unknown = [k for k in needed if k not in chart_specs]
            if unknown:
                raise ValueError(f"dashboard {key}: no chart template named {', '.join(unknown)}")
            present = [k for k in needed if k in charts]
            if key not in reported:
                reported.add(key)
                out.skipped.extend(
                    f"dashboard {key}: chart {k} shown as a note ({notes.get(k, 'no dataset')})"
                    for k in needed
                    if k not in charts
                )
                out.skipped.extend(
                    f"dashboard {key}: filter {f['name']!r} (no column {f['column']} in {f['dataset']})"
                    for f in spec.get("filters", [])
                    if f["column"] not in ds_columns.get(f["dataset"], set())
                )
            if not present:
                out.skipped.append(f"dashboard {key} on {conn.key}: none of its charts has a dataset")
                continue
            for k in present:
                files[f"charts/{conn.key}/{k}.yaml"] = charts[k]
            d = dashboard_file(spec, conn, charts, chart_specs, ds_uuids, ds_columns, notes, values)
            files[f"dashboards/{conn.key}/{key}.yaml"] = d
            out.dashboards_by_connection[conn.key].append(
                {
                    "key": key,
                    "uuid": d["uuid"],
                    "slug": d["slug"],
                    "title": d["dashboard_title"],
                    "charts": len(present),
                }
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
