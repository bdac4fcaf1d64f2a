"""What a discovery runs on besides its options: the samples, a mask, dataset boundaries and regime labels.

Why a separate structure: tigramite's users describe their data with more than one array -- a mask of samples
not to test on (``mask_type``), several datasets of one process (each person's encounter, each episode, each
year; tigramite's multiple-datasets mode), a context whose regimes should be tested separately. The discovery
node, the CLI and offline benchmarks build one :class:`Samples`, and :func:`~causal_nodes.discovery.discover`
turns it into tigramite's ``DataFrame`` in one place.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MASK_LETTERS = frozenset("xyz")


class InsufficientDataError(ValueError):
    """The samples cannot support the run (too few, too short for the lags, nothing left to test): no graph."""


def check_mask_type(mask_type: str) -> str:
    """tigramite's ``mask_type``: letters of x, y, z -- a test leaves out the samples where a masked value
    enters as X, Y or Z respectively (e.g. ``"y"``: only samples whose effect is unmasked)."""
    if not mask_type or not set(mask_type) <= MASK_LETTERS or len(set(mask_type)) != len(mask_type):
        raise ValueError(f"mask_type must be letters of 'xyz' without repeats (e.g. 'y', 'xyz'), got {mask_type!r}")
    return mask_type


def regime_labels(values: np.ndarray, bins: Sequence[float] = ()) -> np.ndarray:
    """Regime labels from a context column: its values, or with ``bins`` (increasing edges) the index of the
    bin each value falls in (``len(bins) + 1`` regimes). NaN stays NaN (a missing label)."""
    values = np.asarray(values, dtype=np.float64)
    if not bins:
        return values
    edges = np.asarray(bins, dtype=np.float64)
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"context bins must increase strictly, got {list(bins)}")
    labels = np.digitize(values, edges).astype(np.float64)
    labels[np.isnan(values)] = np.nan
    return labels


def dataset_runs(labels: Sequence | np.ndarray) -> list[np.ndarray]:
    """Row indices of each dataset: a dataset is a run of consecutive rows with the same label (so a label that
    comes back later starts a new dataset -- a new encounter with the same person is a new episode)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"dataset labels must be one per row, got shape {labels.shape}")
    if len(labels) == 0:
        return []
    changes = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    return np.split(np.arange(len(labels)), changes)


@dataclass
class Samples:
    """``array`` (T, N) with NaN for missing values, named by ``names``; optional ``mask`` (T, N), True = masked
    (tigramite's convention); optional ``datasets``, a label per row (runs of equal labels are datasets); optional
    ``regimes``, a label per row for a stratifying test (NaN = unknown, the row is then missing)."""

    array: np.ndarray
    names: list[str]
    mask: np.ndarray | None = None
    datasets: np.ndarray | None = None
    regimes: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array, dtype=np.float64)
        rows = self.array.shape[0]
        if self.array.ndim != 2 or self.array.shape[1] != len(self.names):
            raise ValueError(
                f"data has shape {self.array.shape}, expected (samples, {len(self.names)}) for variables {self.names}")
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
            if self.mask.shape != self.array.shape:
                raise ValueError(f"mask has shape {self.mask.shape}, the data {self.array.shape}")
        for name in ("datasets", "regimes"):
            labels = getattr(self, name)
            if labels is not None and len(labels) != rows:
                raise ValueError(f"{name} has {len(labels)} labels for {rows} samples")

    def columns(self, keep: Sequence[int]) -> Samples:
        """The same samples restricted to the columns ``keep``."""
        keep = list(keep)
        return Samples(self.array[:, keep], [self.names[k] for k in keep],
                       None if self.mask is None else self.mask[:, keep], self.datasets, self.regimes)

    def with_column(self, name: str) -> tuple[np.ndarray, Samples]:
        """(that column, the samples without it); ValueError naming the variables when there is no such column."""
        if name not in self.names:
            raise ValueError(f"no variable {name!r} in the data; variables: {self.names}")
        k = self.names.index(name)
        return self.array[:, k], self.columns([c for c in range(len(self.names)) if c != k])

    def rows(self, keep: np.ndarray) -> Samples:
        """The same samples restricted to the rows ``keep`` (in that order)."""
        return Samples(self.array[keep], self.names, None if self.mask is None else self.mask[keep],
                       None if self.datasets is None else np.asarray(self.datasets)[keep],
                       None if self.regimes is None else np.asarray(self.regimes)[keep])

    def runs(self, min_length: int) -> tuple[list[np.ndarray], int]:
        """Row indices per dataset (one for all rows without dataset labels), keeping datasets with at least
        ``min_length`` rows; also how many were too short."""
        runs = dataset_runs(self.datasets) if self.datasets is not None else [np.arange(self.array.shape[0])]
        kept = [rows for rows in runs if len(rows) >= min_length]
        return kept, len(runs) - len(kept)
