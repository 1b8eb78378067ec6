"""Translating image files into a folder: what ``i2i translate`` does, as a library function.

Inputs are files, folders (their images, not recursive) or glob patterns; outputs keep the
input's file stem and size and are PNGs written atomically (an interrupted run never leaves a
torn file, and an existing output is replaced whole or not at all). An output folder that
holds inputs is refused, so no input is ever overwritten. 16-bit inputs give 16-bit outputs.
An image that cannot be read or translated (too small for the network, too large for memory,
no row in a per-image label file) is reported and the others go on.
"""

from __future__ import annotations

import glob
import sys
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import attrs
import click
import torch

from i2i.data.decode import BadImageError
from i2i.data.files import IMAGE_EXTENSIONS, is_image_name
from i2i.errors import UsageError
from i2i.inference.gallery import GalleryRow, write_gallery
from i2i.inference.sizes import check_size_flag
from i2i.io.images import read_image, write_png

_GLOB_CHARS = set("*?[")


def collect_inputs(items: Sequence[str]) -> list[Path]:
    """Files, folders and glob patterns -> image files, in argument order, each once.

    A named path that does not exist is a warning (the rest go on); nothing at all is an error.
    """

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
                warnings.warn(f"no images in folder {item}", stacklevel=2)
            for image in images:
                add(image)
        elif path.is_file():
            add(path)
        elif _GLOB_CHARS & set(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            matches = [m for m in matches if m.is_file() and is_image_name(m.name)]
            if not matches:
                warnings.warn(f"no images match {item!r}", stacklevel=2)
            for match in matches:
                add(match)
        else:
            warnings.warn(f"input {item} does not exist; skipping it", stacklevel=2)
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


def check_out_folder(out: Path, paths: Sequence[Path]) -> None:
    """Refuse an output folder that holds input images: their outputs (same stem, ``.png``)
    and the gallery could overwrite them, and a second run would take the outputs as inputs."""
    target = out.expanduser().resolve()
    for path in paths:
        if path.resolve().parent == target:
            raise UsageError(
                f"--out {out}: holds the input image {path.name}; write the outputs to another folder "
                "(i2i never writes over its inputs)"
            )


@attrs.frozen
class FileJob:
    """One input file: its path, the stem its outputs get, and (once read) the image."""

    path: Path
    stem: str
    image: Any = None  # (C, H, W) float in [0, 1]
    bits: int = 8


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _grid(images: Iterable[Any]) -> Any:
    """Images side by side (grey ones as RGB when mixed), separated by a 2-pixel white gap."""
    images = [img.float() for img in images]
    channels = max(img.shape[0] for img in images)
    parts = []
    for img in images:
        img = img.expand(channels, -1, -1) if img.shape[0] == 1 else img
        parts += [img, torch.ones(channels, img.shape[1], 2)]
    return torch.cat(parts[:-1], dim=2)


def split_pair(image: torch.Tensor, half: str) -> torch.Tensor:
    """The ``left`` (A) or ``right`` (B) half of a side-by-side ``A|B`` image."""
    width = image.shape[-1] // 2
    return image[..., :width] if half == "left" else image[..., width : 2 * width]


def translate_files(
    translator: Any,
    paths: Sequence[Path],
    out: Path,
    *,
    batch_size: int = 4,
    size: int | None = None,
    fit: str = "pad",
    keep_16bit: bool = True,
    options: dict[str, Any] | None = None,
    html: bool = False,
    targets: Path | None = None,
    progress: bool = True,
    split: str | None = None,
    warn_pair: Callable[[torch.Tensor], bool] | None = None,
    workers: int = 2,
) -> int:
    """Translate ``paths`` into ``out``; returns the number of PNGs written (grids included).

    Images are read ``batch_size`` at a time; those of one size run as one batch. ``split``
    (``"left"``/``"right"``) takes that half of side-by-side ``A|B`` inputs. 16-bit inputs are
    written at 16 bits unless ``keep_16bit=False``. An image that fails is a warning naming it;
    the rest go on, and the error is raised only when nothing could be written, or at once when
    the first two images fail with the same :class:`UsageError` (a value the method refuses for
    every image, which no declared ``check`` caught). With
    ``workers`` > 0, the next batch is decoded and the last one's PNGs encoded in threads while
    the network runs (Pillow, zlib and torch release the GIL); 0 does everything in turn.
    """

    options = dict(options or {})
    check_size_flag(size, int(getattr(translator.method, "size_multiple", 1) or 1))
    check_out_folder(out, paths)
    translator.method_options(options)  # bad options and unreadable option files fail before any output
    out.mkdir(parents=True, exist_ok=True)
    job = _Job(
        translator,
        out,
        size=size,
        fit=fit,
        options=options,
        html=html,
        targets=targets,
        channels=translator.input_channels(**options),
        keep_16bit=keep_16bit,
        split=split,
        warn_pair=warn_pair,
    )
    chunks = list(_chunks(list(zip(paths, output_stems(paths))), batch_size))
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 0 else None
    job.pool = pool
    try:
        with click.progressbar(length=len(paths), label="translating", file=sys.stderr) as bar:
            ahead = pool.submit(job.read, chunks[0]) if pool and chunks else None
            for i, chunk in enumerate(chunks):
                loaded = ahead.result() if ahead is not None else job.read(chunk)
                if pool and i + 1 < len(chunks):
                    ahead = pool.submit(job.read, chunks[i + 1])  # decoded while this batch runs
                job.translate(loaded)
                job.drain(limit=2 * batch_size)
                if progress:
                    bar.update(len(chunk))
            job.drain(limit=0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    if job.written == 0 and len(set(job.reasons)) == 1:  # one cause for every input: say it plainly
        raise UsageError(job.reasons[0])
    job.say_held()
    job.warn_failures()
    if html:
        meta = f"{translator.method_name} checkpoint {translator.source} (step {translator.step})"
        write_gallery(out / "index.html", job.rows, title=f"i2i translate: {translator.method_name}", meta=meta)
    if job.written == 0:
        raise UsageError("none of the inputs could be read and translated (see the warnings above)")
    return job.written


class _Job:
    """The state of one :func:`translate_files` call: reading, translating, writing."""

    def __init__(self, translator: Any, out: Path, **settings: Any) -> None:
        self.translator, self.out = translator, out
        self.settings = settings
        self.rows: list[Any] = []
        self.written = 0
        self.failures: list[str] = []
        self.reasons: list[str] = []  # why each failed image failed
        self.held: list[str] = []  # failures not yet warned of (see run)
        self.pending: list[Future[Any]] = []
        self.pool: ThreadPoolExecutor | None = None
        self.warned_pair = False

    def read(self, chunk: Sequence[tuple[Path, str]]) -> list[FileJob | str]:
        """Decode one chunk (in a worker thread): a :class:`FileJob` or a warning per file."""

        s = self.settings
        loaded: list[FileJob | str] = []
        for path, stem in chunk:
            try:
                image, bits = read_image(path, s["channels"], keep_16bit=s["keep_16bit"])
            except (BadImageError, OSError) as exc:
                loaded.append(f"skipping unreadable image {path}: {exc}")
                continue
            if s["split"]:
                image = split_pair(image, s["split"])
            elif s["warn_pair"] is not None and not self.warned_pair and s["warn_pair"](image):
                self.warned_pair = True
                loaded.append(
                    f"{path.name} is {image.shape[-1]}x{image.shape[-2]}, a side-by-side A|B pair like the "
                    "training data: pass --split left (or right) to translate one half"
                )
            loaded.append(FileJob(path, stem, image, bits))
        return loaded

    def translate(self, loaded: list[FileJob | str]) -> None:
        groups: dict[tuple[int, ...], list[FileJob]] = {}
        for item in loaded:
            if isinstance(item, str):
                warnings.warn(item, stacklevel=2)
                continue
            groups.setdefault(tuple(item.image.shape), []).append(item)
        for group in groups.values():
            self.run(group)

    def run(self, group: list[FileJob]) -> None:
        s = self.settings
        batch = torch.stack([job.image for job in group]) * 2 - 1
        try:
            outputs = self.translator.run(
                batch, size=s["size"], fit=s["fit"], names=[job.path.name for job in group], **s["options"]
            )
        except (UsageError, RuntimeError, ValueError, MemoryError) as exc:
            if len(group) > 1:  # find the image at fault: one at a time
                for job in group:
                    self.run([job])
                return
            self.reasons.append(_reason(exc))
            self.failures.append(f"cannot translate {group[0].path}: {self.reasons[-1]}")
            if isinstance(exc, UsageError) and self.written == 0:
                if len(self.reasons) >= 2 and len(set(self.reasons)) == 1:
                    # the same mistake for the first images: the call's options, not the images
                    raise UsageError(self.reasons[0]) from None
                self.held.append(self.failures[-1])  # said once the other images show it is this one's
                return
            self.say_held()
            warnings.warn(self.failures[-1], stacklevel=2)
            return
        self.say_held()
        for i, job in enumerate(group):
            self.write(job, outputs, i)

    def say_held(self) -> None:
        """Warn of the failures held back while they could still be the options' fault."""
        for failure in self.held:
            warnings.warn(failure, stacklevel=3)
        self.held.clear()

    def write(self, job: FileJob, outputs: dict[str, torch.Tensor], i: int) -> None:
        cells = []
        for key, value in outputs.items():
            name = variant_name(job.stem, key)
            self.save(self.out / f"{name}.png", (value[i] + 1) / 2, job.bits)
            cells.append((key or "output", str(self.out / f"{name}.png")))
        if len(outputs) > 1:
            grid = _grid([job.image] + [(v[i] + 1) / 2 for v in outputs.values()])
            self.save(self.out / f"{job.stem}_grid.png", grid, job.bits)
        if self.settings["html"]:
            self.rows.append(_gallery_row(self.out, job, cells, self.settings["targets"]))

    def save(self, path: Path, image: torch.Tensor, bits: int) -> None:
        self.written += 1
        if self.pool is None:
            write_png(path, image, bits)
        else:
            self.pending.append(self.pool.submit(write_png, path, image, bits))

    def drain(self, limit: int) -> None:
        """Wait for PNG writes until at most ``limit`` are in flight; a write error is raised here."""
        while len(self.pending) > limit:
            self.pending.pop(0).result()

    def warn_failures(self) -> None:
        if len(self.failures) > 1:
            warnings.warn(
                f"{len(self.failures)} image(s) could not be translated (listed above); the others were written",
                stacklevel=2,
            )


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if (
        isinstance(exc, (torch.OutOfMemoryError, MemoryError))
        or "out of memory" in text.lower()
        or "can't allocate" in text.lower()
    ):
        return "out of memory at this size; pass --size N or a smaller --batch-size"
    return text if isinstance(exc, UsageError) else f"{type(exc).__name__}: {text}"


def _gallery_row(out: Path, job: FileJob, cells: list[tuple[str, str]], targets: Path | None) -> Any:
    """The input as the browser can show it (a PNG copy: TIFF and 16-bit inputs are not), the
    outputs, and the ground truth with the same stem when a targets folder was given."""

    shown = out / "_inputs" / f"{job.stem}.png"
    write_png(shown, job.image, 8)
    row = [("input", str(shown)), *cells]
    if targets is not None:
        for ext in IMAGE_EXTENSIONS:
            for candidate in (targets / f"{job.path.stem}{ext}", targets / f"{job.path.stem}{ext.upper()}"):
                if candidate.is_file():
                    row.append(("target", str(candidate)))
                    break
            else:
                continue
            break
    return GalleryRow(name=job.path.name, cells=row)


__all__ = ["translate_files", "collect_inputs", "output_stems", "variant_name", "check_out_folder", "split_pair"]
