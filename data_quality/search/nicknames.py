"""The nickname table person search loads into PostgreSQL, from the ``nicknames`` package.

Why a table in the database: the search runs inside PostgreSQL (any client, Superset, psql can call
it), so the nickname knowledge has to live there too. The package is a curated English
name ↔ nickname list (the one the simulator's migration noise and the duplicate matcher use), so
search, matching and the simulated data agree on what a nickname is.

Two strengths: a direct relation ("jon" ↔ "jonathan", either direction) and two names that are
both nicknames of the same formal name ("jon" ~ "johnny" through "john"), which is weaker.
"""

from __future__ import annotations

import re
from importlib.metadata import version

DIRECT = 0.9
SHARED_FORMAL_NAME = 0.75

_NOT_LETTER = re.compile(r"[^a-z]")


def _clean(name: str) -> str:
    """Same shape search.norm() gives a single name token: lower-case ASCII letters only."""
    return _NOT_LETTER.sub("", name.lower())


def nickname_pairs() -> list[tuple[str, str, float]]:
    """(name, related name, similarity) in both directions, strongest relation kept per pair."""
    from nicknames import NickNamer

    namer = NickNamer()
    best: dict[tuple[str, str], float] = {}

    def add(a: str, b: str, sim: float) -> None:
        a, b = _clean(a), _clean(b)
        if a and b and a != b and best.get((a, b), 0.0) < sim:
            best[(a, b)] = sim

    for formal, nicks in namer.nickname_lookup.items():
        for nick in nicks:
            add(formal, nick, DIRECT)
            add(nick, formal, DIRECT)
        for a in nicks:
            for b in nicks:
                add(a, b, SHARED_FORMAL_NAME)
    return sorted((a, b, s) for (a, b), s in best.items())


def nicknames_version() -> str:
    """Identifies the table's content: reloaded only when the package (or this rule) changes."""
    return f"nicknames {version('nicknames')} / direct {DIRECT} / shared {SHARED_FORMAL_NAME}"
