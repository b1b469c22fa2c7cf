"""Turn raw person records (warehouse rows or a CSV) into the one frame the matcher compares.

Matching quality is decided here more than in the model: the same child is "Jonathan Smith" at
one agency and "JON SMYTH" at another. Names are reduced to lower-case ASCII letters, expanded
with their nickname family (the ``nicknames`` table) and a phonetic code (``jellyfish``), postal
codes to the Canadian ``A1A1A1`` form plus their forward sortation area, streets to a canonical
spelling, and birth dates split into parts so swapped day/month can be recognised.

A record's **relatives** (parents, siblings recorded at its agency) are reduced to two lists: their
birth dates and their given names. When a family moves to another agency, the whole family is
registered again there, so the same child's two records share their mother's and siblings' birth
dates even when every address differs; two namesakes from different families share none.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

import jellyfish
import pandas as pd

# Columns of the matcher's input frame, in order. ``unique_id`` is always text (leading zeros).
FRAME_COLUMNS = [
    "unique_id",
    "given_name",
    "middle_name",
    "given_set",
    "given_key",
    "given_mp",
    "surname",
    "surname_tokens",
    "surname_mp",
    "birth_date",
    "dob_y",
    "dob_m",
    "dob_d",
    "sex",
    "street",
    "city",
    "postal_code",
    "fsa",
    "postal_history",
    "phone",
    "rel_dobs",
    "rel_names",
]

_POSTAL = re.compile(r"^[A-Z]\d[A-Z]\d[A-Z]\d$")
_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "court": "crt",
    "ct": "crt",
    "crescent": "cres",
    "place": "pl",
    "lane": "ln",
    "terrace": "terr",
    "highway": "hwy",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "apt",
    "suite": "apt",
    "unit": "apt",
}


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value))


def ascii_lower(value: object) -> str | None:
    """Lower-case ASCII letters, digits and single spaces; None for empty/missing values."""
    if _missing(value):
        return None
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text or None


def clean_name(value: object) -> str | None:
    """A name as letters and single spaces ("O'Brien-Smith" → "obrien smith")."""
    if _missing(value):
        return None
    text = ascii_lower(str(value).replace("'", "").replace("’", ""))
    if text is None:
        return None
    text = re.sub(r"[0-9]+", "", text).strip()
    return re.sub(r"\s+", " ", text) or None


@lru_cache(maxsize=1)
def _nicknamer():  # type: ignore[no-untyped-def]
    from nicknames import NickNamer

    return NickNamer()


@lru_cache(maxsize=200_000)
def name_family(name: str) -> tuple[str, ...]:
    """The name, its canonical forms and the names it is a nickname of (sorted, for arrays).

    Two given names "agree as nicknames" when their families overlap: jon ↔ jonathan ↔ john.
    Only the canonical side is expanded (not every nickname of a canonical), so "bob" and
    "bert" do not meet through "robert" unless one of them *is* robert.
    """
    nn = _nicknamer()
    family = {name}
    for token in name.split(" "):
        family.add(token)
        family |= nn.canonicals_of(token)
    return tuple(sorted(family))


@lru_cache(maxsize=200_000)
def phonetic(name: str) -> str:
    """Metaphone of the first token: the key blocking rules and the phonetic level use."""
    first = name.split(" ")[0]
    return jellyfish.metaphone(first) or first


def clean_postal(value: object) -> str | None:
    """Canadian postal code as ``A1A1A1``; None when it is not one (never guessed)."""
    if _missing(value):
        return None
    text = re.sub(r"[^A-Za-z0-9]", "", str(value)).upper()
    return text if _POSTAL.match(text) else None


def clean_street(value: object) -> str | None:
    """Street address with common words abbreviated the same way ("12 Main Street" = "12 main st")."""
    text = ascii_lower(value)
    if text is None:
        return None
    return " ".join(_STREET_WORDS.get(w, w) for w in text.split(" "))


def clean_sex(value: object) -> str | None:
    """F or M; unknown / unspecified codes (U, X, blank) are missing, not a disagreement."""
    text = ascii_lower(value)
    if text is None:
        return None
    first = text[0].upper()
    return first if first in ("F", "M") else None


def clean_phone(value: object) -> str | None:
    """The last ten digits of a phone number; shorter numbers are not comparable."""
    if _missing(value):
        return None
    digits = re.sub(r"\D", "", str(value))
    return digits[-10:] if len(digits) >= 10 else None


def _as_date(value: object) -> date | None:
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _date_list(values: object) -> list[str] | None:
    """Sorted distinct ISO dates of a list (None when there are none: unknown, not "no relatives")."""
    if not isinstance(values, list | tuple):
        return None
    out = {d.isoformat() for d in (_as_date(v) for v in values) if d}
    out |= {v for v in values if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)}
    return sorted(out) or None


def _name_list(values: object) -> list[str] | None:
    if not isinstance(values, list | tuple):
        return None
    out = {n for n in (clean_name(v) for v in values) if n}
    return sorted(out) or None


def person_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The matcher's input frame from raw person records.

    ``records`` has ``record_id`` and any of: given_name, middle_name, surname, birth_date (a
    date or None), sex, street, city, postal_code, phone, postal_history (list of postal codes
    the person has lived at), relative_birth_dates and relative_given_names (lists, from the
    recorded relationships). Missing columns are treated as missing values.
    """
    n = len(records)

    def col(name: str) -> list[object]:
        return records[name].tolist() if name in records.columns else [None] * n

    given = [clean_name(v) for v in col("given_name")]
    middle = [clean_name(v) for v in col("middle_name")]
    surname = [clean_name(v) for v in col("surname")]
    dobs = [_as_date(v) for v in col("birth_date")]
    postal = [clean_postal(v) for v in col("postal_code")]
    history_in = col("postal_history")
    history: list[list[str] | None] = []
    for current, hist in zip(postal, history_in, strict=True):
        codes = {c for c in (clean_postal(h) for h in (hist if isinstance(hist, list | tuple) else [])) if c}
        if current:
            codes.add(current)
        history.append(sorted(codes) or None)
    families = [list(name_family(g)) if g else None for g in given]
    frame = pd.DataFrame(
        {
            "unique_id": [str(v) for v in records["record_id"].tolist()],
            "given_name": given,
            "middle_name": middle,
            "given_set": families,
            "given_key": [min(f) if f else None for f in families],
            "given_mp": [phonetic(g) if g else None for g in given],
            "surname": surname,
            "surname_tokens": [s.split(" ") if s else None for s in surname],
            "surname_mp": [phonetic(s.replace(" ", "")) if s else None for s in surname],
            "birth_date": [d.isoformat() if d else None for d in dobs],
            "dob_y": pd.array([d.year if d else None for d in dobs], dtype="Int32"),
            "dob_m": pd.array([d.month if d else None for d in dobs], dtype="Int32"),
            "dob_d": pd.array([d.day if d else None for d in dobs], dtype="Int32"),
            "sex": [clean_sex(v) for v in col("sex")],
            "street": [clean_street(v) for v in col("street")],
            "city": [ascii_lower(v) for v in col("city")],
            "postal_code": postal,
            "fsa": [p[:3] if p else None for p in postal],
            "postal_history": history,
            "phone": [clean_phone(v) for v in col("phone")],
            "rel_dobs": [_date_list(v) for v in col("relative_birth_dates")],
            "rel_names": [_name_list(v) for v in col("relative_given_names")],
        }
    )
    return frame[FRAME_COLUMNS]
