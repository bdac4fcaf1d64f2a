"""Consensus, group differences and change points on hand-made bag results with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.discovery.discover import Link
from causal_nodes.fleet.bag_analysis import BagResult, WindowGraph
from causal_nodes.fleet.change_points import change_points, jaccard_distance
from causal_nodes.fleet.consensus import consensus, link_key
from causal_nodes.fleet.groups import benjamini_hochberg, group_differences

VARS = ["a", "b", "c"]
AB = Link("a", "b", 1, "-->", 0.5, 0.001)
BC = Link("b", "c", 2, "-->", -0.3, 0.001)
CA0 = Link("c", "a", 0, "o-o", 0.2, 0.001)


def _windows(link_sets: list[list[Link]], variables=VARS) -> list[WindowGraph]:
    return [WindowGraph(index=i, start=10.0 * i, end=10.0 * i + 9.9, samples=100, variables=list(variables),
                        links=list(links)) for i, links in enumerate(link_sets)]


def _bag(name: str, graph: list[Link], windows: list[list[Link]] = (), variables=VARS) -> BagResult:
    return BagResult(bag=name, ok=True, variables=list(variables), frames=100, start=0.0, end=100.0,
                     graph=list(graph), graph_variables=list(variables), windows=_windows(list(windows), variables))


def test_undirected_contemporaneous_links_share_one_key() -> None:
    assert link_key(CA0) == ("a", "c", 0)
    assert link_key(Link("a", "c", 0, "o-o", 0.2, 0.0)) == ("a", "c", 0)
    assert link_key(Link("c", "a", 0, "-->", 0.2, 0.0)) == ("c", "a", 0)  # a directed one keeps its direction


def test_frequencies_count_bags_and_windows_and_skip_failed_bags() -> None:
    results = [
        _bag("r1", [AB, BC], [[AB], [AB, BC]]),
        _bag("r2", [AB], [[AB], []]),
        _bag("r3", [AB, CA0], [[CA0], [AB]]),
        _bag("r4", [BC], [[BC], [BC]]),
        BagResult(bag="broken", ok=False, error="corrupt"),
    ]
    found = consensus(results, threshold=0.5, replicates=200, seed=1)
    links = {link.key: link for link in found.links}
    assert found.bags == 4 and found.windows == 8
    assert links[("a", "b", 1)].frequency == 0.75 and links[("a", "b", 1)].bags == 3
    assert links[("a", "b", 1)].window_frequency == 4 / 8
    assert links[("b", "c", 2)].frequency == 0.5
    assert links[("a", "c", 0)].frequency == 0.25 and links[("a", "c", 0)].link_type == "o-o"
    assert [link.key for link in found.holding()] == [("a", "b", 1), ("b", "c", 2)]
    assert links[("a", "b", 1)].mean_strength == pytest.approx(0.5)
    ab = links[("a", "b", 1)]
    assert 0.0 <= ab.frequency_low <= ab.frequency <= ab.frequency_high <= 1.0
    assert ab.frequency_low < ab.frequency_high  # bags disagree, so the interval has width


def test_bootstrap_interval_is_seeded_and_degenerate_when_all_bags_agree() -> None:
    results = [_bag(f"r{i}", [AB], [[AB]]) for i in range(6)]
    first = consensus(results, replicates=300, seed=5).links[0]
    again = consensus(results, replicates=300, seed=5).links[0]
    assert first == again
    assert (first.frequency, first.frequency_low, first.frequency_high) == (1.0, 1.0, 1.0)


def test_a_bag_without_a_variable_is_not_counted_against_its_links() -> None:
    with_c = _bag("r1", [BC], [[BC]])
    without_c = _bag("r2", [AB], [[AB]], variables=["a", "b"])
    links = {link.key: link for link in consensus([with_c, without_c], replicates=50).links}
    assert links[("b", "c", 2)].eligible_bags == 1 and links[("b", "c", 2)].frequency == 1.0
    assert links[("a", "b", 1)].eligible_bags == 2 and links[("a", "b", 1)].frequency == 0.5


def test_window_frequency_decides_when_no_pooled_graph_was_computed() -> None:
    results = [_bag("r1", [], [[AB], [AB]]), _bag("r2", [], [[AB], []])]
    for result in results:
        result.graph = None
    (ab,) = consensus(results, threshold=0.7, replicates=50).links
    assert math.isnan(ab.frequency) and ab.window_frequency == 0.75 and ab.holds


def test_group_difference_found_where_one_group_always_has_the_link() -> None:
    site_a = [_bag(f"a{i}", [AB, BC]) for i in range(8)]
    site_b = [_bag(f"b{i}", [BC]) for i in range(8)]
    comparison = group_differences(site_a + site_b, ["A"] * 8 + ["B"] * 8, "site", permutations=400, seed=3)
    by_key = {(d.source, d.target, d.lag): d for d in comparison.links}
    ab, bc = by_key[("a", "b", 1)], by_key[("b", "c", 2)]
    assert comparison.group_names == ["A", "B"] and comparison.group_sizes == [8, 8]
    assert [g.frequency for g in ab.groups] == [1.0, 0.0] and ab.spread == 1.0
    assert ab.p_value < 0.01 and ab.differs
    assert bc.spread == 0.0 and bc.p_value == 1.0 and not bc.differs
    assert [d.source for d in comparison.differing()] == ["a"]


def test_group_comparison_needs_two_groups_and_leaves_unlabelled_bags_out() -> None:
    results = [_bag("a0", [AB]), _bag("a1", [AB]), _bag("x", [BC])]
    comparison = group_differences(results, ["A", "A", None], "site", permutations=10)
    assert comparison.group_names == ["A"] and comparison.unlabelled == 1 and comparison.links == []
    with pytest.raises(ValueError, match="labels"):
        group_differences(results, ["A"], "site")


def test_benjamini_hochberg_matches_the_textbook_example() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04
    assert benjamini_hochberg(p).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_change_points_mark_windows_whose_graph_jumps() -> None:
    result = _bag("r1", [], [[AB, BC], [AB, BC], [CA0], [CA0], [CA0, AB]])
    found = change_points([result], threshold=0.5)
    assert [(c.window, c.previous_window) for c in found] == [(2, 1), (4, 3)]
    assert found[0].distance == 1.0 and len(found[0].added) == 1 and len(found[0].removed) == 2
    assert found[0].time == result.windows[2].end
    assert found[1].distance == pytest.approx(0.5)
    assert change_points([result], threshold=0.9)[0].window == 2
    assert jaccard_distance(set(), set()) == 0.0
    with pytest.raises(ValueError):
        change_points([result], threshold=0.0)
