"""The loop-overhead suite: kerasish, hand-written loops and peer libraries, side by side.

    pip install -e ".[bench]"
    python benchmarks/suite.py                      # all workloads and contenders, 3 rounds
    python benchmarks/suite.py --rounds 5 --workloads tiny_mlp --results benchmarks/RESULTS.md

Each (workload, contender) trains in its own process; within a round the contenders run one after
another (A B C ... A B C ...), so slow drift in machine load spreads over all of them. A process
reports the median seconds per step over its timed epochs, its fastest epoch and its peak RSS; the
table gives the median over rounds, the ratio to the ideal hand-written loop measured in the same
run, and peak RSS. Contenders whose library is missing are skipped and listed.

On a shared or noisy machine interference only ever adds time, so the fastest epoch over all
rounds is the steadier estimate of what a loop costs; the table gives it beside the median, and
the spread of the ideal loop's per-round medians says how far the median columns can be trusted.
Slow drift in load cancels when two contenders of the same round are compared, so a head-to-head
table counts, for each kerasish row and each peer library, the rounds in which kerasish was
faster, with the chance of a count at least that high if neither were faster (a one-sided sign
test) and the median over rounds of the two contenders' ratio.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys

import torch

from contenders import CONTENDERS, CUDA_DEFAULT_ONLY, OPT_IN, PEERS
from workloads import TIMED_EPOCHS, WORKLOADS

HERE = os.path.dirname(os.path.abspath(__file__))


def run_child(workload: str, contender: str) -> None:
    per_step = CONTENDERS[contender](WORKLOADS[workload])
    if len(per_step) != TIMED_EPOCHS:
        raise RuntimeError(f"{contender} timed {len(per_step)} epochs, not {TIMED_EPOCHS}")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"per_step": statistics.median(per_step), "best": min(per_step),
                      "peak_rss_mb": peak_rss_mb}))


def measure(workload: str, contender: str, device: str) -> dict | str:
    env = {**os.environ, "PYTHONPATH": HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "KERASISH_BENCH_DEVICE": device}
    result = subprocess.run([sys.executable, os.path.join(HERE, "suite.py"), "--child", workload,
                             contender], capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        if "ModuleNotFoundError" in result.stderr or "ImportError" in result.stderr:
            return "not installed"
        return "failed: " + result.stderr.strip().splitlines()[-1][:200]
    return json.loads(result.stdout.strip().splitlines()[-1])


def device_name(device: str = "cpu") -> str:
    if device.startswith("cuda"):
        return (f"GPU: {torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, "
                f"torch {torch.__version__}; host {os.cpu_count()} cores")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU: {cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({threads} threads)"


def table(results: dict, workloads: list[str], contenders: list[str]) -> str:
    lines = []
    for workload in workloads:
        spec = WORKLOADS[workload]
        lines += [f"### {workload} (batch {spec.batch_size}, {spec.steps_per_epoch} steps/epoch)", ""]
        runs = results[workload]
        ideal = runs.get("ideal")
        base = summarize(ideal) if isinstance(ideal, list) else None
        if base is not None and len(ideal) > 1:
            lines += [f"The ideal loop's per-round medians spread {base['spread']:.0%} "
                      "((max - min) / median): median ratios closer to 1 than that are noise.", ""]
        lines += ["| contender | us/step (median) | ratio to ideal | us/step (best epoch) | best ratio "
                  "| peak RSS MB | RSS vs ideal |", "|---|---:|---:|---:|---:|---:|---:|"]
        for contender in contenders:
            rows = runs.get(contender)
            if not isinstance(rows, list):
                lines.append(f"| {contender} | {rows} | | | | | |")
                continue
            row = summarize(rows)
            ratios = [f"{row[k] / base[k]:.3f}" if base else "-" for k in ("step", "best", "rss")]
            lines.append(f"| {contender} | {row['step'] * 1e6:.1f} | {ratios[0]} | {row['best'] * 1e6:.1f} "
                         f"| {ratios[1]} | {row['rss']:.0f} | {ratios[2]} |")
        lines.append("")
        lines += head_to_head(runs, contenders)
    return "\n".join(lines)


def head_to_head(runs: dict, contenders: list[str]) -> list[str]:
    """Rounds each kerasish row beat each peer, paired within rounds (see the module docstring)."""
    measured = {c: r for c, r in runs.items() if c in contenders and isinstance(r, list)}
    ours = [c for c in measured if c.startswith("kerasish")]
    peers = [c for c in PEERS if c in measured]
    rounds = min((len(r) for r in measured.values()), default=0)
    if not ours or not peers or rounds < 2:
        return []
    lines = [f"Head to head over {rounds} rounds: rounds kerasish was faster / rounds (one-sided "
             "sign-test p), median per-round ratio of kerasish's time to the peer's.", "",
             "| contender | " + " | ".join(peers) + " |", "|---|" + "---:|" * len(peers)]
    for name in ours:
        cells = []
        for peer in peers:
            ratios = [a["per_step"] / b["per_step"] for a, b in zip(measured[name], measured[peer])]
            wins = sum(r < 1 for r in ratios)
            p = sign_test(wins, rounds)
            cells.append(f"{wins}/{rounds} (p={p:.3f}), {statistics.median(ratios):.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def sign_test(wins: int, rounds: int) -> float:
    """P(at least ``wins`` of ``rounds`` fair coin flips come up heads)."""
    return sum(math.comb(rounds, k) for k in range(wins, rounds + 1)) / 2 ** rounds


def summarize(rows: list[dict]) -> dict[str, float]:
    """Median step time over rounds, fastest epoch of all rounds, median peak RSS, and the spread."""
    steps = [r["per_step"] for r in rows]
    step = statistics.median(steps)
    return {"step": step, "best": min(r.get("best", r["per_step"]) for r in rows),
            "rss": statistics.median(r["peak_rss_mb"] for r in rows),
            "spread": (max(steps) - min(steps)) / step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS),
                        help="default: all (kerasish_jit and kerasish_bf16 only on CUDA; "
                             "kerasish_fsdp, 2 processes, only when named)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda; data and models go there")
    parser.add_argument("--json", default=os.path.join(HERE, "results", "results.json"))
    parser.add_argument("--results", help="also write the markdown table to this file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return
    if args.contenders is None:
        on_cuda = args.device.startswith("cuda")
        args.contenders = [c for c in CONTENDERS
                           if (on_cuda or c not in CUDA_DEFAULT_ONLY) and c not in OPT_IN]

    results: dict[str, dict] = {w: {} for w in args.workloads}
    for round_index in range(args.rounds):
        for workload in args.workloads:
            for contender in args.contenders:
                if isinstance(results[workload].get(contender), str):
                    continue  # not installed or failed once: do not retry
                outcome = measure(workload, contender, args.device)
                if isinstance(outcome, str):
                    results[workload][contender] = outcome
                else:
                    results[workload].setdefault(contender, []).append(outcome)
                print(f"round {round_index + 1} {workload:10s} {contender:20s} {outcome}",
                      file=sys.stderr, flush=True)
    header = (f"Measured {datetime.date.today().isoformat()} on {device_name(args.device)}; "
              f"{args.rounds} rounds, medians; each contender in its own process, interleaved.\n")
    report = header + "\n" + table(results, args.workloads, args.contenders)
    print(report)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"device": device_name(args.device), "results": results}, handle, indent=2)
    if args.results:
        with open(args.results, "w") as handle:
            handle.write("# Benchmark results\n\n" + report)


if __name__ == "__main__":
    main()
