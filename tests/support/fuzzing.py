"""Input generators and the outcome property shared by tests/test_fuzz.py,
scripts/fuzz_long.py and bench/reliability.py.

Property (issue 7): whatever the input, ``deter solve`` ends with exit code 0, 1, 2 or 3,
writes a reason on stderr when it does not succeed, and never shows a traceback or an
"internal error" (deter's own bug turned into exit 3); it never hangs.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.support.paths import ROOT

PROBLEMS = ROOT / "problems"
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"

SEEDS = sorted(PROBLEMS.glob("*.toml"))
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in SEEDS]

KEYS = [
    "version",
    "problem",
    "agent",
    "oversight",
    "actions",
    "monitors",
    "name",
    "gain",
    "penalty_cap",
    "audit_cost",
    "audit_detection",
    "cost",
    "min_rate",
    "max_rate",
    "detects",
    "false_positive",
    "compliant",
    "risk_aversion",
    "margin",
    "budget",
    "false_positive_penalty",
    "description",
    "currency",
    "include",
    "${HOME}",
    "x",
]
NUMBERS = [
    "0",
    "-0.0",
    "1",
    "-1",
    "1e308",
    "-1e308",
    "1e-320",
    "5e-324",
    "nan",
    "inf",
    "-inf",
    "+inf",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999",
    "0.5",
    "1.0000000001",
    "1e9",
    "1e-9",
    "true",
    '"1"',
    "[]",
    "{}",
    "0x10",
    "1_000",
]


def outcome_problems(exit_code: int, stderr: str, exception: BaseException | None) -> list[str]:
    """What is wrong with one run's outcome ([] when the property holds)."""
    problems = []
    if exit_code not in (0, 1, 2, 3):
        problems.append(f"exit code {exit_code}")
    if exception is not None and not isinstance(exception, SystemExit):
        problems.append(f"exception escaped: {type(exception).__name__}: {exception}")
    if "Warning:" in stderr:
        problems.append("a Python warning on stderr: " + stderr.strip().splitlines()[0][:200])
    if "Traceback" in stderr:
        problems.append("traceback on stderr")
    if "internal error" in stderr:
        problems.append("internal error: " + stderr.strip().splitlines()[-1][:300])
    if exit_code in (2, 3) and not stderr.strip():
        problems.append("no reason on stderr")
    return problems


# --- generators ---------------------------------------------------------------------------

_bare_key = st.sampled_from(KEYS)
_scalar = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from([0.0, 1.0, 0.5, 1e-9, 1e9, -1.0, 2.0]),
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + "}"
    raise TypeError(value)


_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_bare_key, inner, max_size=4)
    ),
    max_leaves=12,
)
_action = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "c", "honest", "${HOME}", "1x"]), "gain": _scalar},
    optional={
        "penalty_cap": _scalar,
        "audit_cost": _scalar,
        "audit_detection": _scalar,
        "x": _value,
    },
)
_monitor = st.fixed_dictionaries(
    {"name": st.sampled_from(["m", "n", "audit:a"]), "cost": _scalar},
    optional={
        "detects": st.dictionaries(st.sampled_from(["a", "b", "c", "zz"]), _scalar, max_size=3),
        "min_rate": _scalar,
        "max_rate": _scalar,
        "false_positive": _scalar,
    },
)


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    """Random TOML documents shaped loosely like specs (and often not)."""
    lines = []
    for key, value in draw(st.dictionaries(_bare_key, _value, max_size=3)).items():
        lines.append(f'"{key}" = {toml_value(value)}')
    for table in draw(
        st.lists(st.sampled_from(["agent", "problem", "oversight"]), max_size=2, unique=True)
    ):
        lines.append(f"[{table}]")
        for key, value in draw(st.dictionaries(_bare_key, _scalar, max_size=3)).items():
            lines.append(f'"{key}" = {toml_value(value)}')
    for action in draw(st.lists(_action, max_size=4)):
        lines.append("[[actions]]")
        lines += [f'"{k}" = {toml_value(v)}' for k, v in action.items()]
    for monitor in draw(st.lists(_monitor, max_size=3)):
        lines.append("[[monitors]]")
        lines += [f'"{k}" = {toml_value(v)}' for k, v in monitor.items()]
    return "\n".join(lines) + "\n"


def random_input(rng: random.Random) -> bytes:
    """One fuzz input for the long runs: a mutated problems/ spec (half the time), a random
    TOML document, or random bytes."""
    kind = rng.randrange(4)
    if kind <= 1:
        return mutate(rng.choice(SEED_TEXTS), rng, rounds=rng.randrange(1, 8)).encode()
    if kind == 2:
        return toml_documents().example().encode("utf-8", "surrogatepass")
    return st.binary(max_size=400).example()


def mutate(text: str, rng: random.Random, rounds: int = 3) -> str:
    """A problems/ spec with a few random edits: numbers, keys, lines and bytes."""
    lines = text.splitlines()
    for _ in range(rounds):
        if not lines:
            break
        k = rng.randrange(len(lines))
        kind = rng.randrange(7)
        if kind == 0 and "=" in lines[k]:  # a strange number or value
            key = lines[k].split("=", 1)[0]
            lines[k] = f"{key}= {rng.choice(NUMBERS)}"
        elif kind == 1:
            del lines[k]
        elif kind == 2:
            lines.insert(k, lines[rng.randrange(len(lines))])
        elif kind == 3 and "=" in lines[k]:  # a key renamed
            value = lines[k].split("=", 1)[1]
            lines[k] = f"{rng.choice(KEYS)} ={value}"
        elif kind == 4:  # a byte flipped
            line = lines[k]
            if line:
                i = rng.randrange(len(line))
                lines[k] = line[:i] + chr(rng.randrange(32, 127)) + line[i + 1 :]
        elif kind == 5:
            lines.insert(
                k,
                rng.choice(
                    [
                        "[[actions]]",
                        "[[monitors]]",
                        "[agent]",
                        "[oversight]",
                        "[problem]",
                        "[[agent]]",
                        "[actions]",
                    ]
                ),
            )
        else:
            lines[k] = lines[k][: rng.randrange(len(lines[k]) + 1)]
    return "\n".join(lines) + "\n"


@st.composite
def mutated_problems(draw: st.DrawFn) -> str:
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    text = draw(st.sampled_from(SEED_TEXTS))
    return mutate(text, random.Random(seed), rounds=draw(st.integers(1, 6)))
