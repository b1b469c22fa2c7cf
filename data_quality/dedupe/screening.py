"""Pre-migration screening: the warehouse's matching, run on any CSV of person records.

An agency about to migrate a legacy system finds its duplicates *before* they reach the shared
system. Same normalisation, same saved model, same twin guard and clustering as the nightly run.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from data_quality.dedupe.csv_input import read_person_csv
from data_quality.dedupe.match import score_and_cluster
from data_quality.dedupe.model import load_model, train
from data_quality.dedupe.normalise import person_frame


def dedupe_file(
    input_path: Path,
    out_path: Path,
    pairs_path: Path | None = None,
    model_path: Path | None = None,
    retrain: bool = False,
    encoding: str = "utf-8-sig",
    month_first: bool = False,
) -> list[str]:
    """Cluster the CSV's records; write ``record_id, cluster_id, cluster_size, best_match…``."""
    parsed = read_person_csv(input_path, encoding=encoding, month_first=month_first)
    model = load_model(model_path)
    frame = person_frame(parsed.records)
    if retrain:
        model = {**model, "splink_settings": train(frame), "version": f"{model['version']}+file"}
    lines = [f"{input_path}: {len(frame):,} records (model v{model['version']})"]
    if parsed.ignored_columns:
        lines.append(f"ignored columns: {', '.join(parsed.ignored_columns)}")
    if parsed.missing_columns:
        lines.append(f"absent columns (treated as unknown): {', '.join(parsed.missing_columns)}")
    if len(frame) < 2:
        clusters = {rid: rid for rid in frame["unique_id"]}
        pairs = pd.DataFrame(columns=["id_l", "id_r", "match_probability", "agreement", "cannot_link"])
    else:
        result = score_and_cluster(frame, model)
        clusters, pairs = result.clusters, result.pairs
    sizes = pd.Series(list(clusters.values())).value_counts().to_dict()
    best: dict[str, tuple[str, float]] = {}
    for a, b, p, blocked in pairs[["id_l", "id_r", "match_probability", "cannot_link"]].itertuples(
        index=False
    ):
        if isinstance(blocked, str):
            continue
        for x, y in ((a, b), (b, a)):
            if x not in best or p > best[x][1]:
                best[x] = (y, p)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "cluster_id", "cluster_size", "best_match_id", "best_match_probability"])
        for rid in frame["unique_id"]:
            match = best.get(rid)
            w.writerow(
                [
                    rid,
                    clusters[rid],
                    sizes[clusters[rid]],
                    match[0] if match else "",
                    f"{match[1]:.4f}" if match else "",
                ]
            )
    if pairs_path is not None:
        pairs.to_csv(pairs_path, index=False)
    multi = sum(1 for n in sizes.values() if n > 1)
    dup_records = sum(n for n in sizes.values() if n > 1)
    lines.append(
        f"{len(sizes):,} distinct persons; {multi:,} clusters with duplicates "
        f"covering {dup_records:,} records"
    )
    lines.append(f"clusters written to {out_path}" + (f", pairs to {pairs_path}" if pairs_path else ""))
    return lines
