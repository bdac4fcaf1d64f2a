"""The compiled kernels load wherever numba is installed and not switched off.

Why a test of its own: the kernel tests skip when the kernels are unavailable, so a kernel that stops loading only
turns tests into skips. That happened on Python 3.10: its newest scipy (1.15) exports ``stdtr`` under another name
than 1.17/1.18 do, and the fast engine silently ran its numpy path there.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from scipy import special

from causal_nodes.discovery.fast import kernels


def test_kernels_load_where_numba_is_installed() -> None:
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba not installed: the numpy path runs by design")
    if os.environ.get("CAUSAL_NODES_FAST_NUMBA", "1") == "0":
        pytest.skip("kernels switched off (CAUSAL_NODES_FAST_NUMBA=0)")
    assert kernels.AVAILABLE, kernels.unavailable_reason()


def test_the_linked_stdtr_is_scipys_float64_one() -> None:
    if not kernels.AVAILABLE:
        pytest.skip(kernels.unavailable_reason() or "numba kernels off")
    r = np.array([0.0, 0.05, -0.3, 0.7, 0.999])
    expected = 2.0 * special.stdtr(50.0, -np.abs(r * np.sqrt(50.0 / (1.0 - r * r))))
    assert [kernels._two_sided_p(float(v), 50) for v in r] == expected.tolist()
