"""The accept-or-reject step over many members at once (``core.accept_policies``, the
first candidates made and verified together by ``verify_stack.Ragged``) gives every member
the verdict, policy, verification and evaluation of the step one member at a time
(``core._accept_one``), bit for bit: on solved stacks of full-vocabulary specs, and on
degenerate policies (rates at their floors and ceilings, a hair over or under, -0.0,
broken policies, CARA rows beyond float range)."""

from __future__ import annotations

import numpy as np
import pytest
from deter.solver.engine import core, stacked
from deter.solver.engine.core import Member, accept_policies
from deter.solver.engine.verify import fixed_of, verify_evaluated
from deter.solver.engine.verify_stack import Ragged, penalties_of, takes
from deter.solver.formulation.stacked import build_stack
from deter.solver.results.result import DualityCertificate
from deter.solver.spec.loading import parse_spec_text

from tests.support.vocabulary import generate

FAMILIES = (
    "linear",
    "cara_averse",
    "cara_seeking",
    "risk_seeking_limit",
    "degenerate",
    "ties",
    "budget",
    "no_monitors",
)


def _arrays(count: int, start: int) -> list:
    found = []
    for family in FAMILIES:
        for seed in range(start, start + count):
            case = generate(family, seed, infeasible=False)
            try:
                spec = parse_spec_text(case.text, name=case.label)
            except Exception:  # a draw beyond the spec's limits: not this test's subject
                continue
            arrays = stacked.arrays_of(spec)
            if arrays is not None:
                found.append(arrays)
    return found


@pytest.fixture(scope="module")
def members_arrays() -> list:
    return _arrays(6, 4100)


def _passing(reported: float) -> DualityCertificate:
    return DualityCertificate(applies=True, passed=True, tolerance=1e-9, primal_objective=reported)


def _bits(a: np.ndarray | None) -> bytes | None:
    return None if a is None else np.ascontiguousarray(a, dtype=float).tobytes()


def _same(one, together) -> bool:
    """Verdicts equal bit for bit: proof or failure, policy, penalties, verification
    (``repr`` tells -0.0 from 0.0 and shows NaN) and the evaluation the result reports."""
    if (one.proof, one.failure) != (together.proof, together.failure):
        return False
    if (one.answer is None) != (together.answer is None):
        return False
    if one.answer is None:
        return True
    a, b = one.answer, together.answer
    same = (
        _bits(a.rates) == _bits(b.rates)
        and _bits(a.penalties) == _bits(b.penalties)
        and repr(a.verification) == repr(b.verification)
        and a.program is b.program
    )
    for field in ("detection", "expected_utility", "net_incentive", "utility_scale"):
        same = same and _bits(getattr(a.evaluation, field)) == _bits(getattr(b.evaluation, field))
    return same


def _judge_both(members: list[Member]) -> tuple[list, list]:
    together = accept_policies(members, 1e-6)
    one = [core._accept_one(m, 1e-6) for m in members]
    return one, together


def _solved_members(arrays: list) -> list[Member]:
    """The members of solved plain stacks, as ``stacked._judge_members`` makes them."""
    members = []
    for start in range(0, len(arrays), 16):
        chunk = arrays[start : start + 16]
        program = build_stack(chunk)
        if stacked._solve(program, "HIGHS") not in stacked._SOLVED:
            continue
        z, duals = program.primal(), program.duals()
        bounds = stacked.block_bounds(program, chunk)
        assert not isinstance(bounds, str)
        members += [
            stacked._block_member(a, program, i, z, duals[0], bounds) for i, a in enumerate(chunk)
        ]
    return members


def test_solved_stacks_judged_together_as_one_by_one(members_arrays) -> None:
    members = _solved_members(members_arrays)
    assert len(members) >= 30
    assert sum(takes(m.arrays) for m in members) >= 30
    one, together = _judge_both(members)
    assert all(_same(a, b) for a, b in zip(one, together, strict=True))
    assert sum(v.answer is not None for v in together) >= 25  # most pass: a real comparison


def _program_of(arrays):
    # any program whose parts choose no penalties; the verdict only reads its parts
    return stacked._BlockProgram.of(np.zeros(len(arrays.deviations)))


def _degenerate_policies(arrays, rng: np.random.Generator) -> list[np.ndarray]:
    low = np.asarray(arrays.min_rate, float)
    high = np.asarray(arrays.max_rate, float)
    n = arrays.n_monitors
    middle = low + (high - low) * rng.uniform(size=n)
    policies = [
        low.copy(),
        high.copy(),
        middle,
        np.nextafter(high, 0.0),
        np.minimum(np.nextafter(low, 1.0), high),
        np.where(low == 0, -0.0, low),  # a solver's -0.0 at a floor
        np.where(rng.uniform(size=n) < 0.5, low + 1e-13, middle),  # to be snapped
        middle * 0.5,  # broken: too little monitoring for most
        np.clip(middle * (1 + 1e-9), low, high),
    ]
    return policies


def test_degenerate_policies_judged_together_as_one_by_one(members_arrays) -> None:
    rng = np.random.default_rng(7)
    members = [
        Member(arrays, _program_of(arrays), rates, _passing)
        for arrays in members_arrays
        for rates in _degenerate_policies(arrays, rng)
    ]
    rng.shuffle(members)  # members of every kind side by side
    one, together = _judge_both(members)
    assert all(_same(a, b) for a, b in zip(one, together, strict=True))
    accepted = sum(v.answer is not None for v in together)
    assert 0 < accepted < len(members)  # both verdicts occur


def test_ragged_verification_equals_verify_evaluated(members_arrays) -> None:
    """Every check of every member, at any policy (not only the first candidates)."""
    rng = np.random.default_rng(11)
    taken = [a for a in members_arrays if takes(a)]
    assert any(fixed_of(a, None).overflow for a in taken)  # log-space rows included
    for _ in range(3):
        policies = [rng.choice(_degenerate_policies(a, rng)) for a in taken]
        ragged = Ragged.of(taken)
        found = ragged.verify(np.concatenate(policies), 1e-6)
        for arrays, rates, (verification, evaluation, total) in zip(
            taken, policies, found, strict=True
        ):
            alone, alone_evaluation = verify_evaluated(
                arrays, rates, total, 1e-6, penalties=penalties_of(arrays)
            )
            assert repr(alone) == repr(verification)
            assert _bits(alone_evaluation.net_incentive) == _bits(evaluation.net_incentive)


def test_the_comparison_sees_one_ulp(members_arrays) -> None:
    """The comparison above has teeth: one member's policy moved by one ulp, or one member
    broken, is a different verdict."""
    members = _solved_members(members_arrays[:16])
    one, together = _judge_both(members)
    k = next(i for i, v in enumerate(together) if v.answer is not None)
    answer = together[k].answer
    nudged = type(answer)(
        answer.program,
        np.nextafter(answer.rates, np.inf),
        answer.penalties,
        answer.verification,
        evaluation=answer.evaluation,
    )
    assert not _same(one[k], type(together[k])(nudged, together[k].proof))
    broken = [
        Member(m.arrays, m.program, m.solved * 0.25, m.certificate_of) if i == k else m
        for i, m in enumerate(members)
    ]
    _, judged = _judge_both(broken)
    assert not _same(one[k], judged[k])
    assert all(_same(a, b) for i, (a, b) in enumerate(zip(one, judged, strict=True)) if i != k)


def test_segment_maxima_keep_the_sign_of_zero() -> None:
    """``_maxima`` gives each segment's maximum as its own ``max`` does, the sign of a zero
    maximum included (a reduction meets +0.0 and -0.0 in its own order), NaN as inf."""
    from deter.solver.engine.verify_stack import _maxima

    rng = np.random.default_rng(3)
    pool = np.array([-0.0, 0.0, -1.0, -5e-324, np.nan, -np.inf])
    for _ in range(300):
        sizes = rng.integers(1, 40, size=rng.integers(1, 6))
        segments = [rng.choice(pool, size=n) for n in sizes]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        found = _maxima(np.concatenate(segments), starts)
        for values, (largest, worst) in zip(segments, found, strict=True):
            relative = values / 1.0 + 0.0
            relative = np.where(np.isnan(relative), np.inf, relative)
            values = np.where(np.isnan(values), np.inf, values)
            assert repr(float(values.max())) == repr(largest)
            assert repr(float(relative.max())) == repr(worst)


def _document(result) -> str:
    import json

    doc = result.to_dict()
    doc.pop("timing", None)
    return json.dumps(doc, sort_keys=True)


def test_results_built_together_as_one_by_one(members_arrays) -> None:
    """``core.optimal_results`` (shadow prices, slack rows, certainty equivalents and
    overlap notes of a stack's answers computed together) builds the documents
    ``core.optimal_result`` builds one by one, character for character."""
    from deter.solver.engine.readout import Clock

    rng = np.random.default_rng(5)
    members = _solved_members(members_arrays)
    # policies over 1 in total coverage too, for the notes on overlapping inspections
    members += [
        Member(a, _program_of(a), np.asarray(a.max_rate, float), _passing)
        for a in members_arrays[::3]
    ]
    verdicts = accept_policies(members, 1e-6)
    spec = parse_spec_text(generate("linear", 1, infeasible=False).text, name="s")
    items = [
        (spec, m.arrays, v.answer, "HIGHS", ("line",), Clock())
        for m, v in zip(members, verdicts, strict=True)
        if v.answer is not None
    ]
    rng.shuffle(items)
    together = core.optimal_results(items)
    one = [core.optimal_result(*item) for item in items]
    assert len(items) >= 30
    assert sum(bool(r.notes) for r in one) >= 1
    assert sum(any(a.shadow_price for a in r.actions) for r in one) >= 10
    assert [_document(r) for r in one] == [_document(r) for r in together]
