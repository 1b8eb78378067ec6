"""``i2i import-weights``: turn reference-code generators into i2i checkpoints.

The formats are :class:`~i2i.plugins.registry.ImporterSpec` records that plugins register through
``i2i_register_importers`` (``i2i import-weights --format`` or ``i2i list importers`` shows
them); the loading, checking and writing live in :mod:`i2i.inference.weights_import`
(:func:`~i2i.inference.weights_import.import_reference_checkpoint` is this command as a function). For each source
file the format converts the state dict onto an i2i generator; its ``build`` then says which
method hosts the generators, with which config values and data description, and this command
builds that method, loads the generators ``strict=True`` and writes a self-describing
checkpoint that ``i2i translate``, ``i2i eval`` and ``i2i export`` use with no architecture
flags. Without ``--format`` the one format that recognises the first file is used.

Discriminators are freshly initialised (reference model zoos ship none), so an imported
checkpoint also serves as the starting point of a fine-tuning run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click

from i2i.errors import UsageError
from i2i.inference.weights_import import import_reference_checkpoint, list_importers
from i2i.plugins.registry import ImporterSpec, files_phrase

_LIST = "list"


@click.command("import-weights")
@click.argument("sources", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    is_flag=False,
    flag_value=_LIST,
    default=None,
    metavar="NAME",
    help="Which reference code wrote SOURCES (`--format` alone lists the registered formats; "
    "default: the one that recognises the file).",
)
@click.option("--generator", help="Registry name of the generator (inferred from the weights when omitted).")
@click.option(
    "--domains", help="Labelled models: comma-separated label names, in the order the model was trained with."
)
@click.option(
    "--one-hot/--multi-label",
    "one_hot",
    default=None,
    help="Labelled models: the labels are exclusive domains or independent attributes (default: the format's).",
)
@click.option("--out", type=click.Path(dir_okay=False), help="The i2i checkpoint to write.")
def import_weights(
    sources: tuple[str, ...],
    fmt: str | None,
    generator: str | None,
    domains: str | None,
    one_hot: bool | None,
    out: str | None,
) -> None:
    """Convert generator weights written by reference code into an i2i checkpoint.

    \b
    i2i import-weights --format                       # list the registered formats
    i2i import-weights horse2zebra.pth --format cyclegan-ref --out horse2zebra.pt
    i2i import-weights latest_net_G_A.pth latest_net_G_B.pth --format cyclegan-ref --out h2z.pt
    i2i import-weights 200000-G.ckpt --format stargan-ref --out celeba.pt
    """
    if fmt == _LIST:
        click.echo(format_table(list_importers()))
        return
    if not sources:
        raise UsageError("import-weights: give the reference file(s) to convert (or `--format` alone to list formats)")
    if out is None:
        raise UsageError("import-weights: --out FILE is required (the i2i checkpoint to write)")
    labels = None if domains is None else tuple(d.strip() for d in domains.split(",") if d.strip())
    path = import_reference_checkpoint(
        [Path(s) for s in sources], fmt, out, generator=generator, domains=labels, one_hot=one_hot
    )
    click.echo(f"wrote {path}")


def format_table(specs: Sequence[ImporterSpec]) -> str:
    if not specs:
        return "no reference-weight formats registered"
    width = max(len(s.name) for s in specs)
    return "\n".join(f"{s.name.ljust(width)}  {s.description} ({files_phrase(s.files)}; {s.plugin})" for s in specs)
