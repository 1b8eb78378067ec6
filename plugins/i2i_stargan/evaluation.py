"""``i2i eval`` for StarGAN trained on several datasets: each dataset's domain accuracy.

For every dataset ``k`` a domain classifier is trained on that dataset's training images and
labels only (``i2i.classifier_for``, cached per training set); every held-out image (of any
dataset, as the reference's ``test_multi`` turns CelebA faces into RaFD expressions) is
translated to each of dataset ``k``'s labels (``target="all"``), and the row
``accuracy_<dataset>`` is the share the classifier assigns to the label asked for (an
attribute: read as set). Columns: ``model``; ``identity``, the inputs themselves judged against
the same targets; ``real``, the classifier on dataset ``k``'s own held-out images (its ceiling).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

import i2i


def _classifier(ctx: Any, images: torch.Tensor, part: torch.Tensor, multi: bool) -> Any:
    targets = part if multi else part.argmax(1)
    with torch.enable_grad(), torch.autocast(ctx.device.type, enabled=False):  # metrics run under no_grad
        return i2i.classifier_for(images, targets, part.shape[1], multi_label=multi, seed=ctx.seed, device=ctx.device,
                                  log=ctx.log)  # fmt: skip


def dataset_accuracy(ctx: Any) -> Mapping[str, Mapping[str, float]]:
    layout = getattr(ctx.method, "layout", None)
    if layout is None:
        return {}  # one dataset: the generic ``accuracy`` row is the measure
    test, train = ctx.test(), ctx.train()
    if test.labels is None or train.labels is None:
        ctx.note("dataset_accuracy: the data holds no labels")
        return {}
    variants = ctx.translate(test.a, single=False, target="all")
    names = list(variants)
    rows: dict[str, dict[str, float]] = {}
    for k, source in enumerate(layout.sources):
        own_train = layout.source_of(train.labels) == k
        own_test = layout.source_of(test.labels) == k
        if not own_train.any() or not own_test.any():
            ctx.note(f"dataset_accuracy: no {'training' if not own_train.any() else 'held-out'} images of {source.name}")
            continue
        model = _classifier(ctx, train.a[own_train], layout.part(train.labels[own_train], k), source.multi_label)
        keys = names[sum(layout.widths[:k]) : sum(layout.widths[: k + 1])]

        def score(images_for: Any) -> float:
            hits = []
            for j, key in enumerate(keys):
                predicted = model.predict(images_for(key)).cpu()
                hits.append((predicted[:, j] == 1).float() if source.multi_label else (predicted == j).float())
            return float(torch.cat(hits).mean())

        truth = layout.part(test.labels[own_test], k)
        predicted = model.predict(test.a[own_test]).cpu()
        real = predicted == (truth.long() if source.multi_label else truth.argmax(1))
        rows[f"accuracy_{source.name}"] = {
            "model": score(lambda key: variants[key]),
            "identity": score(lambda key: test.a),
            "real": float(real.float().mean()),
        }
    return rows


DATASET_ACCURACY = i2i.EvalMetric(
    name="dataset_accuracy",
    description="per dataset of a multi-dataset StarGAN: share of held-out images translated to each of the dataset's "
    "labels that a classifier trained on that dataset assigns to the label asked for (real: the classifier on the "
    "dataset's own held-out images)",
    compute=dataset_accuracy,
)
