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
from dataclasses import dataclass
from typing import Any, ClassVar

CI_TESTS: dict[str, type[CITest]] = {}
"""Registered tests by name, in definition order."""


class CITest(ABC):
    """One conditional-independence test ``X _|_ Y | Z`` and its options (subclasses are frozen dataclasses).

    ``name``: the string that selects it in parameters, the CLI and the published graph.
    ``fast_engine``: the exact fast engine (:mod:`causal_nodes.discovery.fast`) reproduces tigramite's results
    for this test, so ``engine: auto`` may use it; every other test runs through tigramite.
    """

    name: ClassVar[str]
    fast_engine: ClassVar[bool] = False

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

    def __str__(self) -> str:
        return self.name

    def options(self) -> dict[str, Any]:
        """The test's own options (empty for a test without any), for logs and the CLI's JSON."""
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}


def registered_names() -> tuple[str, ...]:
    """Names of the registered tests."""
    return tuple(CI_TESTS)


def ci_test(spec: str | CITest) -> CITest:
    """The test ``spec`` names (with default options), or ``spec`` itself when it is already a test."""
    if isinstance(spec, CITest):
        return spec
    cls = CI_TESTS.get(spec) if isinstance(spec, str) else None
    if cls is None:
        raise ValueError(f"test must be one of {registered_names()}, got {spec!r}")
    return cls()


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
