"""Small generated spec files for the batch, check and Dask tests."""

from __future__ import annotations

import random
from pathlib import Path


def one_action_spec(
    gain: float, cap: float, detection: float, cost: float = 1.0, extra: str = ""
) -> str:
    """One deviation, one monitor: the optimal rate is gain / (detection * cap) (Becker)."""
    return f"""
[agent]
penalty_cap = {cap}

[[actions]]
name = "comply"
gain = 0.0

[[actions]]
name = "cheat"
gain = {gain}

[[monitors]]
name = "inspector"
cost = {cost}
detects = {{ cheat = {detection} }}
{extra}"""


def two_action_spec(scale: float) -> str:
    """Another shape (two deviations, two monitors)."""
    return f"""
[agent]
penalty_cap = 10.0

[[actions]]
name = "comply"
gain = 0.0

[[actions]]
name = "shirk"
gain = {1.0 * scale}

[[actions]]
name = "steal"
gain = {2.0 * scale}

[[monitors]]
name = "audit"
cost = 2.0
detects = {{ shirk = 0.5, steal = 0.9 }}

[[monitors]]
name = "camera"
cost = 0.5
detects = {{ steal = 0.4 }}
"""


BAD_KEY_SPEC = """[[actions]]
name = "comply"
gain = 0.0

[[actions]]
name = "cheat"
gain = 3.0
penalty_kap = 5.0
"""
BAD_KEY_LINE = 8  # the line of 'penalty_kap'

UNDETERRABLE_SPEC = """[agent]
penalty_cap = 5.0

[[actions]]
name = "comply"
gain = 0.0

[[actions]]
name = "hidden"
gain = 1.0

[[monitors]]
name = "inspector"
cost = 1.0
"""
UNDETERRABLE_LINE = 8  # the [[actions]] header of 'hidden'


def write_folder(folder: Path, n_good: int = 6) -> dict[str, Path]:
    """A folder with good specs of two shapes, one bad file and one infeasible file."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for k in range(n_good):
        name = f"good_{k:02d}"
        text = one_action_spec(1.0 + k, 20.0, 0.5) if k % 2 == 0 else two_action_spec(1 + k / 4)
        files[name] = folder / f"{name}.toml"
        files[name].write_text(text, encoding="utf-8")
    nested = folder / "nested"
    nested.mkdir(exist_ok=True)
    files["bad"] = nested / "bad_key.toml"
    files["bad"].write_text(BAD_KEY_SPEC, encoding="utf-8")
    files["infeasible"] = folder / "undeterrable.toml"
    files["infeasible"].write_text(UNDETERRABLE_SPEC, encoding="utf-8")
    return files


def random_small_spec(
    rng: random.Random, *, infeasible: bool = False, most_actions: int = 8, most_monitors: int = 5
) -> str:
    """A random small spec of mixed shape (2..most_actions actions, 1..most_monitors monitors;
    some with a budget, a risk-averse agent or false positives), as the batch benchmarks and
    the stacked-solve tests use; ``infeasible``: penalty caps too small to deter anything."""
    n_actions = rng.randint(2, most_actions)
    n_monitors = rng.randint(1, most_monitors)
    cap = rng.uniform(0.001, 0.01) if infeasible else rng.uniform(20, 50)
    lines = ["version = 1", "", "[agent]", f"penalty_cap = {cap:.4f}"]
    if rng.random() < 0.2:
        lines.append(f"risk_aversion = {rng.uniform(0.01, 0.3):.3f}")
    if rng.random() < 0.2:
        lines.append(f"false_positive_penalty = {rng.uniform(0.5, 2):.3f}")
    if rng.random() < 0.3:
        lines += ["", "[oversight]", f"budget = {rng.uniform(50, 100):.3f}"]
    names = [f"a{i}" for i in range(n_actions)]
    for i, name in enumerate(names):
        gain = 0.0 if i == 0 else rng.uniform(0.1, 5.0)
        lines += ["", "[[actions]]", f'name = "{name}"', f"gain = {gain:.4f}"]
    for j in range(n_monitors):
        # every deviation is seen well by monitor (i mod n_monitors), so all specs are feasible
        detects = {
            name: (rng.uniform(0.4, 0.9) if i % n_monitors == j else rng.uniform(0.0, 0.3))
            for i, name in enumerate(names)
            if i > 0
        }
        table = ", ".join(f"{k} = {v:.3f}" for k, v in detects.items())
        lines += [
            "",
            "[[monitors]]",
            f'name = "m{j}"',
            f"cost = {rng.uniform(0.1, 3):.3f}",
            f"detects = {{ {table} }}",
        ]
        if rng.random() < 0.3:
            lines.append(f"false_positive = {rng.uniform(0, 0.05):.4f}")
    return "\n".join(lines) + "\n"


def slow_spec_folder(root: Path, n_files: int, padding: int) -> Path:
    """``n_files`` specs in ``root`` (created), each padded with ``padding`` actions that do
    not pay, so that one takes tens of milliseconds: a batch of them is still running when a
    test stops it."""
    root.mkdir()
    actions = "".join(f'\n[[actions]]\nname = "x{k}"\ngain = {-0.01 * k}\n' for k in range(padding))
    for k in range(n_files):
        (root / f"s{k:03d}.toml").write_text(two_action_spec(1.0 + k / 100) + actions)
    return root
