"""Agency and analyst database logins: one naming rule and one password rule for every part.

Agencies are separated in PostgreSQL itself: each agency has a LOGIN role, and row-level security
on the reporting layer shows that role only its agency's rows. dbt creates the roles and policies,
Superset connects per agency with them, and CSV reports are produced under them — so all three
must derive the same names and passwords. Passwords are derived from one secret in the environment
(``CWW_ROLE_SECRET``) so nothing is stored in git and nothing has to be distributed by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

DEV_SECRET = "cww-dev-only-secret"


def role_secret() -> str:
    """The secret passwords derive from; the dev default is only for local demos and tests."""
    return os.environ.get("CWW_ROLE_SECRET", DEV_SECRET)


def agency_role(agency_code: str, prefix: str = "cww") -> str:
    """`CAS-OTT` → `cww_agency_cas_ott` (lower case, non-alphanumerics to underscores).

    Roles are cluster-wide, so the prefix (``Settings.role_prefix``) keeps concurrent test
    warehouses on one server from sharing or dropping each other's roles.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", agency_code.lower()).strip("_")
    return f"{prefix}_agency_{slug}"


def analyst_role(prefix: str = "cww") -> str:
    """The ministry analysts' login: pseudonymised views only."""
    return f"{prefix}_analyst"


def data_team_role(prefix: str = "cww") -> str:
    """The data team's role: one name for person search and the monitoring dashboards.

    Person search treats its members (and the role itself) as seeing every agency in full detail;
    the dashboards' monitoring connection logs in as it (read-only, monitoring schemas only).
    Whichever of the two runs first creates it; the dashboards give it LOGIN and a password.
    """
    return f"{prefix}_data_team"


def role_password(role: str) -> str:
    """Deterministic per-role password: HMAC-SHA256(secret, role), 32 hex characters."""
    return hmac.new(role_secret().encode(), role.encode(), hashlib.sha256).hexdigest()[:32]
