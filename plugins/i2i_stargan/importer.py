"""``stargan-ref``: generators of yunjey/stargan (``200000-G.ckpt``).

i2i's StarGAN generator (:mod:`i2i_stargan.nets`) has the reference's module layout, so the
mapping is the identity after dropping the running statistics the reference's affine instance
norms carry (it translates in training mode and never uses them). The label count is the stem's
input channels minus three (RGB); label names come from ``--domains`` (default: the paper's five
CelebA attributes when there are five), multi-label unless ``--one-hot`` (or names were given).
A generator trained on several datasets (``main.py --dataset Both``: ``c_dim + c2_dim + 2``
label inputs, the last ones the mask) takes one label set per dataset,
``--domains "celeba:A,B;rafd:x,y"``; 5 + 8 + 2 inputs default to the paper's CelebA + RaFD.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import i2i
from i2i import (
    CheckpointError,
    ConvertedGenerator,
    DataInfo,
    ImporterSpec,
    ImportPlan,
    ImportRequest,
    UsageError,
)

FORMAT = "stargan-ref"


def recognise(state_dict: Mapping[str, Any]) -> bool:
    return "main.0.weight" in state_dict and any(re.match(r"main\.\d+\.main\.", k) for k in state_dict)


def convert(
    state_dict: Mapping[str, Any], generator: str | None = None, source: str = "state dict"
) -> ConvertedGenerator:
    sd = dict(state_dict)
    if "conv1.weight" in sd or "conv2.weight" in sd:
        raise CheckpointError(f"{source}: is a StarGAN discriminator; import the generator (*-G.ckpt)")
    if not recognise(sd):
        raise CheckpointError(
            f"{source}: keys do not look like a {FORMAT} generator (first keys: {', '.join(list(sd)[:4])})"
        )
    if generator is not None and generator != "stargan":
        raise CheckpointError(f"{source}: holds a stargan generator, which cannot be loaded as {generator!r}")
    try:
        stem = sd["main.0.weight"]
        blocks = {int(m.group(1)) for k in sd if (m := re.match(r"main\.(\d+)\.main\.", k))}
        convs = [
            (int(k.split(".")[1]), v) for k, v in sd.items() if re.fullmatch(r"main\.\d+\.weight", k) and v.dim() == 4
        ]
        last = max(convs, key=lambda iv: iv[0])[1]
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{source}: incomplete {FORMAT} generator (missing {exc})") from None
    input_nc = 3  # the reference always feeds RGB; the rest of the stem's inputs are labels
    kwargs = dict(
        input_nc=input_nc,
        output_nc=last.shape[0],
        ngf=stem.shape[0],
        norm="instance_affine",
        c_dim=stem.shape[1] - input_nc,
        n_blocks=len(blocks),
    )
    clean = i2i.convert_generator_state_dict(
        i2i.drop_norm_statistics(sd, every_layer=True), "stargan", kwargs, source=source
    )
    return ConvertedGenerator(name="stargan", kwargs=kwargs, state_dict=clean)


def _labels(names: tuple[str, ...] | None, c_dim: int) -> tuple[str, ...]:
    if names is None:
        paper = tuple(i2i.DataConfig().attributes)  # the paper's CelebA attributes
        return paper if c_dim == len(paper) else tuple(f"domain_{i}" for i in range(c_dim))
    if len(names) != c_dim:
        raise UsageError(f"--domains names {len(names)} labels but the generator was trained with {c_dim}")
    return names


#: The reference's ``--dataset Both``: CelebA's five attributes and RaFD's eight expressions
#: (RaFD is read with ``ImageFolder``, so its labels are the sorted folder names).
BOTH_DEFAULT = "celeba:Black_Hair,Blond_Hair,Brown_Hair,Male,Young;rafd:angry,contemptuous,disgusted,fearful,happy,neutral,sad,surprised"


def _sources(names: tuple[str, ...] | None, c_dim: int) -> tuple[i2i.LabelSource, ...]:
    """The label sets of a generator trained on several datasets (``--dataset Both``), or ().

    ``--domains "celeba:A,B;rafd:x,y"`` names each dataset's labels; with no names, a
    ``5 + 8 + 2`` label input is the paper's CelebA + RaFD. A set named ``celeba`` holds
    attributes (multi-hot), the others one-hot domains. The generator's label input is every
    set plus a mask of one value per set.
    """
    text = None if names is None else ",".join(names)
    if text is None:
        if c_dim != 5 + 8 + 2:
            return ()
        text = BOTH_DEFAULT
    if ";" not in text:
        return ()
    sources = []
    for k, chunk in enumerate(c for c in text.split(";") if c.strip()):
        name, sep, labels = chunk.partition(":")
        name, labels = (name.strip(), labels) if sep else (f"dataset{k + 1}", chunk)
        parsed = tuple(d.strip() for d in labels.split(",") if d.strip())
        sources.append(i2i.LabelSource(name=name, domains=parsed, multi_label=name.lower() == "celeba"))
    wanted = sum(len(s.domains) for s in sources) + len(sources)
    if wanted != c_dim:
        raise UsageError(
            f"--domains names {wanted - len(sources)} labels in {len(sources)} datasets "
            f"({wanted} with the mask) but the generator was trained with {c_dim}"
        )
    return tuple(sources)


def build(request: ImportRequest) -> ImportPlan:
    (g,) = request.generators
    kwargs = g.kwargs
    method_config = {"g_conv_dim": kwargs["ngf"], "g_repeat_num": kwargs["n_blocks"]}
    sources = _sources(request.labels, kwargs["c_dim"])
    if sources:  # trained on several datasets: labels [c_1, ..., c_K, mask]
        info = DataInfo(
            kind=i2i.LABELLED,
            channels_a=kwargs["input_nc"],
            channels_b=kwargs["output_nc"],
            domains=[d for s in sources for d in s.domains],
            multi_label=True,
            sources=sources,
        )
        return ImportPlan(method="stargan", data_info=info, generators={"G": g.state_dict}, method_config=method_config)
    labels = _labels(request.labels, kwargs["c_dim"])
    multi_label = (len(labels) == 5 and request.labels is None) if request.one_hot is None else not request.one_hot
    info = DataInfo(
        kind=i2i.LABELLED,
        channels_a=kwargs["input_nc"],
        channels_b=kwargs["output_nc"],
        domains=labels,
        multi_label=multi_label,
    )
    return ImportPlan(
        method="stargan",
        data_info=info,
        generators={"G": g.state_dict},
        method_config={"g_conv_dim": kwargs["ngf"], "g_repeat_num": kwargs["n_blocks"]},
    )


IMPORTER = ImporterSpec(
    name=FORMAT,
    description="yunjey/stargan generator (200000-G.ckpt, also --dataset Both) -> a stargan checkpoint; label names from --domains",
    recognise=recognise,
    convert=convert,
    build=build,
)
