"""Ctrl-C in a command's first seconds, while cvxpy and its solvers are imported, is kept.

A SIGINT inside a solver extension's initialisation becomes ``ImportError('initialization
failed')``, which cvxpy reports and ignores; an experiment interrupted under load then ran to
its end (the 50-run interrupt loop, run 5). :func:`import_solver_stack` holds the signal until
the import ends and raises it then.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import importlib.abc, os, signal, sys

    class InterruptDuringImport(importlib.abc.MetaPathFinder):
        # Ctrl-C arrives while cvxpy's solvers are being imported.
        def find_spec(self, name, path=None, target=None):
            if name == "cvxpy.atoms":
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
            return None

    assert "cvxpy" not in sys.modules
    from deter.cli.common import import_solver_stack
    sys.meta_path.insert(0, InterruptDuringImport())
    try:
        import_solver_stack()
    except KeyboardInterrupt:
        solvers = sys.modules["cvxpy"].installed_solvers() if "cvxpy" in sys.modules else []
        print("interrupted after import:", "cvxpy" in sys.modules, "HIGHS" in solvers)
    else:
        print("not interrupted")
    """
)


def test_ctrl_c_while_the_solvers_import_is_raised_once_the_import_ends() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "interrupted after import: True True", done.stderr


LOADING = textwrap.dedent(
    """
    import importlib.abc, os, signal, sys

    class InterruptWhileLoading(importlib.abc.MetaPathFinder):
        # Ctrl-C arrives while the command line's own modules load, before any of its code runs.
        def find_spec(self, name, path=None, target=None):
            if name == "deter.cli.common":
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
            return None

    sys.meta_path.insert(0, InterruptWhileLoading())
    sys.argv = ["deter", "validate", "-"]
    from deter.cli.entry import main
    main()
    """
)


def test_ctrl_c_while_the_tool_loads_ends_with_130_and_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOADING], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stderr) == (130, "interrupted\n")


HANDLED = textwrap.dedent(
    """
    import ctypes, sys
    from deter.cli.exit_codes import forget_unhandled_interrupt

    run_string = ctypes.pythonapi.PyRun_String
    run_string.restype = ctypes.py_object
    run_string.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.py_object, ctypes.py_object]
    try:  # as a pybind11 extension runs its setup, interrupted there
        run_string(b"raise KeyboardInterrupt", 257, {}, {})
    except KeyboardInterrupt:
        pass
    if sys.argv[1] == "forget":
        forget_unhandled_interrupt()
    sys.exit(130)
    """
)


def test_an_interrupt_handled_after_run_string_still_exits_130_under_python_m(
    tmp_path: Path,
) -> None:
    # the 50-run loop's run 3: 'interrupted' printed, yet python -m deter died by SIGINT (-2)
    (tmp_path / "handled.py").write_text(HANDLED)
    codes = {
        how: subprocess.run(
            [sys.executable, "-m", "handled", how], cwd=tmp_path, capture_output=True, timeout=120
        ).returncode
        for how in ("keep", "forget")
    }
    assert codes == {"keep": -signal.SIGINT, "forget": 130}
