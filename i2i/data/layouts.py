"""The folder layouts users already have, their auto-detection, and which data kinds each serves.

* ``unpaired``: ``trainA/ trainB/`` (+ ``testA/ testB/``), CycleGAN's. Serves unpaired; paired
  when the file stems match; labelled as two one-hot domains ``A`` and ``B``.
* ``aligned``: ``train/`` of side-by-side ``A|B`` images, pix2pix's. Serves paired; unpaired
  by drawing B from another pair.
* ``paired_folders``: ``train/A/x.png`` + ``train/B/x.jpg`` (same stems). Serves paired, unpaired.
* ``domains``: ``train/<domain>/...``. Serves labelled (one-hot over sorted folder names).
* ``attributes``: images + ``list_attr_celeba.txt``. Serves labelled (multi-hot 0/1).
* ``images``: one folder of images (``train/`` + ``test/``, or the images themselves). Serves
  paired methods that make their pairs from single images (A and B are the same file, decoded
  with ``data.channels`` and ``data.channels_b``: grey input, colour target for colourisation).

Each builder is ``builder(config, split="train", data_kind=None)`` and returns a dataset
whose ``info`` attribute is the :class:`~i2i.method.DataInfo` the method is built with.
The test split falls back ``test -> val -> train`` (with a warning for ``train``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Sequence

import attrs

from i2i.data.attributes import find_attribute_file, read_attribute_file, select_attributes, split_rows
from i2i.data.config import DataConfig
from i2i.data.datasets import (
    AlignedDataset,
    FolderDataset,
    LabelledDataset,
    LoadOptions,
    PairedFoldersDataset,
    UnpairedDataset,
)
from i2i.data.files import has_images, is_image_name, list_images, report_skip, require_dir, subfolders
from i2i.errors import DataError
from i2i.method import DATA_KINDS, LABELLED, PAIRED, UNPAIRED, DataInfo

#: Folder names tried, in order, for each split.
SPLIT_NAMES = {"train": ("train",), "test": ("test", "val", "train")}


@attrs.frozen
class Layout:
    name: str
    kinds: tuple[str, ...]
    description: str
    build: Callable[..., FolderDataset]


# -- helpers ------------------------------------------------------------------------------
def data_root(config: DataConfig) -> Path:
    if config.root is None:
        raise DataError("data.root is not set")
    return require_dir(Path(config.root).expanduser(), "data.root")


def load_options(config: DataConfig) -> LoadOptions:
    channels_b = config.channels if config.channels_b is None else config.channels_b
    return LoadOptions(
        channels_a=config.channels,
        channels_b=channels_b,
        preprocess=config.preprocess,
        load_size=max(config.load_size, config.image_size),
        image_size=config.image_size,
        max_image_pixels=config.max_image_pixels,
        serial_b=config.serial_batches,
        keep_depth=config.keep_16bit,
    )


def _check_split(split: str) -> None:
    if split not in SPLIT_NAMES:
        raise DataError(f"unknown data split {split!r} (choose 'train' or 'test')")


def _fallback(root: Path, split: str, found: str) -> None:
    if split == "test" and found == "train":
        warnings.warn(f"{root} has no test/ or val/ split: evaluating on the training images", stacklevel=3)


def _limit(items: list, config: DataConfig) -> list:
    """``data.max_dataset_size``: keep the first N in name order (the reference)."""
    if config.max_dataset_size is not None:
        return items[: config.max_dataset_size]
    return items


def _split_dir(root: Path, split: str, predicate: Callable[[Path], bool]) -> tuple[Path, str]:
    _check_split(split)
    for name in SPLIT_NAMES[split]:
        if predicate(root / name):
            _fallback(root, split, name)
            return root / name, name
    wanted = "/ or ".join(SPLIT_NAMES[split])
    raise DataError(f"{root} has no {wanted}/ folder for the {split} split")


def _info(kind: str, options: LoadOptions, domains: Sequence[str] = (), multi_label: bool = False) -> DataInfo:
    return DataInfo(
        kind=kind,
        channels_a=options.channels_a,
        channels_b=options.channels_b,
        domains=tuple(domains),
        multi_label=multi_label,
    )


def _match_stems(dir_a: Path, files_a: list[Path], dir_b: Path, files_b: list[Path]) -> list[tuple[Path, Path]]:
    """Pairs by file stem; a file without a partner (either side) or a duplicate stem is a DataError."""

    def by_stem(folder: Path, files: list[Path]) -> dict[str, Path]:
        table: dict[str, Path] = {}
        for path in files:
            if path.stem in table:
                raise DataError(f"paired data: {table[path.stem]} and {path} have the same name stem in {folder}")
            table[path.stem] = path
        return table

    table_a, table_b = by_stem(dir_a, files_a), by_stem(dir_b, files_b)
    for stem, path in table_a.items():
        if stem not in table_b:
            raise DataError(f"paired data: {path} has no partner {dir_b / stem}.* in {dir_b}")
    for stem, path in table_b.items():
        if stem not in table_a:
            raise DataError(f"paired data: {path} has no partner {dir_a / stem}.* in {dir_a}")
    return [(table_a[s], table_b[s]) for s in sorted(table_a)]


# -- builders -----------------------------------------------------------------------------
def build_unpaired(config: DataConfig, split: str = "train", data_kind: str | None = None) -> FolderDataset:
    """``trainA/`` + ``trainB/`` (``testA/ testB/`` for the test split; ``valA/ valB/`` too)."""
    root, options = data_root(config), load_options(config)
    _check_split(split)
    for name in SPLIT_NAMES[split]:
        if (root / f"{name}A").is_dir() or (root / f"{name}B").is_dir():
            break
    else:
        raise DataError(f"{root} has no {SPLIT_NAMES[split][0]}A/ and {SPLIT_NAMES[split][0]}B/ folders")
    _fallback(root, split, name)
    skipped: list[tuple[str, str]] = []
    dir_a, dir_b = root / f"{name}A", root / f"{name}B"
    files_a = _limit(list_images(dir_a, strict=config.strict, skipped=skipped, recursive=True), config)
    files_b = _limit(list_images(dir_b, strict=config.strict, skipped=skipped, recursive=True), config)
    if config.direction == "BtoA":
        dir_a, dir_b, files_a, files_b = dir_b, dir_a, files_b, files_a
    if data_kind == LABELLED:  # two domains, named after the folders' last letter
        items = [(p, [1.0, 0.0]) for p in files_a] + [(p, [0.0, 1.0]) for p in files_b]
        names = (dir_a.name[-1], dir_b.name[-1])
        dataset: FolderDataset = LabelledDataset(
            items, names, options, multi_label=False, scan_skipped=skipped, root=str(root)
        )
        dataset.info = _info(LABELLED, options, names)
        return dataset
    if data_kind == PAIRED:
        pairs = _match_stems(dir_a, files_a, dir_b, files_b)
        dataset = PairedFoldersDataset(pairs, options, skipped, root=str(root))
        dataset.info = _info(PAIRED, options)
    else:
        dataset = UnpairedDataset(files_a, files_b, options, skipped, root=str(root))
        dataset.info = _info(UNPAIRED, options)
    return dataset


def build_aligned(config: DataConfig, split: str = "train", data_kind: str | None = None) -> FolderDataset:
    """Side-by-side ``A|B`` images in ``train/`` (``test/`` or ``val/``); ``data.direction`` picks A."""
    root, options = data_root(config), load_options(config)
    folder, _ = _split_dir(root, split, has_images)
    skipped: list[tuple[str, str]] = []
    files = _limit(list_images(folder, strict=config.strict, skipped=skipped, recursive=True), config)
    unpaired = data_kind == UNPAIRED
    dataset = AlignedDataset(files, options, config.direction, skipped, root=str(root), unpaired=unpaired)
    dataset.info = _info(UNPAIRED if unpaired else PAIRED, options)
    return dataset


def build_paired_folders(config: DataConfig, split: str = "train", data_kind: str | None = None) -> FolderDataset:
    """``train/A/`` + ``train/B/`` with matching file stems; serves unpaired methods too."""
    root, options = data_root(config), load_options(config)
    folder, _ = _split_dir(root, split, lambda p: (p / "A").is_dir() and (p / "B").is_dir())
    skipped: list[tuple[str, str]] = []
    dir_a, dir_b = folder / "A", folder / "B"
    files_a = list_images(dir_a, strict=config.strict, skipped=skipped)
    files_b = list_images(dir_b, strict=config.strict, skipped=skipped)
    if config.direction == "BtoA":
        dir_a, dir_b, files_a, files_b = dir_b, dir_a, files_b, files_a
    if data_kind == UNPAIRED:
        dataset: FolderDataset = UnpairedDataset(
            _limit(files_a, config), _limit(files_b, config), options, skipped, root=str(root)
        )
        dataset.info = _info(UNPAIRED, options)
        return dataset
    pairs = _limit(_match_stems(dir_a, files_a, dir_b, files_b), config)
    dataset = PairedFoldersDataset(pairs, options, skipped, root=str(root))
    dataset.info = _info(PAIRED, options)
    return dataset


def build_domains(config: DataConfig, split: str = "train", data_kind: str | None = None) -> FolderDataset:
    """One folder per domain, ``train/<domain>/``; labels are one-hot over the sorted folder names."""
    root, options = data_root(config), load_options(config)
    folder, _ = _split_dir(root, split, lambda p: p.is_dir() and any(has_images(d) for d in subfolders(p)))
    domains = [d for d in subfolders(folder) if has_images(d)]
    if len(domains) < 2:
        raise DataError(f"{folder} needs at least two domain sub-folders of images, found {len(domains)}")
    names = [d.name for d in domains]
    skipped: list[tuple[str, str]] = []
    items: list[tuple[Path, list[float]]] = []
    for k, domain in enumerate(domains):
        one_hot = [1.0 if j == k else 0.0 for j in range(len(domains))]
        files = list_images(domain, strict=config.strict, skipped=skipped, recursive=True)
        items += [(path, one_hot) for path in _limit(files, config)]
    dataset = LabelledDataset(items, names, options, multi_label=False, scan_skipped=skipped, root=str(root))
    dataset.info = _info(LABELLED, options, names, multi_label=False)
    return dataset


def attribute_image_dir(root: Path, attribute_file: Path) -> Path:
    """Where the listed images are: ``img_align_celeba/``, ``images/`` or beside the file."""
    for candidate in (root / "img_align_celeba", root / "images", attribute_file.parent, root):
        if has_images(candidate):
            return candidate
    raise DataError(f"no image folder for {attribute_file}: expected {root / 'img_align_celeba'} or {root / 'images'}")


def build_attributes(config: DataConfig, split: str = "train", data_kind: str | None = None) -> FolderDataset:
    """Images plus a CelebA-style attribute list; ``data.attributes`` picks the label columns (0/1)."""
    root, options = data_root(config), load_options(config)
    _check_split(split)
    attribute_file = find_attribute_file(root, config.attribute_file)
    if attribute_file is None:
        raise DataError(f"{root} has no attribute list (list_attr_celeba.txt); set data.attribute_file")
    names, rows = read_attribute_file(attribute_file)
    columns = select_attributes(attribute_file, names, config.attributes)
    image_dir = attribute_image_dir(root, attribute_file)
    on_disk = {p.name: p for p in image_dir.iterdir() if is_image_name(p.name)}
    skipped: list[tuple[str, str]] = []
    listed = {name for name, _ in rows}
    unlisted = sorted(set(on_disk) - listed)
    if unlisted and config.strict:
        raise DataError(
            f"{image_dir / unlisted[0]} is not in {attribute_file} ({len(unlisted)} images unlisted; data.strict = true)"
        )
    if unlisted:
        warnings.warn(f"{len(unlisted)} images in {image_dir} are not in {attribute_file}; ignoring them", stacklevel=2)
    items: list[tuple[Path, list[float]]] = []
    for name, values in split_rows(rows, split):
        path = on_disk.get(name)
        if path is None:
            report_skip(
                str(image_dir / name),
                f"listed in {attribute_file.name} but missing",
                strict=config.strict,
                skipped=skipped,
            )
            continue
        if path.stat().st_size == 0:
            report_skip(str(path), "empty file (0 bytes)", strict=config.strict, skipped=skipped)
            continue
        items.append((path, [1.0 if values[c] == 1 else 0.0 for c in columns]))
    items = _limit(items, config)
    if not items:
        raise DataError(f"no listed image of {attribute_file} was found in {image_dir}")
    chosen = tuple(config.attributes)
    dataset = LabelledDataset(items, chosen, options, multi_label=True, scan_skipped=skipped, root=str(root))
    dataset.info = _info(LABELLED, options, chosen, multi_label=True)
    return dataset


#: A flat folder of images holds out every HELD_OUT_EVERY-th file (name order) as its test split.
HELD_OUT_EVERY = 10


def build_images(config: DataConfig, split: str = "train", data_kind: str | None = None) -> FolderDataset:
    """One folder of images, each paired with itself (``data.channels`` for A, ``channels_b`` for B).

    ``train/`` + ``test/`` (or ``val/``) when present; otherwise the images directly in the
    folder (and below), of which every 10th in name order is the test split and the rest train.
    """
    root, options = data_root(config), load_options(config)
    _check_split(split)
    skipped: list[tuple[str, str]] = []
    if (root / "train").is_dir():
        folder, _ = _split_dir(root, split, has_images)
        files = list_images(folder, strict=config.strict, skipped=skipped, recursive=True)
    else:
        every = list_images(root, strict=config.strict, skipped=skipped, recursive=True)
        if len(every) < HELD_OUT_EVERY:
            files = every
            if split == "test":
                _fallback(root, split, "train")
        else:
            held_out = split == "test"
            files = [p for i, p in enumerate(every) if (i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1) == held_out]
    files = _limit(files, config)
    dataset = PairedFoldersDataset([(path, path) for path in files], options, skipped, root=str(root))
    dataset.info = _info(PAIRED, options)
    return dataset


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout(
            "unpaired",
            (UNPAIRED, PAIRED, LABELLED),
            "trainA/ trainB/ (+ testA/ testB/) folders (CycleGAN)",
            build_unpaired,
        ),
        Layout(
            "aligned", (PAIRED, UNPAIRED), "side-by-side A|B images in train/ (+ val/ test/) (pix2pix)", build_aligned
        ),
        Layout(
            "paired_folders", (PAIRED, UNPAIRED), "train/A/ + train/B/ with matching file names", build_paired_folders
        ),
        Layout("domains", (LABELLED,), "one folder per domain, train/<domain>/ (one-hot labels)", build_domains),
        Layout("attributes", (LABELLED,), "images + list_attr_celeba.txt (multi-hot labels)", build_attributes),
        Layout(
            "images", (PAIRED,), "one folder of images, each its own pair (train/ + test/, or the folder)", build_images
        ),
    )
}

_KIND_HINT = {
    PAIRED: "side-by-side A|B images in train/, or train/A/ + train/B/ with matching names",
    UNPAIRED: "trainA/ and trainB/ folders",
    LABELLED: "train/<domain>/ folders or an image folder with list_attr_celeba.txt",
}


def detect_layout(root: Path, split: str = "train") -> str:
    """The name of the layout found in ``root`` (``data.layout = "auto"``)."""
    if any((root / f"{s}{d}").is_dir() for s in ("train", "test", "val") for d in "AB"):
        return "unpaired"
    for name in SPLIT_NAMES.get(split, ("train",)) + ("train",):
        folder = root / name
        if not folder.is_dir():
            continue
        if (folder / "A").is_dir() and (folder / "B").is_dir():
            return "paired_folders"
        if has_images(folder):
            return "aligned"
        if any(has_images(d) for d in subfolders(folder)):
            return "domains"
    try:
        if find_attribute_file(root, None) is not None:
            return "attributes"
    except DataError:
        pass
    raise DataError(
        f"cannot tell the layout of {root}: expected trainA/ + trainB/ (unpaired), train/ with A|B images or "
        "train/A/ + train/B/ (paired), train/<domain>/ folders or list_attr_celeba.txt (labelled); or set data.layout"
    )


def article(kind: str) -> str:
    """``"a paired"``, ``"an unpaired"``: error messages read as English."""
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def check_kind(layout: Layout, data_kind: str, root: Path) -> None:
    if data_kind not in DATA_KINDS:
        raise DataError(f"unknown data kind {data_kind!r} (one of {', '.join(DATA_KINDS)})")
    if data_kind not in layout.kinds:
        raise DataError(
            f"{root} has the {layout.name!r} layout ({layout.description}), which cannot serve {article(data_kind)} method; "
            f"{data_kind} data needs {_KIND_HINT[data_kind]}"
        )
