"""Where the fast path's time goes: torch.profiler's top ops by self CPU time.

Profiles train steps of a method (default CycleGAN at its paper setting, 256 px, batch 1)
under i2i's default fast path (``train.precision = auto`` + channels_last), built and stepped
by :mod:`benchmarks.harness` exactly as the trainer does. Prints a table of the top ops with
the input shapes of each op's heaviest call site and writes it as JSON::

    python benchmarks/profile_fastpath.py --method cyclegan --steps 1 --mode fast

Not a test; the output feeds the "where the time goes" table in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, cuda_modes, paper_setting, quiet_profiler

RESULTS = Path(__file__).parent / "results"


def top_ops(prof: profile, steps: int, limit: int) -> list[dict]:
    """Ops aggregated by name, sorted by self time (device time on CUDA), each with the input
    shapes of its heaviest call site (shows e.g. which tensors ``copy_`` converts)."""
    rows: dict[str, dict] = defaultdict(lambda: {"self_ms": 0.0, "calls": 0, "top": (0.0, "")})
    for evt in prof.key_averages(group_by_input_shape=True):
        self_us = evt.self_device_time_total if evt.self_device_time_total else evt.self_cpu_time_total
        row = rows[evt.key]
        row["self_ms"] += self_us / 1000.0 / steps
        row["calls"] += evt.count // steps
        if self_us > row["top"][0]:
            row["top"] = (self_us, str(evt.input_shapes))
    total = sum(r["self_ms"] for r in rows.values())
    ranked = sorted(rows.items(), key=lambda kv: -kv[1]["self_ms"])[:limit]
    return [
        {
            "op": op,
            "ms_per_step": round(r["self_ms"], 1),
            "share": round(r["self_ms"] / total, 3),
            "calls_per_step": r["calls"],
            "heaviest_input_shapes": r["top"][1],
        }
        for op, r in ranked
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="cyclegan")
    parser.add_argument("--mode", default="fast", help="fast | fp32_nchw | bf16 | fp16")
    parser.add_argument("--size", type=int, default=None, help="image size (default: the paper's)")
    parser.add_argument("--steps", type=int, default=1, help="profiled steps after one warm-up step")
    parser.add_argument("--limit", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    device = torch.device(args.device)
    modes = {m.name: m for m in (cuda_modes() if device.type == "cuda" else cpu_modes())}
    setting = paper_setting(args.method)
    if args.size:
        setting = type(setting)(
            setting.method,
            args.size,
            setting.batch,
            {k: (args.size if k == "image_size" else v) for k, v in setting.overrides.items()},
        )
    bench = Bench(setting, modes[args.mode], device)
    bench.train_step()  # warm-up: optimizer state, allocator, oneDNN primitive caches
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with quiet_profiler(), profile(activities=activities, record_shapes=True) as prof:
        for _ in range(args.steps):
            bench.train_step()
        bench.sync()
    rows = top_ops(prof, args.steps, args.limit)
    result = {
        "command": command,
        "setting": setting.label(),
        "mode": args.mode,
        "precision": bench.resolved_precision,
        "torch_threads": torch.get_num_threads(),
        "loadavg": os.getloadavg(),
        "top_ops": rows,
    }
    print(command)
    print(f"{setting.label()}, {args.mode} ({bench.resolved_precision}), load {os.getloadavg()[0]:.1f}")
    print(f"{'op':40} {'ms/step':>9} {'share':>6} {'calls':>6}  heaviest call's input shapes")
    for r in rows:
        print(
            f"{r['op']:40} {r['ms_per_step']:9.1f} {r['share']:6.1%} {r['calls_per_step']:6d}  {r['heaviest_input_shapes'][:70]}"
        )
    out = args.out or RESULTS / f"profile_{args.method}_{args.mode}_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
