"""Options of a fleet analysis: how each bag is read, windowed, discovered and prioritized, and how bags combine.

One frozen dataclass travels with every task to the workers (it pickles), so every bag of a run, on whichever
machine, is analysed with exactly the same settings; :meth:`FleetConfig.to_json` is written into the summary so a
result says how it was made.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from causal_nodes.bags.to_csv import DEFAULT_TOPICS
from causal_nodes.discovery.discover import DiscoveryConfig
from causal_nodes.prioritization import PrioritizerConfig

SOURCES = ("auto", "sensors", "frames")


@dataclass(frozen=True)
class ExtractionOptions:
    """How a bag becomes variable frames: the ``bag2csv`` options.

    ``source``: ``sensors`` runs the variable extraction on the input topics (as the variables node does),
    ``frames`` reads the ``/causal/variables`` frames already in the bag (SCM simulations, recorded pipelines),
    ``auto`` uses the sensors when the bag has the topics of at least one variable, the frames otherwise.
    """

    source: str = "auto"
    rate_hz: float = 10.0
    person: str = "nearest"
    variables: tuple[str, ...] | None = None
    topics: tuple[tuple[str, str], ...] = tuple(DEFAULT_TOPICS.items())

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if not (self.person == "nearest" or self.person.lstrip("-").isdigit()):
            raise ValueError(f"person must be 'nearest' or an integer track id, got {self.person!r}")

    def topic_map(self) -> dict[str, str]:
        return dict(self.topics)


@dataclass(frozen=True)
class WindowOptions:
    """Sliding windows over a bag's frames, in samples of the variable grid (as the discovery node's window).

    A window graph is computed when the window holds ``min_samples`` (default: ``length``, i.e. only full windows,
    so window graphs compare) and ``stride`` samples were accepted since the previous one.
    """

    length: int = 300
    stride: int = 100
    min_samples: int | None = None
    time_jump_reset_s: float = 1.0

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ValueError(f"window length must be >= 2 samples, got {self.length}")
        if self.stride < 1:
            raise ValueError(f"window stride must be >= 1 sample, got {self.stride}")
        if self.min_samples is not None and not 2 <= self.min_samples <= self.length:
            raise ValueError(f"min_samples must be in [2, window length {self.length}], got {self.min_samples}")

    @property
    def needed(self) -> int:
        return self.length if self.min_samples is None else self.min_samples


@dataclass(frozen=True)
class PrioritizationOptions:
    """Run the prioritizer on every window graph: what it would have recommended, window by window.

    The effect model is the linear lagged SEM (the kinematic one needs the scene of every window, which the bag
    analysis does not track).
    """

    target: str
    actionable: tuple[str, ...] = ("robot_linear_speed", "robot_angular_speed")
    config: PrioritizerConfig = field(
        default_factory=lambda: PrioritizerConfig(bootstrap=20, effect_model="linear", local_weighting="none"))


@dataclass(frozen=True)
class FleetConfig:
    extraction: ExtractionOptions = field(default_factory=ExtractionOptions)
    window: WindowOptions = field(default_factory=WindowOptions)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    prioritization: PrioritizationOptions | None = None
    pooled: bool = True
    """Also discover one graph over all of a bag's complete samples (``bag2csv --drop-incomplete`` + ``discover``)."""

    def __post_init__(self) -> None:
        if self.window.needed < self.discovery.min_samples():
            raise ValueError(f"windows of {self.window.needed} samples are too short for tau_max "
                             f"{self.discovery.tau_max} (need >= {self.discovery.min_samples()})")

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["discovery"] = self.discovery.as_dict()  # the test object and the choices by name
        return out
