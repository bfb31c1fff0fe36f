"""``PredictionSamples``: a few samples with the model's prediction and the label, every N epochs,
as W&B images and a table, and as TensorBoard images and a text table."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from kerasish.callbacks.base import Callback
from kerasish.checks import check_int


class PredictionSamples(Callback):
    """Show what the model predicts for a few fixed samples, at the end of every ``every`` epochs.

    For classification outputs (one score per class) the prediction is the arg-max and the
    confidence its softmax probability (the same for logits, probabilities or log-probabilities);
    for other outputs the prediction is the output itself. Samples shaped like images
    (``(H, W)``, ``(1, H, W)`` or ``(3, H, W)``) are logged as images; all samples go to the table.

    - W&B (when a run is active: a ``WandbCallback``'s or your own): ``<key>/table``, a
      ``wandb.Table`` with columns ``epoch, index, image, prediction, label, confidence``, and
      ``<key>/images``, the images captioned ``"pred 3 (97%) / label 3"``.
    - TensorBoard (with ``log_dir``): images ``<key>`` and a markdown table ``<key>/text`` at the
      epoch as step.

    Predictions run in eval mode on the model's device, once per logged epoch, for at most
    ``max_samples`` samples; the module's mode is restored after.

    Args:
        x: the samples (an array or tensor; the first ``max_samples`` are used).
        y: their labels, or ``None``.
        every: log at the end of every this many epochs.
        max_samples: how many samples to show.
        class_names: names for class indices in captions and tables.
        log_dir: a TensorBoard folder to write to (e.g. ``"logs/predictions"``); ``None`` for none.
        wandb: ``"auto"`` logs to the active W&B run when there is one, ``False`` never.
        key: the name the samples are logged under.

    Example:
        samples = ks.callbacks.PredictionSamples(x_val[:8], y_val[:8], log_dir="logs/predictions")
        model.fit(x, y, epochs=5, validation_data=(x_val, y_val),
                  callbacks=[ks.callbacks.WandbCallback(), samples])
    """

    rank_zero_only = True  # under torchrun only the main process writes

    def __init__(self, x: Any, y: Any = None, every: int = 1, max_samples: int = 8,
                 class_names: Sequence[str] | None = None, log_dir: str | os.PathLike | None = None,
                 wandb: str | bool = "auto", key: str = "predictions") -> None:
        super().__init__()
        every = check_int(every, "every", least=1, owner="PredictionSamples")
        max_samples = check_int(max_samples, "max_samples", least=1, owner="PredictionSamples")
        if wandb not in ("auto", False):
            raise ValueError(f"PredictionSamples: wandb must be 'auto' or False; got {wandb!r}.")
        self.x = torch.as_tensor(np.asarray(x)[:max_samples])
        self.y = None if y is None else np.asarray(y)[:max_samples]
        self.every, self.max_samples = every, max_samples
        self.class_names = list(class_names) if class_names is not None else None
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.wandb, self.key = wandb, key
        self._writer: Any = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        predictions, confidences = self._predict()
        rows = [(i, self._name(p), None if self.y is None else self._name(self.y[i]), c)
                for i, (p, c) in enumerate(zip(predictions, confidences))]
        if self.wandb == "auto":
            self._log_wandb(epoch, rows)
        if self.log_dir is not None:
            self._write_tensorboard(epoch, rows)

    def on_train_end(self, logs=None):
        self._close()

    def on_exception(self, exception):
        self._close()

    # ------------------------------------------------------------------ pieces

    def _predict(self) -> tuple[list[Any], list[float | None]]:
        module = self.model.module
        was_training = module.training
        try:
            outputs = torch.as_tensor(self.model.predict_on_batch(self.x.numpy())).float()
        finally:
            module.train(was_training)
        if outputs.dim() == 2 and outputs.shape[1] > 1:
            probabilities = torch.softmax(outputs, dim=-1)
            confidence, predicted = probabilities.max(dim=-1)
            return predicted.tolist(), confidence.tolist()
        values = outputs.reshape(len(outputs), -1)
        return [v[0] if len(v) == 1 else v for v in values.tolist()], [None] * len(values)

    def _name(self, value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        if self.class_names is not None and isinstance(value, int) and 0 <= value < len(self.class_names):
            return self.class_names[value]
        return value

    def _images(self) -> np.ndarray | None:
        """The samples as (N, H, W, C) float images in [0, 1], or None if they are not images."""
        x = self.x.float()
        if x.dim() == 3:
            x = x[:, None]
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            return None
        low = x.amin(dim=(1, 2, 3), keepdim=True)
        high = x.amax(dim=(1, 2, 3), keepdim=True)
        x = (x - low) / (high - low).clamp_min(1e-12)
        return x.permute(0, 2, 3, 1).numpy()

    @staticmethod
    def _caption(prediction: Any, label: Any, confidence: float | None) -> str:
        text = f"pred {prediction}" + ("" if confidence is None else f" ({confidence:.0%})")
        return text + ("" if label is None else f" / label {label}")

    def _log_wandb(self, epoch: int, rows: list[tuple]) -> None:
        try:
            import wandb
        except ImportError:
            return
        if wandb.run is None:
            return
        images = self._images()
        table = wandb.Table(columns=["epoch", "index", "image", "prediction", "label", "confidence"])
        pictures = []
        for index, prediction, label, confidence in rows:
            caption = self._caption(prediction, label, confidence)
            picture = None if images is None else wandb.Image(images[index], caption=caption)
            pictures.append(picture)
            table.add_data(epoch, index, picture, str(prediction), None if label is None else str(label),
                           confidence)
        row: dict[str, Any] = {f"{self.key}/table": table}
        if images is not None:
            row[f"{self.key}/images"] = pictures
        wandb.run.log(row)

    def _write_tensorboard(self, epoch: int, rows: list[tuple]) -> None:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(self.log_dir)
        images = self._images()
        if images is not None:
            self._writer.add_images(self.key, images, epoch, dataformats="NHWC")
        lines = ["| index | prediction | label | confidence |", "|---|---|---|---|"]
        for index, prediction, label, confidence in rows:
            shown = "" if confidence is None else f"{confidence:.3f}"
            lines.append(f"| {index} | {prediction} | {'' if label is None else label} | {shown} |")
        self._writer.add_text(f"{self.key}/text", "\n".join(lines), epoch)
        self._writer.flush()

    def _close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
