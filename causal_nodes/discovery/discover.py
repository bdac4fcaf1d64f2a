"""Causal discovery on one window of samples: PCMCI / PCMCI+ / LPCMCI with tigramite's independence tests.

One function, :func:`discover`, serves the discovery node, the CLI and offline bag analysis, so a graph computed
live and one computed from a CSV of the same samples are the same graph. It chooses the engine: the exact fast
ParCorr engine (:mod:`causal_nodes.discovery.fast.pcmci`) where it applies, tigramite otherwise, and records which one
ran and why.

Besides the samples, a run may take what tigramite users describe their data with (:class:`Samples`): a mask
(``mask_type``), several datasets of one process (multiple-datasets mode: each person's encounter, each episode),
and a context variable whose regimes a stratifying test (``rcot``) tests separately.

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
from causal_nodes.discovery.samples import InsufficientDataError, Samples, check_mask_type, regime_labels


class Method(Choice):
    """The PCMCI variant (tigramite's ``run_pcmci`` / ``run_pcmciplus`` / ``LPCMCI.run_lpcmci``)."""

    PCMCI = "pcmci"
    PCMCIPLUS = "pcmciplus"
    LPCMCI = "lpcmci"
    """Latent PCMCI: allows hidden common causes; its graph is ancestral (marks ``o->``, ``<->``, ``o-o``)."""


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


def min_samples_for(max_lag: int) -> int:
    """Fewest samples a window needs for lags up to ``max_lag``: the lagged design loses ``max_lag`` rows and every
    test (or, after discovery, every SEM equation) still needs a few degrees of freedom. Discovery and the
    prioritizer share this rule."""
    return 2 * max_lag + 10


METHOD_DEFAULT_PC_ALPHA = 0.0
"""``pc_alpha`` that stands for the method's own default (:func:`default_pc_alpha`); params files, the CLI and the
node pass it when no value was chosen."""


def default_pc_alpha(method: Method | str) -> float:
    """tigramite's default pc_alpha of the method: ``run_pcmci`` 0.2, ``run_pcmciplus`` 0.01."""
    return 0.01 if Method.parse(method, "method") is Method.PCMCIPLUS else 0.2


@dataclass(frozen=True)
class DiscoveryConfig:
    """Options of one PCMCI run; names and meanings follow tigramite's ``run_pcmci`` / ``run_pcmciplus``.

    ``method``, ``test``, ``fdr_method`` and ``engine`` also accept their names as strings (params files, the CLI,
    the node); they are stored as :class:`Method`, :class:`~causal_nodes.discovery.independence_tests.CITest`,
    :class:`FDRMethod` and :class:`Engine`. ``pc_alpha`` defaults to the method's (:func:`default_pc_alpha`),
    also when given as :data:`METHOD_DEFAULT_PC_ALPHA`; None selects it per variable (tigramite's grid).
    """

    method: Method = Method.PCMCI
    test: CITest = field(default_factory=ParCorrTest)
    tau_min: int = 0
    tau_max: int = 3
    pc_alpha: float | None = METHOD_DEFAULT_PC_ALPHA
    alpha_level: float = 0.01
    max_conds_dim: int | None = None
    max_combinations: int = 1
    fdr_method: FDRMethod = FDRMethod.NONE
    engine: Engine = Engine.AUTO
    seed: int = 0
    """Seed of the shuffle tests (CMIknn), so repeated runs give the same p-values."""
    context: str = ""
    """Variable holding a regime label (e.g. an encounter phase): every test then runs within the regimes and
    their evidence adds up (needs a test that stratifies: ``rcot``); it is a label, not a node of the graph."""
    context_bins: tuple[float, ...] = ()
    """Increasing edges cutting a continuous context variable into ``len + 1`` regimes (empty: its values are
    the labels)."""
    mask_type: str = "y"
    """With a mask: which samples a test leaves out (tigramite's mask_type: letters of x, y, z)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", Method.parse(self.method, "method"))
        object.__setattr__(self, "test", ci_test(self.test))
        object.__setattr__(self, "context_bins", tuple(float(b) for b in self.context_bins))
        check_mask_type(self.mask_type)
        regime_labels(np.zeros(0), self.context_bins)  # validates the edges
        if self.context:
            _require(self.test.stratifies, f"context {self.context!r} needs a test that stratifies "
                     f"({', '.join(n for n, t in CI_TESTS.items() if t.stratifies)}), not {self.test.name!r}")
        object.__setattr__(self, "engine", Engine.parse(self.engine, "engine"))
        object.__setattr__(self, "fdr_method", FDRMethod.parse(self.fdr_method, "fdr_method"))
        if self.pc_alpha == METHOD_DEFAULT_PC_ALPHA:
            object.__setattr__(self, "pc_alpha", default_pc_alpha(self.method))
        _require(0 <= self.tau_min <= self.tau_max, f"need 0 <= tau_min <= tau_max, got {self.tau_min}, {self.tau_max}")
        _require(self.pc_alpha is None or 0.0 < self.pc_alpha < 1.0, f"pc_alpha must be in (0, 1), got {self.pc_alpha}")
        _require(0.0 < self.alpha_level < 1.0, f"alpha_level must be in (0, 1), got {self.alpha_level}")
        _require(self.max_combinations >= 1, f"max_combinations must be >= 1, got {self.max_combinations}")
        if self.method is Method.PCMCIPLUS:
            _require(self.tau_min == 0, "PCMCI+ needs tau_min = 0")

    def replace(self, **changes: Any) -> DiscoveryConfig:
        """A copy with ``changes``; a pc_alpha that was the old method's default follows a new method."""
        if "method" in changes and "pc_alpha" not in changes and self.pc_alpha == default_pc_alpha(self.method):
            changes["pc_alpha"] = METHOD_DEFAULT_PC_ALPHA
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
        return min_samples_for(self.tau_max)

    def alpha(self) -> float:
        """Significance that decides the published graph: ``alpha_level`` (PCMCI's MCI stage, and LPCMCI, whose
        only level it is), ``pc_alpha`` for PCMCI+ (it decides with that level, as in tigramite)."""
        if self.method is Method.PCMCIPLUS and self.pc_alpha is not None:
            return self.pc_alpha
        return self.alpha_level


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
    datasets: int = 1
    """Datasets the run pooled (tigramite's multiple-datasets mode when > 1)."""
    drop_reasons: dict[str, str] = field(default_factory=dict)
    """Why each variable in ``dropped`` was left out (constant, a linear function of others)."""

    def dropped_text(self) -> str:
        """``name (why); ...`` for logs and diagnostics ('' when nothing was left out)."""
        if not self.dropped:
            return ""
        return _reasons_text({name: self.drop_reasons.get(name, "left out") for name in self.dropped})

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
                        if kind.startswith("<") and not kind.endswith(">"):  # list the edge from its tail side
                            found.append(self._link(j, i, 0, reverse_link(kind)))
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
            "drop_reasons": dict(self.drop_reasons),
            "datasets": self.datasets,
            "config": self.config.as_dict(),
        }


MISSING_FLAG = -9.87654321e30
"""Value standing for a missing sample in tigramite's DataFrame (never a real measurement)."""


def reverse_link(kind: str) -> str:
    """The same edge read from its other end (``<--`` -> ``-->``, ``<-o`` -> ``o->``, ``o-o`` stays)."""
    return kind[::-1].translate(str.maketrans("<>", "><"))


def discover(data: np.ndarray | Samples, names: Sequence[str], config: DiscoveryConfig,
             statistics: Any | None = None) -> DiscoveryResult:
    """Runs the configured method on ``data`` (T samples x N variables, columns named by ``names``), or on
    :class:`Samples` (then with its mask, datasets and the context's regimes; ``names`` is ignored).

    NaN marks a missing value: tigramite then leaves out every test sample whose lagged values touch a missing
    one (its ``missing_flag``), so the time grid stays regular; the fast engine does not handle missing values,
    masks, datasets or contexts, so such runs go to tigramite. Raises ValueError on inf or a shape mismatch, and
    :class:`InsufficientDataError` when fewer than ``config.min_samples()`` complete samples or fewer than two
    non-constant variables remain.

    ``statistics``: the same window's :class:`~causal_nodes.discovery.fast.pcmci.WindowStatistics` kept up to date
    sample by sample (streaming); used instead of rebuilding them when the fast engine runs on all columns.
    """
    samples = data if isinstance(data, Samples) else Samples(np.asarray(data, dtype=np.float64), list(names))
    if config.context:
        context, samples = samples.with_column(config.context)
        samples.regimes = regime_labels(context, config.context_bins)
    array = samples.array
    if np.isinf(array).any():
        rows = sorted(set(np.argwhere(np.isinf(array))[:, 0].tolist()))[:5]
        raise ValueError(f"data contains inf (first rows: {rows}); drop or fill those samples first")
    if samples.regimes is not None:  # an unknown regime makes the row's samples missing
        array = np.where(np.isnan(samples.regimes)[:, None], np.nan, array)
        samples.array = array
    missing = np.isnan(array)
    complete = int((~missing.any(axis=1)).sum())
    if complete < config.min_samples():
        raise InsufficientDataError(
            f"{complete} complete samples is too few for tau_max={config.tau_max} (need >= {config.min_samples()})"
        )
    with np.errstate(invalid="ignore"):
        varying = [k for k in range(array.shape[1]) if np.nanmax(array[:, k]) > np.nanmin(array[:, k])]
    dropped = [samples.names[k] for k in range(len(samples.names)) if k not in varying]
    reasons = {name: "constant" for name in dropped}
    for k, combination in dependent_columns(array[:, varying]).items():
        name = samples.names[varying[k]]
        reasons[name] = "a linear function of " + ", ".join(samples.names[varying[c]] for c in combination)
        dropped.append(name)
    varying = [k for k in varying if samples.names[k] not in reasons]
    if len(varying) < 2:
        raise InsufficientDataError(f"fewer than two usable variables (left out: {_reasons_text(reasons)})")
    samples = samples.columns(varying)
    runs, short = samples.runs(2 * config.tau_max + 1)
    if not runs:
        raise InsufficientDataError(f"every dataset is shorter than 2 * tau_max + 1 = {2 * config.tau_max + 1}")
    if short:  # only the datasets long enough for the lags, and one dataset is no longer "datasets"
        samples = samples.rows(np.concatenate(runs))
    if len(runs) == 1:
        samples.datasets = None

    special = _special_samples(samples, len(runs))
    if special:
        runner, engine, note = _tigramite_for(special, config)
    else:
        runner, engine, note = _choose_engine(config)
        if engine is Engine.FAST and statistics is not None and not dropped:
            runner, note = (lambda _samples, cfg: statistics.run(**_fast_options(cfg))), "streaming statistics"
    if short:
        note += f"; {short} dataset(s) shorter than 2 * tau_max + 1 left out"
    started = time.perf_counter()
    results = runner(samples, config)
    seconds = time.perf_counter() - started
    return DiscoveryResult(
        variables=list(samples.names),
        graph=np.asarray(results["graph"]),
        val_matrix=np.asarray(results["val_matrix"], dtype=np.float64),
        p_matrix=np.asarray(results["p_matrix"], dtype=np.float64),
        config=config,
        engine=engine,
        seconds=seconds,
        sample_count=int(sum(len(rows) for rows in runs)),
        dropped=dropped,
        engine_note=note,
        datasets=len(runs),
        drop_reasons=reasons,
    )


SINGULAR_TOLERANCE = 1e-9
"""Share of a variable's variance left unexplained below which it counts as a linear function of others."""


def dependent_columns(array: np.ndarray) -> dict[int, list[int]]:
    """Columns that are (numerically) exact linear functions of earlier columns, with those columns.

    Why: a duplicated variable (the same signal under two names, a unit conversion) makes every test that
    conditions on one of them singular, and PCMCI then reports a thicket of spurious links. The later copy is
    left out, and the result says of what it is a function. Rows with a missing value are ignored.
    """
    rows = array[~np.isnan(array).any(axis=1)]
    if len(rows) < 3:
        return {}
    centred = rows - rows.mean(axis=0)
    centred /= np.maximum(np.linalg.norm(centred, axis=0), 1e-300)
    out: dict[int, list[int]] = {}
    kept: list[int] = []
    for k in range(centred.shape[1]):
        if kept:
            basis = centred[:, kept]
            coef, *_ = np.linalg.lstsq(basis, centred[:, k], rcond=None)
            left = centred[:, k] - basis @ coef
            if float(left @ left) < SINGULAR_TOLERANCE:
                out[k] = [kept[c] for c in np.flatnonzero(np.abs(coef) > 1e-6)]
                continue
        kept.append(k)
    return out


def _reasons_text(reasons: dict[str, str]) -> str:
    return "; ".join(f"{name} ({why})" for name, why in reasons.items()) or "none"


def _special_samples(samples: Samples, n_runs: int) -> str:
    """What about the samples only tigramite handles ('' when nothing)."""
    reasons = []
    if np.isnan(samples.array).any():
        reasons.append("missing values (NaN): tigramite with missing_flag")
    if samples.mask is not None:
        reasons.append("a mask")
    if n_runs > 1:
        reasons.append(f"{n_runs} datasets (multiple-datasets mode)")
    if samples.regimes is not None:
        reasons.append("a context (stratified tests)")
    return "; ".join(reasons)


Runner = Callable[[Samples, DiscoveryConfig], dict[str, Any]]


def _choose_engine(config: DiscoveryConfig) -> tuple[Runner, Engine, str]:
    """Picks the fast engine where it computes exactly the same result, tigramite otherwise."""
    if config.engine is Engine.TIGRAMITE:
        return run_tigramite, Engine.TIGRAMITE, "requested"
    reason = fast_unsupported_reason(config)
    if reason is None:
        return run_fast_engine, Engine.FAST, "exact fast ParCorr engine"
    if config.engine is Engine.FAST:
        raise ValueError(f"engine 'fast' cannot run this configuration: {reason}")
    return run_tigramite, Engine.TIGRAMITE, f"fast engine not applicable: {reason}"


def _tigramite_for(reason: str, config: DiscoveryConfig) -> tuple[Runner, Engine, str]:
    if config.engine is Engine.FAST:
        raise ValueError(f"engine 'fast' cannot handle {reason}; use engine auto or tigramite")
    return run_tigramite, Engine.TIGRAMITE, reason


def _pcmci_options(config: DiscoveryConfig) -> dict[str, Any]:
    """The options the method's run function takes (run_pcmciplus has no alpha_level: it tests at pc_alpha)."""
    options = dict(
        tau_min=config.tau_min,
        tau_max=config.tau_max,
        pc_alpha=config.pc_alpha,
        alpha_level=config.alpha_level,
        max_conds_dim=config.max_conds_dim,
        max_combinations=config.max_combinations,
        fdr_method=config.fdr_method.value,
    )
    if config.method is Method.PCMCIPLUS:
        del options["alpha_level"]
    return options


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


def run_fast_engine(samples: Samples | np.ndarray, config: DiscoveryConfig) -> dict[str, Any]:
    from causal_nodes.discovery.fast import pcmci as fast_pcmci

    array = samples.array if isinstance(samples, Samples) else samples
    return fast_pcmci.run_fast(array, link_assumptions=None, **_fast_options(config))


def make_independence_test(config: DiscoveryConfig) -> Any:
    """tigramite's test object for ``config.test`` (analytic significance where tigramite offers it)."""
    return config.test.tigramite_test(seed=config.seed)


def run_tigramite(samples: Samples | np.ndarray, config: DiscoveryConfig) -> dict[str, Any]:
    """The reference path: tigramite's own PCMCI / PCMCI+ / LPCMCI on the same samples.

    Datasets become tigramite's multiple-datasets mode; a context becomes an extra last variable that no link may
    touch (link assumptions) and that the stratifying test reads its regimes from; it is removed from the result.
    """
    from tigramite.data_processing import DataFrame

    if not isinstance(samples, Samples):
        samples = Samples(samples, [str(k) for k in range(np.shape(samples)[1])])
    n_vars = samples.array.shape[1]
    array = samples.array
    context = None
    if samples.regimes is not None:
        array = np.column_stack([array, samples.regimes])
        context = n_vars
    mask = samples.mask
    if mask is not None and context is not None:
        mask = np.column_stack([mask, np.zeros(len(mask), dtype=bool)])
    missing = np.isnan(array)
    values = np.where(missing, MISSING_FLAG, array)
    runs, _ = samples.runs(2 * config.tau_max + 1)
    multiple = len(runs) > 1
    frame = DataFrame(
        {k: values[rows] for k, rows in enumerate(runs)} if multiple else values,
        mask=None if mask is None else ({k: mask[rows] for k, rows in enumerate(runs)} if multiple else mask),
        missing_flag=MISSING_FLAG if missing.any() else None,
        analysis_mode="multiple" if multiple else "single",
    )
    test = (config.test.stratified_tigramite_test(seed=config.seed, context=context) if context is not None
            else make_independence_test(config))
    if mask is not None:
        test.set_mask_type(config.mask_type)
    links = None if context is None else _links_without(context, n_vars + 1, config)
    if config.method is Method.LPCMCI:
        from tigramite.lpcmci import LPCMCI

        results = LPCMCI(dataframe=frame, cond_ind_test=test, verbosity=0).run_lpcmci(
            link_assumptions=links, tau_min=config.tau_min, tau_max=config.tau_max, pc_alpha=config.alpha_level)
    else:
        from tigramite.pcmci import PCMCI

        pcmci = PCMCI(dataframe=frame, cond_ind_test=test, verbosity=0)
        options = _pcmci_options(config)
        if config.method is Method.PCMCIPLUS:
            results = pcmci.run_pcmciplus(link_assumptions=links, **options)
        else:
            results = pcmci.run_pcmci(link_assumptions=links, **options)
    if context is None:
        return results
    return {key: results[key][:n_vars, :n_vars] for key in ("graph", "val_matrix", "p_matrix")}


def _links_without(excluded: int, n_vars: int, config: DiscoveryConfig) -> dict[int, dict[tuple[int, int], str]]:
    """tigramite's default link assumptions with no link into or out of variable ``excluded``."""
    lagged = "o?>" if config.method is Method.LPCMCI else "-?>"
    out: dict[int, dict[tuple[int, int], str]] = {}
    for j in range(n_vars):
        out[j] = {}
        if j == excluded:
            continue
        for i in range(n_vars):
            if i == excluded:
                continue
            for tau in range(config.tau_min, config.tau_max + 1):
                if tau == 0 and i != j:
                    out[j][(i, 0)] = "o?o"
                elif tau > 0:
                    out[j][(i, -tau)] = lagged
    return out


def _json_floats(matrix: np.ndarray) -> Any:
    """Nested lists with NaN/inf written as None, so the JSON stays standard."""
    return [[[float(v) if np.isfinite(v) else None for v in row] for row in plane] for plane in matrix]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
