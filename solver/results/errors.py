"""The typed errors of deter.

Three kinds of failure reach a user, and each has one exit code (mapped in ``cli/exit_codes.py``):

- :class:`SpecError`: the input is wrong (unreadable file, TOML syntax, unknown key, bad value).
- :class:`InfeasibleError`: the spec is valid but its requirements cannot be met.
- :class:`SolverError`: no solver produced an answer that passed verification.

``solve`` itself reports infeasibility and solver failure as a result status (so that a
diagnosis can be rendered); ``Result.raise_for_status`` turns them into these exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: What a finding is about: the file's input, an action no policy deters, a file with no
#: verified answer, or a requirement of ``[requirements]`` the answer fails.
FindingKind = Literal["bad_input", "infeasible", "solver_error", "requirement"]


@dataclass(frozen=True)
class Finding:
    """Something to point at in a spec file: where it is and what is wrong.

    The one type for a problem in a spec (a bad key or value, ``kind="bad_input"``), an
    action no allowed policy deters (``infeasible``), a file without a verified answer
    (``solver_error``) and a failed requirement (``requirement``: ``key`` names it, e.g.
    ``max_rate.human_review``, and ``limit`` / ``measured`` give the figures as written).
    ``key`` is a dotted path such as ``actions.reward_hack.gain`` ('' when none applies);
    ``line`` and ``column`` are 1-based when the TOML text locates them, else ``None``.
    """

    file: str
    key: str
    message: str
    line: int | None = None
    column: int | None = None
    kind: FindingKind = "bad_input"
    limit: str | None = None
    measured: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


#: The name the spec layer and the public API use for a finding about the input.
SpecIssue = Finding


class DeterError(Exception):
    """Base class of every error deter raises on purpose."""


class SpecError(DeterError):
    """The spec cannot be read or is invalid. Carries one :class:`Finding` per problem."""

    def __init__(self, issues: list[Finding]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))

    @classmethod
    def single(cls, file: str, message: str, key: str = "", line: int | None = None) -> SpecError:
        return cls([Finding(file=file, key=key, message=message, line=line)])


class UnsupportedError(SpecError):
    """The spec is valid, but asks for a feature this operation does not support (yet).

    A :class:`SpecError` (code that catches those still catches it); the command line exits
    4 for it rather than 2, as the spec itself is fine.
    """


class InfeasibleError(DeterError):
    """The spec is valid, but no allowed oversight policy meets it."""


class SolverError(DeterError):
    """No solver returned an answer that passed deter's own verification."""
