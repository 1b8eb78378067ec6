"""``i2i import-weights``: turn reference-code generators into i2i checkpoints.

The formats are :class:`~i2i.plugins.registry.ImporterSpec` records that plugins register through
``i2i_register_importers`` (``i2i import-weights --format`` or ``i2i list importers`` shows
them); the generic loading and checking lives in :mod:`i2i.inference.weights_import`. For each source
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
from typing import Any, Sequence

import click

from i2i.errors import UsageError
from i2i.plugins.registry import ImporterSpec, ImportPlan, ImportRequest, files_phrase

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


def list_importers(host: Any = None) -> list[ImporterSpec]:
    from i2i.plugins.host import get_host

    return list((host or get_host()).registry.records("importer"))


def format_table(specs: Sequence[ImporterSpec]) -> str:
    if not specs:
        return "no reference-weight formats registered"
    width = max(len(s.name) for s in specs)
    return "\n".join(f"{s.name.ljust(width)}  {s.description} ({files_phrase(s.files)}; {s.plugin})" for s in specs)


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
    from i2i.inference.weights_import import (
        get_importer,
        load_reference_file,
        strip_module_prefix,
    )

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
    from i2i import api
    from i2i.config.run import resolve_config
    from i2i.errors import PluginError
    from i2i.io.checkpoint import inference_payload, save_checkpoint

    spec = api.get_method(plan.method, host=host)
    info = plan.data_info
    overrides = {f"method.{k}": v for k, v in plan.method_config.items()}
    overrides |= {"data.channels": info.channels_a, "data.channels_b": info.channels_b}
    if info.domains:
        overrides["data.attributes"] = list(info.domains)
    # the paper's settings (not the demo's): an imported model is a full-size model
    cfg = resolve_config(
        lambda name: api.get_method(name, host=host), overrides=overrides, method=plan.method, demo=False
    )
    built = spec.factory(cfg.method, info)
    generators = built.generators()
    if set(plan.generators) - set(generators):
        raise PluginError(
            f"importer: {plan.method} has no generator {sorted(set(plan.generators) - set(generators))} "
            f"(its generator_names: {', '.join(generators)})"
        )
    for name, state in plan.generators.items():
        generators[name].load_state_dict(dict(state), strict=True)
    payload = inference_payload(built, cfg, info, plugin=spec.plugin)
    payload["imported_from"] = list(sources)
    return save_checkpoint(out, payload)
