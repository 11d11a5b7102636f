"""A PPO-aware design (issue 23): ``[learner] algorithm = "ppo"`` with ``gae_lambda``.

PPO's generalised advantage estimate weighs a reward k steps after the act by
(gamma lambda)^k (Schulman et al. 2016), and its value function cannot foresee an audit
the agent does not see: a penalty paid d steps later is credited (gamma lambda)^d F when
paid, and kappa = (gamma lambda rho)^d in expectation. Checked against those closed forms,
against the same spec for a sample-mean learner with discount gamma x lambda, and for the
located refusals. The credit against the env's Monte Carlo is tests/rl/test_ppo_credit.py.
"""

from __future__ import annotations

import math

import deter
import pytest
from deter.solver.model.horizon import penalty_discount, present_value_factor
from deter.solver.model.learning import learner_margins
from deter.solver.results.errors import SpecError
from deter.solver.spec.document import json_schema

from tests.model.test_learning import SPEC

ONE_MONITOR = """
[agent]
penalty_cap = 20.0
[[actions]]
name = "honest"
gain = 0.0
[[actions]]
name = "hack"
gain = 3.0
[[monitors]]
name = "audit"
cost = 1.0
detects = { hack = 0.9 }
"""


def horizon(gamma: float, d: int, rho: float) -> str:
    return f"\n[horizon]\ndiscount = {gamma!r}\naudit_delay = {d}\nretention = {rho!r}\n"


def learner(samples: int, extra: str = "", confidence: float = 0.9) -> str:
    return f"\n[learner]\nsamples = {samples}\nconfidence = {confidence!r}\n{extra}"


@pytest.mark.parametrize(("gamma", "lam", "d", "rho"), [(0.95, 0.95, 3, 0.95), (0.9, 0.5, 2, 1.0)])
def test_kappa_is_gamma_lambda_rho_to_the_delay(
    gamma: float, lam: float, d: int, rho: float
) -> None:
    ppo = f'algorithm = "ppo"\ngae_lambda = {lam!r}\n'
    spec = deter.loads(ONE_MONITOR + horizon(gamma, d, rho) + learner(100, ppo)).spec
    assert present_value_factor(spec) == pytest.approx((gamma * lam * rho) ** d, rel=1e-15)
    assert penalty_discount(spec) == pytest.approx((gamma * lam) ** d, rel=1e-15)
    # a sample-mean learner credits gamma^d: lambda is PPO's alone
    plain = deter.loads(ONE_MONITOR + horizon(gamma, d, rho) + learner(100)).spec
    assert present_value_factor(plain) == pytest.approx((gamma * rho) ** d, rel=1e-15)


def test_lambda_defaults_to_stable_baselines3s_and_no_delay_means_no_credit_loss() -> None:
    ppo = 'algorithm = "ppo"\n'
    spec = deter.loads(ONE_MONITOR + horizon(0.95, 3, 0.95) + learner(100, ppo)).spec
    assert spec.learner is not None and spec.learner.credit_lambda == 0.95
    assert present_value_factor(spec) == pytest.approx((0.95**3) ** 3)
    # without a [horizon] (or with audit_delay 0) the penalty comes at once: nothing to lose
    at_once = deter.loads(ONE_MONITOR + learner(100, ppo)).spec
    assert present_value_factor(at_once) == 1.0 == penalty_discount(at_once)
    no_delay = deter.loads(ONE_MONITOR + horizon(0.5, 0, 0.5) + learner(100, ppo)).spec
    assert present_value_factor(no_delay) == 1.0


@pytest.mark.parametrize(("gamma", "lam", "d", "rho"), [(0.95, 0.95, 3, 0.95), (0.99, 0.9, 5, 0.9)])
def test_the_rate_is_the_closed_form_with_ppos_credit_and_hoeffdings_margin(
    gamma: float, lam: float, d: int, rho: float
) -> None:
    n, confidence = 400, 0.9
    ppo = f'algorithm = "ppo"\ngae_lambda = {lam!r}\n'
    result = deter.loads(ONE_MONITOR + horizon(gamma, d, rho) + learner(n, ppo, confidence)).solve()
    assert result.status == "optimal"
    # Hoeffding's margin on the credited range (gamma lambda)^d 20, no false flags or noise
    credited = (gamma * lam) ** d * 20.0
    margin = credited * math.sqrt(math.log(1 / (1 - confidence)) / (2 * n))
    kappa = (gamma * lam * rho) ** d
    # kappa x 0.9 x rate x 20 = 3 + margin
    assert result.monitor("audit").rate == pytest.approx((3.0 + margin) / (kappa * 18.0), rel=1e-6)
    assert result.action("hack").gain == 3.0


@pytest.mark.parametrize("bound", ["hoeffding", "bernstein"])
def test_it_is_the_sample_mean_design_with_discount_gamma_lambda(bound: str) -> None:
    text = SPEC  # honest, hack, tamper; a judge with false flags and a review
    extra = f'bound = "{bound}"\n'
    ppo_keys = 'algorithm = "ppo"\ngae_lambda = 0.9\n'
    ppo = deter.loads(text + horizon(0.95, 2, 0.9) + learner(20000, extra + ppo_keys))
    same = deter.loads(text + horizon(0.95 * 0.9, 2, 0.9) + learner(20000, extra))
    assert learner_margins(ppo.spec) == pytest.approx(learner_margins(same.spec), rel=1e-12)
    a, b = ppo.solve(), same.solve()
    assert a.status == b.status == "optimal"
    assert a.total_cost == pytest.approx(b.total_cost, rel=1e-9)
    for name in ("judge", "review"):
        assert a.monitor(name).rate == pytest.approx(b.monitor(name).rate, abs=1e-9)
    # and PPO's smaller credit costs more than the sample-mean learner's at gamma alone
    full = deter.loads(text + horizon(0.95, 2, 0.9) + learner(20000, extra)).solve()
    assert a.total_cost > full.total_cost


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("gae_lambda = 0.9\n", "learner.gae_lambda", 'needs algorithm = "ppo"'),
        ('algorithm = "ppo"\ngae_lambda = 0\n', "learner.gae_lambda", "greater than 0"),
        ('algorithm = "ppo"\ngae_lambda = 1.5\n', "learner.gae_lambda", "1"),
        ('algorithm = "ppo"\ngae_lambda = "high"\n', "learner.gae_lambda", "number"),
        ('algorithm = "PPO2"\n', "learner.algorithm", "'ppo'"),
        ('algorithm = "ppo"\ngae_lambda = 1e-9\n', "horizon.audit_delay", "gae_lambda"),
    ],
)
def test_a_bad_ppo_learner_is_a_spec_error_naming_its_key(extra: str, key: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        deter.loads(ONE_MONITOR + horizon(0.95, 3, 0.95) + learner(100, extra))
    message = str(caught.value)
    assert key in message and words in message
    assert "<text>:" in message  # located: the line of the key


def test_the_json_schema_describes_the_algorithm_and_lambda() -> None:
    props = json_schema()["$defs"]["Learner"]["properties"]
    assert "ppo" in props["algorithm"]["enum"] and "sample-mean" in props["algorithm"]["enum"]
    assert props["algorithm"]["default"] == "sample-mean"
    lam = next(s for s in props["gae_lambda"]["anyOf"] if s.get("type") == "number")
    assert lam["exclusiveMinimum"] == 0 and lam["maximum"] == 1
