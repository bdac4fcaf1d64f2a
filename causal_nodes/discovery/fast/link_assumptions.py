"""Link-assumption handling with tigramite's PCMCI semantics (defaults, orientation, checks).

The fast engine must iterate candidate parents in exactly tigramite's order
(PC1 breaks ties and picks conditions by list position), so the dictionary it
works from has to be built the same way: default candidates ``for i: for lag``,
lagged links re-oriented to ``-?>``/``-->``, missing reverse contemporaneous
links added, and the same validity / acyclicity checks (raised as ValueError).
"""
from __future__ import annotations

import copy
import functools

Link = tuple[int, int]
LinkAssumptions = dict[int, dict[Link, str]]

VALID_LINK_TYPES = ("o-o", "o?o", "-->", "-?>", "<--", "<?-")


def reverse_link(link_type: str) -> str:
    """The same link seen from the other end, e.g. ``-?>`` -> ``<?-``."""
    if link_type == "":
        return ""
    left = "<" if link_type[2] == ">" else link_type[2]
    right = ">" if link_type[0] == "<" else link_type[0]
    return left + link_type[1] + right


def has_contemporaneous_cycle(links: LinkAssumptions) -> bool:
    """True if directed lag-0 links (``-->``/``-?>``) form a cycle."""
    on_path: set = set()
    done: set = set()

    def visit(node: int) -> bool:
        if node in done:
            return False
        done.add(node)
        on_path.add(node)
        for (i, lag), link_type in links.get(node, {}).items():
            if lag == 0 and link_type in ("-->", "-?>"):
                if i in on_path or visit(i):
                    return True
        on_path.discard(node)
        return False

    return any(visit(node) for node in links)


def normalize_link_assumptions(link_assumptions: LinkAssumptions | None, n_vars: int,
                               tau_min: int, tau_max: int,
                               remove_contemp: bool = False) -> LinkAssumptions:
    """Return the cleaned ``{j: {(i, -tau): type}}`` dictionary PCMCI iterates over.

    ``None`` means all links with ``tau_min <= tau <= tau_max`` (lag 0 as
    ``o?o``, lagged as ``-?>``). A given dictionary is deep-copied; with
    ``remove_contemp`` its lag-0 entries are dropped (the PC1 phase).
    """
    variables = range(n_vars)
    if link_assumptions is None:
        links: LinkAssumptions = {}
        for j in variables:
            links[j] = {}
            for i in variables:
                for lag in range(tau_min, tau_max + 1):
                    if i == j and lag == 0:
                        continue
                    links[j][(i, -lag)] = "o?o" if lag == 0 else "-?>"
    else:
        if not isinstance(link_assumptions, dict):
            raise ValueError("link_assumptions must be a dict {j: {(i, -tau): link_type}}")
        links = copy.deepcopy(link_assumptions)
        if set(links.keys()) != set(variables):
            raise ValueError(f"link_assumptions must have a key for every variable 0..{n_vars - 1}")
        if remove_contemp:
            links = {j: {link: t for link, t in links[j].items() if link[1] != 0} for j in links}
    for j in variables:
        for (i, lag) in list(links[j].keys()):
            link_type = links[j][(i, lag)]
            if not isinstance(link_type, str) or len(link_type) != 3:
                raise ValueError(f"invalid link type {link_type!r} for link {(i, lag)} -> {j}")
            if lag == 0:
                if i not in links:
                    raise ValueError(f"link_assumptions refer to unknown variable {i}")
                if (j, 0) in links[i]:
                    if link_type != reverse_link(links[i][(j, 0)]):
                        raise ValueError(f"Inconsistent link assumptions for indices {i} - {j}")
                else:
                    links[i][(j, 0)] = reverse_link(link_type)
            else:
                links[j][(i, lag)] = "-" + link_type[1] + ">"
    allowed_lags = set(range(-tau_max, -tau_min + 1))
    for j, entries in links.items():
        for (i, lag), link_type in entries.items():
            if i not in variables or lag not in allowed_lags or link_type not in VALID_LINK_TYPES:
                raise ValueError(
                    "link_assumptions must be dictionary with keys for all [0,...,N-1] variables "
                    f"and contain only links from these variables in range [tau_min, tau_max] and "
                    f"with link types in {list(VALID_LINK_TYPES)}; offending entry {j}: {(i, lag)}"
                    f" -> {link_type!r}")
    if has_contemporaneous_cycle(links):
        raise ValueError("link_assumptions has contemporaneous cycle(s).")
    return links


@functools.lru_cache(maxsize=64)
def default_link_assumptions(n_vars: int, tau_min: int, tau_max: int) -> LinkAssumptions:
    """tigramite's default (all links) assumptions, cached and shared: never mutate the result."""
    return normalize_link_assumptions(None, n_vars, tau_min, tau_max)
