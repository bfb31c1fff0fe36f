"""Keras's epoch semantics over a source (``steps_per_epoch``, running out of data) and the
position a backup saves so that a resumed run reads exactly what an uninterrupted one would."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from kerasish.data.replay import order_rng_state
from kerasish.data.structures import Batch


class EpochIterator:
    """Keras's epoch semantics on top of a source, including ``steps_per_epoch``, and its position.

    Without ``steps_per_epoch`` every epoch is one full pass. With it, one iterator runs on across
    epochs (a generator is not restarted); a re-iterable source starts a new pass when it runs out.
    Running out mid-epoch warns and ends the epoch, as in Keras; a one-shot iterator that is
    exhausted sets ``exhausted`` so the caller stops training.

    ``state()`` says where the data stands (the pass, the batches read from it, and the random
    states its order was drawn from); ``resume_from(state)`` makes the next ``epoch`` call continue
    exactly there, for every source that can be iterated again.
    """

    def __init__(self, source, steps_per_epoch: int | None = None):
        self.source = source
        self.steps_per_epoch = steps_per_epoch
        self.exhausted = False
        self._iterator: Iterator[Batch] | None = None
        self._pass = 0  # the pass being read (with steps_per_epoch, passes span epochs)
        self._read = 0  # batches read from the current pass
        self._pass_rng: dict[str, Any] | None = None  # random states the pass's order came from
        self._resume: Mapping[str, Any] | None = None

    @property
    def steps(self) -> int | None:
        return self.steps_per_epoch or self.source.num_batches

    def state(self) -> dict[str, Any]:
        """Where the data stands: saved with a backup so a resumed run reads what this one would."""
        return {"pass": self._pass, "read": self._read, "pass_rng": self._pass_rng,
                "generators": [g.get_state() for g in self.source.order_generators]}

    def resume_from(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state`` at the next ``epoch`` call (a one-shot iterator warns: it can't)."""
        if not self.source.reiterable:
            warnings.warn(
                "Resuming from a backup with a one-shot iterator as input: kerasish cannot rewind "
                "it, so training continues with whatever batches it yields next, and the result "
                "is not the same as an uninterrupted run. Pass a re-iterable input (arrays, a "
                "Dataset, a DataLoader) for an exact resume.",
                UserWarning, stacklevel=3,
            )
            return
        for generator, saved in zip(self.source.order_generators, state.get("generators", [])):
            generator.set_state(saved.cpu())
        self._resume = state

    def _start_pass(self, index: int, start_batch: int) -> Iterator[Batch]:
        resume, self._resume = self._resume, None
        replay = resume.get("pass_rng") if resume is not None and start_batch else None
        self._pass, self._read = index, start_batch
        if replay is not None:
            self._pass_rng = replay
        else:  # a few KB copied once per pass, so that a backup can rebuild the pass's order
            self._pass_rng = order_rng_state(self.source.order_generators)
        return self.source.iter_epoch(index, start_batch, replay=replay)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[int, Batch]]:
        if self.steps_per_epoch is None:
            step = start_batch - 1
            for step, batch in enumerate(self._start_pass(epoch, start_batch), start_batch):
                self._read = step + 1
                yield step, batch
            if step < 0:
                self._ran_out()
            return
        step = start_batch
        if self._resume is not None:  # continue the pass the interrupted run was reading
            self._iterator = self._start_pass(int(self._resume["pass"]), int(self._resume["read"]))
        while step < self.steps_per_epoch:
            if self._iterator is None:
                self._iterator = self._start_pass(self._pass + 1 if self._pass_rng else 0, 0)
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if step == 0 and self.source.reiterable and not self._just_restarted:
                    self._just_restarted = True
                    continue
                self._ran_out()
                return
            self._just_restarted = False
            self._read += 1
            yield step, batch
            step += 1

    _just_restarted = False

    def rewind(self) -> None:
        """Make the next ``epoch`` start at the data's first batch, even with ``steps_per_epoch``
        (a one-shot iterator cannot rewind and reads on). Each validation in ``fit`` starts here,
        as Keras starts each from the first batch whatever ``validation_steps``."""
        if self.source.reiterable:
            self._iterator, self._pass_rng = None, None

    def _ran_out(self) -> None:
        warnings.warn(
            "Your input ran out of data; interrupting training. Make sure that your dataset or "
            "generator can generate at least `steps_per_epoch * epochs` batches.",
            UserWarning,
            stacklevel=4,
        )
        if not self.source.reiterable:
            self.exhausted = True
