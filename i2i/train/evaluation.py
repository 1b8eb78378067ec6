"""The end-of-run evaluation (``train.eval_at_end``): what was measured, on which images.

Paired methods get held-out PSNR beside the identity and mean-colour baselines
(:func:`i2i.eval.summary.summarize`, a single pass over the test images). Methods without
a target (unpaired, labelled) also get the quality measures of :mod:`i2i.eval` that mean
something there, within a small time budget: the sliced Wasserstein distance of the
translations to real target-domain images beside its real-vs-real floor, the share of
translations a domain classifier (trained on the run's training images, ``classifier_steps``
short) assigns to the target domain beside its accuracy on real images, and the cycle error.
``i2i eval CKPT`` computes the full set with the default (longer) budgets.

The result says whether the images were held out: a folder without a test/ or val/ split is
evaluated on its training images, and the report says so instead of calling them held-out.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import attrs

from i2i.errors import DataError
from i2i.eval.report import DEFINITIONS, family
from i2i.eval.runner import EvalSettings, capabilities_of, evaluate
from i2i.eval.summary import summarize
from i2i.inference import Translator

#: Metrics of :mod:`i2i.eval.runner` computed at the end of a run without a target.
QUALITY_METRICS = ("cycle", "swd", "accuracy")
#: Domain-classifier updates at the end of a run (``i2i eval`` defaults to 300).
CLASSIFIER_STEPS = 100


@attrs.define
class RunEvaluation:
    """``on``: what was evaluated (images, split, data); ``table[metric][column]``; ``metrics``
    flat (the model's numbers as ``metric``, baselines as ``metric/column``)."""

    on: str
    held_out: bool
    metrics: dict[str, float] = attrs.field(factory=dict)
    table: dict[str, dict[str, float]] = attrs.field(factory=dict)
    definitions: dict[str, str] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)
    seconds: float = 0.0


def _data_name(trainer: Any) -> str:
    config = trainer.config.data
    if config.sources:  # several labelled sources (data.sources)
        return "; ".join(str(s.root or f"the built-in demo {s.demo!r}") for s in config.sources)
    if config.root is None:
        return f"the built-in demo {Path(trainer.data.config.root).name!r}"
    return str(config.root)


def evaluate_run(trainer: Any, *, test_is_train: bool, log: Any = None) -> RunEvaluation | None:
    """Evaluate the trained method (EMA weights when kept, and its raw weights' summary beside
    them); None when there is no test data."""

    t0 = time.monotonic()
    try:
        data = trainer._build_data(
            "test", trainer.per_rank_batch, trainer.size_multiple, shuffle=False, drop_last=False
        )
    except DataError as exc:
        if log:
            log(f"no evaluation: {exc}")
        return None
    swap = trainer.ema.swapped() if trainer.ema is not None else contextlib.nullcontext()
    kind = trainer.spec.data_kind
    with swap:
        basic = summarize(
            trainer.method, data, trainer.device, trainer.precision.autocast, trainer.config.train.eval_images
        )
        n = int(basic.get("images", 0))
        split = "training images (the data has no test/ or val/ split)" if test_is_train else "held-out test images"
        result = RunEvaluation(
            on=f"{n} {split} of {_data_name(trainer)}", held_out=not test_is_train, metrics=dict(basic)
        )
        if kind == "paired":
            for key, value in basic.items():  # psnr, psnr_<baseline>: the model and its baselines
                if key == "psnr" or key.startswith("psnr_"):
                    result.table.setdefault("psnr", {})["model" if key == "psnr" else key[5:]] = value
            result.definitions["psnr"] = (
                "dB on [0,1] images, mean over images (higher is better); identity: the input "
                "as the prediction; mean_color: every pixel the mean colour of the targets"
            )
        else:
            if "l1_change" in basic:
                result.table["l1_change"] = {"model": basic["l1_change"]}
                result.definitions["l1_change"] = (
                    "mean |output - input| on [0,1]: how much the method changes its input, not a quality measure"
                )
            _quality(trainer, result, log)
    if trainer.ema is not None:  # the raw weights beside the EMA ones, so a bad average shows
        raw = summarize(
            trainer.method, data, trainer.device, trainer.precision.autocast, trainer.config.train.eval_images
        )
        result.metrics.update({f"raw/{k}": v for k, v in raw.items()})
        for key in ("psnr", "l1_change"):
            if key in raw:
                result.table[f"{key} (raw weights, not the EMA)"] = {"model": raw[key]}
    result.seconds = time.monotonic() - t0
    return result


class _NoEvalReport:
    """The run's plugin host, except that ``eval_result`` reports nothing."""

    def __init__(self, host: Any) -> None:
        self._host = host

    def eval_result(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)


def _quality(trainer: Any, result: RunEvaluation, log: Any) -> None:
    """SWD with its floor, the domain classifier and the cycle error, from :mod:`i2i.eval`."""

    method = trainer.method
    was_training = method.training
    n = trainer.config.train.eval_images
    own = tuple(m.name for m in capabilities_of(method).metrics if m.at_end)  # EvalMetric(at_end=True)
    settings = EvalSettings(
        metrics=QUALITY_METRICS + own,
        max_images=n,
        max_train_images=max(4 * n, 64),
        seed=trainer.config.train.seed,
        classifier_steps=CLASSIFIER_STEPS,
        classifier_size=min(64, trainer.config.data.image_size),
        num_workers=0,
    )
    # evaluate() reports to the i2i_eval_result hook itself; the trainer reports the run's merged numbers once.
    quiet = _NoEvalReport(trainer.host)
    try:
        translator = Translator(
            method,
            trainer.config,
            device=trainer.device,
            precision=trainer.precision.name,
            step=trainer.step,
            source=str(trainer.out_dir / "last.pt"),
        )
        report = evaluate(translator, settings=settings, host=quiet, log=(lambda m: log(f"eval: {m}")) if log else None)
    except Exception as exc:
        result.notes.append(
            f"SWD / domain-classifier measures failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        return
    finally:
        method.train(was_training)
    for metric, row in report.table.items():
        result.table[metric] = dict(row)
        if family(metric) in DEFINITIONS:
            result.definitions[family(metric)] = DEFINITIONS[family(metric)]
    for key, value in report.metrics().items():
        if key != "images":
            result.metrics[key] = value
    result.definitions["columns"] = (
        "identity: the input unchanged; mean_image: the mean training image of the target "
        "domain; real: real images instead of translations (SWD: two disjoint real sets, "
        "the floor; accuracy: held-out real images, the ceiling)"
    )
    result.notes += [n for n in report.notes if not n.startswith("FID/KID")]
    result.notes.append(f"the domain classifier trained {CLASSIFIER_STEPS} steps; `i2i eval` trains it longer")


__all__ = ["RunEvaluation", "evaluate_run", "evaluate_at_end", "QUALITY_METRICS"]


def evaluate_at_end(run: Any) -> None:
    """``train.eval_at_end``: evaluate the finished run, log the metrics and tell the plugins."""
    run.progress.message("evaluating (train.eval_at_end)")
    test_is_train = bool(getattr(getattr(run, "overview", None), "test_is_train", False))
    run.evaluation = evaluate_run(run, test_is_train=test_is_train, log=run.progress.message)
    if run.evaluation is None:
        return
    metrics = run.evaluation.metrics
    run.eval_metrics = {f"eval/{k}": v for k, v in metrics.items()}
    run.metrics_log.write({"step": run.step, "epoch": run.epoch, "time": time.time(), "eval": metrics})
    run.host.eval_result(run=run.view, step=run.step, metrics=metrics, checkpoint=None)
