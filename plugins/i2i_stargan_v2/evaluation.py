"""StarGAN v2's own ``i2i eval`` rows: how different the outputs of one input and domain are.

The paper measures diversity with LPIPS, whose AlexNet weights cannot be downloaded here, so
these rows use the mean L1 distance (images in [0, 1]) between outputs of the same input and
target domain:

* ``diversity_latent``: K outputs from K latent codes (``--samples``, at least 2);
* ``diversity_reference``: K outputs styled by K different held-out images of that domain.

Columns: ``model``; ``identity`` (copying the input: no diversity, 0); ``real`` (the distance
between different held-out images of one domain: how varied the domain itself is).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

DESCRIPTION = (
    "mean L1 (images in [0, 1]) between outputs of one input and target domain under different latent codes "
    "(diversity_latent) or reference images (diversity_reference); LPIPS, the paper's measure, needs weights "
    "i2i cannot download; real = L1 between different held-out images of one domain"
)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


def _pairwise_l1(outputs: list[torch.Tensor]) -> float:
    pairs = [(_unit(a) - _unit(b)).abs().mean() for i, a in enumerate(outputs) for b in outputs[i + 1 :]]
    return float(torch.stack(pairs).mean())


def diversity(ctx: Any) -> Mapping[str, Mapping[str, float]]:
    """The two rows, averaged over target domains (inputs of every domain to every domain)."""
    test = ctx.test()
    if test.labels is None:
        ctx.note("diversity: the test split holds no domain labels")
        return {}
    x, y = test.a, test.labels.argmax(1)
    domains = list(ctx.method.domains)
    k = max(2, int(ctx.samples))
    latent, reference, real = [], [], []
    for d, name in enumerate(domains):
        outputs = list(ctx.translate(x, single=False, target=name, samples=k, seed=ctx.seed).values())
        latent.append(_pairwise_l1(outputs))
        pool = test.a[y == d]
        if len(pool) >= 2:
            refs = pool[torch.arange(min(k, len(pool)))]
            styled = [ctx.translate(x, target=name, reference=r[None])[""] for r in refs]
            reference.append(_pairwise_l1(styled))
            real.append(_pairwise_l1([r[None] for r in refs]))
    rows: dict[str, dict[str, float]] = {"diversity_latent": {"model": sum(latent) / len(latent), "identity": 0.0}}
    if reference:
        floor = sum(real) / len(real)
        rows["diversity_latent"]["real"] = floor
        rows["diversity_reference"] = {"model": sum(reference) / len(reference), "identity": 0.0, "real": floor}
    else:
        ctx.note("diversity_reference: fewer than two held-out images per domain")
    return rows
