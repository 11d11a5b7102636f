"""Learning curves of the experiment (matplotlib, a dependency of deter), as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

from .experiment import ConditionResult


def learning_curves_png(results: Sequence[ConditionResult], title: str) -> bytes:
    """Violation rate against training episode, one line per policy, 95% bands over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for r in results:
        (line,) = ax.plot(r.curve_episode, r.curve_mean, label=r.label, lw=1.6)
        ax.fill_between(
            r.curve_episode, r.curve_low, r.curve_high, color=line.get_color(), alpha=0.2
        )
    ax.set_xlabel("training episode")
    ax.set_ylabel("violation rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
