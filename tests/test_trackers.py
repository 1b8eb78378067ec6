"""Experiment loggers: the generic dispatcher (``i2i.train.tracking``) and, for real and offline,
the W&B (offline run files read back) and MLflow (local file store read back through MLflow's
client) plugins: config as parameters, a loss series, an image, evaluation metrics, and a
resumed run that continues the same tracker run without repeating a step."""

from __future__ import annotations

import glob
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import i2i_mlflow.plugin
import i2i_wandb.plugin
import pytest
import torch
from train_support import dummy_config, make_paired

from i2i.errors import UsageError
from i2i.io.checkpoint import read_checkpoint
from i2i.plugins.hookspecs import hookimpl
from i2i.plugins.host import PluginHost, set_host
from i2i.plugins.registry import LoggerSpec
from i2i.train import tracking
from i2i.train.trainer import Trainer


# -- a recording logger, to test the dispatcher itself -----------------------------------------
class Recorder:
    events: list[tuple] = []

    def start(self, run):
        Recorder.events.append(("start", run.step, dict(run.state or {}), run.purpose))

    def log_metrics(self, metrics, step):
        Recorder.events.append(("metrics", step, sorted(metrics)))

    def log_images(self, images, step, path):
        assert Path(path).is_file()
        Recorder.events.append(("images", step))

    def log_summary(self, metrics, step):
        Recorder.events.append(("summary", step, sorted(metrics)))

    def log_artifact(self, path, name):
        Recorder.events.append(("artifact", Path(path).name, name))

    def state(self):
        return {"id": "rec-1"}

    def finish(self, status):
        Recorder.events.append(("finish", status))


class RecorderPlugin:
    @hookimpl
    def i2i_register_loggers(self):
        yield LoggerSpec("recorder", Recorder, "records events")
        yield LoggerSpec(
            "needs_pkg", Recorder, "needs a missing package", requires=("no_such_module_i2i",), extra="extra9"
        )


def _host(*plugins):
    sys.path.insert(0, str(Path(__file__).parent))
    import dummy_plugin

    host = PluginHost(autoload=False, plugins=[("dummy", dummy_plugin), *plugins])
    set_host(host)
    return host


def test_logger_names_are_checked_before_training(tmp_path):
    host = _host(("recorder", RecorderPlugin()))
    data = make_paired(tmp_path / "data")
    with pytest.raises(UsageError, match=r"train.loggers: unknown logger 'recorderr'; did you mean 'recorder'"):
        Trainer(dummy_config(host, data, loggers=["recorderr"]), out_dir=tmp_path / "a", host=host)
    with pytest.raises(
        UsageError,
        match=r"logger 'needs_pkg' needs the 'no_such_module_i2i' package: pip install 'i2i-translate\[extra9\]'",
    ):
        Trainer(dummy_config(host, data, loggers=["needs_pkg"]), out_dir=tmp_path / "b", host=host)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_dispatcher_feeds_every_event_and_resume_skips_logged_steps(tmp_path):
    host = _host(("recorder", RecorderPlugin()))
    data = make_paired(tmp_path / "data")
    Recorder.events = []
    cfg = dummy_config(
        host, data, loggers=["recorder"], steps=4, log_every=1, sample_every=2, tracking={"log_checkpoint": True}
    )
    Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False).fit()
    ev = Recorder.events
    assert ev[0] == ("start", 0, {}, "train")
    assert [e[1] for e in ev if e[0] == "metrics"] == [1, 2, 3, 4]
    assert ("metrics", 1, ["D/loss", "G/loss", "lr/D", "lr/G"]) in ev
    assert [e[1] for e in ev if e[0] == "images"] == [2, 4]
    assert any(e[0] == "summary" and "psnr" in e[2] for e in ev)
    assert ev[-2:] == [("artifact", "last.pt", "checkpoint"), ("finish", "finished")]
    assert read_checkpoint(tmp_path / "out" / "last.pt")["plugin_state"] == {"loggers": {"recorder": {"id": "rec-1"}}}

    # the run had logged up to step 6 before it died, but its checkpoint is at step 4: a resume
    # hands the logger its saved state and repeats none of steps 5-6
    state = json.loads((tmp_path / "out" / tracking.STATE_FILE).read_text())
    assert state == {"recorder": {"state": {"id": "rec-1"}, "logged_step": 4}}
    state["recorder"]["logged_step"] = 6
    (tmp_path / "out" / tracking.STATE_FILE).write_text(json.dumps(state))
    Recorder.events = []
    cfg8 = dummy_config(host, data, loggers=["recorder"], steps=8, log_every=1, sample_every=2)
    Trainer(cfg8, out_dir=tmp_path / "out", resume=True, host=host, progress=False).fit()
    ev = Recorder.events
    assert ev[0] == ("start", 4, {"id": "rec-1"}, "train")
    assert [e[1] for e in ev if e[0] == "metrics"] == [7, 8]
    assert [e[1] for e in ev if e[0] == "images"] == [8]


def test_no_loggers_means_none(tmp_path):
    host = _host(("recorder", RecorderPlugin()))
    cfg = dummy_config(host, make_paired(tmp_path / "data"), loggers=[], steps=2, eval_at_end=False)
    Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False).fit()
    assert read_checkpoint(tmp_path / "out" / "last.pt")["plugin_state"] == {}
    assert not (tmp_path / "out" / tracking.STATE_FILE).exists()


# -- Weights & Biases, offline --------------------------------------------------------------------
def _wandb_records(run_dir: Path) -> list:
    """Decode a W&B offline transaction log (``run-ID.wandb``: LevelDB-log framing, 32 KiB
    blocks of ``crc32 | length | type`` chunks, after a 7-byte ``:W&B`` header) into records."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = next(run_dir.glob("run-*.wandb")).read_bytes()
    assert data[:4] == b":W&B"
    pos, block, records, partial = 7, 32768, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0 and length == 0:
            pos += block - pos % block if pos % block else 0
            continue
        if kind in (1, 2):
            partial = chunk
        else:
            partial += chunk
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(partial)
            records.append(rec)
    return records


def _wandb_history(records) -> list[dict]:
    rows = []
    for rec in records:
        if rec.WhichOneof("record_type") == "history":
            rows.append({"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in rec.history.item})
    return rows


def _logged_steps(run_dir: Path, key: str, want: int, timeout: float = 20.0) -> list[int]:
    """The steps at which ``key`` was logged in an offline run's transaction log. W&B's service
    process writes that log on its own schedule, and under load the last records of a run can
    land a moment after ``run.finish()`` returns (seen once in a full CI run), so this rereads
    the file until ``want`` rows are there or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        steps = [h["_step"] for h in _wandb_history(_wandb_records(run_dir)) if key in h]
        if len(steps) >= want or time.monotonic() > deadline:
            return steps
        time.sleep(0.2)


def test_wandb_offline_run_records_and_resumes(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="CI installs the [wandb] extra; this test needs it")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    host = _host(("wandb", i2i_wandb.plugin))
    data = make_paired(tmp_path / "data")
    tracking_cfg = {"project": "i2i-test", "name": "tiny", "tags": ["ci", "dummy"]}
    cfg = dummy_config(host, data, loggers=["wandb"], steps=4, log_every=2, sample_every=4, tracking=tracking_cfg)
    Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False).fit()
    run_id = read_checkpoint(tmp_path / "out" / "last.pt")["plugin_state"]["loggers"]["wandb"]["id"]
    (first,) = (tmp_path / "out" / "wandb").glob(f"offline-run-*-{run_id}")
    _logged_steps(first, "G/loss", want=2)  # wait for W&B's writer (see _logged_steps)
    records = _wandb_records(first)
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert run.run_id == run_id and run.project == "i2i-test" and run.display_name == "tiny"
    assert list(run.tags) == ["ci", "dummy"]
    config = {u.key: json.loads(u.value_json) for u in run.config.update}
    assert config["train.steps"] == 4 and config["method.name"] == "dummy"
    history = _wandb_history(records)
    losses = [(h["_step"], h["G/loss"]) for h in history if "G/loss" in h]
    assert [s for s, _ in losses] == [2, 4] and all(isinstance(v, float) for _, v in losses)
    assert any("lr/G" in h for h in history)
    images = [h for h in history if "samples/_type" in h]
    assert images and images[0]["samples/_type"] == "image-file" and images[0]["_step"] == 4
    assert (first / "files" / images[0]["samples/path"]).is_file()
    summary = {}
    for rec in records:
        if rec.WhichOneof("record_type") == "summary":
            summary.update({"/".join(u.nested_key) or u.key: json.loads(u.value_json) for u in rec.summary.update})
    assert "eval/psnr" in summary

    cfg8 = dummy_config(host, data, loggers=["wandb"], steps=8, log_every=2, sample_every=4, tracking=tracking_cfg)
    Trainer(cfg8, out_dir=tmp_path / "out", resume=True, host=host, progress=False).fit()
    resumed = [p for p in (tmp_path / "out" / "wandb").glob(f"offline-run-*-{run_id}") if p != first]
    assert len(resumed) == 1, "a resume continues the same W&B run id"
    steps = _logged_steps(resumed[0], "G/loss", want=2)
    assert steps == [6, 8]


# -- MLflow, local file store ---------------------------------------------------------------------
def test_mlflow_file_store_records_resumes_and_takes_eval(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="CI installs the [mlflow] extra; this test needs it")
    from mlflow.tracking import MlflowClient

    from i2i.eval.runner import evaluate
    from i2i.inference import load_checkpoint

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind a flag
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    host = _host(("mlflow", i2i_mlflow.plugin))
    data = make_paired(tmp_path / "data")
    tracking_cfg = {"project": "exp-1", "name": "tiny", "tags": ["ci"], "log_checkpoint": True}
    cfg = dummy_config(host, data, loggers=["mlflow"], steps=4, log_every=2, sample_every=4, tracking=tracking_cfg)
    Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False).fit()
    state = read_checkpoint(tmp_path / "out" / "last.pt")["plugin_state"]["loggers"]["mlflow"]
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(state["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "exp-1"
    assert run.info.run_name == "tiny" and "ci" in run.data.tags and run.info.status == "FINISHED"
    assert run.data.params["train.steps"] == "4" and run.data.params["method.name"] == "dummy"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "G/loss")] == [2, 4]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "lr/G")] == [2, 4]
    assert "eval/psnr" in run.data.metrics
    samples = [a.path for a in client.list_artifacts(run.info.run_id, "samples")]
    assert len(samples) == 1 and samples[0].startswith("samples/step_") and samples[0].endswith("4.png")
    assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")] == ["checkpoint/last.pt"]

    cfg8 = dummy_config(host, data, loggers=["mlflow"], steps=8, log_every=2, sample_every=4, tracking=tracking_cfg)
    Trainer(cfg8, out_dir=tmp_path / "out", resume=True, host=host, progress=False).fit()
    assert (
        read_checkpoint(tmp_path / "out" / "last.pt")["plugin_state"]["loggers"]["mlflow"]["run_id"] == run.info.run_id
    )
    assert [m.step for m in client.get_metric_history(run.info.run_id, "G/loss")] == [2, 4, 6, 8]
    assert run.data.params["train.steps"] == client.get_run(run.info.run_id).data.params["train.steps"]
    assert len(client.search_runs([run.info.experiment_id])) == 1

    # i2i eval of the checkpoint adds its metrics to the run that trained it
    before = len(client.get_metric_history(run.info.run_id, "eval/psnr"))
    evaluate(load_checkpoint(tmp_path / "out" / "last.pt", device="cpu"), host=host)
    assert len(client.get_metric_history(run.info.run_id, "eval/psnr")) == before + 1


def test_metric_names_are_made_legal_for_mlflow():
    from i2i_mlflow.logger import metric_name

    assert metric_name("G/gan+l1") == "G/gan_l1" and metric_name("lr/G") == "lr/G"


def test_cli_rejects_an_unknown_logger_before_anything_is_written(tmp_path, subprocess_env):
    data = make_paired(tmp_path / "data")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "i2i",
            "run",
            "--method",
            "dummy",
            "--data",
            str(data),
            "--out",
            str(out),
            "--steps",
            "1",
            "--logger",
            "wandbb",
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("error: train.loggers: unknown logger 'wandbb'; did you mean 'wandb'")
    )
    assert "Traceback" not in proc.stderr and not out.exists()


def test_config_check_rejects_an_unknown_logger(tmp_path, subprocess_env):
    toml = tmp_path / "c.toml"
    toml.write_text('[method]\nname = "dummy"\n[train]\nloggers = ["tensorbord"]\n')
    proc = subprocess.run(
        [sys.executable, "-m", "i2i", "config", "check", str(toml)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "unknown logger 'tensorbord'; did you mean 'tensorboard'" in proc.stderr


def test_cli_trains_into_mlflow_and_eval_adds_to_the_same_run(tmp_path, subprocess_env, monkeypatch):
    pytest.importorskip("mlflow", reason="CI installs the [mlflow] extra; this test needs it")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    data = make_paired(tmp_path / "data")
    uri = (tmp_path / "mlruns").as_uri()
    env = {
        **subprocess_env,
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_ALLOW_FILE_STORE": "true",
        "MLFLOW_EXPERIMENT_NAME": "from-env",
    }
    common = ["--method", "dummy", "--data", str(data), "--out", str(tmp_path / "out")]
    sets = [
        "--set",
        "data.image_size=16",
        "--set",
        "data.load_size=16",
        "--set",
        "train.device=cpu",
        "--set",
        "train.log_every=1",
        "--set",
        "data.num_workers=0",
        "--set",
        "train.batch_size=2",
    ]
    run = subprocess.run(
        [sys.executable, "-m", "i2i", "run", *common, *sets, "--steps", "2", "--logger", "mlflow"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("from-env")
    (found,) = client.search_runs([experiment.experiment_id])
    assert [m.step for m in client.get_metric_history(found.info.run_id, "D/loss")] == [1, 2]
    ev = subprocess.run(
        [sys.executable, "-m", "i2i", "eval", str(tmp_path / "out" / "last.pt"), "--data", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ev.returncode == 0, ev.stderr
    assert len(client.get_metric_history(found.info.run_id, "eval/psnr")) == 2  # end of training + i2i eval


def test_logger_sample_images_are_uint8(tmp_path):
    """The images handed to loggers are uint8 CHW tensors (what trackers' image types expect)."""
    seen = []

    class Probe(Recorder):
        def log_images(self, images, step, path):
            seen.extend(images.values())

    class ProbePlugin:
        @hookimpl
        def i2i_register_loggers(self):
            yield LoggerSpec("probe", Probe)

    host = _host(("probe", ProbePlugin()))
    cfg = dummy_config(
        host, make_paired(tmp_path / "data"), loggers=["probe"], steps=2, sample_every=2, eval_at_end=False
    )
    Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False).fit()
    assert seen and all(t.dtype == torch.uint8 and t.dim() == 3 for t in seen)
    assert glob.glob(str(tmp_path / "out" / "samples" / "*.png"))
