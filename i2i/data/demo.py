"""Built-in demo tasks, derived at run time from the four shipped CC0/public-domain photos.

Nothing is downloaded: each task is made from random crops of ``i2i/data/assets/*.jpg``
with torch/kornia (a few seconds, deterministic), written once in a standard folder layout
under the cache folder (``$I2I_CACHE_DIR`` or the platform's user cache dir), so the same
folder-dataset code reads it as it reads a user's data. Test crops come from held-out grid
cells spread over each photo; training crops never touch them.

==========================  ========  ================  ===============================================
task                        kind      layout            A -> B
==========================  ========  ================  ===============================================
``edges2photos``            paired    paired_folders    pencil drawing (edges) -> photo crop (pix2pix default)
``photo2grade``             unpaired  unpaired          photo -> sepia-graded photo, disjoint crops
``edges_photos_unpaired``   unpaired  unpaired          edge maps <-> photos, disjoint crops
``grades``                  labelled  domains           natural / sepia / cool / faded colour grades
``photos``                  paired    images            colour photo crops, each its own pair (colourisation)
``focus``                   labelled  domains           blurred / plain / sharpened crops (a second label set)
``tones``                   labelled  domains           mono / natural / negative / red-blue swapped (a colour label set)
``frames``                  labelled  domains           unframed / dark-framed / light-framed crops (a spatial label set)
``subjects``                labelled  domains           astronaut / cat / coffee / rocket: crops of each photo (StarGAN v2)
``tones_any_frame``         labelled  domains           ``tones``, each crop with a random unlabelled frame
``frames_any_tone``         labelled  domains           ``frames``, each crop in a random unlabelled tone
``inversions_any_frame``    labelled  domains           natural / mono / red- / blue-inverted, each with a random frame
``frames_any_inversion``    labelled  domains           ``frames``, each crop in a random unlabelled inversion look
==========================  ========  ================  ===============================================

Crops are 128x128, so the demo learns visibly in minutes at ``image_size = 64``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import attrs
import kornia
import numpy as np
import platformdirs
import torch
from PIL import Image

from i2i.data.layouts import article
from i2i.errors import DataError
from i2i.method import LABELLED, PAIRED, UNPAIRED

#: Bump when the derivation changes: the cache folder name carries it, so old caches are rebuilt.
DEMO_VERSION = 4
CROP = 128
TRAIN_PER_DOMAIN = 240
TEST_PER_DOMAIN = 24
PHOTOS = ("astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg")


@attrs.frozen
class DemoTask:
    name: str
    kind: str
    layout: str
    description: str
    build: Callable[[Path], None]
    serves: tuple[str, ...] = ()  # data kinds it makes sense for (its file names pair up by accident)


def cache_dir() -> Path:
    """``$I2I_CACHE_DIR`` if set, else ``platformdirs.user_cache_dir("i2i")``."""
    return Path(os.environ.get("I2I_CACHE_DIR") or platformdirs.user_cache_dir("i2i")).expanduser()


# -- image derivation -----------------------------------------------------------------------
def load_photos() -> list[Image.Image]:
    """The shipped photos as RGB PIL images."""
    assets = resources.files("i2i.data") / "assets"
    photos = []
    for name in PHOTOS:
        with resources.as_file(assets / name) as path, Image.open(path) as img:
            photos.append(img.convert("RGB"))
    return photos


#: Each photo is cut into a GRID x GRID grid; one cell per row and column (a Latin pattern, so
#: held-out cells are spread over the whole picture) is held out for the test split.
GRID = 4
HELD_OUT_COLUMNS = (1, 3, 0, 2)  # row r holds out column HELD_OUT_COLUMNS[r]


def _held_out_cells(w: int, h: int) -> list[tuple[float, float, float, float]]:
    cw, ch = w / GRID, h / GRID
    return [(c * cw, r * ch, (c + 1) * cw, (r + 1) * ch) for r, c in enumerate(HELD_OUT_COLUMNS)]


def _overlaps(box: tuple[float, float, float, float], cells: list[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < cx1 and cx0 < x1 and y0 < cy1 and cy0 < y1 for cx0, cy0, cx1, cy1 in cells)


def _crop_box(w: int, h: int, generator: torch.Generator, test: bool) -> tuple[int, int, int, int]:
    """A square crop box: inside a held-out cell for the test split, clear of every held-out
    cell for training. Both splits see every part of every photo's content (sky, fur, wood,
    metal...), so a held-out score measures generalisation, not a change of subject."""
    cells = _held_out_cells(w, h)
    cell = min(w, h) / GRID
    if test:
        x0, y0, x1, y1 = cells[int(torch.randint(len(cells), (1,), generator=generator))]
        side = int(cell * (0.8 + 0.2 * float(torch.rand(1, generator=generator))))
        x = int(x0) + int(torch.randint(max(1, int(x1 - x0) - side + 1), (1,), generator=generator))
        y = int(y0) + int(torch.randint(max(1, int(y1 - y0) - side + 1), (1,), generator=generator))
        return x, y, x + side, y + side
    side = int(cell * (0.7 + 0.8 * float(torch.rand(1, generator=generator))))
    for _ in range(200):  # rejection sampling; shrink the crop if the free space is too tight
        x = int(torch.randint(w - side + 1, (1,), generator=generator))
        y = int(torch.randint(h - side + 1, (1,), generator=generator))
        if not _overlaps((x, y, x + side, y + side), cells):
            return x, y, x + side, y + side
        side = max(16, int(side * 0.97))
    raise RuntimeError("demo: no training crop clear of the held-out cells")  # pragma: no cover


def random_crops(photos: list[Image.Image], count: int, generator: torch.Generator, *, test: bool) -> torch.Tensor:
    """``count`` random square crops (random photo, scale, position, flip) resized to ``CROP``,
    as float ``(count, 3, CROP, CROP)`` in ``[0, 1]``.

    Test crops come from held-out grid cells spread over each photo, training crops never
    touch them (see :func:`_crop_box`). Pillow does the crop-and-resize (one antialiased call
    per crop, single-threaded: many small torch calls crawl on a busy machine); torch's
    generator draws every random number.
    """
    out = np.empty((count, CROP, CROP, 3), dtype=np.uint8)
    for i in range(count):
        photo = photos[int(torch.randint(len(photos), (1,), generator=generator))]
        box = _crop_box(*photo.size, generator, test)
        crop = photo.resize((CROP, CROP), Image.Resampling.BILINEAR, box=box)
        if float(torch.rand(1, generator=generator)) < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out[i] = np.asarray(crop)
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


def canny_lines(images: torch.Tensor) -> torch.Tensor:
    """Black Canny edges on white, ``(N, 1, H, W)`` in ``[0, 1]`` (the edges2* datasets' look)."""
    grey = kornia.color.rgb_to_grayscale(images)
    # Hysteresis is an iterative loop that takes ~100 ms an image on one CPU core; without it
    # kornia marks weak edges 0.5 and strong ones 1, and the strong ones alone look right.
    _, edge_map = kornia.filters.canny(grey, low_threshold=0.1, high_threshold=0.2, sigma=(1.2, 1.2), hysteresis=False)
    return 1.0 - (edge_map > 0.75).float()


def edges(images: torch.Tensor) -> torch.Tensor:
    """A pencil drawing of ``(N, 3, H, W)`` images: Canny lines over "colour dodge" shading,
    ``(N, 1, H, W)`` in ``[0, 1]``.

    Bare Canny lines of four very different photos leave colour and shading to guesswork, and
    a small CPU demo then cannot beat predicting the mean colour on held-out crops; the dodge
    shading (grey / blurred inverse) keeps the strokes' darkness, as an artist's sketch does,
    so the demo shows pix2pix learning a mapping rather than memorising crops.
    """
    grey = kornia.color.rgb_to_grayscale(images)
    blurred_inverse = kornia.filters.gaussian_blur2d(1.0 - grey, (21, 21), (6.0, 6.0), border_type="reflect")
    shading = (grey / (1.0 - blurred_inverse).clamp_min(1e-3)).clamp(0.0, 1.0)
    return shading * canny_lines(images)


def grade(images: torch.Tensor, name: str) -> torch.Tensor:
    """A colour grade (a "look") applied to ``(N, 3, H, W)`` images in ``[0, 1]``."""
    if name == "natural":
        return images
    if name == "sepia":
        matrix = torch.tensor([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
        return torch.einsum("ij,njhw->nihw", matrix, images).clamp(0.0, 1.0)
    if name == "cool":
        gain = torch.tensor([0.78, 0.95, 1.12]).view(1, 3, 1, 1)
        lift = torch.tensor([0.0, 0.02, 0.08]).view(1, 3, 1, 1)
        return (images * gain + lift).clamp(0.0, 1.0)
    if name == "faded":
        return (0.15 + 0.7 * kornia.enhance.adjust_saturation(images, 0.5)).clamp(0.0, 1.0)
    raise ValueError(f"unknown grade {name!r}")


def save_images(images: torch.Tensor, folder: Path, suffix: str) -> None:
    """Write ``(N, C, H, W)`` ``[0, 1]`` images as ``0000.jpg`` ... (PNG for edge maps)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = images.mul(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    for i, array in enumerate(data):
        img = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        options: dict[str, Any] = {"quality": 95} if suffix == ".jpg" else {}
        img.save(folder / f"{i:04d}{suffix}", **options)


# -- the tasks ------------------------------------------------------------------------------
def _splits(seed: int) -> list[tuple[str, int, torch.Generator, bool]]:
    generator = torch.Generator().manual_seed(seed)
    return [("train", TRAIN_PER_DOMAIN, generator, False), ("test", TEST_PER_DOMAIN, generator, True)]


def build_edges2photos(out: Path) -> None:
    photos = load_photos()
    for split, count, generator, test in _splits(1):
        crops = random_crops(photos, count, generator, test=test)
        save_images(edges(crops), out / split / "A", ".png")
        save_images(crops, out / split / "B", ".jpg")


def build_photo2grade(out: Path) -> None:
    photos = load_photos()
    for split, count, generator, test in _splits(2):
        save_images(random_crops(photos, count, generator, test=test), out / f"{split}A", ".jpg")
        save_images(grade(random_crops(photos, count, generator, test=test), "sepia"), out / f"{split}B", ".jpg")


def build_edges_photos_unpaired(out: Path) -> None:
    photos = load_photos()
    for split, count, generator, test in _splits(3):
        save_images(edges(random_crops(photos, count, generator, test=test)), out / f"{split}A", ".png")
        save_images(random_crops(photos, count, generator, test=test), out / f"{split}B", ".jpg")


GRADES = ("natural", "sepia", "cool", "faded")


def build_grades(out: Path) -> None:
    photos = load_photos()
    for split, count, generator, test in _splits(4):
        for name in GRADES:
            save_images(grade(random_crops(photos, count, generator, test=test), name), out / split / name, ".jpg")


FOCUS = ("blurred", "plain", "sharpened")


def focus(images: torch.Tensor, name: str) -> torch.Tensor:
    """A focus look: a Gaussian blur, nothing, or a strong unsharp mask; ``[0, 1]`` images."""
    if name == "plain":
        return images
    blurred = kornia.filters.gaussian_blur2d(images, (11, 11), (2.5, 2.5), border_type="reflect")
    if name == "blurred":
        return blurred
    if name == "sharpened":
        return (images + 2.0 * (images - blurred)).clamp(0.0, 1.0)
    raise ValueError(f"unknown focus {name!r}")


def build_focus(out: Path) -> None:
    """A label set independent of ``grades``: the same kind of crops, each in natural colour."""
    photos = load_photos()
    for split, count, generator, test in _splits(6):
        for name in FOCUS:
            save_images(focus(random_crops(photos, count, generator, test=test), name), out / split / name, ".jpg")


TONES = ("mono", "natural", "negative", "swapped")


def tone(images: torch.Tensor, name: str) -> torch.Tensor:
    """A pointwise colour look of ``[0, 1]`` images that changes how the channels relate
    (grey, inverted, red and blue swapped), so it survives the per-channel rank normalisation
    of i2i's domain classifier; a global per-channel gain (``grades``' ``cool``) does not."""
    if name == "natural":
        return images
    if name == "mono":
        return kornia.color.rgb_to_grayscale(images).expand(-1, 3, -1, -1).contiguous()
    if name == "negative":
        return 1.0 - images
    if name == "swapped":
        return images.flip(1)
    raise ValueError(f"unknown tone {name!r}")


def build_tones(out: Path) -> None:
    """A colour label set for the two-dataset demo (with ``focus``): pointwise, so independent
    of focus, and visible to the evaluation's classifier."""
    photos = load_photos()
    for split, count, generator, test in _splits(7):
        for name in TONES:
            save_images(tone(random_crops(photos, count, generator, test=test), name), out / split / name, ".jpg")


FRAMES = ("unframed", "dark_frame", "light_frame")
#: the frame's width as a share of the side: 6 px at the demos' 64 px
FRAME_WIDTH = 6 / 64


def frame(images: torch.Tensor, name: str) -> torch.Tensor:
    """A border band of ``[0, 1]`` images painted near-black or near-white, or left alone: a
    spatial look that is independent of colour (``tones``) and survives the domain classifier's
    per-channel rank normalisation (the band takes the lowest or highest ranks). Why not
    ``focus`` beside ``tones``: a StarGAN critic trained on both label sets in turn learns tones
    but stays near chance on focus at 64 px (measured, README), so its generator gets no signal."""
    if name == "unframed":
        return images
    side = images.shape[-1]
    band = max(1, round(side * FRAME_WIDTH))
    inner = torch.zeros(side, side, dtype=torch.bool)
    inner[band:-band, band:-band] = True
    value = {"dark_frame": 0.04, "light_frame": 0.96}.get(name)
    if value is None:
        raise ValueError(f"unknown frame {name!r}")
    return torch.where(inner, images, torch.full_like(images, value))


def build_frames(out: Path) -> None:
    photos = load_photos()
    for split, count, generator, test in _splits(8):
        for name in FRAMES:
            save_images(frame(random_crops(photos, count, generator, test=test), name), out / split / name, ".jpg")


def _each(
    images: torch.Tensor,
    looks: tuple[str, ...],
    apply: Callable[[torch.Tensor, str], torch.Tensor],
    generator: torch.Generator,
) -> torch.Tensor:
    """Every image given one of ``looks`` drawn at random (uniformly, from ``generator``)."""
    drawn = torch.randint(len(looks), (images.shape[0],), generator=generator)
    out = images.clone()
    for k, name in enumerate(looks):
        chosen = drawn == k
        if chosen.any():
            out[chosen] = apply(images[chosen], name)
    return out


def build_tones_any_frame(out: Path) -> None:
    """``tones`` whose crops each carry a random, unlabelled frame (painted after the tone, so the
    band is the frame's own colour), for the two-dataset StarGAN demo: its generator then sees
    framed inputs while it learns tones. Measured, not shipped in that demo (docs/stargan.md)."""
    _looks_any_frame(out, TONES, tone, 10)


def build_frames_any_tone(out: Path) -> None:
    """``frames`` whose crops each carry a random, unlabelled tone (the frame painted after it),
    so a frame label says nothing about colour: ``tones_any_frame``'s counterpart."""
    _frames_any_look(out, TONES, tone, 11)


def _looks_any_frame(
    out: Path, looks: tuple[str, ...], apply: Callable[[torch.Tensor, str], torch.Tensor], seed: int
) -> None:
    """Each of ``looks`` labelled, every crop with a random unlabelled frame painted after the look."""
    photos = load_photos()
    for split, count, generator, test in _splits(seed):
        for name in looks:
            looked = apply(random_crops(photos, count, generator, test=test), name)
            save_images(_each(looked, FRAMES, frame, generator), out / split / name, ".jpg")


def _frames_any_look(
    out: Path, looks: tuple[str, ...], apply: Callable[[torch.Tensor, str], torch.Tensor], seed: int
) -> None:
    """Each frame labelled, every crop in a random unlabelled one of ``looks`` (the frame painted after it)."""
    photos = load_photos()
    for split, count, generator, test in _splits(seed):
        for name in FRAMES:
            looked = _each(random_crops(photos, count, generator, test=test), looks, apply, generator)
            save_images(frame(looked, name), out / split / name, ".jpg")


INVERSIONS = ("natural", "mono", "red_inverted", "blue_inverted")


def inversion(images: torch.Tensor, name: str) -> torch.Tensor:
    """A pointwise colour look of ``[0, 1]`` images that changes how the channels *relate*:
    equal (mono), or one channel turned upside down (``red_inverted``: R' = 1 - R, so red runs
    against green and blue). Unlike ``tones`` (whose negative and swapped looks keep each
    channel's ranks up to reversal or permutation, told apart only by what colour the content
    should be), this survives the domain classifier's per-channel rank normalisation without
    any knowledge of the content, and a generator makes it with 1x1 operations. Green is never
    inverted, so every look keeps a frame's dark/light order in one channel."""
    if name == "natural":
        return images
    if name == "mono":
        return kornia.color.rgb_to_grayscale(images).expand(-1, 3, -1, -1).contiguous()
    channel = {"red_inverted": 0, "blue_inverted": 2}.get(name)
    if channel is None:
        raise ValueError(f"unknown inversion {name!r}")
    out = images.clone()
    out[:, channel] = 1.0 - out[:, channel]
    return out


def build_inversions_any_frame(out: Path) -> None:
    """The ``INVERSIONS`` looks labelled, each crop with a random unlabelled frame painted after the look
    (so the band stays grey under every look), for the two-dataset StarGAN demo: the eval
    classifier reads these looks (1.00 on real held-out crops), unlike ``tones`` (0.57).
    The demo's colour family (``examples/configs/demo_two_datasets_stargan.toml``)."""
    _looks_any_frame(out, INVERSIONS, inversion, 12)


def build_frames_any_inversion(out: Path) -> None:
    """``frames`` whose crops each carry a random unlabelled ``INVERSIONS`` look (the frame
    painted after it, so a frame label says nothing about colour): ``inversions_any_frame``'s
    counterpart."""
    _frames_any_look(out, INVERSIONS, inversion, 13)


#: the shipped photos' subjects, in PHOTOS order
SUBJECTS = ("astronaut", "cat", "coffee", "rocket")


def build_subjects(out: Path) -> None:
    """One domain per shipped photo: crops of the astronaut, the cat, the coffee cup, the rocket.
    As in AFHQ (cat / dog / wild) the domain is the subject, so a translation must change
    colours and textures (suit, fur, wood, sky) while keeping the input's layout, and many
    looks fit one domain (each photo has many regions): what StarGAN v2's style codes are for."""
    photos = load_photos()
    for split, count, generator, test in _splits(9):
        for name, photo in zip(SUBJECTS, photos):
            save_images(random_crops([photo], count, generator, test=test), out / split / name, ".jpg")


def build_photos(out: Path) -> None:
    photos = load_photos()
    for split, count, generator, test in _splits(5):
        save_images(random_crops(photos, count, generator, test=test), out / split, ".jpg")


DEMO_TASKS: dict[str, DemoTask] = {
    task.name: task
    for task in (
        DemoTask(
            "edges2photos",
            PAIRED,
            "paired_folders",
            "Canny edges -> photo crops (paired)",
            build_edges2photos,
            (PAIRED, UNPAIRED),
        ),
        DemoTask(
            "photo2grade",
            UNPAIRED,
            "unpaired",
            "photos <-> sepia-graded photos (unpaired)",
            build_photo2grade,
            (UNPAIRED, LABELLED),
        ),
        DemoTask(
            "edges_photos_unpaired",
            UNPAIRED,
            "unpaired",
            "edge maps <-> photos (unpaired)",
            build_edges_photos_unpaired,
            (UNPAIRED, LABELLED),
        ),
        DemoTask(
            "grades",
            LABELLED,
            "domains",
            "natural/sepia/cool/faded colour grades (labelled)",
            build_grades,
            (LABELLED,),
        ),
        DemoTask("photos", PAIRED, "images", "colour photo crops, each its own pair (paired)", build_photos, (PAIRED,)),
        DemoTask("focus", LABELLED, "domains", "blurred/plain/sharpened crops (labelled)", build_focus, (LABELLED,)),
        DemoTask(
            "tones",
            LABELLED,
            "domains",
            "mono/natural/negative/swapped colour tones (labelled)",
            build_tones,
            (LABELLED,),
        ),
        DemoTask(
            "subjects",
            LABELLED,
            "domains",
            "astronaut/cat/coffee/rocket: crops of each photo (labelled)",
            build_subjects,
            (LABELLED,),
        ),
        DemoTask(
            "frames",
            LABELLED,
            "domains",
            "unframed/dark-framed/light-framed crops (labelled)",
            build_frames,
            (LABELLED,),
        ),
        DemoTask(
            "tones_any_frame",
            LABELLED,
            "domains",
            "mono/natural/negative/swapped tones, each crop with a random unlabelled frame (labelled)",
            build_tones_any_frame,
            (LABELLED,),
        ),
        DemoTask(
            "frames_any_tone",
            LABELLED,
            "domains",
            "unframed/dark-framed/light-framed crops, each in a random unlabelled tone (labelled)",
            build_frames_any_tone,
            (LABELLED,),
        ),
        DemoTask(
            "inversions_any_frame",
            LABELLED,
            "domains",
            "natural/mono/red-inverted/blue-inverted looks, each crop with a random unlabelled frame (labelled)",
            build_inversions_any_frame,
            (LABELLED,),
        ),
        DemoTask(
            "frames_any_inversion",
            LABELLED,
            "domains",
            "unframed/dark-framed/light-framed crops, each in a random unlabelled inversions look (labelled)",
            build_frames_any_inversion,
            (LABELLED,),
        ),
    )
}
DEFAULT_DEMO = {PAIRED: "edges2photos", UNPAIRED: "photo2grade", LABELLED: "grades"}


def demo_task(name: str | None, data_kind: str) -> DemoTask:
    """The demo ``name`` (``data.demo``), or the default for ``data_kind``; checks they fit."""
    if name is None:
        if data_kind not in DEFAULT_DEMO:
            raise DataError(f"no built-in demo for data kind {data_kind!r}")
        name = DEFAULT_DEMO[data_kind]
    task = DEMO_TASKS.get(name)
    if task is None:
        raise DataError(f"data.demo: unknown demo {name!r} (known: {', '.join(DEMO_TASKS)})")
    if data_kind not in task.serves:
        fits = [t.name for t in DEMO_TASKS.values() if data_kind in t.serves]
        raise DataError(
            f"data.demo: {name!r} is {task.kind} data; {article(data_kind)} method needs one of: {', '.join(fits)}"
        )
    return task


def demo_root(name: str) -> Path:
    """The folder of demo task ``name``, built atomically on first use (temp dir + rename)."""
    task = DEMO_TASKS.get(name)
    if task is None:
        raise DataError(f"data.demo: unknown demo {name!r} (known: {', '.join(DEMO_TASKS)})")
    final = cache_dir() / f"demo-v{DEMO_VERSION}" / name
    if final.is_dir():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        probe = final.parent / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DataError(
            f"cannot build the demo data in {final.parent}: {exc.strerror or exc}; point I2I_CACHE_DIR at a "
            "writable folder (or pass --data)"
        ) from None
    tmp = final.parent / f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with torch.random.fork_rng(devices=[]):  # never disturb the caller's RNG stream
            task.build(tmp)
        (tmp / "README.txt").write_text(
            f"i2i demo task {name!r} ({task.description}), version {DEMO_VERSION}.\n"
            "Derived from CC0/public-domain photos shipped with i2i (see i2i/data/assets/ATTRIBUTION.md).\n"
            "Safe to delete: it is rebuilt on demand.\n",
            encoding="utf-8",
        )
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
