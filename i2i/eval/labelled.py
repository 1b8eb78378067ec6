"""Evaluation of labelled methods (see :mod:`i2i.eval.runner`).

The method declares the option taking a target label and the value that asks for one output
per label (``EvalCapabilities.target`` / ``all_targets``); multi-label methods that toggle
attributes relative to the input also declare the option taking the inputs' own labels
(``source_labels``) and which labels are set rather than toggled (``set_labels``).

**Several labelled sources** (a method whose ``DataInfo.sources`` is set, trained on
``data.sources``): every source is a label set of its own. Its images are read from its own
folder, each once (:func:`collect_sources`; the training sampler, which hands out whole
batches of one source in turn and repeats the smaller one, would give a lopsided set, or a
set of one source only), and it gets its own domain classifier, trained on its training
images and its own labels only. Its rows carry its name: ``accuracy_<source>`` (its held-out
images translated to each of its labels), ``accuracy_<source>_from_<other>`` (another source's
held-out images translated to them: the cross-dataset control, the labels unknown there count
as 0), ``kept_<source>_under_<other>`` (its held-out images translated to each of the other
source's labels and still classified as their own label: whether the two label sets are set
independently), ``swd_<source>``, ``kid_classifier_<source>`` and ``cycle_<source>``. The
``real`` column of an accuracy row is that source's classifier on its own held-out images.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Sequence

import attrs
import torch

from i2i.errors import DataError, UsageError
from i2i.eval.distances import kid
from i2i.eval.pixels import l1, mean_like, to_unit

if TYPE_CHECKING:
    from i2i.eval.runner import Evaluation, Split
    from i2i.method import LabelSource


@attrs.frozen
class LabelSet:
    """One label set to evaluate and its images: the data's, or one source's of several.

    ``keys`` name each of ``domains`` among the outputs of ``all_targets`` (and as a value of
    the target option); ``test.labels`` / ``train.labels`` are this set's own columns, and
    ``widen`` turns them into what the method's ``source_labels`` option takes."""

    name: str  # "" for the data's only label set; else the source's name, which suffixes its rows
    domains: tuple[str, ...]
    keys: tuple[str, ...]
    multi: bool
    test: Split
    train: Split
    widen: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def suffix(self) -> str:
        return f"_{self.name}" if self.name else ""


def evaluate_labelled(ev: Evaluation, test: Split) -> None:
    if test.labels is None:
        raise DataError("the test split holds no labels")
    if not ev.caps.target:
        raise UsageError(
            f"method {ev.report.method!r} declares no target option (eval_capabilities.target); "
            "cannot evaluate it on labelled data"
        )
    info = ev.method.data_info
    if info.sources:
        sets = source_sets(ev, test, tuple(info.sources))
    else:
        domains = tuple(info.domains)
        sets = [LabelSet("", domains, domains, bool(info.multi_label), test, ev.train_split())]
    variants = {s.name: translate_all(ev, s) for s in sets}
    for s in sets:
        evaluate_set(ev, s, variants[s.name], [(o, variants[o.name]) for o in sets if o is not s])
    if ev.wanted & {"swd", "kid_classifier", "fid", "kid"}:
        ev.report.notes.append(
            "labelled data: SWD/KID pool all target domains, so the identity baseline (real images, other "
            "domains) can score like 'real'; accuracy is the per-target measure"
        )
    if len(sets) > 1 and "accuracy" in ev.wanted:
        ev.report.notes.append(
            "accuracy_<source>: that source's held-out images translated to each of its labels, judged by a classifier "
            "trained on that source only; accuracy_<source>_from_<other>: the other source's images translated to them "
            "(the cross-dataset control); kept_<source>_under_<other>: the source's images translated to each of the "
            "other's labels, still classified as their own label (independence; identity = real); real: the "
            "classifier on the source's own held-out images"
        )


# -- several labelled sources --------------------------------------------------------------------
def collect_sources(ev: Evaluation, split: str, limit: int) -> Split:
    """Each of ``data.sources`` read from its own folder, up to ``limit`` images each, every file
    once; labels widened to the run's ``[c_1, ..., c_K, mask]`` (:func:`i2i.data.sources.widen_labels`)."""
    from i2i.data.sources import source_config, widen_labels  # lazy: the data layer loads only when evaluating
    from i2i.eval.runner import Split  # the runner imports this module

    data, sources = ev.data_config, tuple(ev.method.data_info.sources)
    if len(sources) != len(data.sources):
        raise DataError(
            f"data.sources: the checkpoint's method was trained on {len(sources)} labelled sources, "
            f"its config names {len(data.sources)}"
        )
    images, labels = [], []
    for k, (source, label_set) in enumerate(zip(data.sources, sources)):
        try:
            part = ev.collect(split, limit, data=source_config(data, source, ev.kind))
        except DataError as exc:
            raise DataError(f"data.sources[{k}] ({label_set.name}): {exc}") from None
        width = 0 if part.labels is None else part.labels.shape[1]
        if part.labels is None or width != len(label_set.domains):
            raise DataError(
                f"data.sources[{k}] ({label_set.name}): its {split} split has {width} labels, the checkpoint was "
                f"trained on {len(label_set.domains)} ({', '.join(label_set.domains)})"
            )
        images.append(part.a)
        labels.append(widen_labels(part.labels, k, sources))
    return Split(a=torch.cat(images), labels=torch.cat(labels))


def source_sets(ev: Evaluation, test: Split, sources: Sequence[LabelSource]) -> list[LabelSet]:
    """One :class:`LabelSet` per source, its images picked out of the pooled splits by the mask."""
    from i2i.data.sources import own_labels, widen_labels  # lazy: the data layer loads only when evaluating
    from i2i.eval.runner import Split  # the runner imports this module

    if not ev.data_config.sources:
        names = ", ".join(s.name for s in sources)
        raise DataError(
            f"this checkpoint's method was trained on {len(sources)} labelled sources ({names}) but its config names "
            "no data.sources to evaluate them on (imported weights?)"
        )
    train = ev.train_split()
    assert test.labels is not None and train.labels is not None
    everything = [name for s in sources for name in s.domains]
    form = ev.caps.qualified_target
    sets = []
    for k, (source, (test_rows, test_own), (train_rows, train_own)) in enumerate(
        zip(sources, own_labels(test.labels, sources), own_labels(train.labels, sources))
    ):
        keys = []
        for name in source.domains:
            if everything.count(name) > 1 and not form:
                raise UsageError(
                    f"label {name!r} is shared by two data sources and method {ev.report.method!r} declares no "
                    "eval_capabilities.qualified_target naming it"
                )
            keys.append(name if everything.count(name) == 1 else form.format(source=source.name, label=name))  # type: ignore[union-attr]
        sets.append(
            LabelSet(
                source.name,
                tuple(source.domains),
                tuple(keys),
                bool(source.multi_label),
                Split(a=test.a[test_rows], labels=test_own),
                Split(a=train.a[train_rows], labels=train_own),
                functools.partial(widen_labels, k=k, sources=sources),
            )
        )
    ev.report.counts = {s.name: int(s.test.a.shape[0]) for s in sets}
    return sets


# -- one label set ---------------------------------------------------------------------------------
def translate_all(ev: Evaluation, s: LabelSet) -> dict[str, torch.Tensor]:
    """Every held-out image of ``s`` translated to every label the method knows (``all_targets``)."""
    caps = ev.caps
    x, labels = s.test.a, s.test.labels
    assert labels is not None
    per_sample = None
    if caps.source_labels and (s.multi or s.widen is not None):
        per_sample = {caps.source_labels: s.widen(labels) if s.widen is not None else labels}
    of = f" of {s.name}" if s.name else ""
    ev.log(f"translating {len(x)} images{of} to all {'attributes' if s.multi else 'domains'}")
    assert caps.target is not None  # checked by evaluate_labelled
    return ev.translate(x, single=False, per_sample=per_sample, **{caps.target: caps.all_targets})


def evaluate_set(
    ev: Evaluation,
    s: LabelSet,
    variants: dict[str, torch.Tensor],
    others: list[tuple[LabelSet, dict[str, torch.Tensor]]],
) -> None:
    """SWD, accuracy, ``kid_classifier`` and cycle of one label set's translations; ``others``
    (the other sources and their translations) add the cross-source accuracy rows."""
    x, labels = s.test.a, s.test.labels
    assert labels is not None and s.train.labels is not None
    targets = [(k, key) for k, key in enumerate(s.keys) if key in variants]
    if not targets:
        raise DataError(
            f"the method's {ev.caps.target}={ev.caps.all_targets!r} outputs ({', '.join(variants)}) name none of "
            f"the labels {', '.join(s.domains)}"
        )
    # One translation per input, target domains spread evenly (image i -> the (i mod D)-th):
    # a fake set as large as the real one. Distribution metrics compare it with *training*
    # images of the same domain mix, so no test image is compared with itself; the floor is
    # the test images of that mix.
    mixed = torch.stack([variants[targets[i % len(targets)][1]][i] for i in range(x.shape[0])])
    if s.multi:
        reference, floor = s.train.a[: x.shape[0]], x
    else:
        wanted = [targets[i % len(targets)][0] for i in range(x.shape[0])]
        reference = _pick(s.train.a, s.train.labels.argmax(1), wanted)
        floor = _pick(x, labels.argmax(1), wanted)
    mean = mean_like(s.train.a, x)
    candidates: dict[str, torch.Tensor | None] = {"model": mixed, "identity": x, "mean_image": mean}
    ev.distribution_metrics(s.suffix, candidates, reference, floor)
    if ev.wanted & {"accuracy", "kid_classifier"}:
        model = _classifier(ev, s)
        if "accuracy" in ev.wanted:
            caps = ev.caps
            set_labels = set(caps.set_labels(ev.method) or ()) if caps.set_labels else set()
            truth = labels.long() if s.multi else labels.argmax(1)
            real = float((model.predict(x) == truth).float().mean())  # predict answers on the CPU
            row = f"accuracy{s.suffix}"
            target_accuracy(ev, row, model, variants, targets, x, labels, mean, s.multi, set_labels, real)
            for other, translated in others:  # the cross-dataset control: its labels for s are unknown (0)
                ox, unknown = other.test.a, torch.zeros(other.test.a.shape[0], len(s.domains))
                other_mean = mean_like(s.train.a, ox)
                target_accuracy(
                    ev, f"{row}_from_{other.name}", model, translated, targets, ox, unknown, other_mean, s.multi,
                    set_labels, real,
                )  # fmt: skip
                kept_accuracy(ev, f"kept{s.suffix}_under_{other.name}", model, variants, other, s, mean, real)
        if "kid_classifier" in ev.wanted:
            reference_features = model.embed(reference)
            for column, images in {**candidates, "real": floor}.items():
                if images is not None and len(images) >= 2:
                    value = kid(model.embed(images), reference_features, seed=ev.settings.seed)[0]
                    ev.report.add(f"kid_classifier{s.suffix}", column, value)
    if "cycle" in ev.wanted:
        if s.multi:
            ev.report.notes.append(
                f"cycle{s.suffix} skipped: attribute (multi-label) data has no single source domain to return to"
            )
        else:
            labelled_cycle(ev, s, variants, targets)


def _classifier(ev: Evaluation, s: LabelSet) -> Any:
    """The data's classifier (cached on ``ev``), or one trained on this source's images only."""
    if not s.name:
        return ev.classifier()
    assert s.train.labels is not None
    targets = s.train.labels if s.multi else s.train.labels.argmax(1)
    ev.log(f"domain classifier of {s.name}")
    return ev.train_classifier(s.train.a, targets, len(s.domains), s.multi)


def target_accuracy(
    ev: Evaluation,
    row: str,
    model: Any,
    variants: dict[str, torch.Tensor],
    targets: list[tuple[int, str]],
    x: torch.Tensor,
    labels: torch.Tensor,
    mean: torch.Tensor,
    multi: bool,
    set_labels: set[str],
    real: float,
) -> None:
    """Share of one-per-label translations the classifier assigns to their target (one-hot), or
    share of target attributes it reads as set as asked (multi-label: each attribute toggled,
    one of ``set_labels`` set - the method's convention for its all-targets value); ``real``
    is the classifier's accuracy on held-out real images."""

    def score(images_for: Callable[[str], torch.Tensor]) -> float:
        hits = []
        for k, key in targets:
            predicted = model.predict(images_for(key))
            if multi:
                expected = torch.ones(x.shape[0]) if key in set_labels else 1 - labels[:, k]
                hits.append((predicted[:, k] == expected.long()).float())
            else:
                hits.append((predicted == k).float())
        return float(torch.cat(hits).mean())

    ev.report.add(row, "model", score(lambda key: variants[key]))
    ev.report.add(row, "identity", score(lambda key: x))
    ev.report.add(row, "mean_image", score(lambda key: mean))
    ev.report.add(row, "real", real)


def kept_accuracy(
    ev: Evaluation,
    row: str,
    model: Any,
    variants: dict[str, torch.Tensor],
    other: LabelSet,
    s: LabelSet,
    mean: torch.Tensor,
    real: float,
) -> None:
    """Independence of two label sets: ``s``'s held-out images translated to each of ``other``'s
    labels, and the share that ``s``'s classifier still assigns to the image's own ``s`` label
    (every attribute, for multi-label ``s``). A generator that sets a frame but also changes the
    tone scores low; ``identity`` (the untouched images) equals ``real``."""
    keys = [key for key in other.keys if key in variants]
    labels = s.test.labels
    if not keys or labels is None:
        return
    truth = labels.long() if s.multi else labels.argmax(1)

    def hits(images: torch.Tensor) -> torch.Tensor:
        return (model.predict(images) == truth).float().flatten()

    ev.report.add(row, "model", float(torch.cat([hits(variants[key]) for key in keys]).mean()))
    ev.report.add(row, "identity", real)  # the untouched images: exactly the classifier's accuracy on them
    ev.report.add(row, "mean_image", float(hits(mean).mean()))  # the same for every one of other's labels
    ev.report.add(row, "real", real)


def labelled_cycle(
    ev: Evaluation, s: LabelSet, variants: dict[str, torch.Tensor], targets: list[tuple[int, str]]
) -> None:
    option = ev.caps.target
    assert option is not None and s.test.labels is not None
    x, source = s.test.a, s.test.labels.argmax(1)
    errors = []
    for k, key in targets:
        for c in source.unique().tolist():
            mask = (source == c) & (source != k)
            if mask.any():
                back = ev.translate(variants[key][mask], **{option: s.keys[c]})[""]
                errors.append(l1(to_unit(back), to_unit(x[mask])))
    if errors:
        ev.report.add(f"cycle{s.suffix}", "model", float(torch.cat(errors).mean()))
        ev.report.add(f"cycle{s.suffix}", "identity", 0.0)


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
