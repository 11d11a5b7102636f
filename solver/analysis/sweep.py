"""Sweeps: solving one spec over a range (or a grid) of values of its numeric fields.

A field is addressed by a dotted path in the spec's own vocabulary, with list entries named
by their ``name``: ``actions.exfiltrate.penalty_cap``, ``monitors.llm_judge.cost``,
``monitors.llm_judge.detects.reward_hack``, ``agent.risk_aversion``, ``oversight.budget``.
Paths are resolved against the pydantic spec model itself, so sections and fields added by
other features (``penalty.*``, ``requirements.*``) can be varied without changes here.

Every point is a valid spec (``PointMaker``: the varied numbers changed in the base spec,
the models holding them and the cross-field rules checked, as validating the whole spec
would) with its arrays (the base spec's, with those numbers changed, where the arrays hold
them as they are). Points are solved as the blocks of stacked programs
(``engine/stacked.py``, compiled once per structure and re-solved through cvxpy
Parameters), and a point the stack cannot answer alone with :func:`deter.solve`. Points
that cannot be met are reported with their status, not raised.
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from ..results.errors import SpecError, SpecIssue
from ..results.serialise import dumps, envelope, jsonable
from ..results.status import Status
from ..spec.document import Spec, did_you_mean
from ..spec.loading import model_in, validate_spec_data

if TYPE_CHECKING:
    from ..results.result import Result

#: A sweep (or grid) larger than this is refused: it is almost always a typo in ``points``.
MAX_POINTS = 200_000
VARY_SOURCE = "--vary"

Step = str | int  # a dict key, or an index into a list of named entries


# --- paths ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldPath:
    """A resolved path: the user's text and the keys/indices that reach it in the spec data."""

    text: str
    steps: tuple[Step, ...]


def _path_error(path: str, message: str) -> SpecError:
    return SpecError([SpecIssue(file=VARY_SOURCE, key=path, message=message)])


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields by the key a spec file uses for them (alias when there is one)."""
    return {(info.alias or name): info for name, info in model.model_fields.items()}


_inner_model = model_in  # the model class inside an annotation (Optional, tuple[...])


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        return True
    return any(_is_sequence(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping):
        return True
    return any(_is_mapping(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def _mapping_value(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (dict, Mapping):
        return typing.get_args(annotation)[1]
    for arg in typing.get_args(annotation):
        if _is_mapping(arg):
            return _mapping_value(arg)
    return None


def _is_numeric(annotation: Any) -> bool:
    if annotation is bool:
        return False
    if annotation in (float, int):
        return True
    if typing.get_origin(annotation) in (tuple, list, dict, Mapping):
        return False
    return any(_is_numeric(arg) for arg in typing.get_args(annotation))


def resolve_path(spec: Spec, path: str) -> FieldPath:
    """Check that ``path`` names one numeric field of ``spec``; raise SpecError if not."""
    parts = [p for p in path.strip().split(".")]
    if not path.strip() or any(not p for p in parts):
        raise _path_error(path, "a path is dotted keys, e.g. actions.reward_hack.gain")
    model: type[BaseModel] = type(spec)
    node: Any = spec
    steps: list[Step] = []
    k = 0
    while k < len(parts):
        part = parts[k]
        fields = _fields_by_key(model)
        if part not in fields:
            where = ".".join(parts[:k]) or "the spec"
            raise _path_error(
                path,
                f"{where} has no key {part!r}"
                + did_you_mean(part, fields)
                + f"; keys there: {', '.join(sorted(fields))}",
            )
        info = fields[part]
        annotation = info.annotation
        value = getattr(node, _attr_name(model, part), None) if node is not None else None
        steps.append(part)
        inner = _inner_model(annotation)
        last = k == len(parts) - 1
        if inner is not None and _is_sequence(annotation):
            entries = list(value or ())
            names = [getattr(e, "name", None) for e in entries]
            if last:
                raise _path_error(
                    path, f"name an entry after {part!r}: " + ", ".join(map(str, names))
                )
            name = parts[k + 1]
            if name not in names:
                raise _path_error(
                    path,
                    f"no {part} entry named {name!r}"
                    + did_you_mean(name, [n for n in names if n])
                    + (f"; entries: {', '.join(map(str, names))}" if names else ""),
                )
            index = names.index(name)
            steps.append(index)
            node, model = entries[index], inner
            k += 2
            if k == len(parts):
                raise _path_error(
                    path,
                    f"{'.'.join(parts)} is an entry; add a field: "
                    + ", ".join(sorted(_numeric_keys(inner))),
                )
            continue
        if inner is not None:
            if last:
                raise _path_error(
                    path,
                    f"{part} is a section; add a field: " + ", ".join(sorted(_numeric_keys(inner))),
                )
            node, model = value, inner
            k += 1
            continue
        if _is_mapping(annotation):
            if k + 2 != len(parts):
                raise _path_error(
                    path,
                    f"{part} is a table: name exactly one key after it, "
                    f"e.g. {'.'.join(parts[: k + 1])}.<name>",
                )
            if not _is_numeric(_mapping_value(annotation)):
                raise _path_error(path, f"the values of {part} are not numbers")
            steps.append(parts[k + 1])  # an unknown key is caught when the point is validated
            return FieldPath(path, tuple(steps))
        if not last:
            raise _path_error(path, f"{'.'.join(parts[: k + 1])} is a value, not a table")
        if not _is_numeric(annotation):
            raise _path_error(path, f"{part} is not a numeric field")
        return FieldPath(path, tuple(steps))
    raise _path_error(path, "incomplete path")  # pragma: no cover - loop always returns


def _attr_name(model: type[BaseModel], key: str) -> str:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return name
    return key


def _numeric_keys(model: type[BaseModel]) -> list[str]:
    return [
        key
        for key, info in _fields_by_key(model).items()
        if _is_numeric(info.annotation) or _is_mapping(info.annotation)
    ]


# --- setting values ---------------------------------------------------------------------


def spec_data(spec: Spec) -> dict[str, Any]:
    """The spec as the plain data it was validated from (keys as a spec file writes them)."""
    return _lists(spec.model_dump(by_alias=True, exclude_unset=True))


def _lists(value: Any) -> Any:
    """Tuples become lists, as TOML data has them (error messages then name the entries)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def _assign(data: dict[str, Any], steps: Sequence[Step], value: float) -> None:
    """Set ``value`` at ``steps``, copying each container on the way first: ``data`` is a
    fresh top-level dict whose untouched branches are shared with the base (read-only to
    validation), so a point costs a copy of one path, not of the whole spec."""
    node: Any = data
    for step, following in itertools.pairwise(steps):
        child = node[step] if isinstance(step, int) else node.get(step)
        if child is None:
            child = [] if isinstance(following, int) else {}
        else:
            child = list(child) if isinstance(child, list) else dict(child)
        node[step] = child
        node = child
    node[steps[-1]] = value


def respec(
    spec: Spec,
    changes: Mapping[FieldPath, float],
    base: Mapping[str, Any] | None = None,
) -> Spec:
    """A re-validated copy of ``spec`` with each path set to its value.

    Raises SpecError (naming the path and value) when a value is out of range for its field
    or breaks a cross-field rule, e.g. a min_rate above the max_rate.
    """
    data = dict(base) if base is not None else spec_data(spec)
    for path, value in changes.items():
        _assign(data, path.steps, float(value))
    try:
        new = validate_spec_data(data, file=spec.source_file)
    except SpecError as exc:
        setting = ", ".join(f"{p.text}={v:g}" for p, v in changes.items())
        raise SpecError(
            [
                SpecIssue(file=i.file, key=i.key, message=f"{i.message} (with {setting})")
                for i in exc.issues
            ]
        ) from None
    return new.with_source(spec.source)  # messages after validation still name its lines


def set_value(spec: Spec, path: str, value: float) -> Spec:
    """``spec`` with one numeric field, addressed by its dotted path, set to ``value``."""
    return respec(spec, {resolve_path(spec, path): value})


def get_value(spec: Spec, path: FieldPath | str) -> float | None:
    """The current value at a path (None when unset), as the spec data holds it."""
    resolved = path if isinstance(path, FieldPath) else resolve_path(spec, path)
    node: Any = spec.model_dump(by_alias=True)
    for step in resolved.steps:
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list | tuple) and isinstance(step, int):
            node = node[step]
        else:
            return None
        if node is None:
            return None
    return float(node) if isinstance(node, int | float) else None


# --- points -----------------------------------------------------------------------------

#: Fields whose number goes into the arrays as it is (``ProblemArrays.from_spec``): a point
#: varying only these gets the base arrays with its numbers changed.
_MONITOR_ARRAYS = {"cost": "cost", "min_rate": "min_rate", "max_rate": "max_rate"}
_MONITOR_ARRAYS["false_positive"] = "false_positive"
_AGENT_ARRAYS = {k: k for k in ("risk_aversion", "margin", "false_positive_penalty")}


class PointMaker:
    """Each point's spec (and arrays) from the base spec's, changing only the varied numbers.

    The model that holds a varied field (a monitor, an action, ``agent``, ...) is validated
    with its new value, which checks the field's own constraints, and the changed spec's
    cross-field rules (``Spec._cross_references``) are checked: together what validating
    the whole spec again checks, for a fraction of its cost (tests/analysis/
    test_sweep_points.py compares the two on the full vocabulary). A point that either
    check refuses, or a path this does not follow, is validated whole (:func:`respec`), so
    its error is the one a loop of library solves meets.

    The arrays of a point that varies only numbers the arrays hold as they are (a monitor's
    cost, rates and false positives, an action's plain gain and cap, the budget, the
    agent's coefficients; no ``[learner]`` or ``[horizon]``) are the base spec's arrays
    with those numbers changed; else they are built from the point's spec.
    """

    def __init__(self, spec: Spec, axes: Sequence[Axis]) -> None:
        from ..model.arrays import ProblemArrays

        self.spec = spec
        self.base = spec_data(spec)
        self.paths = [a.path for a in axes]
        self.leaves = [_leaf(spec, p.steps) for p in self.paths]
        self.base_arrays: ProblemArrays | None = None
        plain = all(self.leaves) and spec.learner is None and spec.horizon is None
        if plain and all(_array_field(spec, p.steps) is not None for p in self.paths):
            self.base_arrays = ProblemArrays.for_design(spec)

    def spec_at(self, values: Sequence[float]) -> Spec:
        """The point's validated spec; SpecError (as :func:`respec` raises it) if invalid."""
        changes = dict(zip(self.paths, values, strict=True))
        if not all(self.leaves):
            return respec(self.spec, changes, self.base)
        point: Spec | None = self.spec
        for path, value in changes.items():
            point = _changed(point, path.steps, float(value))
            if point is None:
                break
        if point is None or not _cross_field_valid(point):
            return respec(self.spec, changes, self.base)  # raises with the located error
        return point

    def arrays_at(self, point: Spec) -> Any:
        """The point's arrays (``ProblemArrays.for_design``)."""
        from ..model.arrays import ProblemArrays

        if self.base_arrays is None:
            return ProblemArrays.for_design(point)
        arrays = self.base_arrays
        updates: dict[str, Any] = {}
        for path in self.paths:
            name, index = _array_field(self.spec, path.steps)  # type: ignore[misc]
            value = _value_at(point, path.steps)
            if name in ("gain", "penalty_cap") and index == arrays.compliant:
                value = value if name == "gain" else 0.0
            if index is None:
                updates[name] = value
            else:
                vector = np.array(updates.get(name, getattr(arrays, name)), dtype=float)
                vector[index] = value
                updates[name] = vector
        return replace(arrays, **updates)


def _leaf(spec: Spec, steps: Sequence[Step]) -> bool:
    """True when ``steps`` reach a field of a model through models and named entries only
    (a section's field, an entry's field, or one key of an entry's table)."""
    node: Any = spec
    for k, step in enumerate(steps):
        if isinstance(step, int):
            if not isinstance(node, tuple) or step >= len(node):
                return False
            node = node[step]
            continue
        if not isinstance(node, BaseModel):
            return False
        attr = _attr_name(type(node), step)
        rest = len(steps) - k - 1
        if rest == 0:
            return True
        child = getattr(node, attr, None)
        if rest == 1 and isinstance(child, dict):
            return True
        if child is None:
            return False
        node = child
    return False


def _changed(node: Any, steps: Sequence[Step], value: float) -> Any:
    """``node`` with the field at ``steps`` set to ``value``; the model holding the field is
    validated again (None when it refuses the value)."""
    step = steps[0]
    if isinstance(step, int):
        child = _changed(node[step], steps[1:], value)
        if child is None:
            return None
        return (*node[:step], child, *node[step + 1 :])
    model = type(node)
    attr = _attr_name(model, step)
    if len(steps) == 1 or (len(steps) == 2 and isinstance(getattr(node, attr), dict)):
        data = node.model_dump(by_alias=True, exclude_unset=True)
        if len(steps) == 1:
            data[step] = value
        else:
            data[step] = {**getattr(node, attr), steps[1]: value}
        try:
            return model.model_validate(data)
        except ValueError:  # pydantic's ValidationError: respec names it
            return None
    child = _changed(getattr(node, attr), steps[1:], value)
    if child is None:
        return None
    return node.model_copy(update={attr: child})


def _cross_field_valid(point: Spec) -> bool:
    try:
        point._cross_references()  # type: ignore[operator]  # the after-validator, run alone
    except ValueError:
        return False
    return True


def _value_at(node: Any, steps: Sequence[Step]) -> float:
    for step in steps:
        if isinstance(step, int) or isinstance(node, dict):
            node = node[step]
        else:
            node = getattr(node, _attr_name(type(node), step))
    return float(node)


def _array_field(spec: Spec, steps: Sequence[Step]) -> tuple[str, int | None] | None:
    """The ``ProblemArrays`` field (and index) that holds the number at ``steps`` as the
    spec gives it, or None."""
    if len(steps) == 3 and steps[0] == "monitors" and steps[2] in _MONITOR_ARRAYS:
        return _MONITOR_ARRAYS[str(steps[2])], int(steps[1])
    if len(steps) == 3 and steps[0] == "actions" and steps[2] in ("gain", "penalty_cap"):
        action = spec.actions[int(steps[1])]
        if steps[2] == "gain" and not isinstance(action.gain, int | float):
            return None  # an interval: its worst case is the number that counts
        return str(steps[2]), int(steps[1])
    if tuple(steps) == ("oversight", "budget"):
        return "budget", None
    if len(steps) == 2 and steps[0] == "agent" and steps[1] in _AGENT_ARRAYS:
        return _AGENT_ARRAYS[str(steps[1])], None
    if tuple(steps) == ("penalty", "cost"):
        return "penalty_cost", None
    return None


# --- axes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    path: FieldPath
    values: tuple[float, ...]

    @property
    def name(self) -> str:
        return self.path.text


def _number(text: str, path: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _path_error(path, f"{what} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise _path_error(path, f"{what} must be finite, not {text.strip()!r}")
    return value


def parse_values(text: str, path: str = "", log: bool = False) -> tuple[float, ...]:
    """``start:stop:points`` (evenly spaced, or geometrically with ``log``) or ``a,b,c``."""
    text = text.strip()
    if not text:
        raise _path_error(path, "no values: write start:stop:points or a comma list")
    if ":" in text:
        pieces = text.split(":")
        if len(pieces) != 3:
            raise _path_error(path, f"{text!r}: a range is start:stop:points, e.g. 10:200:40")
        start = _number(pieces[0], path, "start")
        stop = _number(pieces[1], path, "stop")
        try:
            points = int(pieces[2])
        except ValueError:
            raise _path_error(path, f"points {pieces[2]!r} is not a whole number") from None
        if points < 1:
            raise _path_error(path, f"points must be at least 1, not {points}")
        if points > MAX_POINTS:
            raise _path_error(path, f"{points} points is over the limit of {MAX_POINTS:,}")
        if log:
            if start <= 0 or stop <= 0:
                raise _path_error(path, "--log needs a start and stop above 0")
            grid = np.geomspace(start, stop, points)
        else:
            grid = np.linspace(start, stop, points)
        return tuple(float(v) for v in grid)
    return tuple(_number(piece, path, "value") for piece in text.split(","))


def parse_vary(spec: Spec, text: str, log: bool = False) -> Axis:
    """One ``--vary 'PATH=start:stop:points'`` (or ``PATH=a,b,c``) checked against ``spec``."""
    if "=" not in text:
        raise _path_error(
            text,
            "write PATH=start:stop:points or PATH=a,b,c "
            "(e.g. actions.reward_hack.penalty_cap=10:200:40)",
        )
    path_text, _, values_text = text.partition("=")
    path_text = path_text.strip()
    path = resolve_path(spec, path_text)
    values = parse_values(values_text, path_text, log)
    # Each value alone must be valid for its field: a bad range is the user's mistake, so
    # it is refused before anything is solved (a clash between two axes is a point's status).
    base = spec_data(spec)
    for value in values:
        respec(spec, {path: value}, base)
    return Axis(path, values)


# --- running ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    index: tuple[int, ...]  # position on each axis
    values: tuple[float, ...]  # one per axis
    status: Status  # a Result status, or invalid: a combination the spec rules refuse
    total_cost: float | None
    rates: dict[str, float]
    detection: dict[str, float]
    binding: tuple[str, ...]
    message: str = ""
    binding_changed: bool = False  # the binding set differs from a neighbouring solved point
    result: Result | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


@dataclass(frozen=True)
class Sweep:
    name: str
    currency: str
    axes: tuple[Axis, ...]
    points: tuple[SweepPoint, ...]
    monitor_names: tuple[str, ...]
    action_names: tuple[str, ...]
    seconds: float = 0.0

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    def statuses(self) -> list[str]:
        return [p.status for p in self.points]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``deter sweep --format json``: the envelope
        (``schema_version``, ``kind: "sweep"``) with ``points``, one object per point (the
        varied paths' values, status, cost, rates, detection, binding set)."""
        return envelope("sweep", self.to_records(), key="points")

    def to_json(self) -> str:
        """``to_dict()`` as the JSON text ``deter sweep --format json`` prints."""
        return dumps(self.to_dict(), indent=2) + "\n"

    def to_records(self) -> list[dict[str, Any]]:
        """One plain object per point (the JSON output): varied paths, status, cost, rates."""
        records = []
        for p in self.points:
            record: dict[str, Any] = {a.name: v for a, v in zip(self.axes, p.values, strict=True)}
            # No policy (a point that cannot be met): null, as batch writes it, not {} or ""
            policy = p.status == "optimal" or bool(p.rates)
            record.update(
                status=p.status,
                total_cost=jsonable(p.total_cost),
                rates=jsonable(p.rates) if policy else None,
                detection=jsonable(p.detection) if policy else None,
                binding=list(p.binding),
                binding_changed=p.binding_changed,
                message=p.message or None,
            )
            records.append(record)
        return records


def grid(axes: Sequence[Axis]) -> Iterator[tuple[tuple[int, ...], tuple[float, ...]]]:
    """Every combination of the axes' values, the last axis varying fastest."""
    for index in itertools.product(*(range(len(a.values)) for a in axes)):
        yield index, tuple(a.values[k] for a, k in zip(axes, index, strict=True))


#: Points solved as one stacked program (``engine/stacked.py``): the same blocks in the
#: same order for the same sweep, whatever else runs.
STACK_SIZE = 64


def run_sweep(
    spec: Spec,
    axes: Sequence[Axis],
    *,
    solve: Callable[[Spec], Result] | None = None,
    solvers: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Solve ``spec`` at every point of the grid spanned by ``axes``.

    Without ``solve`` the points are blocks of stacked programs (``STACK_SIZE`` at a time,
    ``engine/stacked.py``), each verified and certified from its own block, and a point the
    stack cannot answer is solved alone; ``solve`` solves every point alone with it.
    """
    import time

    if not axes:
        raise _path_error("", "nothing to vary: give at least one --vary")
    size = math.prod(len(a.values) for a in axes)
    if size > MAX_POINTS:
        raise _path_error(
            ", ".join(a.name for a in axes),
            f"the grid has {size:,} points, over the limit of {MAX_POINTS:,}",
        )
    stacked = solve is None
    if solve is None:
        from ..engine.solve import solve as solve_spec

        chosen = tuple(solvers) if solvers else None

        def solve(point: Spec) -> Result:
            return solve_spec(point, solvers=chosen) if chosen else solve_spec(point)

    started = time.perf_counter()
    maker = PointMaker(spec, axes)
    raw: list[SweepPoint | None] = []
    pending: list[tuple[int, tuple[int, ...], tuple[float, ...], Spec]] = []
    pending_arrays: list[Any] = []
    done = 0

    def flush() -> None:
        nonlocal done
        answers: list[Result | None] = [None] * len(pending)
        if stacked and pending:
            from ..engine.stacked import arrays_of, solve_stacked
            from ..formulation.program import SOLVER_ORDER

            answers = solve_stacked(
                [point for *_, point in pending],
                solvers=tuple(solvers or SOLVER_ORDER),
                arrays=[
                    arrays_of(point, a)
                    for (*_, point), a in zip(pending, pending_arrays, strict=True)
                ],
            )
        for (slot, index, values, point), answer in zip(pending, answers, strict=True):
            raw[slot] = _point(index, values, answer if answer is not None else solve(point))
            done += 1
            if progress is not None:
                progress(done, size)
        pending.clear()
        pending_arrays.clear()

    for index, values in grid(axes):
        try:
            point_spec = maker.spec_at(values)
        except SpecError as exc:
            raw.append(
                SweepPoint(
                    index,
                    values,
                    Status.invalid,
                    None,
                    {},
                    {},
                    (),
                    message="; ".join(str(i.message) for i in exc.issues),
                )
            )
            done += 1
            if progress is not None:
                progress(done, size)
        else:
            raw.append(None)
            pending.append((len(raw) - 1, index, values, point_spec))
            if stacked:
                pending_arrays.append(maker.arrays_at(point_spec))
            if len(pending) >= (STACK_SIZE if stacked else 1):
                flush()
    flush()
    points = _mark_changes([p for p in raw if p is not None], [len(a.values) for a in axes])
    monitors = _union(p.rates for p in points) or tuple(m.name for m in spec.all_monitors())
    return Sweep(
        name=spec.name,
        currency=spec.problem.currency,
        axes=tuple(axes),
        points=tuple(points),
        monitor_names=monitors,
        action_names=tuple(a.name for a in spec.actions),
        seconds=time.perf_counter() - started,
    )


def _point(index: tuple[int, ...], values: tuple[float, ...], result: Result) -> SweepPoint:
    return SweepPoint(
        index=index,
        values=values,
        status=Status(result.status),  # a member already; typed as one for the sweep
        total_cost=result.total_cost,
        rates={m.name: m.rate for m in result.monitors},
        detection={a.name: a.detection for a in result.actions if not a.compliant},
        binding=tuple(a.name for a in result.actions if a.binding),
        message="" if result.status == "optimal" else result.message,
        result=result,
    )


def _mark_changes(points: list[SweepPoint], shape: list[int]) -> list[SweepPoint]:
    """Flag points whose binding set differs from the solved point before them on any axis."""
    by_index = {p.index: p for p in points}
    marked = []
    for p in points:
        changed = False
        if p.ok:
            for axis in range(len(shape)):
                if p.index[axis] == 0:
                    continue
                before = list(p.index)
                before[axis] -= 1
                neighbour = by_index[tuple(before)]
                if neighbour.ok and set(neighbour.binding) != set(p.binding):
                    changed = True
        marked.append(p if not changed else _replace(p, binding_changed=True))
    return marked


def _replace(point: SweepPoint, **changes: Any) -> SweepPoint:
    from dataclasses import replace

    return replace(point, **changes)


def _union(maps: Iterator[dict[str, float]] | Any) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for mapping in maps:
        for name in mapping:
            names.setdefault(name, None)
    return tuple(names)
