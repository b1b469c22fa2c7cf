"""SFTP upload with a private key (from the environment), host key pinned or from known_hosts.

Upload goes to ``<name>.part`` and is renamed when complete, so the agency's import job never picks
up half a file. ``holds`` reads the remote file back and compares its SHA-256: after a crash
between upload and log write, the next run sees the file is already there and does not re-send.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import posixpath
import socket
from pathlib import Path

import paramiko

from reports.destinations.base import DeliveryError, SendContext, secret
from reports.spec import SftpDestination


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:…`` fingerprint, as `ssh-keygen -lf` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def load_private_key(value: str, passphrase: str | None) -> paramiko.PKey:
    """The key itself (PEM / OpenSSH text) or a path to it."""
    if "-----BEGIN" in value:
        errors = []
        for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return cls.from_private_key(io.StringIO(value), password=passphrase)
            except (paramiko.SSHException, ValueError) as exc:
                errors.append(f"{cls.__name__}: {exc}")
        raise DeliveryError(f"the SFTP private key could not be read ({'; '.join(errors)})")
    path = Path(value).expanduser()
    if not path.is_file():
        raise DeliveryError(f"the SFTP private key file {path} does not exist")
    try:
        return paramiko.PKey.from_path(path, passphrase=passphrase.encode() if passphrase else None)
    except (paramiko.SSHException, ValueError) as exc:
        raise DeliveryError(f"the SFTP private key {path} could not be read: {exc}") from exc


class SftpSender:
    def __init__(self, dest: SftpDestination) -> None:
        self.dest = dest
        self.key = dest.key

    def _verify_host(self, transport: paramiko.Transport) -> None:
        d = self.dest
        server_key = transport.get_remote_server_key()
        if d.host_key_sha256:
            if fingerprint(server_key) != d.host_key_sha256:
                raise DeliveryError(
                    f"SFTP host key of {d.host}:{d.port} is {fingerprint(server_key)}, expected "
                    f"{d.host_key_sha256}: refusing to upload (possible interception)"
                )
            return
        known = paramiko.HostKeys()
        path = os.path.expanduser("~/.ssh/known_hosts")
        if os.path.exists(path):
            known.load(path)
        name = d.host if d.port == 22 else f"[{d.host}]:{d.port}"
        if not known.check(name, server_key):
            raise DeliveryError(
                f"SFTP host {name} is not in ~/.ssh/known_hosts with this key ({fingerprint(server_key)}). "
                "Fix: add it, or pin host_key_sha256 in the definition."
            )

    def _connect(self) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
        d = self.dest
        pkey = load_private_key(
            secret(d.private_key_env), secret(d.passphrase_env) if d.passphrase_env else None
        )
        try:
            sock = socket.create_connection((d.host, d.port), timeout=d.timeout_seconds)
        except OSError as exc:
            raise DeliveryError(f"cannot reach SFTP server {d.host}:{d.port}: {exc}") from exc
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=d.timeout_seconds)
            self._verify_host(transport)
            transport.auth_publickey(d.username, pkey)
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise DeliveryError(f"SFTP server {d.host}:{d.port} refused the sftp subsystem")
            sftp.get_channel().settimeout(d.timeout_seconds)
            return transport, sftp
        except paramiko.AuthenticationException as exc:
            transport.close()
            raise DeliveryError(
                f"SFTP login as {d.username}@{d.host}:{d.port} with the key in ${d.private_key_env} was "
                f"refused: {exc}. Fix: add its public key to the server's authorized keys."
            ) from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            raise DeliveryError(f"SFTP session with {d.host}:{d.port} failed: {exc}") from exc
        except BaseException:
            transport.close()
            raise

    def _remote(self, ctx: SendContext) -> str:
        return posixpath.join(self.dest.directory, ctx.file_name)

    def holds(self, ctx: SendContext) -> bool:
        transport, sftp = self._connect()
        try:
            try:
                with sftp.open(self._remote(ctx), "rb") as fh:
                    fh.prefetch()
                    h = hashlib.sha256()
                    for chunk in iter(lambda: fh.read(1 << 16), b""):
                        h.update(chunk)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise DeliveryError(
                    f"cannot read back {self._remote(ctx)} on {self.dest.host}: {exc}"
                ) from exc
            return h.hexdigest() == ctx.checksum
        finally:
            sftp.close()
            transport.close()

    def send(self, path: Path, ctx: SendContext) -> str:
        remote = self._remote(ctx)
        part = remote + ".part"
        transport, sftp = self._connect()
        try:
            try:
                attrs = sftp.put(str(path), part, confirm=True)
                if attrs.st_size != path.stat().st_size:
                    raise DeliveryError(
                        f"uploaded {part} has {attrs.st_size} bytes, expected {path.stat().st_size}"
                    )
                try:
                    sftp.posix_rename(part, remote)
                except OSError:
                    # Servers without the posix-rename extension: plain rename refuses to overwrite.
                    with contextlib.suppress(FileNotFoundError):
                        sftp.remove(remote)
                    sftp.rename(part, remote)
            except (OSError, paramiko.SSHException, EOFError) as exc:
                raise DeliveryError(
                    f"upload of {remote} to {self.dest.host}:{self.dest.port} failed: {exc}"
                ) from exc
        finally:
            sftp.close()
            transport.close()
        d = self.dest
        return f"sftp://{d.username}@{d.host}:{d.port}/{remote.lstrip('/')} ({path.stat().st_size} bytes)"
