"""Recording pipeline failures in the warehouse, and e-mailing them when SMTP is configured.

Called by the Dagster run-failure sensor (dagster_project/sensors.py), kept here so it is plain,
testable Python. The table lives in ``extract_meta`` because the data team already looks there
for the extraction's own state; one row per failed run (idempotent on the run id, since a
sensor may see the same failure twice after a restart).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from pydantic_settings import BaseSettings, SettingsConfigDict

from cww.settings import Settings
from extract.connect import connect_warehouse
from extract.meta import ensure_meta


class AlertSettings(BaseSettings):
    """Where failure e-mails go (env prefix ``CWW_ALERT_``); unset host = no e-mail."""

    model_config = SettingsConfigDict(env_prefix="CWW_ALERT_", extra="ignore")

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    email_from: str = "cww-pipeline@localhost"
    email_to: str = ""  # comma-separated

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.email_to.split(",") if a.strip()]


def record_failure(settings: Settings, run_id: str, job_name: str, steps: list[str], error: str) -> bool:
    """Insert the failure (once per run id); True when it was new."""
    conn = connect_warehouse(settings)
    try:
        ensure_meta(conn)
        cur = conn.execute(
            "insert into extract_meta.pipeline_failures (run_id, job_name, steps, error) "
            "values (%s, %s, %s, %s) on conflict (run_id) do nothing",
            (run_id, job_name, steps, error),
        )
        return cur.rowcount == 1
    finally:
        conn.close()


def email_failure(
    settings: Settings, alert: AlertSettings, run_id: str, job_name: str, steps: list[str], error: str
) -> str | None:
    """Send one plain-text alert; returns the recipients, or None when e-mail is not configured."""
    if not alert.smtp_host or not alert.recipients:
        return None
    msg = EmailMessage()
    msg["Subject"] = f"[cww] {job_name} failed (run {run_id[:8]})"
    msg["From"] = alert.email_from
    msg["To"] = ", ".join(alert.recipients)
    msg.set_content(
        f"The {job_name} run {run_id} failed.\n\nFailed steps: {', '.join(steps) or '-'}\n\n{error}\n\n"
        f"Recorded in {settings.warehouse_db}.extract_meta.pipeline_failures; details in the Dagster UI.\n"
    )
    with smtplib.SMTP(alert.smtp_host, alert.smtp_port, timeout=20) as smtp:
        if alert.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if alert.smtp_user and alert.smtp_password:
            smtp.login(alert.smtp_user, alert.smtp_password)
        smtp.send_message(msg)
    conn = connect_warehouse(settings)
    try:
        conn.execute(
            "update extract_meta.pipeline_failures set emailed_to = %s where run_id = %s",
            (", ".join(alert.recipients), run_id),
        )
    finally:
        conn.close()
    return ", ".join(alert.recipients)
