"""Email: SMTP with STARTTLS and login, the CSV as an attachment.

Exactly-once is not possible over SMTP: once the server has said "250 OK" the message is gone,
and if we crash before writing that to the delivery log, nothing can be asked afterwards. We
choose per destination (``on_uncertain``):

* ``resend`` (default, at-least-once): send again, with the *same* Message-ID (derived from report,
  agency, period and file checksum) and byte-identical attachment, so mail systems that dedupe on
  Message-ID show one message and a person can tell the copy is identical. A missed morning
  report is worse for a foster-care worker than a duplicate of the same list.
* ``hold`` (at-most-once): mark the delivery ``uncertain`` and fail loudly, for a person to check.

The crash window is only the few milliseconds between the server's reply and the log commit.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from reports.destinations.base import DeliveryError, SendContext, secret
from reports.spec import EmailDestination


def message_id(ctx: SendContext, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "cww.local"
    return f"<cww.{ctx.report}.{ctx.agency}.{ctx.period}.{ctx.checksum[:24]}@{domain}>"


class EmailSender:
    def __init__(self, dest: EmailDestination) -> None:
        self.dest = dest
        self.key = dest.key

    def holds(self, ctx: SendContext) -> None:
        return None  # SMTP cannot be asked what it already delivered

    def build(self, path: Path, ctx: SendContext) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"{ctx.title} — {ctx.agency} — {ctx.period}"
        msg["From"] = self.dest.sender
        msg["To"] = ", ".join(self.dest.to)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = message_id(ctx, self.dest.sender)
        msg.set_content(
            f"{ctx.title} for {ctx.agency}, period {ctx.period}: {ctx.rows} rows.\n\n"
            f"{ctx.description.strip()}\n\n"
            f"File: {ctx.file_name}\nSHA-256: {ctx.checksum}\n\n"
            "Sent automatically by the Child Welfare Warehouse. The attachment contains confidential "
            "information about children in care; do not forward it outside your agency.\n"
        )
        msg.add_attachment(path.read_bytes(), maintype="text", subtype="csv", filename=ctx.file_name)
        return msg

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.dest.tls_ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def send(self, path: Path, ctx: SendContext) -> str:
        d = self.dest
        msg = self.build(path, ctx)
        try:
            with smtplib.SMTP(d.smtp_host, d.smtp_port, timeout=d.timeout_seconds) as smtp:
                smtp.ehlo()
                if d.starttls:
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if d.username_env and d.password_env:
                    smtp.login(secret(d.username_env), secret(d.password_env))
                refused = smtp.send_message(msg)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise DeliveryError(
                f"email to {', '.join(d.to)} via {d.smtp_host}:{d.smtp_port} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if refused:
            raise DeliveryError(f"the SMTP server refused recipients {sorted(refused)}")
        return f"Message-ID {msg['Message-ID']}"
