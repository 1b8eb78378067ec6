"""``i2i import-weights``: turn reference-code generators into i2i checkpoints.

The key mapping lives in :mod:`i2i.weights_import`; this command chooses the method that
hosts the generator(s) and writes a self-describing checkpoint that ``i2i translate``,
``i2i eval`` and ``i2i export`` use with no architecture flags:

* ``pix2pix-ref`` ``latest_net_G.pth``            -> a ``pix2pix`` checkpoint;
* ``cyclegan-ref`` ``horse2zebra.pth``             -> a ``pix2pix``-structured checkpoint (one
  generator, one direction: the pretrained CycleGAN zoo ships one generator per file);
* ``cyclegan-ref`` ``latest_net_G_A.pth latest_net_G_B.pth`` -> a ``cyclegan`` checkpoint, both
  directions (``--direction b2a`` then works);
* ``stargan-ref`` ``200000-G.ckpt``                 -> a ``stargan`` checkpoint whose label names
  come from ``--domains`` (default: the paper's five CelebA attributes when there are five).

Discriminators are freshly initialised (the reference zoo ships none), so an imported checkpoint
also serves as the starting point of a fine-tuning run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

_FORMATS = ("cyclegan-ref", "pix2pix-ref", "stargan-ref")


@click.command("import-weights")
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(_FORMATS), required=True, help="Which reference code wrote SOURCES.")
@click.option("--generator", help="Registry name of the generator (inferred from the weights when omitted).")
@click.option("--domains", help="StarGAN: comma-separated label names, in the order the model was trained with.")
@click.option(
    "--one-hot/--multi-label",
    "one_hot",
    default=None,
    help="StarGAN: the labels are exclusive domains (RaFD) or attributes (CelebA, the default for 5 labels).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The i2i checkpoint to write.")
def import_weights(
    sources: tuple[str, ...], fmt: str, generator: str | None, domains: str | None, one_hot: bool | None, out: str
) -> None:
    """Convert reference CycleGAN / pix2pix / StarGAN generator weights into an i2i checkpoint.

    \b
    i2i import-weights horse2zebra.pth --format cyclegan-ref --out horse2zebra.pt
    i2i import-weights latest_net_G_A.pth latest_net_G_B.pth --format cyclegan-ref --out h2z.pt
    i2i import-weights 200000-G.ckpt --format stargan-ref --out celeba.pt
    """
    path = import_reference_checkpoint(
        [Path(s) for s in sources], fmt, out, generator=generator, domains=domains, one_hot=one_hot
    )
    click.echo(f"wrote {path}")


def import_reference_checkpoint(
    sources: list[Path],
    fmt: str,
    out: str | Path,
    *,
    generator: str | None = None,
    domains: str | None = None,
    one_hot: bool | None = None,
) -> Path:
    """Library form of ``i2i import-weights``; returns the written checkpoint path."""
    from i2i import api
    from i2i.config import resolve_config
    from i2i.errors import UsageError
    from i2i.method import DataInfo
    from i2i.weights_import import import_reference_file

    if fmt == "stargan-ref" and len(sources) != 1:
        raise UsageError("--format stargan-ref takes one generator file")
    if fmt == "pix2pix-ref" and len(sources) != 1:
        raise UsageError("--format pix2pix-ref takes one generator file")
    if len(sources) > 2:
        raise UsageError("--format cyclegan-ref takes one generator file, or two (G_A then G_B)")
    imported = [import_reference_file(src, fmt, generator) for src in sources]
    name, kwargs, _ = imported[0]

    if fmt == "stargan-ref":
        labels = _stargan_labels(domains, kwargs["c_dim"])
        multi_label = (len(labels) == 5 and domains is None) if one_hot is None else not one_hot
        method = "stargan"
        overrides = {"g_conv_dim": kwargs["ngf"], "g_repeat_num": kwargs["n_blocks"]}
        info = DataInfo(kind="labelled", channels_a=kwargs["input_nc"], channels_b=kwargs["output_nc"],
                        domains=labels, multi_label=multi_label)
    else:
        for other_name, other_kwargs, _ in imported[1:]:
            if (other_name, other_kwargs["ngf"], other_kwargs["norm"]) != (name, kwargs["ngf"], kwargs["norm"]):
                raise UsageError(f"{sources[0]} and {sources[1]} hold different generator architectures")
        method = "cyclegan" if len(imported) == 2 else "pix2pix"
        unsupported = {k: v for k, v in kwargs.items() if k == "padding_type" or (k == "n_blocks" and v not in (6, 9))}
        if unsupported:
            raise UsageError(f"{sources[0]}: generator option {unsupported} has no i2i method config equivalent")
        overrides = {"netG": name, "ngf": kwargs["ngf"], "norm": kwargs["norm"], "use_dropout": kwargs.get("use_dropout", False)}
        kind = "unpaired" if method == "cyclegan" else "paired"
        info = DataInfo(kind=kind, channels_a=kwargs["input_nc"], channels_b=kwargs["output_nc"])

    spec = api.get_method(method)
    # the paper's settings (not the demo's): an imported model is a full-size model
    cfg = resolve_config(
        api.get_method,
        overrides={f"method.{k}": v for k, v in overrides.items()} | _data_overrides(info),
        method=method,
        demo=False,
    )
    built = spec.factory(cfg.method, info)
    for generator_module, (_, _, state) in zip(built.generators().values(), imported):
        generator_module.load_state_dict(state, strict=True)
    return _write(out, built, cfg, info, spec, [str(s) for s in sources])


def _stargan_labels(domains: str | None, c_dim: int) -> tuple[str, ...]:
    from i2i.data.config import PAPER_ATTRIBUTES
    from i2i.errors import UsageError

    if domains is None:
        return PAPER_ATTRIBUTES if c_dim == len(PAPER_ATTRIBUTES) else tuple(f"domain_{i}" for i in range(c_dim))
    labels = tuple(d.strip() for d in domains.split(",") if d.strip())
    if len(labels) != c_dim:
        raise UsageError(f"--domains names {len(labels)} labels but the generator was trained with {c_dim}")
    return labels


def _data_overrides(info: Any) -> dict[str, Any]:
    overrides: dict[str, Any] = {"data.channels": info.channels_a, "data.channels_b": info.channels_b}
    if info.domains:
        overrides["data.attributes"] = list(info.domains)
    return overrides


def _write(out: str | Path, method: Any, cfg: Any, info: Any, spec: Any, sources: list[str]) -> Path:
    from i2i.train.checkpoint import inference_payload, save_checkpoint

    payload = inference_payload(method, cfg, info, plugin=spec.plugin)
    payload["imported_from"] = sources
    return save_checkpoint(out, payload)
