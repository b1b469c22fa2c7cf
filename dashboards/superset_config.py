"""Superset configuration for the Child Welfare Warehouse, read by Superset's own environment only.

Loaded through ``SUPERSET_CONFIG_PATH`` by the isolated Superset virtualenv (dashboards/.venv); the
pipeline environment never imports it. Everything that differs between machines or is secret comes
from the environment (set by ``dashboards.server`` when it launches Superset):

- ``SUPERSET_SECRET_KEY``: signs sessions and encrypts stored database passwords. Required.
- ``CWW_SUPERSET_METADATA_URL``: the metadata database (PostgreSQL, ``postgresql+psycopg2://``).

The content-security policy allows ``'self'`` only: child-welfare dashboards must not make a single
request to an outside host (the bundled front end would otherwise load a telemetry pixel and can
load web fonts and map tiles from the internet).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set. Fix: start Superset with `cww dashboards up`, which sets it.")
    return value


SECRET_KEY = _required("SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = _required("CWW_SUPERSET_METADATA_URL")
SQLALCHEMY_TRACK_MODIFICATIONS = False

APP_NAME = "Child Welfare Warehouse"

# --- no outside requests -------------------------------------------------------------------------
_SELF = ["'self'"]
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": _SELF,
        "default-src": _SELF,
        # data:/blob: are in-page images (chart exports, icons), not network requests.
        "img-src": [*_SELF, "data:", "blob:"],
        "worker-src": [*_SELF, "blob:"],
        "connect-src": _SELF,
        "object-src": "'none'",
        # The component library injects inline styles; no style is loaded from elsewhere.
        "style-src": [*_SELF, "'unsafe-inline'"],
        "font-src": [*_SELF, "data:"],
        "script-src": [*_SELF, "'strict-dynamic'"],
        "frame-ancestors": _SELF,
        "form-action": _SELF,
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
TALISMAN_DEV_CONFIG = TALISMAN_CONFIG
CONTENT_SECURITY_POLICY_WARNING = False
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []

# The published front end is compiled with an unconditional telemetry pixel
# (an <img> pointing at an outside host). The CSP above blocks it, but the browser still *tries*,
# and a dashboard must not even attempt an outside request. The few static files that contain the
# pixel's address are served with it replaced by an inert ``data:`` URL (same file otherwise).
_TELEMETRY = b"https://apachesuperset.gateway.scarf.sh/pixel/"
_INERT = b"data:,"


def _files_with_telemetry() -> set[str]:
    import superset

    assets = Path(superset.__file__).parent / "static" / "assets"
    return {f"/static/assets/{p.name}" for p in assets.glob("*.js") if _TELEMETRY in p.read_bytes()}


def FLASK_APP_MUTATOR(app: Any) -> None:  # noqa: N802 - the name Superset looks up
    from flask import request

    patched = _files_with_telemetry()

    @app.after_request
    def _strip_telemetry(response: Any) -> Any:
        if request.path in patched and response.status_code == 200:
            response.direct_passthrough = False
            response.set_data(response.get_data().replace(_TELEMETRY, _INERT))
        return response


# --- security ------------------------------------------------------------------------------------
# Managers never get SQL Lab; RLS in SQL Lab stays on anyway as a second belt.
FEATURE_FLAGS = {
    "RLS_IN_SQLLAB": True,
    "DASHBOARD_RBAC": False,
    "ALERT_REPORTS": False,
    "ENABLE_TEMPLATE_PROCESSING": False,
    "ALLOW_ADHOC_SUBQUERY": False,
}
PUBLIC_ROLE_LIKE = None
PREVENT_UNSAFE_DB_CONNECTIONS = True
WTF_CSRF_ENABLED = True
SESSION_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
# Login attempts are rate limited per address; the in-process store is enough for one server.
RATELIMIT_STORAGE_URI = "memory://"
AUTH_RATE_LIMIT = "20 per second"

# --- results and caching -------------------------------------------------------------------------
# No data cache: every chart query goes to PostgreSQL under the agency's own login, so a result can
# never be served to the wrong agency from a cache, and the benchmark measures cold queries.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
ROW_LIMIT = 50000
SQL_MAX_ROW = 100000
SUPERSET_WEBSERVER_TIMEOUT = 120
LOG_LEVEL = os.environ.get("CWW_SUPERSET_LOG_LEVEL", "WARNING")
