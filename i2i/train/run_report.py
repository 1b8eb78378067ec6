"""Assembles a run's ``index.html`` (and the end-of-run console lines) from the trainer.

:mod:`i2i.train.report` renders; this module gathers what the page shows from a running or
finished :class:`~i2i.train.trainer.Trainer`: the start-up overview, the time and
throughput, the config, the command that translates with the run, the sample grids, the
last training losses and the evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from i2i.config import run as _config
from i2i.train.progress import format_time
from i2i.train.report import render, write_report


def option_flags(method: Any) -> list[str]:
    """The method's translate options as command-line flags (``--direction``), whether it
    declares records (with a ``flag`` or a ``name``) or a name -> help mapping."""
    options = getattr(method, "translate_options", None)
    if callable(options):
        try:
            options = options()
        except Exception:
            options = None
    if isinstance(options, Mapping):
        return ["--" + str(k).replace("_", "-") for k in options]
    try:
        records = list(options or ())
    except TypeError:
        return []
    return [str(getattr(o, "flag", None) or "--" + str(getattr(o, "name", o)).replace("_", "-")) for o in records]


def translate_command(trainer: Any) -> str:
    """``i2i translate OUT/last.pt PHOTOS/ --out OUT/translated`` and the method's options."""
    out = trainer.out_dir
    command = f"i2i translate {out / 'last.pt'} PHOTOS/ --out {out / 'translated'} --html"
    flags = option_flags(trainer.method)
    if flags:
        command += (
            f"\n# options of {trainer.config.method_name}: {', '.join(flags)} (i2i translate {out / 'last.pt'} --help)"
        )
    return command


def timing(trainer: Any) -> str:
    """``start-up 4.1 s, first step 0.8 s, then 399 steps in 01:57 (3.41 it/s, 3.41 images/s)``."""
    progress = getattr(trainer, "progress", None)
    if progress is None:
        return ""
    started = getattr(trainer, "started_at", None)
    parts = []
    if started is not None:
        parts.append(f"start-up {progress.created - started:.1f} s")
    if progress.t0 is not None:
        parts.append(f"first step {progress.first_step_seconds():.1f} s")
    steps, rate = progress.steps_timed(), progress.rate()
    if steps and rate:
        images = rate * trainer.config.train.batch_size
        parts.append(
            f"then {steps} steps in {format_time(progress.train_seconds())} ({rate:.2f} it/s, {images:.1f} images/s)"
        )
    return ", ".join(parts)


def run_facts(trainer: Any, status: str) -> list[tuple[str, str]]:
    facts = [("status", status)]
    overview = getattr(trainer, "overview", None)
    if overview is not None:
        facts += list(overview.facts)
    spent = timing(trainer)
    if spent:
        facts.append(("time", spent))
    evaluation = getattr(trainer, "evaluation", None)
    if evaluation is not None:
        facts.append(("evaluation time", f"{evaluation.seconds:.1f} s"))
    facts.append(("written", time.strftime("%Y-%m-%d %H:%M:%S")))
    return facts


def write_run_report(trainer: Any, status: str) -> None:
    """Write ``OUT/index.html`` for the trainer's current state."""

    rows = trainer.metrics_log.rows
    logged = [r for r in rows if isinstance(r.get("losses"), Mapping)]
    sample_set = getattr(trainer, "sample_set", None)
    note = ""
    if sample_set is not None:
        on_train = sample_set.split == "train" or getattr(getattr(trainer, "overview", None), "test_is_train", False)
        where = "training" if on_train else "held-out test"
        shape = "square centre crops" if sample_set.square else "whole images at their aspect ratio"
        note = f"{len(sample_set.images)} {where} images, {shape}, each in one row only."
    page = render(
        title=f"i2i run: {trainer.config.method_name}",
        rows=rows,
        samples=trainer.samples,
        columns=trainer.sample_columns,
        run=run_facts(trainer, status),
        losses=logged[-1]["losses"] if logged else None,
        loss_step=logged[-1]["step"] if logged else None,
        evaluation=getattr(trainer, "evaluation", None),
        translate_command=translate_command(trainer),
        config_text=_config.to_toml(trainer.config),
        sample_note=note,
        base=trainer.out_dir,
    )
    write_report(trainer.out_dir / "index.html", page)


def done_lines(trainer: Any) -> list[str]:
    """The console's last lines of a finished run."""
    lines = []
    evaluation = getattr(trainer, "evaluation", None)
    if evaluation is not None and evaluation.table:
        lines.append(f"evaluation on {evaluation.on} ({evaluation.seconds:.1f} s):")
        lines.append(format_eval_table(evaluation.table))
        lines += [f"note: {n}" for n in evaluation.notes]
    spent = timing(trainer)
    lines.append(
        f"done: step {trainer.step}" + (f"; {spent}" if spent else "") + f"; report {trainer.out_dir / 'index.html'}"
    )
    return lines


def format_eval_table(table: Mapping[str, Mapping[str, float]]) -> str:
    """The evaluation as an aligned console table (metric x model/baseline columns)."""
    order = ["model", "identity", "mean_image", "real"]
    columns = [c for c in order if any(c in row for row in table.values())]
    columns += sorted({c for row in table.values() for c in row} - set(columns))
    width = max(len("metric"), *(len(m) for m in table))
    lines = ["  ".join(["metric".ljust(width), *(c.rjust(10) for c in columns)])]
    for metric, row in table.items():
        lines.append(
            "  ".join([metric.ljust(width), *((f"{row[c]:.4g}" if c in row else "").rjust(10) for c in columns)])
        )
    return "\n".join(lines)


__all__ = ["write_run_report", "translate_command", "done_lines", "timing", "option_flags"]
