"""``deter schema``: the spec format's JSON Schema (``--policy``: the policy document's)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ...solver.spec.document import json_schema
from ..common import emit
from ..options import OutputOption


def schema(
    output: OutputOption = None,
    policy: Annotated[
        bool, typer.Option("--policy", help="The policy document's schema (deter export).")
    ] = False,
) -> None:
    """Print the JSON Schema of the spec format (for editors that validate TOML)."""
    if policy:
        from ...solver.policy.schema import policy_json_schema

        emit(json.dumps(policy_json_schema(), indent=2) + "\n", output)
        return
    emit(json.dumps(json_schema(), indent=2) + "\n", output)
