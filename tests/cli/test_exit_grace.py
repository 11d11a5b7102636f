"""A batch or check ends once its output is written, even when Python's own shutdown would
wait forever (a process pool's manager thread left waiting on a worker that died while the
pool was being stopped: a batch stopped by Ctrl-C under load hung in _python_exit)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# A thread that never ends stands in for the stuck manager thread: Python's shutdown joins
# every non-daemon thread, so without the grace the process would never exit.
SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from deter.cli import app
    app.EXIT_GRACE_SECONDS = 0.5
    threading.Thread(target=threading.Event().wait, name="stuck").start()
    sys.argv = ["deter", "batch", "--help"]
    app.main()
    """
)


def test_a_shutdown_that_would_wait_forever_ends_after_the_grace() -> None:
    process = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,  # only stops a hang: the grace is half a second
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.returncode == 0, process.stderr
    assert "Usage" in process.stdout  # the output was written before the process ended
