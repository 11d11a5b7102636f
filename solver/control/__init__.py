"""AI control: scored trajectories to a spec of ROC monitors (``deter fit``).

- :mod:`.samples` reads scored samples (CSV, JSONL, Parquet, ControlArena sample tables,
  Inspect eval logs through inspect-ai's own log API) into one normalised table, with a
  located note for every sample or score it cannot use;
- :mod:`.roc` fits each monitor's ROC per attack kind: empirical operating points, the
  thresholds a monitor can randomise between (one concave envelope for every action at
  once), and simultaneous confidence bands (one-sided DKW, Massart 1990; or binomial);
- :mod:`.binormal` fits the smooth alternative: a normal per class (maximum likelihood), the
  binormal curve made concave, and an exact parametric band (valid if the scores are normal);
- :mod:`.fit` turns the curves into a spec ready for ``deter solve``, with provenance.

See docs/ai-control.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fit import FitOptions, FitResult, fit_samples, fit_spec_text
    from .samples import Samples, read_samples

#: Loaded on first use: they need pandas (the ``control`` extra), and ``deter report`` of a
#: spec with ROC monitors reads :mod:`.record` without it.
_LAZY = {
    "FitOptions": ".fit",
    "FitResult": ".fit",
    "fit_samples": ".fit",
    "fit_spec_text": ".fit",
    "Samples": ".samples",
    "read_samples": ".samples",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FitOptions", "FitResult", "Samples", "fit_samples", "fit_spec_text", "read_samples"]
