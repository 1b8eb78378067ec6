"""``i2i export CKPT --format torchscript|onnx --out FILE``: generators for deployment.

See :mod:`i2i.inference.export` for what is exported and the sidecar JSON that describes the inputs.
"""

from __future__ import annotations

from pathlib import Path

import click

from i2i.inference.export import export_generators
from i2i.io.checkpoint import Checkpoint


@click.command("export")
@click.argument("checkpoint", type=click.Path())
@click.option("--format", "fmt", required=True, type=click.Choice(["torchscript", "onnx"]), help="Output format.")
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file; with several generators, one file per generator: STEM_<name>.SUFFIX.",
)
@click.option("--generator", help="Export only this generator (e.g. G_B), to --out itself.")
@click.option("--raw-weights", is_flag=True, help="Export the raw weights, not the EMA, when the run kept one.")
def export(checkpoint: str, fmt: str, out: str, generator: str | None, raw_weights: bool) -> None:
    """Export the generator(s) of CHECKPOINT with dynamic batch and image size.

    \b
    i2i export runs/pix2pix/last.pt --format onnx --out facades.onnx
    i2i export runs/cyclegan/last.pt --format torchscript --out h2z.pt   # h2z_G_A.pt, h2z_G_B.pt
    """

    method, config = Checkpoint.read(checkpoint, mmap=True).build_method(prefer_ema=not raw_weights)
    for path in export_generators(method, fmt, out, generator=generator, config=config, inputs=_inputs(checkpoint)):
        click.echo(f"wrote {path} (+ {path.name}.json)")


def _inputs(checkpoint: str) -> list[Path]:
    """What an export must never replace: the checkpoint (a run folder: every checkpoint in it)."""
    path = Path(checkpoint)
    if path.is_dir():
        return [p for p in path.iterdir() if p.suffix in (".pt", ".pth", ".toml", ".jsonl")]
    return [path]
