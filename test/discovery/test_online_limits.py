"""The discovery window under hostile frames, and settings changed at runtime (the next job reflects them)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scm_data import NAMES, scm_samples

from causal_nodes.discovery.discover import DiscoveryConfig, discover
from causal_nodes.discovery.online import OnlineDiscovery
from causal_nodes.discovery.window import SampleWindow, WindowConfig


def test_a_frame_of_10000_variables_is_rejected_not_allocated():
    online = OnlineDiscovery(WindowConfig(length=100, max_variables=50), DiscoveryConfig(tau_max=1))
    wide = [f"v{k}" for k in range(10_000)]
    assert online.add(1.0, wide, np.zeros(10_000)) == "too_many_variables"
    assert online.window.names == [] and online._stream is None  # nothing sized by the wide frame
    assert online.add(1.1, NAMES, [0.0, 1.0, 2.0, 3.0]) is None
    assert online.counters()["rejected_too_many_variables"] == 1


def test_a_future_frame_is_dropped_until_confirmed():
    window = SampleWindow(WindowConfig(length=50, max_forward_jump_s=10.0))
    for k in range(10):
        window.add(100.0 + 0.1 * k, ["x"], [float(k)])
    assert window.add(2.1e9, ["x"], [1.0]) == "future_stamp"
    assert window.add(101.0, ["x"], [1.0]) is None and window.fill == 11
    for k in range(3):
        window.add(5000.0 + 0.1 * k, ["x"], [1.0])
    assert window.resets["time_jumped_forward"] == 1 and window.fill == 1


def test_nan_variables_are_named_as_blocking_the_window():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1), min_samples=20)
    for k in range(30):
        online.add(0.1 * k, ["a", "goal_distance"], [float(k), math.nan])
    assert online.window.fill == 0 and online.blocking() == {"goal_distance": 30}
    enough, sentence = online.fill_status()
    assert not enough and "goal_distance (30 frames in a row)" in sentence
    online.add(3.1, ["a", "goal_distance"], [1.0, 2.0])
    assert online.blocking() == {}


def test_configured_variable_missing_from_frames_is_named():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1), variables=["a", "b"])
    for k in range(5):
        online.add(0.1 * k, ["a"], [1.0])
    assert online.blocking() == {"b": 5}


def test_reconfigure_applies_to_the_next_job_and_keeps_the_window():
    data = scm_samples(400, seed=3)
    online = OnlineDiscovery(WindowConfig(length=300), DiscoveryConfig(tau_max=3), min_samples=50)
    for k, row in enumerate(data):
        online.add(0.1 * k, NAMES, row)
    online.take_job()
    assert not online.ready()
    online.reconfigure(DiscoveryConfig(tau_max=1, alpha_level=0.05), WindowConfig(length=200))
    assert online.ready()  # new settings: a run is due even without new samples
    job = online.take_job()
    assert job.data.shape == (200, 4) and job.config.tau_max == 1
    result = online.run(job).result
    assert result.config.tau_max == 1 and result.graph.shape[2] == 2 and result.config.alpha_level == 0.05
    batch = discover(data[-200:], NAMES, DiscoveryConfig(tau_max=1, alpha_level=0.05))
    assert (result.graph == batch.graph).all()  # the streaming statistics were rebuilt for the new tau_max


def test_a_bad_reconfiguration_changes_nothing():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=3), min_samples=50)
    with pytest.raises(ValueError, match="window_length 40 is shorter than the 50 samples"):
        online.reconfigure(window=WindowConfig(length=40))
    assert online.window.config.length == 100 and online.reconfigurations == 0
