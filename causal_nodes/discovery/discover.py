"""Causal discovery on one window of samples: PCMCI / PCMCI+ with tigramite's independence tests.

One function, :func:`discover`, serves the discovery node, the CLI and offline bag analysis, so a graph computed
live and one computed from a CSV of the same samples are the same graph. It chooses the engine: the exact fast
ParCorr engine (:mod:`causal_nodes.discovery.fast.pcmci`) where it applies, tigramite otherwise, and records which one
ran and why.

Variables that are constant over the window are left out before the run (tigramite's partial correlations are
undefined for them) and reported in :attr:`DiscoveryResult.dropped`.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from causal_nodes.choices import Choice
from causal_nodes.discovery.independence_tests import CI_TESTS, CITest, ParCorrTest, ci_test, registered_names


class Method(Choice):
    """The PCMCI variant (tigramite's ``run_pcmci`` / ``run_pcmciplus``)."""

    PCMCI = "pcmci"
    PCMCIPLUS = "pcmciplus"


class Engine(Choice):
    """Who computes the graph: ``auto`` = the exact fast engine where it applies, tigramite otherwise."""

    AUTO = "auto"
    FAST = "fast"
    TIGRAMITE = "tigramite"


class FDRMethod(Choice):
    """Multiple-testing correction of the final p-values (tigramite's ``fdr_method``)."""

    NONE = "none"
    FDR_BH = "fdr_bh"


METHODS = Method.names()
TESTS = registered_names()
ENGINES = Engine.names()
FDR_METHODS = FDRMethod.names()


class InsufficientDataError(ValueError):
    """The window is too short for the requested lags (no graph can be computed)."""


@dataclass(frozen=True)
class DiscoveryConfig:
    """Options of one PCMCI run; names and meanings follow tigramite's ``run_pcmci`` / ``run_pcmciplus``.

    ``method``, ``test``, ``fdr_method`` and ``engine`` also accept their names as strings (params files, the CLI,
    the node); they are stored as :class:`Method`, :class:`~causal_nodes.discovery.independence_tests.CITest`,
    :class:`FDRMethod` and :class:`Engine`.
    """

    method: Method = Method.PCMCI
    test: CITest = field(default_factory=ParCorrTest)
    tau_min: int = 0
    tau_max: int = 3
    pc_alpha: float | None = 0.2
    alpha_level: float = 0.01
    max_conds_dim: int | None = None
    max_combinations: int = 1
    fdr_method: FDRMethod = FDRMethod.NONE
    engine: Engine = Engine.AUTO
    seed: int = 0
    """Seed of the shuffle tests (CMIknn), so repeated runs give the same p-values."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", Method.parse(self.method, "method"))
        object.__setattr__(self, "test", ci_test(self.test))
        object.__setattr__(self, "engine", Engine.parse(self.engine, "engine"))
        object.__setattr__(self, "fdr_method", FDRMethod.parse(self.fdr_method, "fdr_method"))
        _require(0 <= self.tau_min <= self.tau_max, f"need 0 <= tau_min <= tau_max, got {self.tau_min}, {self.tau_max}")
        _require(self.pc_alpha is None or 0.0 < self.pc_alpha < 1.0, f"pc_alpha must be in (0, 1), got {self.pc_alpha}")
        _require(0.0 < self.alpha_level < 1.0, f"alpha_level must be in (0, 1), got {self.alpha_level}")
        _require(self.max_combinations >= 1, f"max_combinations must be >= 1, got {self.max_combinations}")
        if self.method is Method.PCMCIPLUS:
            _require(self.tau_min == 0, "PCMCI+ needs tau_min = 0")

    def replace(self, **changes: Any) -> DiscoveryConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (names for the choices and the test), for JSON; the test's own options, if it has any,
        under ``test_options``."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.update(method=self.method.value, test=self.test.name, engine=self.engine.value,
                   fdr_method=self.fdr_method.value)
        if self.test.options():
            out["test_options"] = self.test.options()
        return out

    def min_samples(self) -> int:
        """Fewest samples for which every test still has a few degrees of freedom."""
        return 2 * self.tau_max + 10


@dataclass(frozen=True)
class Link:
    """A significant entry of the graph: ``source(t - lag) -> target(t)`` with tigramite's link type."""

    source: str
    target: str
    lag: int
    link_type: str
    strength: float
    p_value: float

    def key(self) -> tuple[str, str, int]:
        return (self.source, self.target, self.lag)


@dataclass
class DiscoveryResult:
    """What a discovery run produced, in tigramite's array conventions (index ``[i, j, tau]``: i(t-tau) -> j(t))."""

    variables: list[str]
    graph: np.ndarray
    val_matrix: np.ndarray
    p_matrix: np.ndarray
    config: DiscoveryConfig
    engine: Engine
    seconds: float
    sample_count: int
    dropped: list[str] = field(default_factory=list)
    engine_note: str = ""

    def links(self) -> list[Link]:
        """Non-empty graph entries; a contemporaneous pair (stored twice by tigramite) is listed once."""
        found: list[Link] = []
        n = len(self.variables)
        for i in range(n):
            for j in range(n):
                for tau in range(self.graph.shape[2]):
                    kind = str(self.graph[i, j, tau])
                    if not kind:
                        continue
                    if tau == 0:
                        if i > j:
                            continue
                        if kind == "<--":  # report the directed edge from its cause
                            found.append(self._link(j, i, 0, "-->"))
                            continue
                    found.append(self._link(i, j, tau, kind))
        return found

    def _link(self, i: int, j: int, tau: int, kind: str) -> Link:
        return Link(
            source=self.variables[i],
            target=self.variables[j],
            lag=tau,
            link_type=kind,
            strength=float(self.val_matrix[i, j, tau]),
            p_value=float(self.p_matrix[i, j, tau]),
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON layout: nested lists indexed ``[i][j][tau]``."""
        return {
            "variables": list(self.variables),
            "graph": self.graph.tolist(),
            "val_matrix": _json_floats(self.val_matrix),
            "p_matrix": _json_floats(self.p_matrix),
            "seconds": self.seconds,
            "engine": self.engine,
            "engine_note": self.engine_note,
            "sample_count": self.sample_count,
            "dropped": list(self.dropped),
            "config": self.config.as_dict(),
        }


MISSING_FLAG = -9.87654321e30
"""Value standing for a missing sample in tigramite's DataFrame (never a real measurement)."""


def discover(data: np.ndarray, names: Sequence[str], config: DiscoveryConfig,
             statistics: Any | None = None) -> DiscoveryResult:
    """Runs the configured PCMCI variant on ``data`` (T samples x N variables, columns named by ``names``).

    NaN marks a missing value: tigramite then leaves out every test sample whose lagged values touch a missing
    one (its ``missing_flag``), so the time grid stays regular; the fast engine does not handle missing values,
    so such windows go to tigramite. Raises ValueError on inf or a shape mismatch, and
    :class:`InsufficientDataError` when fewer than ``config.min_samples()`` complete samples or fewer than two
    non-constant variables remain.

    ``statistics``: the same window's :class:`~causal_nodes.discovery.fast.pcmci.WindowStatistics` kept up to date
    sample by sample (streaming); used instead of rebuilding them when the fast engine runs on all columns.
    """
    array = np.asarray(data, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(names):
        raise ValueError(f"data has shape {array.shape}, expected (samples, {len(names)}) for variables {list(names)}")
    if np.isinf(array).any():
        rows = sorted(set(np.argwhere(np.isinf(array))[:, 0].tolist()))[:5]
        raise ValueError(f"data contains inf (first rows: {rows}); drop or fill those samples first")
    missing = np.isnan(array)
    complete = int((~missing.any(axis=1)).sum())
    if complete < config.min_samples():
        raise InsufficientDataError(
            f"{complete} complete samples is too few for tau_max={config.tau_max} (need >= {config.min_samples()})"
        )
    keep = [k for k in range(array.shape[1]) if np.nanmax(array[:, k]) > np.nanmin(array[:, k])]
    dropped = [names[k] for k in range(len(names)) if k not in keep]
    if len(keep) < 2:
        raise InsufficientDataError(f"fewer than two non-constant variables (constant: {dropped})")
    array = array[:, keep]
    variables = [names[k] for k in keep]

    if missing[:, keep].any():
        runner, engine, note = _tigramite_for_missing_values(config)
    else:
        runner, engine, note = _choose_engine(config)
        if engine is Engine.FAST and statistics is not None and not dropped:
            runner, note = (lambda _array, cfg: statistics.run(**_fast_options(cfg))), "streaming statistics"
    started = time.perf_counter()
    results = runner(array, config)
    seconds = time.perf_counter() - started
    return DiscoveryResult(
        variables=variables,
        graph=np.asarray(results["graph"]),
        val_matrix=np.asarray(results["val_matrix"], dtype=np.float64),
        p_matrix=np.asarray(results["p_matrix"], dtype=np.float64),
        config=config,
        engine=engine,
        seconds=seconds,
        sample_count=int(array.shape[0]),
        dropped=dropped,
        engine_note=note,
    )


Runner = Callable[[np.ndarray, DiscoveryConfig], dict[str, Any]]


def _choose_engine(config: DiscoveryConfig) -> tuple[Runner, Engine, str]:
    """Picks the fast engine where it computes exactly the same result, tigramite otherwise."""
    if config.engine is Engine.TIGRAMITE:
        return run_tigramite, Engine.TIGRAMITE, "requested"
    reason = fast_unsupported_reason(config)
    if reason is None:
        return run_fast_engine, Engine.FAST, "exact streaming ParCorr engine"
    if config.engine is Engine.FAST:
        raise ValueError(f"engine 'fast' cannot run this configuration: {reason}")
    return run_tigramite, Engine.TIGRAMITE, f"fast engine not applicable: {reason}"


def _tigramite_for_missing_values(config: DiscoveryConfig) -> tuple[Runner, Engine, str]:
    if config.engine is Engine.FAST:
        raise ValueError("engine 'fast' cannot handle missing values (NaN); use engine auto or tigramite")
    return run_tigramite, Engine.TIGRAMITE, "missing values (NaN): tigramite with missing_flag"


def _pcmci_options(config: DiscoveryConfig) -> dict[str, Any]:
    """The options run_pcmci takes (PCMCI+ takes the same but alpha_level: it tests at pc_alpha)."""
    return dict(
        tau_min=config.tau_min,
        tau_max=config.tau_max,
        pc_alpha=config.pc_alpha,
        alpha_level=config.alpha_level,
        max_conds_dim=config.max_conds_dim,
        max_combinations=config.max_combinations,
        fdr_method=config.fdr_method.value,
    )


def _fast_options(config: DiscoveryConfig) -> dict[str, Any]:
    return dict(method=config.method.value, test=config.test.name, **_pcmci_options(config))


def fast_unsupported_reason(config: DiscoveryConfig) -> str | None:
    """None when the exact fast engine reproduces tigramite for ``config``, else why it does not."""
    if not config.test.fast_engine:
        exact = [name for name, test in CI_TESTS.items() if test.fast_engine]
        return f"independence test {config.test.name!r} has no exact fast engine (tests with one: {', '.join(exact)})"
    try:
        from causal_nodes.discovery.fast import pcmci as fast_pcmci
    except ImportError as error:  # the engine is optional: tigramite is always the reference
        return f"fast engine unavailable ({error})"
    return fast_pcmci.unsupported_reason(**_fast_options(config))


def run_fast_engine(array: np.ndarray, config: DiscoveryConfig) -> dict[str, Any]:
    from causal_nodes.discovery.fast import pcmci as fast_pcmci

    return fast_pcmci.run_fast(array, link_assumptions=None, **_fast_options(config))


def make_independence_test(config: DiscoveryConfig) -> Any:
    """tigramite's test object for ``config.test`` (analytic significance where tigramite offers it)."""
    return config.test.tigramite_test(seed=config.seed)


def run_tigramite(array: np.ndarray, config: DiscoveryConfig) -> dict[str, Any]:
    """The reference path: tigramite's own PCMCI on the same array."""
    from tigramite.data_processing import DataFrame
    from tigramite.pcmci import PCMCI

    missing = np.isnan(array)
    frame = DataFrame(np.where(missing, MISSING_FLAG, array), missing_flag=MISSING_FLAG if missing.any() else None)
    pcmci = PCMCI(dataframe=frame, cond_ind_test=make_independence_test(config), verbosity=0)
    options = _pcmci_options(config)
    if config.method is Method.PCMCIPLUS:
        del options["alpha_level"]
        return pcmci.run_pcmciplus(**options)
    return pcmci.run_pcmci(**options)


def _json_floats(matrix: np.ndarray) -> Any:
    """Nested lists with NaN/inf written as None, so the JSON stays standard."""
    return [[[float(v) if np.isfinite(v) else None for v in row] for row in plane] for plane in matrix]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
