"""Where the repository's files are, for tests that read them."""

from __future__ import annotations

from pathlib import Path

#: The repository root (the folder holding pyproject.toml).
ROOT = Path(__file__).resolve().parents[2]
#: The bundled problems.
PROBLEMS = ROOT / "problems"
