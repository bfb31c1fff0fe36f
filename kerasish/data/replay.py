"""Order replay: the random states a pass's order is drawn from, saved so that a resumed epoch
reads its batches in the order the interrupted run drew them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def loader_generators(data: Any) -> list[torch.Generator]:
    """The generators a DataLoader draws its order from besides the global RNG (own or sampler's)."""
    found: list[torch.Generator] = []
    candidates = [getattr(data, "generator", None)]
    for sampler in (getattr(data, "sampler", None),
                    getattr(getattr(data, "batch_sampler", None), "sampler", None)):
        candidates.append(getattr(sampler, "generator", None))
    for generator in candidates:
        if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
            found.append(generator)
    return found


def order_rng_state(generators: list[torch.Generator]) -> dict[str, Any]:
    """The random states an epoch's order is drawn from: torch's CPU RNG and the loader's own."""
    return {"torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators]}


def replay_draws(state: Mapping[str, Any], generators: list[torch.Generator], draw) -> Any:
    """Run ``draw()`` with the random states of ``state`` and return its result.

    Used to rebuild an interrupted epoch's order: the global RNG is put back afterwards (it holds
    the resumed run's state), the loader's own generators are left where the draw took them, as an
    uninterrupted run leaves them.
    """
    current = torch.get_rng_state()
    torch.set_rng_state(state["torch"].cpu())
    for generator, saved in zip(generators, state["generators"]):
        generator.set_state(saved.cpu())
    try:
        return draw()
    finally:
        torch.set_rng_state(current)
