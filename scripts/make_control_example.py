"""Write the bundled example of scored trajectories. It is SYNTHETIC: no model was run.

    python scripts/make_control_example.py     # writes problems/control/synthetic_samples.csv

The distributions, the seed and the columns (ControlArena's sample table) are documented in
solver/control/synthetic.py (``deter.solver.control.synthetic``) and docs/ai-control.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deter.solver.control.synthetic import HONEST, PER_ATTACK, SEED, draw

OUT = Path(__file__).resolve().parents[1] / "problems" / "control" / "synthetic_samples.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic scored-trajectory table.")
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--honest", type=int, default=HONEST)
    parser.add_argument("--per-attack", type=int, default=PER_ATTACK)
    args = parser.parse_args()
    table = draw(args.seed, args.honest, args.per_attack)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, index=False, float_format="%.6g")
    print(f"wrote {args.output} ({len(table)} synthetic samples)")


if __name__ == "__main__":
    main()
