"""An MLflow run per i2i run, written through :class:`mlflow.tracking.MlflowClient` (no global
"active run", so several runs in one process stay apart).

What it records: the full config as params (dotted keys; on resume only keys not logged yet,
since MLflow params are immutable), every logged loss and learning rate as a metric at its
training step, each sample grid as an artifact under ``samples/``, evaluation results as
``eval/...`` metrics and, with ``train.tracking.log_checkpoint``, the final ``last.pt`` under
``checkpoint/``. Evaluation sub-keys join with ``.`` (``eval/psnr.identity``). MLflow allows only letters, digits and ``_-. :/`` in metric names; other
characters (``G/gan+l1``) become ``_``.

Where: ``train.tracking.uri``, else ``MLFLOW_TRACKING_URI``, else MLflow's default; the
experiment is ``train.tracking.project``, else ``MLFLOW_EXPERIMENT_NAME``, else ``i2i``. The run
id is stored in every checkpoint: ``i2i run --resume`` continues the same MLflow run and
``i2i eval CKPT`` adds its metrics to it.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Mapping

from i2i import TrackedRun

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_\-. :/]")
_STATUS = {"finished": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}


def metric_name(key: str) -> str:
    return _BAD_NAME_CHARS.sub("_", key)


class MlflowLogger:
    client: Any = None
    run_id: str = ""
    uri: str | None = None

    def start(self, run: TrackedRun) -> None:
        from mlflow.tracking import MlflowClient

        t = run.tracking
        state = run.state or {}
        self.uri = state.get("uri") or t.uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        self.client = MlflowClient(tracking_uri=self.uri)
        if state.get("run_id"):
            self.run_id = state["run_id"]
            if run.purpose == "train":
                self.client.update_run(self.run_id, status="RUNNING")
                logged = set(self.client.get_run(self.run_id).data.params)
                self._log_params({k: v for k, v in run.params.items() if k not in logged})
            return
        experiment = t.project or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "i2i"
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found is not None else self.client.create_experiment(experiment)
        tags = {tag: "" for tag in t.tags}
        tags["i2i.method"] = run.method
        tags["i2i.out_dir"] = str(run.out_dir)
        created = self.client.create_run(experiment_id, run_name=t.name, tags=tags)
        self.run_id = created.info.run_id
        self._log_params(dict(run.params))

    def _log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(metric_name(k), str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow's per-request limit
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(metric_name(k), float(v), now, step) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i : i + 1000])

    def log_images(self, images: Mapping[str, Any], step: int, path: str) -> None:
        self.client.log_artifact(self.run_id, path, artifact_path="samples")

    def log_summary(self, metrics: Mapping[str, float], step: int) -> None:
        # "psnr" and "psnr/identity" cannot both be MLflow metrics (a name may not be a folder of
        # another in its stores): the metric's own sub-keys join with "."
        self.log_metrics({f"eval/{k.replace('/', '.')}": v for k, v in metrics.items()}, step)

    def log_artifact(self, path: str, name: str) -> None:
        self.client.log_artifact(self.run_id, path, artifact_path=name)

    def state(self) -> Mapping[str, Any]:
        return {"run_id": self.run_id, "uri": self.uri}

    def finish(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=_STATUS.get(status, "FINISHED"))
