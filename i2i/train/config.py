"""The ``[train]`` table of a run config."""

from __future__ import annotations

import attrs


@attrs.frozen
class TrainConfig:
    """How long, how fast and how observably to train.

    Length: ``steps`` if set, else ``epochs`` + ``epochs_decay`` passes over the data (the
    reference ``n_epochs`` / ``n_epochs_decay``). ``schedule`` applies to every optimizer:
    ``linear`` keeps the rate constant and then decays it linearly to zero over the last
    ``epochs_decay`` epochs (or the last ``decay_fraction`` of ``steps``); ``constant``,
    ``step`` (``step_size`` / ``gamma``), ``cosine`` and ``plateau`` are the alternatives.
    """

    steps: int | None = None
    epochs: int = 100
    epochs_decay: int = 100
    decay_fraction: float | None = None
    schedule: str = "linear"
    step_size: int = 50
    gamma: float = 0.1
    plateau_patience: int = 10
    batch_size: int = 1
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    seed: int = 0
    deterministic: bool = False
    grad_clip: float | None = None
    ema: float | None = None
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    max_bad_steps: int = 20
    eval_at_end: bool = True
