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

import pickle
import random
import re
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from i2i import __version__
from i2i.config import run as _config
from i2i.data.config import DataConfig
from i2i.errors import CheckpointError
from i2i.io.atomic import atomic_file
from i2i.method import DataInfo
from i2i.nets.init import DeferredParameterInit
from i2i.plugins.host import get_host
from i2i.train.config import TrainConfig

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


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Make ``dst`` an independent copy of ``src``, atomically (``last.pt`` beside the newest
    step file). Not a hard link: an in-place edit of one must not damage the other, and with
    ``keep_checkpoints = 1`` the two copies are what a resume falls back on."""

    with atomic_file(dst) as fh, open(src, "rb") as source:
        shutil.copyfileobj(source, fh, 1 << 20)


def rotate(out_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` ``step_XXXXXXXX.pt`` files (``last.pt`` is kept)."""
    files = sorted(_step_files(Path(out_dir)), reverse=True)
    for _, path in files[max(keep, 0) :]:
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


@attrs.define
class Checkpoint:
    """One i2i checkpoint: how its payload is built, written, read and turned back into a method.

    The trainer, ``i2i import-weights``, inference (translate, eval, export) and the method
    conformance suite all go through this object, so the format is defined once::

        ckpt = Checkpoint.of(method, run_config, data_info, step=100)
        ckpt.write("run/last.pt")                       # atomic
        method, run_config = Checkpoint.read("run/last.pt").build_method()

    ``payload`` is the plain dict written to disk (see the module docstring); a training
    checkpoint adds its resumable state with :meth:`with_fields`.
    """

    payload: dict[str, Any]

    @classmethod
    def of(cls, method: Any, config: Any, data_info: Any, *, plugin: str = "", step: int = 0) -> Checkpoint:
        """The checkpoint of ``method`` as ``config`` (a run config) and ``data_info`` built it."""
        return cls(inference_payload(method, config, data_info, plugin=plugin, step=step))

    @classmethod
    def read(cls, path: str | Path, *, mmap: bool = False) -> Checkpoint:
        """Load and check a file (or a run folder's newest valid checkpoint); see :func:`read_checkpoint`."""
        return cls(read_checkpoint(path, mmap=mmap))

    def with_fields(self, **fields: Any) -> Checkpoint:
        """A copy with top-level payload fields added or replaced (training state, provenance)."""
        return Checkpoint({**self.payload, **fields})

    def write(self, path: str | Path) -> Path:
        """Write atomically (never a torn file, even on SIGKILL); returns ``path``."""
        return save_checkpoint(path, self.payload)

    @property
    def method_name(self) -> str:
        return str(self.payload["method"])

    @property
    def step(self) -> int:
        return int(self.payload.get("step", 0))

    def run_config(self, host: Any = None) -> Any:
        """The stored run config, structured against the installed method's config class."""
        return config_from_checkpoint(self.payload, host)

    def data_info(self) -> Any:
        return data_info_from_checkpoint(self.payload)

    def build_method(self, host: Any = None, *, prefer_ema: bool = True) -> tuple[Any, Any]:
        """``(method, run_config)``: the method rebuilt on the CPU in eval mode, weights loaded
        strictly (the EMA generators where the run kept them, unless ``prefer_ema=False``)."""
        return method_from_checkpoint(self.payload, host, prefer_ema=prefer_ema)


# -- reading ---------------------------------------------------------------------------------
def read_checkpoint(path: str | Path, *, mmap: bool = False) -> dict[str, Any]:
    """Load and check an i2i checkpoint; a run directory means its newest valid checkpoint.

    Raises :class:`~i2i.errors.CheckpointError` with a one-line reason: missing, not a torch
    file, not an i2i checkpoint, corrupt or truncated, or from a newer i2i.

    ``mmap=True`` maps the tensors' bytes instead of reading them: what is never used (a
    training checkpoint's optimizer state, two thirds of its size, when translating) is never
    read. The same checks apply (torch checks no tensor bytes either way). For readers that
    copy what they keep (inference, probes); a resume reads in full.
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
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path}: holds Python objects that cannot be loaded safely (weights_only); not an i2i checkpoint"
            ) from None
        raise CheckpointError(f"{path}: corrupt checkpoint ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split(". ")[0]  # torch goes on about how files get corrupted
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first})") from None
    return _check(path, data)


def _check(path: Path, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        from i2i.inference.weights_import import import_hint  # lazy: it imports this module

        what = "a plain state dict" if isinstance(data, dict) else f"a {type(data).__name__}"
        hint = import_hint(data, path) or ", perhaps from another tool"
        raise CheckpointError(f"{path}: not an i2i checkpoint (it holds {what}){hint}")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r} is newer than this i2i reads ({VERSION}); upgrade i2i"
        )
    for key in ("method", "config", "data_info", "model", "step"):
        if key not in data:
            raise CheckpointError(f"{path}: corrupt checkpoint (no {key!r} entry)")
    for key, kind in (("method", str), ("config", dict), ("data_info", dict), ("model", dict)):
        if not isinstance(data[key], kind):
            raise CheckpointError(
                f"{path}: checkpoint entry {key!r} is a {type(data[key]).__name__}, expected a {kind.__name__} (written by another version?)"
            )
    for key in ("step", "epoch", "position"):
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(
                f"{path}: checkpoint entry {key!r} is {value!r}, expected a non-negative integer (written by another version?)"
            )
    return data


def find_resume_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest checkpoint of the folder's newest run that reads back cleanly, or None.

    Every checkpoint carries its run's ``run_id``. ``last.pt`` is written after every
    ``step_*.pt``, so when it is valid it names the run and is its newest checkpoint unless a
    higher step file *of the same run* exists; step files of another run (an older run in the
    same folder) never win on their numbers. A damaged ``last.pt`` falls back on the most
    recently written valid step file, and that file's own run; each damaged file it passes
    over is a warning (the user learns how far back the run goes).
    """
    directory = Path(out_dir)
    last = directory / LAST
    step_files = sorted(_step_files(directory), reverse=True)
    if last.exists():
        try:
            state = read_checkpoint(last, mmap=True)
        except CheckpointError as exc:
            warnings.warn(f"skipping a damaged checkpoint: {exc}", stacklevel=1)
        else:
            best, run = int(state["step"]), state.get("run_id")
            for step, path in step_files:
                if step <= best:
                    break
                try:
                    if read_checkpoint(path, mmap=True).get("run_id") == run:
                        return path
                except CheckpointError:
                    continue
            return last
    by_time = sorted(step_files, key=lambda item: _mtime(item[1]), reverse=True)
    for _, path in by_time:
        try:
            read_checkpoint(path, mmap=True)
        except CheckpointError as exc:
            warnings.warn(f"skipping a damaged checkpoint: {exc}", stacklevel=1)
            continue
        return path
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return 0.0


def describe_mismatch(expected: Any, given: Any, limit: int = 4) -> str:
    """Which keys of a state dict are missing, unexpected or of another shape (first few)."""
    if not isinstance(given, dict):
        return f"expected a state dict, got {type(given).__name__}"

    def few(keys: list[str]) -> str:
        more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
        return ", ".join(keys[:limit]) + more

    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k} {tuple(given[k].shape)} vs {tuple(expected[k].shape)} expected"
        for k in expected
        if k in given
        and hasattr(given[k], "shape")
        and hasattr(expected[k], "shape")
        and given[k].shape != expected[k].shape
    ]
    parts = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("other shapes", shapes)):
        if keys:
            parts.append(f"{label}: {few(keys)}")
    return "; ".join(parts)


# -- rebuilding a method ---------------------------------------------------------------------
def config_from_checkpoint(ckpt: dict[str, Any], host: Any = None) -> Any:
    """The run config stored in ``ckpt``, structured against the installed method's config class.

    The stored dict is complete, so it is structured directly (not layered over paper/demo
    defaults, which could otherwise fill in a value the run had left unset).
    """

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
    """The stored :class:`~i2i.method.DataInfo`; fields this version does not know (a newer
    i2i's) are left out with a warning, fields of the wrong type are a :class:`CheckpointError`."""

    known = {f.name for f in attrs.fields(DataInfo)}
    fields = dict(ckpt["data_info"])
    extra = sorted(str(k) for k in fields if k not in known)
    if extra:
        warnings.warn(
            f"checkpoint data_info field(s) {', '.join(extra)} unknown to this i2i (written by a newer version?); ignored",
            stacklevel=2,
        )
    fields = {k: v for k, v in fields.items() if k in known}
    domains = fields.get("domains", ())
    if not isinstance(domains, (list, tuple)) or not all(isinstance(d, str) for d in domains):
        raise CheckpointError(f"checkpoint data_info.domains is {domains!r}, expected a list of names")
    fields["domains"] = tuple(domains)
    try:
        return DataInfo(**fields)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint data_info does not fit this i2i: {exc}") from None


def data_info_dict(info: Any) -> dict[str, Any]:
    data = {
        "kind": info.kind,
        "channels_a": int(info.channels_a),
        "channels_b": int(info.channels_b),
        "domains": list(info.domains),
        "multi_label": bool(info.multi_label),
    }
    sources = getattr(info, "sources", ())
    if sources:  # several labelled data sources (data.sources)
        data["sources"] = [
            {"name": s.name, "domains": list(s.domains), "multi_label": bool(s.multi_label)} for s in sources
        ]
    return data


def method_from_checkpoint(ckpt: dict[str, Any], host: Any = None, *, prefer_ema: bool = True) -> tuple[Any, Any]:
    """Rebuild ``(method, run_config)`` from a checkpoint dict (see :func:`read_checkpoint`).

    Weights load strictly; when the run kept an EMA of its generators, the averaged weights
    replace the generators' own (``prefer_ema=False`` keeps the raw ones). The method is on the
    CPU in eval mode.
    """

    host = host if host is not None else get_host()
    config = config_from_checkpoint(ckpt, host)
    spec = host.registry.get("method", config.method_name)
    info = data_info_from_checkpoint(ckpt)
    deferred = DeferredParameterInit()  # the weights loaded below overwrite the initialisers' draws
    with deferred:
        method = host.build_method(spec, config.method, info)
    _load_weights(method, ckpt, config.method_name, prefer_ema)
    if not deferred.all_overwritten():  # a parameter the checkpoint does not hold: build it as usual
        method = host.build_method(spec, config.method, info)
        _load_weights(method, ckpt, config.method_name, prefer_ema)
    method.eval()
    return method, config


def _load_weights(method: Any, ckpt: dict[str, Any], method_name: str, prefer_ema: bool) -> None:
    try:
        method.load_state_dict(ckpt["model"], strict=True)
        if prefer_ema and ckpt.get("ema"):
            generators = method.generators()
            for name, state in ckpt["ema"].items():
                generators[name].load_state_dict(state, strict=True)
    except (RuntimeError, KeyError) as exc:
        detail = describe_mismatch(method.state_dict(), ckpt["model"]) or str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint weights do not fit the {method_name!r} method: {detail}") from None


# -- RNG state as weights_only-safe data -----------------------------------------------------
def capture_rng() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    np_state: Any = np.random.get_state()  # a tuple (legacy=True is the default)
    state: dict[str, Any] = {  # values are lists/tensors: mypy must not infer them from the first
        "python": [version, list(internal), gauss],
        "numpy": [
            np_state[0],
            torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back :func:`capture_rng`'s state; an unreadable one is a :class:`CheckpointError`."""
    try:
        _restore_rng(state)
    except (TypeError, ValueError, KeyError, IndexError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(
            f"checkpoint RNG state is unreadable ({type(exc).__name__}: {exc}); written by another version?"
        ) from None


def _restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
