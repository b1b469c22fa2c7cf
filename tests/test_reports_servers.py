"""Email and SFTP deliveries against real servers on 127.0.0.1, with faults.

* SMTP: aiosmtpd requiring STARTTLS (self-signed certificate made here) and LOGIN.
* SFTP: asyncssh server accepting one client key, host key pinned by fingerprint.

Each test checks what actually arrived: the attachment / uploaded file is byte-identical to the
produced CSV and holds exactly the agency's rows according to the warehouse; after a fault clears
there is exactly one delivery per destination in the log (and, where the protocol can know it,
at the destination).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cww.postgres import Server, create_database
from cww.settings import Settings
from reports import synthetic
from reports.failpoints import ENV as FAILPOINT_ENV
from reports.failpoints import EXIT_CODE
from reports.loading import DIR_ENV, load_one
from reports.runner import run_report

DAY = dt.date(2026, 11, 3)
CODES = ["CAS-OTT", "CAS-TOR"]
SMTP_USER, SMTP_PASSWORD = "reports", "s3cret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- SMTP server


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    port: int
    cert: Path
    key: Path
    messages: list[bytes] = field(default_factory=list)
    controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        assert session.authenticated and session.ssl is not None  # LOGIN over STARTTLS only
        self.messages.append(envelope.content)
        return "250 OK"

    def start(self) -> None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(self.cert, self.key)

        def auth(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                SMTP_USER.encode(),
                SMTP_PASSWORD.encode(),
            )
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls,
            require_starttls=True,
            authenticator=auth,
            auth_required=True,
            auth_require_tls=True,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None

    def attachments(self) -> list[tuple[str, str, bytes]]:
        """(Message-ID, file name, attachment bytes) for every message received."""
        out = []
        for raw in self.messages:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            for part in msg.iter_attachments():
                out.append((msg["Message-ID"], part.get_filename(), part.get_payload(decode=True)))
        return out


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    cert, key = self_signed(tmp_path)
    server = SmtpServer(free_port(), cert, key)
    monkeypatch.setenv("CWW_TEST_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("CWW_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    yield server  # not started: each test decides (SMTP down is a test)
    server.stop()


def email_dest(smtp: SmtpServer, **extra: str) -> str:
    text = (
        "  - id: records-email\n    type: email\n    to: [records@cas.example]\n"
        "    from: reports@cww.example\n"
        f"    smtp_host: 127.0.0.1\n    smtp_port: {smtp.port}\n    tls_ca_file: {smtp.cert}\n"
        "    username_env: CWW_TEST_SMTP_USER\n    password_env: CWW_TEST_SMTP_PASSWORD\n"
        "    timeout_seconds: 5\n"
    )
    return text + "".join(f"    {k}: {v}\n" for k, v in extra.items())


# --------------------------------------------------------------------------- SFTP server


class SftpServer:
    """asyncssh in its own thread; ``allow`` toggles whether the client key is accepted."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.allow = True
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.acceptor: asyncssh.SSHAcceptor | None = None
        self.port = 0

    def start(self) -> None:
        owner = self

        class Ssh(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                return (
                    owner.allow
                    and username == "cww"
                    and key.export_public_key() == owner.client_key.export_public_key()
                )

        self.thread.start()

        async def listen() -> asyncssh.SSHAcceptor:
            return await asyncssh.listen(
                "127.0.0.1",
                0,
                server_host_keys=[self.host_key],
                server_factory=Ssh,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=os.fsencode(self.root)),
            )

        fut = asyncio.run_coroutine_threadsafe(listen(), self.loop)
        self.acceptor = fut.result(10)
        self.port = self.acceptor.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self.acceptor is not None:
            self.acceptor.close()
            asyncio.run_coroutine_threadsafe(self.acceptor.wait_closed(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def fingerprint(self) -> str:
        return self.host_key.get_fingerprint("sha256")


@pytest.fixture
def sftp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SftpServer]:
    server = SftpServer(tmp_path / "sftp_root")
    (server.root / "incoming").mkdir()
    server.start()
    monkeypatch.setenv("CWW_TEST_SFTP_KEY", server.client_key.export_private_key("openssh").decode())
    yield server
    server.stop()


def sftp_dest(sftp: SftpServer) -> str:
    return (
        f"  - id: agency-sftp\n    type: sftp\n    host: 127.0.0.1\n    port: {sftp.port}\n"
        "    username: cww\n"
        f"    directory: incoming\n    private_key_env: CWW_TEST_SFTP_KEY\n"
        f'    host_key_sha256: "{sftp.fingerprint}"\n    timeout_seconds: 5\n'
    )


# --------------------------------------------------------------------------- warehouse


@pytest.fixture
def warehouse(cww_settings: Settings, pg_server: Server) -> Settings:
    create_database(pg_server, cww_settings.warehouse_db)
    synthetic.build(pg_server, cww_settings, CODES, children_per_agency=15)
    return cww_settings


def define(folder: Path, name: str, destinations: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(synthetic.definition_yaml(name, destinations))
    return folder


def warehouse_ids(server: Server, settings: Settings, code: str) -> set[str]:
    with server.connect(settings.warehouse_db) as conn:
        rows = conn.execute("select child_id from synthetic.roster where agency_code = %s", (code,))
        return {str(r[0]) for r in rows}


def csv_ids(data: bytes) -> set[str]:
    lines = data.decode("utf-8").split("\r\n")
    assert lines[0].startswith("Child ID,")
    return {ln.split(",", 1)[0] for ln in lines[1:] if ln}


def log_status(server: Server, settings: Settings) -> dict[tuple[str, str], tuple[str, int]]:
    with server.connect(settings.warehouse_db) as conn:
        rows = conn.execute(
            "select agency, destination, status, attempts from reports.delivery_log"
        ).fetchall()
    return {(a, d): (s, n) for a, d, s, n in rows}


# --------------------------------------------------------------------------- tests


def test_email_and_sftp_deliver_byte_identical_agency_files(
    warehouse: Settings, pg_server: Server, tmp_path: Path, smtp: SmtpServer, sftp: SftpServer
) -> None:
    smtp.start()
    defs = define(tmp_path / "defs", "roster", email_dest(smtp) + sftp_dest(sftp))
    result = run_report(warehouse, load_one("roster", defs), DAY, server=pg_server)
    assert result.count("delivered") == 4 and not result.problems

    produced = {o.agency: Path(o.file or "").read_bytes() for o in result.outcomes}
    received = smtp.attachments()
    assert sorted(name for _, name, _ in received) == [f"roster_{c}_2026-11-03.csv" for c in CODES]
    for _mid, name, data in received:
        code = name.split("_")[1]
        assert data == produced[code]
        assert csv_ids(data) == warehouse_ids(pg_server, warehouse, code)
    for code in CODES:
        uploaded = (sftp.root / "incoming" / f"roster_{code}_2026-11-03.csv").read_bytes()
        assert uploaded == produced[code]
        assert csv_ids(uploaded) == warehouse_ids(pg_server, warehouse, code)
    assert not list((sftp.root / "incoming").glob("*.part"))

    again = run_report(warehouse, load_one("roster", defs), DAY, server=pg_server)
    assert again.count("already-delivered") == 4
    assert len(smtp.messages) == 2


def test_smtp_down_then_up_delivers_exactly_once(
    warehouse: Settings, pg_server: Server, tmp_path: Path, smtp: SmtpServer
) -> None:
    defs = define(tmp_path / "defs", "roster", email_dest(smtp))
    down = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert [o.status for o in down.outcomes] == ["failed"]
    assert "ConnectionRefusedError" in down.outcomes[0].detail
    assert log_status(pg_server, warehouse) == {("CAS-OTT", "records-email"): ("failed", 1)}

    smtp.start()
    up = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert [o.status for o in up.outcomes] == ["delivered"]
    assert len(smtp.messages) == 1
    assert log_status(pg_server, warehouse) == {("CAS-OTT", "records-email"): ("delivered", 2)}
    run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert len(smtp.messages) == 1


def test_wrong_smtp_password_fails_then_exhausts(
    warehouse: Settings, pg_server: Server, tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp.start()
    monkeypatch.setenv("CWW_TEST_SMTP_PASSWORD", "wrong")
    defs = define(tmp_path / "defs", "roster", email_dest(smtp))
    statuses = []
    for _ in range(4):  # max_attempts is 3 in the test definition
        r = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-TOR", server=pg_server)
        statuses.append(r.outcomes[0].status)
    assert statuses == ["failed", "failed", "exhausted", "exhausted"]
    assert "SMTPAuthenticationError" in r.outcomes[0].detail and r.problems
    assert smtp.messages == []
    assert log_status(pg_server, warehouse) == {("CAS-TOR", "records-email"): ("failed", 3)}


def test_backoff_waits_between_attempts(
    warehouse: Settings, pg_server: Server, tmp_path: Path, smtp: SmtpServer
) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    text = synthetic.definition_yaml("roster", email_dest(smtp)).replace(
        "backoff_minutes: 0", "backoff_minutes: 30"
    )
    (defs / "roster.yaml").write_text(text)
    first = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert first.outcomes[0].status == "failed"
    smtp.start()
    second = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert second.outcomes[0].status == "waiting" and "retry after" in second.outcomes[0].detail
    assert smtp.messages == []


def test_sftp_auth_failure_then_fixed_delivers_once(
    warehouse: Settings, pg_server: Server, tmp_path: Path, sftp: SftpServer
) -> None:
    sftp.allow = False
    defs = define(tmp_path / "defs", "roster", sftp_dest(sftp))
    refused = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-TOR", server=pg_server)
    assert [o.status for o in refused.outcomes] == ["failed"]
    assert "was refused" in refused.outcomes[0].detail
    assert not (sftp.root / "incoming" / "roster_CAS-TOR_2026-11-03.csv").exists()

    sftp.allow = True
    fixed = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-TOR", server=pg_server)
    assert [o.status for o in fixed.outcomes] == ["delivered"]
    data = (sftp.root / "incoming" / "roster_CAS-TOR_2026-11-03.csv").read_bytes()
    assert data == Path(fixed.outcomes[0].file or "").read_bytes()
    assert csv_ids(data) == warehouse_ids(pg_server, warehouse, "CAS-TOR")
    assert log_status(pg_server, warehouse) == {("CAS-TOR", "agency-sftp"): ("delivered", 2)}


def test_wrong_host_key_is_refused(
    warehouse: Settings, pg_server: Server, tmp_path: Path, sftp: SftpServer
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").get_fingerprint("sha256")
    defs = define(tmp_path / "defs", "roster", sftp_dest(sftp).replace(sftp.fingerprint, other))
    r = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert r.outcomes[0].status == "failed" and "possible interception" in r.outcomes[0].detail
    assert not list((sftp.root / "incoming").iterdir())


def _crash_run(settings: Settings, pg_server: Server, defs: Path, failpoint: str) -> int:
    """`cww report run` in a real process that dies right after one destination accepted the file."""
    env = dict(
        os.environ,
        CWW_PG_URL=pg_server.url,
        CWW_WAREHOUSE_DB=settings.warehouse_db,
        CWW_ROLE_PREFIX=settings.role_prefix,
        CWW_HOME=str(settings.home),
        **{DIR_ENV: str(defs), FAILPOINT_ENV: failpoint},
    )
    cmd = [
        sys.executable,
        "-m",
        "cww.cli",
        "report",
        "run",
        "roster",
        "--date",
        DAY.isoformat(),
        "--agency",
        "CAS-OTT",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_CODE, proc.stderr[-2000:]
    return proc.returncode


def test_crash_between_send_and_log_write(
    warehouse: Settings, pg_server: Server, tmp_path: Path, smtp: SmtpServer, sftp: SftpServer
) -> None:
    """Kill the process after each destination in turn; each ends delivered exactly once.

    Folder and SFTP are asked whether they hold the exact file (SHA-256) and are not sent again.
    Email cannot be asked: it is re-sent (at-least-once) with the same Message-ID and identical bytes.
    """
    smtp.start()
    share = tmp_path / "share"
    folder = f'  - id: share\n    type: folder\n    path: "{share}/{{agency}}"\n'
    defs = define(tmp_path / "defs", "roster", folder + email_dest(smtp) + sftp_dest(sftp))
    remote = sftp.root / "incoming" / "roster_CAS-OTT_2026-11-03.csv"

    _crash_run(warehouse, pg_server, defs, "after-send:share")  # folder written, log says 'sending'
    assert log_status(pg_server, warehouse)[("CAS-OTT", "share")] == ("sending", 1)
    # next run: folder found holding the file; email sent, then crash
    _crash_run(warehouse, pg_server, defs, "after-send:records-email")
    assert len(smtp.messages) == 1
    # next run: email re-sent (cannot be asked), sftp uploaded, then crash
    _crash_run(warehouse, pg_server, defs, "after-send:agency-sftp")
    assert remote.exists() and len(smtp.messages) == 2

    final = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert [o.status for o in final.outcomes] == ["already-delivered", "already-delivered", "delivered"]
    assert "already there" in final.outcomes[2].detail
    assert log_status(pg_server, warehouse) == {
        ("CAS-OTT", "share"): ("delivered", 1),  # found there: not sent twice
        ("CAS-OTT", "records-email"): ("delivered", 2),  # the documented at-least-once re-send
        ("CAS-OTT", "agency-sftp"): ("delivered", 1),  # found there: not uploaded twice
    }
    produced = (share / "CAS-OTT" / "roster_CAS-OTT_2026-11-03.csv").read_bytes()
    assert remote.read_bytes() == produced
    mails = smtp.attachments()
    assert len(mails) == 2 and mails[0] == mails[1]  # same Message-ID, byte-identical attachment
    assert mails[0][2] == produced
    with pg_server.connect(warehouse.warehouse_db) as conn:
        outcomes = conn.execute(
            "select destination, outcome from reports.delivery_attempt where outcome = 'already-there' "
            "order by destination"
        ).fetchall()
    assert outcomes == [("agency-sftp", "already-there"), ("share", "already-there")]


def test_email_on_uncertain_hold_sends_at_most_once(
    warehouse: Settings, pg_server: Server, tmp_path: Path, smtp: SmtpServer
) -> None:
    from reports import delivery_log as log

    smtp.start()
    defs = define(tmp_path / "defs", "roster", email_dest(smtp, on_uncertain="hold"))
    _crash_run(warehouse, pg_server, defs, "after-send")
    assert len(smtp.messages) == 1
    held = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert [o.status for o in held.outcomes] == ["uncertain"] and held.problems
    assert len(smtp.messages) == 1
    # a person checked the mailbox and found nothing: release it, the next run sends it
    with pg_server.connect(warehouse.warehouse_db) as conn:
        assert log.release(conn, log.Key("roster", DAY, "CAS-OTT", "records-email"))
    sent = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert [o.status for o in sent.outcomes] == ["delivered"] and len(smtp.messages) == 2


def test_next_nights_run_retries_yesterdays_failed_send(
    warehouse: Settings, pg_server: Server, tmp_path: Path, smtp: SmtpServer
) -> None:
    defs = define(tmp_path / "defs", "roster", email_dest(smtp))
    monday = run_report(warehouse, load_one("roster", defs), DAY, agency="CAS-OTT", server=pg_server)
    assert [o.status for o in monday.outcomes] == ["failed"]  # SMTP down that night
    smtp.start()
    tuesday = run_report(
        warehouse, load_one("roster", defs), DAY + dt.timedelta(days=1), agency="CAS-OTT", server=pg_server
    )
    assert [(o.period, o.status) for o in tuesday.outcomes] == [
        ("2026-11-03", "delivered"),
        ("2026-11-04", "delivered"),
    ]
    assert sorted(name for _, name, _ in smtp.attachments()) == [
        "roster_CAS-OTT_2026-11-03.csv",
        "roster_CAS-OTT_2026-11-04.csv",
    ]
