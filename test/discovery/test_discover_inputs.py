"""discover() with what tigramite users give besides samples: masks, datasets, a context; and LPCMCI's marks.

Each is checked against tigramite run directly on the same input, so the project adds no semantics of its own.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scm_data import NAMES, TRUTH, scm_samples
from tigramite.data_processing import DataFrame
from tigramite.independence_tests.parcorr import ParCorr
from tigramite.lpcmci import LPCMCI
from tigramite.pcmci import PCMCI

from causal_nodes.discovery.discover import DiscoveryConfig, InsufficientDataError, discover, reverse_link
from causal_nodes.discovery.samples import Samples, dataset_runs, regime_labels


def _tigramite(frame: DataFrame, test=None, **options) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pcmci = PCMCI(dataframe=frame, cond_ind_test=test or ParCorr(significance="analytic"), verbosity=0)
        return pcmci.run_pcmci(tau_max=2, pc_alpha=0.2, alpha_level=0.01, **options)


def test_mask_equals_tigramites_masked_run():
    data = scm_samples(500, seed=1)
    mask = np.zeros(data.shape, dtype=bool)
    mask[np.arange(500) % 3 == 0, :] = True
    result = discover(Samples(data, NAMES, mask=mask), NAMES, DiscoveryConfig(tau_max=2, mask_type="y"))
    test = ParCorr(significance="analytic", mask_type="y")
    reference = _tigramite(DataFrame(data, mask=mask), test)
    assert result.engine == "tigramite" and "mask" in result.engine_note
    np.testing.assert_array_equal(result.graph, reference["graph"])
    np.testing.assert_allclose(result.p_matrix, reference["p_matrix"], atol=1e-10)


def test_datasets_equal_tigramites_multiple_mode_and_no_link_crosses_a_seam():
    parts = [scm_samples(150, seed=s) for s in range(4)]
    data = np.concatenate(parts)
    labels = np.repeat([7, 7, 3, 7], 150)  # the label returns: a fourth dataset, not the first again
    assert [len(rows) for rows in dataset_runs(labels)] == [300, 150, 150]
    labels = np.repeat([0, 1, 2, 3], 150)
    result = discover(Samples(data, NAMES, datasets=labels), NAMES, DiscoveryConfig(tau_max=2))
    reference = _tigramite(DataFrame(dict(enumerate(parts)), analysis_mode="multiple"))
    assert result.datasets == 4 and result.sample_count == 600
    np.testing.assert_allclose(result.p_matrix, reference["p_matrix"], atol=1e-10)
    assert {link.key() for link in result.links() if link.lag > 0} >= TRUTH


def test_short_datasets_are_left_out_with_a_note_and_all_short_is_an_error():
    data = scm_samples(300, seed=2)
    labels = np.r_[np.zeros(296), [1, 1, 2, 2]]
    result = discover(Samples(data, NAMES, datasets=labels), NAMES, DiscoveryConfig(tau_max=2))
    assert result.datasets == 1 and "2 dataset(s) shorter" in result.engine_note
    with pytest.raises(InsufficientDataError, match="shorter than 2 \\* tau_max \\+ 1"):
        discover(Samples(data[:40], NAMES, datasets=np.arange(40) // 4), NAMES, DiscoveryConfig(tau_max=2))


def test_context_regimes_find_a_sign_flipping_link_and_are_not_a_node():
    rng = np.random.default_rng(3)
    n = 600
    phase = (np.arange(n) // 50) % 3  # e.g. approach, pass, leave
    x = rng.normal(size=n)
    y = rng.normal(size=n)
    y[1:] += np.choose(phase[1:], [0.6, 0.0, -0.6]) * x[:-1]
    data = np.column_stack([x, y, phase])
    config = DiscoveryConfig(test="rcot", tau_max=1, context="phase")
    result = discover(data, ["x", "y", "phase"], config)
    assert result.variables == ["x", "y"] and result.graph.shape == (2, 2, 2)
    assert ("x", "y", 1) in {link.key() for link in result.links()}
    pooled = discover(data[:, :2], ["x", "y"], DiscoveryConfig(test="parcorr", tau_max=1))
    assert ("x", "y", 1) not in {link.key() for link in pooled.links()}


def test_context_options_are_checked():
    with pytest.raises(ValueError, match="needs a test that stratifies \\(rcot\\), not 'parcorr'"):
        DiscoveryConfig(context="phase")
    with pytest.raises(ValueError, match="must increase strictly"):
        DiscoveryConfig(test="rcot", context="v", context_bins=(1.0, 0.5))
    with pytest.raises(ValueError, match="no variable 'phase'"):
        discover(scm_samples(100), NAMES, DiscoveryConfig(test="rcot", context="phase"))
    with pytest.raises(ValueError, match="mask_type must be letters"):
        DiscoveryConfig(mask_type="w")
    np.testing.assert_array_equal(regime_labels(np.array([-2.0, 0.0, 3.0, np.nan]), (-1.0, 1.0)),
                                  [0.0, 1.0, 2.0, np.nan])


def test_lpcmci_marks_a_hidden_common_cause_as_bidirected():
    rng = np.random.default_rng(4)
    n = 800
    hidden = rng.normal(size=n)
    data = rng.normal(size=(n, 3))
    for t in range(1, n):
        data[t, 0] += 0.4 * data[t - 1, 0] + 0.9 * hidden[t - 1]
        data[t, 1] += 0.4 * data[t - 1, 1] + 0.9 * hidden[t - 1]
        data[t, 2] += 0.6 * data[t - 1, 0]
    result = discover(data, ["a", "b", "c"], DiscoveryConfig(method="lpcmci", tau_max=2, alpha_level=0.01))
    marks = {link.key(): link.link_type for link in result.links()}
    assert marks[("a", "b", 0)] == "<->"  # confounded, neither causes the other
    assert marks[("a", "c", 1)] in ("-->", "o->")
    reference = LPCMCI(DataFrame(data), ParCorr(significance="analytic"), verbosity=0).run_lpcmci(
        tau_max=2, pc_alpha=0.01)
    np.testing.assert_array_equal(result.graph, reference["graph"])


def test_reverse_link_reads_an_edge_from_its_other_end():
    assert [reverse_link(k) for k in ("<--", "<-o", "o-o", "<->", "-->")] == ["-->", "o->", "o-o", "<->", "<--"]
