"""The library's front door: one validated spec as a :class:`Problem`, and every analysis on it.

In the style of Nashpy's ``Game``: load a problem once, then ask it questions::

    problem = deter.load("problems/coding_agent.toml")
    result = problem.solve()                       # Result
    sweep = problem.sweep("agent.margin=0:1:5")    # Sweep
    problem.frontier(), problem.explain(), problem.simulate(), problem.report("r.html")

Every answer is a frozen, typed object with ``to_dict()`` and ``to_json()``, giving exactly
the JSON document the matching command prints with ``--format json``; the command line is
a thin adapter over these calls.

This module sits above analysis, simulation and report, and imports them only inside the
methods: ``import deter`` must not load cvxpy, numpy or matplotlib (a spec can be read and
validated without them).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from .spec.document import Spec
from .spec.loading import DEFAULT_MAX_BYTES, load_path, load_text

if TYPE_CHECKING:
    from .analysis.compare import Comparison
    from .analysis.explanation import Explanation
    from .analysis.frontier import Frontier
    from .analysis.sweep import Axis, Sweep
    from .model.arrays import ProblemArrays
    from .report.html import Report
    from .results.result import Result
    from .simulation.auditor import AuditorSimulation
    from .simulation.policies import Rates
    from .simulation.simulate import AgentConfig, Simulation

#: A file path, as a string or a path object.
PathLike = str | os.PathLike[str]
#: One varied field: ``"PATH=start:stop:points"``, ``"PATH=a,b,c"``, a pair ``(PATH, values)``
#: or an :class:`~deter.solver.analysis.sweep.Axis` from :meth:`Problem.axes`.
Vary: TypeAlias = "str | tuple[str, Sequence[float]] | Axis"
AgentName = Literal["rational", "epsilon-greedy", "ucb", "exp3"]
ScheduleName = Literal["coordinated", "independent"]
ExecutorName = Literal["local", "dask"]


def load(path: PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Problem:
    """Read and validate the spec file at ``path``.

    ``path`` is always a file path, never TOML text, whatever it contains
    (``"runs/a=1.toml"`` is a file). The file's stem is the problem name unless the spec
    sets ``problem.name``. Raises :class:`SpecError` naming the file (and the key and line)
    for a missing, unreadable, oversized (``max_bytes``) or invalid spec.
    """
    return Problem(load_path(path, max_bytes=max_bytes))


def loads(
    text: str,
    *,
    name: str | None = None,
    file: str = "<text>",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Problem:
    """Validate a spec given as TOML ``text`` (never read as a path).

    ``name`` is the problem name when the text sets no ``problem.name``; ``file`` is how
    error messages and results refer to the text. Raises :class:`SpecError`.
    """
    return Problem(load_text(text, name=name, file=file, max_bytes=max_bytes))


def solve(
    spec: Spec | Problem,
    *,
    solvers: Sequence[str] | None = None,
    tolerance: float | None = None,
) -> Result:
    """The least-cost oversight policy of ``spec``: a :class:`Result`, never an exception
    for a spec that cannot be met.

    - ``solvers``: solver names tried in order until one's answer passes verification,
      case-insensitive, from ``"highs"`` and ``"clarabel"``; default both, HiGHS first.
      Programs with cones (risk aversion, penalty design, ...) always use Clarabel.
    - ``tolerance``: the largest relative constraint violation verification accepts;
      default ``1e-6``.

    The result's ``status`` is ``"optimal"``, ``"infeasible"`` (with a ``diagnosis``) or
    ``"solver_error"``; ``result.raise_for_status()`` turns the last two into exceptions.
    """
    from .engine.solve import solve as solve_spec
    from .engine.verify import TOLERANCE

    target = spec.spec if isinstance(spec, Problem) else spec
    return solve_spec(
        target,
        solvers=_solver_names(solvers),
        tolerance=TOLERANCE if tolerance is None else _positive(tolerance, "tolerance"),
    )


def _solver_names(solvers: Sequence[str] | None) -> tuple[str, ...]:
    from .formulation.program import SOLVER_ORDER

    if solvers is None:
        return SOLVER_ORDER
    if isinstance(solvers, str):  # one name, not a sequence of letters
        solvers = (solvers,)
    names = tuple(s.upper() for s in solvers)
    unknown = [s for s in names if s not in SOLVER_ORDER]
    if unknown or not names:
        choices = ", ".join(s.lower() for s in SOLVER_ORDER)
        raise ValueError(f"unknown solver {unknown[0] if unknown else ''!r}; choose from {choices}")
    return names


def _positive(value: float, what: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a finite number above 0, not {value!r}")
    return float(value)


class Problem:
    """One validated deterrence problem and the analyses deter runs on it.

    Build one with :func:`load` (a file) or :func:`loads` (TOML text), or wrap a
    :class:`Spec` directly: ``Problem(spec)``. The spec is immutable, so the default solve
    is computed once and reused by :meth:`explain`, :meth:`compare`, :meth:`simulate` and
    :meth:`report`.
    """

    __slots__ = ("_solved", "_solvers", "_spec")

    def __init__(self, spec: Spec, *, solvers: Sequence[str] | None = None) -> None:
        """``solvers``: the solvers every solve of this problem tries, in order (default
        HiGHS then Clarabel; see :func:`deter.solve`), for the analyses as for :meth:`solve`."""
        if not isinstance(spec, Spec):
            raise TypeError(
                f"Problem wraps a Spec, not {type(spec).__name__}: use deter.load(path) "
                "or deter.loads(text)"
            )
        self._spec = spec
        self._solved: Result | None = None
        self._solvers = None if solvers is None else _solver_names(solvers)

    def _solve_spec(self, spec: Spec) -> Result:
        """One solve of ``spec`` (a variant of this problem) with this problem's solvers."""
        return solve(spec, solvers=self._solvers)

    # --- what it is ---------------------------------------------------------------------

    @property
    def spec(self) -> Spec:
        """The validated spec (frozen)."""
        return self._spec

    @property
    def name(self) -> str:
        """The problem's name: ``problem.name``, else the file's stem."""
        return self._spec.name

    @property
    def file(self) -> str:
        """Where the spec came from (a path, or ``loads``'s ``file``)."""
        return self._spec.source_file

    def __repr__(self) -> str:
        return f"Problem({self.name!r}, file={self.file!r})"

    # --- solving ------------------------------------------------------------------------

    def solve(
        self, *, solvers: Sequence[str] | None = None, tolerance: float | None = None
    ) -> Result:
        """The least-cost policy (see :func:`deter.solve` for the options).

        The default solve (no options) is cached: calling it again returns the same result.
        """
        if solvers is not None or tolerance is not None:
            return solve(self._spec, solvers=solvers or self._solvers, tolerance=tolerance)
        if self._solved is None:
            self._solved = self._solve_spec(self._spec)
        return self._solved

    # --- analyses -----------------------------------------------------------------------

    def sweep(
        self,
        *vary: Vary,
        log: bool = False,
        plot: PathLike | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Sweep:
        """Solve at every point of a range, or of a grid of several ranges.

        Each ``vary`` is ``"PATH=start:stop:points"`` (evenly spaced; geometrically with
        ``log``), ``"PATH=a,b,c"`` or a pair ``(PATH, values)``; PATH is a dotted numeric
        field such as ``"actions.reward_hack.penalty_cap"``. Several give a grid (the last
        varies fastest). Points that cannot be met are in the sweep with their status.
        ``plot`` also draws it (one or two varied fields) to a .png, .svg or .pdf file;
        ``progress(done, total)`` is called as points are solved.
        Raises SpecError for an unknown path or a value out of its field's range.
        """
        from .analysis.sweep import run_sweep

        axes = self.axes(*vary, log=log)
        if plot is not None:
            _check_plot(Path(plot), len(axes))
        result = run_sweep(self._spec, axes, solvers=self._solvers, progress=progress)
        if plot is not None:
            from .report.figures import sweep_figure, write_plot

            write_plot(sweep_figure(result), Path(plot))
        return result

    def axes(self, *vary: Vary, log: bool = False) -> list[Axis]:
        """Check varied fields and their values without solving anything (as :meth:`sweep`
        reads them); the axes can be passed back to :meth:`sweep` or :meth:`report`."""
        return [self._axis(item, log) for item in vary]

    def _axis(self, item: Vary, log: bool) -> Axis:
        from .analysis.sweep import Axis, parse_vary, resolve_path, respec, spec_data

        if isinstance(item, Axis):
            return item
        if isinstance(item, str):
            return parse_vary(self._spec, item, log)
        path_text, values = item
        path = resolve_path(self._spec, path_text)
        numbers = tuple(float(v) for v in values)
        if not numbers:
            raise ValueError(f"{path_text}: no values to vary")
        # As for text: every value alone must be valid for its field, before any solve.
        base = spec_data(self._spec)
        for value in numbers:
            respec(self._spec, {path: value}, base)
        return Axis(path, numbers)

    def frontier(
        self,
        factors: Sequence[float] | None = None,
        *,
        points: int = 25,
        low: float = 0.25,
        high: float = 4.0,
        plot: PathLike | None = None,
    ) -> Frontier:
        """Becker's probability-severity frontier: every penalty cap scaled by each factor.

        By default ``points`` factors spaced geometrically from ``low`` to ``high``; the
        spec's own caps (factor 1) are always included (``frontier.own``). ``plot`` also
        draws it to a .png, .svg or .pdf file.
        """
        from .analysis.frontier import default_factors, run_frontier

        if factors is None:
            if not (0 < low < high and math.isfinite(high)):
                raise ValueError(f"need 0 < low < high, not low={low!r}, high={high!r}")
            if points < 2:
                raise ValueError(f"points must be at least 2, not {points}")
            factors = default_factors(points, low, high)
        if plot is not None:
            _check_plot(Path(plot), 1)
        result = run_frontier(self._spec, factors, solvers=self._solvers)
        if plot is not None:
            from .report.figures import frontier_figure, write_plot

            write_plot(frontier_figure(result), Path(plot))
        return result

    def explain(self) -> Explanation:
        """Why the optimal policy is what it is, from its solution and duals; for a spec
        that cannot be met, the smallest changes that would make it feasible."""
        from .analysis.explain import explain

        return explain(self._spec, self.solve(), solve=self._solve_spec)

    def compare(self, other: Problem | Spec) -> Comparison:
        """This policy (``a``) beside ``other``'s (``b``): cost, rates, detection, status."""
        from .analysis.compare import compare

        theirs = other if isinstance(other, Problem) else Problem(other, solvers=self._solvers)
        return compare(self.solve(), theirs.solve())

    def simulate(
        self,
        *,
        agent: AgentName | None = None,
        episodes: int = 2000,
        population: int = 1000,
        seed: int = 0,
        rates: Rates | Sequence[Rates] | None = None,
        rates_scale: float | Sequence[float] | None = None,
        schedule: ScheduleName = "coordinated",
        epsilon: float = 0.05,
        gamma: float | None = None,
        plot: PathLike | None = None,
        executor: ExecutorName = "local",
        address: str | None = None,
        workers: int = 2,
    ) -> Simulation | AuditorSimulation:
        """Play the policy against ``population`` simulated agents for ``episodes`` episodes.

        - ``agent``: ``"rational"`` (knows the policy; the default) or a learner that sees
          only its own payoffs: ``"epsilon-greedy"`` (``epsilon``), ``"ucb"``, ``"exp3"``
          (``gamma``; default Auer et al.'s horizon-tuned value).
        - ``rates``: the policy to play instead of the optimum, ``{"llm_judge": 0.2}`` or
          ``"llm_judge=0.2"`` (unnamed monitors at their min_rate), or a list of them.
        - ``rates_scale``: multiply every policy's rates by this (or by each of a list).
        - ``schedule``: ``"coordinated"`` (monitors inspect disjoint episodes, the model's
          linear detection) or ``"independent"`` (each tosses its own coin).
        - ``executor``: ``"local"`` (this process) or ``"dask"``: the population's blocks of
          agents run on a Dask cluster, at ``address`` or a local one of ``workers``
          processes; the result is the same bit for bit (each block has its own seed stream).

        Returns a :class:`Simulation`; for a spec with an ``[auditor]`` and no ``rates``,
        both sides learn and the answer is an :class:`AuditorSimulation` (its agent
        defaults to ``"exp3"``; ``rates_scale`` is refused, as nobody commits to rates).
        Raises NoPolicyError when no rates are given and the spec has no optimal policy,
        SpecError for bad rates or an unsupported spec, ValueError for bad parameters,
        DaskUnavailable / ClusterLost (``solver.batch.dask_executor``) for the cluster.
        """
        from .model.arrays import ProblemArrays
        from .simulation.policies import check_simulable, given_policies, optimal_policy, scaled
        from .simulation.simulate import (
            AGENT_KINDS,
            SCHEDULES,
            AgentConfig,
            AgentTypes,
            Block,
            BlockTask,
            Mapper,
            serial_map,
        )
        from .simulation.simulate import simulate as run

        _check_counts(episodes=episodes, population=population)
        if seed < 0:
            raise ValueError(f"seed must be at least 0, not {seed}")
        if agent is not None and agent not in AGENT_KINDS:
            raise ValueError(f"unknown agent {agent!r}; choose one of {', '.join(AGENT_KINDS)}")
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if executor not in ("local", "dask"):
            raise ValueError(f"unknown executor {executor!r}; choose local or dask")
        if address is not None and executor != "dask":
            raise ValueError("address needs executor='dask'")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        for value, what in ((epsilon, "epsilon"), (gamma, "gamma")):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{what} must be in [0, 1], not {value!r}")
        plot_path = None if plot is None else _simulation_plot(Path(plot))
        spec = self._spec
        arrays = ProblemArrays.from_spec(spec)
        check_simulable(spec, arrays)  # before solving: an ROC spec's solve takes a while
        given = _as_list(rates)
        scales = [float(s) for s in _as_list(rates_scale)]
        if spec.auditor is not None and not given:
            if executor != "local":
                raise ValueError(
                    "with an [auditor] the agents and auditors learn together in this process: "
                    "executor='dask' runs committed policies only (give rates, or run locally)"
                )
            if scales:
                raise ValueError(
                    "rates_scale needs a committed policy: with an [auditor] nobody commits "
                    "to rates (give rates to simulate a committed policy instead)"
                )
            return self._simulate_auditor(
                arrays,
                AgentConfig(kind=agent or "exp3", epsilon=epsilon, gamma=gamma),
                episodes=episodes,
                population=population,
                seed=seed,
                plot=plot_path,
            )
        bases = given_policies(given, arrays) if given else [optimal_policy(self.solve())]
        with contextlib.ExitStack() as stack:
            mapper: Mapper[BlockTask, Block] = serial_map
            if executor == "dask":
                from .batch.dask_executor import dask_mapper

                mapper = stack.enter_context(dask_mapper(address, workers))
            simulation = run(
                arrays,
                scaled(bases, scales or [1.0]),
                agent=AgentConfig(kind=agent or "rational", epsilon=epsilon, gamma=gamma),
                episodes=episodes,
                population=population,
                seed=seed,
                schedule=schedule,
                name=spec.name,
                file=spec.source_file,
                types=AgentTypes.from_spec(spec),
                mapper=mapper,
            )
        if plot_path is not None:
            from .report.simulate_figures import plot_simulation

            plot_simulation(simulation, plot_path)
        return simulation

    def _simulate_auditor(
        self,
        arrays: ProblemArrays,
        agent: AgentConfig,
        *,
        episodes: int,
        population: int,
        seed: int,
        plot: Path | None,
    ) -> AuditorSimulation:
        from .simulation.auditor import AuditorParams, simulate_auditor, spec_equilibrium

        params = AuditorParams.from_spec(self._spec)
        assert params is not None  # the caller checked spec.auditor
        simulation = simulate_auditor(
            arrays,
            params,
            agent=agent,
            episodes=episodes,
            population=population,
            seed=seed,
            equilibrium=spec_equilibrium(self._spec),
            name=self._spec.name,
            file=self._spec.source_file,
        )
        if plot is not None:
            from .report.simulate_figures import plot_auditor_simulation

            plot_auditor_simulation(simulation, plot)
        return simulation

    def report(
        self,
        path: PathLike | None = None,
        *,
        vary: Sequence[Vary] = (),
        log: bool = False,
        samples: Sequence[PathLike] | None = None,
        calibration: PathLike | None = None,
        resamples: int = 200,
        fpr: float = 0.01,
    ) -> Report:
        """A self-contained HTML report: the problem, the policy, the explanation, the
        probability-severity frontier and a sweep, plots inline (needs matplotlib).

        ``vary`` names the sweep to draw (one or two, as for :meth:`sweep`); by default the
        gain of the action that is most expensive to deter. With ``path`` the HTML is also
        written there, atomically. The report is made for specs that cannot be met too.

        A spec with ROC monitors (``deter fit``'s) also gets AI control's metrics: the
        design against "audit the top b%" baselines on scored ``samples`` (default: the
        fit's own files, when found unchanged), with ``resamples`` bootstrap resamples and
        TPR at ``fpr``; the thresholds come from ``calibration`` or from fitting the
        samples again as the spec records (docs/ai-control.md).
        """
        from .report.html import build_report

        if len(vary) > 2:
            raise ValueError(f"the report draws one or two varied fields, not {len(vary)}")
        if resamples < 1:
            raise ValueError(f"resamples must be at least 1, not {resamples}")
        if not 0.0 < fpr < 1.0:
            raise ValueError(f"fpr must be in (0, 1), not {fpr}")
        axes = self.axes(*vary, log=log)
        sections = self._control_sections(samples, calibration, resamples, fpr)
        result = self.solve()
        built = build_report(
            self._spec,
            result,
            self.explain(),
            axes,
            solve=self._solve_spec,
            sections=None if sections is None else (lambda frontier: sections(result, frontier)),
        )
        return built if path is None else built.write(Path(path))

    def _control_sections(
        self,
        samples: Sequence[PathLike] | None,
        calibration: PathLike | None,
        resamples: int,
        fpr: float,
    ) -> Callable[[Result, Any], list[Any]] | None:
        """AI control's section maker, or None when the spec asks for none. What the user
        gave is read (and refused) before anything is solved."""
        given = bool(samples) or calibration is not None
        if not any(m.roc for m in self._spec.all_monitors()) and not given:
            return None
        from .control.record import is_fitted, note_section

        text = None
        source = Path(self._spec.source_file)
        if source.is_file():
            text = source.read_text(encoding="utf-8", errors="replace")
        if not given and (text is None or not is_fitted(text)):
            return None  # ROC monitors written by hand: nothing to measure them on
        try:
            from .control.report import control_data, control_section
        except ModuleNotFoundError as exc:  # pandas: the control extra
            if given:
                raise  # asked for: the command says what to install
            note = f"measuring needs {exc.name}, not installed: pip install 'deter[control]'"
            return lambda result, frontier: [note_section(note)]
        data = control_data(
            self._spec,
            text,
            [str(p) for p in samples] if samples else None,
            None if calibration is None else str(calibration),
        )
        if data is None:
            return None
        spec = self._spec
        return lambda result, frontier: [
            control_section(spec, result, data, frontier, resamples=resamples, fpr=fpr)
        ]


# --- argument checks -------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    """None -> [], one item -> [item], a list or tuple -> a list (a str or mapping is one item)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _check_counts(**counts: int) -> None:
    for what, count in counts.items():
        if count < 1:
            raise ValueError(f"{what} must be at least 1, not {count}")


def _check_plot(path: Path, axes: int) -> None:
    """Refuse an unusable plot before anything is solved."""
    from .report.figures import FORMATS, PlotUnavailable, require_matplotlib

    if path.suffix.lower().lstrip(".") not in FORMATS:
        raise PlotUnavailable(f"{path}: a plot is written as .png, .svg or .pdf")
    if axes > 2:
        raise PlotUnavailable(f"a plot draws one or two varied values, not {axes}")
    require_matplotlib()


def _simulation_plot(path: Path) -> Path:
    _check_plot(path, 1)
    return path


__all__ = ["Problem", "load", "loads", "solve"]
