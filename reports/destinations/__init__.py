"""Delivery backends: folder, email (SMTP + STARTTLS + login), SFTP (key-based).

Each backend can ``send`` a file and, where the destination allows it, say whether it already
``holds`` a file with a given checksum — that question is what makes a re-send after a crash
idempotent. Email cannot be asked (``holds`` returns None); see EmailSender for the trade-off.
"""

from __future__ import annotations

from pathlib import Path

from cww.settings import Settings
from reports.destinations.base import SendContext, Sender
from reports.destinations.email import EmailSender
from reports.destinations.folder import FolderSender
from reports.destinations.sftp import SftpSender
from reports.spec import EmailDestination, FolderDestination, SftpDestination


def sender_for(dest: FolderDestination | EmailDestination | SftpDestination, settings: Settings) -> Sender:
    if isinstance(dest, FolderDestination):
        return FolderSender(dest, settings)
    if isinstance(dest, EmailDestination):
        return EmailSender(dest)
    return SftpSender(dest)


__all__ = ["EmailSender", "FolderSender", "Path", "SendContext", "Sender", "SftpSender", "sender_for"]
