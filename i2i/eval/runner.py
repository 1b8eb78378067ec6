"""``evaluate(translator, ...)``: score a checkpoint on held-out data, beside trivial baselines.

What is measured depends on the method's data kind (see :mod:`i2i.eval.report` for the
columns and definitions):

* **paired** (pix2pix): PSNR, SSIM, L1 against the targets; SWD of outputs vs targets.
* **unpaired** (CycleGAN, Augmented CycleGAN), per direction the method offers (``a2b``, and
  ``b2a`` when it takes ``direction``): cycle error, SWD, domain-classifier accuracy,
  ``kid_classifier``; multimodal methods (those taking ``samples``) add sample diversity and,
  when the data also holds aligned ground truth, best-of-K and mean-of-K L1.
* **labelled** (StarGAN): target-domain accuracy of ``target="all"`` translations, SWD and
  ``kid_classifier`` of translations vs real images, cycle error (one-hot domains).
* any kind, with the FID Inception weights file: ``fid`` and ``kid``.

Everything runs on held-out (test split) images at the run's image size; the domain
classifier and the ``mean_image`` baseline use only training images.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import torch
import torch.nn.functional as F

from i2i.errors import DataError, UsageError
from i2i.eval.distances import frechet_distance, kid
from i2i.eval.pixels import PAIRED_METRICS, l1, to_unit
from i2i.eval.report import EvalReport
from i2i.eval.swd import PATCH, swd
from i2i.inference import Translator, adapt_channels

#: Names ``--metrics`` accepts; ``best_of_k`` also yields ``mean_of_k``.
METRICS = ("psnr", "ssim", "l1", "cycle", "swd", "accuracy", "kid_classifier", "diversity", "best_of_k", "fid", "kid")
_BY_KIND = {
    "paired": ("psnr", "ssim", "l1", "swd", "fid", "kid"),
    "unpaired": ("cycle", "swd", "accuracy", "kid_classifier", "diversity", "best_of_k", "fid", "kid"),
    "labelled": ("cycle", "swd", "accuracy", "kid_classifier", "fid", "kid"),
}


@attrs.define
class EvalSettings:
    """Knobs of :func:`evaluate`; the defaults suit a laptop CPU and a few hundred test images."""

    metrics: tuple[str, ...] = ()  # empty: every metric that applies (fid/kid only with weights)
    max_images: int = 200
    max_train_images: int = 1000  # for the domain classifier and the mean image
    batch_size: int = 16
    samples: int = 4  # K for multimodal methods
    seed: int = 0
    classifier_steps: int = 300
    classifier_size: int = 64
    inception_weights: str | None = None
    num_workers: int | None = None


@attrs.define
class _Split:
    """Images of one split at the run's size, ``[-1, 1]`` on the CPU."""

    a: torch.Tensor
    b: torch.Tensor | None = None
    labels: torch.Tensor | None = None


def check_metrics(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UsageError(f"--metrics: unknown metric {unknown[0]!r} (known: {', '.join(METRICS)})")
    return names


def evaluate(translator: Translator, *, data_root: str | None = None, settings: EvalSettings | None = None,
             host: Any = None, log: Callable[[str], None] | None = None) -> EvalReport:  # fmt: skip
    """Evaluate ``translator`` on the test split of ``data_root`` (default: the run's own data,
    the built-in demo when it trained on the demo); calls the ``i2i_eval_result`` hook."""
    settings = settings or EvalSettings()
    check_metrics(settings.metrics)
    devices = [translator.device.index or 0] if translator.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(settings.seed)
        report = _Evaluation(translator, data_root, settings, log or (lambda _: None)).run()
    from i2i.plugins import get_host

    (host if host is not None else get_host()).hook.i2i_eval_result(run=None, step=report.step, metrics=report.metrics())
    return report


class _Evaluation:
    def __init__(self, translator: Translator, data_root: str | None, settings: EvalSettings, log: Callable[[str], None]) -> None:
        self.t = translator
        self.method = translator.method
        self.kind = self.method.data_kind
        self.settings = settings
        self.log = log
        config = translator.config
        data = config.data
        if data_root is not None:
            data = attrs.evolve(data, root=str(data_root))
        if settings.num_workers is not None:
            data = attrs.evolve(data, num_workers=settings.num_workers)
        self.data_config = data
        self.options = translator.options()
        wanted = settings.metrics or tuple(m for m in _BY_KIND.get(self.kind, ()) if m not in ("fid", "kid"))
        if settings.inception_weights and not settings.metrics:
            wanted = (*wanted, "fid", "kid")
        self.wanted = set(wanted)
        where = data.root if data.root is not None else f"the built-in demo ({data.demo or 'default for ' + self.kind})"
        self.report = EvalReport(method=translator.method_name, checkpoint=translator.source, step=translator.step,
                                 data=f"{where}, test split", images=0)  # fmt: skip
        for name in sorted(self.wanted - set(_BY_KIND.get(self.kind, ()))):
            self.report.notes.append(f"{name} does not apply to a {self.kind} method; skipped")
        self._classifier: Any = None
        self._inception: Any = None
        self._train: _Split | None = None

    # -- data -------------------------------------------------------------------------------------
    def collect(self, split: str, limit: int, kind: str | None = None) -> _Split:
        """Up to ``limit`` images of ``split``: a seeded random subset (so a limit still covers every
        domain of a folder-per-domain layout), with the deterministic eval preprocessing."""
        from i2i.data.pipeline import build_data

        module = build_data(self.data_config, kind or self.kind, split=split, batch_size=self.settings.batch_size,
                            size_multiple=int(getattr(self.method, "size_multiple", 1) or 1), shuffle=True,
                            seed=self.settings.seed, drop_last=False)  # fmt: skip
        parts: dict[str, list[torch.Tensor]] = {"a": [], "b": [], "labels": []}
        seen = 0
        for raw in module.loader:
            batch = module.augment(raw, "cpu", train=False)
            take = min(len(batch), limit - seen)
            for key in parts:
                value = getattr(batch, key)
                if value is not None:
                    parts[key].append(value[:take].float())
            seen += take
            if seen >= limit:
                break
        if not seen:
            raise DataError(f"no images in the {split} split of {self.report.data}")

        def cat(items: list[torch.Tensor]) -> torch.Tensor | None:
            if not items:
                return None
            size = items[0].shape[-2:]
            return torch.cat([x if x.dim() != 4 or x.shape[-2:] == size else F.interpolate(x, size=size, mode="bilinear")
                              for x in items])  # fmt: skip

        return _Split(a=cat(parts["a"]), b=cat(parts["b"]), labels=cat(parts["labels"]))  # type: ignore[arg-type]

    def train_split(self) -> _Split:
        if self._train is None:
            self.log("reading training images (classifier, mean image, real-vs-real floors)")
            self._train = self.collect("train", self.settings.max_train_images)
        return self._train

    def translate(self, x: torch.Tensor, *, single: bool = True, per_sample: dict[str, torch.Tensor] | None = None,
                  **options: Any) -> dict[str, torch.Tensor]:  # fmt: skip
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
        self.log(f"reading up to {self.settings.max_images} test images")
        test = self.collect("test", self.settings.max_images)
        self.report.images = test.a.shape[0]
        if self.kind == "paired":
            self.paired(test)
        elif self.kind == "labelled":
            self.labelled(test)
        else:
            self.unpaired(test)
        if "fid" not in self.wanted and "kid" not in self.wanted:
            from i2i.eval.inception import WEIGHTS_NAME

            self.report.notes.append(
                f"FID/KID with Inception features not computed: pass --inception-weights {WEIGHTS_NAME} "
                "(i2i never downloads it; see `i2i eval --help`)"
            )
        if self.report.images < 50 and self.wanted & {"swd", "kid_classifier", "fid", "kid"}:
            self.report.notes.append(f"only {self.report.images} test images: distribution metrics are noisy; compare with the 'real' column")
        return self.report

    def mean_image(self, target: str, like: torch.Tensor) -> torch.Tensor:
        """The pixelwise mean of the training images of the target domain, repeated like ``like``."""
        train = self.train_split()
        images = train.b if target == "b" and train.b is not None else train.a
        mean = images.mean(0, keepdim=True)
        mean = mean if mean.shape[-2:] == like.shape[-2:] else F.interpolate(mean, size=like.shape[-2:], mode="bilinear")
        return adapt_channels(mean, like.shape[1]).expand(like.shape[0], -1, -1, -1).clone()

    def paired(self, test: _Split) -> None:
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

    def distribution_metrics(self, suffix: str, candidates: dict[str, torch.Tensor | None], real: torch.Tensor,
                             other_real: torch.Tensor | None) -> None:  # fmt: skip
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
            from i2i.eval.inception import load_fid_inception

            self._inception = load_fid_inception(self.settings.inception_weights, self.t.device)
        return self._inception

    # -- unpaired -----------------------------------------------------------------------------------
    def unpaired(self, test: _Split) -> None:
        if test.b is None:
            raise DataError("the test split holds no domain-B images")
        directions = [("a2b", test.a, test.b, 1, "b")]
        if "direction" in self.options:
            directions.append(("b2a", test.b, test.a, 0, "a"))
        train = self.train_split() if self.wanted & {"swd", "accuracy", "kid_classifier", "fid", "kid"} else None
        for name, source, target, cls, target_key in directions:
            options = {"direction": name} if "direction" in self.options else {}
            self.log(f"translating {name}")
            out = self.translate(source, **options)[""]
            suffix = f"_{name}"
            identity = adapt_channels(source, target.shape[1])
            candidates = {"model": out, "identity": identity if identity.shape[-2:] == target.shape[-2:] else None,
                          "mean_image": self.mean_image(target_key, target)}  # fmt: skip
            if "cycle" in self.wanted and "direction" in self.options:
                back = "b2a" if name == "a2b" else "a2b"
                rec = self.translate(out, direction=back)[""]
                self.report.add(f"cycle{suffix}", "model", float(l1(to_unit(rec), to_unit(source)).mean()))
                self.report.add(f"cycle{suffix}", "identity", 0.0)
            real_train = None if train is None else (train.b if target_key == "b" else train.a)
            self.distribution_metrics(suffix, candidates, target, real_train)
            if self.wanted & {"accuracy", "kid_classifier"}:
                self.classifier_metrics(suffix, candidates, target, torch.full((target.shape[0],), cls), real_train)
            if "samples" in self.options and self.wanted & {"diversity", "best_of_k"}:
                self.multimodal(suffix, source, target, options)

    def classifier(self) -> Any:
        """The domain classifier, trained once on the training split (A = 0, B = 1, or the labels)."""
        if self._classifier is None:
            from i2i.eval.classifier import train_classifier

            train = self.train_split()
            if self.kind == "labelled":
                assert train.labels is not None
                multi = bool(self.method.data_info.multi_label)
                images, targets = train.a, train.labels if multi else train.labels.argmax(1)
                classes = train.labels.shape[1]
            else:
                assert train.b is not None
                small = [self._small(train.a), self._small(train.b)]
                images = torch.cat(small)
                targets = torch.cat([torch.zeros(len(small[0])), torch.ones(len(small[1]))])
                classes, multi = 2, False
            images = self._small(images)
            size = self.settings.batch_size * 2
            order = torch.randperm(len(images))

            def batches() -> Any:
                perm = order[torch.randperm(len(order))]
                for i in range(0, len(perm), size):
                    yield images[perm[i : i + size]], targets[perm[i : i + size]]

            self.log(f"training the domain classifier ({self.settings.classifier_steps} steps on {len(images)} training images)")
            self._classifier = train_classifier(batches, classes, multi_label=multi, steps=self.settings.classifier_steps,
                                                seed=self.settings.seed, input_size=self.settings.classifier_size,
                                                device=self.t.device)  # fmt: skip
        return self._classifier

    def _small(self, images: torch.Tensor) -> torch.Tensor:
        size = self.settings.classifier_size
        if images.shape[-2:] == (size, size):
            return images
        return F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False,
                             antialias=min(images.shape[-2:]) > size)  # fmt: skip

    def classifier_metrics(self, suffix: str, candidates: dict[str, torch.Tensor | None], real: torch.Tensor,
                           target_class: torch.Tensor, real_train: torch.Tensor | None) -> None:  # fmt: skip
        """Target-domain accuracy of each candidate; real column = held-out real accuracy."""
        model = self.classifier()
        if "accuracy" in self.wanted:
            for column, images in {**candidates, "real": real}.items():
                if images is not None:
                    self.report.add(f"accuracy{suffix}", column, float((model.predict(images) == target_class).float().mean()))
        if "kid_classifier" in self.wanted:
            real_features = model.embed(real)
            floor = real_train[: real.shape[0]] if real_train is not None else None
            for column, images in {**candidates, "real": floor}.items():
                if images is not None and len(images) >= 2:
                    self.report.add(f"kid_classifier{suffix}", column, kid(model.embed(images), real_features, seed=self.settings.seed)[0])

    def multimodal(self, suffix: str, source: torch.Tensor, target: torch.Tensor, options: dict[str, Any]) -> None:
        """Diversity of K samples per input; best-/mean-of-K L1 where aligned ground truth exists."""
        k = self.settings.samples
        self.log(f"sampling {k} outputs per input{suffix}")
        samples = list(self.translate(source, single=False, samples=k, seed=self.settings.seed, **options).values())
        if "diversity" in self.wanted and len(samples) >= 2:
            units = [to_unit(s) for s in samples]
            pairs = [l1(units[i], units[j]) for i in range(len(units)) for j in range(i + 1, len(units))]
            self.report.add(f"diversity{suffix}", "model", float(torch.stack(pairs).mean()))
            self.report.add(f"diversity{suffix}", "identity", 0.0)
            if target.shape[0] >= 2:
                shifted = torch.roll(target, 1, dims=0)
                self.report.add(f"diversity{suffix}", "real", float(l1(to_unit(target), to_unit(shifted)).mean()))
        if "best_of_k" in self.wanted:
            truth = self.ground_truth(suffix)
            if truth is None:
                return
            inputs, gt = truth
            outs = torch.stack([to_unit(s) for s in
                                self.translate(inputs, single=False, samples=k, seed=self.settings.seed, **options).values()])  # fmt: skip
            errors = torch.stack([l1(o, to_unit(gt)) for o in outs])  # (K, N)
            self.report.add(f"best_of_k{suffix}", "model", float(errors.min(0).values.mean()))
            self.report.add(f"mean_of_k{suffix}", "model", float(errors.mean()))
            identity = adapt_channels(inputs, gt.shape[1])
            if identity.shape == gt.shape:
                for metric in ("best_of_k", "mean_of_k"):
                    self.report.add(f"{metric}{suffix}", "identity", float(l1(to_unit(identity), to_unit(gt)).mean()))
            mean = self.mean_image("b" if suffix == "_a2b" else "a", gt)
            for metric in ("best_of_k", "mean_of_k"):
                self.report.add(f"{metric}{suffix}", "mean_image", float(l1(to_unit(mean), to_unit(gt)).mean()))

    def ground_truth(self, suffix: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Aligned (input, target) test pairs, when the data folder also reads as paired data."""
        if not hasattr(self, "_truth"):
            try:
                pairs = self.collect("test", self.settings.max_images, kind="paired")
                self._truth = (pairs.a, pairs.b) if pairs.b is not None else None
            except (DataError, UsageError):
                self._truth = None
                self.report.notes.append("best_of_k/mean_of_k skipped: the test data holds no aligned ground truth")
        if self._truth is None:
            return None
        a, b = self._truth
        return (a, b) if suffix == "_a2b" else (b, a)

    # -- labelled ---------------------------------------------------------------------------------
    def labelled(self, test: _Split) -> None:
        if test.labels is None:
            raise DataError("the test split holds no labels")
        if "target" not in self.options:
            raise UsageError(f"method {self.report.method!r} takes no 'target' option; cannot evaluate it on labelled data")
        info = self.method.data_info
        domains = list(info.domains)
        multi = bool(info.multi_label)
        x, labels = test.a, test.labels
        self.log(f"translating to all {len(domains)} {'attributes' if multi else 'domains'}")
        per_sample = {"source_labels": labels} if multi and "source_labels" in self.options else None
        variants = self.translate(x, single=False, target="all", per_sample=per_sample)
        names = [d for d in domains if d in variants] or list(variants)
        # One translation per input, target domains spread evenly (image i -> the (i mod D)-th):
        # a fake set as large as the real one. Distribution metrics compare it with *training*
        # images of the same domain mix, so no test image is compared with itself; the floor is
        # the test images of that mix.
        mixed = torch.stack([variants[names[i % len(names)]][i] for i in range(x.shape[0])])
        train = self.train_split()
        assert train.labels is not None
        if multi:
            reference, floor = train.a[: x.shape[0]], x
        else:
            wanted = [domains.index(names[i % len(names)]) for i in range(x.shape[0])]
            reference = _pick(train.a, train.labels.argmax(1), wanted)
            floor = _pick(x, labels.argmax(1), wanted)
        mean = self.mean_image("a", x)
        candidates = {"model": mixed, "identity": x, "mean_image": mean}
        self.distribution_metrics("", candidates, reference, floor)
        if self.wanted & {"swd", "kid_classifier", "fid", "kid"}:
            self.report.notes.append(
                "labelled data: SWD/KID pool all target domains, so the identity baseline (real images, other "
                "domains) can score like 'real'; accuracy is the per-target measure"
            )
        if self.wanted & {"accuracy", "kid_classifier"}:
            model = self.classifier()
            if "accuracy" in self.wanted:
                self.target_accuracy(model, variants, names, domains, x, labels, mean, multi)
            if "kid_classifier" in self.wanted:
                reference_features = model.embed(reference)
                for column, images in {**candidates, "real": floor}.items():
                    if len(images) >= 2:
                        self.report.add("kid_classifier", column,
                                        kid(model.embed(images), reference_features, seed=self.settings.seed)[0])  # fmt: skip
        if "cycle" in self.wanted:
            if multi:
                self.report.notes.append("cycle skipped: attribute (multi-label) data has no single source domain to return to")
            else:
                self.labelled_cycle(variants, names, domains, x, labels)

    def target_accuracy(self, model: Any, variants: dict[str, torch.Tensor], names: list[str], domains: list[str],
                        x: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, multi: bool) -> None:  # fmt: skip
        """Share of ``target="all"`` translations the classifier assigns to their target (one-hot),
        or share of target attributes it reads as set as asked (multi-label: each attribute toggled,
        an exclusive one set - the method's ``target="all"`` convention)."""
        exclusive = set(getattr(self.method.config, "exclusive_attributes", ()) or ())

        def score(images_for: Callable[[str], torch.Tensor]) -> float:
            hits = []
            for name in names:
                k = domains.index(name)
                predicted = model.predict(images_for(name))
                if multi:
                    expected = torch.ones(x.shape[0]) if name in exclusive else 1 - labels[:, k]
                    hits.append((predicted[:, k] == expected.long()).float())
                else:
                    hits.append((predicted == k).float())
            return float(torch.cat(hits).mean())

        self.report.add("accuracy", "model", score(lambda name: variants[name]))
        self.report.add("accuracy", "identity", score(lambda name: x))
        self.report.add("accuracy", "mean_image", score(lambda name: mean))
        predicted = model.predict(x)
        truth = labels.long() if multi else labels.argmax(1)
        self.report.add("accuracy", "real", float((predicted == truth).float().mean()))

    def labelled_cycle(self, variants: dict[str, torch.Tensor], names: list[str], domains: list[str], x: torch.Tensor,
                       labels: torch.Tensor) -> None:  # fmt: skip
        source = labels.argmax(1)
        errors = []
        for name in names:
            k = domains.index(name)
            for s in source.unique().tolist():
                mask = (source == s) & (source != k)
                if mask.any():
                    back = self.translate(variants[name][mask], target=domains[s])[""]
                    errors.append(l1(to_unit(back), to_unit(x[mask])))
        if errors:
            self.report.add("cycle", "model", float(torch.cat(errors).mean()))
            self.report.add("cycle", "identity", 0.0)


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


__all__ = ["evaluate", "EvalSettings", "METRICS", "check_metrics"]
