"""Map-style datasets over scanned file lists; each item is a dict of uint8 tensors.

An item is ``{"a": uint8 (C,H,W), "name_a": str}`` plus ``"b"``/``"name_b"`` (paired and
unpaired data) or ``"label"`` (float (D,), labelled data), and ``"skipped"``: the
``(path, reason)`` of every bad file met while making it. A bad file (corrupt, truncated,
not an image, too many pixels) is replaced by the next good sample, deterministically, so
a batch is always full; the main process warns about it and counts it
(:meth:`i2i.data.pipeline.DataModule.skipped`), or stops in strict mode.

Keys are ``int`` or ``(index, token)``: the :class:`~i2i.data.sampler.ResumableSampler`
passes a token derived from (seed, epoch, index), which unpaired data turns into the
domain-B index - a deterministic "random" partner that needs no RNG in the worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import attrs
import torch
from torch.utils.data import Dataset

from i2i.data.decode import BadImageError, convert_channels, open_image
from i2i.data.prepare import prepare, target_size
from i2i.errors import DataError

if TYPE_CHECKING:
    from i2i.method import DataInfo


@attrs.frozen
class LoadOptions:
    """What the worker needs to turn a file into a tensor (a picklable value)."""

    channels_a: int = 3
    channels_b: int = 3
    preprocess: str = "resize_and_crop"
    load_size: int = 286
    image_size: int = 256
    max_image_pixels: int = 89_478_485
    serial_b: bool = False  # unpaired: B index = index % len(B) (the reference serial_batches)
    keep_depth: bool = True  # 16-bit / float images stay full precision (float32 tensors)


def split_key(key: Any) -> tuple[int, int]:
    """``(index, token)`` from a sampler key; a plain index is its own token."""
    if isinstance(key, (tuple, list)):
        return int(key[0]), int(key[1])
    return int(key), int(key)


class FolderDataset(Dataset):
    """Shared machinery: decoding, bad-file substitution, the scan's skip list."""

    #: The sampler may pass ``(index, token)`` keys (third-party datasets get plain ints).
    accepts_keys = True
    #: Set by the layout builders (:mod:`i2i.data.layouts`); a bare annotation, no class default.
    info: DataInfo

    def __init__(self, options: LoadOptions, scan_skipped: Sequence[tuple[str, str]] = ()) -> None:
        self.options = options
        self.scan_skipped: list[tuple[str, str]] = list(scan_skipped)
        self._bad: dict[str, str] = {}  # per process: files already known bad

    def load(self, path: Path, channels: int, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Decode and resize one file; raises :class:`BadImageError` (remembered) for bad files."""
        key = str(path)
        if key in self._bad:
            raise BadImageError(self._bad[key])
        o = self.options

        def draft(width: int, height: int) -> tuple[int, int]:
            return size or target_size(width, height, mode=o.preprocess, load_size=o.load_size, image_size=o.image_size)

        try:
            img = open_image(path, channels, o.max_image_pixels, draft=draft, keep_depth=o.keep_depth)
        except BadImageError as exc:
            self._bad[key] = str(exc)
            raise
        return prepare(img, mode=o.preprocess, load_size=o.load_size, image_size=o.image_size, size=size)

    def first_good(self, index: int, count: int, make: Any) -> tuple[Any, list[tuple[str, str]]]:
        """``make(i)`` for ``i = index, index+1, ...`` (wrapping) until one succeeds."""
        skipped: list[tuple[str, str]] = []
        for step in range(count):
            i = (index + step) % count
            try:
                return make(i), skipped
            except BadImageError as exc:
                path = getattr(exc, "path", "?")
                skipped.append((path, str(exc)))
        raise DataError(f"no readable image left in {self.describe()} ({len(skipped)} bad files)")

    def describe(self) -> str:
        return type(self).__name__


def _load_named(ds: FolderDataset, path: Path, channels: int, size: tuple[int, int] | None = None) -> torch.Tensor:
    try:
        return ds.load(path, channels, size)
    except BadImageError as exc:
        exc.path = str(path)  # type: ignore[attr-defined]
        raise


class UnpairedDataset(FolderDataset):
    """Two independent file lists (``trainA``/``trainB``), as the reference's unaligned dataset:
    ``len`` is the larger of the two, A is ``index % len(A)``, B a partner drawn per key."""

    def __init__(
        self,
        files_a: Sequence[Path],
        files_b: Sequence[Path],
        options: LoadOptions,
        scan_skipped: Sequence[tuple[str, str]] = (),
        root: str = "",
    ) -> None:
        super().__init__(options, scan_skipped)
        self.files_a, self.files_b, self.root = list(files_a), list(files_b), root

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    def b_index(self, index: int, token: int) -> int:
        return index % len(self.files_b) if self.options.serial_b else token % len(self.files_b)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, token = split_key(key)
        o = self.options
        a, skipped_a = self.first_good(
            index % len(self.files_a),
            len(self.files_a),
            lambda i: (i, _load_named(self, self.files_a[i], o.channels_a)),
        )
        b, skipped_b = self.first_good(
            self.b_index(index, token),
            len(self.files_b),
            lambda i: (i, _load_named(self, self.files_b[i], o.channels_b)),
        )
        return {
            "a": a[1],
            "b": b[1],
            "name_a": self.files_a[a[0]].name,
            "name_b": self.files_b[b[0]].name,
            "skipped": skipped_a + skipped_b,
        }

    def describe(self) -> str:
        return f"unpaired data {self.root}"


class AlignedDataset(FolderDataset):
    """Side-by-side ``A|B`` images (the reference pix2pix layout); ``direction`` picks the input.

    ``unpaired=True`` serves an unpaired method: A from pair ``index``, B from the pair the
    sampler's token picks (two decodes per item; the pairing is thrown away on purpose).
    """

    def __init__(
        self,
        files: Sequence[Path],
        options: LoadOptions,
        direction: str = "AtoB",
        scan_skipped: Sequence[tuple[str, str]] = (),
        root: str = "",
        unpaired: bool = False,
    ) -> None:
        super().__init__(options, scan_skipped)
        self.files, self.direction, self.root, self.unpaired = list(files), direction, root, unpaired

    def __len__(self) -> int:
        return len(self.files)

    def _pair(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        o = self.options
        path = self.files[i]
        key = str(path)
        if key in self._bad:
            raise _with_path(BadImageError(self._bad[key]), path)
        try:
            whole = open_image(
                path, 4 if 4 in (o.channels_a, o.channels_b) else 3, o.max_image_pixels, keep_depth=o.keep_depth
            )
            width, height = whole.size
            if width < 2:
                raise BadImageError(f"{width}x{height} image is too narrow to hold two side-by-side halves")
        except BadImageError as exc:
            self._bad[key] = str(exc)
            raise _with_path(exc, path) from exc
        half = width // 2
        left, right = whole.crop((0, 0, half, height)), whole.crop((half, 0, 2 * half, height))
        first, second = (left, right) if self.direction == "AtoB" else (right, left)
        a = prepare(
            convert_channels(first, o.channels_a), mode=o.preprocess, load_size=o.load_size, image_size=o.image_size
        )
        size = (a.shape[2], a.shape[1])
        b = prepare(
            convert_channels(second, o.channels_b),
            mode=o.preprocess,
            load_size=o.load_size,
            image_size=o.image_size,
            size=size,
        )
        return a, b

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, token = split_key(key)
        n = len(self.files)
        (i, (a, b)), skipped = self.first_good(index, n, lambda i: (i, self._pair(i)))
        j = i
        if self.unpaired:  # B from another, deterministically drawn pair
            (j, (_, b)), skipped_b = self.first_good(token % n, n, lambda j: (j, self._pair(j)))
            skipped += skipped_b
        return {"a": a, "b": b, "name_a": self.files[i].name, "name_b": self.files[j].name, "skipped": skipped}

    def describe(self) -> str:
        return f"side-by-side data {self.root}"


class PairedFoldersDataset(FolderDataset):
    """Two folders whose files match by stem (``A/x.png`` + ``B/x.jpg``); B is resized to A's size."""

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        options: LoadOptions,
        scan_skipped: Sequence[tuple[str, str]] = (),
        root: str = "",
    ) -> None:
        super().__init__(options, scan_skipped)
        self.pairs, self.root = list(pairs), root

    def __len__(self) -> int:
        return len(self.pairs)

    def _pair(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        path_a, path_b = self.pairs[i]
        a = _load_named(self, path_a, self.options.channels_a)
        b = _load_named(self, path_b, self.options.channels_b, size=(a.shape[2], a.shape[1]))
        return a, b

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, _ = split_key(key)
        (i, (a, b)), skipped = self.first_good(index, len(self.pairs), lambda i: (i, self._pair(i)))
        path_a, path_b = self.pairs[i]
        return {"a": a, "b": b, "name_a": path_a.name, "name_b": path_b.name, "skipped": skipped}

    def describe(self) -> str:
        return f"paired folders {self.root}"


class LabelledDataset(FolderDataset):
    """Images with a label vector each: one-hot (domain folders) or multi-hot (attribute list)."""

    def __init__(
        self,
        items: Sequence[tuple[Path, Sequence[float]]],
        domains: Sequence[str],
        options: LoadOptions,
        multi_label: bool = False,
        scan_skipped: Sequence[tuple[str, str]] = (),
        root: str = "",
    ) -> None:
        super().__init__(options, scan_skipped)
        self.files = [path for path, _ in items]
        self.labels = torch.tensor([list(label) for _, label in items], dtype=torch.float32).reshape(
            len(items), len(domains)
        )
        self.domains, self.multi_label, self.root = tuple(domains), multi_label, root

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, _ = split_key(key)
        (i, a), skipped = self.first_good(
            index, len(self.files), lambda i: (i, _load_named(self, self.files[i], self.options.channels_a))
        )
        return {"a": a, "label": self.labels[i].clone(), "name_a": self.files[i].name, "skipped": skipped}

    def describe(self) -> str:
        return f"labelled data {self.root}"


def _with_path(exc: BadImageError, path: Path) -> BadImageError:
    exc.path = str(path)  # type: ignore[attr-defined]
    return exc
