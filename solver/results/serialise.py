"""The one way deter turns its values into JSON (and back).

Every JSON, JSON-lines, CSV and ledger writer goes through :func:`jsonable` (or
:func:`dumps`, :func:`csv_cell`, :func:`csv_row`), so that they agree on three rules:

- JSON has no NaN or infinity: a non-finite float becomes ``null`` (an empty CSV cell);
- enums become their values (a :class:`~deter.solver.results.status.Status` its string);
- dataclasses become objects with their fields in declaration order, tuples become lists.

:func:`restore` is the inverse for typed data: it rebuilds a dataclass (nested dataclasses,
tuples, optionals, enums) from what :func:`jsonable` made of it, so that a result read back
from a ledger is the same object that was written.
"""

from __future__ import annotations

import functools
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

T = TypeVar("T")


#: Types that are their own JSON (exact types: a subclass, such as a StrEnum, is not).
_PLAIN = frozenset({str, int, bool, type(None)})


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: dicts, lists, str, int, finite float, bool, None."""
    # The exact built-in types first (most of any document), each by one type lookup; the
    # general rules below give the same for them, through slower checks (Mapping's ABC).
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {_key(k): jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):  # before str and int: a StrEnum is a str, an IntEnum an int
        return jsonable(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value  # anything else is json.dumps's to accept or refuse


def _key(key: Any) -> Any:
    return key.value if isinstance(key, Enum) else key


#: Schema version of every JSON document deter writes in the envelope (the library's
#: ``to_dict()``/``to_json()`` and the command line's ``--format json`` alike).
SCHEMA_VERSION = 1


def envelope(kind: str, payload: Any, key: str = "") -> dict[str, Any]:
    """A JSON document in the one envelope: ``schema_version`` and ``kind`` first.

    An object keeps its keys after those two (its own ``schema_version`` and ``kind`` are
    replaced); a list goes under ``key`` (``sweep``'s ``points``, ``validate``'s ``files``).
    The library's results and the command line both make their documents here, so the
    library's JSON is the command's.
    """
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": kind}
    if isinstance(payload, Mapping):
        doc.update((k, v) for k, v in payload.items() if k not in ("schema_version", "kind"))
    else:
        doc[key] = payload
    return doc


def envelope_json(kind: str, payload: Any, key: str = "") -> str:
    """:func:`envelope` as indented JSON text and a newline, as every command prints it."""
    return dumps(envelope(kind, payload, key), indent=2) + "\n"


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """``json.dumps`` of :func:`jsonable` (``value``); never writes NaN or Infinity."""
    return json.dumps(jsonable(value), indent=indent, sort_keys=sort_keys, allow_nan=False)


def csv_cell(value: Any) -> Any:
    """One CSV cell: as in JSON, a non-finite number or None is left empty, a boolean
    is ``true`` or ``false``."""
    plain = jsonable(value)
    if isinstance(plain, bool):  # as in JSON: true/false, in every CSV deter writes
        return "true" if plain else "false"
    return "" if plain is None else plain


def csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``csv.DictWriter`` row with every cell through :func:`csv_cell`."""
    return {key: csv_cell(value) for key, value in row.items()}


# --- back from JSON data ------------------------------------------------------------------


def restore(kind: type[T], data: Any) -> T:
    """Rebuild a value of type ``kind`` (a dataclass, usually) from its :func:`jsonable` data.

    Strict: an unknown key, a missing required field or a value of the wrong type raises
    ``TypeError`` or ``ValueError``. The one lossy case of :func:`jsonable` is a non-finite
    float, written as null: a field typed ``float`` (not optional) that reads null gets NaN.
    """
    return typing.cast(T, _restore(kind, data))


def _restore(kind: Any, data: Any) -> Any:
    if kind is Any:
        return data
    origin = get_origin(kind)
    if origin is Union or origin is types.UnionType:
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _restore(option, data)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise TypeError(f"{data!r} is none of {kind}: {'; '.join(errors)}")
    if origin is Literal:
        if data in get_args(kind):
            return data
        raise ValueError(f"{data!r} is not one of {get_args(kind)}")
    if origin is tuple:
        args = get_args(kind)
        if not isinstance(data, list | tuple):
            raise TypeError(f"expected a list for {kind}, not {data!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_restore(args[0], v) for v in data)
        if len(args) != len(data):
            raise ValueError(f"expected {len(args)} items for {kind}, not {len(data)}")
        return tuple(_restore(a, v) for a, v in zip(args, data, strict=True))
    if origin is list:
        (item,) = get_args(kind)
        if not isinstance(data, list | tuple):
            raise TypeError(f"expected a list for {kind}, not {data!r}")
        return [_restore(item, v) for v in data]
    if origin is dict or origin is Mapping:
        key_type, value_type = get_args(kind)
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object for {kind}, not {data!r}")
        return {_restore(key_type, k): _restore(value_type, v) for k, v in data.items()}
    if not isinstance(kind, type):
        raise TypeError(f"cannot restore a value of type {kind!r}")
    if issubclass(kind, Enum):
        return kind(data)
    if is_dataclass(kind):
        if isinstance(data, kind):
            return data  # already built (a caller that assembles nested parts itself)
        return _restore_dataclass(kind, data)
    if kind is float:
        if data is None:
            return math.nan  # written as null because it was not finite
        if isinstance(data, int | float) and not isinstance(data, bool):
            return data
        raise TypeError(f"expected a number, not {data!r}")
    if kind is int and isinstance(data, bool):
        raise TypeError(f"expected an integer, not {data!r}")
    if isinstance(data, kind):
        return data
    raise TypeError(f"expected {kind.__name__}, not {data!r}")


def _restore_dataclass(kind: type, data: Any) -> Any:
    if not isinstance(data, Mapping):
        raise TypeError(f"expected an object for {kind.__name__}, not {data!r}")
    hints = _hints(kind)
    unknown = set(data) - set(hints)
    if unknown:
        raise ValueError(f"unknown keys for {kind.__name__}: {', '.join(sorted(unknown))}")
    return kind(**{name: _restore(hints[name], value) for name, value in data.items()})


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """The resolved types of a dataclass's ``__init__`` fields."""
    resolved = typing.get_type_hints(kind)
    return {f.name: resolved[f.name] for f in fields(kind) if f.init}


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+\b|\b0x[0-9a-fA-F]{8,}\b")


def no_addresses(text: str) -> str:
    """``text`` without object addresses (``<Foo object at 0x7f...>`` becomes
    ``<Foo object>``), which differ from run to run: a message from a third-party exception
    must not make a document that should be deterministic (``--no-timing``) differ."""
    return _ADDRESS.sub(lambda m: "" if m.group().startswith(" at") else "0x...", text)
