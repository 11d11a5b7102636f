"""The policy document's one definition: a pydantic model, from which come both its JSON
Schema (``deter schema --policy``) and the check of every key's shape.

The model says what a JSON Schema can say: each key, whether it is required, its type and
bounds, and that no other key is allowed. The checks between keys that a JSON Schema
cannot say (a rate for every monitor and none for another, a penalty for every
non-compliant action, no duplicate names) are in ``document.py``'s
:func:`~deter.solver.policy.document.validate_policy`, which runs both.
``tests/policy/test_schema_agreement.py`` checks that the schema printed and the check run
cannot disagree.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError

from ..results.errors import SpecIssue
from ..spec.document import did_you_mean
from ..spec.loading import model_at
from .json_lines import locate, value_lines

POLICY_FORMAT = "deter-policy"
POLICY_VERSION = 1

Name = Annotated[str, Field(min_length=1)]
Number = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
#: The default of an optional key that has none: the key may be left out, never null
#: (the JSON Schema shows no default for it).
ABSENT: Any = None


class _Table(BaseModel):
    # strict: a JSON document's types are taken as written ("0.5" is not a number, true
    # is not 1), as a JSON Schema validator takes them.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SpecReference(_Table):
    """Where the policy came from."""

    name: Name
    file: str = Field(default=ABSENT, description="the spec file")
    sha256: str = Field(description="SHA-256 of the spec as canonical JSON")
    currency: str = Field(default=ABSENT, description="the spec's currency")


class ActionEntry(_Table):
    """An action and its gain, as the solver took it."""

    name: Name
    gain: Number


class MonitorEntry(_Table):
    """A monitor: its cost per episode inspected, its rate bounds and false-flag rate."""

    name: Name
    cost: NonNegative
    min_rate: Probability = Field(default=ABSENT, description="the least rate allowed")
    max_rate: Probability = Field(default=ABSENT, description="the largest rate allowed")
    false_positive: Probability = Field(description="P(flag) on compliant work")


class Designed(_Table):
    """The figures the policy was designed to achieve."""

    source: Literal["solver", "derived"] = Field(
        default=ABSENT, description="'solver', or 'derived' for a document changed with with_rates"
    )
    status: str = Field(default=ABSENT, description="the solver's status")
    cost_per_episode: NonNegative
    total_cost: Number | None = Field(default=ABSENT, description="the solve's total cost")
    detection: dict[str, Probability] = Field(description="each action's P(caught)")
    false_flag_rate: Probability = Field(description="P(compliant work is flagged)")
    induced_action: str | None = Field(default=ABSENT, description="the agent's best response")
    deterred: bool = Field(default=ABSENT, description="every non-compliant action deterred")


def _one_threshold_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One located error for a threshold of neither kind, not one per kind."""
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError(
            "threshold",
            "a threshold is a number, 'inf' or '-inf', not {value}",
            {"value": repr(value)},
        ) from None


#: A score threshold: a number, or "inf" / "-inf" (JSON has no infinities).
Threshold = Annotated[Number | Literal["inf", "-inf"], WrapValidator(_one_threshold_error)]
#: One point of an ROC curve: [false-positive rate, true-positive rate].
RocPoint = Annotated[list[Probability], Field(min_length=2, max_length=2)]


class RocRule(_Table):
    """The score thresholds that realise an ROC monitor's rate: flag a score at least
    ``high_threshold`` with probability ``high_weight``, else at least ``low_threshold``."""

    high_threshold: Threshold
    low_threshold: Threshold
    high_weight: Probability
    high_rate: Probability
    low_rate: Probability


class RocMonitor(_Table):
    """An ROC monitor: the spec's curve points and each action's detection at its rate."""

    points: dict[str, list[RocPoint]] = Field(description="each action's [fpr, tpr] points")
    detection: dict[str, Probability] = Field(description="each action's P(caught) at the rate")
    rule: RocRule = Field(default=ABSENT, description="with deter export --calibration")


class PolicyDocument(_Table):
    """A designed oversight policy, self-contained: what deter.runtime.Auditor runs."""

    model_config = ConfigDict(title=f"deter policy document (version {POLICY_VERSION})")

    format: Literal["deter-policy"] = Field(description="the document's kind, 'deter-policy'")
    version: Literal[1] = Field(description="the policy format version")
    label: str = Field(default=ABSENT, description="a name for this policy")
    spec: SpecReference = Field(description="where the policy came from")
    compliant: Name = Field(description="the compliant action")
    schedule: Literal["coordinated", "independent"] = Field(
        description="how audits are drawn: 'coordinated' or 'independent'"
    )
    risk_aversion: Number = Field(default=0.0, description="the agent's CARA coefficient")
    actions: list[ActionEntry] = Field(min_length=1, description="the actions, with their gains")
    monitors: list[MonitorEntry] = Field(description="the monitors")
    rates: dict[str, Probability] = Field(description="each monitor's rate")
    detection: dict[str, dict[str, Probability]] = Field(
        description="P(caught | action, monitor runs), per monitor and non-compliant action"
    )
    penalties: dict[str, NonNegative] = Field(description="each non-compliant action's penalty")
    false_positive_penalty: NonNegative = Field(
        description="what a falsely flagged compliant agent pays"
    )
    penalty_design: Literal["fixed", "per_action", "shared"] = Field(
        default="fixed", description="how the penalties were set"
    )
    designed: Designed = Field(description="the figures the policy was designed to achieve")
    notes: list[str] = Field(default=[], description="caveats")
    roc: dict[str, RocMonitor] = Field(
        default=ABSENT,
        description="ROC monitors: designed detection and the thresholds that realise each rate",
    )


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema without what would mislead a reader: a property's title (its
    name again) and ``"default": null`` on an optional key that may not be null."""

    def generate(self, schema: Any, mode: Any = "validation") -> Any:
        return _tidy(super().generate(schema, mode=mode))


def _tidy(node: Any) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "default" and value is None:
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {
                    name: _tidy({k: v for k, v in prop.items() if k != "title"})
                    for name, prop in value.items()
                }
            else:
                out[key] = _tidy(value)
        return out
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of policy documents, version 1, made from
    :class:`PolicyDocument`."""
    return copy.deepcopy(_schema())


@cache
def _schema() -> dict[str, Any]:
    schema = PolicyDocument.model_json_schema(schema_generator=_Generator)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# --- a document's shape, checked --------------------------------------------------------------


def shape_issues(doc: Any, file: str, text: str = "") -> list[SpecIssue]:
    """Every key of ``doc`` whose shape :class:`PolicyDocument` refuses (a missing key, an
    unknown one, a wrong type, a number out of bounds), each named by its key path and,
    when the document's ``text`` is given, its line."""
    try:
        PolicyDocument.model_validate(doc)
    except ValidationError as exc:
        lines = value_lines(text) if text else {}
        issues = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            line = locate(lines, loc)
            issues.append(
                SpecIssue(
                    file,
                    key_path(loc),
                    _message(error, loc),
                    line=line[0] if line else None,
                    column=line[1] if line else None,
                )
            )
        return issues
    return []


def key_path(loc: tuple[str | int, ...]) -> str:
    """``("actions", 0, "gain")`` as ``actions[0].gain``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


#: pydantic's error types that need no more than a fixed message ...
_FIXED = {
    "missing": "is missing",
    "string_too_short": "must be a non-empty string",
    "too_short": "must not be empty",
}
#: ... and those of a value of the wrong type: what it must be.
_TYPES = {
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "list_type": "a list",
}


def _message(error: Any, loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind in _FIXED:
        return _FIXED[kind]
    if kind in _TYPES:
        return f"must be {_TYPES[kind]}, not {kind_of(value)}"
    if kind == "extra_forbidden":
        model = model_at(loc, PolicyDocument)
        hint = did_you_mean(str(loc[-1]), list(model.model_fields)) if model else ""
        return f"unknown key {loc[-1]!r}" + hint
    if kind == "finite_number":
        return f"must be a finite number, not {value}"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(loc)
        bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        return f"must be {bounds}, not {value:g}"
    if kind == "threshold":  # ours, with its own message
        return str(error["msg"])
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "?")
        return f"must be one of {expected}, not {value!r}"
    message = str(error["msg"])
    return f"{message[0].lower()}{message[1:]} (got {kind_of(value)})"


def _bounds(loc: tuple[str | int, ...]) -> tuple[float, float | None]:
    """The bounds the schema gives the number at ``loc``."""
    node = schema_at(loc)
    return float(node.get("minimum", 0.0)), node.get("maximum")


def schema_at(loc: tuple[str | int, ...]) -> dict[str, Any]:
    """The schema of the value at ``loc`` in a document ({} when the schema has none)."""
    schema = _schema()
    node: Any = schema
    for part in loc:
        node = _resolved(schema, node)
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, node.get("additionalProperties", {}))
    node = _resolved(schema, node)
    return node if isinstance(node, dict) else {}


def _resolved(schema: dict[str, Any], node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return schema["$defs"][ref.removeprefix("#/$defs/")]
    return node


def kind_of(value: Any) -> str:
    """A JSON value's kind, for messages: ``a string``, ``null``, ``an object``."""
    if value is None:
        return "null"
    kinds = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}
    kinds |= {int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)
