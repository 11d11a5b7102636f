"""Which spec files a batch's arguments name: files, folders (searched recursively) and
globs, in a stable order. Light on imports (no solver, no numpy): the command line counts a
batch's files with it before the rest of the tool has loaded (``cli/entry.py``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path


def discover(patterns: Iterable[str]) -> tuple[list[str], list[str]]:
    """Spec files named by files, folders (searched recursively for ``*.toml``) and globs.

    Returns ``(files, unmatched)``: files in a stable order without duplicates, and the
    arguments that named nothing.
    """
    files: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found = _toml_under(path)
        elif path.exists():
            found = [str(path)]
        elif glob.has_magic(pattern):
            found = _globbed(pattern)
        else:
            found = []
        if not found:
            unmatched.append(pattern)
        files += found
    seen: set[str] = set()
    unique = []
    for file in files:
        key = os.path.normpath(file)
        if key not in seen:
            seen.add(key)
            unique.append(file)
    return unique, unmatched


def _globbed(pattern: str) -> list[str]:
    """The files a glob names (folders it matches searched as folders are), and every folder
    the glob had to look into but could not list: ``glob`` skips those silently, so a
    ``chmod 000`` folder under ``specs/*/*.toml`` would pass a gate unchecked (issue 25)."""
    found: list[str] = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        found += _toml_under(Path(match)) if Path(match).is_dir() else [match]
    # The folders the glob lists: those its leading parts name (each part but the last).
    parts = Path(pattern).parts
    for k in range(1, len(parts)):
        prefix = os.path.join(*parts[:k])
        folders = glob.glob(prefix, recursive=True) if glob.has_magic(prefix) else [prefix]
        found += (f for f in folders if os.path.isdir(f) and not _listable(f))
    return found


def _listable(folder: str) -> bool:
    try:
        with os.scandir(folder):
            return True
    except OSError:
        return False


def _toml_under(folder: Path) -> list[str]:
    """The ``*.toml`` files under ``folder``, sorted, named as ``folder.rglob`` names them,
    and every path there that could not be looked into (issue 25: never skipped silently).

    A folder that cannot be listed (``chmod 000``, as another user) is itself an entry: the
    worker reports it ("permission denied"), so a gate fails rather than pass unchecked
    specs. So is a ``*.toml`` name that is not a regular file (a symlink loop, a dangling
    link, a FIFO): its read says why. ``folder`` itself unreadable gives ``[folder]``.

    ``os.walk`` rather than ``rglob``: it holds one folder's names at a time as strings,
    where ``rglob`` held a ``DirEntry`` per file (100,000 files: about 70 MB at the batch's
    peak, more than everything the run keeps after)."""
    found: list[str] = []
    unreadable: list[str] = []

    def refused(error: OSError) -> None:
        if error.filename is not None:
            unreadable.append(os.fsdecode(error.filename))

    for where, _, names in os.walk(folder, onerror=refused):
        base = Path(where)
        for name in names:
            if name.endswith(".toml") and not os.path.isdir(os.path.join(where, name)):
                found.append(str(base / name))
    found += (str(Path(u)) for u in unreadable)
    found.sort()
    return found
