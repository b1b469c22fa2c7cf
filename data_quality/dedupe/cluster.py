"""Clusters from scored pairs, honouring cannot-links (twins, recorded siblings).

Plain connected components merge A–C when A–B and B–C score high, even if A and C are twins.
Here pairs are merged best first, and a merge is refused when it would put two records that must
stay apart (a cannot-link) into one cluster. This is clustering of Splink's output, not matching.
"""

from __future__ import annotations

from collections.abc import Iterable


def id_order(value: str) -> tuple[int, str]:
    """Order ids numerically when they are numbers (person ids), else as text."""
    return (len(value), value) if value.isdigit() else (1 << 30, value)


def constrained_clusters(
    ids: Iterable[str],
    edges: Iterable[tuple[str, str, float]],
    threshold: float,
    cannot_link: Iterable[tuple[str, str]] = (),
) -> dict[str, str]:
    """record id → cluster id (the smallest member id), merging edges ≥ threshold best first."""
    ids = list(ids)
    edges = [(a, b, p) for a, b, p in edges if p >= threshold]
    # Only records with an edge can join a cluster: the other 90 % of a province stay singletons
    # without per-record sets (≈ 1 GB less at provincial scale).
    linked = {x for a, b, _ in edges for x in (a, b)}
    known = set(ids)
    parent: dict[str, str] = {}
    members: dict[str, set[str]] = {}
    forbid: dict[str, set[str]] = {}
    for i in linked & known:
        parent[i] = i
        members[i] = {i}
        forbid[i] = set()
    for a, b in cannot_link:
        if a in forbid and b in forbid and a != b:
            forbid[a].add(b)
            forbid[b].add(a)

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b, _p in sorted(edges, key=lambda e: -e[2]):
        if a not in parent or b not in parent:
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        small, big = (ra, rb) if len(members[ra]) < len(members[rb]) else (rb, ra)
        if any(m in forbid[big] for m in members[small]):
            continue
        parent[small] = big
        members[big] |= members.pop(small)
        forbid[big] |= forbid.pop(small)
    out: dict[str, str] = {i: i for i in ids}
    for group in members.values():
        rep = min(group, key=id_order)
        for m in group:
            out[m] = rep
    return out
