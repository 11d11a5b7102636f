"""``deter schema``: the spec format's JSON Schema."""

from __future__ import annotations

import json

from ...solver.spec.document import json_schema
from ..common import emit
from ..options import OutputOption


def schema(output: OutputOption = None) -> None:
    """Print the JSON Schema of the spec format (for editors that validate TOML)."""
    emit(json.dumps(json_schema(), indent=2) + "\n", output)
