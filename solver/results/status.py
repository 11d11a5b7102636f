"""The one status vocabulary of deter: solve results, batch records, sweep points, exit codes.

A :class:`Status` is a ``StrEnum``, so each member *is* its string: it compares equal to
``"optimal"``, hashes like it, formats and serialises (``json.dumps``, ``csv``, f-strings)
as it. Code that still writes the plain strings keeps working, and JSON output does not
change. What each status means for the process exit code is decided in ``cli/exit_codes.py``.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """How one solve (one file, one sweep point) ended."""

    optimal = "optimal"  # solved and verified
    infeasible = "infeasible"  # a valid spec that cannot be met (a diagnosis says why)
    solver_error = "solver_error"  # no verified answer (a failed solver, a timeout, a crash)
    bad_input = "bad_input"  # the input could not be read or is invalid
    # A sweep point whose combination of values the spec rules refuse (the sweep goes on).
    invalid = "invalid"

    def __repr__(self) -> str:
        # As the plain string's repr, so that messages written with ``{status!r}`` read
        # 'infeasible' whether the status is a member or still a plain string.
        return repr(self.value)


#: The statuses a solve result can have (``Result.status``).
RESULT_STATUSES = (Status.optimal, Status.infeasible, Status.solver_error)
#: The statuses of a file in a batch, in the order the batch summary counts them.
FILE_STATUSES = (*RESULT_STATUSES, Status.bad_input)
