"""Applying a design to samples: flag probabilities, detection, deterrence, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from deter.solver.control.evaluate import (
    empirical_exceed,
    flag_probability,
    measure,
    required_detection,
)
from deter.solver.control.roc import fit_curve
from deter.solver.spec.loading import parse_spec_text

HONEST = np.array([0.0, 1.0, 2.0, 3.0])
CHEAT = np.array([2.0, 3.0, 3.0, 4.0])


def test_flag_probability_mixes_the_two_thresholds() -> None:
    curve = fit_curve("m", HONEST, {"cheat": CHEAT})  # thresholds 4, 3, 2, -inf
    # rate 0.125: threshold 4 half the time, 3 the other half
    assert flag_probability(curve, 0.125, np.array([4.0, 3.0, 2.0])).tolist() == [1.0, 0.5, 0.0]
    assert flag_probability(curve, 1.0, np.array([-5.0])).tolist() == [1.0]


def test_measure_on_the_fitting_samples_reproduces_the_design() -> None:
    curve = fit_curve("m", HONEST, {"cheat": CHEAT})
    exceed = empirical_exceed({"m": {"honest": HONEST, "cheat": CHEAT}})
    outcome = measure({"m": curve}, {"m": 0.125}, {"cheat": 0.5}, exceed, "honest")
    assert outcome.flag_rate == {"m": 0.125}
    assert outcome.detection == {"cheat": 0.5}
    assert outcome.all_deterred
    short = measure({"m": curve}, {"m": 0.1}, {"cheat": 0.5}, exceed, "honest")
    assert short.detection["cheat"] == pytest.approx(0.45) and not short.all_deterred


def test_required_detection_is_gain_over_cap() -> None:
    spec = parse_spec_text(
        """
        [agent]
        penalty_cap = 4.0
        margin = 0.5
        [[actions]]
        name = "ok"
        gain = 1.0
        [[actions]]
        name = "cheat"
        gain = 3.0
        [[actions]]
        name = "idle"
        gain = 0.0
        """,
        file="x.toml",
    )
    assert required_detection(spec) == {"cheat": (3.0 - 1.0 + 0.5) / 4.0, "idle": 0.0}


def test_two_monitors_add_in_the_model_and_combine_as_a_union_in_truth() -> None:
    curve = fit_curve("m", HONEST, {"cheat": CHEAT})
    curves = {"a": curve, "b": curve}
    exceed = empirical_exceed({m: {"honest": HONEST, "cheat": CHEAT} for m in ("a", "b")})
    rates = {"a": 0.125, "b": 0.125}  # each catches half the cheats
    added = measure(curves, rates, {"cheat": 0.9}, exceed, "honest")
    union = measure(curves, rates, {"cheat": 0.9}, exceed, "honest", combine="independent")
    assert added.detection["cheat"] == 1.0 and added.all_deterred
    assert union.detection["cheat"] == 0.75 and not union.all_deterred
    with pytest.raises(ValueError, match="combine"):
        measure(curves, rates, {"cheat": 0.9}, exceed, "honest", combine="max")
