"""``History``: the record of epoch logs that ``fit`` returns."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from kerasish.callbacks.base import Callback


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is a list with one float per epoch.

    ``fit`` adds a new one automatically and returns it; ``model.history`` is the last one. As in
    Keras, ``on_train_begin`` clears ``epoch`` but not ``history``, so an instance passed to several
    fits keeps appending.

    Attributes:
        history: log key -> one value per epoch (``"loss"``, ``"val_accuracy"``, ...); with
            ``validation_freq > 1`` the ``val_`` lists are shorter.
        epoch: the 0-based epochs recorded by the last fit.
        params: the fit's ``{"verbose", "epochs", "steps", ...}``.

    Example:
        history = model.fit(x, y, epochs=3)
        history.history["loss"]   # [0.9, 0.5, 0.3]
        history.epoch             # [0, 1, 2]
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        """Clear ``epoch`` (``history`` keeps growing, as in Keras)."""
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch number and every log value; make this the model's ``history``."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self

    def plot(self, metrics: Sequence[str] | None = None, figsize: tuple[float, float] | None = None) -> Any:
        """A matplotlib ``Figure`` with one panel per metric against the epoch (1-based).

        Training and validation values (``loss`` and ``val_loss``) share a panel. The figure is
        made without pyplot, so no window opens and nothing is kept open: save it with
        ``history.plot().savefig("history.png")``. A notebook displays it when it is a cell's
        value, without ``%matplotlib inline`` (the figure has a PNG ``_repr_png_``).

        Args:
            metrics: the metric names to draw (without ``val_``); every recorded one by default.
            figsize: the figure size in inches; 4 x 3 per panel by default.

        Returns:
            A ``matplotlib.figure.Figure`` (a subclass that Jupyter shows as a PNG).

        Raises:
            ImportError: matplotlib is not installed (``pip install kerasish[plot]``).
            ValueError: nothing was recorded yet, or a name in ``metrics`` has no values.

        Example:
            history = model.fit(x, y, validation_split=0.2, epochs=10)
            history.plot(["loss", "accuracy"]).savefig("history.png")
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as error:
            raise ImportError(
                "History.plot() needs matplotlib: pip install kerasish[plot] (or pip install "
                "matplotlib)."
            ) from error
        names = list(metrics) if metrics is not None else _panel_names(self.history)
        if not names:
            raise ValueError("History.plot(): nothing recorded yet; call fit() first.")
        unknown = [n for n in names if n not in self.history and f"val_{n}" not in self.history]
        if unknown:
            raise ValueError(f"History.plot(): no values for {unknown}; recorded: {sorted(self.history)}.")
        figure = _shown_figure_class(Figure)(figsize=figsize or (4.0 * len(names), 3.0),
                                             layout="constrained")
        axes = figure.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names):
            train = self.history.get(name, [])
            if train:
                ax.plot(range(1, len(train) + 1), train, marker="o", label=name)
            val = self.history.get(f"val_{name}", [])
            if val:
                ax.plot(_validation_epochs(len(train), len(val)), val, marker="o", label=f"val_{name}")
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.legend()
        return figure


def _panel_names(history: dict[str, list[float]]) -> list[str]:
    names: list[str] = []
    for key in history:
        name = key.removeprefix("val_")
        if name not in names:
            names.append(name)
    return names


def _validation_epochs(train_count: int, val_count: int) -> list[int]:
    """With ``validation_freq=k`` validation ran every k-th epoch: place its points there."""
    if train_count in (0, val_count):
        return list(range(1, val_count + 1))
    return [round((i + 1) * train_count / val_count) for i in range(val_count)]


_SHOWN: dict[str, type] = {}


def _shown_figure_class(figure_class: type) -> type:
    """``Figure`` with ``_repr_png_``: IPython shows a cell's value through it, so a notebook
    displays the figure even when no matplotlib backend was set up (``%matplotlib inline``)."""
    if "class" not in _SHOWN:
        def _repr_png_(self) -> bytes:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            buffer = io.BytesIO()
            FigureCanvasAgg(self).print_png(buffer)
            return buffer.getvalue()

        _SHOWN["class"] = type("HistoryFigure", (figure_class,), {"_repr_png_": _repr_png_,
                                                                  "__module__": __name__})
    return _SHOWN["class"]
