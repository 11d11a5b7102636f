"""Writing output files so that a crash never leaves half of one behind, and never over the
wrong thing.

:func:`write_atomic` is the one way deter writes a file. It writes a temporary file beside
the target, fsyncs it and renames it into place, and before that it refuses:

- a target that exists and is not a regular file: a device (``/dev/null``, a disk), a FIFO,
  a socket or a folder is never replaced by a file;
- a target that is one of the command's inputs (the same device and inode as a spec it
  read, by whatever path): ``-o spec.toml`` never overwrites the spec.

A symlink is written *through*: the file it points to is replaced atomically, and the link
stays a link (the folder of the target holds the temporary file). A dangling symlink
creates its target. Errors name the path the user gave, never the temporary file.

Inputs are known in two ways: passed to :func:`write_atomic` (``inputs=``), or remembered
with :func:`remember_input` inside an :func:`input_scope` (the CLI opens one per command
and remembers every spec it reads, so writes made by the library for that command, such as
a report or a plot, are checked too).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path

Identity = tuple[int, int]

#: (device, inode) of every file read by the command running now (see input_scope). A set
#: added to in place: a new frozenset per input made ``deter validate`` of 200,000 files
#: quadratic (issue 25: 412 s).
_INPUTS: ContextVar[set[Identity] | None] = ContextVar("deter_inputs", default=None)


class UnsafeOutput(OSError):
    """The output path is refused: it is an input, a device, a FIFO, a socket or a folder."""


def identity(path: str | os.PathLike[str]) -> Identity | None:
    """(device, inode) of the file at ``path`` (symlinks followed), or None if there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino)


@contextlib.contextmanager
def input_scope() -> Iterator[None]:
    """A command's lifetime: inputs remembered inside it are forgotten when it ends."""
    token = _INPUTS.set(set())
    try:
        yield
    finally:
        _INPUTS.reset(token)


def remember_input(path: str | os.PathLike[str]) -> None:
    """Remember that the running command read ``path``: no write may replace it."""
    found = identity(path)
    if found is not None:
        inputs = _INPUTS.get()
        if inputs is None:  # outside a scope: this context's own set from now on
            inputs = set()
            _INPUTS.set(inputs)
        inputs.add(found)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "is a socket"
    return "is not a regular file"


def check_output(
    path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """The file a write to ``path`` would replace (symlinks resolved), or :class:`UnsafeOutput`
    when that is not a regular file or is one of the inputs."""
    given = str(path)
    target = Path(os.path.realpath(path))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target  # a new file (or a dangling symlink's target)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, given) from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeOutput(
            errno.EEXIST, f"{_kind(info.st_mode)}, not a regular file; refusing to write it", given
        )
    found = (info.st_dev, info.st_ino)
    protected = set(_INPUTS.get() or ())
    protected.update(i for i in (identity(p) for p in inputs) if i is not None)
    if found in protected:
        raise UnsafeOutput(
            errno.EEXIST, "is an input of this command; refusing to write over it", given
        )
    return target


def _mode_for(path: Path) -> int:
    """The existing file's mode, or 0666 less the umask for a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class AtomicFile(io.TextIOBase):
    """A text file that replaces ``path`` only when committed.

    It is written into a hidden file beside the target (``partial``, a name in the target's
    folder; by default a fresh ``.NAME.PID.XXXX.tmp``, removed by the next write once its
    process is gone), fsynced and renamed over the target by
    :meth:`commit`, removed by :meth:`abort`: a kill at any moment leaves the old file or the
    whole new one. The target is checked as :func:`write_atomic` checks it, before anything
    is written, and every error names ``path``, never the hidden file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        inputs: Iterable[str | os.PathLike[str]] = (),
        partial: str | None = None,
    ) -> None:
        self.given = str(path)
        self.target = check_output(path, inputs)
        try:
            if partial is None:
                _remove_stale_temporaries(self.target)
                fd, name = tempfile.mkstemp(
                    dir=self.target.parent,
                    prefix=f".{self.target.name}.{os.getpid()}.",
                    suffix=".tmp",
                )
                self.partial = Path(name)
            else:
                self.partial = self.target.parent / partial
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
                fd = os.open(self.partial, flags, 0o600)
            self.handle = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as exc:  # name the file the user asked for, not the hidden one
            raise OSError(exc.errno, exc.strerror, self.given) from None

    def write(self, text: str) -> int:
        try:
            return self.handle.write(text)
        except OSError as exc:  # a full disk mid-run names the user's path
            raise OSError(exc.errno, exc.strerror, self.given) from None

    def write_bytes(self, data: bytes) -> None:
        self.flush()
        try:
            self.handle.buffer.write(data)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, self.given) from None

    def flush(self) -> None:
        try:
            self.handle.flush()
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, self.given) from None

    def fileno(self) -> int:
        return self.handle.fileno()

    def commit(self) -> None:
        """fsync the hidden file, give it the mode a plain open() would (not mkstemp's
        private 0600) and rename it over the target; on an error, :meth:`abort`."""
        try:
            self.handle.flush()
            os.fchmod(self.handle.fileno(), _mode_for(self.target))
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.partial, self.target)
        except OSError as exc:
            self.abort()
            raise OSError(exc.errno, exc.strerror, self.given) from None

    def abort(self) -> None:
        """Leave the target as it was: close and remove the hidden file."""
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self.partial)


def write_atomic(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Write to a temporary file in the target's folder, fsync it, then rename it into place.

    A kill at any moment leaves either the old file or the new one. Refused (an
    :class:`UnsafeOutput`, before anything is written): a target that is a device, FIFO,
    socket or folder, and a target that is one of ``inputs`` or of the inputs remembered by
    the running command. A symlink is written through to its target. Every error names
    ``path``, never the temporary file.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    output = AtomicFile(path, inputs=inputs)
    try:
        output.write_bytes(payload)
    except BaseException:
        output.abort()
        raise
    output.commit()


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files (``.NAME.PID.XXXX.tmp``) that a killed write to ``target``
    left beside it: those whose process is gone (issue 25; a report's can be 50 MB).
    A temporary file of a process still running (another write under way) is left alone."""
    prefix = f".{target.name}."
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid, _, rest = name[len(prefix) :].partition(".")
        if not (pid.isdigit() and rest.endswith(".tmp")):
            continue
        from ..batch.worker import pid_exists  # only when one is found: startup stays light

        if not pid_exists(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(target.parent / name)
