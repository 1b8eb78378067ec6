"""The held-out batches of a run, built and checked before its first step.

The sample grid's batch (the test split, else the first training images) and the data of the
end-of-run evaluation must describe the same data as the training split (channels, domains):
a test folder lacking a domain must fail at start, not at the first sample step minutes in.
One sample grid is drawn at start too (RNG untouched, method state untouched), so anything
else a sample step could trip over trips now.
"""

from __future__ import annotations

from typing import Any

import torch

from i2i.errors import DataError
from i2i.train.samples import sample_rows


def fork_rng(run: Any) -> Any:
    return torch.random.fork_rng(devices=[run.device.index or 0] if run.device.type == "cuda" else [])


def held_out_batch(run: Any) -> Any:
    """A fixed batch for the sample grids: the test split, else the first training images.

    Checked before the first step: it must describe the same data as the training split,
    and one sample grid is drawn from it (RNG untouched), so a sample step cannot fail
    minutes into the run."""
    n = run.config.train.sample_images
    try:
        data = run._build_data("test", n, run.size_multiple, workers=False, shuffle=False, drop_last=False)
    except DataError:
        data = run._build_data("train", n, run.size_multiple, workers=False, shuffle=False, drop_last=False)
    check_same_data(run, data, "sample images")
    with fork_rng(run):
        raw = next(iter(data.loader))
        batch = data.augment(raw, run.device, train=False).to(run.device)
    sample_rows(run.method, batch, run.precision.autocast, run.ema)
    return batch


def eval_data(run: Any) -> Any:
    """The held-out data of the end-of-run evaluation, built and checked now."""
    if not run.config.train.eval_at_end:
        return None
    try:
        with fork_rng(run):
            data = run._build_data(
                "test",
                run.per_rank_batch,
                run.size_multiple,
                shuffle=False,
                drop_last=False,
            )
    except DataError as exc:
        run._no_eval = f"no held-out evaluation: {exc}"
        return None
    check_same_data(run, data, "held-out evaluation")
    return data


def check_same_data(run: Any, data: Any, what: str) -> None:
    ours, theirs = run.data.info, data.info
    if (ours.kind, ours.channels_a, ours.channels_b, ours.domains) != (
        theirs.kind,
        theirs.channels_a,
        theirs.channels_b,
        theirs.domains,
    ):

        def show(info: Any) -> str:
            domains = f", domains {', '.join(info.domains)}" if info.domains else ""
            return f"{info.channels_a}->{info.channels_b} channels{domains}"

        raise DataError(
            f"data: the test split ({what}) does not match the training split: test has {show(theirs)}, "
            f"train has {show(ours)} (give test/ the same domains and channels as train/)"
        )
