"""Bring generators trained with the reference code into i2i.

Users own checkpoints of junyanz/pytorch-CycleGAN-and-pix2pix (``latest_net_G.pth``,
``horse2zebra.pth``: plain state dicts of a ResNet or U-Net generator) and of yunjey/stargan
(``200000-G.ckpt``). i2i's networks use the reference module layouts, so the key mapping is
the identity up to these documented clean-ups:

* a ``module.`` prefix (DataParallel) is stripped;
* instance-norm running statistics (``running_mean``, ``running_var``, ``num_batches_tracked``)
  are dropped - old CycleGAN/pix2pix checkpoints carry them (the reference test script deletes
  them too) and every StarGAN checkpoint does; i2i's instance norm never tracks statistics;
* a reference network built with ``norm="none"`` has no conv biases where i2i's has them; the
  missing biases are filled with zeros, which computes exactly the same function;
* batch norms saved by PyTorch < 0.4.1 lack ``num_batches_tracked``; it is set to 0 (it only
  matters for ``momentum=None``).

The generator's name and keyword arguments are inferred from key names and tensor shapes, and
the cleaned state dict is checked against the i2i network built (on the meta device, for free)
from those arguments, so a file that does not fit fails here with one line, not later.
U-Net dropout has no weights and cannot be inferred; it only matters for training.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from i2i.errors import CheckpointError

FORMATS = ("cyclegan-ref", "pix2pix-ref", "stargan-ref")
_STATS = ("running_mean", "running_var", "num_batches_tracked")
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "netG", "net_G", "G", "generator", "params")

StateDict = dict[str, torch.Tensor]


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def load_reference_file(path: str | Path) -> StateDict:
    """Load a reference checkpoint safely (``weights_only=True``) and return its state dict.

    Unwraps common containers (``{"state_dict": ...}``, ``{"model": ...}``, ``{"G": ...}``).
    Raises :class:`CheckpointError` naming the file when it is missing, unreadable or holds no
    state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, truncated pickle, forbidden globals ...
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {first_line})") from None
    if _is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if _is_state_dict(obj.get(key)):
                return dict(obj[key])
        shown = ", ".join(repr(k) for k in list(obj)[:6])
        raise CheckpointError(f"{path}: holds no state dict of tensors (top-level keys: {shown})")
    raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")


# -- inference from keys and shapes ----------------------------------------------------------
def _strip_prefix(sd: Mapping[str, torch.Tensor]) -> StateDict:
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise CheckpointError(f"format: unknown reference format {format!r} (known: {', '.join(FORMATS)})")


def _family(sd: Mapping[str, torch.Tensor], format: str, source: str) -> str:
    if format == "stargan-ref":
        if "conv1.weight" in sd or "conv2.weight" in sd:
            raise CheckpointError(f"{source}: is a StarGAN discriminator; import the generator (*-G.ckpt)")
        if "main.0.weight" in sd and any(re.match(r"main\.\d+\.main\.", k) for k in sd):
            return "stargan"
    else:
        if any(".conv_block." in k for k in sd):
            return "resnet"
        if "model.model.0.weight" in sd:
            return "unet"
    raise CheckpointError(f"{source}: keys do not look like a {format} generator (first keys: {', '.join(list(sd)[:4])})")


def _resnet_kwargs(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    block_ids = sorted({int(m.group(1)) for k in sd if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    zero_pad = "model.0.weight" in sd
    stem = 0 if zero_pad else 1
    stem_w = sd[f"model.{stem}.weight"]
    convs = [(int(k.split(".")[1]), v) for k, v in sd.items() if re.fullmatch(r"model\.\d+\.weight", k) and v.dim() == 4]
    last_w = max(convs, key=lambda iv: iv[0])[1]
    if f"model.{stem + 1}.weight" in sd:
        norm = "batch"
    elif f"model.{stem}.bias" in sd:
        norm = "instance"
    else:
        norm = "none"
    first = block_ids[0] if block_ids else None
    # the block's second conv sits one index later when a Dropout precedes it
    second_conv = sd.get(f"model.{first}.conv_block.{4 if zero_pad else 6}.weight")
    dropout = second_conv is not None and second_conv.dim() == 4
    kwargs: dict[str, Any] = dict(
        input_nc=stem_w.shape[1], output_nc=last_w.shape[0], ngf=stem_w.shape[0], norm=norm,
        use_dropout=dropout, n_blocks=len(block_ids),
    )
    if zero_pad:
        kwargs["padding_type"] = "zero"
    return kwargs


def _unet_kwargs(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    down = sd["model.model.0.weight"]
    up = sd["model.model.3.weight"]  # outermost ConvTranspose2d: (inner*2, output_nc, 4, 4)
    num_downs, prefix = 2, "model.model.1"
    while any(k.startswith(prefix + ".model.3.model.") for k in sd):
        num_downs, prefix = num_downs + 1, prefix + ".model.3"
    if "model.model.1.model.2.weight" in sd:
        norm = "batch"
    elif "model.model.1.model.1.bias" in sd:
        norm = "instance"
    else:
        norm = "none"
    return dict(input_nc=down.shape[1], output_nc=up.shape[1], ngf=down.shape[0], norm=norm, num_downs=num_downs)


def _stargan_kwargs(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    stem = sd["main.0.weight"]
    block_ids = {int(m.group(1)) for k in sd if (m := re.match(r"main\.(\d+)\.main\.", k))}
    convs = [(int(k.split(".")[1]), v) for k, v in sd.items() if re.fullmatch(r"main\.\d+\.weight", k) and v.dim() == 4]
    last_w = max(convs, key=lambda iv: iv[0])[1]
    input_nc = 3  # the reference always feeds RGB; the rest of the stem's inputs are labels
    return dict(
        input_nc=input_nc, output_nc=last_w.shape[0], ngf=stem.shape[0], norm="instance_affine",
        c_dim=stem.shape[1] - input_nc, n_blocks=len(block_ids),
    )


def infer_generator_kwargs(state_dict: Mapping[str, torch.Tensor], format: str) -> dict[str, Any]:
    """Generator keyword arguments (input_nc, output_nc, ngf, norm, n_blocks / num_downs /
    c_dim ...) read off the shapes of a reference state dict.

    Pass the *raw* reference state dict: after conversion a ``norm="none"`` network has
    zero-filled biases and reads as ``"instance"`` (which has the same keys).
    """
    _check_format(format)
    sd = _strip_prefix(state_dict)
    family = _family(sd, format, "state dict")
    try:
        return {"resnet": _resnet_kwargs, "unet": _unet_kwargs, "stargan": _stargan_kwargs}[family](sd)
    except (KeyError, ValueError, IndexError) as exc:
        raise CheckpointError(f"state dict: incomplete {format} generator (missing {exc})") from None


def _default_name(family: str, kwargs: Mapping[str, Any]) -> str:
    if family == "resnet":
        return "resnet_6blocks" if kwargs["n_blocks"] == 6 else "resnet_9blocks"
    if family == "unet":
        return "unet_128" if kwargs["num_downs"] == 7 else "unet_256"
    return "stargan"


def _build_meta(family: str, kwargs: Mapping[str, Any]) -> nn.Module:
    from i2i.nets.resnet import ResnetGenerator
    from i2i.nets.stargan import StarGANGenerator
    from i2i.nets.unet import UnetGenerator

    cls = {"resnet": ResnetGenerator, "unet": UnetGenerator, "stargan": StarGANGenerator}[family]
    with torch.device("meta"):
        return cls(**kwargs, init_type=None)


def _drop_instance_stats(sd: StateDict, family: str) -> StateDict:
    """Drop running statistics of instance norms: layers with stats but no affine weight, and
    every norm layer of StarGAN (affine instance norm throughout)."""
    out: StateDict = {}
    for key, value in sd.items():
        layer, _, leaf = key.rpartition(".")
        if leaf in _STATS and (family == "stargan" or f"{layer}.weight" not in sd):
            continue
        out[key] = value
    return out


def convert_reference_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    format: str,
    generator: str | None = None,
    *,
    source: str = "state dict",
) -> tuple[str, StateDict]:
    """Map a reference generator state dict onto i2i's; return ``(generator name, state dict)``.

    ``format`` is ``"cyclegan-ref"``, ``"pix2pix-ref"`` (the same repository; ResNet or U-Net
    generators) or ``"stargan-ref"``. ``generator`` overrides the inferred registry name (it
    must be of the same family). The result loads with ``strict=True`` into
    ``create_generator(name, **infer_generator_kwargs(state_dict, format))``. ``source``
    names the file in error messages.
    """
    _check_format(format)
    sd = _strip_prefix(state_dict)
    family = _family(sd, format, source)
    kwargs = infer_generator_kwargs(sd, format)
    name = _default_name(family, kwargs)
    if generator is not None:
        prefixes = {"resnet": "resnet_", "unet": "unet_", "stargan": "stargan"}
        if not generator.startswith(prefixes[family]):
            raise CheckpointError(f"{source}: holds a {family} generator, which cannot be loaded as {generator!r}")
        name = generator
    sd = _drop_instance_stats(sd, family)
    expected = _build_meta(family, kwargs).state_dict()
    missing = [k for k in expected if k not in sd]
    for key in list(missing):
        if kwargs.get("norm") == "none" and key.endswith(".bias"):
            sd[key] = torch.zeros(expected[key].shape, dtype=sd[key[: -len("bias")] + "weight"].dtype)
            missing.remove(key)
        elif key.endswith(".num_batches_tracked"):  # batch norms saved by PyTorch < 0.4.1
            sd[key] = torch.tensor(0, dtype=torch.long)
            missing.remove(key)
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        detail = "; ".join(
            part for part in (
                f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
            ) if part
        )
        raise CheckpointError(f"{source}: keys do not fit an i2i {name} generator ({detail})")
    for key, ref in expected.items():
        if tuple(sd[key].shape) != tuple(ref.shape):
            raise CheckpointError(
                f"{source}: {key} has shape {tuple(sd[key].shape)}, an i2i {name} generator expects {tuple(ref.shape)}"
            )
    return name, {k: sd[k] for k in expected}


def import_reference_file(
    path: str | Path, format: str, generator: str | None = None
) -> tuple[str, dict[str, Any], StateDict]:
    """Load, convert and describe a reference checkpoint: ``(name, generator kwargs, state dict)``."""
    raw = load_reference_file(path)
    name, sd = convert_reference_state_dict(raw, format, generator, source=str(path))
    return name, infer_generator_kwargs(raw, format), sd
