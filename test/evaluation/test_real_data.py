"""Real data with known structure (``../shared/datasets``): the targets of issue #10, skipped without the data.

River discharge: LPCMCI (ParCorr, tau_max 2, alpha 0.01) finds Kempten -> Dillingen and marks the rain-driven
link of the Isar as confounded. Walker circulation: PCMCI with the project's defaults reaches F1 >= 0.9 against
the case study's graph with its mask, and the mask is what gets it there.
"""
from __future__ import annotations

import numpy as np
import pytest
from repo_paths import DATASETS

from causal_nodes.discovery.discover import DiscoveryConfig, discover
from causal_nodes.discovery.samples import Samples
from causal_nodes.evaluation.graph_metrics import score_links
from causal_nodes.evaluation.real_data import (
    WALKER_GRAPH,
    anomalies,
    el_nino_months,
    gaussian_smooth,
    river_discharge,
    river_verdict,
    walker_circulation,
)

needs_data = pytest.mark.skipif(not (DATASETS / "river_discharge").is_dir()
                                or not (DATASETS / "climate_walker").is_dir(),
                                reason=f"real datasets not found under {DATASETS} (see ../shared/datasets/README.md)")


@needs_data
def test_river_discharge_lpcmci_finds_the_tributary_and_the_confounded_rivers():
    data = river_discharge(DATASETS)
    assert data.names == ["Dillingen", "Kempten", "Lenggries"] and data.values.shape == (1095, 3)
    result = discover(Samples(data.values, data.names), data.names,
                      DiscoveryConfig(method="lpcmci", tau_max=2, alpha_level=0.01))
    assert river_verdict(result.links()) == {"kempten_to_dillingen": True, "rain_confounded": True,
                                             "no_isar_to_danube": True}


@needs_data
def test_walker_circulation_with_its_mask_reaches_f1_09():
    data = walker_circulation(DATASETS)
    assert data.values.shape == (432, 3) and int((~data.mask[:, 0]).sum()) == 110  # the case study's n = 110
    config = DiscoveryConfig(tau_max=2, mask_type="y")
    masked = discover(Samples(data.values, data.names, mask=data.mask), data.names, config)
    plain = discover(Samples(data.values, data.names), data.names, config)
    f1_masked = score_links(masked.links(), WALKER_GRAPH)["f1"]
    f1_plain = score_links(plain.links(), WALKER_GRAPH)["f1"]
    assert f1_masked >= 0.9 and f1_plain < f1_masked - 0.1, (f1_masked, f1_plain)


def test_preprocessing_pieces():
    series = np.arange(40.0)[:, None] + np.tile([0.0, 5.0], 20)[:, None]
    np.testing.assert_allclose(gaussian_smooth(np.ones((30, 2)), 5.0), 1.0)
    normed = anomalies(series, 2)
    np.testing.assert_allclose([normed[0::2].mean(), normed[1::2].std()], [0.0, 1.0], atol=1e-12)
    nino = np.r_[np.zeros(10), np.ones(6), np.zeros(10)]
    flags = el_nino_months(nino)
    assert flags[12] == 1.0 and flags[0] == 0.0 and flags[25] == 0.0


def test_river_verdict_reads_marks():
    good = [("Kempten", "Dillingen", 0, "-->"), ("Kempten", "Lenggries", 0, "<->")]
    assert all(river_verdict(good).values())
    assert not river_verdict([("Kempten", "Dillingen", 0, "-->"), ("Kempten", "Lenggries", 0, "o->")])[
        "rain_confounded"]
    assert not river_verdict([("Dillingen", "Kempten", 0, "-->")])["kempten_to_dillingen"]
