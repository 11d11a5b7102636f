"""Compiling features into one cvxpy program, caching it by shape, and solving it quietly.

Modelling stays apart from solving: :func:`compile_program` only builds; ``solve`` on the
compiled program only runs solvers. Programs of small specs are built from cvxpy
Parameters and cached by their shape key, so specs of the same shape (in a batch, a sweep)
reuse one compiled problem and cvxpy's cached canonicalisation (DPP). Large specs are built
from sparse constants instead: a dense Parameter of 10,000 x 100 detections would cost more
than it saves.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cvxpy as cp
import numpy as np
from cvxpy.constraints import Equality, Inequality, NonNeg, NonPos, Zero

from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray
from .components import Component, components_for
from .components.base import Context, Handles, dense_array

#: Specs with at most this many detection entries (deviations x monitors) are parametric.
PARAMETRIC_LIMIT = 20_000
#: Solvers tried in order; the next one is used when one fails or its answer fails verification.
SOLVER_ORDER: tuple[str, ...] = ("HIGHS", "CLARABEL")
#: The cache of compiled programs (:func:`program_for`) is bounded both ways: at most this
#: many programs, and at most ``CACHE_BYTES`` by :func:`estimated_bytes`. A long batch of
#: varied shapes fills it once and then stays flat (issue 24: a worker grew by ~15 MB over
#: 24,000 specs while a cache of 64 programs filled, each keeping HiGHS's instance too).
CACHE_PROGRAMS = 32
CACHE_BYTES = 8 * 2**20
#: What a cached parametric program costs in resident memory, measured (RSS of programs
#: compiled and solved once, kept, ``malloc_trim``-ed; 4 to 1,000 actions x up to 20
#: monitors): about 48-150 KB each for small specs and ~28 bytes a Parameter entry on top
#: (188 KB at 6,957 entries, 664 KB at 23,057).
PROGRAM_BASE_BYTES = 64 * 1024
PROGRAM_BYTES_PER_ENTRY = 32


#: What a solver call reports: cvxpy's status and the solver's own raw solution object
#: (Clarabel's carries its residuals and dual objective, read by the conic certificate).
@dataclass(frozen=True)
class SolveRecord:
    status: str
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass
class CompiledProgram:
    """A cvxpy program built from components, with each component's typed handles."""

    parts: tuple[tuple[Component, Handles], ...]
    context: Context
    problem: cp.Problem
    key: tuple[Any, ...]

    @property
    def components(self) -> list[Component]:
        return [component for component, _ in self.parts]

    def find(self, kind: type[H]) -> H | None:
        """The handles of the given type (the first component that returned them), if any."""
        for _, handles in self.parts:
            if isinstance(handles, kind):
                return handles
        return None

    def dual_of(self, constraint: cp.Constraint) -> FloatArray | None:
        """The dual of one of the model's constraints after a solve (program row units)."""
        value = constraint.dual_value
        if value is None:
            return None
        return np.atleast_1d(np.asarray(value, dtype=float))

    @property
    def objective_scale(self) -> float:
        """What the model's objective (money / cost scale) was multiplied by in ``problem``."""
        return 1.0

    @functools.cached_property
    def estimated_bytes(self) -> int:
        """This program's resident memory by estimate (``PROGRAM_BASE_BYTES`` and
        ``PROGRAM_BYTES_PER_ENTRY`` say how it was measured)."""
        return estimated_bytes(self.problem)

    @functools.cached_property
    def linear(self) -> bool:
        """True for a linear program (every constraint affine); False when a feature adds cones."""
        return is_linear_program(self.problem)

    def load(self, arrays: ProblemArrays) -> None:
        """Assign a spec's numbers to the Parameters (parametric programs only)."""
        if not self.context.parametric:
            return
        for component in self.components:
            for name, value in component.values(arrays).items():
                parameter = self.context.data[name]
                parameter.value = dense_array(value)

    def solve(self, solver: str, **options: Any) -> SolveRecord:
        """Run one solver (see :func:`solve_problem`)."""
        return solve_problem(self.problem, solver, **options)

    def rates(self, arrays: ProblemArrays) -> FloatArray:
        """The solved rates within their bounds (NaN when the solver returned none)."""
        return np.clip(
            value_of(self.context.rates, arrays.n_monitors), arrays.min_rate, arrays.max_rate
        )


H = TypeVar("H", bound=Handles)


def solve_problem(problem: cp.Problem, solver: str, **options: Any) -> SolveRecord:
    """Run one solver on ``problem``; never writes to stdout or stderr.

    ``options`` go to the solver as they are (e.g. tighter tolerances). No warm start: an
    answer must not depend on which spec a cached program solved before (byte-identical
    output across runs and ``--jobs`` values). The steps are those of ``Problem.solve``
    (compile, solve, unpack), taken one by one so that the solver's raw solution stays
    available to the certificate.
    """
    options = dict(options)
    options.pop("warm_start", None)
    try:
        with quiet_native_output():
            data, chain, inverse = problem.get_problem_data(solver, solver_opts=options)
            raw = chain.solve_via_data(problem, data, False, False, options)
            with warnings.catch_warnings():
                # "Solution may be inaccurate": the status says so (optimal_inaccurate), the
                # engine judges the answer and the attempt line reports it; not for stderr.
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                problem.unpack_results(raw, chain, inverse)
    finally:
        # cvxpy keeps the solver's instance, its data and its result on the problem for a
        # warm start, which deter never makes: for HiGHS a ``Highs`` object holding the LP
        # in native memory, one per cached program (issue 24: workers grew with the cache).
        problem._solver_cache.clear()
    return SolveRecord(str(problem.status), raw)


def variable_bound(arrays: ProblemArrays) -> float:
    """A bound on |z_j| for every variable of the programs built here: rates (at most their
    ceilings), probabilities and shares (at most 1), false flags (at most f x, or its
    exponential tangent, at the ceilings), binaries."""
    ceilings = float(np.max(arrays.max_rate, initial=0.0))
    flags = float(arrays.false_positive @ arrays.max_rate)
    with np.errstate(divide="ignore"):
        tangent = float(-np.log1p(-np.clip(arrays.false_positive, 0.0, 1.0)) @ arrays.max_rate)
    return max(1.0, ceilings, flags, tangent if np.isfinite(tangent) else flags)


def estimated_bytes(problem: cp.Problem) -> int:
    """A compiled program's resident memory by estimate, from its Parameters' entries."""
    entries = sum(int(parameter.size) for parameter in problem.parameters())
    return PROGRAM_BASE_BYTES + PROGRAM_BYTES_PER_ENTRY * entries


def is_linear_program(problem: cp.Problem) -> bool:
    return bool(problem.objective.expr.is_affine()) and all(
        isinstance(c, Inequality | Equality | Zero | NonNeg | NonPos) and c.expr.is_affine()
        for c in problem.constraints
    )


def shape_key(arrays: ProblemArrays, components: Sequence[Component]) -> tuple[Any, ...]:
    return (
        len(arrays.deviations),
        arrays.n_monitors,
        tuple(key for c in components for key in c.shape_key(arrays)),
    )


def compile_parts(
    arrays: ProblemArrays, components: Sequence[Component], ctx: Context
) -> tuple[tuple[Component, Handles], ...]:
    """Compile each component into ``ctx``, in order, keeping its handles."""
    return tuple((c, c.compile(ctx, c.values(arrays))) for c in components)


def compile_program(
    arrays: ProblemArrays, components: list[Component], parametric: bool
) -> CompiledProgram:
    n, m = len(arrays.deviations), arrays.n_monitors
    ctx = Context(
        n_deviations=n,
        n_monitors=m,
        parametric=parametric,
        rates=cp.Variable(m, name="rates"),
        detection=cp.Variable(n, name="detection"),
        false_flags=cp.Variable(name="false_flags"),
    )
    parts = compile_parts(arrays, components, ctx)
    problem = cp.Problem(cp.Minimize(cp.sum(ctx.costs)), list(ctx.constraints))
    return CompiledProgram(parts, ctx, problem, shape_key(arrays, components))


_cache: OrderedDict[tuple[Any, ...], CompiledProgram] = OrderedDict()
_cache_lock = threading.Lock()


def program_for(arrays: ProblemArrays) -> CompiledProgram:
    """A compiled program loaded with ``arrays``: from the cache when the shape matches.
    The least recently used programs leave the cache when it passes ``CACHE_PROGRAMS``
    programs or ``CACHE_BYTES`` (a program larger than that alone is not kept)."""
    components = components_for(arrays)
    if len(arrays.deviations) * max(arrays.n_monitors, 1) > PARAMETRIC_LIMIT:
        return compile_program(arrays, components, parametric=False)
    key = shape_key(arrays, components)
    with _cache_lock:
        program = _cache.get(key)
        if program is not None:
            _cache.move_to_end(key)
    if program is None:
        program = compile_program(arrays, components, parametric=True)
        with _cache_lock:
            _cache[key] = program
            _evict()
    else:
        program.load(arrays)
    return program


def cached_programs() -> tuple[int, int]:
    """The cache's programs and their bytes by estimate (bounded: ``CACHE_PROGRAMS``,
    ``CACHE_BYTES``)."""
    with _cache_lock:
        return len(_cache), sum(program.estimated_bytes for program in _cache.values())


def _evict() -> None:
    """Drop the least recently used programs until both bounds hold (lock held)."""
    held = sum(program.estimated_bytes for program in _cache.values())
    while _cache and (len(_cache) > CACHE_PROGRAMS or held > CACHE_BYTES):
        _, dropped = _cache.popitem(last=False)
        held -= dropped.estimated_bytes


_quiet_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Silence a solver's native banner and logs, which bypass Python's sys.stdout.

    HiGHS prints its banner from C++ whatever its options say; stdout must carry only
    deter's requested output, so file descriptors 1 and 2 point at /dev/null meanwhile.
    """
    with _quiet_lock:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved: list[tuple[int, int]] = []
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            yield
            return
        try:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(devnull, fd)
                except OSError:
                    continue
            yield
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            os.close(devnull)


def value_of(variable: cp.Variable | cp.Expression, size: int) -> np.ndarray:
    value = variable.value
    if value is None:
        return np.full(size, np.nan)
    return np.atleast_1d(np.asarray(value, dtype=float))
