"""Running a command as a real unprivileged user, for tests of what another user cannot read.

Root reads every file whatever its mode, so a ``chmod 000`` folder hides nothing from it.
Under root, :func:`invoke_as_user` creates a system user (``useradd``) and runs the command
in a forked child that drops to that user (``setresgid``/``setresuid``, what ``setpriv`` and
``runuser`` do) after this process has loaded everything: the interpreter may live under a
folder the user cannot enter (``/root/.pyenv``). Not root: the test's own user is already
unprivileged. Nothing here skips: without the means it fails loudly.
"""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner

USER = "deter-faults"


def unprivileged_user() -> pwd.struct_passwd | None:
    """The user to drop to (created when missing), or None when this process is not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise RuntimeError("running as root without useradd: cannot create an unprivileged user")
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(USER)


def invoke_as_user(folder: Path, args: Sequence[str]) -> tuple[int, str, str]:
    """``deter ARGS`` run from ``folder`` (paths relative to it) as an unprivileged user:
    (exit code, stdout, stderr). Every folder above ``folder`` may stay private: the child
    enters ``folder`` before it drops privileges."""
    from deter.cli.app import app

    user = unprivileged_user()
    runner = CliRunner()
    if user is None:
        previous = Path.cwd()
        os.chdir(folder)
        try:
            result = runner.invoke(app, list(args))
        finally:
            os.chdir(previous)
        return result.exit_code, result.stdout, result.stderr
    # The same command as root first, only to load every module it imports: the user may not
    # be able to enter the folder they live in.
    previous = Path.cwd()
    os.chdir(folder)
    try:
        runner.invoke(app, list(args))
    finally:
        os.chdir(previous)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        try:
            os.close(read)
            os.chdir(folder)
            os.setgroups([])
            os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
            os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)
            assert os.geteuid() == user.pw_uid != 0
            result = runner.invoke(app, list(args))
            stderr = result.stderr
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                stderr += f"\n{type(result.exception).__name__}: {result.exception}"
            report = (result.exit_code, result.stdout, stderr)
        except BaseException as exc:
            report = (-1, "", f"the child failed: {type(exc).__name__}: {exc}")
        with os.fdopen(write, "wb") as out:
            pickle.dump(report, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as source:
        data = source.read()
    os.waitpid(child, 0)
    code, stdout, stderr = pickle.loads(data)
    if code == -1:
        raise RuntimeError(stderr)
    return code, stdout, stderr


def open_to_all(path: Path) -> None:
    """Make ``path`` and everything under it readable (folders enterable) by any user."""
    for where, _, files in os.walk(path):
        os.chmod(where, 0o755)
        for name in files:
            if not os.path.islink(os.path.join(where, name)):
                os.chmod(os.path.join(where, name), 0o644)
