"""``stargan-v2-ref``: clovaai/stargan-v2 checkpoints (``100000_nets_ema.ckpt``).

The reference saves ``{"generator": sd, "mapping_network": sd, "style_encoder": sd}`` (the EMA
networks, what its released AFHQ and CelebA-HQ models are); i2i reads that file as one state
dict with ``generator.``/``mapping_network.``/``style_encoder.`` key prefixes. i2i's networks
(:mod:`.nets`) have the reference's module layout, so each network maps key for key onto
``G``/``F``/``E``. A training checkpoint ``*_nets.ckpt`` (the raw networks plus
``discriminator``) imports too; its discriminator is ignored, as every importer's.

The architecture is read off the shapes: width ``from_rgb``'s channels, image size from the
style encoder's downsampling blocks (it reduces ``image_size`` to 4x4), the face layout
(``w_hpf = 1``, one more generator level) from the generator's block count, style and latent
sizes and the number of domains from the heads. Domain names come from ``--domains`` (default
AFHQ's ``cat, dog, wild`` for three domains, CelebA-HQ's ``female, male`` for two - the
reference's folder order, which is sorted).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import torch

import i2i
from i2i import (
    CheckpointError,
    ConvertedGenerator,
    ImporterSpec,
    ImportPlan,
    ImportRequest,
    UsageError,
)

FORMAT = "stargan-v2-ref"
#: Reference network name -> the i2i method's sub-module.
NETWORKS = {"generator": "G", "mapping_network": "F", "style_encoder": "E"}
KNOWN_DOMAINS = {3: ("cat", "dog", "wild"), 2: ("female", "male")}


def recognise(state_dict: Mapping[str, Any]) -> bool:
    return "generator.from_rgb.weight" in state_dict and any(k.startswith("style_encoder.") for k in state_dict)


def split_networks(state_dict: Mapping[str, torch.Tensor], source: str) -> dict[str, dict[str, torch.Tensor]]:
    """Reference network name -> its own state dict (a DataParallel ``module.`` dropped)."""
    nets: dict[str, dict[str, torch.Tensor]] = {name: {} for name in NETWORKS}
    for key, value in state_dict.items():
        name, _, rest = key.partition(".")
        if name in nets:
            nets[name][rest.removeprefix("module.")] = value
    missing = [name for name, sd in nets.items() if not sd]
    if missing:
        raise CheckpointError(
            f"{source}: no {' or '.join(missing)} in this {FORMAT} file (a *_nets_ema.ckpt holds all three)"
        )
    return nets


def _indices(sd: Mapping[str, Any], prefix: str) -> list[int]:
    """Sorted distinct ``N`` of keys ``prefix.N.<rest>`` (module-list positions)."""
    pattern = re.compile(rf"{re.escape(prefix)}\.(\d+)\.")
    return sorted({int(m.group(1)) for k in sd if (m := pattern.match(k))})


def architecture(
    nets: Mapping[str, Mapping[str, torch.Tensor]], source: str = "state dict"
) -> tuple[dict[str, Any], int, int]:
    """``(method config values, number of domains, image channels)`` read off the shapes."""
    g, f, e = nets["generator"], nets["mapping_network"], nets["style_encoder"]
    try:
        stem = g["from_rgb.weight"]
        width, channels = int(stem.shape[0]), int(stem.shape[1])
        levels = len(_indices(g, "encode")) - 2
        e_blocks = [i for i in _indices(e, "shared") if f"shared.{i}.conv1.weight" in e]
        image_size = 2 ** (len(e_blocks) + 2)
        style_dim = int(g["decode.0.norm1.fc.weight"].shape[1])
        latent_dim, hidden_dim = int(f["shared.0.weight"].shape[1]), int(f["shared.0.weight"].shape[0])
        bottom = int(g[f"encode.{levels + 1}.conv2.weight"].shape[0])
        domains_f, domains_e = len(_indices(f, "unshared")), len(_indices(e, "unshared"))
    except (KeyError, IndexError) as exc:
        raise CheckpointError(f"{source}: incomplete {FORMAT} networks (missing {exc})") from None
    if domains_f != domains_e or domains_f < 2:
        raise CheckpointError(
            f"{source}: the mapping network has {domains_f} domain heads, the style encoder {domains_e}"
        )
    extra = levels - (int(math.log2(image_size)) - 4)
    if extra not in (0, 1):
        raise CheckpointError(f"{source}: a {levels}-level generator does not fit {image_size} px networks")
    config: dict[str, Any] = {
        "image_size": image_size,
        "latent_dim": latent_dim,
        "style_dim": style_dim,
        "hidden_dim": hidden_dim,
        "max_conv_dim": bottom,
        "w_hpf": float(extra),
    }
    if width != 2**14 // image_size:
        config["dim_in"] = width
    return config, domains_f, channels


def convert(
    state_dict: Mapping[str, Any], generator: str | None = None, source: str = "state dict"
) -> ConvertedGenerator:
    if not recognise(state_dict):
        raise CheckpointError(
            f"{source}: keys do not look like a {FORMAT} checkpoint (first keys: {', '.join(list(state_dict)[:4])})"
        )
    if generator is not None:
        raise UsageError(
            f"--generator: {FORMAT} files hold a fixed set of networks (generator, mapping network, style encoder)"
        )
    nets = split_networks(state_dict, source)
    config, n_domains, channels = architecture(nets, source)
    kwargs = {"config": config, "domains": n_domains, "channels": channels}
    flat = {f"{NETWORKS[name]}.{key}": value for name, sd in nets.items() for key, value in sd.items()}
    _check_shapes(flat, config, n_domains, channels, source)
    return ConvertedGenerator(name="stargan_v2", kwargs=kwargs, state_dict=flat)


def _check_shapes(
    flat: Mapping[str, torch.Tensor], config: Mapping[str, Any], n_domains: int, channels: int, source: str
) -> None:
    """Keys and shapes against the i2i networks of that architecture, built on the meta device."""
    from .config import StarGANv2Config
    from .method import StarGANv2

    info = i2i.DataInfo(
        kind=i2i.LABELLED,
        channels_a=channels,
        channels_b=channels,
        domains=tuple(f"domain_{i}" for i in range(n_domains)),
    )
    with torch.device("meta"):
        method = StarGANv2(StarGANv2Config(**config), info)
    expected = {f"{name}.{k}": v for name in NETWORKS.values() for k, v in getattr(method, name).state_dict().items()}
    i2i.check_state_dict_fits(flat, expected, source=source, what="i2i's stargan_v2 networks")


def build(request: ImportRequest) -> ImportPlan:
    (converted,) = request.generators
    n = converted.kwargs["domains"]
    if request.one_hot is False:
        raise UsageError("--multi-label: stargan_v2 domains are exclusive (one folder per domain)")
    if request.labels is None:
        labels = KNOWN_DOMAINS.get(n, tuple(f"domain_{i}" for i in range(n)))
    elif len(request.labels) != n:
        raise UsageError(f"--domains names {len(request.labels)} domains but the checkpoint was trained with {n}")
    else:
        labels = tuple(request.labels)
    channels = converted.kwargs["channels"]
    info = i2i.DataInfo(kind=i2i.LABELLED, channels_a=channels, channels_b=channels, domains=labels)
    parts: dict[str, dict[str, Any]] = {name: {} for name in NETWORKS.values()}
    for key, value in converted.state_dict.items():
        name, _, rest = key.partition(".")
        parts[name][rest] = value
    return ImportPlan(
        method="stargan_v2", data_info=info, generators=parts, method_config=dict(converted.kwargs["config"])
    )


IMPORTER = ImporterSpec(
    name=FORMAT,
    description="clovaai/stargan-v2 *_nets_ema.ckpt (generator, mapping network, style encoder) -> a stargan_v2 "
    "checkpoint; domain names from --domains",
    recognise=recognise,
    convert=convert,
    build=build,
)
