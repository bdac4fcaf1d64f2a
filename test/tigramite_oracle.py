"""tigramite as the oracle of the fast-engine tests: its result for a method/test, and the parity assertion."""
from __future__ import annotations

import warnings

import numpy as np

TOL = 1e-8


def tigramite_results(data: np.ndarray, method: str = "pcmci", test: str = "parcorr", **options) -> dict:
    """``PCMCI(DataFrame(data), ParCorr|RobustParCorr(significance='analytic')).run_<method>(**options)``."""
    from tigramite.data_processing import DataFrame
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.independence_tests.robust_parcorr import RobustParCorr
    from tigramite.pcmci import PCMCI

    cond = (ParCorr if test == "parcorr" else RobustParCorr)(significance="analytic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pcmci = PCMCI(dataframe=DataFrame(data), cond_ind_test=cond, verbosity=0)
        return (pcmci.run_pcmciplus if method == "pcmciplus" else pcmci.run_pcmci)(**options)


def assert_same(expected: dict, got: dict, tol: float = TOL) -> None:
    """Same graph strings (shape, dtype, every entry) and val/p matrices within ``tol`` (NaN where expected)."""
    assert got["graph"].shape == expected["graph"].shape
    assert got["graph"].dtype == expected["graph"].dtype
    mismatch = np.argwhere(got["graph"] != expected["graph"])
    assert mismatch.size == 0, f"graph differs at {mismatch[:5].tolist()}"
    for key in ("val_matrix", "p_matrix"):
        assert got[key].shape == expected[key].shape and got[key].dtype == expected[key].dtype
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=tol, equal_nan=True, err_msg=key)
