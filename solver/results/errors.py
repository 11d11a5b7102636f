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


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec: where it is and what is wrong.

    ``key`` is a dotted path such as ``actions.reward_hack.gain``; ``line`` is 1-based
    when the TOML text locates it, else ``None``.
    """

    file: str
    key: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class DeterError(Exception):
    """Base class of every error deter raises on purpose."""


class SpecError(DeterError):
    """The spec cannot be read or is invalid. Carries one :class:`SpecIssue` per problem."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))

    @classmethod
    def single(cls, file: str, message: str, key: str = "", line: int | None = None) -> SpecError:
        return cls([SpecIssue(file=file, key=key, message=message, line=line)])


class InfeasibleError(DeterError):
    """The spec is valid, but no allowed oversight policy meets it."""


class SolverError(DeterError):
    """No solver returned an answer that passed deter's own verification."""
