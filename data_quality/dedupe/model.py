"""The Splink person-matching model: comparisons, blocking rules, EM training, versioned files.

Why the comparisons look the way they do (see STACK.md, "Splink"):

* **Household evidence counts once.** Siblings share surname, street, postal code and phone. If
  each were its own comparison, their Bayes factors would add up and outweigh a different given
  name and birth date, and siblings would be merged. Street, postal code (history), FSA, city and
  phone are therefore *one* comparison (``household``) whose best level wins.
* **Twins are handled explicitly** (``cluster.py``): same surname, birth date and household but a
  different given name is a cannot-link, whatever the score; so is a recorded sibling/twin
  relationship between two records.
* **Canadian postal codes**: Splink's ``PostcodeComparison`` assumes UK codes; here the levels are
  the full code, then the forward sortation area (first three characters).
* **Birth dates** agree exactly, with day and month swapped (a classic migration error), with a
  one-digit typo, in year and month, or within a year.

The saved model is a JSON file in ``data_quality/models/`` named ``person_match_v<N>.json``: the
Splink settings with their estimated m/u parameters plus our metadata (version, thresholds, what it
was trained on). The highest version is used unless a path is given.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cww.errors import CwwError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"

# Pairs at or above this probability are the same person (merged into one master person).
# Chosen from the evaluation against the simulator's truth (README, "Data quality"): household
# data needs a high bar, because near-misses are usually siblings.
MATCH_THRESHOLD = 0.95
# DuckDB's own memory (Splink's blocking and scoring tables); beyond it DuckDB spills to disk.
DUCKDB_MEMORY_LIMIT = "2GB"
# Pairs at or above this probability are kept in person_match_pairs for records staff to review.
REVIEW_THRESHOLD = 0.50


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def comparisons() -> list[dict[str, Any]]:
    """The six comparisons (levels best first). Labels are what `person_match_pairs` reports.

    Exact name levels carry **term-frequency adjustments**: the simulated province (like the real
    one) has communities whose names come from small pools, so "Mei Wong" agreeing means far less
    than "Zbigniew Quequish" agreeing. Splink scales the exact-match weight by how common the
    value is in the data being matched.
    """
    given = {
        "output_column_name": "given_name",
        "comparison_description": "given name: exact, nickname family, middle-name swap, typo, phonetic",
        "comparison_levels": [
            _level("given_name_l is null or given_name_r is null", "null", is_null_level=True),
            _level("given_name_l = given_name_r", "exact", tf_adjustment_column="given_name"),
            _level("list_has_any(given_set_l, given_set_r)", "nickname"),
            _level("given_name_l = middle_name_r or middle_name_l = given_name_r", "middle name"),
            _level(
                "damerau_levenshtein(given_name_l, given_name_r) <= 1"
                " or jaro_winkler_similarity(given_name_l, given_name_r) >= 0.92",
                "typo",
            ),
            _level(
                "given_mp_l = given_mp_r or jaro_winkler_similarity(given_name_l, given_name_r) >= 0.8",
                "phonetic",
            ),
            # EM cannot tell twins and same-household namesakes from duplicates (they agree on
            # everything else), so it overestimates how often a true match has an unrelated given
            # name. Fixed from domain knowledge: migration noise keeps a recognisable given name.
            _level("else", "different", m_probability=0.01, fix_m_probability=True),
        ],
    }
    middle = {
        "output_column_name": "middle_name",
        "comparison_description": "middle name (often dropped by migrations: missing is not a disagreement)",
        "comparison_levels": [
            _level("middle_name_l is null or middle_name_r is null", "null", is_null_level=True),
            _level("middle_name_l = middle_name_r", "exact", tf_adjustment_column="middle_name"),
            _level("jaro_winkler_similarity(middle_name_l, middle_name_r) >= 0.88", "typo"),
            _level("else", "different"),
        ],
    }
    surname = {
        "output_column_name": "surname",
        "comparison_description": "surname: exact, typo, part of a double name, phonetic",
        "comparison_levels": [
            _level("surname_l is null or surname_r is null", "null", is_null_level=True),
            _level("surname_l = surname_r", "exact", tf_adjustment_column="surname"),
            _level(
                "damerau_levenshtein(surname_l, surname_r) <= 1"
                " or jaro_winkler_similarity(surname_l, surname_r) >= 0.92",
                "typo",
            ),
            _level("list_has_any(surname_tokens_l, surname_tokens_r)", "part of double name"),
            _level("surname_mp_l = surname_mp_r", "phonetic"),
            _level("else", "different"),
        ],
    }
    birth = {
        "output_column_name": "birth_date",
        "comparison_description": "birth date: exact, day/month swapped, one-digit typo; missing: neutral",
        "comparison_levels": [
            # Missing on one side (a migration dropped it) is neutral evidence: weight 0, and the
            # rest of the record must carry the match on its own (names are tf-adjusted, and the
            # household/family comparison separates namesakes from the same child).
            _level("birth_date_l is null or birth_date_r is null", "null", is_null_level=True),
            _level("birth_date_l = birth_date_r", "exact"),
            _level("dob_y_l = dob_y_r and dob_m_l = dob_d_r and dob_d_l = dob_m_r", "day/month swapped"),
            _level("damerau_levenshtein(birth_date_l, birth_date_r) <= 1", "one-digit typo"),
            # Same month or within a year are *not* levels of their own: in this province's data a
            # duplicate's birth date is exact, swapped or gone, so a near date is a sibling or a
            # namesake (measured: README, "Data quality"), not a typo. Fixed for the same reason
            # as given name: a sibling with the same name is not a duplicate.
            _level("else", "different", m_probability=0.005, fix_m_probability=True),
        ],
    }
    sex = {
        "output_column_name": "sex",
        "comparison_description": "sex (F/M; unknown is missing)",
        "comparison_levels": [
            _level("sex_l is null or sex_r is null", "null", is_null_level=True),
            _level("sex_l = sex_r", "exact"),
            # Boy/girl twins make EM think true matches often differ in sex; they rarely do.
            _level("else", "different", m_probability=0.02, fix_m_probability=True),
        ],
    }
    no_context = (
        "(street_{s} is null and postal_code_{s} is null and phone_{s} is null"
        " and postal_history_{s} is null and rel_dobs_{s} is null)"
    )
    household = {
        "output_column_name": "household",
        "comparison_description": (
            "household and family as ONE piece of evidence: address, phone, relatives, postal code history"
        ),
        "comparison_levels": [
            _level(
                f"{no_context.format(s='l')} or {no_context.format(s='r')}",
                "null",
                is_null_level=True,
            ),
            _level(
                "(street_l = street_r and (postal_code_l = postal_code_r or city_l = city_r))"
                " or phone_l = phone_r",
                "same address or phone",
            ),
            # A family that moved to another agency is registered again there: different address,
            # same mother and siblings (their birth dates agree).
            _level("list_has_any(rel_dobs_l, rel_dobs_r)", "same family (relatives)"),
            _level(
                "postal_code_l = postal_code_r or list_has_any(postal_history_l, postal_history_r)",
                "same postal code (any time)",
            ),
            # Both records have recorded relatives and not one birth date is shared: two families.
            _level("rel_dobs_l is not null and rel_dobs_r is not null", "different family"),
            _level("fsa_l = fsa_r or city_l = city_r", "same FSA or city"),
            _level("else", "different"),
        ],
    }
    return [given, middle, surname, birth, sex, household]


def blocking_rules() -> list[str | dict[str, Any]]:
    """Candidate pairs: each rule is cheap on its own; together they survive any two errors.

    Chosen by measuring, on the simulator's demo province, which duplicate pairs each rule finds
    that no other rule does, against the pairs of strangers it adds. Rules on names alone
    ("same given name and surname") are avoided: in communities whose names come from small
    pools their blocks grow with the square of the province (≈ 100 M pairs at provincial scale).
    A typo never touches a name's first letter, which the initials rules use. A missing birth
    date is caught through the household (postal code ever lived at, phone) or the family
    (a relative's birth date).
    """
    initials = (
        "substr(l.given_name, 1, 1) = substr(r.given_name, 1, 1)"
        " and substr(l.surname, 1, 1) = substr(r.surname, 1, 1)"
    )
    return [
        "l.birth_date = r.birth_date and l.surname_mp = r.surname_mp",
        "l.birth_date = r.birth_date and l.given_mp = r.given_mp",
        "l.dob_y = r.dob_y and l.dob_m = r.dob_d and l.dob_d = r.dob_m and l.surname_mp = r.surname_mp",
        f"l.birth_date = r.birth_date and {initials}",
        "l.birth_date = r.birth_date and l.middle_name = r.middle_name",
        "l.phone = r.phone and l.given_mp = r.given_mp",
        {
            "blocking_rule": (
                "l.postal_history = r.postal_history"
                " and substr(l.given_name, 1, 1) = substr(r.given_name, 1, 1)"
            ),
            "arrays_to_explode": ["postal_history"],
        },
        {
            "blocking_rule": "l.rel_dobs = r.rel_dobs and l.given_mp = r.given_mp",
            "arrays_to_explode": ["rel_dobs"],
        },
    ]


def _swap(y: Any, m: Any, d: Any) -> str | None:
    """The birth date with day and month swapped, as text (None when that is no date)."""
    if pd.isna(y) or pd.isna(m) or pd.isna(d) or int(d) > 12:
        return None
    return f"{int(y):04d}-{int(d):02d}-{int(m):02d}"


def block_keys(frame: pd.DataFrame, query: bool = False) -> list[list[str]]:
    """Per record, one key per blocking rule instance: two records share a key exactly when a
    rule of :func:`blocking_rules` would pair them (keep the two in step).

    The nightly run looks up a changed person's blocking neighbourhood through a GIN index on
    these keys. Looking up each rule's first column alone (a postal code ever lived at, a
    relative's birth date) returned ~10⁵ rows per night that the rule's second column then
    discarded. ``query=True`` adds the swapped-birth-date keys a record looks *for* (rule 3).
    """
    out: list[list[str]] = []
    cols = ["birth_date", "dob_y", "dob_m", "dob_d", "surname_mp", "given_mp", "given_name", "surname"]
    cols += ["middle_name", "phone", "postal_history", "rel_dobs"]
    for dob, y, m, d, smp, gmp, given, sur, middle, phone, postals, rel in frame[cols].itertuples(
        index=False
    ):
        keys: list[str] = []
        gi = given[:1] if isinstance(given, str) else None
        si = sur[:1] if isinstance(sur, str) else None
        smp = smp if isinstance(smp, str) else None
        gmp = gmp if isinstance(gmp, str) else None
        if isinstance(dob, str):
            keys += [f"ds:{dob}|{smp}"] if smp else []
            keys += [f"dg:{dob}|{gmp}"] if gmp else []
            keys += [f"di:{dob}|{gi}{si}"] if gi and si else []
            keys += [f"dm:{dob}|{middle}"] if isinstance(middle, str) else []
            swapped = _swap(y, m, d)
            if query and swapped and smp:
                keys.append(f"ds:{swapped}|{smp}")
        if isinstance(phone, str) and gmp:
            keys.append(f"pg:{phone}|{gmp}")
        if gi and postals is not None and not isinstance(postals, float):
            keys += [f"pc:{c}|{gi}" for c in postals]
        if gmp and rel is not None and not isinstance(rel, float):
            keys += [f"rg:{r}|{gmp}" for r in rel]
        out.append(sorted(set(keys)))
    return out


def base_settings() -> dict[str, Any]:
    """Untrained Splink settings (the m/u parameters come from `train`)."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons(),
        "blocking_rules_to_generate_predictions": blocking_rules(),
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "probability_two_random_records_match": 1e-5,
        "em_convergence": 0.001,
        "max_iterations": 20,
    }


# Deterministic rules for the prior: near-certain matches, used with an assumed recall.
DETERMINISTIC_RULES = [
    "l.given_name = r.given_name and l.surname = r.surname and l.birth_date = r.birth_date",
    "l.given_key = r.given_key and l.surname = r.surname and l.birth_date = r.birth_date"
    " and l.postal_code = r.postal_code",
]
DETERMINISTIC_RECALL = 0.6


def quiet_splink() -> None:
    """Splink logs every SQL step at INFO; the CLI shows its own progress instead."""
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class DuckTable:
    """Person frame rows already in a DuckDB table (FRAME_COLUMNS).

    The warehouse's full run streams a province into DuckDB batch by batch instead of holding
    it as one pandas frame: 1.7 M persons with their name and postal lists cost ~3 GB as Python
    objects, the same rows ~0.4 GB in DuckDB's columns.
    """

    con: Any  # duckdb.DuckDBPyConnection
    name: str


def duckdb_connection():  # type: ignore[no-untyped-def]
    """An in-memory DuckDB with bounded memory that spills to a private temporary folder."""
    import duckdb

    con = duckdb.connect()
    con.execute("set threads to 2")
    # Bounded memory (the provincial person table must match within 6 GB, Python included):
    # DuckDB spills blocking and scoring tables to disk beyond this instead of growing.
    con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    # One folder per process: concurrent runs must not share (and delete) each other's spill files.
    con.execute(f"set temp_directory = '{tempfile.gettempdir()}/cww_dedupe_duckdb_{os.getpid()}'")
    con.execute("set preserve_insertion_order = false")
    return con


def new_linker(source: pd.DataFrame | DuckTable, settings: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A DuckDB-backed Splink linker over a pandas frame (own connection) or a DuckDB table."""
    from splink import DuckDBAPI, Linker

    quiet_splink()
    if isinstance(source, DuckTable):
        db_api = DuckDBAPI(connection=source.con)
        table = db_api.register(source.name, table_name="persons")
    else:
        db_api = DuckDBAPI(connection=duckdb_connection())
        table = db_api.register(source, table_name="persons")
    return Linker(table, settings, log_level=logging.WARNING)


def input_table_name(linker) -> str:  # type: ignore[no-untyped-def]
    """The physical DuckDB table (or view) the linker matches."""
    return next(iter(linker._input_tables_dict.values())).physical_name


def estimate_prior(linker) -> None:  # type: ignore[no-untyped-def]
    """Set λ (the chance two random records match) for *this* data set.

    λ scales with the data set size (a 200-row CSV and a million-row warehouse differ by orders
    of magnitude), so it is re-estimated on every run from near-certain matches; a data set with
    none of those keeps a floor of one expected duplicate per hundred records.
    """
    # Counted in DuckDB (converting the input to pandas just to count it copied a province);
    # fetch everything: an open result blocks Splink's next query.
    n = linker._db_api._con.execute(f"select count(*) from {input_table_name(linker)}").fetchall()[0][0]
    floor = 0.01 / max(n - 1, 1)
    try:
        linker.training.estimate_probability_two_random_records_match(
            DETERMINISTIC_RULES, DETERMINISTIC_RECALL
        )
    except ValueError:
        linker._settings_obj._probability_two_random_records_match = floor
    settings = linker._settings_obj
    settings._probability_two_random_records_match = min(
        max(settings._probability_two_random_records_match, floor), 0.5
    )


def train(source: pd.DataFrame | DuckTable, seed: int = 42) -> dict[str, Any]:
    """Estimate the parameters from the data: u by random sampling, m by EM (three blockings)."""
    n = (
        source.con.execute(f"select count(*) from {source.name}").fetchall()[0][0]
        if isinstance(source, DuckTable)
        else len(source)
    )
    if n < 200:
        raise CwwError(
            f"only {n} person records: too few to estimate a model (need ≥ 200). "
            "Fix: use the saved model (omit --train)."
        )
    linker = new_linker(source, base_settings())
    estimate_prior(linker)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=seed)
    # Each session blocks on fields whose agreement is near-certain for duplicates and rare for
    # namesakes, so EM's "match" class is the duplicates (blocking on names alone makes it
    # "people called the same", the v1 mistake: a near birth date then looked like a typo).
    # Same household, same given name: estimates surname, middle name, birth date and sex.
    linker.training.estimate_parameters_using_expectation_maximisation(
        "l.street = r.street and l.given_key = r.given_key"
    )
    # Same birth date and surname: estimates the given and middle names, sex and the household.
    linker.training.estimate_parameters_using_expectation_maximisation(
        "l.birth_date = r.birth_date and l.surname = r.surname"
    )
    # Same given name and birth date: estimates the surname, middle name and the household.
    linker.training.estimate_parameters_using_expectation_maximisation(
        "l.given_name = r.given_name and l.birth_date = r.birth_date"
    )
    return linker.misc.save_model_to_json()


# --------------------------------------------------------------------------- versioned files


def model_path(version: int) -> Path:
    return MODELS_DIR / f"person_match_v{version}.json"


def latest_version(models_dir: Path = MODELS_DIR) -> int | None:
    versions = [
        int(m.group(1))
        for p in models_dir.glob("person_match_v*.json")
        if (m := re.fullmatch(r"person_match_v(\d+)\.json", p.name))
    ]
    return max(versions) if versions else None


def save_model(
    splink_settings: dict[str, Any], trained_on: str, n_records: int, models_dir: Path = MODELS_DIR
) -> Path:
    """Write the next version; earlier versions stay so a run can always name what it used."""
    version = (latest_version(models_dir) or 0) + 1
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f"person_match_v{version}.json"
    doc = {
        "version": version,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trained_on": trained_on,
        "n_records": n_records,
        "match_threshold": MATCH_THRESHOLD,
        "review_threshold": REVIEW_THRESHOLD,
        "splink_settings": splink_settings,
    }
    path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return path


def load_model(path: Path | None = None) -> dict[str, Any]:
    """The model document (metadata + ``splink_settings``); the newest version by default."""
    if path is None:
        version = latest_version()
        if version is None:
            raise CwwError(
                f"no saved person-matching model in {MODELS_DIR}. Fix: `cww dedupe run --full --train`."
            )
        path = model_path(version)
    if not path.exists():
        raise CwwError(f"model file {path} does not exist. Fix: name an existing person_match_v*.json.")
    doc = json.loads(path.read_text())
    if "splink_settings" not in doc:
        raise CwwError(f"{path} is not a person-matching model (no 'splink_settings').")
    doc["path"] = str(path)
    return doc
