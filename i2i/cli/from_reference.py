"""``i2i config from-reference``: a reference command line or option file -> an i2i TOML config.

The formats are parsed by :mod:`i2i.config.from_reference`; what each option means comes from the
method's plugin (``MethodSpec.reference``), so the command works for any method that declares
one. The written config is complete (every key, as ``i2i config show`` prints it), so
``i2i run --config FILE`` runs the converted experiment; what has no i2i equivalent is listed
on stderr, one option a line, with what i2i does instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from i2i.config import run as _config
from i2i.config.from_reference import convert_reference
from i2i.errors import ConfigError, UsageError
from i2i.io.atomic import atomic_write_bytes


@click.command("from-reference", context_settings={"ignore_unknown_options": True})
@click.option("--method", "-m", help="The i2i method (default: from --model, or the options' own names).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the TOML here (default: stdout).")
@click.argument("source", nargs=-1, type=click.UNPROCESSED, required=True)
def from_reference(method: str | None, output: str | None, source: tuple[str, ...]) -> None:
    """Convert a reference experiment into an i2i config that `i2i run --config` runs.

    SOURCE is an option file the reference wrote (junyanz `train_opt.txt` / `opt.txt`, the
    `opt.txt` of the Augmented CycleGAN release, a file holding StarGAN's `Namespace(...)`
    printout), `-` for stdin, or the reference command line itself after `--`:

    \b
    i2i config from-reference checkpoints/facades_pix2pix/train_opt.txt -o facades.toml
    i2i config from-reference -o h2z.toml -- python train.py --dataroot ./datasets/horse2zebra \\
        --model cycle_gan --netG unet_256 --lambda_identity 0
    i2i run --config facades.toml
    """

    if len(source) == 1 and source[0] == "-":
        text = sys.stdin.read()
    elif len(source) == 1 and Path(source[0]).is_file():
        try:
            text = Path(source[0]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{source[0]}: cannot read the option file ({exc})") from None
    elif len(source) == 1 and not source[0].startswith("-") and " " not in source[0]:
        raise UsageError(f"{source[0]}: no such option file (a command line goes after --)")
    else:
        text = " ".join(source)
    try:
        config, conversion = convert_reference(text, method=method)
    except ConfigError as exc:
        raise ConfigError(f"{' '.join(source) if len(source) == 1 else 'reference options'}: {exc}") from None
    toml = _config.to_toml(config)
    if output:
        atomic_write_bytes(output, toml.encode("utf-8"))
        click.echo(f"wrote {output} ({conversion.method}, {len(conversion.values)} options carried over)", err=True)
    else:
        click.echo(toml, nl=False)
    for name, why in conversion.unmapped:
        click.echo(f"not carried over: --{name}: {why}", err=True)
    for name in conversion.unknown:
        click.echo(f"not carried over: --{name}: unknown to the {conversion.method} reference table", err=True)
