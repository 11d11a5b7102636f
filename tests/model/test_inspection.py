"""The inspection game's detections (``model/detection.inspection_detection``) are the
model's P_i and P_0 at the game's policies for every detection model: linear, linear
saturated at 1, exponential and ROC, against closed forms written here."""

from __future__ import annotations

import math

import deter
import pytest
from deter.solver.model.arrays import ProblemArrays
from deter.solver.model.detection import inspection_detection


def arrays_of(text: str) -> ProblemArrays:
    return ProblemArrays.for_design(deter.loads(text).spec)


def two_monitors(detection: str = "", roc: str = "") -> str:
    """``inspector`` (the auditor's monitor) and ``floor`` at its floor of 0.8."""
    model = f'[oversight]\ndetection = "{detection}"\n' if detection else ""
    inspector = roc or "detects = { offend = 0.7 }\nfalse_positive = 0.1"
    return f"""
version = 1
[agent]
penalty_cap = 10.0
{model}
[[actions]]
name = "comply"
gain = 0.0
[[actions]]
name = "offend"
gain = 1.0
[[monitors]]
name = "inspector"
cost = 1.0
{inspector}
[[monitors]]
name = "floor"
cost = 1.0
min_rate = 0.8
detects = {{ offend = 0.8 }}
false_positive = 0.05
"""


def test_linear_saturates_at_one() -> None:
    """b = 0.8 x 0.8 = 0.64 between inspections; with one, 0.64 + 0.7 > 1: caught surely.
    False flags 0.05 x 0.8 = 0.04, and 0.04 + 0.1 with an inspection."""
    found = inspection_detection(arrays_of(two_monitors()), 0)
    assert list(found.floors) == [0.0, 0.8]
    assert found.not_inspected == pytest.approx([0.04, 0.64], rel=1e-12)
    assert found.inspected == pytest.approx([0.14, 1.0], rel=1e-12)
    assert found.own == pytest.approx([0.1, 0.7], rel=1e-12)


def test_exponential_combines_independent_chances() -> None:
    """1 - (1 - q)^x per monitor, independent: 1 - 0.2^0.8 between inspections and
    1 - 0.3 x 0.2^0.8 with one; false flags 1 - 0.95^0.8 and 1 - 0.9 x 0.95^0.8."""
    found = inspection_detection(arrays_of(two_monitors("exponential")), 0)
    assert found.not_inspected == pytest.approx([1 - 0.95**0.8, 1 - 0.2**0.8], rel=1e-12)
    assert found.inspected == pytest.approx([1 - 0.9 * 0.95**0.8, 1 - 0.3 * 0.2**0.8], rel=1e-12)
    assert found.own == pytest.approx([0.1, 0.7], rel=1e-12)


def test_roc_reads_the_curve_at_the_inspection() -> None:
    """An ROC inspector at rate 1 detects at its curve's end, (1, 1): caught surely; alone,
    h(1) = 1; the floor monitor alone between inspections (0.64)."""
    roc = "roc = { offend = [[0.0, 0.0], [0.1, 0.5], [1.0, 1.0]] }"
    found = inspection_detection(arrays_of(two_monitors(roc=roc)), 0)
    assert found.not_inspected[1] == pytest.approx(0.64, rel=1e-12)
    assert found.inspected[1] == 1.0 and found.own[1] == pytest.approx(1.0)
    assert math.isclose(found.not_inspected[0], 0.04, rel_tol=1e-12)
