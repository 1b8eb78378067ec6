"""``evaluate(translator, ...)``: score a checkpoint on held-out data, beside trivial baselines.

What is measured depends on the method's data kind and on what the method declares in its
``eval_capabilities`` (:mod:`i2i.eval.capabilities`; see :mod:`i2i.eval.report` for the columns):

* **paired**: PSNR, SSIM, L1 against the targets; SWD of outputs vs targets.
* **unpaired** (:mod:`i2i.eval.unpaired`), per declared direction: SWD, domain-classifier
  accuracy, ``kid_classifier``; ``cycle`` with two directions; with K samples per input,
  sample diversity and, when the data also holds aligned ground truth, best-of-K and mean-of-K
  L1; ``idempotence`` for methods trained to keep target-domain images.
* **labelled** (:mod:`i2i.eval.labelled`), with a declared target option: target-domain
  accuracy of one-output-per-label translations, SWD and ``kid_classifier`` of translations vs
  real images, cycle error (one-hot domains).
* any kind, with the FID Inception weights file: ``fid`` and ``kid``;
* the method's own metrics (``EvalCapabilities.metrics``), computed from an :class:`EvalContext`.

Everything runs on held-out (test split) images at the run's image size, each image once (an
unpaired test split with 9 A and 5 B images uses 9 and 5, and the report says so); the domain
classifier and the ``mean_image`` baseline use only training images. The classifier is cached
per training set and settings (:mod:`i2i.eval.classifier`), so a second ``i2i eval`` on the same
data skips its training.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import torch
import torch.nn.functional as F

from i2i.errors import DataError, UsageError
from i2i.eval.capabilities import EvalCapabilities
from i2i.eval.classifier import classifier_for
from i2i.eval.context import EvalContextView
from i2i.eval.distances import frechet_distance, kid
from i2i.eval.inception import WEIGHTS_NAME
from i2i.eval.pixels import PAIRED_METRICS, mean_like, to_unit
from i2i.eval.report import EvalReport
from i2i.eval.swd import PATCH, swd
from i2i.inference import Translator, adapt_channels

#: Names ``--metrics`` accepts (besides a method's own); ``best_of_k`` also yields ``mean_of_k``.
METRICS = (
    "psnr",
    "ssim",
    "l1",
    "cycle",
    "swd",
    "accuracy",
    "kid_classifier",
    "diversity",
    "best_of_k",
    "idempotence",
    "fid",
    "kid",
)
_BY_KIND = {
    "paired": ("psnr", "ssim", "l1", "swd", "fid", "kid"),
    "unpaired": ("cycle", "swd", "accuracy", "kid_classifier", "diversity", "best_of_k", "idempotence", "fid", "kid"),
    "labelled": ("cycle", "swd", "accuracy", "kid_classifier", "fid", "kid"),
}


@attrs.define
class EvalSettings:
    """Knobs of :func:`evaluate`; the defaults suit a laptop CPU and a few hundred test images."""

    metrics: tuple[str, ...] = ()  # empty: every metric that applies (fid/kid only with weights)
    max_images: int = 200  # per domain
    max_train_images: int = 1000  # for the domain classifier and the mean image
    batch_size: int = 16
    samples: int = 4  # K for multimodal methods
    seed: int = 0
    classifier_steps: int = 300
    classifier_size: int = 64
    classifier_cache: bool = True  # reuse a classifier trained on the same images with the same settings
    inception_weights: str | None = None
    num_workers: int | None = None


@attrs.define
class Split:
    """Images of one split at the run's size, ``[-1, 1]`` on the CPU, each file once."""

    a: torch.Tensor
    b: torch.Tensor | None = None
    labels: torch.Tensor | None = None


def check_metrics(names: tuple[str, ...], extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``names`` if each is a core metric or one of ``extra`` (a method's own), else a UsageError."""
    known = (*METRICS, *extra)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"--metrics: unknown metric {unknown[0]!r} (known: {', '.join(known)})")
    return names


def applicable_metrics(method: Any) -> tuple[str, ...]:
    """The metrics that can score ``method``: the core's for its data kind, then its own."""
    return (*_BY_KIND.get(method.data_kind, ()), *capabilities_of(method).metric_names())


def check_applicable(names: tuple[str, ...], method: Any) -> None:
    """A UsageError when a metric the user asked for cannot score this method (``psnr`` needs
    pairs): asked for by name, skipping it would answer a question that was not asked."""
    applicable = applicable_metrics(method)
    not_here = [n for n in names if n not in applicable]
    if not_here:
        raise UsageError(
            f"--metrics: {', '.join(not_here)} cannot score a {method.data_kind} method "
            f"(this checkpoint's metrics: {', '.join(applicable)})"
        )


def capabilities_of(method: Any) -> EvalCapabilities:
    caps = getattr(method, "eval_capabilities", None)
    return caps if isinstance(caps, EvalCapabilities) else EvalCapabilities()


def evaluate(
    translator: Translator,
    *,
    data_root: str | None = None,
    settings: EvalSettings | None = None,
    host: Any = None,
    log: Callable[[str], None] | None = None,
) -> EvalReport:
    """Evaluate ``translator`` on the test split of ``data_root`` (default: the run's own data,
    the built-in demo when it trained on the demo); calls the ``i2i_eval_result`` hook."""
    settings = settings or EvalSettings()
    check_metrics(settings.metrics, capabilities_of(translator.method).metric_names())
    devices = [translator.device.index or 0] if translator.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(settings.seed)
        report = Evaluation(translator, data_root, settings, log or (lambda _: None), host).run()
    from i2i.plugins.host import get_host  # lazy: evaluation alone needs no plugin host

    (host if host is not None else get_host()).eval_result(
        None, report.step, report.metrics(), checkpoint=str(translator.source) if translator.source else None
    )
    return report


class Evaluation:
    """One evaluation: its data, translations and report (the per-kind parts take it as ``ev``)."""

    def __init__(
        self,
        translator: Translator,
        data_root: str | None,
        settings: EvalSettings,
        log: Callable[[str], None],
        host: Any = None,
    ) -> None:
        self.t = translator
        self.method = translator.method
        self.kind = self.method.data_kind
        self.caps = capabilities_of(self.method)
        self.settings = settings
        self.log = log
        self.host = host
        data = translator.config.data
        if data_root is not None and data.sources:
            raise UsageError("--data: this checkpoint trained on several data sources (it reads their data.sources)")
        if data_root is not None:
            data = attrs.evolve(data, root=str(data_root))
        if settings.num_workers is not None:
            data = attrs.evolve(data, num_workers=settings.num_workers)
        self.data_config = data
        applicable = applicable_metrics(self.method)
        wanted = settings.metrics or tuple(m for m in applicable if m not in ("fid", "kid"))
        if settings.inception_weights and not settings.metrics:
            wanted = (*wanted, "fid", "kid")
        self.wanted = set(wanted)
        where = data.root if data.root is not None else f"the built-in demo ({data.demo or 'default for ' + self.kind})"
        if data.sources:  # several labelled sources (data.sources)
            where = "; ".join(str(s.root or f"the built-in demo {s.demo!r}") for s in data.sources)
        self.report = EvalReport(
            method=translator.method_name,
            checkpoint=translator.source,
            step=translator.step,
            data=f"{where}, test split",
            images=0,
        )
        for name in sorted(self.wanted - set(applicable)):
            self.report.notes.append(f"{name} does not apply to a {self.kind} method; skipped")
        self._classifier: Any = None
        self._inception: Any = None
        self._train: Split | None = None
        self._truth: tuple[torch.Tensor, torch.Tensor] | None | bool = False

    # -- data -------------------------------------------------------------------------------------
    def collect(self, split: str, limit: int, kind: str | None = None, data: Any = None) -> Split:
        """Up to ``limit`` images of ``split`` per domain, each file once: a seeded random subset
        (so a limit still covers every domain of a folder-per-domain layout), with the
        deterministic eval preprocessing. Unpaired data is read with serial partners and
        de-duplicated by file name, so the smaller domain is not repeated to match the larger.
        Several labelled sources are read one by one (:func:`i2i.eval.labelled.collect_sources`);
        ``data``: a ``[data]`` config to read instead of the run's."""
        from i2i.data.pipeline import build_data  # lazy: the data layer loads only when evaluating

        kind = kind or self.kind
        data = data if data is not None else self.data_config
        if data.sources and kind == "labelled":
            from i2i.eval.labelled import collect_sources  # labelled imports this module

            return collect_sources(self, split, limit)
        config = attrs.evolve(data, serial_batches=True) if kind == "unpaired" else data
        module = build_data(
            config,
            kind,
            split=split,
            batch_size=self.settings.batch_size,
            size_multiple=int(getattr(self.method, "size_multiple", 1) or 1),
            shuffle=True,
            seed=self.settings.seed,
            drop_last=False,
            host=self.host,
        )
        parts: dict[str, list[torch.Tensor]] = {"a": [], "b": [], "labels": []}
        names: dict[str, set[str]] = {"a": set(), "b": set()}
        for raw in module.loader:
            # unpadded: Translator.run pads to the size multiple and crops its outputs back
            # (prepare_size), so no metric scores the reflect-padded border
            batch = module.augment(raw, "cpu", train=False, pad=False)
            rows: dict[str, list[int] | None]
            if kind == "unpaired":  # partners repeat when the domains differ in size: keep each file once
                rows = {
                    "a": _fresh(batch.names_a, names["a"], limit, len(batch)),
                    "b": _fresh(batch.names_b, names["b"], limit, len(batch)),
                }
            else:  # each sample is read once already (and file names repeat across domain folders)
                rows = {"a": _fresh([], names["a"], limit, len(batch)), "b": None}
            for key in parts:
                value = getattr(batch, key)
                if value is None:
                    continue
                keep = rows["b"] if key == "b" and rows["b"] is not None else rows["a"]
                if keep:
                    parts[key].append(value[keep].float())
            if all(len(names[k]) >= limit for k in ("a", "b") if k == "a" or kind == "unpaired"):
                break
        if not parts["a"]:
            raise DataError(f"no images in the {split} split of {self.report.data}")

        def cat(items: list[torch.Tensor]) -> torch.Tensor | None:
            if not items:
                return None
            size = items[0].shape[-2:]
            return torch.cat(
                [
                    x if x.dim() != 4 or x.shape[-2:] == size else F.interpolate(x, size=size, mode="bilinear")
                    for x in items
                ]
            )

        return Split(a=cat(parts["a"]), b=cat(parts["b"]), labels=cat(parts["labels"]))  # type: ignore[arg-type]

    def train_split(self) -> Split:
        if self._train is None:
            self.log("reading training images (classifier, mean image, real-vs-real floors)")
            self._train = self.collect("train", self.settings.max_train_images)
        return self._train

    def ground_truth(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Aligned ``(a, b)`` test pairs, when the data folder also reads as paired data."""
        if self._truth is False:
            try:
                pairs = self.collect("test", self.settings.max_images, kind="paired")
                self._truth = (pairs.a, pairs.b) if pairs.b is not None else None
            except (DataError, UsageError):
                self._truth = None
        return self._truth  # type: ignore[return-value]

    def translate(
        self, x: torch.Tensor, *, single: bool = True, per_sample: dict[str, torch.Tensor] | None = None, **options: Any
    ) -> dict[str, torch.Tensor]:
        """Batched ``translator.run``; ``per_sample`` options are sliced along with ``x``."""
        outs: dict[str, list[torch.Tensor]] = {}
        size = self.settings.batch_size
        for i in range(0, x.shape[0], size):
            sliced = {k: v[i : i + size] for k, v in (per_sample or {}).items()}
            for key, value in self.t.run(x[i : i + size], single=single, **options, **sliced).items():
                outs.setdefault(key, []).append(value)
        return {k: torch.cat(v) for k, v in outs.items()}

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> EvalReport:
        from i2i.eval import labelled, unpaired  # the per-kind parts import this module

        self.log(
            f"reading up to {self.settings.max_images} test images{' per domain' if self.kind == 'unpaired' else ''}"
        )
        test = self.collect("test", self.settings.max_images)
        self.test = test
        self.report.images = test.a.shape[0]
        if self.kind == "unpaired" and test.b is not None:
            self.report.counts = {"a": int(test.a.shape[0]), "b": int(test.b.shape[0])}
        if self.kind == "paired":
            self.paired(test)
        elif self.kind == "labelled":
            labelled.evaluate_labelled(self, test)
        else:
            unpaired.evaluate_unpaired(self, test)
        self.method_metrics()
        if "fid" not in self.wanted and "kid" not in self.wanted:
            self.report.notes.append(
                f"FID/KID with Inception features not computed: pass --inception-weights {WEIGHTS_NAME} "
                "(i2i never downloads it; see `i2i eval --help`)"
            )
        smallest = min(self.report.counts.values()) if self.report.counts else self.report.images
        if smallest < 50 and self.wanted & {"swd", "kid_classifier", "fid", "kid"}:
            self.report.notes.append(
                f"only {smallest} test images: distribution metrics are noisy; compare with the 'real' column"
            )
        return self.report

    def method_metrics(self) -> None:
        """The method's own metrics (``EvalCapabilities.metrics``), from a read-only context."""
        context = EvalContextView(self)
        for metric in self.caps.metrics:
            if metric.name not in self.wanted:
                continue
            self.log(metric.name)
            with torch.no_grad(), self.t.autocast():
                rows = metric.compute(context)
            self.report.definitions[metric.name] = metric.description
            for row, columns in rows.items():
                for column, value in columns.items():
                    self.report.add(row, column, value)

    def mean_image(self, target: str, like: torch.Tensor) -> torch.Tensor:
        """The pixelwise mean of the training images of the target domain, repeated like ``like``."""
        train = self.train_split()
        return mean_like(train.b if target == "b" and train.b is not None else train.a, like)

    def paired(self, test: Split) -> None:
        assert test.b is not None
        self.log("translating")
        out = self.translate(test.a)[""]
        target = test.b
        identity = adapt_channels(test.a, target.shape[1]) if test.a.shape[-2:] == target.shape[-2:] else None
        mean = self.mean_image("b", target)
        candidates = {"model": out, "identity": identity, "mean_image": mean}
        for name, (fn, _) in PAIRED_METRICS.items():
            if name in self.wanted:
                for column, pred in candidates.items():
                    if pred is not None:
                        self.report.add(name, column, float(fn(to_unit(pred), to_unit(target)).mean()))
        self.distribution_metrics("", candidates, target, self.train_split().b)

    def distribution_metrics(
        self,
        suffix: str,
        candidates: dict[str, torch.Tensor | None],
        real: torch.Tensor,
        other_real: torch.Tensor | None,
    ) -> None:
        """SWD, FID, KID of each candidate set against the ``real`` reference set; the ``real``
        column (the floor) scores ``other_real``, real images of the other split."""
        n = real.shape[0]
        floor = other_real[:n] if other_real is not None and other_real.shape[0] >= 2 else None
        if floor is not None and floor.shape[-2:] != real.shape[-2:]:
            floor = F.interpolate(floor, size=real.shape[-2:], mode="bilinear")
        sets = {**candidates, "real": floor}
        if "swd" in self.wanted and min(real.shape[-2:]) >= PATCH:
            self.log(f"SWD{suffix}")
            for column, images in sets.items():
                if images is not None:
                    count = min(images.shape[0], n)
                    value = swd(to_unit(images[:count]), to_unit(real[:count]), seed=self.settings.seed).get("swd")
                    self.report.add(f"swd{suffix}", column, value)
        if self.wanted & {"fid", "kid"}:
            self.log(f"Inception features{suffix}")
            net = self.inception()
            real_features = net.embed(real, self.settings.batch_size)
            for column, images in sets.items():
                if images is None:
                    continue
                features = net.embed(images, self.settings.batch_size)
                if "fid" in self.wanted and min(len(features), len(real_features)) >= 2:
                    self.report.add(f"fid{suffix}", column, frechet_distance(features, real_features))
                if "kid" in self.wanted and min(len(features), len(real_features)) >= 2:
                    self.report.add(f"kid{suffix}", column, kid(features, real_features, seed=self.settings.seed)[0])

    def inception(self) -> Any:
        if self._inception is None:
            from i2i.eval.inception import load_fid_inception  # lazy: only with --inception-weights

            self._inception = load_fid_inception(self.settings.inception_weights, self.t.device)
        return self._inception

    # -- the domain classifier ----------------------------------------------------------------------
    def classifier(self) -> Any:
        """The domain classifier on the training split (A = 0, B = 1, or the labels): trained once
        per training set and settings, then loaded from the cache."""
        if self._classifier is None:
            train = self.train_split()
            if self.kind == "labelled":
                assert train.labels is not None
                multi = bool(self.method.data_info.multi_label)
                images, targets = train.a, train.labels if multi else train.labels.argmax(1)
                classes = train.labels.shape[1]
            else:
                assert train.b is not None
                small = [self._small(train.a), self._small(train.b)]  # resized before joining
                images = torch.cat(small)
                targets = torch.cat([torch.zeros(len(small[0])), torch.ones(len(small[1]))])
                classes, multi = 2, False
            self._classifier = self.train_classifier(images, targets, classes, multi)
        return self._classifier

    def train_classifier(self, images: torch.Tensor, targets: torch.Tensor, classes: int, multi: bool) -> Any:
        """A domain classifier for ``images`` (resized here) and ``targets``, with the run's settings."""
        s = self.settings
        return classifier_for(
            self._small(images),
            targets,
            classes,
            multi_label=multi,
            steps=s.classifier_steps,
            seed=s.seed,
            input_size=s.classifier_size,
            batch_size=s.batch_size * 2,
            device=self.t.device,
            cache=s.classifier_cache,
            log=self.log,
        )

    def _small(self, images: torch.Tensor) -> torch.Tensor:
        size = self.settings.classifier_size
        if images.shape[-2:] == (size, size):
            return images
        return F.interpolate(
            images.float(),
            size=(size, size),
            mode="bilinear",
            align_corners=False,
            antialias=min(images.shape[-2:]) > size,
        )

    def classifier_metrics(
        self,
        suffix: str,
        candidates: dict[str, torch.Tensor | None],
        real: torch.Tensor,
        target_class: torch.Tensor,
        real_train: torch.Tensor | None,
    ) -> None:
        """Target-domain accuracy of each candidate; real column = held-out real accuracy."""
        model = self.classifier()
        if "accuracy" in self.wanted:
            for column, images in {**candidates, "real": real}.items():
                if images is not None:
                    hits = model.predict(images) == target_class[: len(images)]
                    self.report.add(f"accuracy{suffix}", column, float(hits.float().mean()))
        if "kid_classifier" in self.wanted:
            real_features = model.embed(real)
            floor = real_train[: real.shape[0]] if real_train is not None else None
            for column, images in {**candidates, "real": floor}.items():
                if images is not None and len(images) >= 2:
                    self.report.add(
                        f"kid_classifier{suffix}",
                        column,
                        kid(model.embed(images), real_features, seed=self.settings.seed)[0],
                    )


def _fresh(names: list[str], seen: set[str], limit: int, count: int) -> list[int]:
    """Rows of a batch whose file was not seen yet (all rows when the dataset gives no names),
    while fewer than ``limit`` were taken; marks them seen."""
    if not names or not any(names):
        rows = list(range(min(count, max(0, limit - len(seen)))))
        start = len(seen)  # fixed first: the names must not shift while they are added
        seen.update(f"#{start + i}" for i in rows)
        return rows
    rows = []
    for i, name in enumerate(names):
        if name not in seen and len(seen) < limit:
            seen.add(name)
            rows.append(i)
    return rows


__all__ = ["evaluate", "EvalSettings", "METRICS", "check_metrics", "capabilities_of", "Evaluation", "Split"]
