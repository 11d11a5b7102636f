"""Detection as a function of monitor rates, in numpy: what verification and diagnosis use.

This is the model's definition, evaluated directly (the program only holds bounds on it):

- linear (spec format v1):  P_i(x) = min(1, sum_j q_ij x_j + sum_{ROC j} h_ij(x_j)),
                            P_0(x) = sum_j f_j x_j;
- exponential:              P_i(x) = 1 - prod_j (1 - q_ij)^{x_j} = 1 - exp(-sum_j L_ij x_j),
                            P_0(x) = 1 - exp(-sum_j phi_j x_j),  L = -ln(1 - q), phi = -ln(1 - f);

where h_ij is the upper concave envelope of monitor j's ROC points for action i, evaluated as
the best mix of two thresholds (``envelope.randomised_detection``), not through the
program's segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .arrays import ProblemArrays
from .envelope import randomised_detection
from .utility import FloatArray


def log_escape(probability: FloatArray | sp.spmatrix) -> FloatArray | sp.spmatrix:
    """L = -ln(1 - q): the catch intensity of one full inspection (q < 1)."""
    if sp.issparse(probability):
        matrix = sp.csr_matrix(probability, copy=True)
        matrix.data = -np.log1p(-matrix.data)
        return matrix
    return np.asarray(-np.log1p(-np.asarray(probability, dtype=float)))


def detection_probability(arrays: ProblemArrays, rates: FloatArray) -> FloatArray:
    """P_i(x) for every action (the compliant row is 0 here; see :func:`false_flag_rate`)."""
    x = np.asarray(rates, dtype=float)
    if arrays.detection_model == "exponential":
        intensity = np.asarray(log_escape(arrays.detection) @ x, dtype=float)
        return np.asarray(-np.expm1(-intensity))
    reach = np.asarray(arrays.detection @ x, dtype=float)
    for curve in arrays.roc:
        reach[curve.action] += randomised_detection(curve.points, float(x[curve.monitor]))
    return np.minimum(1.0, reach)


def detection_slopes(arrays: ProblemArrays, rates: FloatArray) -> tuple[FloatArray, FloatArray]:
    """What one more unit of each monitor's rate adds to each detection at ``rates``: the
    matrix dP_i/dx_j (every action x monitor) and the vector dP_0/dx_j (false flags).

    Linear: q_ij and f_j (ROC monitors' columns as ``arrays.detection`` holds them).
    Exponential: L_ij (1 - P_i(x)) and phi_j (1 - P_0(x)), the derivative of
    1 - exp(-L_i x): the same unit of rate buys less where detection is already high.
    """
    x = np.asarray(rates, dtype=float)
    if arrays.detection_model == "exponential":
        escape = 1.0 - detection_probability(arrays, x)
        slopes = np.asarray(sp.csr_matrix(log_escape(arrays.detection)).todense()) * escape[:, None]
        flags = np.asarray(log_escape(arrays.false_positive), dtype=float)
        return slopes, flags * (1.0 - false_flag_rate(arrays, x))
    slopes = np.asarray(sp.csr_matrix(arrays.detection).todense(), dtype=float)
    return slopes, np.asarray(arrays.false_positive, dtype=float)


def false_flag_rate(arrays: ProblemArrays, rates: FloatArray) -> float:
    """P_0(x): the chance that a compliant episode is flagged and penalised."""
    x = np.asarray(rates, dtype=float)
    if arrays.detection_model == "exponential":
        intensity = float(log_escape(arrays.false_positive) @ x)
        return float(-np.expm1(-intensity))
    return float(np.clip(arrays.false_positive @ x, 0.0, 1.0))


@dataclass(frozen=True)
class Inspection:
    """The inspection game's detections (an ``[auditor]`` running monitor ``monitor``, every
    other monitor at its floor), per action, the compliant entry being false flags: caught
    in an episode the auditor does not inspect, in one it inspects (its monitor at rate 1),
    and by its own inspection alone. All are the model's P_i(x) and P_0(x) above at those
    policies, whatever the detection model, so the equilibrium (``engine/auditor.py``) and
    the simulation of both sides learning (``simulation/auditor.py``) play one game."""

    floors: FloatArray  # the policy between inspections: floors, the auditor's monitor at 0
    not_inspected: FloatArray
    inspected: FloatArray
    own: FloatArray


def inspection_detection(arrays: ProblemArrays, monitor: int) -> Inspection:
    """:class:`Inspection` of ``arrays`` with the auditor running monitor ``monitor``."""
    floors = np.asarray(arrays.min_rate, dtype=float).copy()
    floors[monitor] = 0.0
    inspecting = floors.copy()
    inspecting[monitor] = 1.0
    alone = np.zeros_like(floors)
    alone[monitor] = 1.0

    def caught(rates: FloatArray) -> FloatArray:
        detection = detection_probability(arrays, rates)
        detection[arrays.compliant] = false_flag_rate(arrays, rates)
        return detection

    return Inspection(floors, caught(floors), caught(inspecting), caught(alone))
