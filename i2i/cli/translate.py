"""``i2i translate CKPT INPUT... --out DIR``: translate image files with a trained checkpoint.

The checkpoint describes its method, so there are no architecture flags, and the method's own
options become flags: this command reads CKPT before parsing the rest and adds one flag per
:class:`~i2i.TranslateOption` the method declares (``i2i translate CKPT --help`` lists them;
without CKPT only the generic flags exist). ``--option KEY=VALUE`` reaches any option too.
Values are checked by the same records as :meth:`i2i.Translator.translate`, so the command line
and the Python API give the same messages. The work is :func:`i2i.inference.files.translate_files`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import click

from i2i.config.run import parse_override
from i2i.errors import UsageError
from i2i.inference.files import collect_inputs, translate_files
from i2i.inference.spec import declared_options
from i2i.inference.translator import Translator, load_checkpoint, resolve_device, resolve_precision
from i2i.io.checkpoint import Checkpoint
from i2i.io.outputs import removed_if_left_empty
from i2i.train.precision import emulation_note

#: Prefix of the click parameter names of method options (never clashes with generic ones).
_PREFIX = "method_option__"
#: Generic flags that take a value (to find CKPT among the raw arguments before parsing).
_VALUE_FLAGS = {
    "--out",
    "-o",
    "--batch-size",
    "--device",
    "--precision",
    "--size",
    "--fit",
    "--option",
    "--targets",
    "--split",
}


class TranslateCommand(click.Command):
    """A command whose flags depend on its first argument: the checkpoint's method options."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        # the method's flags live in this invocation's context, never on the shared command object
        return [*super().get_params(ctx), *ctx.meta.get("i2i.translate.flags", ())]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        loaded = _load_for_flags(args)
        if loaded is None:
            return super().parse_args(ctx, args)
        method, config = loaded[0], loaded[1]
        ctx.meta["i2i.translate.loaded"] = loaded
        ctx.meta["i2i.translate.flags"] = method_flags(method, config, generic=self.params)
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            name = getattr(config, "method_name", type(method).__name__)
            offered = ", ".join(o.flag for o in declared_options(method)) or "none"
            raise UsageError(
                f"method {name!r} has no option {exc.option_name.lstrip('-').replace('-', '_')!r} "
                f"(its translate options: {offered}; i2i translate CKPT --help lists every flag)"
            ) from None

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        generic = [p.get_help_record(ctx) for p in self.get_params(ctx) if not (p.name or "").startswith(_PREFIX)]
        own = [p.get_help_record(ctx) for p in self.get_params(ctx) if (p.name or "").startswith(_PREFIX)]
        with formatter.section("Options"):
            formatter.write_dl([r for r in generic if r])
        loaded = ctx.meta.get("i2i.translate.loaded")
        if loaded is not None:
            name = getattr(loaded[1], "method_name", type(loaded[0]).__name__)
            with formatter.section(f"Translate options of {name!r} (from {loaded[2]})"):
                if own:
                    formatter.write_dl([r for r in own if r])
                else:
                    formatter.write_text("none: this method takes no options")
        else:
            formatter.write_paragraph()
            formatter.write_text("Method options: `i2i translate CKPT --help` lists the flags of CKPT's method.")


def _checkpoint_arg(args: Sequence[str]) -> str | None:
    """The first positional argument (CKPT), skipping generic flags and their values."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            continue
        elif arg.startswith("-"):
            skip = arg in _VALUE_FLAGS
        else:
            return arg
    return None


def _load_for_flags(args: Sequence[str]) -> tuple[Any, Any, str, int] | None:
    """The method of CKPT (the first positional argument), or None when it does not exist.

    With ``--help`` a checkpoint that cannot be read shows the generic help; otherwise its
    error is the command's (clearer than the unknown-flag error it would cause).
    """

    candidate = _checkpoint_arg(args)
    if candidate is not None:
        if Path(candidate).exists():
            try:
                ckpt = Checkpoint.read(candidate, mmap=True)
                method, config = ckpt.build_method(prefer_ema="--raw-weights" not in args)
            except UsageError:
                if "--help" in args or "-h" in args:
                    return None
                raise
            return method, config, candidate, ckpt.step
    return None


def method_flags(method: Any, config: Any, generic: Sequence[click.Parameter] = ()) -> list[click.Option]:
    """One click flag per declared translate option (and one per alias spelling)."""
    taken = {opt for p in generic for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
    name = getattr(config, "method_name", type(method).__name__)
    flags = []
    for option in declared_options(method):
        decls = [option.flag, *("--" + a.replace("_", "-") for a in option.aliases)]
        clash = [d for d in decls if d in taken]
        if clash:
            raise UsageError(
                f"method {name!r} declares the translate option {clash[0]}, which is a flag of i2i translate itself; "
                "the plugin must rename it"
            )
        taken.update(decls)
        if option.type is bool:
            pairs = [f"{d}/--no-{d[2:]}" for d in decls]
            flags.append(click.Option([*pairs, _PREFIX + option.name], default=None, help=option.describe()))
            continue
        metavar = option.metavar or (
            "FILE"
            if option.is_file
            else "[" + "|".join(option.choices) + "]"
            if option.choices
            else {int: "INT", float: "NUMBER"}.get(option.type, "TEXT")
        )
        flags.append(
            click.Option([*decls, _PREFIX + option.name], default=None, metavar=metavar, help=option.describe())
        )
    return flags


@click.command("translate", cls=TranslateCommand)
@click.argument("checkpoint", type=click.Path(dir_okay=True))
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder (created; never one holding the inputs).",
)
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(min=1), help="Images per forward pass.")
@click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N, or mps/xla where torch has them."
)
@click.option(
    "--precision",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    help="auto: bf16 where the hardware has it (as training), else fp32.",
)
@click.option(
    "--size",
    type=click.IntRange(min=1),
    help="Resize the shorter side to N for the network (outputs keep the input size).",
)
@click.option(
    "--fit",
    default="pad",
    show_default=True,
    type=click.Choice(["pad", "resize"]),
    help="Reach the network's size multiple by reflect-padding (then cropping) or by resizing.",
)
@click.option(
    "--split",
    type=click.Choice(["left", "right"]),
    help="Inputs are side-by-side A|B pairs: translate their left (A) or right (B) half.",
)
@click.option(
    "--8bit", "eight_bit", is_flag=True, help="Write 8-bit PNGs for 16-bit inputs too (default: 16-bit in, 16-bit out)."
)
@click.option("--keep-16bit", is_flag=True, hidden=True, help="The default now (kept for old scripts).")
@click.option("--option", "extra", multiple=True, metavar="KEY=VALUE", help="A translate option of the method by name.")
@click.option("--html", is_flag=True, help="Also write OUT/index.html, a static gallery of inputs and outputs.")
@click.option(
    "--targets",
    type=click.Path(file_okay=False, exists=True),
    help="Folder of ground-truth images (same stems) to show in the gallery.",
)
@click.option(
    "--raw-weights", is_flag=True, help="Use the generators' raw weights, not their EMA, when the run kept one."
)
@click.pass_context
def translate(
    ctx: click.Context,
    checkpoint: str,
    inputs: tuple[str, ...],
    out: str,
    batch_size: int,
    device: str,
    precision: str,
    size: int | None,
    fit: str,
    split: str | None,
    eight_bit: bool,
    keep_16bit: bool,
    extra: tuple[str, ...],
    html: bool,
    targets: str | None,
    raw_weights: bool,
    **method_options: Any,
) -> None:
    """Translate image files (files, folders or globs) with the method stored in CHECKPOINT.

    \b
    i2i translate runs/run1/last.pt photos/ --out out/
    i2i translate runs/run1/last.pt 'photos/*.jpg' --out out/ --size 256 --html
    i2i translate runs/run1/last.pt --help     # adds the flags of this checkpoint's method
    """

    options: dict[str, Any] = {}
    for item in extra:
        key, value = parse_override(item)
        options[key.replace("-", "_")] = value
    options.update({k[len(_PREFIX) :]: v for k, v in method_options.items() if v is not None})
    loaded = ctx.meta.get("i2i.translate.loaded")
    if loaded is not None and Path(loaded[2]) == Path(checkpoint):
        dev = resolve_device(device)
        resolve_precision(precision, dev)
        translator = Translator(
            loaded[0], loaded[1], device=dev, precision=precision, source=checkpoint, step=loaded[3]
        )
    else:
        translator = load_checkpoint(checkpoint, device=device, precision=precision, prefer_ema=not raw_weights)
    translator.check_options(options)
    note = emulation_note(translator.precision, translator.device)
    if note:
        click.echo(f"warning: {note}", err=True)
    paths = collect_inputs(inputs)
    with removed_if_left_empty(Path(out)):  # a failed command leaves no empty output folder behind
        written = translate_files(
            translator,
            paths,
            Path(out),
            batch_size=batch_size,
            size=size,
            fit=fit,
            keep_16bit=not eight_bit,
            options=options,
            html=html,
            split=split,
            targets=Path(targets) if targets else None,
            warn_pair=_pair_check(translator),
        )
    click.echo(f"wrote {written} image(s) to {out}" + (f" (gallery: {Path(out) / 'index.html'})" if html else ""))


def _pair_check(translator: Any) -> Any:
    """When the run trained on side-by-side ``A|B`` files, a test for inputs of that double shape."""
    data = getattr(translator.config, "data", None)
    layout = getattr(data, "layout", "auto")
    if layout == "auto" and data is not None and getattr(data, "root", None):
        try:
            from i2i.data.layouts import detect_layout  # lazy: only this warning reads the training layout

            layout = detect_layout(Path(data.root), "train")
        except Exception:  # the training data may be gone or unreadable: no warning then
            return None
    if layout != "aligned":
        return None
    return lambda image: image.shape[-1] == 2 * image.shape[-2]


__all__ = ["translate", "method_flags", "TranslateCommand"]
