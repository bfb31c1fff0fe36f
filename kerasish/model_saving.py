"""Weights, the training state, export and summary of ``ks.Model`` (``Model`` inherits them).

The training state is the model's to give and take (``training_state_dict`` /
``load_training_state``); ``kerasish.state`` only writes and reads the file, on that protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from kerasish import console, sharded_checkpoint
from kerasish import fsdp as fsdp_lib
from kerasish import state as state_lib
from kerasish._keras_interop import check_overwrite, keras_layer_names
from kerasish.io import atomic_torch_save
from kerasish.model_parts import ModelParts
from kerasish.summary import DtypeSpec, ShapeSpec, build_example, summarize
from kerasish.trainer.engine import call_module, is_keras_model
from kerasish.trainer.run_state import RunState

if TYPE_CHECKING:
    pass


class ModelSaving(ModelParts):
    """Weights in and out, the whole training state, ONNX export and the summary; see ``ks.Model``."""

    # ------------------------------------------------------------------ the training state

    def training_state_dict(self, all_ranks: bool = False) -> dict[str, Any]:
        """Everything a run needs to continue, as tensors, numbers and strings (``kerasish.state``).

        Args:
            all_ranks: under torchrun, every rank calls this together and each rank's random
                states, data position and metric states are gathered under ``"ranks"``.

        Returns:
            The weights, optimizer, engine (scaler, steps, accumulation window), run position,
            random states, metric states, compile settings, and under ``"owned"`` every other
            optimizer and LR scheduler the model holds as an attribute (a custom ``train_step``'s
            own), keyed by attribute name, each as ``{"type": class name, "state": state_dict}``.
        """
        state: dict[str, Any] = {
            "module": self.module.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "scaler": None, "optimizer_steps": 0, "accumulation": None,
            **({} if self._engine is None else self._engine.state_dict()),
            **self._run.state_dict(),
            "rng": state_lib.rng_states(),
            "metrics": state_lib.metric_states(self.metrics),
            "compile": dict(self.compile_config),
            "owned": {name: {"type": type(held).__name__, "state": held.state_dict()}
                      for name, held in self._held_optimizers().items()},
        }
        if all_ranks and self._group is not None:
            state["ranks"] = self._group.gather({key: state[key] for key in ("rng", "data", "metrics")})
        return state

    def load_training_state(self, state: Mapping[str, Any], filepath: str | os.PathLike,
                            resume: bool = False) -> None:
        """Load what ``training_state_dict`` gave (or bare weights); check everything first.

        Args:
            state: the state, as ``kerasish.state.read`` returns it.
            filepath: the file it came from, named in error messages.
            resume: also restore the random states, the shuffle seed and an accumulation window,
                and leave the position for the next ``fit`` to continue from.

        Raises:
            ValueError: the module or an optimizer does not match the state, or a part of it is
                malformed; nothing changed.
        """
        if resume:  # this rank's random states, data and metrics
            group = self._group
            rank, world_size = (0, 1) if group is None else (group.rank, group.world_size)
            state = state_lib.for_rank(state, rank, world_size, filepath)
        held = self._check_training_state(state, filepath, resume)
        fsdp_lib.load_module_state(self.module, state["module"])  # whole tensors cut to shards
        if state.get("format") is None:
            return  # bare weights
        if self.optimizer is not None and state.get("optimizer") is not None:
            self.optimizer.load_state_dict(fsdp_lib.optimizer_state_like(self.optimizer, state["optimizer"]))
        for entry in held:
            entry.target.load_state_dict(entry.state)
        engine = self._engine
        if engine is not None and state.get("scaler"):
            engine.scaler.load_state_dict(state["scaler"])
        if engine is not None and "optimizer_steps" in state:
            engine.optimizer_steps = int(state["optimizer_steps"])
        if resume:
            if state.get("rng") is not None:
                state_lib.set_rng_states(state["rng"])
            if engine is not None:
                engine.load_window_state(_window_like(state.get("accumulation"), self.module))
        self._run.load_state_dict(state, resume=resume)

    def _check_training_state(self, state: Mapping[str, Any], filepath: str | os.PathLike,
                              resume: bool) -> list[HeldState]:
        """Every part of ``state`` checked against this model before any is loaded; returns the
        saved states of the optimizers and LR schedulers held as attributes, paired with them."""
        state_lib.check_state(state, self.module, self.optimizer, filepath, resume=resume)
        if state.get("format") is None:
            return []
        RunState.check_state_dict(state, filepath, resume=resume)
        if resume and self._engine is not None:
            params = [p for p in self.module.parameters() if p.requires_grad]  # as the engine took them
            _check_window(state.get("accumulation"), params, self._engine.accumulation, filepath)
        return _held_states(self._held_optimizers(), state.get("owned"), filepath)

    def _held_optimizers(self) -> dict[str, Any]:
        """The optimizers and LR schedulers this model holds as attributes besides ``optimizer`` (a
        custom ``train_step``'s own), by attribute name; a list, tuple or dict attribute's entries
        as ``name[i]`` / ``name['key']``."""
        found: dict[str, Any] = {}
        seen = {id(self.optimizer)}
        for name, value in vars(self).items():
            if isinstance(value, Mapping):
                entries = {f"{name}[{key!r}]": entry for key, entry in value.items()}
            elif isinstance(value, (list, tuple)):
                entries = {f"{name}[{i}]": entry for i, entry in enumerate(value)}
            else:
                entries = {name: value}
            for key, entry in entries.items():
                if isinstance(entry, _HELD_TYPES) and id(entry) not in seen:
                    found[key] = entry
                    seen.add(id(entry))
        return found

    # ------------------------------------------------------------------ weights and files

    @property
    def is_sharded(self) -> bool:
        """Whether the module is sharded across ranks (``distribute="fsdp"``): then every rank
        calls ``get_weights``, ``save``, ``save_weights`` and ``load_weights`` together."""
        return fsdp_lib.is_sharded(self.module)

    def get_weights(self) -> list[np.ndarray]:
        """Every tensor of the module's state (parameters and buffers) as NumPy arrays, whole on
        every rank when the module is sharded."""
        return [t.detach().cpu().numpy().copy() for t in fsdp_lib.full_state_dict(self.module).values()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Set the module's parameters and buffers from a list of arrays: ``get_weights``'s inverse.

        Args:
            weights: one array (or tensor) per entry of the module's ``state_dict``, in its order
                and with its shapes, as ``get_weights()`` returns them; each is cast to the
                entry's dtype.

        Raises:
            ValueError: a different number of arrays, or an array whose shape differs (named by
                its ``state_dict`` key). The module is left unchanged.

        Example:
            twin = ks.Model(make_net())
            twin.set_weights(model.get_weights())
        """
        state = self.module.state_dict()
        if len(weights) != len(state):
            raise ValueError(
                f"set_weights got {len(weights)} arrays but the module has {len(state)} state "
                "tensors (parameters and buffers, in state_dict order); pass get_weights()'s list."
            )
        new_state = {}
        for (key, current), value in zip(state.items(), weights):
            tensor = torch.as_tensor(np.asarray(value))
            if tuple(tensor.shape) != tuple(current.shape):
                raise ValueError(
                    f"set_weights: {key!r} has shape {tuple(current.shape)}, got "
                    f"{tuple(tensor.shape)}."
                )
            new_state[key] = tensor.to(dtype=current.dtype)
        fsdp_lib.load_module_state(self.module, new_state)

    def save_weights(self, filepath: str | os.PathLike, overwrite: bool = True) -> None:
        """Write the module's ``state_dict`` (parameters and buffers) and nothing else.

        The file is a plain ``torch.save`` of it, so ``module.load_state_dict(torch.load(path))``
        reads it without kerasish; ``load_weights`` reads it too. It is written atomically, like
        every kerasish file.

        Args:
            filepath: the file to write; any suffix, and missing folders are created.
            overwrite: replace an existing file (Keras's argument, which Keras's own
                ``ModelCheckpoint`` passes); ``False`` refuses with a ``FileExistsError``.

        Example:
            model.save_weights("weights/final.pt")
        """
        check_overwrite(filepath, overwrite)
        weights = fsdp_lib.full_state_dict(self.module)  # whole, gathered when sharded
        if self.is_main_process or not self.is_sharded:
            atomic_torch_save(weights, filepath)

    def save(self, filepath: str | os.PathLike, overwrite: bool = True, full: bool = False) -> None:
        """Write the whole training state to one torch file, in the format ``BackupAndRestore`` writes.

        The file holds the weights, the optimizer and gradient-scaler states, the state of every
        other optimizer and LR scheduler the model holds as an attribute (a custom
        ``train_step``'s own, by attribute name), the epoch and the batches done in it, the
        optimizer steps, the shuffle seed, the random-number states, the running metric states, a
        half-filled accumulation window, the compile settings and, when called from inside
        ``fit`` (a callback), each callback's ``state_dict()``. It is written to a temporary file
        and moved into place, so a crash never leaves a torn file.

        A sharded model (``distribute="fsdp"``; every rank calls ``save`` together) writes a
        folder instead, each rank its shards (``kerasish.sharded_checkpoint``); it loads with
        ``load_weights`` at any world size, a one-process model included.

        Args:
            filepath: where to write; any suffix, and missing folders are created.
            overwrite: replace an existing file (as for ``save_weights``).
            full: for a sharded model, gather every tensor and write the one file a one-process
                model writes (rank 0 writes it): its ``"module"`` entry is an ordinary
                ``state_dict``, for serving.

        Example:
            model.save("run/state.pt")
            restored = ks.Model(make_net()).compile("adam", "cross_entropy")
            restored.load_weights("run/state.pt")   # weights, optimizer, scaler, epoch
        """
        check_overwrite(filepath, overwrite)
        if not self.is_sharded:
            state_lib.save(self, filepath)
        elif not full:
            sharded_checkpoint.save(self, filepath)
        else:
            state = {"format": state_lib.FORMAT, **self.training_state_dict()}
            state["module"] = fsdp_lib.full_state_dict(self.module)
            if self.optimizer is not None:
                state["optimizer"] = fsdp_lib.full_optimizer_state(self.module, self.optimizer)
            if state.get("accumulation"):
                grads = [fsdp_lib.full_tensor(g) for g in state["accumulation"]["grads"]]
                state["accumulation"] = {**state["accumulation"], "grads": grads}
            if self.is_main_process:
                atomic_torch_save(state, filepath)

    def load_weights(self, filepath: str | os.PathLike) -> None:
        """Load a file written by ``save``, ``save_weights``, ``BackupAndRestore`` or ``torch.save``.

        The weights always load. A full training state also sets ``model.epoch`` and, on a
        compiled model, restores the optimizer and gradient-scaler states, the optimizers and LR
        schedulers held as attributes, and ``model.optimizer_steps``; the next ``fit`` still starts
        at its ``initial_epoch`` (pass ``initial_epoch=model.epoch`` to continue, or resume with
        ``BackupAndRestore``). Files of earlier kerasish versions load too. Everything is checked
        before anything changes. A Keras model's weights saved from an identical model whose
        layers Keras numbered otherwise (``dense_3`` there, ``dense_7`` here) load by the layers'
        order, as Keras's ``.weights.h5`` files do.

        Args:
            filepath: the file to read: a kerasish state, or a bare ``state_dict``.

        Raises:
            FileNotFoundError: there is no file at ``filepath``.
            ValueError: the file is damaged, holds no ``state_dict`` or comes from a newer
                kerasish; its keys or shapes do not match the module; its optimizer state does not
                fit the compiled optimizer (another type, such as AdamW's state for Adam, or
                another shape); or a part is malformed (a weight that is not a tensor, a
                non-integer epoch, garbage optimizer state). The message names the file and the
                part. The model is left as it was.

        Example:
            model.load_weights("ckpt/best.pt")
        """
        try:
            if sharded_checkpoint.is_checkpoint(filepath):
                state = sharded_checkpoint.read(filepath, self)
            else:
                state = state_lib.read(filepath, map_location=self.device)
        except ValueError as error:
            raise ValueError(f"load_weights: {error}") from error.__cause__
        if is_keras_model(self.module) and isinstance(state.get("module"), Mapping):
            state = {**state, "module": keras_layer_names(state["module"], self.module)}
        try:
            state_lib.load_into(self, state, filepath)
        except ValueError as error:
            raise ValueError(f"load_weights: {error}") from error

    # ------------------------------------------------------------------ export

    def export(self, filepath: str | os.PathLike, format: str = "onnx",  # noqa: A002 - Keras's name
               input_signature: Any = None, verbose: bool = True) -> list[str]:
        """Export the module for inference as one ONNX file with its weights inside (Keras 3's name).

        Args:
            filepath: the ``.onnx`` file to write.
            format: ``"onnx"``.
            input_signature: the input shapes (``None`` for a dynamic dimension) or example
                tensors; ``None`` uses ``example_input``, a sample of the last batch ``fit`` saw.
            verbose: print what was written.

        Returns:
            The files written.

        Example:
            model.export("model.onnx", input_signature=(None, 1, 28, 28))
        """
        from kerasish.export import export

        return export(self, filepath, format=format, input_signature=input_signature, verbose=verbose)

    # ------------------------------------------------------------------ summary

    def summary(self, input_shape: ShapeSpec | None = None,
                print_fn: Callable[[str], Any] | None = None, *,
                input_dtype: DtypeSpec = torch.float32, example_input: Any = None) -> None:
        """Print a Keras-style table of layers, output shapes and parameter counts.

        A wrapped Keras model prints Keras's own summary. For a torch module, output shapes come
        from one forward pass in eval mode without gradients, on
        ``example_input``, else on zeros of ``input_shape``, else on one sample of the last batch
        ``fit`` saw; without any, they show as "?".

        Args:
            input_shape: the shape of one sample, without the batch dimension; a list of shapes
                for several positional inputs, a dict of shapes for keyword inputs.
            print_fn: called with the whole table; by default it is printed (nothing on non-zero
                torchrun ranks, ASCII rules where stdout cannot encode Keras's).
            input_dtype: the dtype of the zeros (``torch.long`` for token ids into an
                ``Embedding``): one, or a list / dict matching ``input_shape``.
            example_input: a real batch, passed to the module as ``fit`` passes ``x``.

        Raises:
            ValueError: a malformed ``input_shape`` / ``input_dtype``, or a forward pass that
                failed (the message says which argument to pass).

        Example:
            model.summary(input_shape=(16,), input_dtype=torch.long)
        """
        if is_keras_model(self.module):  # Keras's own table of its layers, as keras_model.summary()
            lines: list[str] = []
            keras_summary = getattr(self.module, "summary")  # noqa: B009 - Keras's, unknown to torch's types
            keras_summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
            text = "\n".join(lines)
        else:
            example = build_example(input_shape, input_dtype, example_input,
                                    seen_input=self._run.example_input, device=self.device)
            text = summarize(self.module, example, call_module)
        if print_fn is None:
            console.print_line(text, model=self)
        else:
            print_fn(text)


# What a model may hold besides ``model.optimizer`` whose state a resume needs.
_HELD_TYPES = (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler,
               torch.optim.lr_scheduler.ReduceLROnPlateau)


class HeldState(NamedTuple):
    """An optimizer or LR scheduler held as an attribute, and the saved state it is to load.

    Args:
        target: the optimizer or LR scheduler.
        state: its saved ``state_dict()``, checked against it.
    """

    target: Any
    state: Mapping[str, Any]


def _held_states(held: Mapping[str, Any], saved: Any, filepath: str | os.PathLike) -> list[HeldState]:
    """Each held optimizer or LR scheduler checked against its entry in the file's ``"owned"``.

    One the file has no entry for (a file written before kerasish saved them, or before the
    attribute was set) keeps its state; an entry for no attribute here is not loaded.
    """
    if saved is None:
        return []
    loads = []
    for name, target in held.items():
        entry = saved.get(name)
        if entry is None:
            continue
        key = f"'owned'[{name!r}]"
        saved_type, state = entry.get("type"), entry.get("state")
        if not isinstance(saved_type, str) or not isinstance(state, Mapping):
            raise state_lib.malformed(filepath, key, "must be a dict with a 'type' name and a 'state' dict")
        here = type(target).__name__
        if saved_type != here:
            raise ValueError(
                f"{os.fspath(filepath)!r} holds the state of model.{name} as saved by {saved_type}, "
                f"and model.{name} is {here} here. Create model.{name} as the {saved_type} the run "
                "that wrote the file had, or load the file before creating it."
            )
        if isinstance(target, torch.optim.Optimizer):
            state_lib.check_optimizer_matches(target, state, filepath, saved_type=saved_type,
                                              key=f"{key}['state']", role=f"model.{name}")
        loads.append(HeldState(target, state))
    return loads


def _window_like(window: Any, module: torch.nn.Module) -> Any:
    """A saved accumulation window with whole gradients cut to a sharded module's shards."""
    if not window or not fsdp_lib.is_sharded(module):
        return window
    params = [p for p in module.parameters() if p.requires_grad]
    return {**window, "grads": [fsdp_lib.shard_like(g, p) for g, p in zip(window["grads"], params)]}


def _check_window(window: Any, params: Sequence[torch.Tensor], accumulation: int,
                  filepath: str | os.PathLike) -> None:
    """A saved half-filled accumulation window fits: fewer batches than a window, and one gradient
    of each parameter's shape (or ``None``) per trainable parameter."""
    if not window:
        return
    state_lib.check_dict(window, "'accumulation'", filepath)
    count, grads = window.get("window"), window.get("grads")
    if not state_lib.is_int(count) or count < 1:
        raise state_lib.malformed(filepath, "'accumulation'['window']",
                                  f"must be a positive integer, found {state_lib.describe(count)}")
    if count >= accumulation:
        raise ValueError(
            f"{os.fspath(filepath)!r} holds a half-filled accumulation window of {count} batches, "
            f"which does not fit this model's gradient_accumulation_steps={accumulation}. Compile with "
            "the gradient_accumulation_steps of the run that wrote the file."
        )
    if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
        raise ValueError(
            f"{os.fspath(filepath)!r}: 'accumulation'['grads'] holds {state_lib.describe(grads)}, not "
            f"one gradient for each of this model's {len(params)} trainable parameters. Load it into "
            "the model, with the same trainable parameters, that wrote it."
        )
    for i, (grad, param) in enumerate(zip(grads, params)):
        if grad is not None and (not isinstance(grad, torch.Tensor) or grad.shape != param.shape):
            raise state_lib.malformed(filepath, f"'accumulation'['grads'][{i}]",
                                      f"must be None or a tensor of shape {tuple(param.shape)}, found "
                                      f"{state_lib.describe(grad)}")
