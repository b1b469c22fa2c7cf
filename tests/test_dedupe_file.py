"""`cww dedupe file`: real Splink matching of a noisy CSV, and clear errors for bad CSVs."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cww.errors import CwwError
from data_quality.cli import app
from data_quality.dedupe.csv_input import read_person_csv
from data_quality.dedupe.evaluate import pairwise_score
from data_quality.dedupe.screening import dedupe_file
from data_quality.dedupe.synthetic import generate

COLUMNS = ["record_id", "given_name", "surname", "birth_date", "sex", "street", "city", "postal_code"]


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A CSV with household structure, twins and migration noise; headers spelled loosely."""
    df, _ = generate(n_families=120, seed=5)
    path = tmp_path_factory.mktemp("csv") / "persons.csv"
    out = df[COLUMNS].rename(columns={"given_name": "First Name", "street": "Address", "record_id": "ID"})
    out["favourite_colour"] = "blue"  # unknown column: ignored
    out.to_csv(path, index=False)
    return path, df


def test_file_clusters_match_truth_and_never_merge_twins(noisy, tmp_path: Path) -> None:
    path, df = noisy
    out = tmp_path / "clusters.csv"
    lines = dedupe_file(path, out, pairs_path=tmp_path / "pairs.csv")
    assert any("ignored columns: favourite_colour" in ln for ln in lines)
    assert any("middle_name" in ln and "phone" in ln for ln in lines)  # missing columns tolerated
    clusters = pd.read_csv(out, dtype=str)
    assert len(clusters) == len(df) and clusters["record_id"].is_unique
    mapping = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
    truth = dict(zip(df["record_id"], df["true_id"], strict=True))
    score = pairwise_score(mapping, truth)
    assert score.true_pairs > 50
    assert score.precision >= 0.97, score.lines()
    assert score.recall >= 0.85, score.lines()
    # twins: two true people sharing surname, birth date and household, never one cluster
    twins = df[df["is_twin"]]
    assert twins["true_id"].nunique() >= 4
    for _, group in twins.groupby(["surname", "birth_date"]):
        if group["true_id"].nunique() > 1:
            per_person = group.groupby("true_id")["record_id"].apply(lambda s: {mapping[r] for r in s})
            sets = list(per_person)
            assert not (sets[0] & sets[1]), group
    pairs = pd.read_csv(tmp_path / "pairs.csv")
    assert {"match_probability", "agreement"} <= set(pairs.columns)
    assert pairs["agreement"].str.contains("birth_date=").all()


def test_cli_writes_clusters(noisy, tmp_path: Path) -> None:
    path, df = noisy
    out = tmp_path / "c.csv"
    result = CliRunner().invoke(app, ["dedupe", "file", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(df)


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.csv", "id,given_name,surname\n1,Anne,Roy\n2,Hélène,Côté\n", "cp1252")
    with pytest.raises(CwwError, match=r"line 3, column 4: byte 0xE9 is not valid utf-8-sig.*--encoding"):
        read_person_csv(p)
    assert read_person_csv(p, encoding="cp1252").records["given_name"].tolist() == ["Anne", "Hélène"]


def test_missing_id_column(tmp_path: Path) -> None:
    p = _write(tmp_path / "b.csv", "given_name,surname\nAnne,Roy\n")
    with pytest.raises(CwwError, match=r"line 1 \(header\): no record id column"):
        read_person_csv(p)


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.csv", "id,given_name\nA1,Anne\nA2,Marc\nA1,Luc\n")
    with pytest.raises(CwwError, match=r"line 4: record id 'A1' already used on line 2"):
        read_person_csv(p)


def test_unparseable_date_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path / "d.csv", "id,dob\n1,2014-03-12\n2,12/03/2014\n3,\n4,2014-02-30\n")
    with pytest.raises(CwwError, match=r"line 5: birth date '2014-02-30' of record '4' is not a date"):
        read_person_csv(p)
    ok = _write(tmp_path / "e.csv", "id;dob;Sex\n1;2014-03-12;F\n2;12/03/2014;m\n3;;\n4;25/12/2014;X\n")
    dates = read_person_csv(ok).records["birth_date"].tolist()
    assert [str(d) if d else None for d in dates] == ["2014-03-12", "2014-03-12", None, "2014-12-25"]
