"""The console entry point (``deter`` and ``python -m deter``).

Loading the tool takes a second, several under load, before any of its own code can catch
Ctrl-C; this module imports nothing heavy, so an interrupt while the rest loads ends as it
does anywhere else: ``interrupted`` and exit code 130, not a traceback.
"""

from __future__ import annotations

import contextlib
import sys

from ..solver.model import interrupts


def main() -> None:
    """Load the application and run it; Ctrl-C while it loads exits 130."""
    interrupts.install()
    try:
        _start_batch_workers(sys.argv[1:])
        from .app import main as run
    except KeyboardInterrupt:
        from .exit_codes import ExitCode, forget_unhandled_interrupt

        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        forget_unhandled_interrupt()
        sys.exit(ExitCode.INTERRUPTED)
    run()


#: The commands that solve in local worker processes.
BATCH_COMMANDS = ("batch", "check")


def _start_batch_workers(args: list[str]) -> None:
    """For a batch that will use local workers, start their server (which imports the
    solver, about a second) now, so that it loads while this process loads the command
    line and finds the files (``solver/batch/processes.py``).

    A guess from the arguments, made before typer parses them: a ``batch`` or ``check``
    command, no ``--help``, no executor other than ``local``, and more files than a batch
    solved in this process (``INLINE_LIMIT``) or a ``--timeout`` (which always uses
    workers). Arguments that are option values count as paths only if they name spec
    files. A wrong guess costs a little CPU, never an answer: the pool starts its server
    itself when it is not running, and an idle server ends with this process."""
    if not args or args[0] not in BATCH_COMMANDS:
        return
    rest = args[1:]
    if any(a in ("-h", "--help") for a in rest):
        return
    for k, arg in enumerate(rest):
        if arg.startswith("--executor"):
            value = arg.partition("=")[2] if "=" in arg else (rest[k + 1 : k + 2] or [""])[0]
            if value != "local":
                return
    from ..solver.batch import processes
    from ..solver.batch.discovery import discover

    timeout = any(a == "--timeout" or a.startswith("--timeout=") for a in rest)
    if not timeout:
        files, _ = discover(a for a in rest if not a.startswith("-"))
        if len(files) <= processes.INLINE_LIMIT:
            return
    # the pool starts its server (and says why not) itself when it needs it
    with contextlib.suppress(Exception):
        processes.start_server()
