"""Migrate Superset's metadata database, sync its built-in roles and set the admin login.

Runs inside Superset's own environment (``dashboards/.venv/bin/python superset_bootstrap.py``),
never in the pipeline environment. One process instead of ``superset db upgrade`` + ``superset
init`` + ``superset fab create-admin`` saves two ~8 s application start-ups, and unlike
``create-admin`` it is idempotent: a second run resets the admin password to the configured one.

The admin password comes from ``CWW_SUPERSET_ADMIN_PASSWORD`` (environment, never argv).
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    password = os.environ.get("CWW_SUPERSET_ADMIN_PASSWORD")
    if not password:
        print("CWW_SUPERSET_ADMIN_PASSWORD is not set", file=sys.stderr)
        return 2
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade
        from superset import appbuilder, security_manager
        from werkzeug.security import generate_password_hash

        upgrade()
        appbuilder.add_permissions(update_perms=True)
        security_manager.sync_role_definitions()
        admin_role = security_manager.find_role("Admin")
        user = security_manager.find_user(username="admin")
        if user is None:
            security_manager.add_user(
                "admin", "Data", "Team", "admin@cww.invalid", admin_role, password=password
            )
        else:
            user.password = generate_password_hash(password)
            user.roles = [admin_role]
            user.active = True
            security_manager.update_user(user)
    print("superset metadata ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
