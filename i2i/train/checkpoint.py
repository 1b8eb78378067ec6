"""Self-describing checkpoints, written atomically, read back with ``weights_only=True``.

A checkpoint is a plain dict that needs nothing but torch to read::

    format = "i2i-checkpoint", version = 1, method = "cyclegan",
    config (i2i.config.to_dict), data_info (DataInfo fields), versions,
    step, epoch, position (batches of ``epoch`` already consumed),
    model (method.state_dict(), image pools included), ema, optimizers, schedulers,
    scaler, rng (one entry per rank), skipped

Everything is a tensor, number, string, bool, None, list, tuple or dict, so
``torch.load(weights_only=True)`` (no arbitrary code from a downloaded file) reads it.
``i2i translate/eval/export CKPT`` rebuild the method from it with no architecture flags,
through :func:`method_from_checkpoint`.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from i2i.atomic import atomic_file, fsync_dir, temp_path
from i2i.errors import CheckpointError

FORMAT = "i2i-checkpoint"
VERSION = 1
LAST = "last.pt"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


def step_filename(step: int) -> str:
    return f"step_{step:08d}.pt"


# -- writing ---------------------------------------------------------------------------------
def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a reader (or a resume after SIGKILL or power
    loss) sees either the old file or the complete new one, never a torn write."""
    with atomic_file(path) as fh:
        torch.save(payload, fh)
    return Path(path)


def link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` hold ``src``'s bytes atomically (a hard link when the filesystem allows)."""
    tmp = temp_path(dst)
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        import shutil

        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, dst)
    fsync_dir(dst.parent)


def rotate(out_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` ``step_XXXXXXXX.pt`` files (``last.pt`` is kept)."""
    files = sorted(_step_files(Path(out_dir)), reverse=True)
    for _, path in files[max(keep, 0):]:
        path.unlink(missing_ok=True)


def remove_stale_temps(out_dir: str | Path) -> None:
    """Temp files left by a process killed mid-write."""
    for path in Path(out_dir).glob(".*.pt.tmp*"):
        path.unlink(missing_ok=True)


def _step_files(directory: Path) -> list[tuple[int, Path]]:
    out = []
    if directory.is_dir():
        for path in directory.iterdir():
            m = _STEP_FILE.match(path.name)
            if m:
                out.append((int(m.group(1)), path))
    return out


def inference_payload(method: Any, config: Any, data_info: Any, *, plugin: str = "", step: int = 0) -> dict[str, Any]:
    """The core of every checkpoint: enough to rebuild ``method`` for translate/eval/export.

    The trainer adds its training state (optimizers, schedules, RNG, position) on top;
    ``i2i import-weights`` writes just this.
    """
    from i2i import __version__
    from i2i import config as _config

    return {
        "format": FORMAT,
        "version": VERSION,
        "method": config.method_name,
        "config": _config.to_dict(config),
        "data_info": data_info_dict(data_info),
        "versions": {"i2i": str(__version__), "torch": str(torch.__version__), "plugin": plugin, "plugin_version": ""},
        "step": int(step),
        "epoch": 0,
        "position": 0,
        "model": method.state_dict(),
        "ema": None,
    }


# -- reading ---------------------------------------------------------------------------------
def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check an i2i checkpoint; a run directory means its newest valid checkpoint.

    Raises :class:`~i2i.errors.CheckpointError` with a one-line reason: missing, not a torch
    file, not an i2i checkpoint, corrupt or truncated, or from a newer i2i.
    """
    path = Path(path)
    if path.is_dir():
        found = find_resume_checkpoint(path)
        if found is None:
            raise CheckpointError(f"{path}: no i2i checkpoint (last.pt or step_*.pt) in this directory")
        path = found
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    if magic != b"PK\x03\x04":
        raise CheckpointError(f"{path}: not a PyTorch checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path}: holds Python objects that cannot be loaded safely (weights_only); not an i2i checkpoint"
            ) from None
        raise CheckpointError(f"{path}: corrupt checkpoint ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first})") from None
    return _check(path, data)


def _check(path: Path, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        what = "a plain state dict" if isinstance(data, dict) else f"a {type(data).__name__}"
        raise CheckpointError(f"{path}: not an i2i checkpoint (it holds {what}, perhaps from another tool)")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r} is newer than this i2i reads ({VERSION}); upgrade i2i")
    for key in ("method", "config", "data_info", "model", "step"):
        if key not in data:
            raise CheckpointError(f"{path}: corrupt checkpoint (no {key!r} entry)")
    return data


def find_resume_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest checkpoint in ``out_dir`` that reads back cleanly, or None.

    ``last.pt`` is written after every ``step_*.pt``, so it is the newest when valid; a damaged
    one is skipped in favour of the newest valid step file.
    """
    directory = Path(out_dir)
    candidates: list[tuple[int, Path]] = []
    last = directory / LAST
    step_files = sorted(_step_files(directory), reverse=True)
    best_step = -1
    if last.exists():
        try:
            best_step = int(read_checkpoint(last)["step"])
            candidates.append((best_step, last))
        except CheckpointError:
            pass
    for step, path in step_files:
        if step <= best_step:
            break
        try:
            read_checkpoint(path)
        except CheckpointError:
            continue
        return path
    return candidates[0][1] if candidates else None


# -- rebuilding a method ---------------------------------------------------------------------
def config_from_checkpoint(ckpt: dict[str, Any], host: Any = None) -> Any:
    """The run config stored in ``ckpt``, structured against the installed method's config class.

    The stored dict is complete, so it is structured directly (not layered over paper/demo
    defaults, which could otherwise fill in a value the run had left unset).
    """
    from i2i import config as _config
    from i2i.data.config import DataConfig
    from i2i.plugins import get_host
    from i2i.train.config import TrainConfig

    host = host if host is not None else get_host()
    stored = ckpt["config"]
    name = ckpt["method"]
    try:
        spec = host.registry.get("method", name)
    except Exception as exc:
        raise CheckpointError(f"checkpoint of method {name!r}: {exc}") from None
    method_data = dict(stored.get("method", {}))
    method_data.pop("name", None)
    try:
        return _config.RunConfig(
            method_name=name,
            method=_config.structure(method_data, spec.config, "method"),
            data=_config.structure(stored.get("data", {}), DataConfig, "data"),
            train=_config.structure(stored.get("train", {}), TrainConfig, "train"),
            out=stored.get("out"),
        )
    except Exception as exc:
        raise CheckpointError(f"checkpoint config does not fit the installed {name!r} method: {exc}") from None


def data_info_from_checkpoint(ckpt: dict[str, Any]) -> Any:
    from i2i.method import DataInfo

    fields = dict(ckpt["data_info"])
    fields["domains"] = tuple(fields.get("domains", ()))
    return DataInfo(**fields)


def data_info_dict(info: Any) -> dict[str, Any]:
    return {
        "kind": info.kind,
        "channels_a": int(info.channels_a),
        "channels_b": int(info.channels_b),
        "domains": list(info.domains),
        "multi_label": bool(info.multi_label),
    }


def method_from_checkpoint(ckpt: dict[str, Any], host: Any = None, *, prefer_ema: bool = True) -> tuple[Any, Any]:
    """Rebuild ``(method, run_config)`` from a checkpoint dict (see :func:`read_checkpoint`).

    Weights load strictly; when the run kept an EMA of its generators, the averaged weights
    replace the generators' own (``prefer_ema=False`` keeps the raw ones). The method is on the
    CPU in eval mode.
    """
    from i2i.plugins import get_host

    host = host if host is not None else get_host()
    config = config_from_checkpoint(ckpt, host)
    spec = host.registry.get("method", config.method_name)
    method = spec.factory(config.method, data_info_from_checkpoint(ckpt))
    try:
        method.load_state_dict(ckpt["model"], strict=True)
        if prefer_ema and ckpt.get("ema"):
            generators = method.generators()
            for name, state in ckpt["ema"].items():
                generators[name].load_state_dict(state, strict=True)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint weights do not fit the {config.method_name!r} method: {first}") from None
    method.eval()
    return method, config


# -- RNG state as weights_only-safe data -----------------------------------------------------
def capture_rng() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [np_state[0], torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
