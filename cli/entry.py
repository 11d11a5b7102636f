"""The console entry point (``deter`` and ``python -m deter``).

Loading the tool takes a second, several under load, before any of its own code can catch
Ctrl-C; this module imports nothing heavy, so an interrupt while the rest loads ends as it
does anywhere else: ``interrupted`` and exit code 130, not a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Load the application and run it; Ctrl-C while it loads exits 130."""
    try:
        from .app import main as run
    except KeyboardInterrupt:
        from .exit_codes import ExitCode, forget_unhandled_interrupt

        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        forget_unhandled_interrupt()
        sys.exit(ExitCode.INTERRUPTED)
    run()
