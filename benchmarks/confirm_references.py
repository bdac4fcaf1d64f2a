"""Re-confirm every stored interventional reference by fresh do() experiments on seeds it was not derived on.

Run (one core; about a minute per reference and seed):

    python benchmarks/confirm_references.py --seeds 7 --out benchmarks/results/reference_confirmation.md

Why: the tests re-confirm two of the ten stored references (``test/sim/test_reference.py``, to keep CI short);
every F1 on the physical scenarios rests on all ten. For each scenario and variable set (default, legacy) this
re-derives the effect size of every candidate link on the given seeds (``causal_nodes.sim.reference
.confirm_reference``) and counts the reference links do() no longer shows (effect < band / 2), the non-links it now
shows (>= band x 2), and the candidates whose effect lies within a factor 2 of the band either side (where a
seed's states decide: a method cannot be expected to agree with the reference on those). It also gives each link's
effect in units of the target's spread (its sd over the run) rather than its one-step noise: the band is one noise
sd, which for a distance or a bearing is about 0.1-0.3 % of its spread, so a reference link may move its target by
far less than a method's residuals (which carry the latent state) can show.

``--unit spread`` re-confirms the references whose band is in units of Y's spread (``sim/references/*.spread.json``,
band 0.05) the same way, with the factor around their own band:

    python benchmarks/confirm_references.py --unit spread --seeds 7 8 --out \
        benchmarks/results/reference_confirmation_spread.md
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.sim import load_scenario  # noqa: E402
from causal_nodes.sim.reference import UNITS, confirm_reference, load_stored  # noqa: E402
from causal_nodes.variables.extractor import DEFAULT_VARIABLES, LEGACY_VARIABLES  # noqa: E402

PHYSICAL = ("corridor_passing", "crossing", "overtaking", "approach_standing", "crowd")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--scenarios", nargs="+", default=list(PHYSICAL))
    parser.add_argument("--factor", type=float, default=2.0)
    parser.add_argument("--stride", type=int, default=20, help="every stride-th step is an experiment")
    parser.add_argument("--unit", choices=list(UNITS), default="noise", help="effect unit of the stored references")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    unit = UNITS[args.unit]
    started = time.perf_counter()
    lines = [f"References of kind `{unit.kind}` (unit {unit.name}, band {unit.band:g}). Fresh seeds {args.seeds}, "
             f"factor {args.factor:g} around the band, every {args.stride}th step an experiment.", "",
             "| scenario | variables | reference links | candidates | links not confirmed | non-links now links | "
             "within 2x of the band | link effect in sd of Y, median | links moving Y < 1 % of its sd | seconds |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    details = []
    failures = 0
    for name in args.scenarios:
        for label, variables in (("default", DEFAULT_VARIABLES), ("legacy", LEGACY_VARIABLES)):
            stored = load_stored(name, list(variables), args.unit)
            if stored is None:
                lines.append(f"| {name} | {label} | (not stored) | | | | | |")
                continue
            t0 = time.perf_counter()
            check = confirm_reference(load_scenario(name), stored, args.seeds, factor=args.factor,
                                      stride=args.stride)
            failures += int(not check.confirmed)
            spread = np.array([value for _, value in check.link_spread_effects])
            lines.append(f"| {name} | {label} | {len(stored.links)} | {check.candidates} | {len(check.weak)} | "
                         f"{len(check.strong)} | {len(check.marginal)} | {np.nanmedian(spread):.3f} | "
                         f"{int(np.sum(spread < 0.01))} | {time.perf_counter() - t0:.0f} |")
            for kind, items in (("not confirmed", check.weak), ("now a link", check.strong)):
                details += [f"- {name} ({label}) {kind}: {s} -> {t} lag {lag}, effect {value:.3g} "
                            f"({value / unit.band:.2f} bands)"
                            for (s, t, lag), value in items]
            print(lines[-1], flush=True)
    command = ("python benchmarks/confirm_references.py "
               + (f"--unit {args.unit} " if args.unit != "noise" else "") + "--seeds " + " ".join(map(str, args.seeds))
               + (f" --out {args.out}" if args.out else ""))
    lines += ["", *(details or ["Every link confirmed and every non-link refuted."]), "",
              f"Total {time.perf_counter() - started:.0f} s. Command: `{command}`"]
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        title = "Interventional references" + ("" if args.unit == "noise" else f" ({unit.kind})")
        args.out.write_text(f"# {title} re-confirmed on fresh seeds\n\n" + text + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
