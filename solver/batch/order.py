"""The reorder buffer of a batch: stacks finish in any order, files are handed on in input
order (to the ledger, the output and the progress bar), with a bounded number held."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .outcome import FileOutcome

#: Stacks a worker may run ahead of the first one not yet handed on, per worker: the
#: reorder buffer (:class:`InOrder`) holds at most this many stacks per worker.
AHEAD_PER_WORKER = 4

#: A stack to solve: its index among the batch's stacks, and its files not resumed.
Stack = tuple[int, list[str]]


class InOrder:
    """The reorder buffer: stacks' outcomes arrive in any order (workers, Dask) and leave
    in input order, each stack merged with its files resumed from the ledger (read only
    then, through ``resumed``: a position's outcome, or None).

    An executor hands a finished stack to :meth:`put` and starts a stack only when
    :meth:`may_start` allows it, so at most ``ahead`` stacks wait here: memory stays flat
    however many files the batch has. ``record`` receives (position, outcome) pairs.
    """

    def __init__(
        self,
        stacks: list[list[str]],
        resumed: Callable[[int], FileOutcome | None],
        solving: set[int],
        record: Callable[[list[tuple[int, FileOutcome]]], bool],
    ) -> None:
        self.stacks = stacks
        self.first = [0] * len(stacks)  # each stack's first file's position in the batch
        for k in range(1, len(stacks)):
            self.first[k] = self.first[k - 1] + len(stacks[k - 1])
        self.resumed = resumed  # a position's outcome from the ledger (read on demand), or None
        self.solving = solving  # stacks with files to solve; the others are all resumed
        self.record = record
        self.next = 0  # the first stack not yet handed on
        self.held: dict[int, Sequence[FileOutcome]] = {}
        self.stopped = False

    def may_start(self, index: int, ahead: int) -> bool:
        return index < self.next + ahead

    def put(self, index: int, outcomes: Sequence[FileOutcome]) -> bool:
        """Take a solved stack; hand on every stack now complete. True: stop (the failure
        limit was reached)."""
        if not self.stopped:
            self.held[index] = outcomes
            self.release()
        return self.stopped

    def release(self) -> bool:
        """Hand on the complete stacks at the head (all-resumed ones need nothing solved)."""
        while not self.stopped and self.next < len(self.stacks):
            index = self.next
            if index in self.solving and index not in self.held:
                break
            merged = self._merged(index, self.held.pop(index, ()))
            self.next += 1
            self.stopped = self.record(merged)
        return self.stopped

    def flush(self) -> None:
        """After an interrupt: hand on whatever finished (solved or resumed), in order, with
        the files that did not finish left out."""
        while not self.stopped and self.next < len(self.stacks):
            index = self.next
            self.next += 1
            merged = self._merged(index, self.held.pop(index, ()), whole=False)
            if merged:
                self.stopped = self.record(merged)

    def _merged(
        self, index: int, solved: Sequence[FileOutcome], whole: bool = True
    ) -> list[tuple[int, FileOutcome]]:
        by_file = {o.file: o for o in solved}
        merged = []
        for k, file in enumerate(self.stacks[index]):
            outcome = by_file.get(file) or self.resumed(self.first[index] + k)
            if outcome is None and whole:
                raise RuntimeError(f"stack {index} came back without {file!r}")
            if outcome is not None:
                merged.append((self.first[index] + k, outcome))
        return merged
