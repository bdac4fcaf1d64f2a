"""MCI phase of PCMCI (tigramite's ``run_mci``): condition sets, FDR, graph strings, symmetrisation.

Why a separate module: MCI tests are generated as arrays (all links at once)
and answered with one block factorisation per target variable, yet the
condition sets, forced links, Benjamini-Hochberg correction, graph strings and
lag-0 symmetrisation must follow tigramite's rules and order exactly.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from causal_nodes.discovery.fast.lagged_moments import node_column
from causal_nodes.discovery.fast.link_assumptions import LinkAssumptions, default_link_assumptions
from causal_nodes.discovery.fast.parcorr import LaggedParCorr

Node = tuple[int, int]


def mci_tests(parents: dict[int, list[Node]], links: LinkAssumptions, n_vars: int,
               max_conds_py: int, max_conds_px: int):
    """Yield ``(j, i, lag, x_col, z_cols)`` in tigramite's ``_iter_indep_conds`` order.

    Z = parents of j (without X) followed by the parents of i shifted by X's lag
    (not already in Z); shifting a column by ``lag`` adds ``lag * N``.
    """
    parent_cols = {v: [node_column(node, n_vars) for node in parents.get(v, [])] for v in range(n_vars)}
    for j in range(n_vars):
        conds_y = parent_cols[j][:max_conds_py]
        for (i, tau), link_type in links[j].items():
            if (i == j and tau == 0) or link_type in ("<--", "<?-"):
                continue
            lag = -tau
            x_col = lag * n_vars + i
            z = [c for c in conds_y if c != x_col]
            seen = set(z)
            shift = lag * n_vars
            z += [c + shift for c in parent_cols[i][:max_conds_px] if c + shift not in seen]
            yield j, i, lag, x_col, z


def mci_vectorized(oracle: LaggedParCorr, parents: dict[int, list[Node]],
                   candidates: tuple[np.ndarray, ...], n_vars: int, max_conds_py: int,
                   max_conds_px: int, val_matrix: np.ndarray, p_matrix: np.ndarray) -> None:
    """All MCI tests at once (same sets as :func:`mci_tests`), filling the matrices in place.

    Z for X=(i, -lag) -> Y=j is ``base_j \\ {X}`` (parents of j) followed by the
    parents of i shifted by ``lag`` that are not in ``base_j``; shifting adds
    ``lag * N`` to a column. Tests with X outside ``base_j`` share the
    conditioning on ``base_j`` (one block factorisation per j); the few with X
    inside it are conditioned on their whole Z directly.
    """
    jj, ii, lags, forced = candidates
    if jj.size == 0:
        return
    val_matrix[ii[forced], jj[forced], lags[forced]] = 1.0
    p_matrix[ii[forced], jj[forced], lags[forced]] = 0.0
    jj, ii, lags = jj[~forced], ii[~forced], lags[~forced]
    if jj.size == 0:
        return
    n_cols = oracle.corr.shape[0]
    bases = [[node_column(node, n_vars) for node in parents.get(j, [])[:max_conds_py]]
             for j in range(n_vars)]
    px = [[node_column(node, n_vars) for node in parents.get(i, [])[:max_conds_px]]
          for i in range(n_vars)]
    width = max(1, max(len(p) for p in px))
    px_pad = np.zeros((n_vars, width), dtype=np.intp)
    px_valid = np.zeros((n_vars, width), dtype=bool)
    for i, cols in enumerate(px):
        px_pad[i, :len(cols)] = cols
        px_valid[i, :len(cols)] = True
    in_base = np.zeros((n_vars, n_cols), dtype=bool)
    for j, cols in enumerate(bases):
        in_base[j, cols] = True
    x_cols = lags * n_vars + ii
    shifted = px_pad[ii] + (lags * n_vars)[:, None]
    keep = px_valid[ii] & ~in_base[jj[:, None], shifted]
    order = np.argsort(~keep, axis=1, kind="stable")  # kept extras first, in order
    extras = np.take_along_axis(shifted, order, axis=1)
    counts = keep.sum(axis=1)
    # X inside base_j: no shared factorisation; whole Z (base_j without X, then the
    # shifted extras) goes against the empty base (index n_vars). One call keeps
    # every test in tigramite's order (matters for exact replays, see LaggedParCorr).
    x_in_base = np.flatnonzero(in_base[jj, x_cols])
    owners = jj.copy()
    if x_in_base.size:
        owners[x_in_base] = n_vars
        full = [[c for c in bases[jj[k]] if c != x_cols[k]] + extras[k, :counts[k]].tolist()
                for k in x_in_base]
        wide = max(extras.shape[1], max(len(z) for z in full))
        padded = np.zeros((jj.size, wide), dtype=np.intp)
        padded[:, :extras.shape[1]] = extras
        for k, z in zip(x_in_base, full):
            padded[k, :len(z)] = z
            counts[k] = len(z)
        extras = padded
    vals, pvals, _ = oracle.test_partialled(bases + [[]], owners, x_cols, jj, extras, counts)
    val_matrix[ii, jj, lags] = vals
    p_matrix[ii, jj, lags] = pvals


def fdr_bh(p_matrix: np.ndarray, links: LinkAssumptions) -> np.ndarray:
    """Benjamini-Hochberg q-values over lagged, allowed links (tigramite's fdr_bh)."""
    n_vars, _, n_lags = p_matrix.shape
    mask = np.zeros(p_matrix.shape, dtype=bool)
    for j, entries in links.items():
        for (i, lag), link_type in entries.items():
            if link_type not in ("<--", "<?-"):
                mask[i, j, abs(lag)] = True
    mask[range(n_vars), range(n_vars), 0] = False
    mask[:, :, 0] = False
    q_matrix = np.array(p_matrix)
    pvs = p_matrix[mask]
    order = np.argsort(pvs)
    ranked = np.take(pvs, order)
    ecdf = np.arange(1, len(ranked) + 1) / float(len(ranked))
    corrected = np.minimum.accumulate((ranked / ecdf)[::-1])[::-1]
    corrected[corrected > 1] = 1
    unsorted = np.empty_like(corrected)
    unsorted[order] = corrected
    q_matrix[mask] = unsorted
    return q_matrix


def string_graph(significant: np.ndarray) -> np.ndarray:
    """Link strings from the boolean significance array (tigramite's convert_tostring_graph)."""
    graph = np.zeros(significant.shape, dtype="<U3")
    graph[:] = ""
    graph[:, :, 1:][significant[:, :, 1:]] = "-->"
    contemp = significant[:, :, 0]
    graph[:, :, 0][contemp & contemp.T] = "o-o"
    for i, j in zip(*np.where(contemp & ~contemp.T)):
        graph[i, j, 0] = "-->"
        graph[j, i, 0] = "<--"
    return graph


def contemporaneous_kinds(links: LinkAssumptions, n_vars: int) -> np.ndarray:
    """``kind[i, j]`` of the lag-0 assumption ``links[j][(i, 0)]``: 1 circle (``o-o``/``o?o``), 2 directed
    (``-->``/``-?>``), 0 otherwise (absent or ``<--``)."""
    kinds = np.zeros((n_vars, n_vars), dtype=np.int8)
    for j, entries in links.items():
        for (i, lag), link_type in entries.items():
            if lag == 0:
                kinds[i, j] = 1 if link_type in ("o-o", "o?o") else 2 if link_type in ("-->", "-?>") else 0
    return kinds


def symmetrize(p_matrix: np.ndarray, val_matrix: np.ndarray, links: LinkAssumptions) -> None:
    """Copy lag-0 results onto the reverse entry as tigramite's loop does (in place).

    Circle pairs take both entries from the one with the larger p-value (the lower index wins ties; NaN never
    wins), directed pairs from the cause's entry.
    """
    kinds = contemporaneous_kinds(links, p_matrix.shape[0])
    p0, v0 = p_matrix[:, :, 0], val_matrix[:, :, 0]
    upper = np.triu(np.ones(kinds.shape, dtype=bool), k=1)
    i, j = np.nonzero((kinds == 1) & upper)
    forward = p0[i, j] >= p0[j, i]
    backward = ~forward & (p0[j, i] >= p0[i, j])
    src_i = np.concatenate([i[forward], j[backward]])
    src_j = np.concatenate([j[forward], i[backward]])
    i, j = np.nonzero(kinds == 2)
    src_i, src_j = np.concatenate([src_i, i]), np.concatenate([src_j, j])
    p0[src_j, src_i] = p0[src_i, src_j]
    v0[src_j, src_i] = v0[src_i, src_j]


def run_mci(oracle: LaggedParCorr, parents: dict[int, list[Node]], links: LinkAssumptions,
            candidates: tuple[np.ndarray, ...], n_vars: int, tau_min: int, tau_max: int,
            max_conds_py: int | None, max_conds_px: int | None, alpha_level: float,
            fdr_method: str | None) -> dict[str, Any]:
    """MCI tests given the PC1 parents, then FDR, graph strings and symmetrisation.

    ``candidates`` are :func:`mci_candidates` of ``links``. Data with
    non-normal columns take the list path so that exact replays happen in
    tigramite's test order.
    """
    default_conds = n_vars * (tau_max - tau_min + 1)
    max_conds_py = default_conds if max_conds_py is None else max_conds_py
    max_conds_px = default_conds if max_conds_px is None else max_conds_px
    if max_conds_py < 0 or max_conds_px < 0:
        raise ValueError("maximum condition dimension must be >= 0")
    val_matrix = np.zeros((n_vars, n_vars, tau_max + 1))
    p_matrix = np.ones((n_vars, n_vars, tau_max + 1))
    if oracle.has_special:
        # Exact replays must be submitted in tigramite's order: one list, in order.
        cells, xs, ys, zs = [], [], [], []
        for j, i, lag, x_col, z in mci_tests(parents, links, n_vars, max_conds_py, max_conds_px):
            if links[j].get((i, -lag)) in ("-->", "o-o"):
                val_matrix[i, j, lag] = 1.0
                p_matrix[i, j, lag] = 0.0
                continue
            cells.append((i, j, lag))
            xs.append(x_col)
            ys.append(j)
            zs.append(z)
        if cells:
            vals, pvals, _ = oracle.test_lists(xs, ys, zs)
            ii, jj, tt = (np.array(a) for a in zip(*cells))
            val_matrix[ii, jj, tt] = vals
            p_matrix[ii, jj, tt] = pvals
    else:
        mci_vectorized(oracle, parents, candidates, n_vars, max_conds_py, max_conds_px,
                        val_matrix, p_matrix)
    if fdr_method not in (None, "none"):
        if fdr_method != "fdr_bh":
            raise ValueError("Only FDR method fdr_bh implemented")
        p_matrix = fdr_bh(p_matrix, links)
    graph = string_graph(p_matrix <= alpha_level)
    symmetrize(p_matrix, val_matrix, links)
    return {"graph": graph, "p_matrix": p_matrix, "val_matrix": val_matrix, "conf_matrix": None}


@functools.lru_cache(maxsize=64)
def default_mci_candidates(n_vars: int, tau_min: int,
                           tau_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`mci_candidates` of the default link assumptions (cached, read-only)."""
    return mci_candidates(default_link_assumptions(n_vars, tau_min, tau_max), n_vars)


def mci_candidates(links: LinkAssumptions,
                   n_vars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MCI links in tigramite's order as arrays ``(j, i, lag, forced)``.

    ``forced`` marks links assumed present (``-->``/``o-o``): val=1, p=0 without a test.
    """
    jj, ii, lags, forced = [], [], [], []
    for j in range(n_vars):
        for (i, tau), link_type in links[j].items():
            if (i == j and tau == 0) or link_type in ("<--", "<?-"):
                continue
            jj.append(j)
            ii.append(i)
            lags.append(-tau)
            forced.append(link_type in ("-->", "o-o"))
    arrays = tuple(np.array(a, dtype=np.intp) for a in (jj, ii, lags)) + \
        (np.array(forced, dtype=bool),)
    for a in arrays:
        a.setflags(write=False)
    return arrays
