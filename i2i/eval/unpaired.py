"""Evaluation of unpaired methods, per declared direction (see :mod:`i2i.eval.runner`).

Each :class:`~i2i.eval.capabilities.Direction` the method declares is translated with its own
options and scored against the real images of its target domain: SWD/FID/KID, the domain
classifier's accuracy and ``kid_classifier``; with two directions each output is translated
back (``cycle``); with a ``samples`` option, K samples per input give ``diversity`` and, on data
that also reads as aligned pairs, ``best_of_k``/``mean_of_k``; a method that keeps target-domain
images declares ``keeps_target_domain`` and gets ``idempotence``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from i2i.errors import DataError
from i2i.eval.capabilities import Direction
from i2i.eval.pixels import l1, to_unit
from i2i.inference import adapt_channels

if TYPE_CHECKING:
    from i2i.eval.runner import Evaluation, Split


def evaluate_unpaired(ev: Evaluation, test: Split) -> None:
    if test.b is None:
        raise DataError("the test split holds no domain-B images")
    caps = ev.caps
    domains = {"a": test.a, "b": test.b}
    by_source = {d.source: d for d in caps.directions}
    needs_train = ev.wanted & {"swd", "accuracy", "kid_classifier", "fid", "kid"}
    train = ev.train_split() if needs_train else None
    for direction in caps.directions:
        source, target = domains[direction.source], domains[direction.target]
        ev.log(f"translating {direction.name} ({len(source)} images)")
        out = ev.translate(source, **direction.options)[""]
        suffix = f"_{direction.name}"
        identity = adapt_channels(source, target.shape[1])
        like = target.new_empty(len(source), target.shape[1], *target.shape[-2:])
        candidates = {
            "model": out,
            "identity": identity if identity.shape[-2:] == target.shape[-2:] else None,
            "mean_image": ev.mean_image(direction.target, like),
        }
        back = by_source.get(direction.target)
        if "cycle" in ev.wanted and back is not None:
            rec = ev.translate(out, **back.options)[""]
            ev.report.add(f"cycle{suffix}", "model", float(l1(to_unit(rec), to_unit(source)).mean()))
            ev.report.add(f"cycle{suffix}", "identity", 0.0)
        real_train = None if train is None else (train.b if direction.target == "b" else train.a)
        ev.distribution_metrics(suffix, candidates, target, real_train)
        if ev.wanted & {"accuracy", "kid_classifier"}:
            target_class = torch.full((max(len(source), len(target)),), 1 if direction.target == "b" else 0)
            ev.classifier_metrics(suffix, candidates, target, target_class, real_train)
        if caps.samples and ev.wanted & {"diversity", "best_of_k"}:
            multimodal(ev, direction, source, target)
        if caps.keeps_target_domain and "idempotence" in ev.wanted:
            kept = ev.translate(target, **direction.options)[""] if target.shape[1] == source.shape[1] else None
            if kept is not None:
                ev.report.add(f"idempotence{suffix}", "model", float(l1(to_unit(kept), to_unit(target)).mean()))
                ev.report.add(f"idempotence{suffix}", "identity", 0.0)
    if "cycle" in ev.wanted and len(by_source) < 2:
        ev.report.notes.append("cycle not computed: the method declares one direction (eval_capabilities.directions)")


def _sample_options(ev: Evaluation, direction: Direction) -> dict[str, Any]:
    caps = ev.caps
    options: dict[str, Any] = {**direction.options, caps.samples: ev.settings.samples}  # type: ignore[dict-item]
    if caps.seed:
        options[caps.seed] = ev.settings.seed
    return options


def multimodal(ev: Evaluation, direction: Direction, source: torch.Tensor, target: torch.Tensor) -> None:
    """Diversity of K samples per input; best-/mean-of-K L1 where aligned ground truth exists."""
    suffix = f"_{direction.name}"
    options = _sample_options(ev, direction)
    ev.log(f"sampling {ev.settings.samples} outputs per input{suffix}")
    samples = list(ev.translate(source, single=False, **options).values())
    if "diversity" in ev.wanted and len(samples) >= 2:
        units = [to_unit(s) for s in samples]
        pairs = [l1(units[i], units[j]) for i in range(len(units)) for j in range(i + 1, len(units))]
        ev.report.add(f"diversity{suffix}", "model", float(torch.stack(pairs).mean()))
        ev.report.add(f"diversity{suffix}", "identity", 0.0)
        if target.shape[0] >= 2:
            shifted = torch.roll(target, 1, dims=0)
            ev.report.add(f"diversity{suffix}", "real", float(l1(to_unit(target), to_unit(shifted)).mean()))
    if "best_of_k" not in ev.wanted:
        return
    truth = ev.ground_truth()
    if truth is None:
        note = "best_of_k/mean_of_k skipped: the test data holds no aligned ground truth"
        if note not in ev.report.notes:
            ev.report.notes.append(note)
        return
    inputs, gt = truth if direction.source == "a" else (truth[1], truth[0])
    outs = torch.stack([to_unit(s) for s in ev.translate(inputs, single=False, **options).values()])
    errors = torch.stack([l1(o, to_unit(gt)) for o in outs])  # (K, N)
    ev.report.add(f"best_of_k{suffix}", "model", float(errors.min(0).values.mean()))
    ev.report.add(f"mean_of_k{suffix}", "model", float(errors.mean()))
    identity = adapt_channels(inputs, gt.shape[1])
    if identity.shape == gt.shape:
        for metric in ("best_of_k", "mean_of_k"):
            ev.report.add(f"{metric}{suffix}", "identity", float(l1(to_unit(identity), to_unit(gt)).mean()))
    mean = ev.mean_image(direction.target, gt)
    for metric in ("best_of_k", "mean_of_k"):
        ev.report.add(f"{metric}{suffix}", "mean_image", float(l1(to_unit(mean), to_unit(gt)).mean()))
