"""What a run understood, said before its first step: the data (layout, images per domain and
split, what was skipped and why), the sizes, the networks, the device and precision, the
length and the output folder. The same facts head the report page.

Everything is read from the built run (its data modules, method and config) without naming a
method; datasets are described through what they hold (two file lists, pairs, labelled
files), and any other dataset by its length.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import attrs

from i2i.data.layouts import detect_layout
from i2i.data.pipeline import build_dataset
from i2i.errors import DataError
from i2i.train.precision import emulation_note


@attrs.frozen
class Overview:
    """Label/value facts of one run, in display order; ``lines()`` for the console."""

    facts: tuple[tuple[str, str], ...]
    test_is_train: bool = False

    def lines(self) -> list[str]:
        width = max((len(k) for k, _ in self.facts), default=0)
        return [f"  {key.ljust(width)}  {value}" for key, value in self.facts]

    def get(self, key: str) -> str | None:
        return dict(self.facts).get(key)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def dataset_files(dataset: Any) -> set[str]:
    """The image files a dataset reads (empty when it does not say)."""
    files: list[Any] = []
    for name in ("files_a", "files_b", "files"):
        files += list(getattr(dataset, name, None) or [])
    for pair in getattr(dataset, "pairs", None) or []:
        files += list(pair)
    return {str(f) for f in files}


def describe_counts(dataset: Any) -> str:
    """``"A 120, B 118 images"``, ``"400 pairs"``, ``"3 domains: cat 10, dog 12, fox 9"``..."""
    parts, names = getattr(dataset, "datasets", None), getattr(dataset, "names", None)
    if parts is not None and names is not None:  # several labelled sources (data.sources)
        return "; ".join(f"{name}: {describe_counts(part)}" for name, part in zip(names, parts))
    files_a, files_b = getattr(dataset, "files_a", None), getattr(dataset, "files_b", None)
    if files_a is not None and files_b is not None:
        return f"A {len(files_a)}, B {len(files_b)} images"
    if getattr(dataset, "pairs", None) is not None:
        return _plural(len(dataset.pairs), "pair")
    labels, domains = getattr(dataset, "labels", None), getattr(dataset, "domains", None)
    if labels is not None and domains:
        counts = [int(c) for c in labels.sum(0).tolist()]
        per = ", ".join(f"{d} {c}" for d, c in zip(domains, counts))
        if getattr(dataset, "multi_label", False):
            return f"{_plural(len(labels), 'image')}; with each attribute: {per}"
        return f"{_plural(len(labels), 'image')} in {len(domains)} domains: {per}"
    if getattr(dataset, "unpaired", None) is not None and getattr(dataset, "files", None) is not None:
        return _plural(len(dataset.files), "side-by-side A|B image")
    try:
        return _plural(len(dataset), "sample")
    except TypeError:
        return "unknown size"


def describe_skipped(entries: Sequence[tuple[str, str]]) -> str:
    """``"none"`` or ``"3 (2 empty file (0 bytes), 1 listed in x.txt but missing)"``."""
    if not entries:
        return "none"
    reasons = Counter(reason for _, reason in entries)
    why = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common(4))
    more = "" if len(reasons) <= 4 else ", ..."
    return f"{len(entries)} ({why}{more}); unreadable files found while training are reported at the end"


def layout_name(data_config: Any, split: str = "train") -> str:
    """The layout the data was read with: the configured one, else the detected one."""
    if data_config.layout != "auto":
        return str(data_config.layout)
    if data_config.attribute_file:
        return "attributes"

    try:
        return detect_layout(Path(data_config.root).expanduser(), split)
    except Exception:
        return "auto"


def _test_dataset(trainer: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run's own data building has already warned
        try:
            if trainer.data.config.sources:  # several labelled sources: each one's test split
                from i2i.data.sources import build_sources  # lazy: only for several sources

                return build_sources(trainer.data.config, trainer.spec.data_kind, "test", host=trainer.host)
            return build_dataset(trainer.data.config, trainer.spec.data_kind, "test", host=trainer.host)
        except (DataError, OSError):
            return None


def _parameters(module: Any) -> str:
    n = sum(p.numel() for p in module.parameters())
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def describe_networks(method: Any) -> str:
    """``"G_A ResnetGenerator 7.84M, G_B ResnetGenerator 7.84M params"``."""
    try:
        generators = method.generators()
    except Exception:
        generators = {}
    parts = [f"{name} {type(g).__name__} {_parameters(g)}" for name, g in generators.items()]
    total = _parameters(method)
    return (", ".join(parts) + f" (all networks {total} params)") if parts else f"{total} params"


def describe_preprocess(d: Any) -> str:
    """What ``data.preprocess`` does to an image, in the run's sizes."""
    crop, load = f"{d.image_size} px square crops", max(d.load_size, d.image_size)
    return {
        "resize_and_crop": f"{crop} of images resized to {load}x{load}",
        "crop": f"{crop} of the images at their own size",
        "scale_width": f"images scaled to {load} px wide",
        "scale_width_and_crop": f"{crop} of images scaled to {load} px wide",
        "none": "images at their own size",
    }.get(d.preprocess, str(d.preprocess)) + f" (data.preprocess = {d.preprocess!r})"


def overview(trainer: Any) -> Overview:
    """The facts of a built trainer (after its set-up)."""
    config, data = trainer.config, trainer.data
    facts: list[tuple[str, str]] = []
    if config.data.sources:  # several labelled sources (data.sources)
        facts.append(("data", "; ".join(str(s.root or f"built-in demo {s.demo!r}") for s in config.data.sources)))
    elif config.data.root is None:
        facts.append(("data", f"built-in demo {Path(data.config.root).name!r} ({data.config.root})"))
    else:
        facts.append(("data", str(config.data.root)))
    facts.append(("layout", f"{layout_name(data.config)}, direction {data.config.direction}"))
    facts.append(("train split", describe_counts(data.dataset)))
    test = _test_dataset(trainer)
    test_is_train = False
    if test is None:
        facts.append(("test split", "none"))
    else:
        train_files, test_files = dataset_files(data.dataset), dataset_files(test)
        test_is_train = bool(test_files) and test_files <= train_files
        where = " - the training images (no test/ or val/ split)" if test_is_train else ""
        facts.append(("test split", describe_counts(test) + where))
    facts.append(("skipped", describe_skipped(getattr(data.dataset, "scan_skipped", ()))))
    d = data.config
    channels = d.channels if d.channels_b is None or d.channels_b == d.channels else f"{d.channels} -> {d.channels_b}"
    facts.append(("images", f"{describe_preprocess(d)}, {channels} channels, flip {'on' if d.flip else 'off'}"))
    facts.append(("method", f"{config.method_name}: {describe_networks(trainer.method)}"))
    t = config.train
    precision = (
        trainer.precision.name + (" + channels_last" if t.channels_last else "") + (" + compile" if t.compile else "")
    )
    facts.append(
        (
            "device",
            f"{trainer.device} ({trainer.world_size} process{'es' if trainer.world_size > 1 else ''}), "
            f"precision {precision}",
        )
    )
    note = emulation_note(trainer.precision.name, trainer.device)
    if note:
        facts.append(("warning", note))
    epochs = trainer.total_steps / max(trainer.batches_per_epoch, 1)
    facts.append(("batch", f"{t.batch_size} ({trainer.batches_per_epoch} batches per epoch)"))
    facts.append(
        (
            "steps",
            f"{trainer.total_steps} (~{epochs:.3g} epochs)" + (f", resuming at {trainer.step}" if trainer.step else ""),
        )
    )
    facts.append(("output", str(trainer.out_dir)))
    return Overview(facts=tuple(facts), test_is_train=test_is_train)


__all__ = ["Overview", "overview", "describe_counts", "describe_skipped", "dataset_files"]
