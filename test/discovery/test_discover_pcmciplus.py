"""PCMCI+ through :func:`discover`: the engine choice sends it to the exact fast engine, defaults follow tigramite's
``run_pcmciplus`` (pc_alpha 0.01), and the streaming statistics of :class:`OnlineDiscovery` give the batch result."""
from __future__ import annotations

import numpy as np
from scm_data import NAMES, scm_samples

from causal_nodes.discovery.discover import (
    METHOD_DEFAULT_PC_ALPHA,
    DiscoveryConfig,
    Engine,
    default_pc_alpha,
    discover,
)
from causal_nodes.discovery.online import OnlineDiscovery
from causal_nodes.discovery.window import WindowConfig
from causal_nodes.sim.scm import random_linear_scm


def test_pc_alpha_defaults_follow_the_method():
    assert DiscoveryConfig().pc_alpha == default_pc_alpha("pcmci") == 0.2
    assert DiscoveryConfig(method="pcmciplus").pc_alpha == default_pc_alpha("pcmciplus") == 0.01
    assert DiscoveryConfig(method="pcmciplus", pc_alpha=METHOD_DEFAULT_PC_ALPHA).pc_alpha == 0.01
    assert DiscoveryConfig().replace(method="pcmciplus").pc_alpha == 0.01   # the default follows the method
    assert DiscoveryConfig(pc_alpha=0.3).replace(method="pcmciplus").pc_alpha == 0.3  # a chosen value stays
    assert DiscoveryConfig(method="pcmciplus", pc_alpha=None).pc_alpha is None


def test_pcmciplus_runs_on_the_fast_engine_with_tigramites_result():
    names = [f"x{k}" for k in range(6)]
    data = random_linear_scm(6, 400, max_lag=2, density=0.5, seed=14)
    config = DiscoveryConfig(method="pcmciplus", tau_max=2)
    fast = discover(data, names, config)
    reference = discover(data, names, config.replace(engine="tigramite"))
    assert fast.engine is Engine.FAST and reference.engine is Engine.TIGRAMITE
    assert (fast.graph == reference.graph).all()
    assert any(link.lag == 0 for link in fast.links())  # contemporaneous links are part of the answer
    np.testing.assert_allclose(fast.p_matrix, reference.p_matrix, atol=1e-8)
    np.testing.assert_allclose(fast.val_matrix, reference.val_matrix, atol=1e-8)


def test_online_pcmciplus_streams_the_batch_result():
    config = DiscoveryConfig(method="pcmciplus", tau_max=2, pc_alpha=0.05)
    online = OnlineDiscovery(WindowConfig(length=150), config, min_samples=60)
    assert online.streaming
    data = scm_samples(260, seed=3)
    checked = 0
    for k, row in enumerate(data):
        online.add(0.1 * k, NAMES, row)
        if k % 50 == 49 and online.ready():
            job = online.take_job()
            streamed = online.run(job).result
            batch = discover(job.data, job.names, config)
            assert streamed.engine_note == "streaming statistics"
            assert (streamed.graph == batch.graph).all()
            np.testing.assert_allclose(streamed.p_matrix, batch.p_matrix, atol=1e-10)
            checked += 1
    assert checked >= 4
