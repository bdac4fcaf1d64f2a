"""Benchmark: discovery on real data with known structure (river discharge, Walker circulation), every setting shown.

River discharge (LPCMCI paper, section 5): LPCMCI should find Kempten -> Dillingen (lag 0-1) and mark the links of
the Isar at Lenggries, driven like the Iller by unobserved rain, as confounded (<->). The verdict columns are
:func:`causal_nodes.evaluation.real_data.river_verdict`. Walker circulation (tigramite's climate case study):
F1 (lag-level) of the discovered graph against the case study's assumed graph, with the case study's mask
(Nov-Feb of neutral / La Nina winters, mask_type y) and without it. Every row of the grid is printed: the
protocol settings are named in the README section, the rest show how much the answer depends on them.

    .venv/bin/python benchmarks/bench_real_data.py [--datasets ../shared/datasets]
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from causal_nodes.discovery.discover import DiscoveryConfig, discover  # noqa: E402
from causal_nodes.discovery.samples import Samples  # noqa: E402
from causal_nodes.evaluation.graph_metrics import score_links  # noqa: E402
from causal_nodes.evaluation.real_data import (  # noqa: E402
    WALKER_GRAPH,
    river_discharge,
    river_verdict,
    walker_circulation,
)


def _run(samples: Samples, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return discover(samples, samples.names, DiscoveryConfig(**options))


def _edges(result) -> str:
    return ", ".join(f"{lk.source}(t-{lk.lag}) {lk.link_type} {lk.target}" for lk in result.links()
                     if lk.source != lk.target) or "none"


def river_rows(folder: Path) -> list[str]:
    data = river_discharge(folder)
    rows = [f"{len(data.values)} days, stations {', '.join(data.names)}\n",
            "| test | tau_max | alpha | Kempten -> Dillingen | Lenggries confounded | no Isar -> Danube | "
            "cross links | s |", "|---|---|---|---|---|---|---|---|"]
    for test in ("parcorr", "robust_parcorr", "rcot"):
        for tau_max in (1, 2):
            for alpha in (0.01, 0.05):
                started = time.perf_counter()
                result = _run(Samples(data.values, data.names), method="lpcmci", test=test, tau_max=tau_max,
                              alpha_level=alpha)
                verdict = river_verdict(result.links())
                protocol = (test, tau_max, alpha) == ("parcorr", 2, 0.01)
                mark = "**" if protocol else ""
                rows.append(f"| {mark}{test}{mark} | {tau_max} | {alpha} | "
                            + " | ".join("yes" if verdict[k] else "no" for k in verdict)
                            + f" | {_edges(result)} | {time.perf_counter() - started:.1f} |")
    return rows


def walker_rows(folder: Path) -> list[str]:
    data = walker_circulation(folder)
    unmasked = int((~data.mask[:, 0]).sum())
    rows = [f"{len(data.values)} bimonthly samples, {unmasked} unmasked as effects; assumed graph: "
            + ", ".join(f"{s}(t-{lag}) -> {t}" for s, t, lag in sorted(WALKER_GRAPH)) + "\n",
            "| method | test | alpha (PCMCI+: pc_alpha; PCMCI: alpha_level, pc_alpha 0.2) | F1 with mask | "
            "F1 without | links with mask |", "|---|---|---|---|---|---|"]
    for method in ("pcmciplus", "pcmci"):
        for test in ("parcorr", "rcot"):
            for alpha in (0.01, 0.05, 0.1, 0.2):
                options = dict(method=method, test=test, tau_max=2, mask_type="y")
                options.update(pc_alpha=alpha) if method == "pcmciplus" else options.update(alpha_level=alpha)
                masked = _run(Samples(data.values, data.names, mask=data.mask), **options)
                plain = _run(Samples(data.values, data.names), **options)
                f1_masked = score_links(masked.links(), WALKER_GRAPH)["f1"]
                f1_plain = score_links(plain.links(), WALKER_GRAPH)["f1"]
                protocol = (method, test, alpha) == ("pcmci", "parcorr", 0.01)
                mark = "**" if protocol else ""
                rows.append(f"| {mark}{method}{mark} | {test} | {alpha} | {f1_masked:.2f} | {f1_plain:.2f} | "
                            + ", ".join(f"{lk.source}(t-{lk.lag}) {lk.link_type} {lk.target}"
                                        for lk in masked.links()) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "real_data.md")
    args = parser.parse_args()
    if not (args.datasets / "river_discharge").is_dir() or not (args.datasets / "climate_walker").is_dir():
        sys.exit(f"bench_real_data: datasets not found under {args.datasets} (see ../shared/datasets/README.md)")
    out = [f"# Real data: river discharge (LPCMCI) and Walker circulation (mask)\n\nCommand: "
           f"`.venv/bin/python benchmarks/bench_real_data.py` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC). "
           "Protocol rows in bold: river LPCMCI/ParCorr, tau_max 2, alpha 0.01 (the LPCMCI paper's test and "
           "level); Walker PCMCI/ParCorr with the project's defaults (pc_alpha 0.2, alpha_level 0.01), tau_max 2 "
           "(the case study's lag range).\n",
           "## River discharge, LPCMCI\n", *river_rows(args.datasets), "",
           "## Walker circulation\n", *walker_rows(args.datasets), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    print("\n".join(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
