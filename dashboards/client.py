"""A small Superset REST client: login, CSRF, rison query strings, errors that say what failed.

The pipeline environment reaches Superset over HTTP only, so provisioning, tests and the benchmark
all go through this one class.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from cww.errors import CwwError


class SupersetApiError(CwwError):
    """A Superset API call that answered with an error."""


def rison(value: Any) -> str:
    """Encode dicts/lists/strings/numbers/bools as Rison, the query syntax of Superset's list APIs."""
    if value is True:
        return "!t"
    if value is False:
        return "!f"
    if value is None:
        return "!n"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        safe = value and all(c.isalnum() or c in "-_./~" for c in value) and not value[0].isdigit()
        if safe and value[0] != "-":
            return value
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, list | tuple):
        return "!(" + ",".join(rison(v) for v in value) + ")"
    if isinstance(value, dict):
        return "(" + ",".join(f"{rison(str(k))}:{rison(v)}" for k, v in value.items()) + ")"
    raise TypeError(f"cannot encode {type(value).__name__} as rison")


class SupersetClient:
    """A logged-in session against one Superset server."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Referer"] = self.base_url
        resp = self.session.post(
            f"{self.base_url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": False},
            timeout=timeout,
        )
        if resp.status_code != 200:
            raise SupersetApiError(
                f"Superset login as {username!r} at {self.base_url} failed (HTTP {resp.status_code}). "
                "Fix: run `cww dashboards up` to provision the demo logins, or check the password."
            )
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        csrf = self.session.get(f"{self.base_url}/api/v1/security/csrf_token/", timeout=timeout)
        csrf.raise_for_status()
        self.session.headers["X-CSRFToken"] = csrf.json()["result"]

    # ------------------------------------------------------------------ raw calls
    def request(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        resp = self.session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kw)
        if resp.status_code not in expect:
            raise SupersetApiError(
                f"{method} {path} as {self.username!r} → HTTP {resp.status_code}: {resp.text[:300]}"
            )
        ctype = resp.headers.get("content-type", "")
        return resp.json() if ctype.startswith("application/json") else resp

    def raw(self, method: str, path: str, **kw: Any) -> requests.Response:
        """The response whatever its status (tests assert on refusals)."""
        return self.session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, payload: dict[str, Any], **kw: Any) -> Any:
        return self.request("POST", path, json=payload, **kw)

    def put(self, path: str, payload: dict[str, Any], **kw: Any) -> Any:
        return self.request("PUT", path, json=payload, **kw)

    def list_all(self, resource: str, columns: list[str] | None = None, **q: Any) -> list[dict[str, Any]]:
        """Every row of a list endpoint (``/api/v1/<resource>/``), page by page."""
        rows: list[dict[str, Any]] = []
        page = 0
        while True:
            query: dict[str, Any] = {"page": page, "page_size": 100, **q}
            if columns:
                query["columns"] = columns
            out = self.get(f"/api/v1/{resource}/?q={rison(query)}")
            batch = out.get("result", [])
            rows.extend(batch)
            if len(batch) < 100:
                return rows
            page += 1

    # ------------------------------------------------------------------ helpers
    def import_assets(self, bundle: bytes, passwords: dict[str, str]) -> None:
        """POST a zipped bundle to /api/v1/assets/import/ (overwrites databases, datasets, charts,
        dashboards; keeps their ids and RLS links)."""
        self.request(
            "POST",
            "/api/v1/assets/import/",
            files={"bundle": ("bundle.zip", bundle, "application/zip")},
            data={"passwords": json.dumps(passwords)},
        )

    def chart_data(self, query_context: dict[str, Any], result_format: str = "json") -> requests.Response:
        body = dict(query_context, result_format=result_format)
        return self.raw("POST", "/api/v1/chart/data", json=body)
