"""The ``i2i`` command: a thin click layer over :mod:`i2i.api`.

Contract: a user error (bad flag, bad config, missing data, unknown method, unreadable
checkpoint) prints one line starting with ``error:`` to stderr and exits 2, never a traceback;
an internal error exits 1 (``--verbose`` or ``I2I_VERBOSE=1`` shows the traceback).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from i2i import __version__, api
from i2i.cli.from_reference import from_reference
from i2i.config import run as config
from i2i.errors import I2IError, UsageError
from i2i.io import checkpoint as ckpt_io
from i2i.plugins.host import PluginHost, get_host, set_host
from i2i.train.rundir import latest_numbered
from i2i.train.tracking import check_loggers

#: Sub-commands that live in their own modules, imported when named: ``i2i translate`` then
#: does not import the evaluation stack (kornia and all, ~0.3 s of its start-up).
#: Name -> (module, attribute).
_COMMAND_MODULES = {
    "translate": ("i2i.cli.translate", "translate"),
    "eval": ("i2i.cli.evaluate", "evaluate"),
    "export": ("i2i.cli.export", "export"),
    "import-weights": ("i2i.cli.import_weights", "import_weights"),
}

_PLURALS = {"loss": "losses"}

_LIST_KINDS = {
    "importers": "importer",
    "methods": "method",
    "generators": "generator",
    "discriminators": "discriminator",
    "losses": "loss",
    "datasets": "dataset",
    "loggers": "logger",
}


def _host() -> Any:
    return get_host()


def _setup_host(disabled: Sequence[str]) -> None:
    if disabled:
        set_host(PluginHost(disabled=disabled))


class I2IGroup(click.Group):
    """Adds the commands plugins register (``i2i_register_commands``) to the built-in ones."""

    def _ensure_host(self, ctx: click.Context) -> None:
        if not ctx.meta.get("i2i.host_ready"):
            _setup_host(ctx.params.get("disable_plugin") or ())
            ctx.meta["i2i.host_ready"] = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx)) | set(_COMMAND_MODULES)
        try:
            self._ensure_host(ctx)
            names |= set(_host().registry.names("command"))
        except I2IError:
            pass
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMAND_MODULES and name not in self.commands:
            module, attribute = _COMMAND_MODULES[name]
            self.add_command(getattr(importlib.import_module(module), attribute))
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        self._ensure_host(ctx)
        registry = _host().registry
        if name in registry.names("command"):
            return registry.get("command", name).command
        return None


@click.group(cls=I2IGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="i2i")
@click.option("--verbose", is_flag=True, help="Show tracebacks of errors (anywhere on the command line).")
@click.option(
    "--disable-plugin",
    multiple=True,
    metavar="NAME",
    help="Do not load plugin NAME (repeatable; env I2I_DISABLED_PLUGINS=a,b does the same).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, disable_plugin: tuple[str, ...]) -> None:
    """Image-to-image translation with GANs: pix2pix, CycleGAN, Augmented CycleGAN, StarGAN and
    any method a plugin adds.

    \b
    Train on the built-in demo data:   i2i run --method pix2pix
    Train on your own folder:          i2i run --method cyclegan --data ./horse2zebra
    Translate images:                  i2i translate runs/cyclegan/last.pt photos/ --out out/
    """
    # --verbose is read by main() before click parses anything (tracebacks of any command).
    # I2IGroup.get_command has already set the host up when a sub-command was resolved;
    # `i2i --disable-plugin x` alone still needs it for a consistent state.
    if not ctx.meta.get("i2i.host_ready"):
        _setup_host(disable_plugin)
        ctx.meta["i2i.host_ready"] = True


# -- plugins and registries -----------------------------------------------------------------------
@cli.command("plugins")
def plugins_cmd() -> None:
    """List loaded plugins: distribution, version and what each registers."""
    host = _host()
    registry = host.registry  # collect first, so registration failures are listed too
    for name in host.plugin_names():
        info = host.infos[name]
        version = f" {info.version}" if info.version else ""
        click.echo(f"{name}  [{info.distribution}{version}]  {info.module}")
        for kind, names in registry.by_plugin(host.describe_plugin(name)).items():
            click.echo(f"    {_PLURALS.get(kind, kind + 's')}: {', '.join(names)}")
    for info in host.failures:
        click.echo(f"{info.name}  [{info.distribution} {info.version}]  FAILED: {info.error}")


@cli.command("list")
@click.argument("kind", type=click.Choice(sorted(_LIST_KINDS)))
@click.argument("pattern", required=False)
def list_cmd(kind: str, pattern: str | None) -> None:
    """List registered methods, generators, discriminators, losses, datasets or weight importers.

    PATTERN is an fnmatch pattern, e.g. i2i list generators 'unet*'.
    """
    records = _host().registry.records(_LIST_KINDS[kind], pattern)
    if not records:
        raise UsageError(f"no {kind} match {pattern!r}" if pattern else f"no {kind} registered")
    width = max(len(r.name) for r in records)
    for record in records:
        click.echo(f"{record.name.ljust(width)}  {record.description}")


# -- configs --------------------------------------------------------------------------------------
@cli.group("config")
def config_group() -> None:
    """Show and check run configs."""


@config_group.command("show")
@click.option(
    "--method", "-m", help="Method name (see: i2i list methods); optional with a --config file that names one."
)
@click.option(
    "--demo", is_flag=True, help="Show what `i2i run` without --data uses (the built-in demo data's settings)."
)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Start from this TOML file.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any key.")
def config_show(method: str | None, demo: bool, config_file: str | None, sets: tuple[str, ...]) -> None:
    """Print the full config of a method as TOML that `i2i run --config FILE` accepts back
    (unset optional keys appear as comments saying what unset means).

    \b
    Two bases, then --config and --set on top, as `i2i run` layers them:
      without --demo: the paper defaults, what `i2i run --data DIR` uses;
      with --demo:    what `i2i run` without --data uses (the demo settings,
                      unless --config or --set data.root=... is given).
    """

    if method is None and config_file is None:
        raise UsageError("i2i config show: name a method with --method (or give a --config file that names one)")
    # --set never switches the base: --demo alone decides it, as --data does for `i2i run`
    cfg = api.load_config(config_file, method=method, overrides=sets, demo=None if demo else False)
    click.echo(config.to_toml(cfg, show_unset=True), nl=False)


@config_group.command("check")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE")
def config_check(config_file: str, sets: tuple[str, ...]) -> None:
    """Validate a config file without running anything: every key, type and value that
    `i2i run` checks (registered names against the plugins loaded; whether the device exists
    and the data folder's contents are checked when a run starts)."""

    cfg = api.load_config(config_file, overrides=sets)
    check_loggers(cfg.train.loggers, _host().registry)
    click.echo(f"ok: {config_file} is a valid {cfg.method_name} config")


def _add_from_reference() -> None:
    config_group.add_command(from_reference)


_add_from_reference()


# -- training -------------------------------------------------------------------------------------
_RUN_FLAGS = {
    "steps": "train.steps",
    "batch_size": "train.batch_size",
    "image_size": "data.image_size",
    "device": "train.device",
    "precision": "train.precision",
    "seed": "train.seed",
    "data": "data.root",
    "out": "out",
}


@cli.command("run")
@click.option("--method", "-m", help="Method to train (see: i2i list methods).")
@click.option("--data", type=click.Path(), help="Data folder (omit to use the built-in demo data).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML run config.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any config key, e.g. method.lambda_cycle=5."
)
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: runs/METHOD).")
@click.option("--steps", type=click.IntRange(min=1), help="Shorthand for train.steps.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Shorthand for train.batch_size.")
@click.option(
    "--image-size",
    type=click.IntRange(min=8),
    help="Shorthand for data.image_size (load_size, and a method's own image_size, follow).",
)
@click.option("--device", help="auto, cpu, cuda or cuda:N (train.device).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), help="train.precision.")
@click.option("--seed", type=int, help="train.seed.")
@click.option(
    "--logger",
    "loggers",
    multiple=True,
    metavar="NAME",
    help="Experiment logger, repeatable (train.loggers; see: i2i list loggers), e.g. --logger wandb.",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest valid checkpoint.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Start over in an --out that holds a run (deletes its checkpoints, samples and logs).",
)
def run_cmd(
    method: str | None, config_file: str | None, sets: tuple[str, ...], resume: bool, overwrite: bool, **flags: Any
) -> None:
    """Train a method. Flags are shorthands for config keys; --set reaches any key.

    A new run never replaces another: an --out holding a run is refused (continue it with
    --resume, or start over with --overwrite); without --out, runs go to runs/METHOD, then
    runs/METHOD-2, -3 ... (--resume alone continues the newest of these).
    """

    if resume and overwrite:
        raise UsageError("--resume continues a run and --overwrite starts one over: choose one")
    cfg = resolve_run_config(method, config_file, sets, resume=resume, **flags)
    api.run(cfg, out=flags.get("out"), resume=resume, overwrite=overwrite)


def resolve_run_config(
    method: str | None, config_file: str | None, sets: Sequence[str], *, resume: bool = False, **flags: Any
) -> Any:
    """Combine --config, --set and the shorthand flags (flags win) into a RunConfig.

    Each layer is checked on its own (the file, each --set, each flag), so a bad value is an
    error even where a later layer replaces it.
    """

    layers: list[tuple[str, dict[str, Any]]] = [("--set", dict([config.parse_override(s)])) for s in sets]
    resumed_method = None
    file_data: dict[str, Any] | None = None
    if resume and not config_file:
        # the run's own config is the base; --set and flags say what to change
        file_data, source = _resumed_run_config(flags.get("out"), method)
        config_file, resumed_method, method = None, method, None
    for flag, key in _RUN_FLAGS.items():
        if flags.get(flag) is not None:
            layers.append((f"--{flag.replace('_', '-')}", {key: flags[flag]}))
    if flags.get("loggers"):
        layers.append(("--logger", {"train.loggers": list(flags["loggers"])}))

    def load(layers: list[tuple[str, dict[str, Any]]], finalize: bool = True) -> Any:
        registry = _host().registry
        data: dict[str, Any] | None
        if file_data is not None:
            data, where = file_data, source
        else:
            data, where = (config.read_toml(config_file), config_file) if config_file else (None, "")
        return config.resolve_config(
            lambda n: registry.get("method", n),
            file_data=data,
            method=method,
            layers=layers,
            source=where,
            registry=registry,
            finalize=finalize,
        )

    size = flags.get("image_size")
    if size is not None:
        flag_layer = next(layer for label, layer in layers if label == "--image-size")
        # the method's cross-table rules apply to the config with the flag, not to this probe
        base = load([item for item in layers if item[1] is not flag_layer], finalize=False)
        keys = {key for _, layer in layers for key in layer}
        if "data.load_size" not in keys:
            ratio = base.data.load_size / base.data.image_size
            flag_layer["data.load_size"] = max(size, int(round(size * ratio / 2)) * 2)
        # methods whose networks are sized for the image (StarGAN's classifier head) follow the flag
        if hasattr(base.method, "image_size") and "method.image_size" not in keys:
            flag_layer["method.image_size"] = size
    cfg = load(layers)
    if resumed_method and cfg.method_name != resumed_method:
        raise UsageError(f"--resume: {source} is a {cfg.method_name} run, not {resumed_method}")
    return cfg


def _resumed_run_config(out: str | None, method: str | None) -> tuple[dict[str, Any], str]:
    """The config of the run to resume, as TOML-like data, and where it came from: the run's
    ``config.toml``, else its newest checkpoint (which holds the whole config too)."""

    if not out:
        if not method:
            raise UsageError("--resume needs --out DIR (the folder of the run to continue)")
        out = str(latest_numbered(Path(f"runs/{method}")))
    saved = Path(out) / "config.toml"
    if saved.is_file():
        return config.read_toml(saved), str(saved)
    found = ckpt_io.find_resume_checkpoint(out)
    if found is None:
        raise UsageError(f"--resume: {out} holds no run to resume (no config.toml, last.pt or step_*.pt)")
    return dict(ckpt_io.Checkpoint.read(found, mmap=True).payload["config"]), str(found)


# -- entry point ----------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI with i2i's error contract (see the module docstring)."""
    if argv is None:  # the process's own entry point (tests call main(argv) many times in one process)
        _freeze_imported_objects()
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args or os.environ.get("I2I_VERBOSE") == "1"
    if "--verbose" in args:  # a group option, taken anywhere (`i2i run ... --verbose`, as the hint says)
        args = ["--verbose", *(arg for arg in args if arg != "--verbose")]
    _shown_warnings.clear()
    warnings.showwarning = _show_warning
    try:
        result = cli.main(args=args, prog_name="i2i", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        sys.exit(0)
    except click.ClickException as exc:
        _fail(exc.format_message(), 2, verbose)
    except UsageError as exc:
        _fail(str(exc), 2, verbose)
    except ValueError as exc:
        if "null byte" not in str(exc) and "null character" not in str(exc):
            _internal(exc, verbose)
        _fail("a path or value contains a NUL character (\\0); remove it", 2, verbose)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug in i2i or a plugin
        _internal(exc, verbose)
    sys.exit(result if isinstance(result, int) else 0)


def _freeze_imported_objects() -> None:
    """Keep what the imports made (torch's, click's and i2i's modules, classes and functions:
    hundreds of thousands of objects that live until exit anyway) out of the cyclic garbage
    collector (:func:`gc.freeze`). Without it, interpreter shutdown's collections walk them all:
    measured ~0.3 s of every ``i2i`` command's wall time on a 2-core host (benchmarks/README.md),
    and the run's own full collections walk them too. Objects made later are collected as usual."""
    gc.freeze()


def _internal(exc: BaseException, verbose: bool) -> None:
    if verbose:
        traceback.print_exc()
    hint = "" if verbose else " (run with --verbose for the traceback)"
    click.echo(f"error: internal error: {type(exc).__name__}: {_one_line(str(exc))}{hint}", err=True)
    sys.exit(1)


#: the warning lines this command has printed (see :func:`_show_warning`)
_shown_warnings: set[str] = set()


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Warnings reach CLI users as one ``warning:`` line, not as a source location, and each
    line once per command: Python's filter repeats a warning for each place that raises it (a
    data root without a test split is met by the run's summary, its evaluation data and the
    final evaluation), which says nothing new to the user."""
    text = f"warning: {_one_line(str(message))}"
    if text not in _shown_warnings:
        _shown_warnings.add(text)
        click.echo(text, err=True)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _fail(message: str, code: int, verbose: bool) -> None:
    if verbose:
        traceback.print_exc()
    click.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
