"""StarGAN on several labelled datasets (Choi et al. 2018, section 3.2): the mask vector.

With ``data.sources`` the label is ``[c_1, ..., c_K, mask]`` (:class:`i2i.DataInfo` ``sources``):
every dataset's part, zeros where unknown, and a one-hot ``mask`` saying which part is known.
The generator is conditioned on the whole vector (the reference's ``c_dim + c2_dim + 2``), the
discriminator classifies into every dataset's labels (``c_dim + c2_dim``) and its
classification loss uses only the known part of each image's label (the reference's
``out_cls[:, :c_dim]`` for CelebA, ``out_cls[:, c_dim:]`` for RaFD).

Targets name labels of any dataset (``"Blond_Hair,happy"``; ``"rafd:happy"`` where two datasets
share a name). A label vector carries one dataset's part, so labels of several datasets are
applied one dataset after another (``G(G(x, [c_celeba, 0, mask_celeba]), [0, c_rafd,
mask_rafd])``), in the order they are named.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

import i2i
from i2i_stargan.targets import SourceLabels, Target, all_targets, split_names, target_labels


class LabelLayout:
    """Where each dataset's labels and its mask bit sit in the label vector."""

    def __init__(self, sources: Sequence[i2i.LabelSource], exclusive: Sequence[str] = ()) -> None:
        self.sources, self.exclusive = tuple(sources), tuple(exclusive)
        widths = [len(s.domains) for s in self.sources]
        self.offsets = [sum(widths[:k]) for k in range(len(widths))]
        self.widths, self.total, self.count = widths, sum(widths), len(widths)

    @property
    def g_dim(self) -> int:
        """The generator's label width: every dataset's labels plus the mask."""
        return self.total + self.count

    def part(self, labels: torch.Tensor, k: int) -> torch.Tensor:
        return labels[:, self.offsets[k] : self.offsets[k] + self.widths[k]]

    def source_of(self, labels: torch.Tensor) -> torch.Tensor:
        """Each image's dataset index, from its mask."""
        return labels[:, self.total : self.total + self.count].argmax(dim=1)

    def full(self, k: int, part: torch.Tensor) -> torch.Tensor:
        """Dataset ``k``'s ``(n, D_k)`` labels as whole label vectors (others zero, mask ``k``)."""
        out = torch.zeros(part.shape[0], self.g_dim, device=part.device, dtype=part.dtype)
        out[:, self.offsets[k] : self.offsets[k] + self.widths[k]] = part
        out[:, self.total + k] = 1.0
        return out

    # -- training ---------------------------------------------------------------------------
    def shuffled(self, labels: torch.Tensor) -> torch.Tensor:
        """Target labels: each dataset's images get their own dataset's labels, shuffled
        (``label_org[randperm]`` per dataset, as the reference)."""
        source = self.source_of(labels)
        present = source.unique()
        if len(present) == 1:  # one dataset per batch (the alternating sampler): the reference's draw
            return labels[torch.randperm(labels.shape[0], device=labels.device)]
        out = labels.clone()
        for k in present.tolist():
            rows = (source == k).nonzero().flatten()
            out[rows] = labels[rows[torch.randperm(len(rows), device=labels.device)]]
        return out

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The reference's loss on each image's known part only: BCE summed over a dataset's
        attributes and averaged over its images, or cross-entropy over its domains; datasets
        mixed in one batch are weighted by their share of it."""
        logits, source = logits.float(), self.source_of(labels)
        total = logits.new_zeros(())
        for k in source.unique().tolist():
            rows = source == k
            mine, wanted = self.part(logits[rows], k), self.part(labels[rows], k)
            if self.sources[k].multi_label:
                loss = F.binary_cross_entropy_with_logits(mine, wanted, reduction="sum") / mine.shape[0]
            else:
                loss = F.cross_entropy(mine, wanted.argmax(dim=1))
            total = total + loss * (rows.sum() / labels.shape[0])
        return total

    def keep_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """How far D's reading of the labels an image's own dataset does *not* know moved from
        the input to its translation: per image, the KL divergence from D's reading of the real
        image (softmax over one-hot domains, a Bernoulli per attribute) to its reading of the fake,
        summed over the other datasets, averaged over the batch.

        Why: under one dataset's target the other datasets' parts of the label are zero (the
        mask vector), so the paper's objective asks nothing of them but the cycle; a generator
        set to a frame then forgets the input's colour look about as often as chance
        (docs/stargan.md). D's classifier for each dataset, trained on its
        own images, reads those labels on every image, so keeping its reading keeps them.
        ``real_logits`` are the critic's (detached) logits for the same inputs.
        """
        fake_logits, real_logits = fake_logits.float(), real_logits.detach().float()
        source = self.source_of(labels)
        total = fake_logits.new_zeros(())
        for k, src in enumerate(self.sources):
            fake, real = self.part(fake_logits, k), self.part(real_logits, k)
            if src.multi_label:
                p = torch.sigmoid(real)
                kl = p * (F.logsigmoid(real) - F.logsigmoid(fake)) + (1 - p) * (
                    F.logsigmoid(-real) - F.logsigmoid(-fake)
                )
            else:
                log_p = F.log_softmax(real, dim=1)
                kl = log_p.exp() * (log_p - F.log_softmax(fake, dim=1))
            unknown = (source != k).to(kl.dtype)  # only images whose own dataset is not k
            total = total + (kl.sum(dim=1) * unknown).mean()
        return total

    # -- targets -------------------------------------------------------------------------------
    def resolve(self, item: str, what: str = "target") -> tuple[int, str]:
        """``"happy"``, ``"-Male"`` or ``"rafd:happy"`` -> (dataset index, the name in its dataset);
        ``what`` names the option in the errors."""
        sign, name = ("-", item[1:].strip()) if item.startswith("-") else ("", item)
        if ":" in name:
            prefix, _, local = name.partition(":")
            for k, src in enumerate(self.sources):
                if src.name == prefix and local in src.domains:
                    return k, sign + local
        owners = [k for k, src in enumerate(self.sources) if name in src.domains]
        if len(owners) == 1:
            return owners[0], sign + name
        valid = ", ".join(f"{s.name}: {' '.join(s.domains)}" for s in self.sources)
        if owners:
            options = " or ".join(f"{self.sources[k].name}:{name}" for k in owners)
            raise i2i.UsageError(f"{what}: {name!r} is a label of several datasets; name one as {options}")
        raise i2i.UsageError(
            f"{what}: unknown label {name!r} (valid: {valid}" + ("; or 'all')" if what == "target" else ")")
        )

    def source_parts(self, source: SourceLabels, n: int, device: torch.device) -> list[torch.Tensor | None]:
        """``source_labels`` (names of any dataset, or a label tensor) as each dataset's part."""
        if source is None:
            return [None] * self.count
        if isinstance(source, torch.Tensor):
            labels = source.detach().to(device=device, dtype=torch.float32)
            labels = labels.unsqueeze(0) if labels.dim() == 1 else labels
            if labels.dim() != 2 or labels.shape[1] not in (self.total, self.g_dim) or labels.shape[0] not in (1, n):
                raise i2i.UsageError(f"source_labels: expected shape ({n}, {self.total}), got {tuple(source.shape)}")
            labels = labels.expand(n, -1)
            return [self.part(labels, k).clone() for k in range(self.count)]
        parts: list[torch.Tensor | None] = [None] * self.count
        for item in split_names(source):
            k, name = self.resolve(item, "source_labels")
            if parts[k] is None:
                parts[k] = torch.zeros(n, self.widths[k], device=device)
            parts[k][:, self.sources[k].domains.index(name)] = 1.0  # type: ignore[index]
        return parts

    def targets(self, target: Target, source: SourceLabels, n: int, device: torch.device) -> list[torch.Tensor]:
        """The label vectors to apply in turn for ``target`` (one per dataset it names)."""
        grouped: dict[int, list[str]] = {}
        for item in split_names(target):
            k, name = self.resolve(item)
            grouped.setdefault(k, []).append(name)
        if not grouped:
            raise i2i.UsageError("target: name at least one label (or 'all')")
        parts = self.source_parts(source, n, device)
        out = []
        for k, names in grouped.items():
            src = self.sources[k]
            part = target_labels(names, src.domains, src.multi_label, parts[k], self.exclusive, n, device)
            out.append(self.full(k, part))
        return out

    def all_targets(self, source: SourceLabels, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        """One label vector per label of every dataset (``target="all"``, the reference's
        ``test_multi``); names shared by two datasets are qualified (``rafd:happy``)."""
        parts = self.source_parts(source, n, device)
        seen = [name for s in self.sources for name in s.domains]
        out: dict[str, torch.Tensor] = {}
        for k, src in enumerate(self.sources):
            known = parts[k]
            if src.multi_label and known is None:
                known = torch.zeros(n, self.widths[k], device=device)  # unknown attributes count as 0
            for name, part in all_targets(src.domains, src.multi_label, known, self.exclusive, n, device).items():
                key = name if seen.count(name) == 1 else f"{src.name}:{name}"
                out[key] = self.full(k, part)
        return out

    def spread(self, source: SourceLabels, n: int, device: torch.device) -> torch.Tensor:
        """No target: image ``i`` gets the ``i mod V``-th of the ``all`` label vectors."""
        variants = list(self.all_targets(source, n, device).values())
        return torch.stack([variants[i % len(variants)][i] for i in range(n)])

    def check(self, labels: torch.Tensor) -> None:
        if labels.dim() != 2 or labels.shape[1] != self.g_dim:
            names = "; ".join(f"{s.name}: {len(s.domains)}" for s in self.sources)
            raise i2i.UsageError(
                f"stargan was built for {self.count} datasets ({names}) plus a mask, {self.g_dim} label values, "
                f"but the data has {labels.shape[-1]}"
            )
