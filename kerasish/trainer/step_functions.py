"""The steps a loop calls, chosen once per fit, evaluate or predict (Keras's ``make_train_function``).

Without an override the engine's fused step runs: it returns the running results and pays nothing
for the hook. A subclass's own ``train_step``/``test_step``/``predict_step`` is wrapped once to take
the loop's ``(x, y, sample_weight)`` batch the way Keras hands it over. Every loop then calls
``steps.train(x, y, sample_weight)`` without asking again which kind it has.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from kerasish.trainer.engine import Engine
from kerasish.trainer.logs import step_logs
from kerasish.utils import pack_x_y_sample_weight

StepResults = Mapping[str, Any]  # what a step returns: log key -> 0-d tensor, number, or getter
BatchStep = Callable[[Any, Any, Any], StepResults]


@dataclass(frozen=True)
class StepFunctions:
    """The train, test and predict steps of one run, and which of them are a user's own."""

    train: BatchStep
    test: BatchStep
    predict: Callable[[Any], Any]
    custom_train: bool
    custom_test: bool
    custom_predict: bool


def choose(engine: Engine, train_step: Callable[..., Any] | None,
           test_step: Callable[..., Any] | None,
           predict_step: Callable[..., Any] | None) -> StepFunctions:
    """The steps to run: the engine's fused ones, or the user's (``None``: not overridden)."""
    return StepFunctions(
        train=engine.train_step if train_step is None else _custom_train(engine, train_step),
        test=engine.test_step if test_step is None else _custom_test(engine, test_step),
        predict=engine.predict_step if predict_step is None else _custom_predict(predict_step),
        custom_train=train_step is not None,
        custom_test=test_step is not None,
        custom_predict=predict_step is not None,
    )


def _custom_train(engine: Engine, train_step: Callable[..., Any]) -> BatchStep:
    def step(x: Any, y: Any, sample_weight: Any) -> StepResults:
        # Keras folds class weights into the sample weights before the step.
        data = pack_x_y_sample_weight(x, y, engine.class_sample_weight(y, sample_weight))
        engine.loss_tracker.begin_step()
        return step_logs(train_step(data), "train_step")
    return step


def _custom_test(engine: Engine, test_step: Callable[..., Any]) -> BatchStep:
    def step(x: Any, y: Any, sample_weight: Any) -> StepResults:
        engine.loss_tracker.begin_step()
        with torch.no_grad():
            return step_logs(test_step(pack_x_y_sample_weight(x, y, sample_weight)), "test_step")
    return step


def _custom_predict(predict_step: Callable[..., Any]) -> Callable[[Any], Any]:
    def step(x: Any) -> Any:
        with torch.no_grad():
            return predict_step(pack_x_y_sample_weight(x))
    return step


@contextlib.contextmanager
def counting_optimizer_steps(engine: Engine, optimizer: torch.optim.Optimizer | None,
                             custom_train: bool) -> Iterator[None]:
    """With a custom ``train_step``, count ``optimizer``'s steps for ``model.optimizer_steps``.

    The fused step counts its own steps; a user's step may call ``optimizer.step()`` directly, so
    a post-step hook counts them (and the engine stops counting, so a ``super().train_step()``
    call is counted once).
    """
    if not custom_train or optimizer is None:
        yield
        return

    def count(*_: Any) -> None:
        engine.optimizer_steps += 1

    engine.counts_steps = False
    handle = optimizer.register_step_post_hook(count)
    try:
        yield
    finally:
        handle.remove()
        engine.counts_steps = True
