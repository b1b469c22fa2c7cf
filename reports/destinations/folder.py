"""A local or mounted folder: write beside, fsync, rename — readers never see half a file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cww.settings import Settings
from reports.destinations.base import DeliveryError, SendContext
from reports.produce import sha256_file
from reports.spec import FolderDestination


class FolderSender:
    def __init__(self, dest: FolderDestination, settings: Settings) -> None:
        self.dest = dest
        self.settings = settings
        self.key = dest.key

    def directory(self, ctx: SendContext) -> Path:
        return Path(self.dest.path.format(home=self.settings.home, report=ctx.report, agency=ctx.agency))

    def holds(self, ctx: SendContext) -> bool:
        target = self.directory(ctx) / ctx.file_name
        return target.is_file() and sha256_file(target) == ctx.checksum

    def send(self, path: Path, ctx: SendContext) -> str:
        folder = self.directory(ctx)
        target = folder / ctx.file_name
        part = folder / f".{ctx.file_name}.part"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with path.open("rb") as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(part, target)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise DeliveryError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return str(target)
