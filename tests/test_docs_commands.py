"""The README and docs/*.md run as written.

Every ``i2i`` command in their shell code blocks and inline code spans is parsed by the real
click command (so every sub-command, flag and choice must exist and take its value), every
``--set KEY=VALUE`` is loaded into the method's config (so the key exists and the value has
its type), every ``i2i.NAME`` in a Python block exists, and every TOML block that is a run
config loads. The cheap commands (``plugins``, ``list``, ``config show``) are run, and so are
the ``i2i run`` commands that need no missing data folder, with tiny sizes.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from i2i import api
from i2i.cli.main import cli

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"(?<!`)`(i2i [^`]+)`(?!`)")
SHELL = ("bash", "sh", "shell", "console", "")


def blocks(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(path.read_text())]


def shell_commands(body: str) -> list[tuple[list[str], str | None]]:
    """``(argv after 'i2i', redirect target)`` for each i2i command of a shell block."""
    body = body.replace("\\\n", " ")
    out = []
    for line in body.splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        command: list[str] = []
        for token in [*tokens, "&&"]:
            if token in ("&&", "||", ";", "|"):
                out.extend(_i2i_argv(command))
                command = []
            else:
                command.append(token)
    return out


def _i2i_argv(tokens: list[str]) -> list[tuple[list[str], str | None]]:
    redirect = None
    if ">" in tokens:
        at = tokens.index(">")
        redirect, tokens = (tokens[at + 1] if at + 1 < len(tokens) else None), tokens[:at]
    for i, token in enumerate(tokens):  # i2i ..., python -m i2i ..., torchrun ... -m i2i ...
        if token == "i2i" and (i == 0 or tokens[i - 1] == "-m"):
            return [(tokens[i + 1 :], redirect)]
    return []


def all_commands(inline: bool = False) -> list[tuple[str, list[str], str | None]]:
    """``(doc, argv, redirect)`` of the shell blocks' commands (or of the inline code spans:
    fragments like `i2i run --method` in prose, whose flags must exist but need no value)."""
    found = []
    for path in DOCS:
        text = path.read_text()
        if inline:
            for span in _INLINE.findall(_FENCE.sub("", text)):
                found += [(path.name, argv, None) for argv, _ in shell_commands(span)]
            continue
        for lang, body in blocks(path):
            if lang in SHELL:
                found += [(path.name, argv, redirect) for argv, redirect in shell_commands(body)]
    return found


def _options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def _resolve(argv: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The click command an argv names, its own arguments, and the names on the way."""
    ctx = click.Context(cli)
    command: click.Command = cli
    names: list[str] = []
    args = list(argv)
    while isinstance(command, click.Group):
        while args and args[0].startswith("-"):
            args.pop(0)  # group options (--verbose, --disable-plugin X)
        assert args, f"i2i {' '.join(argv)}: no sub-command"
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"i2i {' '.join(argv)}: no command {args[0]!r} (known: {command.list_commands(ctx)})"
        names.append(args.pop(0))
        command = sub
    return command, args, names


def _method_of(args: list[str], toml_methods: dict[str, str]) -> str | None:
    for flag in ("--method", "-m"):
        if flag in args:
            return args[args.index(flag) + 1]
    if "--config" in args:
        return toml_methods.get(args[args.index("--config") + 1])
    return None


def _sets(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--set"]


def _check_keys(where: str, method: str | None, sets: list[str]) -> None:
    methods = [method] if method else api.list_methods()
    errors = []
    for name in methods:
        try:
            api.load_config(method=name, overrides=sets)
            return
        except Exception as exc:
            errors.append(f"{name}: {exc}")
    pytest.fail(f"{where}: --set {' '.join(sets)} fails: {'; '.join(errors)}")


def method_option_flags() -> set[str]:
    """Flags some registered method declares as translate options (``i2i translate`` adds the
    flags of the checkpoint's method, which the docs' example checkpoints do not exist to show)."""
    from i2i.plugins.host import get_host

    registry = get_host().registry
    flags: set[str] = set()
    for name in api.list_methods():
        options = getattr(registry.get("method", name).factory, "translate_options", ())
        if callable(options):  # declared by a method on the instance: the command's flags are static
            continue
        flags |= {str(getattr(o, "flag", None) or "--" + o.name.replace("_", "-")) for o in options}
    return flags


def _without_method_flags(command: click.Command, args: list[str]) -> list[str]:
    own, theirs = _options(command), method_option_flags()
    out, skip = [], False
    for i, token in enumerate(args):
        if skip:
            skip = False
        elif token.split("=", 1)[0] in theirs - own:
            skip = "=" not in token and i + 1 < len(args) and not args[i + 1].startswith("-")
        else:
            out.append(token)
    return out


def test_every_documented_command_parses_and_its_keys_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths in the docs (runs/..., my.toml) must not depend on the checkout
    commands = all_commands()
    assert len(commands) >= 15, commands  # the README alone has more; the extraction works
    toml_methods: dict[str, str] = {}
    checked = 0
    for doc, argv, redirect in commands:
        where = f"{doc}: i2i {' '.join(argv)}"
        command, args, names = _resolve(argv)
        parsed = _without_method_flags(command, args) if names == ["translate"] else list(args)
        try:
            command.make_context(" ".join(["i2i", *names]), parsed, resilient_parsing=False)
        except click.exceptions.Exit:
            pass  # --help
        except click.UsageError as exc:
            pytest.fail(f"{where}: {exc.format_message()}")
        method = _method_of(args, toml_methods)
        if names == ["config", "show"] and redirect and method:
            toml_methods[redirect] = method
        sets = _sets(args)
        if sets:
            _check_keys(where, method, sets)
        checked += 1
    assert checked == len(commands)


def test_inline_commands_name_existing_commands_and_flags():
    spans = all_commands(inline=True)
    assert len(spans) >= 5, spans
    method_flags = method_option_flags()
    for doc, argv, _ in spans:
        command, args, names = _resolve(argv)
        known = _options(command) | (method_flags if names == ["translate"] else set())
        for token in args:
            if token.startswith("--"):
                assert token.split("=", 1)[0] in known, f"{doc}: `i2i {' '.join(argv)}`: no option {token}"


def test_the_checker_catches_what_the_readme_once_had():
    """The README's old example: not a CycleGAN key, and an unknown flag."""
    with pytest.raises(pytest.fail.Exception, match="lambda_cycle"):
        _check_keys("README", "cyclegan", ["method.lambda_cycle=5"])
    command, args, names = _resolve(["run", "--stepz", "3"])
    assert "--stepz" not in _options(command) and "--steps" in _options(command)
    with pytest.raises(click.UsageError, match="--stepz"):
        command.make_context("i2i run", args)
    with pytest.raises(AssertionError, match="no command 'trian'"):
        _resolve(["trian"])


def test_python_and_toml_blocks_name_what_exists(tmp_path):
    import i2i

    names = 0
    for path in DOCS:
        for lang, body in blocks(path):
            if lang == "python":
                for node in ast.walk(ast.parse(body)):
                    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "i2i":
                        assert hasattr(i2i, node.attr), f"{path.name}: i2i.{node.attr} does not exist"
                        names += 1
            elif lang == "toml" and re.search(r"^\[method\]", body, re.M):
                config = tmp_path / "block.toml"
                config.write_text(body)
                api.load_config(config)  # a run-config block loads: keys exist, values fit
    assert names >= 5


def _tiny(args: list[str], out: Path) -> list[str]:
    """The same command with a tiny, quick run (the flags it names keep their values)."""
    args = list(args)
    if "--steps" in args:
        args[args.index("--steps") + 1] = "2"
    else:
        args += ["--steps", "2"]
    method = _method_of(args, {}) or "cyclegan"
    fields = api.load_config(method=method).method
    small = [f"method.{k}=8" for k in ("ngf", "ndf", "g_conv_dim", "d_conv_dim") if hasattr(fields, k)]
    args += ["--image-size", "32", "--out", str(out), "--set", "train.eval_at_end=false", "--set", "data.num_workers=0"]
    return args + [item for key in small for item in ("--set", key)]


def test_cheap_documented_commands_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = []
    for doc, argv, redirect in all_commands():
        command, args, names = _resolve(argv)
        if names in (["plugins"], ["list"], ["config", "show"]):
            result = runner.invoke(cli, argv)
            assert result.exit_code == 0, f"{doc}: i2i {' '.join(argv)}: {result.output}"
            if redirect:
                Path(redirect).write_text(result.output)
            ran.append(argv)
        elif names == ["run"] and "--resume" not in args and "--data" not in args and "--config" in args:
            config = args[args.index("--config") + 1]
            if not Path(config).is_file():
                continue
            result = runner.invoke(cli, ["run", *_tiny(args, tmp_path / f"run{len(ran)}")])
            assert result.exit_code == 0, f"{doc}: i2i {' '.join(argv)}: {result.output} {result.exception!r}"
            ran.append(argv)
    assert any(a[:1] == ["run"] for a in ran) and any(a[:1] == ["plugins"] for a in ran), ran


def test_the_quickstart_demo_command_runs_tiny(tmp_path):
    """``i2i run --method pix2pix`` (the README's first command), on the demo data, tiny."""
    first = next(argv for _, argv, _ in all_commands() if argv[:1] == ["run"] and "--data" not in argv)
    assert first == ["run", "--method", "pix2pix"]
    result = CliRunner().invoke(cli, ["run", *_tiny(first[1:], tmp_path / "quick")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "quick" / "index.html").is_file()
