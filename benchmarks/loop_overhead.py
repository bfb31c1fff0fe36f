"""The headline figure: kerasish ``fit(verbose=0)`` against the ideal hand-written loop.

Both train the suite's tiny MLP (32-32-10, batch 64, Adam) on the same in-memory tensors; the
ideal loop indexes them with a permutation and never syncs with the host, so nothing a training
loop can do is cheaper. This is ``suite.py`` cut down to those two contenders and more rounds:
each run is its own process, the two alternate (A B A B ...), and the ratio is taken of the
medians and of the fastest epochs.

    python benchmarks/loop_overhead.py               # 5 rounds
    python benchmarks/loop_overhead.py --rounds 9 --json results.json
"""

from __future__ import annotations

import argparse
import json

from suite import measure, summarize

CONTENDERS = ("ideal", "kerasish_tensor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
    for _ in range(args.rounds):
        for name in CONTENDERS:
            outcome = measure("tiny_mlp", name, args.device)
            if isinstance(outcome, str):
                raise SystemExit(f"{name}: {outcome}")
            runs[name].append(outcome)
    ideal, ours = (summarize(runs[name]) for name in CONTENDERS)
    print("| contender | us/step (median) | ratio | us/step (best epoch) | best ratio |")
    print("|---|---:|---:|---:|---:|")
    for name in CONTENDERS:
        row = summarize(runs[name])
        print(f"| {name} | {row['step'] * 1e6:.1f} | {row['step'] / ideal['step']:.3f} "
              f"| {row['best'] * 1e6:.1f} | {row['best'] / ideal['best']:.3f} |")
    print(f"\nkerasish / ideal = {ours['step'] / ideal['step']:.3f} (medians), "
          f"{ours['best'] / ideal['best']:.3f} (best epochs); target <= 1.05; {args.rounds} rounds; "
          f"the ideal loop's rounds spread {ideal['spread']:.0%}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(runs, handle, indent=2)


if __name__ == "__main__":
    main()
