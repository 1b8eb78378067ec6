"""Does the bf16 fast path learn as well as fp32? Held-out PSNR of the pix2pix demo, both ways.

Runs ``i2i run --method pix2pix`` (the built-in edges -> photo demo) twice from the same seed
for the same number of steps, once with ``--precision bf16`` and once with ``--precision fp32``,
and reads the held-out evaluation each run writes at its end (the ``eval`` record of
``OUT/metrics.jsonl``). The target: bf16's PSNR within 0.3 dB of fp32's::

    python benchmarks/quality_parity.py --steps 800 --seeds 0 1 2 3

Writes ``benchmarks/results/quality_parity.json``. GAN training is chaotic, so one seed is weak
evidence either way; ``--seeds`` repeats the pair and reports the mean difference beside each
precision's spread across seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "quality_parity.json"
TOLERANCE_DB = 0.3


def final_eval(run_dir: Path) -> dict:
    """The last ``eval`` record of a run's metrics.jsonl."""
    evals = [
        json.loads(line)["eval"]
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if line.strip() and "eval" in json.loads(line)
    ]
    if not evals:
        raise RuntimeError(f"{run_dir}: no held-out evaluation in metrics.jsonl")
    return evals[-1]


def train(precision: str, steps: int, seed: int, out: Path) -> tuple[dict, float]:
    cmd = [
        sys.executable,
        "-m",
        "i2i",
        "run",
        "--method",
        "pix2pix",
        "--precision",
        precision,
        "--steps",
        str(steps),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--set",
        "train.sample_every=100000",
        "--set",
        "train.checkpoint_every=100000",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return final_eval(out), time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = "python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/quality_parity.py", *(argv if argv is not None else sys.argv[1:])]
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="i2i-parity-") as tmp:
        for seed in args.seeds:
            row: dict = {"seed": seed}
            for precision in ("fp32", "bf16"):
                metrics, seconds = train(precision, args.steps, seed, Path(tmp) / f"{precision}_{seed}")
                row[precision] = {
                    "psnr": metrics["psnr"],
                    "seconds": round(seconds, 1),
                    "psnr_identity": metrics.get("psnr_identity"),
                    "images": metrics.get("images"),
                }
                print(f"seed {seed} {precision}: held-out PSNR {metrics['psnr']:.3f} dB ({seconds:.0f} s)", flush=True)
            row["bf16_minus_fp32_db"] = row["bf16"]["psnr"] - row["fp32"]["psnr"]
            row["within_tolerance"] = abs(row["bf16_minus_fp32_db"]) <= TOLERANCE_DB
            runs.append(row)
    diffs = [r["bf16_minus_fp32_db"] for r in runs]
    result = {
        "command": command,
        "method": "pix2pix (demo)",
        "steps": args.steps,
        "tolerance_db": TOLERANCE_DB,
        "runs": runs,
        "all_within_tolerance": all(r["within_tolerance"] for r in runs),
        "mean_bf16_minus_fp32_db": statistics.fmean(diffs),
        "mean_within_tolerance": abs(statistics.fmean(diffs)) <= TOLERANCE_DB,
        # how much one precision alone moves from seed to seed: the noise a difference is read against
        "fp32_psnr_stdev_across_seeds": statistics.stdev([r["fp32"]["psnr"] for r in runs]) if len(runs) > 1 else None,
        "bf16_psnr_stdev_across_seeds": statistics.stdev([r["bf16"]["psnr"] for r in runs]) if len(runs) > 1 else None,
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
