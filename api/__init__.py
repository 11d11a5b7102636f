"""deter: least-cost oversight that makes misaligned actions not pay.

A small library for notebooks and scripts (the ``deter`` command line is built on it)::

    import deter

    problem = deter.load("problems/coding_agent.toml")   # or deter.loads(toml_text)
    result = problem.solve()
    result.status, result.total_cost, result.monitor("llm_judge").rate
    problem.sweep("actions.reward_hack.gain=1:5:9").to_json()
    problem.frontier(), problem.explain(), problem.compare(other), problem.simulate()
    problem.report("report.html")

Every answer has ``to_dict()`` and ``to_json()``: the JSON the matching command prints.
See docs/api.md. Importing deter is cheap: cvxpy, numpy and matplotlib load only when
something is solved, simulated or drawn.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .solver.analysis.compare import Comparison
    from .solver.analysis.explanation import Explanation
    from .solver.analysis.frontier import Frontier
    from .solver.analysis.sweep import Sweep
    from .solver.problem import Problem, load, loads, solve
    from .solver.report.figures import PlotUnavailable
    from .solver.report.html import Report
    from .solver.results.errors import (
        DeterError,
        InfeasibleError,
        SolverError,
        SpecError,
        SpecIssue,
    )
    from .solver.results.result import Result
    from .solver.simulation.auditor import AuditorSimulation
    from .solver.simulation.outcomes import Simulation
    from .solver.simulation.policies import NoPolicyError
    from .solver.spec.document import Spec
    from .solver.spec.loading import load_spec

    __version__: str

#: Every name is loaded on first use, not by ``import deter``: the command line starts from
#: this package, and what it loads before its own code runs is a window in which Ctrl-C could
#: only end in a traceback (``cli/entry.py``); numpy and cvxpy load later still.
_LAZY = {
    "Problem": ".solver.problem",
    "load": ".solver.problem",
    "loads": ".solver.problem",
    "solve": ".solver.problem",
    "DeterError": ".solver.results.errors",
    "InfeasibleError": ".solver.results.errors",
    "SolverError": ".solver.results.errors",
    "SpecError": ".solver.results.errors",
    "SpecIssue": ".solver.results.errors",
    "Result": ".solver.results.result",
    "Spec": ".solver.spec.document",
    "load_spec": ".solver.spec.loading",
    "AuditorSimulation": ".solver.simulation.auditor",
    "Comparison": ".solver.analysis.compare",
    "Explanation": ".solver.analysis.explanation",
    "Frontier": ".solver.analysis.frontier",
    "NoPolicyError": ".solver.simulation.policies",
    "PlotUnavailable": ".solver.report.figures",
    "Report": ".solver.report.html",
    "Simulation": ".solver.simulation.outcomes",
    "Sweep": ".solver.analysis.sweep",
}


def __getattr__(name: str) -> object:
    if name == "__version__":
        # Read from the installed metadata only when asked for: importlib.metadata costs
        # more start-up time than every command but --version needs.
        from .solver.report.html import package_version

        return package_version()
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'deter' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AuditorSimulation",
    "Comparison",
    "DeterError",
    "Explanation",
    "Frontier",
    "InfeasibleError",
    "NoPolicyError",
    "PlotUnavailable",
    "Problem",
    "Report",
    "Result",
    "Simulation",
    "SolverError",
    "Spec",
    "SpecError",
    "SpecIssue",
    "Sweep",
    "__version__",
    "load",
    "load_spec",
    "loads",
    "solve",
]
