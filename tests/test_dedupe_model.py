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
