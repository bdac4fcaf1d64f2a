"""Where to draw a causal graph's variables and how to style its links, for RViz markers and the graph image.

Kept in the core so the marker array (node) and the rendered image (PNG, ``sensor_msgs/Image``) show the same
picture: variables on a circle in a fixed order, links coloured by the sign of their strength (red positive,
blue negative) and as wide as its magnitude, labelled with their lag.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from causal_nodes.discovery.discover import Link

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class LinkStyle:
    width: float
    """Relative width in [0.2, 1]: 0.2 + 0.8 |strength| (ParCorr strengths lie in [-1, 1])."""
    color: RGBA
    label: str


def circle_layout(variables: Sequence[str], radius: float = 1.0) -> dict[str, tuple[float, float]]:
    """Variables evenly on a circle, the first at the top, going clockwise."""
    n = max(len(variables), 1)
    return {
        name: (radius * math.sin(2 * math.pi * k / n), radius * math.cos(2 * math.pi * k / n))
        for k, name in enumerate(variables)
    }


def link_style(link: Link) -> LinkStyle:
    magnitude = min(abs(link.strength), 1.0) if math.isfinite(link.strength) else 0.0
    color: RGBA = (0.85, 0.2, 0.15, 0.9) if link.strength >= 0 else (0.15, 0.35, 0.85, 0.9)
    if link.link_type != "-->":
        color = (0.5, 0.5, 0.5, 0.9)
    label = f"{link.lag}" if link.lag else "0"
    if link.link_type != "-->":  # an ancestral mark (o->, <->, o-o) says what is and is not known: show it
        label += f" {link.link_type}"
    return LinkStyle(width=0.2 + 0.8 * magnitude, color=color, label=label)


def render_graph_image(variables: Sequence[str], links: Sequence[Link], size: int = 480, title: str = "") -> np.ndarray:
    """The graph as an RGB image (H, W, 3, uint8): what ``/causal/graph_image`` and ``graph.png`` show."""
    import cv2

    image = np.full((size, size, 3), 255, np.uint8)
    centre = size / 2.0
    scale = size * 0.32
    layout = {k: (centre + scale * x, centre - scale * y) for k, (x, y) in circle_layout(variables).items()}
    node_radius = max(8, int(size * 0.035))
    for link in links:
        if link.source not in layout or link.target not in layout:
            continue
        style = link_style(link)
        bgr = tuple(int(255 * c) for c in style.color[2::-1])
        thickness = max(1, int(round(6 * style.width)))
        if link.source == link.target:
            x, y = layout[link.source]
            cv2.circle(image, (int(x), int(y - node_radius * 1.6)), node_radius, bgr, thickness, cv2.LINE_AA)
            _put(image, f"lag {style.label}", (x + node_radius, y - node_radius * 2.4), bgr)
            continue
        start, end = _shorten(layout[link.source], layout[link.target], node_radius * 1.2)
        if link.link_type == "-->":
            cv2.arrowedLine(image, start, end, bgr, thickness, cv2.LINE_AA, tipLength=0.06)
        else:
            cv2.line(image, start, end, bgr, thickness, cv2.LINE_AA)
        mid = ((start[0] * 2 + end[0]) / 3.0, (start[1] * 2 + end[1]) / 3.0)
        _put(image, style.label, mid, bgr)
    for name, (x, y) in layout.items():
        cv2.circle(image, (int(x), int(y)), node_radius, (60, 60, 60), -1, cv2.LINE_AA)
        _put(image, name, (x - 4 * len(name), y + node_radius * 2.2), (0, 0, 0))
    if title:
        _put(image, title, (8, 18), (0, 0, 0))
    return image[:, :, ::-1].copy()  # BGR -> RGB


def _shorten(a: tuple[float, float], b: tuple[float, float], by: float) -> tuple[tuple[int, int], tuple[int, int]]:
    d = np.subtract(b, a)
    length = float(np.hypot(*d)) or 1.0
    u = d / length
    return (int(a[0] + u[0] * by), int(a[1] + u[1] * by)), (int(b[0] - u[0] * by), int(b[1] - u[1] * by))


def _put(image: np.ndarray, text: str, at: tuple[float, float], bgr: tuple[int, ...]) -> None:
    import cv2

    cv2.putText(image, text, (int(at[0]), int(at[1])), cv2.FONT_HERSHEY_SIMPLEX, 0.4, bgr, 1, cv2.LINE_AA)
