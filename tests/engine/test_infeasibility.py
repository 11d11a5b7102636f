"""Infeasible only when proven (issue #12): a certificate checked in the model's units.

A solver's "infeasible" is a claim at its own tolerances, often about the rescaled program;
deter says ``infeasible`` only when multipliers y >= 0 of the model's rows (Farkas' lemma,
with the rate box kept explicit) are checked in exact arithmetic
(solver/engine/infeasibility.py). Without one the next attempt runs, and a spec no attempt
solves ends as ``solver_error``. The seeds below were each declared infeasible although the
independent reference (tests/support/exact_reference.py) has an exactly checked policy.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import deter
import numpy as np
import pytest
from deter.solver.engine.attempts import Attempt, Verdict, run
from deter.solver.engine.core import solve_arrays_cost
from deter.solver.engine.diagnose import diagnose, without_budget
from deter.solver.engine.infeasibility import build_system, certify_infeasible, check
from deter.solver.model.arrays import ProblemArrays
from deter.solver.results.status import Status

from tests.support.exact_reference import judge
from tests.support.magnitudes import generate
from tests.support.reference import spec_text

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"

#: Specs once declared infeasible that the reference solves (bench/reliability.py --numeric).
WRONG_INFEASIBLE = [
    ("extreme", 104),
    ("extreme", 210),
    ("extreme", 1015),
    ("tight_budget", 288),
    ("tight_budget", 421),
    ("cara_averse", 627),
    ("non_paying", 821),
    ("non_paying", 823),
    ("non_paying", 1027),
]


def arrays_of(text: str) -> ProblemArrays:
    return ProblemArrays.from_spec(deter.loads(text).spec)


def solve(text: str) -> dict[str, Any]:
    return deter.solve(deter.loads(text)).to_dict(timing=False)


@pytest.mark.parametrize(("family", "seed"), WRONG_INFEASIBLE, ids=lambda v: str(v))
def test_a_spec_the_reference_solves_is_never_declared_infeasible(family: str, seed: int) -> None:
    text = generate(family, seed).text
    result = solve(text)
    verdict = judge(text, result)
    assert verdict.reference.status == "optimal"
    assert result["status"] != "infeasible", result["message"]
    assert "wrong_infeasible" not in {kind for kind, _ in verdict.failures}
    if result["status"] == "optimal":
        assert verdict.ok, verdict.failures
    else:  # no answer it can verify: it says so, with what every attempt did
        assert result["status"] == "solver_error"
        assert "no certificate of infeasibility" in result["message"]


@pytest.mark.parametrize(("family", "seed"), WRONG_INFEASIBLE, ids=lambda v: str(v))
def test_no_certificate_for_a_feasible_spec(family: str, seed: int) -> None:
    """Every row (alone) and the Farkas LP's multipliers fail the exact check."""
    assert certify_infeasible(arrays_of(generate(family, seed).text)) is None


@pytest.mark.parametrize(("family", "seed"), [("non_paying", 821), ("non_paying", 823)])
def test_diagnosis_reasons_in_utility_beyond_exp_range(family: str, seed: int) -> None:
    """nopay0 loses money by deviating; for a CARA agent its utility numbers overflow exp
    (u(g - F) with r F near 1,000), which the diagnosis read as "pays more than
    complying". It decides in the program's rows (log space): nopay0 never pays."""
    arrays = arrays_of(generate(family, seed).text)
    found = {a.name: a for a in diagnose(arrays).actions}
    assert found["nopay0"].deterrable
    assert all(a.deterrable for a in found.values())


# --- true infeasibility is still proven ----------------------------------------------------


def test_bundled_infeasible_specs_carry_a_certificate() -> None:
    for path in sorted((PROBLEMS / "infeasible").glob("*.toml")):
        arrays = ProblemArrays.from_spec(deter.load(path).spec)
        assert certify_infeasible(arrays) is not None, path.name
        assert deter.solve(deter.load(path)).status == Status.infeasible, path.name


def test_the_budget_certificate_bounds_the_least_cost_from_below() -> None:
    """over_budget.toml: full deterrence costs 10 (hand-derived in the file), the budget is
    6. The certificate's bound is a proven lower bound: above 6, at most 10."""
    arrays = ProblemArrays.from_spec(deter.load(PROBLEMS / "infeasible/over_budget.toml").spec)
    certificate = certify_infeasible(arrays)
    assert certificate is not None and certificate.least_cost_bound is not None
    assert "budget" in dict(certificate.rows)
    assert 6.0 < certificate.least_cost_bound <= 10.0
    least = solve_arrays_cost(without_budget(arrays))
    assert least is not None and certificate.least_cost_bound <= least * (1 + 1e-12)


def test_an_undetectable_profitable_action_is_one_row() -> None:
    text = spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "cheat", "gain": 1.0, "penalty_cap": 10.0},
            {"name": "hidden", "gain": 1.0, "penalty_cap": 10.0},
        ],
        [{"name": "m", "cost": 1.0, "detects": {"cheat": 0.5}}],
    )
    certificate = certify_infeasible(arrays_of(text))
    assert certificate is not None and certificate.actions == ("hidden",)
    result = solve(text)
    assert result["status"] == "infeasible"
    assert "hidden" in result["message"]


# Two actions, each deterrable alone, not both: the false flags each monitor raises cost an
# honest agent what the other action's row needs. Row a: 10 x_a - 10 (x_a + x_b) / 4 >= 5.5,
# row b the same with a and b swapped; their sum asks 5 (x_a + x_b) >= 11, beyond rates of 1.
COUPLED = spec_text(
    [
        {"name": "comply", "gain": 0.0},
        {"name": "a", "gain": 5.5, "penalty_cap": 10.0},
        {"name": "b", "gain": 5.5, "penalty_cap": 10.0},
    ],
    [
        {"name": "ma", "cost": 1.0, "detects": {"a": 1.0}, "false_positive": 0.25},
        {"name": "mb", "cost": 1.0, "detects": {"b": 1.0}, "false_positive": 0.25},
    ],
    agent={"false_positive_penalty": 10.0},
)


def test_a_combination_of_rows_is_certified() -> None:
    certificate = certify_infeasible(arrays_of(COUPLED))
    assert certificate is not None
    assert set(certificate.actions) == {"a", "b"}
    result = solve(COUPLED)
    assert result["status"] == "infeasible"
    assert all(a["deterrable"] for a in result["diagnosis"]["actions"])
    assert "proof: a combination of" in result["message"]


def test_the_same_spec_with_room_is_feasible_and_has_no_certificate() -> None:
    """Gains of 4.9 instead of 5.5: 5 (x_a + x_b) >= 9.8 is met at the ceilings."""
    text = COUPLED.replace("gain = 5.5", "gain = 4.9")
    assert certify_infeasible(arrays_of(text)) is None
    result = solve(text)
    assert result["status"] == "optimal"
    assert judge(text, result).ok


def test_the_check_refuses_multipliers_that_prove_nothing() -> None:
    """Multipliers of a feasible system never pass, whatever they are (random y >= 0)."""
    system = build_system(arrays_of(COUPLED.replace("gain = 5.5", "gain = 4.9")))
    rng = np.random.default_rng(12)
    for _ in range(200):
        assert check(system, rng.exponential(size=system.matrix.shape[0])) is None
    # and on the infeasible spec, the sum of the two rows (hand-derived above) passes
    infeasible = build_system(arrays_of(COUPLED))
    y = np.array([1.0 if label in ("a", "b") else 0.0 for label in infeasible.labels])
    proof = check(infeasible, y)
    assert proof is not None and proof.margin > 0


def test_a_solver_claim_without_proof_ends_as_solver_error() -> None:
    """The loop: an attempt that reports infeasible without a certificate moves on, and
    when every attempt does, the status is solver_error (never infeasible)."""

    class Record:
        status = "infeasible"

    class Claims:
        def solve(self, solver: str, **options: Any) -> Record:
            return Record()

    def judge_never(program: Any, attempt: Attempt, record: Any) -> Verdict[float]:
        raise AssertionError("an infeasible claim is not judged as an answer")

    plan = (Attempt("HIGHS"), Attempt("CLARABEL"))
    outcome = run(plan, lambda attempt: Claims(), judge_never, infeasible=lambda a: False)
    assert outcome.status == Status.solver_error
    assert all("no certificate of infeasibility" in line for line in outcome.attempts)


@pytest.mark.parametrize("seed", [11, 34, 109, 170])
def test_a_budget_just_below_the_least_cost_is_proven_infeasible(seed: int) -> None:
    """Budgets 1e-5 to 1e-3 (relative) below the least cost: the Farkas LP's y is too
    coarse there, the duals of the least-cost LP without the budget are not. The proof
    allows room only for computed numbers (needs, weights), not for the spec's own costs
    and detections, which are exact as given."""
    text = generate("tight_budget", seed).text
    arrays = arrays_of(text)
    assert judge(text, {"status": "infeasible"}).reference.status == "infeasible"
    certificate = certify_infeasible(arrays)
    assert certificate is not None and arrays.budget is not None
    assert certificate.least_cost_bound is not None
    assert certificate.least_cost_bound > arrays.budget
    result = solve(text)
    assert result["status"] == "infeasible", result["message"]


# --- penalty designs and exponential detection with false flags -----------------------------


def shared_caps(gain_b: float, design: str = "shared") -> str:
    """One audit per action (detection 0.9), caps 5 and 100: under a shared level (at most 5)
    b needs 0.9 F >= gain_b; with its own cap of 100 it is deterrable."""
    return spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "a", "gain": 1.0, "penalty_cap": 5.0, "audit_cost": 1.0},
            {"name": "b", "gain": gain_b, "penalty_cap": 100.0, "audit_cost": 1.0},
        ],
        penalty={"design": design, "cost": 0.01},
    )


def test_a_shared_penalty_level_is_relaxed_to_the_smallest_cap() -> None:
    """0.9 x 5 = 4.5 < 6: no shared level deters b. Relaxed to each action's own cap (100)
    the rows would hold, so the proof needs the smallest cap (``at_ceilings``)."""
    certificate = certify_infeasible(arrays_of(shared_caps(6.0)))
    assert certificate is not None and certificate.actions == ("b",)
    assert solve(shared_caps(6.0))["status"] == "infeasible"
    # the same numbers are deterrable with a level per action, and at 4.4 with a shared one
    assert certify_infeasible(arrays_of(shared_caps(6.0, "per_action"))) is None
    assert certify_infeasible(arrays_of(shared_caps(4.4))) is None
    assert solve(shared_caps(4.4))["status"] == "optimal"


def flagged_exponential(gain: float, budget: float | None = None) -> str:
    return spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": gain}],
        [{"name": "m", "cost": 1.0, "detects": {"cheat": 0.99}, "false_positive": 0.3}],
        agent={"penalty_cap": 10.0, "false_positive_penalty": 5.0},
        oversight={"detection": "exponential", **({} if budget is None else {"budget": budget})},
    )


def test_exponential_tangent_rows_hold_at_every_rate() -> None:
    """The tangent rows relax the model's concave row: at rates on a grid, every row the
    system holds (tangents at several points, and the secant of P_0 on boxes of s = phi x
    that hold x) is met by (x, u = P_0(x)) wherever the model's row is; a tangent or secant
    never cuts off a policy the model accepts."""
    from deter.solver.engine.infeasibility import flag_range, on_box, with_tangents

    arrays = arrays_of(flagged_exponential(6.0))
    base = build_system(arrays)
    assert base.curved is not None
    system = with_tangents(base, [np.array([t]) for t in (0.0, 0.1, 0.5, 0.7, 2.0)])
    curved = system.curved
    assert curved is not None and len(system.labels) > len(base.labels)
    matrix = system.matrix.toarray()
    accepted = 0
    start, end = flag_range(system)
    edges = np.linspace(start, end, 5)
    boxes = [
        on_box(system, a, b, first=a == start, last=b == end) for a, b in itertools.pairwise(edges)
    ]
    for x in np.linspace(0.0, 1.0, 2001):
        s = float(curved.flag_intensity[0] * x)
        u = -math.expm1(-s)
        row = -math.expm1(-float(curved.intensity[0, 0]) * x) - curved.weight[0] * u
        if row >= curved.need[0]:
            accepted += 1
            assert np.all(matrix @ np.array([x, u]) >= system.bound - 1e-12), x  # float's own
            for box, a, b in zip(boxes, edges[:-1], edges[1:], strict=True):
                if a <= s <= b:
                    values = box.matrix.toarray() @ np.array([x, u])
                    assert np.all(values >= box.bound - 1e-12), (x, a, b)
    assert accepted > 0


@pytest.mark.parametrize(
    ("gain", "budget", "proven"),
    [(8.52, None, True), (8.4, None, False), (8.5, None, False), (8.4, 0.5, True)],
)
def test_exponential_false_flags_are_proven_through_tangents(
    gain: float, budget: float | None, proven: bool
) -> None:
    """The best row value of the exact model, 10 (1 - 0.01^x) - 5 (1 - 0.7^x), is 8.51089 (at
    x = 0.76527, mpmath): above it no rate deters, and Kelley's tangents with secants of P_0
    on boxes of s prove it; below it the spec solves and no certificate is claimed (8.4 was
    called infeasible while the program held P_0 by its tangent at 0, a restriction), unless
    the budget (0.5) is below the rate that gain needs (the row is 8.18 at x = 0.5)."""
    certificate = certify_infeasible(arrays_of(flagged_exponential(gain, budget)))
    assert (certificate is not None) == proven
    assert solve(flagged_exponential(gain, budget))["status"] == (
        "infeasible" if proven else "optimal"
    )


#: Generated specs the reference proves infeasible that ended as solver_error: a shared
#: penalty level (proven at the smallest cap, and its least cost taken at that cap too), and
#: tight budgets whose multipliers the least-cost LP finds only in the units of each
#: monitor's hardest row (needs of 1e-25 beside needs of 1e-7).
PROVEN = [
    ("penalty_design", 10),
    ("penalty_design", 46),
    ("tight_budget", 100),
    ("tight_budget", 626),
]


@pytest.mark.parametrize(("family", "seed"), PROVEN, ids=lambda v: str(v))
def test_generated_infeasible_specs_are_proven(family: str, seed: int) -> None:
    text = generate(family, seed).text
    certificate = certify_infeasible(arrays_of(text))
    assert certificate is not None
    result = solve(text)
    verdict = judge(text, result)
    assert verdict.reference.status == "infeasible"
    assert verdict.ok, verdict.failures
    if family == "penalty_design":  # the solvers claim it: the claim now stands
        assert result["status"] == "infeasible"
    if certificate.least_cost_bound is not None:
        least = solve_arrays_cost(without_budget(arrays_of(text)))
        assert least is None or certificate.least_cost_bound <= least * (1 + 1e-12)


def test_a_cap_below_the_gain_is_proven_infeasible_for_a_strongly_risk_seeking_agent() -> None:
    """risk_seeking_limit-54: the need ratio is 1 + 1e-105, 1 in float64, so every attempt
    'met' the row at P = 1 and failed verification (solver_error); the closed form
    g_i - F_i > g_0 proves it for any risk attitude."""
    import deter
    from deter.solver.engine.infeasibility import caught_still_pays
    from deter.solver.model.arrays import ProblemArrays
    from deter.solver.spec.loading import parse_spec_text

    from tests.support.vocabulary import generate

    case = generate("risk_seeking_limit", 54, True)
    assert case.how == "cap_below_gain"
    result = deter.solve(deter.loads(case.text)).to_dict(timing=False)
    assert result["status"] == "infeasible", result["message"]
    assert "a0" in result["message"]
    # the proof needs the gain strictly above the cap: at g_i - F_i == g_0 exactly it is
    # silent (caught surely, the agent is indifferent)
    arrays = ProblemArrays.for_design(parse_spec_text(case.text))
    assert caught_still_pays(arrays) is not None
    gains, caps = np.array([1.0, 3.5]), arrays.penalty_cap.copy()
    caps[1] = 2.5  # 3.5 - 2.5 == 1.0 exactly
    assert caught_still_pays(replace(arrays, gain=gains, penalty_cap=caps)) is None
    caps[1] = 2.25
    assert caught_still_pays(replace(arrays, gain=gains, penalty_cap=caps)) is not None


@pytest.mark.parametrize("seed", range(6))
def test_system_rows_are_the_matrix_scipy_makes_of_them(seed: int) -> None:
    """A system's rows are assembled as csr arrays directly (scipy's constructor from
    coordinates cost half of a system): the same matrix, entry for entry and in the same
    order, as scipy makes of the triplets; repeated coordinates (odd seeds) summed."""
    import scipy.sparse as sp
    from deter.solver.engine.infeasibility import _Triplets

    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    count = int(rng.integers(0, height * width + 1))
    if seed % 2:
        cells = rng.integers(0, height * width, count)  # repeats
    else:
        cells = rng.permutation(height * width)[:count]  # each cell at most once
    rows, cols = cells // width, cells % width
    values = rng.normal(size=count) * (rng.random(count) > 0.2)  # explicit zeros too
    triplets = _Triplets(width)
    cuts = np.sort(rng.integers(0, count + 1, 3))
    for part in np.split(np.arange(count), cuts):  # added in blocks, as build_system does
        triplets.add(0, rows[part], cols[part], values[part])
    made = triplets.matrix(height)
    expected = sp.csr_matrix((values, (rows, cols)), shape=(height, width))
    assert made.shape == expected.shape
    assert made.indptr.tolist() == expected.indptr.tolist()
    assert made.indices.tolist() == expected.indices.tolist()
    assert made.data.tolist() == expected.data.tolist()


def _margin_in_fractions(system: Any, y: np.ndarray, keep: int | None = None) -> Any:
    """The margin as written in Fractions (the reference for ``_exact_margin``'s integers)."""
    from fractions import Fraction

    from deter.solver.engine.infeasibility import NEGLIGIBLE, ROOM

    y = np.where(np.isfinite(y) & (y > 0), y, 0.0)
    top = float(np.max(y, initial=0.0))
    if top <= 0:
        return None
    support = [int(r) for r in np.flatnonzero(y > NEGLIGIBLE * top)]
    if keep is not None and keep not in support and y[keep] > 0:
        support.append(keep)
    weights = {r: Fraction(float(y[r])) for r in support}
    room = Fraction(ROOM)
    combined: dict[int, Fraction] = {}
    size: dict[int, Fraction] = {}
    total = Fraction(0)
    for r in support:
        for part, inexact in ((system.exact, False), (system.rounded, True)):
            start, end = part.indptr[r], part.indptr[r + 1]
            for j, value in zip(part.indices[start:end], part.data[start:end], strict=True):
                term = weights[r] * Fraction(float(value))
                combined[int(j)] = combined.get(int(j), Fraction(0)) + term
                if inexact:
                    size[int(j)] = size.get(int(j), Fraction(0)) + abs(term)
        weighted = weights[r] * Fraction(float(system.bound[r]))
        total += weighted
        if system.bound_rounded[r]:
            total -= room * abs(weighted)
    for j, g in combined.items():
        lo, hi = Fraction(float(system.lower[j])), Fraction(float(system.upper[j]))
        spread = room * size.get(j, Fraction(0))
        total -= max(e * z for e in (g - spread, g + spread) for z in (lo, hi))
    return total, weights, top


@pytest.mark.parametrize("seed", range(4))
def test_exact_margin_in_integers_equals_fractions(seed: int) -> None:
    """The margin of a certificate is summed in Python integers (every number a binary64
    float: an integer in units of the finest 2^-S among them): the same exact value as in
    Fractions, for systems of the generated specs with multipliers of every magnitude
    (1e-300 to 1e300, zeros and negligible ones), with and without a row kept."""
    from deter.solver.engine.infeasibility import _exact_margin

    rng = np.random.default_rng(seed)
    checked = 0
    from tests.support.magnitudes import FAMILIES

    for family in FAMILIES:
        arrays = arrays_of(generate(family, 300 + seed).text)
        system = build_system(arrays)
        rows = system.exact.shape[0]
        if rows == 0:
            continue
        for _ in range(3):
            y = rng.random(rows) * 10.0 ** rng.integers(-300, 300, rows)
            y[rng.random(rows) < 0.3] = 0.0
            keep = int(rng.integers(0, rows)) if rng.random() < 0.5 else None
            assert _exact_margin(system, y, keep) == _margin_in_fractions(system, y, keep)
            checked += 1
    assert checked >= 3 * len(FAMILIES) // 2
