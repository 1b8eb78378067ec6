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
from typing import Any, Iterable

import torch
import torch.distributed as dist
from torch import nn


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group torchrun describes; returns ``(rank, world_size)`` ((0, 1) alone)."""
    if env_world_size() <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return dist.get_rank(), dist.get_world_size()


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
    flats = [p.grad.reshape(-1).to(dtype) if p.grad is not None else torch.zeros(p.numel(), dtype=dtype, device=device) for p in params]
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
