"""What a report definition may say, as pydantic models.

A definition is data kept in git (``reports/definitions/*.yaml``); these models are the one place
its shape is decided, so the CLI, Dagster and tests all reject the same mistakes the same way. The
loader (``reports.loading``) maps pydantic's error locations back to YAML lines.

Secrets never appear here: a destination names the *environment variable* that holds a password
or key (``password_env``), never the secret itself.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reports.windows import validate_cron

PROVINCIAL = "PROVINCIAL"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
QUALIFIED_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    """Unknown keys are errors: a typo like ``pasword_env`` must not silently mean 'no password'."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CsvOptions(_Strict):
    """How the file is written. BOM and line ending can be overridden per destination."""

    bom: bool = False  # Excel on Windows needs the UTF-8 BOM to show accents correctly
    line_ending: Literal["lf", "crlf"] = "crlf"
    delimiter: Literal[",", ";", "\t"] = ","
    true_text: str = "yes"
    false_text: str = "no"


class Column(_Strict):
    """One output column: the view's column and the heading people see."""

    column: str
    heading: str

    @field_validator("column")
    @classmethod
    def _plain_identifier(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
            raise ValueError(f"column {v!r} must be a plain column name of the view")
        return v


class SortKey(_Strict):
    column: str
    descending: bool = False


class Retry(_Strict):
    """Failed sends are retried by later runs, waiting longer each time; after the last, a failure."""

    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff_minutes: float = Field(default=30.0, ge=0)


class _DestinationBase(_Strict):
    id: str | None = None  # stable key in the delivery log; derived from the target when omitted
    agencies: Literal["*"] | list[str] = "*"  # agency codes, "PROVINCIAL", or every file
    bom: bool | None = None  # overrides CsvOptions.bom for this destination
    line_ending: Literal["lf", "crlf"] | None = None

    def applies_to(self, agency: str) -> bool:
        return self.agencies == "*" or agency in self.agencies

    def secret_envs(self) -> dict[str, str]:
        """Key name → environment variable name, for every secret this destination needs."""
        return {}


class FolderDestination(_DestinationBase):
    """A local or mounted shared folder. ``{home}``, ``{report}``, ``{agency}`` are substituted."""

    type: Literal["folder"]
    path: str

    @property
    def key(self) -> str:
        return self.id or f"folder:{self.path}"


class EmailDestination(_DestinationBase):
    """SMTP with STARTTLS and login; the CSV goes as an attachment."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str = Field(alias="from")
    smtp_host: str
    smtp_port: int = 587
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    tls_ca_file: str | None = None  # a private CA / self-signed server certificate to trust
    timeout_seconds: float = 30.0
    # What to do when a previous attempt may or may not have reached the server (a crash between
    # the server's "250 OK" and our log write): "resend" = at-least-once with the same Message-ID
    # (mail systems that dedupe on it show one message); "hold" = at-most-once, flag for a person.
    on_uncertain: Literal["resend", "hold"] = "resend"

    @property
    def key(self) -> str:
        return self.id or "email:" + ",".join(sorted(a.lower() for a in self.to))

    def secret_envs(self) -> dict[str, str]:
        out = {}
        if self.username_env:
            out["username_env"] = self.username_env
        if self.password_env:
            out["password_env"] = self.password_env
        return out

    @model_validator(mode="after")
    def _login_needs_tls(self) -> EmailDestination:
        if self.password_env and not self.starttls:
            raise ValueError("a password is never sent without STARTTLS: set starttls: true")
        if bool(self.username_env) != bool(self.password_env):
            raise ValueError("username_env and password_env go together (SMTP login needs both)")
        return self


class SftpDestination(_DestinationBase):
    """Key-based SFTP upload; written as ``.part`` then renamed so readers never see half a file."""

    type: Literal["sftp"]
    host: str
    port: int = 22
    username: str
    directory: str = "."
    private_key_env: str  # the key itself (PEM text) or a path to it, in this environment variable
    passphrase_env: str | None = None
    host_key_sha256: str | None = None  # "SHA256:…" as ssh-keygen -l prints; else known_hosts
    timeout_seconds: float = 30.0

    @property
    def key(self) -> str:
        return self.id or f"sftp:{self.username}@{self.host}:{self.port}/{self.directory}"

    def secret_envs(self) -> dict[str, str]:
        out = {"private_key_env": self.private_key_env}
        if self.passphrase_env:
            out["passphrase_env"] = self.passphrase_env
        return out


Destination = Annotated[FolderDestination | EmailDestination | SftpDestination, Field(discriminator="type")]


class ReportDefinition(_Strict):
    """One report: what it reads, how it looks, when it runs, where it goes."""

    name: str
    title: str
    description: str = ""
    view: str | None = None  # schema.view in the warehouse (normally reporting.*)
    sql: str | None = None  # alternative to view: a SELECT; may use %(period_start)s / %(period_end)s
    optional: bool = False  # the view may not exist yet: skip with a message instead of failing
    columns: list[Column] = Field(min_length=1)
    sort: list[SortKey] = Field(default_factory=list)
    date_column: str | None = None  # rows with period_start <= date_column < period_end
    split: list[Literal["per_agency", "provincial"]] = Field(min_length=1)
    provincial_role: Literal["analyst", "pipeline"] = "analyst"
    schedule: str  # cron, evaluated in America/Toronto
    csv: CsvOptions = Field(default_factory=CsvOptions)
    file_name: str = "{report}_{agency}_{period}.csv"
    retry: Retry = Field(default_factory=Retry)
    upstream: list[str] = Field(default_factory=list)  # dbt models read, for Dagster lineage
    destinations: list[Destination] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("name must be lower_snake_case (it is used in file names and asset keys)")
        return v

    @field_validator("view")
    @classmethod
    def _view(cls, v: str | None) -> str | None:
        if v is not None and not QUALIFIED_RE.match(v):
            raise ValueError(f"view {v!r} must be schema-qualified, e.g. reporting.children_in_care_current")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        validate_cron(v)
        return v

    @field_validator("file_name")
    @classmethod
    def _file_name(cls, v: str) -> str:
        for part in ("{report}", "{agency}", "{period}"):
            if part not in v:
                raise ValueError(f"file_name must contain {part} so files never overwrite each other")
        if "/" in v or "\\" in v:
            raise ValueError("file_name is a name, not a path")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ReportDefinition:
        if (self.view is None) == (self.sql is None):
            raise ValueError("give exactly one of view: or sql:")
        names = [c.column for c in self.columns]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"columns listed twice: {sorted(dupes)}")
        keys = [d.key for d in self.destinations]
        if len(set(keys)) != len(keys):
            raise ValueError("two destinations share an id; give them distinct id: values")
        return self

    def units(self, agency_codes: list[str]) -> list[str]:
        """The files this report produces: agency codes and/or PROVINCIAL."""
        out: list[str] = []
        if "per_agency" in self.split:
            out.extend(agency_codes)
        if "provincial" in self.split:
            out.append(PROVINCIAL)
        return out
