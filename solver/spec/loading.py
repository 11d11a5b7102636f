"""Reading a spec: TOML text to a validated :class:`~deter.solver.spec.document.Spec`.

This is the one entry point where input is checked. Every problem found becomes a
:class:`SpecIssue` naming the file, the key path and, where the text has it, the line;
all problems are reported at once, not only the first.
"""

from __future__ import annotations

import copy
import os
import stat
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli
from pydantic import BaseModel, ValidationError

from ..results.errors import SpecError, SpecIssue
from .document import CrossReferenceError, Spec, SpecSource
from .limits import check_counts
from .suggest import did_you_mean
from .toml_lines import locate

#: Spec files larger than this are refused before they are parsed (``--max-size`` raises it).
DEFAULT_MAX_BYTES = 5_000_000


def read_spec_text(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Read a spec file as UTF-8 text, refusing unreadable, binary or oversized files
    (:func:`read_spec_bytes`, then :func:`decode_spec_bytes`)."""
    return decode_spec_bytes(read_spec_bytes(path, max_bytes), str(path))


def read_spec_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """A spec file's bytes, as read (a batch hashes exactly these: issue 25), refusing
    unreadable or oversized files.

    Only a regular file is read. The file is opened first, without blocking (a FIFO with no
    writer would otherwise hang the open), and judged by ``fstat`` on the opened descriptor,
    so what is judged is what is read: a symlink is followed and its target judged; a
    device (``/dev/zero``, whose ``stat`` size is 0), a FIFO, a socket or a folder is
    refused. The read itself is bounded too (at most ``max_bytes + 1`` bytes), so a file
    that grows after the check cannot make it unbounded.
    """
    file = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SpecError.single(file, "no such file") from None
    except IsADirectoryError:
        raise SpecError.single(file, "is a folder, not a spec file") from None
    except OSError as exc:
        raise SpecError.single(file, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SpecError.single(file, "is a folder, not a spec file")
        if not stat.S_ISREG(info.st_mode):
            raise SpecError.single(file, f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise SpecError.single(
                file,
                f"the file is {info.st_size:,} bytes, over the limit of {max_bytes:,} "
                "(see --max-size)",
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        data = read_bounded(fd, max_bytes)
    except OSError as exc:
        raise SpecError.single(file, f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if data is None:
        raise SpecError.single(
            file, f"the file is over the limit of {max_bytes:,} bytes (see --max-size)"
        )
    return data


def read_bounded(fd: int, max_bytes: int) -> bytes | None:
    """At most ``max_bytes`` bytes from ``fd``, or None when there are more."""
    chunks: list[bytes] = []
    left = max_bytes + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    return None if len(data) > max_bytes else data


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


#: The UTF-8 byte-order mark some editors (Notepad) write at the start of a file; TOML
#: does not allow it, so it is removed before parsing.
BOM = "\ufeff"


def decode_spec_bytes(data: bytes, file: str) -> str:
    """UTF-8 bytes to text, without a leading byte-order mark."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError.single(file, "the file is not UTF-8 text", line=line) from None
    return text.removeprefix(BOM)


def parse_spec_text(text: str, file: str = "<spec>", name: str | None = None) -> Spec:
    """Parse and validate TOML text. ``name`` is the default ``problem.name`` (a file's stem)."""
    text = text.removeprefix(BOM)
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise SpecError(
            [
                SpecIssue(
                    file=file,
                    key="",
                    message=f"TOML syntax error: {exc.msg}",
                    line=exc.lineno,
                    column=exc.colno,
                )
            ]
        ) from None
    except RecursionError:
        raise SpecError.single(file, "the TOML is nested too deeply") from None
    return validate_spec_data(data, text=text, file=file, name=name)


def validate_spec_data(
    data: Mapping[str, Any], text: str = "", file: str = "<spec>", name: str | None = None
) -> Spec:
    """Validate parsed TOML data, locating each problem in ``text`` when it is given.

    The spec returned remembers ``file`` and ``text`` (:attr:`Spec.source`), for messages that
    name a line after validation (``deter check``).
    """
    check_counts(data, file)  # limits.py: before the model, arrays or program cost memory
    data = dict(data)
    problem = data.get("problem")
    if name is not None:
        name = printable_name(name)
    if name is not None and isinstance(problem, dict) and "name" not in problem:
        data["problem"] = {**problem, "name": name}
    elif name is not None and problem is None:
        data["problem"] = {"name": name}
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        issues = _issues(exc, data, text, file)
        raise SpecError(issues + _cross_issues(exc, data, text, file)) from None
    except RecursionError:
        raise SpecError.single(file, "the spec is nested too deeply") from None
    # The spec was made here and nobody else holds it: remember its source in place
    # (``with_source`` would copy the whole model).
    spec._source = SpecSource(file=file, text=text)
    return spec


def printable_name(name: str) -> str:
    """A default problem name made from a file name, as text: bytes of a file name that are
    not UTF-8 (``os.fsdecode`` makes them lone surrogates, which no output can encode) are
    shown as ``\\xff``-style escapes, as the outputs show such a path (issue 25)."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate not made of a byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _cross_issues(
    exc: ValidationError, data: Mapping[str, Any], text: str, file: str
) -> list[SpecIssue]:
    """The cross-field problems (an unknown action, a duplicate name, ...) of a spec that
    also has problems in its fields, so that one run reports every mistake it can.

    pydantic checks across fields only once every field is valid. So each key with a
    problem is taken out of a copy of the data, and the copy is validated again: if every
    field is then valid (the keys taken out had defaults or were unknown), its cross-field
    problems are reported too, except those about the keys taken out. If not (a required
    key had the problem), there is nothing more to say until the fields are fixed.
    """
    locs = [tuple(e["loc"]) for e in exc.errors(include_url=False)]
    if not locs or any(not loc for loc in locs):
        return []  # a problem with the whole spec (the cross-field stage itself, or no table)
    pruned = copy.deepcopy(dict(data))
    removed: list[tuple[str | int, ...]] = []
    for loc in locs:
        cut = _remove(pruned, loc)
        if cut is None:
            return []
        removed.append(cut)
    try:
        Spec.model_validate(pruned)
    except ValidationError as again:
        errors = again.errors(include_url=False)
        crosses = [(e.get("ctx") or {}).get("error") for e in errors]
        if not all(isinstance(c, CrossReferenceError) for c in crosses):
            return []
        return [
            _issue(file, text, data, loc, message)
            for cross in crosses
            if isinstance(cross, CrossReferenceError)
            for loc, message in cross.problems
            if not any(loc[: len(cut)] == cut for cut in removed)
        ]
    except RecursionError:
        return []
    return []


def _remove(data: dict[str, Any], loc: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """Take the key that ``loc`` points into out of ``data`` (the deepest table key on the
    way); the path taken out, or None when there is none."""
    node: Any = data
    deepest: tuple[Any, str, int] | None = None
    for depth, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            deepest = (node, part, depth)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
    if deepest is None:
        return None
    table, key, depth = deepest
    del table[key]
    return loc[: depth + 1]


def load_path(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Spec:
    """Read and validate the spec file at ``path``; its stem is the default problem name.

    ``path`` is always a path, whatever it looks like (``runs/a=1.toml`` included).
    """
    path = Path(path)
    return parse_spec_text(read_spec_text(path, max_bytes), file=str(path), name=path.stem)


def load_text(
    text: str,
    *,
    name: str | None = None,
    file: str = "<text>",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Spec:
    """Validate TOML ``text`` (never read as a path). ``file`` names it in error messages;
    ``name`` is the problem name when the text has no ``problem.name``."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise SpecError.single(file, f"the spec text is over the limit of {max_bytes:,} bytes")
    return parse_spec_text(text, file=file, name=name)


def load_spec(source: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Spec:
    """Compatibility loader; new code calls :func:`load_path` or :func:`load_text`.

    The rule is explicit, not a guess from the content: a path object, or a string without
    a line break, is a file path (``"runs/a=1.toml"`` too); a string with a line break is
    TOML text. A one-line TOML text is therefore read as a path: use :func:`load_text`.
    """
    if isinstance(source, str) and "\n" in source:
        return load_text(source, max_bytes=max_bytes)
    return load_path(source, max_bytes=max_bytes)


# --- turning pydantic's errors into SpecIssues -------------------------------------------


def _issues(exc: ValidationError, data: Mapping[str, Any], text: str, file: str) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    for error in exc.errors(include_url=False):
        cross = (error.get("ctx") or {}).get("error")
        if isinstance(cross, CrossReferenceError):
            for loc, message in cross.problems:
                issues.append(_issue(file, text, data, loc, message))
            continue
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and _has_invalid_items(exc, loc):
            continue  # pydantic counts only the valid items; the invalid ones are reported
        issues.append(_issue(file, text, data, loc, _message(error, loc)))
    return issues


def _has_invalid_items(exc: ValidationError, loc: tuple[str | int, ...]) -> bool:
    depth = len(loc)
    return any(
        len(e["loc"]) > depth and tuple(e["loc"][:depth]) == loc
        for e in exc.errors(include_url=False)
    )


def _issue(
    file: str, text: str, data: Mapping[str, Any], loc: tuple[str | int, ...], message: str
) -> SpecIssue:
    position = locate(text, loc) if text else None
    return SpecIssue(
        file=file,
        key=key_path(loc, data),
        message=message,
        line=position[0] if position else None,
        column=position[1] if position else None,
    )


def key_path(loc: tuple[str | int, ...], data: Mapping[str, Any]) -> str:
    """A readable dotted path: list entries are named by their ``name`` key when they have one.

    ``("actions", 1, "gain")`` becomes ``actions.reward_hack.gain``; an entry without a
    usable name keeps its index, ``actions[1].gain``.
    """
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            entry = node[part] if isinstance(node, list) and part < len(node) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name:
                parts.append(name)
            else:
                if parts:
                    parts[-1] += f"[{part}]"
                else:
                    parts.append(f"[{part}]")
            node = entry
        else:
            parts.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts)


def model_at(loc: tuple[str | int, ...], root: type[BaseModel] = Spec) -> type[BaseModel] | None:
    """The model class that holds the last key of ``loc`` in a ``root`` (a spec, or a policy
    document's model), for 'did you mean' suggestions."""
    model = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        inner = model_in(field.annotation)
        if inner is None:
            return None
        model = inner
    return model


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The spec table class inside a field's annotation (``Agent``, ``tuple[Action, ...]``,
    ``Auditor | None``), or None when the field holds plain values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: Any, loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = model_at(loc)
        hint = did_you_mean(key, model.model_fields) if model else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}" if loc else "missing required key"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "finite_number":
        return f"must be a finite number, not {value!r}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, not {_describe(value)}"
    if kind == "string_pattern_mismatch":
        return (
            f"{value!r} is not a valid name: use letters, digits, '_' and '-', "
            "not starting with a digit"
        )
    if kind == "too_short" and loc == ("actions",):
        return "a spec needs at least one action: the compliant one"
    if kind in ("model_type", "dict_type"):
        return f"must be a table, not {_describe(value)}"
    message = str(error["msg"])
    message = message[0].lower() + message[1:]
    if kind.startswith(("greater", "less")):
        return f"{message.replace('input should be', 'must be')}, not {value!r}"
    return f"{message} (got {_describe(value)})"


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", str: "a string", list: "an array", dict: "a table"}.get(type(value))
    if kind is None:
        return repr(value)
    shown = repr(value)
    return f"{kind} {shown}" if len(shown) <= 40 else kind
