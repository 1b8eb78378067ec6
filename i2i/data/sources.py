"""Several labelled data sources in one run (``data.sources``), as StarGAN trains on CelebA and
RaFD together (Choi et al. 2018, section 3.2).

Each source is built as a run with that one source would build it (its own root or demo,
layout, labels and worker-side resize), then the sources are concatenated. Every item's
label becomes ``[c_1, ..., c_K, mask]``: its own source's part filled in, the others zero, and
a one-hot ``mask`` naming the source. The dataset's ``groups`` (the sources' sizes) make the
sampler hand out batches that each come from one source, the sources taking turns, so a
method sees one source per step as the reference's alternating loop does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import attrs
import torch
from torch.utils.data import Dataset

from i2i.data.config import DataConfig, DataSource
from i2i.errors import DataError
from i2i.method import LABELLED, DataInfo, LabelSource


class MultiSourceDataset(Dataset):
    """The sources' datasets one after another; labels widened to ``[c_1, ..., c_K, mask]``."""

    accepts_keys = True

    def __init__(self, datasets: Sequence[Any], sources: Sequence[LabelSource], root: str = "") -> None:
        self.datasets, self.root = list(datasets), root
        self.names = [s.name for s in sources]
        self.groups = tuple(len(d) for d in self.datasets)
        first = getattr(self.datasets[0], "info", None) or DataInfo(kind=LABELLED)
        domains = tuple(name for s in sources for name in s.domains)
        self.info = DataInfo(
            kind=LABELLED,
            channels_a=first.channels_a,
            channels_b=first.channels_b,
            domains=domains,
            multi_label=True,
            sources=tuple(sources),
        )
        self.scan_skipped = [entry for d in self.datasets for entry in getattr(d, "scan_skipped", ())]

    def __len__(self) -> int:
        return sum(self.groups)

    def locate(self, index: int) -> tuple[int, int]:
        """``(source, index within it)`` of a global index."""
        for k, size in enumerate(self.groups):
            if index < size:
                return k, index
            index -= size
        raise IndexError(index)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, token = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), int(key))
        k, local = self.locate(index)
        dataset = self.datasets[k]
        item = dict(dataset[(local, token)] if getattr(dataset, "accepts_keys", False) else dataset[local])
        own = torch.as_tensor(item["label"], dtype=torch.float32).reshape(1, -1)
        item["label"] = widen_labels(own, k, self.info.sources)[0]
        if "name_a" in item:  # file names repeat across sources (0001.jpg): keep them apart
            item["name_a"] = f"{self.names[k]}/{item['name_a']}"
        return item


def widen_labels(part: torch.Tensor, k: int, sources: Sequence[LabelSource]) -> torch.Tensor:
    """Source ``k``'s own ``(N, D_k)`` labels as whole label vectors ``[c_1, ..., c_K, mask]``:
    the other sources' parts zero (unknown), the mask one-hot at ``k``."""
    widths = [len(s.domains) for s in sources]
    offset, total = sum(widths[:k]), sum(widths)
    out = torch.zeros(part.shape[0], total + len(widths), dtype=torch.float32, device=part.device)
    out[:, offset : offset + widths[k]] = part.float()
    out[:, total + k] = 1.0
    return out


def own_labels(labels: torch.Tensor, sources: Sequence[LabelSource]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Whole label vectors split by source: for each source, ``(rows of it, its own labels)``."""
    widths = [len(s.domains) for s in sources]
    total = sum(widths)
    which = labels[:, total : total + len(widths)].argmax(dim=1)
    out = []
    for k, width in enumerate(widths):
        rows = (which == k).nonzero().flatten()
        out.append((rows, labels[rows, sum(widths[:k]) : sum(widths[:k]) + width]))
    return out


def source_config(config: DataConfig, source: DataSource, data_kind: str) -> DataConfig:
    """The ``[data]`` config of a run on ``source`` alone."""
    from i2i.data.demo import demo_root, demo_task  # lazy: the demo (kornia) only without a root

    root, layout, attribute_file = source.root, source.layout, source.attribute_file
    if source.demo is not None:
        task = demo_task(source.demo, data_kind)
        root, layout, attribute_file = str(demo_root(task.name)), task.layout, None
    if root is None:
        raise DataError("data.sources: every source needs a root (a data folder) or a demo (a built-in demo task)")
    try:
        return attrs.evolve(
            config,
            root=root,
            demo=None,
            layout=layout,
            attribute_file=attribute_file,
            sources=(),
            attributes=config.attributes if source.attributes is None else source.attributes,
            load_size=config.load_size if source.load_size is None else source.load_size,
            preprocess=config.preprocess if source.preprocess is None else source.preprocess,
            max_dataset_size=config.max_dataset_size if source.max_dataset_size is None else source.max_dataset_size,
        )
    except ValueError as exc:  # the [data] validators, e.g. a source's load_size below the crop
        raise DataError(f"data.sources ({source.name or source.demo or root}): {exc}") from None


def source_name(source: DataSource, config: DataConfig) -> str:
    return source.name or source.demo or Path(config.root or "source").expanduser().resolve().name


def build_sources(config: DataConfig, data_kind: str, split: str = "train", host: Any = None) -> MultiSourceDataset:
    """The dataset of ``config.sources`` (two or more labelled sources); ``host`` as for
    :func:`~i2i.data.pipeline.build_dataset`."""
    from i2i.data.pipeline import build_dataset  # the pipeline imports this module

    if data_kind != LABELLED:
        raise DataError(f"data.sources: several data sources serve labelled methods only, not a {data_kind} one")
    if len(config.sources) < 2:
        raise DataError(f"data.sources: give two or more sources (got {len(config.sources)}); one source is data.root")
    datasets, labels, names = [], [], set()
    for i, source in enumerate(config.sources):
        sub = source_config(config, source, data_kind)
        name = source_name(source, sub)
        if name in names:
            raise DataError(f'data.sources[{i}]: two sources are named {name!r}; set name = "..." on one')
        names.add(name)
        dataset = build_dataset(sub, data_kind, split, host=host)
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise DataError(f"data.sources[{i}] ({name}): no samples in {sub.root} for the {split} split")
        # layouts' datasets carry ``info`` (FolderDataset.info); torch's Dataset declares no such field
        info: DataInfo = dataset.info  # type: ignore[attr-defined]
        datasets.append(dataset)
        labels.append(LabelSource(name=name, domains=tuple(info.domains), multi_label=bool(info.multi_label)))
    return MultiSourceDataset(datasets, labels, root=", ".join(str(s.root or s.demo) for s in config.sources))


__all__ = ["MultiSourceDataset", "build_sources", "own_labels", "source_config", "source_name", "widen_labels"]
