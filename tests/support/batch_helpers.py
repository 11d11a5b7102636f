"""Small generated spec files for the batch, check and Dask tests."""

from __future__ import annotations

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
