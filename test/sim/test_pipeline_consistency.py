"""The simulator's state-based variables equal what the pipeline's own extractor computes from its sensors.

This keeps one definition of every variable: interventional ground truth measured on the simulator state is
ground truth for the variables the live pipeline publishes.
"""
from __future__ import annotations

import numpy as np
import pytest

from causal_nodes.sim import run_scenario


@pytest.mark.parametrize("name", ["corridor_passing", "crowd", "overtaking"])
def test_state_and_pipeline_definitions_agree(name: str) -> None:
    state = run_scenario(name, steps=200)
    pipeline = run_scenario(name, steps=200, definitions="pipeline")
    assert state.names == pipeline.names
    np.testing.assert_allclose(pipeline.values[3:], state.values[3:], rtol=0, atol=1e-9)


def test_unknown_definitions_are_rejected() -> None:
    with pytest.raises(ValueError, match="definitions"):
        run_scenario("crossing", steps=5, definitions="guess")
