"""Throughput of the data pipeline: worker decoding + device augmentation, in images per second.

Generates a folder of JPEG photos-like images (``trainA/`` + ``trainB/``, 400x300), builds the
unpaired pipeline with the reference preprocessing (``resize_and_crop``: load 286, crop 256,
flip), and times ``loader`` + ``augment`` over a number of batches after a warm-up. One
sample is an A and a B image, so images/s counts both. Not a test: run it by hand::

    python benchmarks/data_pipeline.py --workers 2 --batch-size 8 --batches 40

Prints the command and the result and writes them to ``benchmarks/results/data_pipeline.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from i2i.data import DataConfig, build_data

RESULTS = Path(__file__).parent / "results" / "data_pipeline.json"


def make_folder(root: Path, count: int, size: tuple[int, int] = (400, 300)) -> None:
    """Smooth gradients plus noise: JPEGs of realistic size (a flat colour would decode too fast)."""
    rng = np.random.default_rng(0)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    for domain in "AB":
        folder = root / f"train{domain}"
        folder.mkdir(parents=True)
        for i in range(count):
            phase = rng.uniform(0, 6.28, 3)
            base = np.stack([128 + 100 * np.sin(x / (20 + 7 * c) + y / 31 + phase[c]) for c in range(3)], -1)
            image = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(folder / f"{i:05d}.jpg", quality=90)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64, help="JPEGs per domain")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=40, help="timed batches (after --warmup)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory(prefix="i2i-bench-") as tmp:
        make_folder(Path(tmp), args.images)
        config = DataConfig(
            root=tmp, num_workers=args.workers, image_size=256, load_size=286, preprocess="resize_and_crop", flip=True
        )
        data = build_data(config, "unpaired", batch_size=args.batch_size, seed=0)
        torch.manual_seed(0)
        done, epoch, samples, start = 0, 0, 0, 0.0
        while done < args.warmup + args.batches:
            data.sampler.set_epoch(epoch)
            for raw in data.loader:
                batch = data.augment(raw, device)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                done += 1
                if done == args.warmup:
                    start = time.perf_counter()
                elif done > args.warmup:
                    samples += len(batch)
                if done >= args.warmup + args.batches:
                    break
            epoch += 1
        seconds = time.perf_counter() - start

    result = {
        "command": command,
        "images_per_second": round(2 * samples / seconds, 1),  # an A and a B image per sample
        "samples_per_second": round(samples / seconds, 1),
        "batches": args.batches,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "crop": 256,
        "load_size": 286,
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    print(command)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
