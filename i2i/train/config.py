"""The ``[train]`` table of a run config."""

from __future__ import annotations

import attrs


@attrs.frozen
class TrackingConfig:
    """Names and places for experiment trackers (``train.loggers``); what is unset falls back
    on each tracker's own environment variables (``WANDB_PROJECT``, ``WANDB_ENTITY``,
    ``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``, ...) and then its defaults.

    ``project``: the W&B project / MLflow experiment. ``name``: the run's display name.
    ``tags``: run tags. ``entity``: the W&B team or user. ``uri``: the MLflow tracking URI.
    ``log_checkpoint``: upload the final ``last.pt`` as an artifact when the run finishes.
    """

    project: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    entity: str | None = None
    uri: str | None = None
    log_checkpoint: bool = False


@attrs.frozen
class TrainConfig:
    """How long, how fast and how observably to train.

    Length: ``steps`` if set, else ``epochs`` + ``epochs_decay`` passes over the data (the
    reference ``n_epochs`` / ``n_epochs_decay``). ``schedule`` applies to every optimizer:
    ``linear`` keeps the rate constant and then decays it linearly to zero over the last
    ``epochs_decay`` epochs (or the last ``decay_fraction`` of ``steps``, default the same
    share as ``epochs_decay / (epochs + epochs_decay)``); ``constant``, ``step`` (times
    ``gamma`` every ``step_size`` epochs), ``cosine`` (to zero over the run) and ``plateau``
    (times ``plateau_factor`` when an optimizer's epoch-mean loss has not improved by a relative
    ``plateau_threshold`` for ``plateau_patience`` epochs) are the alternatives. The plateau
    defaults are the reference's (``ReduceLROnPlateau(mode="min", factor=0.2, threshold=0.01,
    patience=5)``); unlike the reference, which steps it with a metric that is always 0, i2i
    steps it with the epoch's mean loss, so it reacts to training.

    ``precision``: ``auto`` (bf16 autocast where the CPU/GPU supports it, else fp32),
    ``fp32``, ``bf16``, ``fp16`` (CUDA only, with gradient scaling). ``ema``: decay of an
    exponential moving average of the generators (e.g. 0.999), used for samples and export;
    ``ema_warmup`` ramps the decay up as ``min(ema, (1 + step) / (10 + step))`` (timm's and
    TensorFlow's warm-up), so a short run's average is not dominated by the random initial weights.
    ``channels_last``: NHWC memory layout for the model and batches (the fast path for
    convolutions under bf16 on CPUs and tensor cores). ``compile``: ``torch.compile`` the
    generators only (discriminators often need double backward for gradient penalties, which
    compiled graphs do not support); the first steps are slow while it compiles.
    ``loggers``: experiment loggers by registered name (``i2i list loggers``), e.g.
    ``["tensorboard", "wandb"]``; unset means TensorBoard when it is installed; ``[]`` none.
    ``tracking``: their project, run name, tags, entity and URI (:class:`TrackingConfig`).
    ``max_bad_steps``: stop after this many consecutive steps with non-finite gradients.
    ``sample_images``: held-out images in each sample grid; ``eval_images``: held-out images
    scored at the end when ``eval_at_end``.
    """

    steps: int | None = None
    epochs: int = 100
    epochs_decay: int = 100
    decay_fraction: float | None = None
    schedule: str = "linear"
    step_size: int = 50
    gamma: float = 0.1
    plateau_factor: float = 0.2
    plateau_threshold: float = 0.01
    plateau_patience: int = 5
    batch_size: int = 1
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    seed: int = 0
    deterministic: bool = False
    grad_clip: float | None = None
    ema: float | None = None
    ema_warmup: bool = True
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    max_bad_steps: int = 20
    eval_at_end: bool = True
    sample_images: int = 4
    eval_images: int = 64
    loggers: tuple[str, ...] | None = None
    tracking: TrackingConfig = attrs.field(factory=TrackingConfig)
