"""The independence test as an object: registry, config parsing, engine choice, and a new test plugging in."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from scm_data import NAMES, scm_samples

from causal_nodes.choices import Choice
from causal_nodes.discovery import independence_tests
from causal_nodes.discovery.discover import (
    METHODS,
    TESTS,
    DiscoveryConfig,
    Engine,
    FDRMethod,
    Method,
    discover,
    fast_unsupported_reason,
)
from causal_nodes.discovery.fast import pcmci as fast_pcmci
from causal_nodes.discovery.independence_tests import CI_TESTS, CITest, CMIknnTest, ParCorrTest, ci_test


def test_registry_names_every_test_once_and_the_fast_flag_matches_the_engine():
    assert TESTS == ("parcorr", "robust_parcorr", "gpdc", "cmiknn", "rcot")
    assert all(CI_TESTS[name].name == name for name in TESTS)
    assert {name for name, cls in CI_TESTS.items() if cls.fast_engine} == set(fast_pcmci.SUPPORTED_TESTS)


def test_config_takes_names_or_objects_and_stores_types():
    from_strings = DiscoveryConfig(method="pcmciplus", test="cmiknn", engine="tigramite", fdr_method="fdr_bh")
    assert from_strings.method is Method.PCMCIPLUS and from_strings.engine is Engine.TIGRAMITE
    assert from_strings.fdr_method is FDRMethod.FDR_BH and isinstance(from_strings.test, CMIknnTest)
    assert from_strings == DiscoveryConfig(method=Method.PCMCIPLUS, test=CMIknnTest(), engine=Engine.TIGRAMITE,
                                           fdr_method=FDRMethod.FDR_BH)
    assert DiscoveryConfig().test == ParCorrTest() and str(DiscoveryConfig().test) == "parcorr"
    assert DiscoveryConfig().replace(test="robust_parcorr").test.name == "robust_parcorr"
    with pytest.raises(ValueError, match=r"method must be one of \('pcmci', 'pcmciplus', 'lpcmci'\), got 'fci'"):
        DiscoveryConfig(method="fci")
    with pytest.raises(ValueError, match="engine must be one of"):
        DiscoveryConfig(engine="gpu")
    with pytest.raises(ValueError, match="test must be one of"):
        ci_test("ParCorr")  # names are exact, as in params files


def test_choices_read_as_their_strings():
    assert METHODS == ("pcmci", "pcmciplus", "lpcmci") and Method.PCMCI == "pcmci"
    assert str(Method.PCMCIPLUS) == f"{Method.PCMCIPLUS}" == "pcmciplus"
    assert json.dumps({"m": Method.PCMCI}) == '{"m": "pcmci"}'
    assert issubclass(Method, Choice) and Engine.parse("fast", "engine") is Engine.FAST


def test_config_dict_keeps_the_json_layout_and_adds_test_options_only_when_there_are_some():
    plain = DiscoveryConfig().as_dict()
    assert plain["method"] == "pcmci" and plain["test"] == "parcorr" and "test_options" not in plain
    original = ["method", "test", "tau_min", "tau_max", "pc_alpha", "alpha_level", "max_conds_dim",
                "max_combinations", "fdr_method", "engine", "seed"]
    assert list(plain)[:len(original)] == original  # later options (context, mask_type) come after
    assert type(plain["method"]) is str and type(plain["test"]) is str
    with_options = DiscoveryConfig(test=CMIknnTest(shuffle_samples=50)).as_dict()
    assert with_options["test_options"] == {"shuffle_samples": 50}
    json.dumps(with_options)


def test_engine_choice_follows_the_test_object():
    assert fast_unsupported_reason(DiscoveryConfig(test="robust_parcorr")) is None
    reason = fast_unsupported_reason(DiscoveryConfig(test="gpdc"))
    assert reason is not None and "'gpdc' has no exact fast engine" in reason
    cmiknn = CMIknnTest(shuffle_samples=30).tigramite_test(seed=4)
    assert cmiknn.sig_samples == 30 and cmiknn.significance == "shuffle_test"
    same_seed = CMIknnTest().tigramite_test(seed=4).random_state.random()
    assert same_seed == CMIknnTest().tigramite_test(seed=4).random_state.random()


def test_a_new_test_plugs_in_by_defining_one_class():
    @dataclass(frozen=True)
    class ScaledParCorr(CITest):
        """A test defined outside the module: tigramite's ParCorr under another name."""

        name: ClassVar[str] = "test_only_parcorr"

        def tigramite_test(self, seed: int) -> Any:
            return ParCorrTest().tigramite_test(seed)

    try:
        assert "test_only_parcorr" in independence_tests.registered_names()
        data = scm_samples(200, seed=3)
        plugged = discover(data, NAMES, DiscoveryConfig(tau_max=2, test="test_only_parcorr"))
        reference = discover(data, NAMES, DiscoveryConfig(tau_max=2, engine="tigramite"))
        assert plugged.engine == "tigramite" and "no exact fast engine" in plugged.engine_note
        assert (plugged.graph == reference.graph).all()
        np.testing.assert_allclose(plugged.p_matrix, reference.p_matrix)
        assert plugged.to_json()["config"]["test"] == "test_only_parcorr"
        with pytest.raises(ValueError, match="registered twice"):
            type("Again", (ScaledParCorr,), {"name": "test_only_parcorr"})
    finally:
        CI_TESTS.pop("test_only_parcorr", None)
