"""Ancestral-graph scoring: adjacencies, and each end mark against ancestry in the reference."""
from __future__ import annotations

import math

from causal_nodes.evaluation.ancestral import ancestors, score_ancestral

# a(t-1) -> b(t), b(t) -> c(t), c(t-1) -> c(t)
REFERENCE = {("a", "b", 1), ("b", "c", 0), ("c", "c", 1)}


def test_ancestry_follows_paths_through_time():
    anc = ancestors(REFERENCE, tau_max=1)
    assert ("a", 1, "c", 0) in anc  # a(t-1) -> b(t) -> c(t)
    assert ("a", 2, "c", 0) in anc  # ... -> c(t-1) -> c(t)
    assert ("c", 0, "a", 1) not in anc and ("b", 0, "a", 0) not in anc


def test_marks_are_scored_as_claims():
    found = [("a", "b", 1, "-->"), ("b", "c", 0, "o->"), ("a", "c", 0, "<->")]
    score = score_ancestral(found, REFERENCE, tau_max=1)
    # adjacencies: a-b@1 and b-c@0 are reference links, a-c@0 is not: precision 2/3, recall 2/3
    assert math.isclose(score["adjacency_precision"], 2 / 3) and math.isclose(score["adjacency_recall"], 2 / 3)
    # claims: tail a (a ancestor of b: right), head b (right), head c of o-> (right),
    # <-> between a and c at lag 0: neither is an ancestor of the other (right, right) -> 5 of 5
    assert score["mark_claims"] == 5 and score["mark_precision"] == 1.0


def test_a_wrong_orientation_costs_mark_precision():
    score = score_ancestral([("c", "b", 0, "-->"), ("b", "c", 0, "<->")], REFERENCE, tau_max=1)
    assert score["edges"] == 1  # one pair, listed once
    assert score["mark_claims"] == 2 and score["mark_precision"] == 0.0  # c is no ancestor of b; b causes c
