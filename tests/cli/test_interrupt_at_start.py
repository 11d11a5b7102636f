"""Ctrl-C in a command's first seconds, while cvxpy and its solvers are imported, is kept.

A SIGINT inside a solver extension's initialisation becomes ``ImportError('initialization
failed')``, which cvxpy reports and ignores; an experiment interrupted under load then ran to
its end (the 50-run interrupt loop, run 5). :func:`import_solver_stack` holds the signal until
the import ends and raises it then.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
