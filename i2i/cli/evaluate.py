"""``i2i eval CKPT``: held-out metrics of a checkpoint, each beside trivial baselines.

See :mod:`i2i.eval.runner` for what is measured per kind of method and
:mod:`i2i.eval.report` for the table's columns.
"""

from __future__ import annotations

import click

from i2i.errors import UsageError
from i2i.eval.inception import HOW_TO_GET, load_fid_inception
from i2i.eval.runner import (
    METRICS,
    EvalSettings,
    capabilities_of,
    check_applicable,
    check_metrics,
    evaluate as run_eval,
)
from i2i.inference import load_checkpoint
from i2i.train.precision import emulation_note


@click.command("eval")
@click.argument("checkpoint", type=click.Path())
@click.option(
    "--data", type=click.Path(), help="Data folder to evaluate on (its test split); default: the run's own data."
)
@click.option(
    "--metrics",
    "metrics",
    multiple=True,
    metavar="NAME[,NAME]",
    help="Only these: psnr, ssim, l1, cycle, swd, accuracy, kid_classifier, diversity, best_of_k, idempotence, "
    "fid, kid, or a metric the method adds (default: all that apply; fid/kid when --inception-weights "
    "is given).",
)
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False), help="Also write the report as JSON (atomically)."
)
@click.option(
    "--max-images", default=200, show_default=True, type=click.IntRange(min=2), help="Test images to use (per domain)."
)
@click.option(
    "--max-train-images",
    default=1000,
    show_default=True,
    type=click.IntRange(min=2),
    help="Training images for the domain classifier, the mean-image baseline and the real floors.",
)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False),
    help="pt_inception-2015-12-05-6726825d.pth, the pytorch-fid FID Inception weights (download them once "
    "from the pytorch-fid GitHub releases); enables fid and kid. Never downloaded by i2i.",
)
@click.option(
    "--samples",
    default=4,
    show_default=True,
    type=click.IntRange(min=2),
    help="Samples per input (multimodal methods).",
)
@click.option(
    "--classifier-steps",
    default=300,
    show_default=True,
    type=click.IntRange(min=1),
    help="Domain-classifier training steps.",
)
@click.option(
    "--classifier-cache/--no-classifier-cache",
    default=True,
    show_default=True,
    help="Reuse the domain classifier trained before on the same training images and settings.",
)
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["auto", "fp32", "bf16", "fp16"]))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--workers", type=click.IntRange(min=0), help="Data loader workers (default: the run's data.num_workers)."
)
def evaluate(
    checkpoint: str,
    data: str | None,
    metrics: tuple[str, ...],
    json_file: str | None,
    max_images: int,
    max_train_images: int,
    inception_weights: str | None,
    samples: int,
    classifier_steps: int,
    classifier_cache: bool,
    batch_size: int,
    device: str,
    precision: str,
    seed: int,
    workers: int | None,
) -> None:
    """Evaluate CHECKPOINT on held-out images; prints a table with baselines (identity, mean image, real).

    \b
    i2i eval runs/pix2pix/last.pt                      # the run's test split
    i2i eval runs/cyclegan/last.pt --data ./horse2zebra --json h2z.json
    i2i eval runs/cyclegan/last.pt --inception-weights pt_inception-2015-12-05-6726825d.pth
    """

    names = tuple(n.strip() for item in metrics for n in item.split(",") if n.strip())
    core_only = all(n in METRICS for n in names)
    if core_only:  # fail fast, before loading anything; a method's own names are checked once it is loaded
        check_metrics(names)
    if ({"fid", "kid"} & set(names)) and not inception_weights:
        raise UsageError(HOW_TO_GET)
    if inception_weights:
        load_fid_inception(inception_weights)  # fail fast, before any translation, on a wrong file
    translator = load_checkpoint(checkpoint, device=device, precision=precision)
    note = emulation_note(translator.precision, translator.device)
    if note:
        click.echo(f"warning: {note}", err=True)
    check_metrics(names, capabilities_of(translator.method).metric_names())
    check_applicable(names, translator.method)
    settings = EvalSettings(
        metrics=names,
        max_images=max_images,
        max_train_images=max_train_images,
        batch_size=batch_size,
        samples=samples,
        seed=seed,
        classifier_steps=classifier_steps,
        classifier_cache=classifier_cache,
        inception_weights=inception_weights,
        num_workers=workers,
    )
    report = run_eval(translator, data_root=data, settings=settings, log=lambda m: click.echo(f"eval: {m}", err=True))
    click.echo(report.format())
    if json_file:
        report.write_json(json_file)
        click.echo(f"wrote {json_file}")
