"""The CLI contract: every command has --help; user errors are one `error:` line and exit 2."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from i2i.cli.main import cli, main


def _all_commands(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _all_commands(command, ctx, prefix + (name,))


def _command_paths():
    with click.Context(cli) as ctx:
        return list(_all_commands(cli, ctx))


def test_expected_commands_exist():
    paths = {" ".join(p) for p in _command_paths()}
    assert {"run", "plugins", "list", "config", "config show"} <= paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_translate_start_up_imports_no_evaluation_stack():
    """``i2i translate`` imports the CLI, every plugin and its own command, and none of them
    imports kornia (~0.2 s) or the evaluation stack: sub-commands load when named, plugins
    import heavy libraries where they use them (docs/plugins.md, Rules)."""
    code = (
        "import sys, click; from i2i.cli.main import cli; from i2i.plugins.host import get_host; "
        "get_host().registry; cli.get_command(click.Context(cli), 'translate'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kornia' or m.startswith('i2i.eval.runner')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _freeze_count_at_exit(code: str) -> int:
    """Run ``code`` in a fresh interpreter that prints ``gc.get_freeze_count()`` last."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split("frozen")[-1])


def test_the_process_entry_point_freezes_what_the_imports_made():
    """``i2i`` itself keeps the imported modules out of the cyclic collector (shutdown's
    collections walked them, ~0.3 s a command); ``main(argv)`` in a library or test process
    leaves the caller's garbage collector alone."""
    entry_point = (
        "import atexit, gc, sys; from i2i.cli.main import main; "
        "atexit.register(lambda: print('frozen', gc.get_freeze_count())); "
        "sys.argv = ['i2i', 'list', 'methods']; main()"
    )
    assert _freeze_count_at_exit(entry_point) > 10_000
    library_call = (
        "import gc; from i2i.cli.main import main\n"
        "try:\n    main(['list', 'methods'])\nexcept SystemExit:\n    pass\n"
        "print('frozen', gc.get_freeze_count())"
    )
    assert _freeze_count_at_exit(library_call) == 0


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "i2i", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout


def run_main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def _assert_one_error_line(err: str, needle: str) -> None:
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--stpes", "3"], "No such option '--stpes'"),
        (["run", "--method", "dumy"], "unknown method 'dumy'; did you mean 'dummy'?"),
        (["run", "--method", "dummy", "--set", "method.width=wide"], "method.width: expected int, got 'wide'"),
        (["run", "--method", "dummy", "--set", "nokey"], "expected KEY=VALUE"),
        (["run", "--method", "dummy", "--config", "/no/such.toml"], "/no/such.toml: config file not found"),
        (["run", "--resume"], "--resume needs --out"),
        (["list", "generators", "zzz*"], "no generators match 'zzz*'"),
        (["config", "show"], "name a method with --method"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
)
def test_user_errors_are_one_line_exit_2(args, needle, capsys, dummy_host):
    code, _, err = run_main(args, capsys)
    assert code == 2
    _assert_one_error_line(err, needle)


def test_resume_without_a_run(tmp_path, capsys, dummy_host):
    code, _, err = run_main(["run", "--resume", "--out", str(tmp_path)], capsys)
    assert code == 2
    _assert_one_error_line(err, "holds no run to resume")


def test_internal_errors_exit_1_and_verbose_shows_traceback(capsys, dummy_host, monkeypatch):
    import i2i.api

    def explode(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(i2i.api, "run", explode)
    code, _, err = run_main(["run", "--method", "dummy"], capsys)
    assert code == 1 and "error: internal error: RuntimeError: kaboom" in err and "Traceback" not in err
    assert "(run with --verbose for the traceback)" in err
    for args in (["--verbose", "run", "--method", "dummy"], ["run", "--method", "dummy", "--verbose"]):
        code, _, err = run_main(args, capsys)  # where the hint puts it works too
        assert code == 1 and "Traceback" in err and "No such option" not in err, args


def test_list_and_config_show(capsys, dummy_host, tmp_path):
    code, out, _ = run_main(["list", "methods"], capsys)
    assert code == 0 and out.split()[0] == "dummy" and "tiny paired method" in out
    code, out, _ = run_main(["list", "generators", "resnet*"], capsys)
    assert code == 0 and all(line.startswith("resnet") for line in out.splitlines())
    code, out, _ = run_main(["config", "show", "--method", "dummy"], capsys)
    assert code == 0
    path = tmp_path / "c.toml"
    path.write_text(out)
    code, check, _ = run_main(["config", "check", str(path)], capsys)
    assert code == 0 and "valid dummy config" in check


def test_plugins_lists_distribution_and_registrations(capsys, dummy_host):
    code, out, _ = run_main(["plugins"], capsys)
    assert code == 0
    assert "i2i.components  [i2i-translate" in out
    assert "generators: " in out and "methods: dummy" in out


def test_run_flags_are_shorthands(dummy_host):
    from i2i.cli.main import resolve_run_config

    cfg = resolve_run_config(
        "dummy",
        None,
        ["method.lambda_l1=2"],
        steps=5,
        batch_size=3,
        image_size=64,
        device="cpu",
        precision="fp32",
        seed=9,
        data="/d",
        out="/o",
    )
    assert (cfg.train.steps, cfg.train.batch_size, cfg.train.device, cfg.train.precision, cfg.train.seed) == (
        5,
        3,
        "cpu",
        "fp32",
        9,
    )
    assert (cfg.data.image_size, cfg.data.root, cfg.out, cfg.method.lambda_l1) == (64, "/d", "/o", 2.0)
    assert cfg.data.load_size == 72  # scaled with the method's load/crop ratio (36/32)


def test_image_size_flag_reaches_a_methods_own_image_size():
    from i2i.cli.main import resolve_run_config

    cfg = resolve_run_config("stargan", None, [], image_size=64, data="/d")
    assert cfg.data.image_size == 64 and cfg.method.image_size == 64


def test_run_counts_skipped_files_at_the_end(tmp_path, capsys, dummy_host):
    from PIL import Image

    for split in ("A", "B"):
        folder = tmp_path / "data" / "train" / split
        folder.mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 36), (40 * i, 90, 200)).save(folder / f"{i}.png")
        for i in range(2, 5):  # every batch of 4 out of these 5 holds a bad file
            (folder / f"{i}.png").write_bytes(b"\x89PNG broken")
    args = [
        "run",
        "--method",
        "dummy",
        "--data",
        str(tmp_path / "data"),
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--out",
        str(tmp_path / "run"),
        "--set",
        "data.num_workers=0",
        "--set",
        "train.eval_at_end=false",
    ]
    code, out, err = run_main(args, capsys)
    assert code == 0, err
    text = out + err
    assert "image files were skipped" in text  # the count at the end of the run
    assert "2.png" in text or "3.png" in text or "4.png" in text  # each bad file is named in a warning


def test_resume_from_the_cli_continues_the_saved_run_and_extends_it(tmp_path, capsys, dummy_host):
    """`--resume` reads OUT/config.toml even when --method is given again (no spurious
    "ignored" keys from the method's defaults), `--steps` trains longer, and a different
    method is refused."""
    from train_support import make_paired  # tests/ is on sys.path (pytest's rootdir-relative import)

    data = make_paired(tmp_path / "data")
    out = str(tmp_path / "run")
    first = [
        "run",
        "--method",
        "dummy",
        "--data",
        str(data),
        "--steps",
        "2",
        "--out",
        out,
        "--image-size",
        "16",
        "--set",
        "data.num_workers=0",
        "--set",
        "train.eval_at_end=false",
        "--set",
        "train.checkpoint_every=1",
    ]
    code, _, err = run_main(first, capsys)
    assert code == 0, err
    code, _, err = run_main(["run", "--method", "dummy", "--resume", "--out", out, "--steps", "4"], capsys)
    assert code == 0, err
    assert "resuming from" in err and "changed on resume: train.steps=4" in err
    assert "ignored" not in err
    assert "steps = 4" in (tmp_path / "run" / "config.toml").read_text()
    code, _, err = run_main(["run", "--method", "pix2pix", "--resume", "--out", out], capsys)
    assert code == 2
    _assert_one_error_line(err, "is a dummy run, not pix2pix")


def test_a_warning_raised_in_several_places_is_printed_once(tmp_path, capsys, dummy_host):
    """A data root without a test split is met by the run's summary, its evaluation data and
    the final evaluation: Python warns from each place, the CLI prints the line once."""
    from PIL import Image

    for split in ("A", "B"):
        folder = tmp_path / "data" / "train" / split
        folder.mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (20, 20), (40 * i, 90, 200)).save(folder / f"{i}.png")
    args = ["run", "--method", "dummy", "--data", str(tmp_path / "data"), "--steps", "1", "--out", str(tmp_path / "r")]
    code, out, err = run_main([*args, "--set", "data.num_workers=0"], capsys)
    assert code == 0, err
    assert "evaluation on 2 training images" in err  # the final evaluation ran, and met it again
    assert err.count("has no test/ or val/ split: evaluating on the training images") == 1, err
    # a second command in the same process says it again: the memory is per command
    code, _, err = run_main([*args[:-1], str(tmp_path / "r2"), "--set", "data.num_workers=0"], capsys)
    assert code == 0 and err.count("has no test/ or val/ split: evaluating on the training images") == 1, err
