"""Synthetic structural causal models (SCMs) over time series with a known lagged graph.

Each variable follows ``z_j(t) = sum_links c * f(z_i(t - lag)) + noise_j(t)`` in standardised units and is
reported as ``offset_j + scale_j * z_j`` so names and magnitudes can look like the pipeline's variables.
Contemporaneous links (lag 0) must form a DAG; they are evaluated in a topological order. Autolinks
``(x, x, 1)`` are links like any other and belong to the ground truth.

``do(x = v)`` replaces ``z_x(t)`` by ``(v - offset) / scale`` during the window. Noise is drawn as one vector per
step whatever the state, so intervened and baseline runs from one seed differ only in the descendants.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .forking import Forkable
from .interventions import Intervention, InterventionSchedule

FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    # Monotone, saturating: keeps the process bounded and leaves a linear (ParCorr-visible) trend.
    "tanh": lambda x: 2.0 * np.tanh(0.5 * x),
    # Monotone and convex-concave: stronger response for large |x| than a linear link.
    "cubic": lambda x: x + 0.1 * x ** 3 / (1.0 + 0.05 * x * x),
}
"""Link functions ``f``; all are identity-like near 0 so a coefficient means roughly the same for each."""


@dataclass(frozen=True)
class SCMLink:
    source: str
    target: str
    lag: int
    coefficient: float
    function: str = "linear"


@dataclass(frozen=True)
class SCMSpec:
    """A lagged SCM; ``ground_truth()`` is the set of its links' ``(source, target, lag)``."""

    variables: tuple[str, ...]
    links: tuple[SCMLink, ...]
    noise_std: tuple[float, ...]
    offsets: tuple[float, ...] = ()
    scales: tuple[float, ...] = ()
    warmup_steps: int = 100

    def __post_init__(self) -> None:
        names = list(self.variables)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"scm.variables must be non-empty and unique, got {names}")
        n = len(names)
        for attr in ("noise_std", "offsets", "scales"):
            values = getattr(self, attr)
            if values and len(values) != n:
                raise ValueError(f"scm.{attr} needs one value per variable ({n}), got {len(values)}")
        if any(not s > 0 for s in self.noise_std):
            raise ValueError(f"scm.noise_std must be > 0, got {self.noise_std}")
        if self.scales and any(s == 0 for s in self.scales):
            raise ValueError("scm.scales must be non-zero")
        seen: set[tuple[str, str, int]] = set()
        for link in self.links:
            for end in (link.source, link.target):
                if end not in names:
                    raise ValueError(f"scm.links: unknown variable {end!r} (variables are {names})")
            if link.lag < 0:
                raise ValueError(f"scm.links: lag must be >= 0, got {link.lag} for {link.source}->{link.target}")
            if link.lag == 0 and link.source == link.target:
                raise ValueError(f"scm.links: {link.source} cannot cause itself at lag 0")
            if link.function not in FUNCTIONS:
                raise ValueError(f"scm.links: function must be one of {sorted(FUNCTIONS)}, got {link.function!r}")
            if not math.isfinite(link.coefficient):
                raise ValueError(f"scm.links: coefficient of {link.source}->{link.target} must be finite")
            key = (link.source, link.target, link.lag)
            if key in seen:
                raise ValueError(f"scm.links: duplicate link {key}")
            seen.add(key)
        self.contemporaneous_order()  # raises on a lag-0 cycle

    @property
    def max_lag(self) -> int:
        return max((link.lag for link in self.links), default=0)

    def ground_truth(self) -> set[tuple[str, str, int]]:
        return {(link.source, link.target, link.lag) for link in self.links}

    def contemporaneous_order(self) -> list[int]:
        """Variable indices in an order where every lag-0 parent comes before its child."""
        index = {name: i for i, name in enumerate(self.variables)}
        parents: dict[int, set[int]] = {i: set() for i in range(len(self.variables))}
        for link in self.links:
            if link.lag == 0:
                parents[index[link.target]].add(index[link.source])
        order: list[int] = []
        remaining = set(parents)
        while remaining:
            ready = sorted(i for i in remaining if not (parents[i] & remaining))
            if not ready:
                cycle = sorted(self.variables[i] for i in remaining)
                raise ValueError(f"scm.links: contemporaneous (lag 0) links form a cycle among {cycle}")
            order.extend(ready)
            remaining -= set(ready)
        return order

    def is_stable(self) -> bool:
        """Whether the linearised process is stationary (companion matrix spectral radius < 1)."""
        n, lags = len(self.variables), max(self.max_lag, 1)
        index = {name: i for i, name in enumerate(self.variables)}
        contemporaneous = np.zeros((n, n))
        lagged = np.zeros((lags, n, n))
        for link in self.links:
            if link.lag == 0:
                contemporaneous[index[link.target], index[link.source]] = link.coefficient
            else:
                lagged[link.lag - 1, index[link.target], index[link.source]] = link.coefficient
        solve = np.linalg.inv(np.eye(n) - contemporaneous)
        companion = np.zeros((n * lags, n * lags))
        companion[:n, :] = np.concatenate([solve @ lagged[k] for k in range(lags)], axis=1)
        companion[n:, :-n] = np.eye(n * (lags - 1))
        return bool(np.max(np.abs(np.linalg.eigvals(companion))) < 1.0)


class SCMSimulator(Forkable):
    """Steps an :class:`SCMSpec`; same interface as the physical simulator where it matters."""

    _noise_streams = ("_rng",)

    def __init__(self, spec: SCMSpec, dt: float = 0.1, seed: int = 0, rng: np.random.Generator | None = None) -> None:
        """``rng``: draw the noise from this generator instead of one seeded by ``seed`` (a generator that also
        drew the SCM's structure, so one seed makes structure and data)."""
        self.spec = spec
        self.dt = float(dt)
        self._rng = rng if rng is not None else np.random.default_rng(np.random.SeedSequence(int(seed)))
        n = len(spec.variables)
        self._index = {name: i for i, name in enumerate(spec.variables)}
        self._noise = np.asarray(spec.noise_std, dtype=float) if spec.noise_std else np.ones(n)
        self._offsets = np.asarray(spec.offsets, dtype=float) if spec.offsets else np.zeros(n)
        self._scales = np.asarray(spec.scales, dtype=float) if spec.scales else np.ones(n)
        self._order = spec.contemporaneous_order()
        self._parents: list[list[tuple[int, int, float, Callable]]] = [[] for _ in range(n)]
        for link in spec.links:
            self._parents[self._index[link.target]].append(
                (self._index[link.source], link.lag, link.coefficient, FUNCTIONS[link.function]))
        self._history = np.zeros((max(spec.max_lag, 1) + 1, n))  # row 0 = newest
        self.interventions = InterventionSchedule()
        self.step_index = 0
        for _ in range(spec.warmup_steps):
            self._advance(None)
        self.step_index = 0

    @property
    def time(self) -> float:
        return self.step_index * self.dt

    @property
    def variables(self) -> list[str]:
        return list(self.spec.variables)

    def apply_intervention(self, intervention: Intervention) -> None:
        if intervention.variable not in self._index:
            raise ValueError(f"cannot intervene on {intervention.variable!r}: the SCM's variables are "
                             f"{list(self.spec.variables)}")
        self.interventions.add(intervention)

    def step(self) -> None:
        self.step_index += 1
        self._advance(self.step_index)

    def _advance(self, k: int | None) -> None:
        noise = self._rng.standard_normal(len(self._noise)) * self._noise
        self._history = np.roll(self._history, 1, axis=0)
        current = self._history[0]
        current[:] = 0.0
        for j in self._order:
            forced = None if k is None else self.interventions.value(self.spec.variables[j], k, self.dt)
            if forced is not None:
                current[j] = (float(forced) - self._offsets[j]) / self._scales[j]
                continue
            total = noise[j]
            for i, lag, coefficient, function in self._parents[j]:
                total += coefficient * float(function(self._history[lag, i]))
            current[j] = total

    def values(self) -> np.ndarray:
        """Current values in reported units (offset + scale * standardised value)."""
        return self._offsets + self._scales * self._history[0]

    def frame(self) -> tuple[list[str], list[float]]:
        """The current sample as a VariableFrame's ``(names, values)``."""
        return self.variables, [float(v) for v in self.values()]


def expected_do_effect(spec: SCMSpec, variable: str, value: float, steps: int) -> dict[str, np.ndarray]:
    """Exact expected effect of ``do(variable = value)`` held for ``steps`` steps on a linear SCM at stationarity.

    Returns, per variable, ``E[x(k) | do] - E[x(k)]`` for k = 1..steps in reported units (the offsets cancel).
    Why it is exact: for a linear SCM started in its stationary distribution (mean offset, standardised mean 0),
    expectations follow the same recursion without noise, and the undisturbed expectation stays at the mean. The
    effect per unit of intervention is this divided by ``value - offset`` of the variable -- the total causal
    effect summed over all paths and lags up to k, the quantity the prioritizer predicts.
    """
    if variable not in spec.variables:
        raise ValueError(f"unknown variable {variable!r}; the SCM's variables are {list(spec.variables)}")
    if any(link.function != "linear" for link in spec.links):
        raise ValueError("expected_do_effect is exact only for linear SCMs (every link function 'linear')")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    n = len(spec.variables)
    index = {name: i for i, name in enumerate(spec.variables)}
    offsets = np.asarray(spec.offsets, dtype=float) if spec.offsets else np.zeros(n)
    scales = np.asarray(spec.scales, dtype=float) if spec.scales else np.ones(n)
    forced = index[variable]
    forced_z = (float(value) - offsets[forced]) / scales[forced]
    history = np.zeros((max(spec.max_lag, 1) + 1, n))
    path = np.zeros((steps, n))
    for k in range(steps):
        history = np.roll(history, 1, axis=0)
        history[0] = 0.0
        for j in spec.contemporaneous_order():
            if j == forced:
                history[0, j] = forced_z
                continue
            history[0, j] = sum(link.coefficient * history[link.lag, index[link.source]]
                                for link in spec.links if index[link.target] == j)
        path[k] = history[0]
    return {name: scales[i] * path[:, i] for i, name in enumerate(spec.variables)}


def random_scm(n_variables: int = 5, max_lag: int = 3, n_links: int = 5, *, contemporaneous_fraction: float = 0.0,
               function: str = "linear", seed: int = 0, coefficient_range: tuple[float, float] = (0.4, 0.6),
               autocorrelation_range: tuple[float, float] = (0.3, 0.6),
               names: Sequence[str] | None = None) -> SCMSpec:
    """A random stable SCM: every variable has an autolink at lag 1 plus ``n_links`` cross links.

    Cross links get random sources, targets, lags in ``1..max_lag`` (or 0 with probability
    ``contemporaneous_fraction``, then only from an earlier to a later variable so lag 0 stays acyclic) and
    coefficients of random sign with magnitude in ``coefficient_range``. Draws are repeated (same generator) until
    the process is stable.
    """
    if n_variables < 2:
        raise ValueError(f"n_variables must be >= 2, got {n_variables}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    if function not in FUNCTIONS:
        raise ValueError(f"function must be one of {sorted(FUNCTIONS)}, got {function!r}")
    if not 0.0 <= contemporaneous_fraction <= 1.0:
        raise ValueError(f"contemporaneous_fraction must be in [0, 1], got {contemporaneous_fraction}")
    possible = n_variables * (n_variables - 1) * max_lag + n_variables * (n_variables - 1) // 2
    if not 0 <= n_links <= possible // 2:
        raise ValueError(f"n_links must be in 0..{possible // 2} for {n_variables} variables, got {n_links}")
    names = list(names) if names is not None else [f"x{i}" for i in range(n_variables)]
    if len(names) != n_variables:
        raise ValueError(f"names needs {n_variables} entries, got {len(names)}")
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        links = [SCMLink(v, v, 1, float(rng.uniform(*autocorrelation_range)), function) for v in names]
        used: set[tuple[int, int, int]] = set()
        while len(links) < n_variables + n_links:
            if rng.random() < contemporaneous_fraction:
                i, j = sorted(rng.choice(n_variables, size=2, replace=False))
                lag = 0
            else:
                i, j = rng.choice(n_variables, size=2, replace=False)
                lag = int(rng.integers(1, max_lag + 1))
            if (i, j, lag) in used or (lag == 0 and (j, i, 0) in used):
                continue
            used.add((int(i), int(j), lag))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            links.append(SCMLink(names[i], names[j], lag, sign * float(rng.uniform(*coefficient_range)), function))
        spec = SCMSpec(tuple(names), tuple(links), tuple([1.0] * n_variables))
        if spec.is_stable():
            return spec
    raise ValueError("could not draw a stable SCM with these settings; lower the coefficients or the link count")


def simulate_scm(spec: SCMSpec, steps: int, seed: int = 0, rng: np.random.Generator | None = None) -> np.ndarray:
    """``(steps, n_variables)`` samples in reported units, after the spec's warm-up (see :class:`SCMSimulator`)."""
    sim = SCMSimulator(spec, seed=seed, rng=rng)
    rows = np.empty((int(steps), len(spec.variables)))
    for t in range(int(steps)):
        sim.step()
        rows[t] = sim.values()
    return rows


def linear_scm_coefficients(n_vars: int, *, max_lag: int = 2, density: float = 0.3, contemporaneous: bool = True,
                            autocorrelation: float = 0.5, seed: int | None = 0) -> np.ndarray:
    """The structure :func:`random_linear_scm` simulates with the same arguments: ``coeffs[k, j, i]`` is the effect
    of ``x_i(t-k)`` on ``x_j(t)`` (k = 0: contemporaneous), after the stability rescaling (benchmarks report it)."""
    if n_vars < 1:
        raise ValueError(f"need n_vars >= 1, got {n_vars}")
    return _draw_linear_coefficients(np.random.default_rng(seed), n_vars, max_lag, density, contemporaneous,
                                     autocorrelation)


def _draw_linear_coefficients(rng: np.random.Generator, n_vars: int, max_lag: int, density: float,
                              contemporaneous: bool, autocorrelation: float) -> np.ndarray:
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    coeffs = np.zeros((max_lag + 1, n_vars, n_vars))  # coeffs[k, j, i]: effect of x_i(t-k) on x_j(t)
    for k in range(1, max_lag + 1):
        mask = rng.random((n_vars, n_vars)) < density
        coeffs[k][mask] = rng.uniform(0.2, 0.5, mask.sum()) * rng.choice([-1.0, 1.0], mask.sum())
    coeffs[1][np.diag_indices(n_vars)] = autocorrelation
    if contemporaneous:
        lower = np.tril(rng.random((n_vars, n_vars)) < density / 2, k=-1)
        coeffs[0][lower] = rng.uniform(0.3, 0.6, lower.sum()) * rng.choice([-1.0, 1.0], lower.sum())
    instant = np.linalg.inv(np.eye(n_vars) - coeffs[0])  # x_t = instant @ (lagged part + e_t)
    for _ in range(50):
        companion = np.zeros((n_vars * max_lag, n_vars * max_lag))
        for k in range(1, max_lag + 1):
            companion[:n_vars, (k - 1) * n_vars:k * n_vars] = instant @ coeffs[k]
        companion[n_vars:, :-n_vars] = np.eye(n_vars * (max_lag - 1))
        if np.max(np.abs(np.linalg.eigvals(companion))) < 0.95:
            break
        coeffs[1:] *= 0.8
    return coeffs


def random_linear_scm(n_vars: int, n_time: int, *, max_lag: int = 2, density: float = 0.3,
                      contemporaneous: bool = True, autocorrelation: float = 0.5,
                      seed: int | None = 0, burn_in: int = 200) -> np.ndarray:
    """Data of a random stable linear SCM drawn by link *density* (the fast engine's tests and benchmarks).

    Cross links are drawn with probability ``density`` at lags ``1..max_lag`` (and at lag 0 from lower to higher
    index when ``contemporaneous``), each variable gets an own lag-1 coefficient ``autocorrelation``, and the
    lagged coefficients are rescaled until the process is stable (spectral radius < 0.95;
    :func:`linear_scm_coefficients` returns that structure). The same generator then
    draws the unit Gaussian noise of ``burn_in + n_time`` steps of :class:`SCMSimulator`; returns ``(n_time,
    n_vars)``. :func:`random_scm` draws a fixed number of links instead, and optionally nonlinear ones.
    """
    if n_vars < 1 or n_time < 1:
        raise ValueError(f"need n_vars >= 1 and n_time >= 1, got {n_vars}, {n_time}")
    rng = np.random.default_rng(seed)
    coeffs = _draw_linear_coefficients(rng, n_vars, max_lag, density, contemporaneous, autocorrelation)
    names = [f"x{i}" for i in range(n_vars)]
    links = tuple(SCMLink(names[i], names[j], k, float(coeffs[k, j, i]))
                  for k in range(max_lag + 1) for j in range(n_vars) for i in range(n_vars) if coeffs[k, j, i] != 0.0)
    spec = SCMSpec(tuple(names), links, (1.0,) * n_vars, warmup_steps=burn_in)
    return simulate_scm(spec, n_time, rng=rng)
