"""Conditional-independence tests as objects, in the style of tigramite's ``independence_tests``.

A PCMCI run is parameterised by its test the way tigramite's ``PCMCI(cond_ind_test=ParCorr(...))`` is: an object
that knows its name, its options, and how to build tigramite's test object. :class:`DiscoveryConfig` holds one,
and accepts a registered name (``"parcorr"``) from params files, the CLI and the node.

Adding a test means adding one :class:`CITest` subclass in this module: setting its ``name`` registers it, so
the discovery node's and CLI's allowed values, the config's validation and the engine choice follow. Its
implementation may live elsewhere; import it inside :meth:`CITest.tigramite_test` so this module stays light.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

CI_TESTS: dict[str, type[CITest]] = {}
"""Registered tests by name, in definition order."""


class CITest(ABC):
    """One conditional-independence test ``X _|_ Y | Z`` and its options (subclasses are frozen dataclasses).

    ``name``: the string that selects it in parameters, the CLI and the published graph.
    ``fast_engine``: the exact fast engine (:mod:`causal_nodes.discovery.fast`) reproduces tigramite's results
    for this test, so ``engine: auto`` may use it; every other test runs through tigramite.
    ``stratifies``: the test can run within the regimes of a context variable (see ``DiscoveryConfig.context``).
    """

    name: ClassVar[str]
    fast_engine: ClassVar[bool] = False
    stratifies: ClassVar[bool] = False
    """``tigramite_test`` takes ``context`` (a variable index of regime labels) and then tests within regimes."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None:
            if name in CI_TESTS:
                raise ValueError(f"independence test {name!r} is registered twice")
            CI_TESTS[name] = cls

    @abstractmethod
    def tigramite_test(self, seed: int) -> Any:
        """tigramite's test object (a ``CondIndTest``) configured like this test; ``seed`` for shuffle tests."""

    def stratified_tigramite_test(self, seed: int, context: int) -> Any:
        """The test object testing within the regimes of variable ``context`` (tests with ``stratifies``)."""
        raise ValueError(f"independence test {self.name!r} cannot be stratified by a context")

    def __str__(self) -> str:
        return self.name

    def options(self) -> dict[str, Any]:
        """The test's own options (empty for a test without any), for logs and the CLI's JSON."""
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}


def registered_names() -> tuple[str, ...]:
    """Names of the registered tests."""
    return tuple(CI_TESTS)


def ci_test(spec: str | CITest, options: dict[str, Any] | None = None) -> CITest:
    """The test ``spec`` names (with default options, or ``options`` by field name), or ``spec`` itself when it
    is already a test."""
    if isinstance(spec, CITest):
        return spec
    cls = CI_TESTS.get(spec) if isinstance(spec, str) else None
    if cls is None:
        raise ValueError(f"test must be one of {registered_names()}, got {spec!r}")
    if not options:
        return cls()
    fields: dict[str, Any] = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise ValueError(f"test {spec!r} has no option(s) {unknown}; its options: {sorted(fields)}")
    return cls(**{key: _typed(value, type(getattr(cls(), key))) for key, value in options.items()})


def parse_test_options(items: Sequence[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` (CLI flags, a string-array parameter) -> dict; ValueError naming a bad item."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"test option {item!r}: expected KEY=VALUE, e.g. n_features=3")
        out[key.strip()] = value.strip()
    return out


def _typed(value: Any, kind: type) -> Any:
    """A string from outside as the field's type (bool accepts true/false/1/0)."""
    if not isinstance(value, str) or kind is str:
        return value
    if kind is bool:
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {value!r}")
        return value.lower() in ("true", "1")
    return kind(value)


@dataclass(frozen=True)
class ParCorrTest(CITest):
    """Partial correlation (linear, Gaussian noise), analytic t-test p-values."""

    name: ClassVar[str] = "parcorr"
    fast_engine: ClassVar[bool] = True

    def tigramite_test(self, seed: int) -> Any:
        from tigramite.independence_tests.parcorr import ParCorr

        return ParCorr(significance="analytic")


@dataclass(frozen=True)
class RobustParCorrTest(CITest):
    """Partial correlation after a rank transform to standard normal marginals (monotone, heavy-tailed noise)."""

    name: ClassVar[str] = "robust_parcorr"
    fast_engine: ClassVar[bool] = True

    def tigramite_test(self, seed: int) -> Any:
        from tigramite.independence_tests.robust_parcorr import RobustParCorr

        return RobustParCorr(significance="analytic")


@dataclass(frozen=True)
class GPDCTest(CITest):
    """Gaussian-process regression followed by a distance correlation of the residuals (nonlinear, additive)."""

    name: ClassVar[str] = "gpdc"

    def tigramite_test(self, seed: int) -> Any:
        from tigramite.independence_tests.gpdc import GPDC

        return GPDC(significance="analytic")


@dataclass(frozen=True)
class CMIknnTest(CITest):
    """Conditional mutual information by nearest neighbours (nonparametric), with a local shuffle test."""

    name: ClassVar[str] = "cmiknn"
    shuffle_samples: int = 200
    """Permutations of the shuffle test (tigramite's ``sig_samples``)."""

    def tigramite_test(self, seed: int) -> Any:
        from tigramite.independence_tests.cmiknn import CMIknn

        # sig_blocklength is given because tigramite's automatic block length calls np.corrcoef(ddof=...), which
        # numpy >= 2.0 no longer accepts; CMIknn's shuffle is local (nearest-neighbour permutation) anyway.
        return CMIknn(significance="shuffle_test", seed=seed, sig_blocklength=1, sig_samples=self.shuffle_samples)


@dataclass(frozen=True)
class RCoTTest(CITest):
    """Random Fourier features after an additive regression on Z (RCoT-style, :mod:`causal_nodes.discovery.rcot`):
    nonlinear, ~ParCorr's cost per PCMCI run; the only test that can be stratified by a ``context``."""

    name: ClassVar[str] = "rcot"
    stratifies: ClassVar[bool] = True
    n_features: int = 2
    """Cosine features per residual besides its score."""
    frequencies: int = 3
    """Harmonics per condition in the regression basis."""
    bandwidth: float = 1.0
    """Kernel width in normal-score units."""
    null: str = "wilks"
    """Approximate null of the feature statistic: ``wilks`` (Bartlett) or ``robust`` (RCoT's fourth moments)."""
    linear: str = "raw"
    """Linear terms on standardised values (``raw``, ParCorr's scale) or normal scores (``ranks``)."""

    def __post_init__(self) -> None:
        self.rcot_options()  # validates

    def rcot_options(self, seed: int = 0) -> Any:
        from causal_nodes.discovery.rcot import RCoTOptions

        return RCoTOptions(n_features=self.n_features, frequencies=self.frequencies, bandwidth=self.bandwidth,
                           seed=seed, null=self.null, linear=self.linear)

    def tigramite_test(self, seed: int) -> Any:
        from causal_nodes.discovery.rcot import RCoT

        return RCoT(self.rcot_options(seed))

    def stratified_tigramite_test(self, seed: int, context: int) -> Any:
        from causal_nodes.discovery.rcot import RCoT

        return RCoT(self.rcot_options(seed), context=context)
