"""Evaluation of labelled methods (see :mod:`i2i.eval.runner`).

The method declares the option taking a target label and the value that asks for one output
per label (``EvalCapabilities.target`` / ``all_targets``); multi-label methods that toggle
attributes relative to the input also declare the option taking the inputs' own labels
(``source_labels``) and which labels are set rather than toggled (``set_labels``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch

from i2i.errors import DataError, UsageError
from i2i.eval.distances import kid
from i2i.eval.pixels import l1, to_unit

if TYPE_CHECKING:
    from i2i.eval.runner import Evaluation, Split


def evaluate_labelled(ev: Evaluation, test: Split) -> None:
    if test.labels is None:
        raise DataError("the test split holds no labels")
    caps = ev.caps
    if not caps.target:
        raise UsageError(
            f"method {ev.report.method!r} declares no target option (eval_capabilities.target); "
            "cannot evaluate it on labelled data"
        )
    info = ev.method.data_info
    domains = list(info.domains)
    multi = bool(info.multi_label)
    x, labels = test.a, test.labels
    ev.log(f"translating {len(x)} images to all {len(domains)} {'attributes' if multi else 'domains'}")
    per_sample = {caps.source_labels: labels} if multi and caps.source_labels else None
    variants = ev.translate(x, single=False, per_sample=per_sample, **{caps.target: caps.all_targets})
    names = [d for d in domains if d in variants] or list(variants)
    # One translation per input, target domains spread evenly (image i -> the (i mod D)-th):
    # a fake set as large as the real one. Distribution metrics compare it with *training*
    # images of the same domain mix, so no test image is compared with itself; the floor is
    # the test images of that mix.
    mixed = torch.stack([variants[names[i % len(names)]][i] for i in range(x.shape[0])])
    train = ev.train_split()
    assert train.labels is not None
    if multi:
        reference, floor = train.a[: x.shape[0]], x
    else:
        wanted = [domains.index(names[i % len(names)]) for i in range(x.shape[0])]
        reference = _pick(train.a, train.labels.argmax(1), wanted)
        floor = _pick(x, labels.argmax(1), wanted)
    mean = ev.mean_image("a", x)
    candidates: dict[str, torch.Tensor | None] = {"model": mixed, "identity": x, "mean_image": mean}
    ev.distribution_metrics("", candidates, reference, floor)
    if ev.wanted & {"swd", "kid_classifier", "fid", "kid"}:
        ev.report.notes.append(
            "labelled data: SWD/KID pool all target domains, so the identity baseline (real images, other "
            "domains) can score like 'real'; accuracy is the per-target measure"
        )
    if ev.wanted & {"accuracy", "kid_classifier"}:
        model = ev.classifier()
        if "accuracy" in ev.wanted:
            set_labels = set(caps.set_labels(ev.method) or ()) if caps.set_labels else set()
            target_accuracy(ev, model, variants, names, domains, x, labels, mean, multi, set_labels)
        if "kid_classifier" in ev.wanted:
            reference_features = model.embed(reference)
            for column, images in {**candidates, "real": floor}.items():
                if images is not None and len(images) >= 2:
                    ev.report.add(
                        "kid_classifier", column, kid(model.embed(images), reference_features, seed=ev.settings.seed)[0]
                    )
    if "cycle" in ev.wanted:
        if multi:
            ev.report.notes.append(
                "cycle skipped: attribute (multi-label) data has no single source domain to return to"
            )
        else:
            labelled_cycle(ev, variants, names, domains, x, labels)


def target_accuracy(
    ev: Evaluation,
    model: Any,
    variants: dict[str, torch.Tensor],
    names: list[str],
    domains: list[str],
    x: torch.Tensor,
    labels: torch.Tensor,
    mean: torch.Tensor,
    multi: bool,
    set_labels: set[str],
) -> None:
    """Share of one-per-label translations the classifier assigns to their target (one-hot), or
    share of target attributes it reads as set as asked (multi-label: each attribute toggled,
    one of ``set_labels`` set - the method's convention for its all-targets value)."""

    def score(images_for: Callable[[str], torch.Tensor]) -> float:
        hits = []
        for name in names:
            k = domains.index(name)
            predicted = model.predict(images_for(name))
            if multi:
                expected = torch.ones(x.shape[0]) if name in set_labels else 1 - labels[:, k]
                hits.append((predicted[:, k] == expected.long()).float())
            else:
                hits.append((predicted == k).float())
        return float(torch.cat(hits).mean())

    ev.report.add("accuracy", "model", score(lambda name: variants[name]))
    ev.report.add("accuracy", "identity", score(lambda name: x))
    ev.report.add("accuracy", "mean_image", score(lambda name: mean))
    predicted = model.predict(x)
    truth = labels.long() if multi else labels.argmax(1)
    ev.report.add("accuracy", "real", float((predicted == truth).float().mean()))


def labelled_cycle(
    ev: Evaluation,
    variants: dict[str, torch.Tensor],
    names: list[str],
    domains: list[str],
    x: torch.Tensor,
    labels: torch.Tensor,
) -> None:
    target = ev.caps.target
    assert target is not None
    source = labels.argmax(1)
    errors = []
    for name in names:
        k = domains.index(name)
        for s in source.unique().tolist():
            mask = (source == s) & (source != k)
            if mask.any():
                back = ev.translate(variants[name][mask], **{target: domains[s]})[""]
                errors.append(l1(to_unit(back), to_unit(x[mask])))
    if errors:
        ev.report.add("cycle", "model", float(torch.cat(errors).mean()))
        ev.report.add("cycle", "identity", 0.0)


def _pick(images: torch.Tensor, classes: torch.Tensor, wanted: list[int]) -> torch.Tensor:
    """For each wanted class, the next image of that class (cycling): a set with a given class mix."""
    pools = {k: (classes == k).nonzero().flatten().tolist() for k in set(wanted)}
    taken: dict[int, int] = {}
    index = []
    for k in wanted:
        pool = pools[k]
        if pool:
            index.append(pool[taken.get(k, 0) % len(pool)])
            taken[k] = taken.get(k, 0) + 1
    return images[index]
