"""``causal-nodes discover --method pcmciplus``: tigramite's run_pcmciplus defaults, on the exact fast engine."""
from __future__ import annotations

import json

import numpy as np
from scm_data import NAMES, scm_samples
from tigramite.data_processing import DataFrame
from tigramite.independence_tests.parcorr import ParCorr
from tigramite.pcmci import PCMCI

from causal_nodes.cli import main
from causal_nodes.variables.csv_io import write_variables_csv


def test_pcmciplus_uses_tigramites_default_pc_alpha_on_the_fast_engine(tmp_path):
    data = scm_samples(400, seed=6)
    data[:, 3] += 0.8 * data[:, 0]  # a contemporaneous link for PCMCI+ to find
    path = tmp_path / "scm.csv"
    write_variables_csv(path, NAMES, data)
    out = tmp_path / "plus.json"
    assert main(["discover", str(path), "--method", "pcmciplus", "--tau-max", "2", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["pc_alpha"] == 0.01 and result["engine"] == "fast"
    reference = PCMCI(DataFrame(data), ParCorr(significance="analytic"), verbosity=0).run_pcmciplus(tau_max=2)
    assert result["graph"] == reference["graph"].tolist()
    assert reference["graph"][0, 3, 0] != ""
    np.testing.assert_allclose(np.array(result["p_matrix"], float), reference["p_matrix"], atol=1e-8)
    loose = tmp_path / "loose.json"
    assert main(["discover", str(path), "--method", "pcmciplus", "--pc-alpha", "0.2", "--tau-max", "2",
                 "--json", str(loose)]) == 0
    assert json.loads(loose.read_text())["config"]["pc_alpha"] == 0.2
