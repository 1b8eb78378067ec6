"""The training loop. It knows nothing about any method.

The :class:`Trainer` builds the data and the method from a :class:`~i2i.config.RunConfig`,
then repeats: take a batch, augment it on the device, call ``method.train_step(batch, ctx)``
under autocast, advance schedules and the EMA. Around that loop it owns what every method
needs: devices and precision (:mod:`.precision`), distribution (:mod:`.distributed`),
checkpoints and exact resume (:mod:`.checkpoint`), logs, samples and the HTML report
(:mod:`.metrics`, :mod:`.samples`, :mod:`.report`), and the lifecycle hooks plugins observe.

Exact resume: the checkpoint holds the step, the epoch and the batches already taken from it
(the sampler restarts there without decoding the skipped images), every optimizer/scheduler
state and every rank's RNG state. Taking samples and creating data iterators never touch the
global RNG, so with a seed, fp32 and a CPU, a run killed at any moment and resumed ends with
the same weights bit for bit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import torch

from i2i.allocator import keep_freed_memory
from i2i.config import run as _config
from i2i.errors import ConfigError, DataError, UsageError
from i2i.io import checkpoint as ckpt_io
from i2i.io.atomic import DiskFullError, is_disk_full
from i2i.plugins.host import PluginHost, get_host
from i2i.train import (
    checks,
    distributed as dist_utils,
    heldout,
    resume as _resume,
    rundir,
    state,
)
from i2i.train.context import NonFiniteError, TrainContext
from i2i.train.ema import EMA
from i2i.train.evaluation import evaluate_at_end
from i2i.train.metrics import LossAverager, MetricsLog
from i2i.train.overview import overview
from i2i.train.precision import Precision, resolve_device, use_fast_kernels
from i2i.train.progress import Progress
from i2i.train.run_report import done_lines, write_run_report
from i2i.train.samples import collect_samples, grid, row_grids, write_png
from i2i.train.schedule import Schedules, total_steps
from i2i.train.signals import StopRequest
from i2i.train.tracking import check_loggers
from i2i.train.view import RunView, check_given_method, method_spec_for
from i2i.weight_copies import use_weight_copies


def _channels_last(x: torch.Tensor | None) -> torch.Tensor | None:
    return x.contiguous(memory_format=torch.channels_last) if x is not None and x.dim() == 4 else x


class Trainer:
    """Trains one run. ``fit()`` returns the final metrics (last averaged losses + held-out metrics).

    ``config`` may be None with ``resume=True``: the run's own config is read from its newest
    checkpoint; with ``resume`` the checkpoint's config wins, except for the run-control keys
    in :data:`~i2i.train.resume.RESUMABLE_KEYS` (length, device, precision, layout, reporting,
    where the data lives), which ``config`` may change. The run folder is locked from
    construction to the end of ``fit()`` (``close()`` releases it otherwise); a folder holding
    another run is refused unless ``resume`` or ``overwrite`` (:mod:`.rundir`). ``progress``:
    a live bar (True), plain periodic lines (False), or by whether stderr is a terminal (None).
    Lifecycle hooks receive a read-only :class:`~i2i.train.view.RunView` of it as ``run``
    (``out_dir``, ``config``, ``method``, ``step``, ``rank``, ``is_main`` ...), called through the
    host's typed methods (``host.step_end(...)``). ``method``: an already-built :class:`~i2i.method.Method`
    to train instead of building ``config``'s (Lightning's ``fit(model)``); it need not be
    registered (``config`` may then be None: default data and train settings).
    """

    def __init__(
        self,
        config: _config.RunConfig | None,
        *,
        out_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
        host: PluginHost | None = None,
        progress: bool | None = None,
        method: Any = None,
    ) -> None:
        self.host = host if host is not None else get_host()
        self._given_method = method
        self.view = RunView(self)  # what lifecycle hooks receive as ``run``
        self.resume = resume
        self.overwrite = overwrite and not resume
        self.progress_mode = progress
        self.resume_state: dict[str, Any] | None = None
        self.metrics_log: MetricsLog  # opened by rundir.prepare_out_dir on the main rank
        self._ignored: list[str] = []
        self._changed: list[str] = []
        self._stop: StopRequest | None = None  # fit()'s, while it runs
        explicit = out_dir is not None or bool(config is not None and config.out)
        if out_dir is None:
            if config is None:
                raise UsageError("resume needs the run directory: pass --out DIR")
            out_dir = config.out or f"runs/{config.method_name}"
        checks.check_path(out_dir, "--out")
        self.out_dir = Path(out_dir)
        main = dist_utils.env_rank() == 0
        if config is not None:  # before the folder is created or locked
            _config.check_run_config(config, self.host.registry)
            checks.check_path(config.data.root, "data.root")
            check_loggers(config.train.loggers, self.host.registry)
        self.out_dir, self._lock, self._notes = rundir.claim(
            self.out_dir, explicit=explicit, resume=resume, overwrite=self.overwrite, main=main
        )
        try:
            if resume:
                config = self._read_resume(config, method)
            if config is None and method is not None:
                config = _config.RunConfig(method_name=type(method).__name__.lower(), method=method.config)
            if config is None:
                raise UsageError("no run config given")
            _config.check_run_config(config, self.host.registry)
            check_loggers(config.train.loggers, self.host.registry)
            if main:
                rundir.check_writable(self.out_dir)
        except BaseException:
            self._lock.release(discard=True)
            raise
        self.config = config
        self.run_id = str(self.resume_state.get("run_id") or "") if self.resume_state else ""
        self.run_id = self.run_id or uuid.uuid4().hex
        self.spec = method_spec_for(self.host, config, method)
        self.method: Any = None
        self.step = 0
        self.epoch = 0
        self.position = 0  # batches of the current epoch already consumed
        self.rank = 0
        self.world_size = 1
        self.final_metrics: dict[str, float] = {}
        self.eval_metrics: dict[str, float] = {}
        #: what plugins stored in the resumed checkpoint (``i2i_checkpoint_state``); {} for a new run
        resumed: dict[str, Any] = self.resume_state or {}
        self.plugin_state: dict[str, Any] = dict(resumed.get("plugin_state") or {})
        self.samples: list[tuple[int, str]] = []
        self.sample_columns: list[str] = []
        self.evaluation: Any = None  # the end-of-run RunEvaluation

    def _read_resume(self, given: _config.RunConfig | None, method: Any = None) -> _config.RunConfig | None:
        found = ckpt_io.find_resume_checkpoint(self.out_dir)
        if found is None and (self.out_dir / ckpt_io.LAST).is_file():
            ckpt_io.read_checkpoint(self.out_dir / ckpt_io.LAST)  # raises, saying what is wrong with it
        if found is None:
            raise UsageError(
                f"{self.out_dir}: nothing to resume (no valid last.pt or step_*.pt); "
                "run without --resume to start a new run"
            )
        resumed = ckpt_io.Checkpoint.read(found)
        self.resume_state = resumed.payload
        self.resume_path = found
        if method is not None and self.resume_state.get("method") not in self.host.registry.names("method"):
            return given  # an unregistered, already-built method: its own config is the run's
        saved = resumed.run_config(self.host)
        if given is None:
            return saved
        config, self._changed, self._ignored = _resume.resumed_config(given, saved)
        moved = _resume.data_moved_note(saved, config)
        if moved:
            self._notes.append(moved)
        return config

    def close(self) -> None:
        """Release the run folder (``fit()`` does it when it ends)."""
        self._lock.release()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- building ------------------------------------------------------------------------------
    def _build_data(
        self, split: str, batch_size: int, size_multiple: int, *, workers: bool = True, **kwargs: Any
    ) -> Any:
        from i2i.data import build_data  # lazy: the data stack imports kornia

        data_config = self.config.data if workers else attrs.evolve(self.config.data, num_workers=0)
        return build_data(
            data_config,
            self.spec.data_kind,
            split=split,
            batch_size=batch_size,
            seed=self.config.train.seed,
            size_multiple=size_multiple,
            host=self.host,
            **kwargs,
        )

    def _setup(self) -> None:
        train = self.config.train
        self.device = resolve_device(train.device, local_rank=dist_utils.env_local_rank())
        checks.check_device(self.device, train.device)
        world = dist_utils.env_world_size()
        if train.batch_size % world:  # checked before joining the group, so every rank fails fast
            raise ConfigError(
                f"train.batch_size: {train.batch_size} is not divisible by the {world} processes "
                "(each rank takes batch_size / world_size)"
            )
        self.rank, self.world_size = dist_utils.init_from_env(self.device, self._stop)
        self.per_rank_batch = train.batch_size // self.world_size
        self.precision = Precision.create(train.precision, self.device)
        if train.keep_freed_memory and self.device.type == "cpu":
            keep_freed_memory()
        if train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

        state.seed_everything(train.seed)  # the same initial weights on every rank
        shard: dict[str, Any] = {"rank": self.rank, "world_size": self.world_size}
        self.data = self._build_data("train", self.per_rank_batch, 4, **shard)
        if self._given_method is not None:
            method = self._given_method
            check_given_method(method, self.data.info)
        else:
            method = self.host.build_method(self.spec, self.config.method, self.data.info)
        multiple = int(getattr(method, "size_multiple", 4) or 4)
        if multiple != 4:  # the data contract takes the multiple at build time; rebuilding is cheap
            self.data = self._build_data("train", self.per_rank_batch, multiple, **shard)
        self.size_multiple = multiple
        self.batches_per_epoch = self.data.batches_per_epoch()
        if self.batches_per_epoch < 1:
            raise DataError(f"data: not enough training images for one batch of {self.per_rank_batch}")
        self.total_steps = total_steps(train, self.batches_per_epoch)

        method.to(self.device)
        use_fast_kernels(
            method,
            self.device,
            self.precision.name,
            channels_last=train.channels_last,
            small_map_gemm=train.small_map_gemm,
            narrow_conv=train.narrow_conv,
        )
        if self.world_size > 1:
            dist_utils.broadcast_module(method)
        self.method = method
        self.optimizers = method.configure_optimizers()
        if not self.optimizers:
            raise UsageError(f"method {self.config.method_name!r}: configure_optimizers() returned no optimizer")
        self.weight_copies = (
            use_weight_copies(
                method,
                self.optimizers,
                self.precision.dtype,
                self.device,
                world_size=self.world_size,
                compiled=train.compile,
            )
            if train.weight_copies
            else None
        )
        if train.compile:
            # Generators only: their forward/backward is plain autograd. Discriminators often
            # take double backward (gradient penalties), which torch.compile does not support.
            for g in method.generators().values():
                g.compile()
        self.ema = EMA(method.generators(), train.ema, warmup=train.ema_warmup) if train.ema else None
        self.schedules = Schedules(self.optimizers, train, self.batches_per_epoch)
        self.ctx = TrainContext(
            self.optimizers,
            self.precision,
            device=self.device,
            rank=self.rank,
            world_size=self.world_size,
            grad_clip=train.grad_clip,
        )
        self.losses = LossAverager()
        self.epoch_losses = LossAverager()
        self.bad_in_a_row = 0
        self.bad_total = 0

        state.seed_everything(train.seed + self.rank)  # each rank its own augmentation stream
        # the main rank samples; train.sample_images = 0 means no sample grids
        sampling = self.is_main and train.sample_images > 0
        self.sample_set: Any = self._held_out_samples() if sampling else None
        if self.is_main:  # the held-out data must match the training data: checked now (heldout.py)
            if sampling:
                heldout.held_out_batch(self)
            heldout.eval_data(self)
        if self.resume_state is not None:
            state.load_training_state(self, self.resume_state)
            _resume.check_left_to_do(self.out_dir, self.step, self.total_steps, self.config)
            for note in (
                _resume.schedule_note(self.schedules.schedulers, self.total_steps),
                _resume.dataset_note(self.resume_state.get("batches_per_epoch"), self.batches_per_epoch),
            ):
                if note:
                    self._notes.append(note)
        rundir.prepare_out_dir(self)

    def _held_out_samples(self, square: bool = False) -> Any:
        """The fixed images of the sample grids: the test split, else the first training images."""
        return collect_samples(
            self.config.data,
            self.spec.data_kind,
            self.config.train.sample_images,
            self.device,
            self.size_multiple,
            seed=self.config.train.seed,
            square=square,
            host=self.host,
        )

    # -- the loop --------------------------------------------------------------------------------
    def _epoch_batches(self) -> Iterator[Any]:
        """The rest of the current epoch; creating the iterator leaves the global RNG untouched."""
        sampler = self.data.sampler
        sampler.set_epoch(self.epoch)
        sampler.set_start(self.position * self.per_rank_batch)
        with torch.random.fork_rng(devices=[]):
            it = iter(self.data.loader)
        return it

    def fit(self) -> dict[str, float]:
        """Train to the end (or until SIGINT/SIGTERM); returns the final metrics."""
        status = "failed"
        stop = StopRequest()
        self.started_at = time.monotonic()
        try:
            with stop:
                self._stop = stop  # the distributed rendezvous honours it while waiting
                self._setup()
                self.progress = Progress(
                    self.total_steps,
                    start=self.step,
                    enabled=self.progress_mode if self.is_main else False,
                )
                if self.is_main:
                    self.host.train_start(run=self.view)
                    if self.resume_state is not None:
                        self.progress.message(f"resuming from {self.resume_path} at step {self.step}")
                        if self._changed:
                            self.progress.message("changed on resume: " + ", ".join(self._changed))
                        if self._ignored:
                            self.progress.message(
                                "note: a resumed run keeps its saved method, data and optimisation settings; "
                                "ignored: " + ", ".join(self._ignored)
                            )
                    self.overview = overview(self)
                    self.progress.message("\n".join([f"i2i run: {self.config.method_name}", *self.overview.lines()]))
                    for note in self._notes:
                        self.progress.message(note)
                status = self._loop(stop)
            self._finish(status)
            return self.final_metrics
        except BaseException as exc:
            if self.is_main and self.method is not None:
                self.host.train_end(run=self.view, step=self.step, status="failed")
            self._lock.release(discard=self.step == 0 and self.resume_state is None)
            if isinstance(exc, Exception) and not isinstance(exc, DiskFullError) and is_disk_full(exc):
                raise DiskFullError(f"{self.out_dir}: no space left on device{state.kept_note(self)}") from None
            if isinstance(exc, DiskFullError):
                raise DiskFullError(f"{exc}{state.kept_note(self)}") from None
            raise
        finally:
            data = getattr(self, "data", None)
            if data is not None:
                data.close()
            self._lock.release()
            dist_utils.shutdown()

    def _loop(self, stop: StopRequest) -> str:
        train = self.config.train
        method, ctx = self.method, self.ctx
        method.train()
        self.last_saved_step = self.step if self.resume_state is not None else -1
        batches: Iterator[Any] | None = None
        while self.step < self.total_steps:
            if self.position >= self.batches_per_epoch:
                self._epoch_end()
                batches = None
            if batches is None:
                batches = self._epoch_batches()
            try:
                raw = next(batches)
            except StopIteration:  # a loader shorter than batches_per_epoch: treat as epoch end
                self.position = self.batches_per_epoch
                continue
            except Exception:
                # Ctrl-C also reaches DataLoader workers, which then exit: when a stop was asked
                # for, a failed fetch just ends the run at the last completed step.
                if not (stop.requested and self.world_size == 1):
                    raise
                if self.last_saved_step != self.step:
                    state.save_checkpoint(self, periodic=False)
                return "interrupted"
            batch = self.data.augment(raw, self.device, train=True)
            if train.channels_last:
                batch.a, batch.b = _channels_last(batch.a), _channels_last(batch.b)
            ctx.begin_step(self.step)
            with self.precision.autocast():
                losses = method.train_step(batch, ctx)
            ctx.end_step()
            self.schedules.step()
            if self.ema is not None:
                self.ema.update(self.step)
            self.step += 1
            self.position += 1
            self._count_bad(ctx.bad_this_step)
            if not ctx.bad_this_step:
                self.losses.add(losses)
                if self.schedules.plateau:
                    self.epoch_losses.add(losses)
            if self.is_main:
                self.progress.update(self.step)
            if self.step % train.log_every == 0 or self.step == self.total_steps:
                self._log()
            if self.sample_set is not None and self.step % train.sample_every == 0:
                self._sample()
            stopping = dist_utils.any_flag(stop.requested, self.device, self.world_size)
            if self.step % train.checkpoint_every == 0:
                state.save_checkpoint(self, periodic=True)
            if stopping:
                if self.last_saved_step != self.step:
                    state.save_checkpoint(self, periodic=False)
                return "interrupted"
        return "finished"

    def _count_bad(self, bad: bool) -> None:
        if not bad:
            self.bad_in_a_row = 0
            return
        self.bad_in_a_row += 1
        self.bad_total += 1
        if self.bad_in_a_row >= self.config.train.max_bad_steps:
            raise NonFiniteError(
                f"training diverged: {self.bad_in_a_row} consecutive steps with non-finite losses/gradients "
                f"(train.max_bad_steps) at step {self.step}; lower the learning rate, set train.grad_clip, "
                "or use train.precision=fp32"
            )

    def _epoch_end(self) -> None:
        if self.schedules.plateau:
            self.schedules.epoch_end(self.epoch_losses.pop())  # one sync per epoch
        self.epoch += 1
        self.position = 0

    def _log(self) -> None:
        losses = self.losses.pop()  # the only place losses leave the device
        if not self.is_main:
            return
        lrs = self.schedules.lrs()
        row = {
            "step": self.step,
            "epoch": self.epoch,
            "time": time.time(),
            "lr": lrs,
            "losses": losses,
            "skipped": self.bad_total,
        }
        self.metrics_log.write(row)
        self.final_metrics.update(losses)
        self.progress.log(self.step, losses)
        self.host.step_end(run=self.view, step=self.step, metrics={**losses, **{f"lr/{k}": v for k, v in lrs.items()}})

    def _sample(self) -> None:
        try:
            rows = self.sample_set.rows(self.method, self.precision.autocast, self.ema)
        except RuntimeError as exc:  # a method whose sample() needs square inputs
            if self.sample_set.square:
                raise
            self.progress.message(f"note: samples fall back to square crops ({str(exc).splitlines()[0]})")
            self.sample_set = self._held_out_samples(square=True)
            rows = self.sample_set.rows(self.method, self.precision.autocast, self.ema)
        self.sample_columns = list(rows[0]) if rows else []
        rel = f"samples/step_{self.step:06d}.png"
        path = self.out_dir / rel
        write_png(grid(rows), path)
        self.samples = [s for s in self.samples if s[0] != self.step] + [(self.step, rel)]
        self.host.sample_images(run=self.view, step=self.step, path=str(path), images=row_grids(rows))
        self._write_report()

    def _write_report(self, status: str | None = None) -> None:
        write_run_report(self, status or f"training, step {self.step} of {self.total_steps}")

    # -- the end ---------------------------------------------------------------------------------
    def _finish(self, status: str) -> None:
        if status == "finished":
            if self.last_saved_step != self.step:
                state.save_checkpoint(self, periodic=False)
            if self.is_main:
                if self.sample_set is not None and (not self.samples or self.samples[-1][0] != self.step):
                    self._sample()
                if self.config.train.eval_at_end:
                    evaluate_at_end(self)
        if not self.is_main:
            return
        self.progress.close()
        final = {**self.final_metrics, **self.eval_metrics}
        self._write_report(f"{status} at step {self.step} of {self.total_steps}")
        if status == "interrupted":
            self.progress.message(
                f"interrupted at step {self.step}; checkpoint saved in {self.out_dir}; "
                f"resume with: i2i run --resume --out {self.out_dir}"
            )
        else:
            self.progress.message("\n".join(done_lines(self)))
        skipped = self.data.skip_summary()
        if skipped:
            self.progress.message(f"warning: {skipped}")
        self.final_metrics = final
        self.host.train_end(run=self.view, step=self.step, status=status)


__all__ = ["Trainer"]
