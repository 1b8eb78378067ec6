"""A Weights & Biases run per i2i run.

What it records: the full config as the run's config (dotted keys), every logged loss and
learning rate at its training step, each sample grid as an image (``samples``), evaluation
results in the run summary (``eval/...``) and, with ``train.tracking.log_checkpoint``, the
final ``last.pt`` as a ``model`` artifact. Files go under ``OUT/wandb/``.

Names come from ``train.tracking`` (``project``, ``name``, ``tags``, ``entity``); what is unset
is left to W&B, which reads its own environment (``WANDB_PROJECT``, ``WANDB_ENTITY``,
``WANDB_MODE=offline``, ``WANDB_API_KEY``, ...). The run id is stored in every checkpoint, so
``i2i run --resume`` continues the same W&B run and ``i2i eval CKPT`` adds its metrics to it.
"""

from __future__ import annotations

from typing import Any, Mapping

from i2i import TrackedRun


class WandbLogger:
    run: Any = None

    def start(self, run: TrackedRun) -> None:
        import wandb

        t = run.tracking
        run_id = (run.state or {}).get("id")
        kwargs: dict[str, Any] = {
            "project": t.project,
            "entity": t.entity,
            "name": t.name,
            "tags": list(t.tags) or None,
            "dir": str(run.out_dir),
            "job_type": "eval" if run.purpose == "eval" else "train",
        }
        if run_id:
            kwargs.update(id=run_id, resume="allow")
        else:
            kwargs.update(config=dict(run.params))
        if t.project is None:
            kwargs.pop("project")  # WANDB_PROJECT, else W&B's default
        self.run = wandb.init(**kwargs)
        if run_id and run.purpose == "train":
            self.run.config.update(dict(run.params), allow_val_change=True)  # resume may change run-control keys

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.log(dict(metrics), step=step)

    def log_images(self, images: Mapping[str, Any], step: int, path: str) -> None:
        import wandb

        self.run.log({"samples": wandb.Image(path, caption=f"step {step}")}, step=step)

    def log_summary(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.summary.update({f"eval/{k}": v for k, v in metrics.items()})
        self.run.summary["eval/step"] = step

    def log_artifact(self, path: str, name: str) -> None:
        import wandb

        artifact = wandb.Artifact(f"{self.run.id}-{name}", type="model")
        artifact.add_file(path)
        self.run.log_artifact(artifact)

    def state(self) -> Mapping[str, Any]:
        return {"id": self.run.id, "project": self.run.project}

    def finish(self, status: str) -> None:
        self.run.finish(exit_code=1 if status == "failed" else 0)
