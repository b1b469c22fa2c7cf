"""Reading an agency's CSV of person records for pre-migration screening (`cww dedupe file`).

Legacy exports are messy, so the reader is forgiving where it can be and precise where it cannot:
header names are matched loosely (``First Name``, ``given_name``, ``prenom`` …), unknown columns
are ignored, missing ones are treated as unknown values; but a file that cannot be read correctly
(not UTF-8, no id column, a repeated id, a birth date that is not a date) stops with the line
number and the fix, because silently guessing would produce wrong merges.

Documented columns (any order, header names case-insensitive):

========================  ===================================================================
column                    accepted header names
========================  ===================================================================
record id (required)      record_id, id, person_id, client_id, legacy_id
given name                given_name, first_name, firstname, given, forename, prenom
middle name               middle_name, middle
surname                   surname, last_name, lastname, family_name, nom
birth date                birth_date, dob, date_of_birth, birthdate — YYYY-MM-DD, YYYYMMDD,
                          YYYY/MM/DD or DD/MM/YYYY (MM/DD/YYYY with ``--month-first``)
sex                       sex, gender, sex_code (F/M; anything else is unknown)
address                   address, street, street_address, address_line_1
city                      city, town, municipality
postal code               postal_code, postcode, postal, zip
phone                     phone, telephone, phone_number
========================  ===================================================================
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from cww.errors import CwwError

ALIASES: dict[str, tuple[str, ...]] = {
    "record_id": ("record_id", "id", "person_id", "client_id", "legacy_id", "recordid"),
    "given_name": ("given_name", "first_name", "firstname", "given", "forename", "prenom"),
    "middle_name": ("middle_name", "middle", "middlename"),
    "surname": ("surname", "last_name", "lastname", "family_name", "nom"),
    "birth_date": ("birth_date", "dob", "date_of_birth", "birthdate"),
    "sex": ("sex", "gender", "sex_code"),
    "street": ("address", "street", "street_address", "address_line_1", "address1"),
    "city": ("city", "town", "municipality"),
    "postal_code": ("postal_code", "postcode", "postal", "zip", "zip_code"),
    "phone": ("phone", "telephone", "phone_number"),
}
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SLASHED = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


class CsvInputError(CwwError):
    """A CSV problem with its line number and the fix."""


@dataclass
class PersonCsv:
    records: pd.DataFrame
    ignored_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def parse_date(text: str, month_first: bool = False) -> date | None:
    """A birth date, or ValueError; empty text is a missing date."""
    text = text.strip()
    if not text:
        return None
    if m := _ISO.match(text) or _COMPACT.match(text):
        y, mo, d = (int(g) for g in m.groups())
    elif m := _SLASHED.match(text):
        a, b, y = (int(g) for g in m.groups())
        d, mo = (b, a) if month_first else (a, b)
        if mo > 12 >= d:  # unambiguous the other way round
            d, mo = mo, d
    else:
        raise ValueError(text)
    return date(y, mo, d)


def _decode(raw: bytes, path: Path, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise CsvInputError(
            f"{path}: line {line}, column {col}: byte 0x{raw[exc.start]:02X} is not valid {encoding}. "
            "Fix: re-save the file as UTF-8, or name its encoding with --encoding (e.g. cp1252)."
        ) from None


def read_person_csv(path: Path, encoding: str = "utf-8-sig", month_first: bool = False) -> PersonCsv:
    """Read and validate the CSV; raises CsvInputError naming the line on the first problem."""
    if not path.exists():
        raise CsvInputError(f"{path}: no such file.")
    text = _decode(path.read_bytes(), path, encoding)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvInputError(f"{path}: line 1: the file is empty. Fix: export it with a header row.") from None
    lookup = {alias: canon for canon, aliases in ALIASES.items() for alias in aliases}
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for i, name in enumerate(header):
        canon = lookup.get(_key(name))
        if canon and canon not in positions:
            positions[canon] = i
        else:
            ignored.append(name)
    if "record_id" not in positions:
        raise CsvInputError(
            f"{path}: line 1 (header): no record id column among {header!r}. "
            f"Fix: name one column {' / '.join(ALIASES['record_id'][:3])}."
        )
    rows: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        values = {canon: (row[i].strip() if i < len(row) else "") for canon, i in positions.items()}
        rid = str(values["record_id"])
        if not rid:
            raise CsvInputError(f"{path}: line {line}: empty record id. Fix: give every row an id.")
        if rid in seen:
            raise CsvInputError(
                f"{path}: line {line}: record id {rid!r} already used on line {seen[rid]}. "
                "Fix: make record ids unique (or remove the repeated row)."
            )
        seen[rid] = line
        if "birth_date" in values:
            raw_date = str(values["birth_date"])
            try:
                values["birth_date"] = parse_date(raw_date, month_first)
            except ValueError:
                raise CsvInputError(
                    f"{path}: line {line}: birth date {raw_date!r} of record {rid!r} is not a date. "
                    "Fix: use YYYY-MM-DD (or DD/MM/YYYY), or leave it empty if unknown."
                ) from None
        rows.append({k: (v if v != "" else None) for k, v in values.items()})
    columns = list(ALIASES)
    records = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in positions]
    return PersonCsv(records=records, ignored_columns=ignored, missing_columns=missing)
