"""torch.distributed from torchrun's environment, and gradient averaging.

``torchrun --nproc_per_node=N -m i2i run ...`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/
``MASTER_ADDR``; :func:`init_from_env` joins the group (gloo on CPU, nccl on GPU).

Why not ``DistributedDataParallel``: a GAN step runs several forward/backward passes through
the same networks (G's loss through a frozen D, then D's loss), and DDP's bucketed hooks
reduce once per backward, fight frozen parameters and need ``find_unused_parameters``.
Instead ``ctx.step(name)`` all-reduces the gradients of *that optimizer's* parameters right
before the update. DDP averages gradients (sum over ranks / world size) of a loss that each
rank computes as a mean over its own shard; with equal shards that is exactly the gradient of
the mean loss over the global batch. :func:`average_gradients` computes the same sum / world
size, once per optimizer step, over one flattened buffer (one collective, like a DDP bucket),
so a run on N ranks with per-rank batch B/N follows a single-process run with batch B up to
floating-point reduction order. Parameters are broadcast from rank 0 at start, as DDP does.
"""

from __future__ import annotations

import datetime
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from i2i.errors import UsageError


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise UsageError(
            f"environment {name}={raw!r}: expected an integer >= {minimum} (torchrun sets it; "
            "unset WORLD_SIZE/RANK/LOCAL_RANK to train in one process)"
        )
    return value


def env_world_size() -> int:
    """``WORLD_SIZE`` (1 when unset), checked."""
    return _env_int("WORLD_SIZE", 1, 1)


def env_rank() -> int:
    """``RANK`` (0 when unset), checked against ``WORLD_SIZE``."""
    rank = _env_int("RANK", 0, 0)
    world = env_world_size()
    if rank >= world:
        raise UsageError(f"environment RANK={rank} is not below WORLD_SIZE={world}")
    return rank


def env_local_rank() -> int:
    """``LOCAL_RANK`` (0 when unset), checked."""
    return _env_int("LOCAL_RANK", 0, 0)


def rendezvous_timeout() -> float:
    """Seconds to wait for the other processes to meet (``I2I_RENDEZVOUS_TIMEOUT``, default 300)."""
    raw = os.environ.get("I2I_RENDEZVOUS_TIMEOUT", "300").strip()
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(f"environment I2I_RENDEZVOUS_TIMEOUT={raw!r}: expected a positive number of seconds")
    return value


def init_from_env(device: torch.device, stop: Any = None) -> tuple[int, int]:
    """Join the process group torchrun describes; returns ``(rank, world_size)`` ((0, 1) alone).

    The meeting is bounded (:func:`rendezvous_timeout`) and watched from the main thread, so a
    stray ``WORLD_SIZE`` outside torchrun is an error saying what it waited for, and a stop
    signal (``stop.requested``, see :mod:`.signals`) ends the wait at once.
    """
    world = env_world_size()
    if world <= 1:
        return 0, 1
    rank = env_rank()
    if not dist.is_initialized():
        addr, port = os.environ.get("MASTER_ADDR", "").strip(), os.environ.get("MASTER_PORT", "").strip()
        if not addr or not port.isdigit():
            raise UsageError(
                f"environment WORLD_SIZE={world} asks for distributed training, but MASTER_ADDR/MASTER_PORT "
                f"({addr or 'unset'}:{port or 'unset'}) do not say where to meet; launch with torchrun, "
                "or unset WORLD_SIZE/RANK to train in one process"
            )
        timeout = rendezvous_timeout()
        what = f"the {world} processes of WORLD_SIZE={world} to meet at {addr}:{port} (this is RANK={rank})"
        meet = datetime.timedelta(seconds=timeout)
        # torch's own env:// rendezvous (it knows torchrun's agent store), bounded and watched
        store, rank, world = _watched(
            lambda: next(dist.rendezvous("env://", rank, world, timeout=meet)), what, timeout, stop
        )
        collective = datetime.timedelta(minutes=30)
        store.set_timeout(collective)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(
            backend=backend,
            store=dist.PrefixStore("default_pg", store),
            rank=rank,
            world_size=world,
            timeout=collective,
        )
    return dist.get_rank(), dist.get_world_size()


def _watched(connect: Callable[[], Any], what: str, timeout: float, stop: Any) -> Any:
    """Run ``connect`` in a helper thread; the main thread stays free for signals and says,
    after a few seconds, what it is waiting for."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = connect()
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="i2i-rendezvous", daemon=True)
    thread.start()
    start, announced = time.monotonic(), False
    while thread.is_alive():
        thread.join(0.1)
        if stop is not None and stop.requested:
            raise UsageError(f"stopped ({stop.signal_name or 'signal'}) while waiting for {what}; nothing was trained")
        if not announced and time.monotonic() - start > 3:
            print(f"waiting up to {timeout:g}s for {what} ...", file=sys.stderr, flush=True)
            announced = True
    if "error" in box:
        first = (str(box["error"]).strip().splitlines() or [type(box["error"]).__name__])[0]
        raise UsageError(
            f"gave up after {time.monotonic() - start:.0f}s waiting for {what} ({first}); launch every process "
            "with torchrun, or unset WORLD_SIZE/RANK to train in one process"
        ) from None
    return box["value"]


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Make every rank start from rank ``src``'s parameters and buffers (DDP does the same)."""
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src)


def average_gradients(params: Iterable[nn.Parameter], world_size: int) -> None:
    """Replace each gradient by its mean over ranks, with one all-reduce.

    A parameter without a gradient on this rank contributes zeros; a mask rides along in the
    same buffer so that a gradient is set afterwards only where some rank had one (which keeps
    Adam's "no gradient, no update" behaviour for parameters unused everywhere).
    """
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    ref = next((p.grad for p in params if p.grad is not None), None)
    dtype = ref.dtype if ref is not None else params[0].dtype
    device = params[0].device
    flats = [
        p.grad.reshape(-1).to(dtype) if p.grad is not None else torch.zeros(p.numel(), dtype=dtype, device=device)
        for p in params
    ]
    mask = torch.tensor([p.grad is not None for p in params], dtype=dtype, device=device)
    buffer = torch.cat(flats + [mask])
    dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
    n = sum(p.numel() for p in params)
    grads, had = buffer[:n], buffer[n:].tolist()
    grads.div_(world_size)
    offset = 0
    for p, flag in zip(params, had):
        chunk = grads[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
        if flag == 0:
            continue
        if p.grad is None:
            p.grad = chunk.to(p.dtype).clone(memory_format=torch.preserve_format)
        else:
            p.grad.copy_(chunk)


def any_flag(flag: bool, device: torch.device, world_size: int) -> bool:
    """True on every rank when ``flag`` is true on any rank (a stop request)."""
    if world_size <= 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_objects(obj: Any, world_size: int) -> list[Any]:
    """Every rank's ``obj`` (rank order) on every rank; ``[obj]`` when alone."""
    if world_size <= 1:
        return [obj]
    out: list[Any] = [None] * world_size
    dist.all_gather_object(out, obj)
    return out
