"""The Splink model: EM estimation from household data, versioned files, twin-safe clustering."""

from __future__ import annotations

from pathlib import Path

import pytest

from cww.errors import CwwError
from data_quality.dedupe import model as m
from data_quality.dedupe.cluster import constrained_clusters
from data_quality.dedupe.evaluate import pairwise_score
from data_quality.dedupe.match import score_and_cluster
from data_quality.dedupe.normalise import name_family, person_frame
from data_quality.dedupe.synthetic import generate


def test_constrained_clustering_refuses_twin_chain() -> None:
    # a–b and b–c are strong, but a and c are twins: b joins one of them only.
    clusters = constrained_clusters(
        ["a", "b", "c"], [("a", "b", 0.99), ("b", "c", 0.98)], 0.95, cannot_link=[("a", "c")]
    )
    assert clusters["a"] == clusters["b"] != clusters["c"]
    # numeric ids: the master id is the numerically smallest member
    assert constrained_clusters(["10", "9"], [("10", "9", 0.99)], 0.95)["10"] == "9"


def test_pairwise_score_counts_pairs() -> None:
    s = pairwise_score({"1": "a", "2": "a", "3": "a", "4": "b"}, {"1": 1, "2": 1, "3": 2, "4": 2})
    assert (s.true_pairs, s.predicted_pairs, s.correct_pairs) == (2, 3, 1)
    assert s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(0.5)


def test_nickname_families_meet() -> None:
    assert set(name_family("jon")) & set(name_family("jonathan"))
    assert not set(name_family("bob")) & set(name_family("alice"))


def test_train_save_load_and_score(tmp_path: Path) -> None:
    df, _ = generate(n_families=400, seed=21)
    frame = person_frame(df)
    settings = m.train(frame)
    levels = {c["output_column_name"]: c["comparison_levels"] for c in settings["comparisons"]}
    exact_dob = next(lv for lv in levels["birth_date"] if lv["label_for_charts"] == "exact")
    # EM estimated it from the data: an exact birth date is strong evidence (m ≫ u)
    assert exact_dob["m_probability"] / exact_dob["u_probability"] > 100
    # the household-robust prior stays fixed: an unrelated given name is rare among true matches
    diff_given = next(lv for lv in levels["given_name"] if lv["label_for_charts"] == "different")
    assert diff_given["m_probability"] == pytest.approx(0.01)
    p1 = m.save_model(settings, "test", len(frame), models_dir=tmp_path)
    p2 = m.save_model(settings, "test", len(frame), models_dir=tmp_path)
    assert (p1.name, p2.name) == ("person_match_v1.json", "person_match_v2.json")
    doc = m.load_model(p2)
    assert doc["version"] == 2 and doc["match_threshold"] == m.MATCH_THRESHOLD
    result = score_and_cluster(frame, doc)
    truth = dict(zip(df["record_id"], df["true_id"], strict=True))
    score = pairwise_score(result.clusters, truth)
    assert score.precision >= 0.97 and score.recall >= 0.88, score.lines()
    with pytest.raises(CwwError, match="too few"):
        m.train(frame.head(50))


def test_committed_model_loads() -> None:
    doc = m.load_model()
    assert doc["version"] >= 1 and {"match_threshold", "review_threshold", "splink_settings"} <= set(doc)


def test_committed_model_weighs_the_provinces_evidence() -> None:
    """The saved model encodes what duplicates look like here (measured on the simulator's demo).

    A birth date is kept, swapped or dropped by migrations, so a *near* date is a sibling, not a
    typo; a family registered again at another agency shares its relatives' birth dates.
    """
    import math

    doc = m.load_model()
    comps = {c["output_column_name"]: c["comparison_levels"] for c in doc["splink_settings"]["comparisons"]}

    def weight(comp: str, label: str) -> float:
        lv = next(lv for lv in comps[comp] if lv["label_for_charts"] == label)
        return math.log2(lv["m_probability"] / lv["u_probability"])

    assert [lv["label_for_charts"] for lv in comps["birth_date"]] == [
        "null",
        "exact",
        "day/month swapped",
        "one-digit typo",
        "different",
    ]
    assert weight("birth_date", "exact") > 10 and weight("birth_date", "different") < -5
    assert weight("household", "same family (relatives)") > 5
    assert weight("household", "different family") < -3
    # common names count for less: term-frequency adjusted exact levels
    for comp in ("given_name", "surname"):
        exact = next(lv for lv in comps[comp] if lv["label_for_charts"] == "exact")
        assert exact["tf_adjustment_column"] == comp


def test_relative_of_the_other_is_never_merged() -> None:
    import pandas as pd

    from data_quality.dedupe.match import appears_among_relatives

    records = pd.DataFrame(
        {
            "record_id": ["1", "2", "3", "4", "5"],
            "given_name": ["Minh", "Minh", "Minh", "Linh", "Linh"],
            "surname": ["Nguyen"] * 5,
            "birth_date": [
                pd.Timestamp("1980-02-03").date(),  # the father, whose son is also called Minh
                None,  # the son's migrated copy without a birth date
                pd.Timestamp("2010-05-06").date(),  # the son
                pd.Timestamp("2012-07-08").date(),  # Linh, a real duplicate pair …
                pd.Timestamp("2012-07-08").date(),  # … whose relatives are the father and Minh
            ],
            "relative_birth_dates": [["2010-05-06"], None, ["1980-02-03"], ["1980-02-03"], ["2010-05-06"]],
            "relative_given_names": [["Minh"], None, ["Minh"], ["Minh"], ["Minh"]],
        }
    )
    frame = person_frame(records)
    pairs = pd.DataFrame({"id_l": ["1", "1", "4", "2"], "id_r": ["2", "3", "5", "3"]})
    # father ↔ son's copy without a birth date: nothing to tell them apart, left to the scores;
    # father ↔ son (named among his relatives, with that relative's birth date): refused;
    # Linh ↔ Linh: allowed; the son ↔ his own copy: allowed.
    assert appears_among_relatives(frame, pairs) == [False, True, False, False]


def test_block_keys_pair_exactly_what_the_blocking_rules_pair() -> None:
    """The nightly neighbourhood look-up (shared block keys) finds the same pairs as Splink's rules."""
    import random

    import duckdb

    df, _ = generate(n_families=300, seed=5)
    frame = person_frame(df)
    rng = random.Random(5)
    pool = sorted({d for d in frame["birth_date"] if isinstance(d, str)})[:40]  # shared relatives' dates
    frame["rel_dobs"] = [
        sorted(rng.sample(pool, rng.randint(1, 3))) if rng.random() < 0.7 else None for _ in range(len(frame))
    ]
    con = duckdb.connect()
    con.register("t", frame)
    expected: set[tuple[str, str]] = set()
    for rule in m.blocking_rules():
        if isinstance(rule, str):
            sql = (
                f"select l.unique_id, r.unique_id from t l join t r on {rule} where l.unique_id < r.unique_id"
            )
        else:
            col = rule["arrays_to_explode"][0]
            sql = (
                f"with e as (select * exclude ({col}), unnest({col}) as {col} from t)"
                f" select l.unique_id, r.unique_id from e l join e r on {rule['blocking_rule']}"
                " where l.unique_id < r.unique_id"
            )
        expected |= set(con.execute(sql).fetchall())
    stored = dict(zip(frame["unique_id"], m.block_keys(frame), strict=True))
    looked_for = dict(zip(frame["unique_id"], m.block_keys(frame, query=True), strict=True))
    holders: dict[str, set[str]] = {}
    for uid, keys in stored.items():
        for k in keys:
            holders.setdefault(k, set()).add(uid)
    found = {
        (min(a, b), max(a, b))
        for a, keys in looked_for.items()
        for k in keys
        for b in holders.get(k, ())
        if a != b
    }
    assert len(expected) > 100
    assert found == expected
