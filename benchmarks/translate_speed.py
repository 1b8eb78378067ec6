"""``i2i translate`` end to end (decode, network, encode): the default precision against fp32.

Sets up a CycleGAN checkpoint at the paper's size (``resnet_9blocks``, ngf 64, freshly
initialised: speed does not depend on the weights) and N random 256x256 photos, for the two commands to
time as whole processes, alternating (``/usr/bin/time -f %e`` around each)::

    python benchmarks/translate_speed.py --setup /tmp/tbench --images 16
    i2i translate /tmp/tbench/cyclegan.pt /tmp/tbench/in --out /tmp/tbench/o1
    i2i translate /tmp/tbench/cyclegan.pt /tmp/tbench/in --out /tmp/tbench/o2 --precision fp32

``--run`` times both in this process instead (one warm-up pass each, then alternating runs),
and ``--workers 0`` the version without decode/encode threads; ``--without-copies`` adds the
default precision with the translator's bf16 weight copies off (autocast casts each weight for
every batch), that lever's before. ``--png-levels`` times the PNG encoding of the outputs at
each zlib level (``i2i.io.images.PNG_COMPRESS_LEVEL``) on the shipped photos, resized to the
setup's size, and on the setup's first input, with the file sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def setup(root: Path, images: int, size: int, method: str) -> Path:
    import i2i
    from i2i import api
    from i2i.config import run as config_mod
    from i2i.io import checkpoint as ck

    root.mkdir(parents=True, exist_ok=True)
    # a data root makes it the paper's configuration: without one, load_config gives the
    # method's small built-in demo network (as `i2i run` without --data does)
    overrides = {"data.root": str(root / "in"), "data.image_size": size, "data.load_size": size}
    cfg = api.load_config(method=method, overrides=overrides)
    spec = i2i.get_method(method)
    torch.manual_seed(0)
    info = i2i.DataInfo(kind=spec.data_kind)
    model = spec.factory(cfg.method, info)
    payload = {
        "format": ck.FORMAT,
        "version": ck.VERSION,
        "method": method,
        "config": config_mod.to_dict(cfg),
        "data_info": ck.data_info_dict(info),
        "model": model.state_dict(),
        "step": 0,
    }
    path = ck.save_checkpoint(root / f"{method}.pt", payload)
    rng = np.random.default_rng(0)
    (root / "in").mkdir(exist_ok=True)
    for i in range(images):
        # smooth random images compress like photos (noise would make PNG encoding dominate)
        small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(root / "in" / f"{i:03d}.jpg", quality=90)
    return path


def run(root: Path, method: str, repeats: int, workers: int, without_copies: bool = False) -> None:
    import i2i
    from i2i.inference.files import collect_inputs, translate_files

    paths = collect_inputs([str(root / "in")])
    checkpoint = root / f"{method}.pt"
    translators = {p: i2i.load_checkpoint(checkpoint, precision=p) for p in ("auto", "fp32")}
    if without_copies:
        translators["auto_no_copies"] = i2i.load_checkpoint(checkpoint, precision="auto", weight_copies=False)
    timings: dict[str, list[float]] = {name: [] for name in translators}
    for name, t in translators.items():  # warm-up: oneDNN primitive creation
        translate_files(t, paths[:2], root / f"warm_{name}", progress=False, workers=workers)
    for _ in range(repeats):
        for name, t in translators.items():
            start = time.perf_counter()
            translate_files(t, paths, root / f"out_{name}", progress=False, workers=workers)
            timings[name].append(time.perf_counter() - start)
    auto, fp32 = statistics.median(timings["auto"]), statistics.median(timings["fp32"])
    print(
        f"auto = {translators['auto'].precision}: {auto:.2f} s, fp32: {fp32:.2f} s for {len(paths)} images "
        f"(median of {repeats}); speed-up {fp32 / auto:.2f}x; threads {torch.get_num_threads()}, workers {workers}"
    )
    if without_copies:
        casts = statistics.median(timings["auto_no_copies"])
        print(
            f"auto without weight copies: {casts:.2f} s, speed-up {fp32 / casts:.2f}x; copies {casts / auto:.3f}x faster"
        )


def png_levels(root: Path, size: int, levels: tuple[int, ...] = (1, 2, 3, 4, 6, 9), repeats: int = 10) -> None:
    import io

    assets = sorted((Path(__file__).resolve().parents[1] / "i2i" / "data" / "assets").glob("*.jpg"))
    images = {p.stem: Image.open(p).convert("RGB").resize((size, size), Image.BICUBIC) for p in assets}
    first = sorted((root / "in").glob("*.jpg"))[:1]
    images.update({f"input {p.name}": Image.open(p).convert("RGB") for p in first})
    print("level | " + " | ".join(images) + "   (ms per image, KB)")
    for level in levels:
        cells = []
        for image in images.values():
            start = time.perf_counter()
            for _ in range(repeats):
                buffer = io.BytesIO()
                image.save(buffer, format="PNG", compress_level=level)
            cells.append(
                f"{(time.perf_counter() - start) / repeats * 1000:.1f} ms {len(buffer.getvalue()) / 1000:.0f} KB"
            )
        print(f"{level} | " + " | ".join(cells))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", type=Path, required=True, help="folder for the checkpoint and the images")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--method", default="cyclegan")
    parser.add_argument("--run", action="store_true", help="time both precisions in this process")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--without-copies", action="store_true", help="also time auto with weight_copies=False")
    parser.add_argument("--png-levels", action="store_true", help="time PNG encoding at each zlib level")
    args = parser.parse_args(argv)
    if not (args.setup / f"{args.method}.pt").is_file():
        setup(args.setup, args.images, args.size, args.method)
    if args.png_levels:
        png_levels(args.setup, args.size)
    if args.run:
        run(args.setup, args.method, args.repeats, args.workers, args.without_copies)
    else:
        print(
            f"ready: {args.setup / (args.method + '.pt')} and {args.images} images in {args.setup / 'in'}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
