"""StarGAN at 64 px: the critic depth's cost, fp32 NCHW and the fast path, interleaved.

Issue #21's trap: with the reference's ``d_repeat_num = 6`` (right for its 128 px) a 64 px run
ends its critic in a 1024->2048 4x4 conv on a 2x2 map (33.5M weights) with a 1x1 output.
This times StarGAN's train steps at the paper's widths (64), batch 16, 64 px, for each depth
in ``--depths`` and each mode (fp32 NCHW, i2i's fast path), built and stepped by
:mod:`benchmarks.harness` exactly as the trainer does. Repetitions of one ``n_critic`` cycle
(4 critic-only steps + 1 with the generator update) run interleaved across the configurations,
in one process, so all see the same load; medians are reported::

    python benchmarks/critic_depth.py --reps 3

``--threads`` sets torch's thread count (on a machine shared with other jobs, 2 threads wait
for each other at every op's barrier; 1 thread measures the work, not the scheduler).
Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, Setting, cpu_modes, steps_per_cycle

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[5, 6])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "cpu_stargan_critic_depth.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    benches = {}
    for depth in args.depths:
        for mode in cpu_modes():
            setting = Setting("stargan", args.size, args.batch, {"image_size": args.size, "d_repeat_num": depth})
            bench = Bench(setting, mode, torch.device("cpu"))
            for _ in range(steps_per_cycle(bench)):  # warm-up: optimizer state, oneDNN primitives
                bench.train_step()
            benches[(depth, mode.name)] = bench
    times: dict[tuple[int, str], list[float]] = {key: [] for key in benches}
    for _ in range(args.reps):
        for key, bench in benches.items():
            start = time.perf_counter()
            for _ in range(steps_per_cycle(bench)):
                bench.train_step()
            times[key].append((time.perf_counter() - start) / steps_per_cycle(bench))
    rows = []
    for (depth, mode), ts in times.items():
        rows.append({"d_repeat_num": depth, "mode": mode, "s_per_step": round(statistics.median(ts), 3), "reps": ts})
        print(
            f"d_repeat_num {depth}  {mode:10}  {statistics.median(ts):7.3f} s/step  (reps {', '.join(f'{t:.2f}' for t in ts)})"
        )
    result = {
        "command": "python "
        + " ".join(shlex.quote(a) for a in ["benchmarks/critic_depth.py", *(argv or sys.argv[1:])]),
        "setting": f"stargan {args.size}px batch {args.batch}, paper widths",
        "threads": torch.get_num_threads(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("load average before", load_before, "after", result["loadavg_after"], "->", args.out)
    return result


if __name__ == "__main__":
    main()
