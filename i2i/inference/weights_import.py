"""Bring generators trained with reference code into i2i: the generic half of ``import-weights``.

Each reference format is an :class:`~i2i.plugins.registry.ImporterSpec` that a plugin registers through
``i2i_register_importers`` (the built-in methods register their papers' repositories); this
module holds what every format shares:

* :func:`load_reference_file` reads a file safely (``weights_only=True``) and unwraps common
  containers (``{"state_dict": ...}``, ``{"model": ...}``, ``{"G": ...}``); several networks
  in one file are flattened to ``name.key`` keys;
* a ``module.`` prefix (DataParallel) is stripped before an importer sees the keys;
* :func:`drop_norm_statistics` drops instance-norm running statistics (``running_mean``,
  ``running_var``, ``num_batches_tracked``) that old reference checkpoints carry and i2i's
  instance norm never tracks;
* :func:`convert_generator_state_dict` checks the cleaned keys and shapes against the i2i
  network built (on the meta device, for free) from the registry, so a file that does not fit
  fails here with one line; a network built with ``norm="none"`` gets the conv biases the
  reference leaves out filled with zeros (the same function), and batch norms saved by PyTorch
  < 0.4.1 get ``num_batches_tracked = 0``;
* :func:`convert_image_generator` reads the core ResNet / U-Net generators (whose module
  layouts are the reference layouts, key for key) off key names and tensor shapes; importers
  of formats built on them call it.

``convert_reference_state_dict``, ``infer_generator_kwargs`` and ``import_reference_file`` run
one registered format on one file (the library form, and what the tests drive).
U-Net dropout has no weights and cannot be inferred; it only matters for training.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from i2i.errors import CheckpointError, PluginError, UsageError
from i2i.io.checkpoint import Checkpoint
from i2i.plugins.host import get_host
from i2i.plugins.registry import ConvertedGenerator, ImporterSpec, ImportPlan, ImportRequest, files_phrase

_STATS = ("running_mean", "running_var", "num_batches_tracked")
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "netG", "net_G", "G", "generator", "params")

StateDict = dict[str, torch.Tensor]


def _is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def load_reference_file(path: str | Path) -> StateDict:
    """Load a reference checkpoint safely (``weights_only=True``) and return its state dict.

    Unwraps common containers (``{"state_dict": ...}``, ``{"model": ...}``, ``{"G": ...}``); a
    file of several named state dicts (``{"generator": sd, "style_encoder": sd}``) becomes one
    state dict whose keys carry the network's name (``generator.from_rgb.weight``).
    Raises :class:`CheckpointError` naming the file when it is missing, unreadable or holds no
    state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, truncated pickle, forbidden globals ...
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):  # never pass on torch's unsafe advice
            raise CheckpointError(
                f"{path}: holds pickled Python objects (a whole model, not a state dict), which i2i does not load "
                "because unpickling can run arbitrary code; save the model's state_dict() with the code that made it"
            ) from None
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {first_line})"
        ) from None
    return unwrap_state_dict(obj, path)


def unwrap_state_dict(obj: Any, path: str | Path) -> StateDict:
    """The state dict in a loaded reference file (:func:`load_reference_file`'s unwrapping);
    :class:`CheckpointError` naming ``path`` when it holds none."""
    if _is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        networks = {k: v for k, v in obj.items() if isinstance(k, str) and _is_state_dict(v)}
        if len(networks) > 1:
            # several networks saved together ({"generator": ..., "mapping_network": ...}, as
            # clovaai/stargan-v2 does): one state dict keyed "network.key"; the format splits it
            return {f"{name}.{key}": value for name, sd in networks.items() for key, value in sd.items()}
        for key in _WRAPPER_KEYS:
            if _is_state_dict(obj.get(key)):
                return dict(obj[key])
        shown = ", ".join(repr(k) for k in list(obj)[:6])
        raise CheckpointError(f"{path}: holds no state dict of tensors (top-level keys: {shown})")
    raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")


def strip_module_prefix(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """Drop the ``module.`` prefix ``nn.DataParallel`` puts on every key."""
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module.") :]: v for k, v in sd.items()}
    return dict(sd)


def drop_norm_statistics(sd: Mapping[str, torch.Tensor], *, every_layer: bool = False) -> StateDict:
    """Drop running statistics of instance norms: of layers with statistics but no affine weight
    (non-affine instance norms; batch norms keep theirs), or of every layer (``every_layer``:
    networks whose norms are all affine instance norms)."""
    out: StateDict = {}
    for key, value in sd.items():
        layer, _, leaf = key.rpartition(".")
        if leaf in _STATS and (every_layer or f"{layer}.weight" not in sd):
            continue
        out[key] = value
    return out


def convert_generator_state_dict(
    sd: Mapping[str, torch.Tensor],
    name: str,
    kwargs: Mapping[str, Any],
    *,
    source: str = "state dict",
    host: Any = None,
) -> StateDict:
    """Check ``sd`` against the registered generator ``name`` built with ``kwargs`` (on the meta
    device) and return it in that network's key order, filling what the reference legitimately
    leaves out (zero conv biases of ``norm="none"`` networks, ``num_batches_tracked``).

    Raises :class:`CheckpointError` naming ``source`` on missing, unexpected or misshapen keys.
    """
    spec = _registry(host).get("generator", name)
    with torch.device("meta"):
        expected = spec.create(**kwargs).state_dict()
    sd = dict(sd)
    missing = [k for k in expected if k not in sd]
    for key in list(missing):
        weight = key[: -len("bias")] + "weight"
        if kwargs.get("norm") == "none" and key.endswith(".bias") and weight in sd:
            sd[key] = torch.zeros(expected[key].shape, dtype=sd[weight].dtype)
            missing.remove(key)
        elif key.endswith(".num_batches_tracked"):  # batch norms saved by PyTorch < 0.4.1
            sd[key] = torch.tensor(0, dtype=torch.long)
            missing.remove(key)
    check_state_dict_fits(sd, expected, source=source, what=f"an i2i {name} generator")
    return {k: sd[k] for k in expected}


def check_state_dict_fits(
    state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], *, source: str, what: str
) -> None:
    """Raise a one-line :class:`CheckpointError` unless ``state_dict`` has exactly the keys of
    ``expected`` (e.g. a network's ``state_dict()`` built on the meta device) with the same
    shapes. ``what`` names the target in the message (``"an i2i resnet_9blocks generator"``).
    Importers check a converted file with it before loading anything."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
            )
            if part
        )
        raise CheckpointError(f"{source}: keys do not fit {what} ({detail})")
    for key, ref in expected.items():
        if tuple(state_dict[key].shape) != tuple(ref.shape):
            raise CheckpointError(
                f"{source}: {key} has shape {tuple(state_dict[key].shape)}, {what} has {tuple(ref.shape)} there"
            )


# -- the core ResNet / U-Net generators, read off keys and shapes ---------------------------------
def _resnet_kwargs(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    block_ids = sorted({int(m.group(1)) for k in sd if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    zero_pad = "model.0.weight" in sd
    stem = 0 if zero_pad else 1
    stem_w = sd[f"model.{stem}.weight"]
    convs = [
        (int(k.split(".")[1]), v) for k, v in sd.items() if re.fullmatch(r"model\.\d+\.weight", k) and v.dim() == 4
    ]
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
        input_nc=stem_w.shape[1],
        output_nc=last_w.shape[0],
        ngf=stem_w.shape[0],
        norm=norm,
        use_dropout=dropout,
        n_blocks=len(block_ids),
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


def image_generator_family(sd: Mapping[str, torch.Tensor]) -> str | None:
    """``"resnet"`` or ``"unet"`` when ``sd`` has the key layout of that core generator, else None
    (also when some key is not a parameter or norm statistic those layouts have, such as a
    fixed blur kernel of another code base's variant)."""
    if any(k.rpartition(".")[2] not in ("weight", "bias", *_STATS) for k in sd):
        return None
    if any(".conv_block." in k for k in sd):
        return "resnet"
    if "model.model.0.weight" in sd:
        return "unet"
    return None


def convert_image_generator(
    sd: Mapping[str, torch.Tensor],
    generator: str | None = None,
    source: str = "state dict",
    *,
    format: str = "reference",
) -> ConvertedGenerator:
    """Map a state dict of the core ResNet or U-Net generator (reference layout) onto i2i.

    The registry name is ``resnet_6blocks``/``resnet_9blocks`` or ``unet_128``/``unet_256`` by
    depth, unless ``generator`` names another of the same family; keyword arguments come from
    the *raw* shapes (after conversion a ``norm="none"`` network has zero-filled biases and
    reads as ``"instance"``). ``format`` names the format in errors.
    """
    family = image_generator_family(sd)
    if family is None:
        raise CheckpointError(
            f"{source}: keys do not look like a {format} generator (first keys: {', '.join(list(sd)[:4])})"
        )
    try:
        kwargs = _resnet_kwargs(sd) if family == "resnet" else _unet_kwargs(sd)
    except (KeyError, ValueError, IndexError) as exc:
        raise CheckpointError(f"{source}: incomplete {format} generator (missing {exc})") from None
    if family == "resnet":
        name = "resnet_6blocks" if kwargs["n_blocks"] == 6 else "resnet_9blocks"
    else:
        name = "unet_128" if kwargs["num_downs"] == 7 else "unet_256"
    if generator is not None:
        if not generator.startswith(family + "_"):
            raise CheckpointError(f"{source}: holds a {family} generator, which cannot be loaded as {generator!r}")
        name = generator
    clean = convert_generator_state_dict(drop_norm_statistics(sd), name, kwargs, source=source)
    return ConvertedGenerator(name=name, kwargs=kwargs, state_dict=clean)


# -- one registered format on one file ------------------------------------------------------------
def _registry(host: Any) -> Any:
    return (host if host is not None else get_host()).registry


def get_importer(format: str, host: Any = None) -> ImporterSpec:
    """The registered importer ``format``; a :class:`CheckpointError` listing the known ones."""
    registry = _registry(host)
    known = registry.names("importer")
    if format not in known:
        raise CheckpointError(
            f"format: unknown reference format {format!r} (known: {', '.join(known) or 'none registered'})"
        )
    spec: ImporterSpec = registry.get("importer", format)
    return spec


def convert_reference_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    format: str,
    generator: str | None = None,
    *,
    source: str = "state dict",
    host: Any = None,
) -> tuple[str, StateDict]:
    """Map a reference generator state dict onto i2i's with the registered importer ``format``;
    return ``(generator name, state dict)``, which loads with ``strict=True`` into
    ``create_generator(name, **infer_generator_kwargs(state_dict, format))``. ``generator``
    overrides the inferred registry name; ``source`` names the file in error messages."""
    converted = get_importer(format, host).convert(strip_module_prefix(state_dict), generator, source)
    return converted.name, dict(converted.state_dict)


def infer_generator_kwargs(state_dict: Mapping[str, torch.Tensor], format: str, *, host: Any = None) -> dict[str, Any]:
    """Generator keyword arguments (input_nc, output_nc, ngf, norm, n_blocks / num_downs ...)
    that the importer ``format`` reads off the shapes of a reference state dict."""
    return dict(get_importer(format, host).convert(strip_module_prefix(state_dict)).kwargs)


def import_reference_file(
    path: str | Path, format: str, generator: str | None = None, *, host: Any = None
) -> tuple[str, dict[str, Any], StateDict]:
    """Load and convert a reference checkpoint: ``(name, generator kwargs, state dict)``."""
    converted = get_importer(format, host).convert(strip_module_prefix(load_reference_file(path)), generator, str(path))
    return converted.name, dict(converted.kwargs), dict(converted.state_dict)


def image_generator_config(converted: ConvertedGenerator, source: str = "state dict") -> dict[str, Any]:
    """The ``[method]`` keys (``netG``, ``ngf``, ``norm``, ``use_dropout``) of a method that builds
    a core generator by registry name, for a :func:`convert_image_generator` result; a
    :class:`~i2i.errors.UsageError` when the file uses an option such a config cannot express."""

    kwargs = converted.kwargs
    unsupported = {k: v for k, v in kwargs.items() if k == "padding_type" or (k == "n_blocks" and v not in (6, 9))}
    if unsupported:
        raise UsageError(f"{source}: generator option {unsupported} has no i2i method config equivalent")
    return {
        "netG": converted.name,
        "ngf": kwargs["ngf"],
        "norm": kwargs["norm"],
        "use_dropout": kwargs.get("use_dropout", False),
    }


# -- reference files to an i2i checkpoint (``i2i import-weights`` as a function) ----------------
def list_importers(host: Any = None) -> list[ImporterSpec]:
    """The registered reference-weight formats (``i2i_register_importers``)."""
    return list(_registry(host).records("importer"))


def detect_format(state_dict: Any, source: str, host: Any = None) -> ImporterSpec:
    """The one registered format whose recogniser accepts ``state_dict``."""
    specs = list_importers(host)
    matches = [s for s in specs if s.recognise(state_dict)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(s.name for s in specs) or "none registered"
    if not matches:
        raise UsageError(f"{source}: no registered format recognises this file; pass --format (known: {known})")
    raise UsageError(f"{source}: looks like {' and '.join(s.name for s in matches)}; pass --format to choose")


def import_hint(obj: Any, path: str | Path) -> str:
    """For a file read as an i2i checkpoint that is not one: the ``import-weights`` command
    that converts it, when a registered format recognises it (a reference
    ``latest_net_G_A.pth`` given to ``i2i translate``), else ``""``."""
    try:
        state_dict = strip_module_prefix(unwrap_state_dict(obj, path))
        formats = [spec.name for spec in list_importers() if spec.recognise(state_dict)]
    except Exception:  # a hint must never replace the error it adds to
        return ""
    if not formats:
        return ""
    others = "".join(f" (or --format {name})" for name in formats[1:])
    return (
        f"; it looks like a {' or '.join(formats)} file: convert it once with "
        f"`i2i import-weights {path} --format {formats[0]} --out model.pt`{others}"
    )


def import_reference_checkpoint(
    sources: Sequence[str | Path],
    fmt: str | None,
    out: str | Path,
    *,
    generator: str | None = None,
    domains: Sequence[str] | str | None = None,
    one_hot: bool | None = None,
    host: Any = None,
) -> Path:
    """Library form of ``i2i import-weights``; returns the written checkpoint path.

    ``fmt`` None picks the format that recognises the first file; ``domains`` are label names
    (a list, or one comma-separated string).
    """
    if isinstance(domains, str):
        domains = tuple(d.strip() for d in domains.split(",") if d.strip())
    raw = [strip_module_prefix(load_reference_file(src)) for src in sources]
    spec = detect_format(raw[0], str(sources[0]), host) if fmt is None else get_importer(fmt, host)
    if len(sources) not in spec.files:
        raise UsageError(f"--format {spec.name} takes {files_phrase(spec.files)}, got {len(sources)}")
    converted = [spec.convert(sd, generator, str(src)) for sd, src in zip(raw, sources)]
    request = ImportRequest(
        sources=tuple(str(s) for s in sources),
        generators=converted,
        labels=None if domains is None else tuple(domains),
        one_hot=one_hot,
    )
    plan = spec.build(request)
    return write_imported(plan, out, request.sources, host=host)


def write_imported(plan: ImportPlan, out: str | Path, sources: Sequence[str], *, host: Any = None) -> Path:
    """Build ``plan.method`` as the plan says, load its generators ``strict=True``, write ``out``."""
    from i2i.config.run import resolve_config  # lazy: the run config pulls in every layer's config

    host = host if host is not None else get_host()
    spec = host.registry.get("method", plan.method)
    info = plan.data_info
    overrides = {f"method.{k}": v for k, v in plan.method_config.items()}
    overrides |= {"data.channels": info.channels_a, "data.channels_b": info.channels_b}
    if info.domains:
        overrides["data.attributes"] = list(info.domains)
    if "image_size" in plan.method_config:  # networks sized for their images: the data says that size (as --image-size)
        size = plan.method_config["image_size"]
        overrides |= {"data.image_size": size, "data.load_size": size}
    # the paper's settings (not the demo's): an imported model is a full-size model
    cfg = resolve_config(
        lambda name: host.registry.get("method", name), overrides=overrides, method=plan.method, demo=False
    )
    built = host.build_method(spec, cfg.method, info)
    generators = built.generators()
    if set(plan.generators) - set(generators):
        raise PluginError(
            f"importer: {plan.method} has no generator {sorted(set(plan.generators) - set(generators))} "
            f"(its generator_names: {', '.join(generators)})"
        )
    for name, state in plan.generators.items():
        generators[name].load_state_dict(dict(state), strict=True)
    checkpoint = Checkpoint.of(built, cfg, info, plugin=spec.plugin).with_fields(imported_from=list(sources))
    return checkpoint.write(out)
