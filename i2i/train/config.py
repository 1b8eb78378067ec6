"""The ``[train]`` table of a run config."""

from __future__ import annotations

from typing import ClassVar

import attrs

from i2i.config.validation import at_least, between, distinct, matches, more_than, one_of

#: ``train.schedule`` values (the reference ``lr_policy``; ``constant`` is its ``n_epochs_decay = 0``).
SCHEDULES = ("linear", "constant", "step", "cosine", "plateau")
#: ``train.precision`` values.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: ``train.device`` syntax; whether the device exists is checked when training starts.
DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"


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

    #: one line per key for ``docs/config.md``
    field_help: ClassVar[dict[str, str]] = {
        "project": "the W&B project / MLflow experiment",
        "name": "the run's display name",
        "tags": "run tags",
        "entity": "the W&B team or user",
        "uri": "the MLflow tracking URI",
        "log_checkpoint": "upload the final last.pt as an artifact when the run finishes",
    }
    unset_help: ClassVar[dict[str, str]] = {
        key: "the tracker's own environment variable, then its default" for key in ("project", "name", "entity", "uri")
    }


@attrs.frozen
class TrainConfig:
    """How long, how fast and how observably to train.

    Length: ``steps`` if set, else ``epochs`` + ``epochs_decay`` passes over the data (the
    reference ``n_epochs`` / ``n_epochs_decay``); epochs the user sets drop a ``steps`` that
    only a method's defaults set (:func:`i2i.config.run.epochs_rule`). ``schedule`` applies to every optimizer:
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
    convolutions under bf16 on CPUs and tensor cores). ``small_map_gemm``: in bf16/fp16 on a
    CPU, convolutions whose batch x positions are at most 256 run as one matrix product
    (:mod:`i2i.nets.small_maps`: 2-8x faster there, the same result up to rounding; never in
    fp32). ``narrow_conv``: in bf16/fp16 on a CPU, stride-1 convolutions with at most 4 output
    channels and 3+ kernel columns (generators' image heads, score maps) run as a ``kh x 1``
    convolution and a grouped identity ``1 x kw`` one (:mod:`i2i.nets.narrow_conv`: 1.5-1.9x
    faster there, the same result up to rounding; never in fp32). ``keep_freed_memory``: on a
    CPU, glibc malloc keeps the memory a step frees for the next step instead of returning it
    to the system (:mod:`i2i.allocator`: 5-10% faster steps; the process's resident size stays
    at its peak). ``weight_copies``: in bf16 on a
    CPU, in one process, uncompiled, each i2i Adam over at least 4M weights keeps a bf16 copy
    of its convolution and linear weights that the layers use under autocast, and updates from
    their bf16 gradients (:mod:`i2i.weight_copies`: no per-step weight and gradient casts; what
    is computed is autocast's, up to the update's last-bit rounding). ``compile``: ``torch.compile`` the
    generators only (discriminators often need double backward for gradient penalties, which
    compiled graphs do not support); the first steps are slow while it compiles.
    ``loggers``: experiment loggers by registered name (``i2i list loggers``), e.g.
    ``["tensorboard", "wandb"]``; unset means TensorBoard when it is installed; ``[]`` none.
    ``tracking``: their project, run name, tags, entity and URI (:class:`TrackingConfig`).
    ``max_bad_steps``: stop after this many consecutive steps with non-finite gradients.
    ``sample_images``: held-out images in each sample grid (0: none drawn); ``eval_images``: held-out images
    scored at the end when ``eval_at_end``.
    """

    #: one line per key for ``docs/config.md`` (generated; a test keeps it complete)
    field_help: ClassVar[dict[str, str]] = {
        "steps": "optimisation steps of the run; overrides the epoch counts",
        "epochs": "epochs at the initial learning rate",
        "epochs_decay": "epochs over which the linear schedule decays the rate to zero",
        "decay_fraction": "with `steps`: the share of the run the linear decay takes",
        "schedule": "learning-rate schedule of every optimizer: linear, constant, step, cosine, plateau",
        "step_size": "`step` schedule: epochs between decays by `gamma`",
        "gamma": "`step` schedule: the factor applied every `step_size` epochs",
        "plateau_factor": "`plateau` schedule: the factor applied when the loss stalls",
        "plateau_threshold": "`plateau` schedule: relative improvement that counts as progress",
        "plateau_patience": "`plateau` schedule: epochs without progress before the rate drops",
        "batch_size": "images per optimisation step (over all processes)",
        "device": "auto (a GPU when there is one), cpu, cuda, cuda:N or mps",
        "precision": "auto (bf16 where supported, else fp32), fp32, bf16 or fp16 (CUDA only)",
        "channels_last": "NHWC memory layout for the model and batches (the fast convolution path)",
        "small_map_gemm": "bf16/fp16 on a CPU: run convolutions on small maps (<= 256 positions x batch) as one matrix product",
        "narrow_conv": "bf16/fp16 on a CPU: run stride-1 convolutions with <= 4 output channels (image heads) as two cheaper ones",
        "keep_freed_memory": "CPU: malloc keeps freed memory for the next step (faster; the process stays at its peak size)",
        "weight_copies": "bf16 on a CPU: large Adam optimizers keep bf16 weight copies and read bf16 gradients (no per-step casts)",
        "compile": "torch.compile the generators (slow first steps)",
        "seed": "seed of weights, data order and augmentation",
        "deterministic": "ask torch for deterministic kernels (slower)",
        "grad_clip": "clip each optimizer's gradient norm to this value",
        "ema": "decay of an exponential moving average of the generators (e.g. 0.999), for samples and export",
        "ema_warmup": "ramp the EMA decay up as min(ema, (1 + step) / (10 + step))",
        "log_every": "steps between averaged-loss log lines",
        "sample_every": "steps between sample grids",
        "checkpoint_every": "steps between checkpoints",
        "keep_checkpoints": "step checkpoints kept besides last.pt (0: only last.pt)",
        "max_bad_steps": "stop after this many consecutive steps with non-finite gradients",
        "eval_at_end": "evaluate on held-out images when the run ends",
        "sample_images": "held-out images in each sample grid (0: no sample grids)",
        "eval_images": "held-out images scored at the end",
        "loggers": "experiment loggers by registered name (see: i2i list loggers)",
        "tracking": "the loggers' project, run name, tags, entity and URI (the [train.tracking] table)",
    }
    #: what an unset (absent) optional key means, for ``i2i config show`` and the docs
    unset_help: ClassVar[dict[str, str]] = {
        "steps": "the run is epochs + epochs_decay passes over the data",
        "decay_fraction": "the share epochs_decay / (epochs + epochs_decay)",
        "grad_clip": "gradients are not clipped",
        "ema": "no moving average; samples and export use the trained weights",
        "loggers": "TensorBoard when the tensorboard package is installed, else none ([] turns it off)",
    }

    steps: int | None = attrs.field(default=None, validator=at_least(0))
    epochs: int = attrs.field(default=100, validator=at_least(0))
    epochs_decay: int = attrs.field(default=100, validator=at_least(0))
    decay_fraction: float | None = attrs.field(default=None, validator=between(0.0, 1.0))
    schedule: str = attrs.field(default="linear", validator=one_of(*SCHEDULES))
    step_size: int = attrs.field(default=50, validator=at_least(1))
    gamma: float = attrs.field(default=0.1, validator=more_than(0.0))
    plateau_factor: float = attrs.field(default=0.2, validator=between(0.0, 1.0, low_open=True, high_open=True))
    plateau_threshold: float = attrs.field(default=0.01, validator=at_least(0.0))
    plateau_patience: int = attrs.field(default=5, validator=at_least(0))
    batch_size: int = attrs.field(default=1, validator=at_least(1))
    device: str = attrs.field(default="auto", validator=matches(DEVICE_PATTERN, "auto, cpu, cuda, cuda:N or mps"))
    precision: str = attrs.field(default="auto", validator=one_of(*PRECISIONS))
    channels_last: bool = True
    small_map_gemm: bool = True
    narrow_conv: bool = True
    keep_freed_memory: bool = True
    weight_copies: bool = True
    compile: bool = False
    seed: int = attrs.field(default=0, validator=between(-(2**63), 2**63 - 2**16 - 1))  # room for seed + rank
    deterministic: bool = False
    grad_clip: float | None = attrs.field(default=None, validator=more_than(0.0))
    ema: float | None = attrs.field(default=None, validator=between(0.0, 1.0, low_open=True, high_open=True))
    ema_warmup: bool = True
    log_every: int = attrs.field(default=50, validator=at_least(1))
    sample_every: int = attrs.field(default=500, validator=at_least(1))
    checkpoint_every: int = attrs.field(default=1000, validator=at_least(1))
    keep_checkpoints: int = attrs.field(default=3, validator=at_least(0))
    max_bad_steps: int = attrs.field(default=20, validator=at_least(1))
    eval_at_end: bool = True
    sample_images: int = attrs.field(default=4, validator=at_least(0))
    eval_images: int = attrs.field(default=64, validator=at_least(0))
    loggers: tuple[str, ...] | None = attrs.field(default=None, validator=distinct())
    tracking: TrackingConfig = attrs.field(factory=TrackingConfig)
