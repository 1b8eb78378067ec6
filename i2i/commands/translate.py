"""``i2i translate CKPT INPUT... --out DIR``: translate image files with a trained checkpoint.

The checkpoint describes its method, so there are no architecture flags. Inputs are files,
folders (their images, not recursive) or glob patterns; outputs keep the input's file stem
and size and are PNGs written atomically (an interrupted run never leaves a torn file, and
an existing output is replaced whole or not at all). Method options (``--direction``,
``--target``, ``--samples``/``--seed``/``--reference``, or ``--option KEY=VALUE`` for a
third-party method) are handed to ``method.translate_variants``; one the method does not
take is an error listing those it does.
"""

from __future__ import annotations

import glob
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import click

from i2i.outputs import removed_if_left_empty
from i2i.errors import UsageError

_GLOB_CHARS = set("*?[")


def collect_inputs(items: Sequence[str]) -> list[Path]:
    """Files, folders and glob patterns -> image files, in argument order, each once.

    A named path that does not exist is a warning (the rest go on); nothing at all is an error.
    """
    from i2i.data.files import is_image_name

    found: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for item in items:
        path = Path(item)
        if path.is_dir():
            images = sorted((p for p in path.iterdir() if p.is_file() and is_image_name(p.name)), key=lambda p: p.name)
            if not images:
                warnings.warn(f"no images in folder {item}")
            for image in images:
                add(image)
        elif path.is_file():
            add(path)
        elif _GLOB_CHARS & set(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            matches = [m for m in matches if m.is_file() and is_image_name(m.name)]
            if not matches:
                warnings.warn(f"no images match {item!r}")
            for match in matches:
                add(match)
        else:
            warnings.warn(f"input {item} does not exist; skipping it")
    if not found:
        raise UsageError(f"no input images found in {', '.join(items) or 'the arguments'}")
    return found


def output_stems(paths: Sequence[Path]) -> list[str]:
    """Each input's file stem; a stem seen before gets its extension (then a number) appended,
    so ``a.jpg`` and ``a.png`` never overwrite each other's output."""
    used: set[str] = set()
    stems = []
    for path in paths:
        stem = path.stem
        if stem in used:
            stem = f"{path.stem}_{path.suffix.lstrip('.')}" if path.suffix else path.stem
            n = 2
            base = stem
            while stem in used:
                stem, n = f"{base}_{n}", n + 1
        used.add(stem)
        stems.append(stem)
    return stems


def variant_name(stem: str, key: str) -> str:
    """File stem of one named output: ``""`` -> ``stem``; ``"Male"`` -> ``stem_Male``."""
    if not key:
        return stem
    safe = "".join(c if c.isalnum() or c in "-_.+=" else "-" for c in key)
    return f"{stem}{safe}" if safe[0] in "-_." else f"{stem}_{safe}"


def _parse_option(item: str) -> tuple[str, Any]:
    from i2i.config import parse_override

    key, value = parse_override(item)
    return key.replace("-", "_"), value


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _grid(images: Iterable[Any]) -> Any:
    """Images side by side (grey ones as RGB when mixed), separated by a 2-pixel white gap."""
    import torch

    images = [img.float() for img in images]
    channels = max(img.shape[0] for img in images)
    parts = []
    for img in images:
        img = img.expand(channels, -1, -1) if img.shape[0] == 1 else img
        parts += [img, torch.ones(channels, img.shape[1], 2)]
    return torch.cat(parts[:-1], dim=2)


@click.command("translate")
@click.argument("checkpoint", type=click.Path(dir_okay=True))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Output folder (created).")
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(min=1), help="Images per forward pass.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["auto", "fp32", "bf16", "fp16"]))
@click.option("--size", type=click.IntRange(min=1), help="Resize the shorter side to N for the network (outputs keep the input size).")
@click.option("--fit", default="pad", show_default=True, type=click.Choice(["pad", "resize"]),
              help="Reach the network's size multiple by reflect-padding (then cropping) or by resizing.")  # fmt: skip
@click.option("--keep-16bit", is_flag=True, help="Write 16-bit PNGs for 16-bit inputs (8-bit inputs stay 8-bit).")
@click.option("--direction", help="CycleGAN-style methods: a2b or b2a.")
@click.option("--target", help="StarGAN: target domain name(s), comma-separated, or 'all' (one output per domain and a grid).")
@click.option("--source-labels", help="StarGAN attributes: the attributes the inputs have (comma-separated).")
@click.option("--samples", type=click.IntRange(min=1), help="Augmented CycleGAN: outputs per input.")
@click.option("--seed", type=int, help="Seed for sampled latents (reproducible --samples).")
@click.option("--reference", type=click.Path(dir_okay=False), help="Augmented CycleGAN: take the style of this target-domain image.")
@click.option("--option", "extra", multiple=True, metavar="KEY=VALUE", help="Any other translate option of the method.")
@click.option("--html", is_flag=True, help="Also write OUT/index.html, a static gallery of inputs and outputs.")
@click.option("--targets", type=click.Path(file_okay=False, exists=True), help="Folder of ground-truth images (same stems) to show in the gallery.")
@click.option("--raw-weights", is_flag=True, help="Use the generators' raw weights, not their EMA, when the run kept one.")
def translate(checkpoint: str, inputs: tuple[str, ...], out: str, batch_size: int, device: str, precision: str,
              size: int | None, fit: str, keep_16bit: bool, direction: str | None, target: str | None,
              source_labels: str | None, samples: int | None, seed: int | None, reference: str | None, extra: tuple[str, ...], html: bool,
              targets: str | None, raw_weights: bool) -> None:  # fmt: skip
    """Translate image files (files, folders or globs) with the method stored in CHECKPOINT.

    \b
    i2i translate runs/cyclegan/last.pt photos/ --out out/ --direction b2a
    i2i translate runs/stargan/last.pt 'faces/*.jpg' --out out/ --target all --html
    i2i translate runs/augcyclegan/last.pt edges/ --out out/ --samples 4 --seed 0
    """
    from i2i.inference import load_checkpoint

    options: dict[str, Any] = dict(_parse_option(item) for item in extra)
    options.update({k: v for k, v in
                    {"direction": direction, "target": target, "source_labels": source_labels,
                     "samples": samples, "seed": seed}.items()
                    if v is not None})  # fmt: skip
    translator = load_checkpoint(checkpoint, device=device, precision=precision, prefer_ema=not raw_weights)
    translator.check_options({**options, **({"reference": reference} if reference else {})})
    paths = collect_inputs(inputs)
    if reference:
        options["reference"] = _load_reference(translator, reference, options)
    with removed_if_left_empty(Path(out)):  # a failed command leaves no empty output folder behind
        written = translate_files(translator, paths, Path(out), batch_size=batch_size, size=size, fit=fit,
                                  keep_16bit=keep_16bit, options=options, html=html,
                                  targets=Path(targets) if targets else None)  # fmt: skip
    click.echo(f"wrote {written} image(s) to {out}" + (f" (gallery: {Path(out) / 'index.html'})" if html else ""))


def _load_reference(translator: Any, path: str, options: dict[str, Any]) -> Any:
    """The reference is an image of the *output* domain (B, or A when translating b2a)."""
    from i2i.data.decode import BadImageError
    from i2i.image_io import read_image
    from i2i.inference import BACKWARD

    info = translator.data_info
    channels = info.channels_a if options.get("direction") in BACKWARD else info.channels_b
    try:
        image, _ = read_image(path, channels)
    except BadImageError as exc:
        raise UsageError(f"--reference {path}: cannot read image ({exc})") from None
    return image[None] * 2 - 1


def translate_files(translator: Any, paths: Sequence[Path], out: Path, *, batch_size: int = 4, size: int | None = None,
                    fit: str = "pad", keep_16bit: bool = False, options: dict[str, Any] | None = None,
                    html: bool = False, targets: Path | None = None, progress: bool = True) -> int:  # fmt: skip
    """Translate ``paths`` into ``out``; returns the number of PNGs written (grids included).

    Images are read ``batch_size`` at a time; those of one size run as one batch.
    """
    import torch

    from i2i.data.decode import BadImageError
    from i2i.image_io import read_image, write_png

    options = dict(options or {})
    out.mkdir(parents=True, exist_ok=True)
    channels = translator.input_channels(**options)
    stems = output_stems(paths)
    rows: list[Any] = []
    written = 0
    with click.progressbar(length=len(paths), label="translating", file=click.get_text_stream("stderr")) as bar:
        for chunk in _chunks(list(zip(paths, stems)), batch_size):
            loaded = []
            for path, stem in chunk:
                try:
                    image, bits = read_image(path, channels, keep_16bit=keep_16bit)
                except (BadImageError, OSError) as exc:
                    warnings.warn(f"skipping unreadable image {path}: {exc}")
                    continue
                loaded.append((path, stem, image, bits))
            groups: dict[tuple[int, ...], list[Any]] = {}
            for item in loaded:
                groups.setdefault(tuple(item[2].shape), []).append(item)
            for group in groups.values():
                batch = torch.stack([item[2] for item in group]) * 2 - 1
                outputs = translator.run(batch, size=size, fit=fit, **options)
                for i, (path, stem, image, bits) in enumerate(group):
                    cells = []
                    for key, value in outputs.items():
                        name = variant_name(stem, key)
                        write_png(out / f"{name}.png", (value[i] + 1) / 2, bits)
                        written += 1
                        cells.append((key or "output", str(out / f"{name}.png")))
                    if len(outputs) > 1:
                        grid = _grid([image] + [(v[i] + 1) / 2 for v in outputs.values()])
                        write_png(out / f"{stem}_grid.png", grid, bits)
                        written += 1
                    if html:
                        rows.append(_gallery_row(out, path, stem, image, cells, targets))
            if progress:
                bar.update(len(chunk))
    if html:
        from i2i.report_gallery import write_gallery

        meta = f"{translator.method_name} checkpoint {translator.source} (step {translator.step})"
        write_gallery(out / "index.html", rows, title=f"i2i translate: {translator.method_name}", meta=meta)
    if written == 0:
        raise UsageError("none of the inputs could be read as an image")
    return written


def _gallery_row(out: Path, path: Path, stem: str, image: Any, cells: list[tuple[str, str]], targets: Path | None) -> Any:
    """The input as the browser can show it (a PNG copy: TIFF and 16-bit inputs are not), the
    outputs, and the ground truth with the same stem when a targets folder was given."""
    from i2i.data.files import IMAGE_EXTENSIONS
    from i2i.image_io import write_png
    from i2i.report_gallery import GalleryRow

    shown = out / "_inputs" / f"{stem}.png"
    write_png(shown, image, 8)
    row = [("input", str(shown)), *cells]
    if targets is not None:
        for ext in IMAGE_EXTENSIONS:
            for candidate in (targets / f"{path.stem}{ext}", targets / f"{path.stem}{ext.upper()}"):
                if candidate.is_file():
                    row.append(("target", str(candidate)))
                    break
            else:
                continue
            break
    return GalleryRow(name=path.name, cells=row)


__all__ = ["translate", "translate_files", "collect_inputs", "output_stems", "variant_name"]
