"""``build_data``: from a ``[data]`` config and a method's data kind to a ready DataModule.

The trainer's whole view of data::

    data = build_data(config.data, method.data_kind, batch_size=16, seed=0, rank=r, world_size=w,
                      size_multiple=method.size_multiple)
    data.sampler.set_epoch(epoch); data.sampler.set_start(samples_done_this_epoch)
    for raw in data.loader:                      # CPU uint8, decoded in workers
        batch = data.augment(raw, device)        # on the device, kornia, [-1, 1]
    print(len(data.skipped()), "files skipped")

``config.root = None`` means the built-in demo task (:mod:`i2i.data.demo`).
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch.utils.data import DataLoader, Dataset

from i2i.data.augment import DeviceAugment
from i2i.data.batch import Batch
from i2i.data.collate import collate
from i2i.data.config import DataConfig
from i2i.data.files import warn_skip
from i2i.data.layouts import LAYOUTS, check_kind, data_root, detect_layout
from i2i.data.sampler import ResumableSampler
from i2i.errors import DataError
from i2i.method import DATA_KINDS, DataInfo
from i2i.train.signals import ignore_stop_signals


class DataModule:
    """The dataset, its sampler and loader, and the device augmentation, for one split."""

    def __init__(
        self,
        *,
        config: DataConfig,
        info: DataInfo,
        dataset: Dataset,
        sampler: ResumableSampler,
        loader: DataLoader,
        augmenter: DeviceAugment,
        batch_size: int,
        drop_last: bool,
    ) -> None:
        self.config, self.info, self.dataset, self.sampler, self.loader = config, info, dataset, sampler, loader
        self.augmenter, self.batch_size, self.drop_last = augmenter, batch_size, drop_last
        self._skipped: dict[str, str] = dict(getattr(dataset, "scan_skipped", ()))

    def close(self) -> None:
        """Stop the loader's worker processes now.

        Workers are persistent and ignore stop signals (a SIGTERM to the process group must
        stop the run, not kill a worker): left to interpreter exit, multiprocessing would
        SIGTERM them and wait forever. Shutting the iterator down asks them through the
        loader's own queues instead (torch has no public call for it, hence ``_iterator``)."""
        iterator = getattr(self.loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        self.loader._iterator = None

    def batches_per_epoch(self) -> int:
        """Batches in one full pass of this rank (ignores a pending ``set_start``)."""
        n = self.sampler.num_samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def augment(
        self, raw_batch: dict[str, Any], device: torch.device | str, train: bool = True, pad: bool = True
    ) -> Batch:
        """Move a loader batch to ``device`` and augment it there; ``train=False`` is deterministic
        (``pad=False``: not padded to the size multiple, see :class:`~i2i.data.augment.DeviceAugment`)."""
        self._note_skipped(raw_batch.get("skipped", ()))
        device = torch.device(device)
        a = raw_batch["a"].to(device, non_blocking=True)
        b = raw_batch.get("b")
        b = None if b is None else b.to(device, non_blocking=True)
        a, b = self.augmenter(a, b, train=train, pad=pad)
        labels = raw_batch.get("labels")
        labels = None if labels is None else labels.to(device, non_blocking=True)
        return Batch(
            a=a,
            b=b,
            labels=labels,
            names_a=list(raw_batch.get("names_a", [])),
            names_b=list(raw_batch.get("names_b", [])),
        )

    def skipped(self) -> list[str]:
        """Paths of the files skipped so far (at scan and in the batches augmented so far)."""
        return sorted(self._skipped)

    def skip_summary(self) -> str | None:
        """One line for the end of a run, e.g. ``"3 image files were skipped (unreadable or too large)"``."""
        n = len(self._skipped)
        if not n:
            return None
        return (
            f"{n} image file{'s were' if n > 1 else ' was'} skipped (unreadable, empty or too large); see the warnings"
        )

    def _note_skipped(self, entries: Any) -> None:
        for path, reason in entries:
            if path in self._skipped:
                continue
            if self.config.strict:
                raise DataError(f"bad image {path}: {reason} (data.strict = true)")
            self._skipped[path] = reason
            warn_skip(path, reason, len(self._skipped), stacklevel=4)

    def __len__(self) -> int:
        return self.batches_per_epoch()


def build_dataset(config: DataConfig, data_kind: str, split: str = "train", *, host: Any = None) -> Dataset:
    """The dataset alone (``config.root`` set): the named or detected layout, checked against
    ``data_kind``; a layout no built-in knows is looked up in ``host``'s registry (default: the
    process-wide host), so a dataset registered only in ``Trainer(host=...)`` is found."""
    root = data_root(config)
    name = config.layout
    if name == "auto":
        name = "attributes" if config.attribute_file else detect_layout(root, split)
    layout = LAYOUTS.get(name)
    if layout is None:
        return _plugin_dataset(config, name, split, host)
    check_kind(layout, data_kind, root)
    return layout.build(config, split=split, data_kind=data_kind)


def _plugin_dataset(config: DataConfig, name: str, split: str, host: Any = None) -> Dataset:
    """A layout registered by a plugin through ``i2i_register_datasets``."""
    if host is None:
        from i2i.plugins.host import get_host  # lazy: the core data code must not need the plugin host

        host = get_host()
    spec = host.registry.get("dataset", name)
    return spec.create(config=config, split=split)


def build_data(
    config: DataConfig,
    data_kind: str,
    *,
    split: str = "train",
    batch_size: int = 1,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    size_multiple: int = 4,
    shuffle: bool | None = None,
    drop_last: bool | None = None,
    host: Any = None,
) -> DataModule:
    """Build the data for a method of ``data_kind`` (``"paired"``, ``"unpaired"``, ``"labelled"``).

    A dataset with ``groups`` (sizes of consecutive index ranges, as ``data.sources`` makes) gets
    batches that each come from one group, the groups taking turns.
    ``shuffle`` defaults to ``split == "train" and not config.serial_batches``; ``drop_last``
    to ``split == "train"`` (only when there are at least ``batch_size`` samples per rank).
    ``host`` is the plugin host whose registered dataset layouts apply (default: the global one).
    """
    if data_kind not in DATA_KINDS:
        raise DataError(f"unknown data kind {data_kind!r} (one of {', '.join(DATA_KINDS)})")
    if batch_size < 1:
        raise DataError(f"batch size must be positive, got {batch_size}")
    if config.sources:  # several labelled sources, batches alternating between them
        from i2i.data.sources import build_sources  # sources builds each source with this module

        dataset: Dataset = build_sources(config, data_kind, split, host=host)
    else:
        if config.root is None:
            from i2i.data.demo import demo_root, demo_task  # lazy: the demo (kornia) only without a root

            task = demo_task(config.demo, data_kind)
            config = attrs.evolve(
                config, root=str(demo_root(task.name)), layout=task.layout, attribute_file=None, direction="AtoB"
            )
        dataset = build_dataset(config, data_kind, split, host=host)
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise DataError(f"no samples in {config.root} for the {split} split")
    info = getattr(dataset, "info", None) or _default_info(config, data_kind)
    if shuffle is None:
        shuffle = split == "train" and not config.serial_batches
    if drop_last is None:
        drop_last = split == "train"
    sampler = ResumableSampler(
        len(dataset),  # type: ignore[arg-type]  # torch's Dataset declares no __len__
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
        drop_last=False,
        with_tokens=getattr(dataset, "accepts_keys", False),
        groups=tuple(getattr(dataset, "groups", ())),
        block=batch_size * world_size,
    )
    drop_last = drop_last and sampler.num_samples >= batch_size  # a tiny folder still yields a batch
    workers = max(0, config.num_workers)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        drop_last=drop_last,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        # Its own generator: starting an epoch's iterator must not draw from the global RNG
        # (the augmentation's stream), or a resumed run would augment differently.
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=ignore_stop_signals,  # a signal to the process group stops the run, not a worker
    )
    augmenter = DeviceAugment(config, info.kind, size_multiple)
    return DataModule(
        config=config,
        info=info,
        dataset=dataset,
        sampler=sampler,
        loader=loader,
        augmenter=augmenter,
        batch_size=batch_size,
        drop_last=drop_last,
    )


def _default_info(config: DataConfig, data_kind: str) -> DataInfo:
    channels_b = config.channels if config.channels_b is None else config.channels_b
    return DataInfo(kind=data_kind, channels_a=config.channels, channels_b=channels_b)


__all__ = ["DataModule", "build_data", "build_dataset"]
