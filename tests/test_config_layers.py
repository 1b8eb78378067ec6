"""Config layers: what the user sets explicitly rules over the defaults beneath it.

Epoch counts the user gives replace a ``train.steps`` that only a default layer set; of
several ``--set`` of one key the last wins before any check; ``i2i config show`` prints the
config ``i2i run`` would use with the same arguments.
"""

from __future__ import annotations

import attrs
import pytest

import i2i
from i2i.cli.main import main, resolve_run_config
from i2i.config import run as config
from i2i.errors import ConfigError
from i2i.train.schedule import decay_steps, total_steps

EPOCHS = ["train.epochs=1", "train.epochs_decay=0"]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


# -- epochs given by the user are the run's length --------------------------------------------
def test_user_epochs_replace_the_demo_defaults_steps():
    assert i2i.load_config(method="pix2pix").train.steps == 800  # the demo counts steps
    cfg = resolve_run_config("pix2pix", None, EPOCHS)
    assert cfg.train.steps is None and total_steps(cfg.train, batches_per_epoch=2) == 2
    only_decay = i2i.load_config(method="pix2pix", overrides=["train.epochs_decay=3"])
    assert only_decay.train.steps is None and total_steps(only_decay.train, 2) == (100 + 3) * 2


def test_user_epochs_in_a_file_replace_the_paper_defaults_steps(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[method]\nname = "stargan"\n[train]\nepochs = 3\nepochs_decay = 2\n')
    paper = i2i.load_config(method="stargan", overrides={"data.root": "/data"})
    assert (paper.train.steps, paper.train.decay_fraction) == (200_000, 0.5)
    cfg = i2i.load_config(path)
    # the steps' decay_fraction goes with them: epochs_decay is the decay the user asked for
    assert (cfg.train.steps, cfg.train.decay_fraction) == (None, None)
    assert (total_steps(cfg.train, 10), decay_steps(cfg.train, 10)) == (50, 20)
    kept = i2i.load_config(path, overrides=["train.decay_fraction=0.1"])
    assert kept.train.decay_fraction == 0.1


def test_steps_the_user_sets_still_win_over_their_epochs():
    assert i2i.load_config(method="pix2pix", overrides=[*EPOCHS, "train.steps=5"]).train.steps == 5
    assert resolve_run_config("pix2pix", None, EPOCHS, steps=7).train.steps == 7


# -- the last --set of a key wins ---------------------------------------------------------------
def test_a_repeated_set_replaces_the_earlier_one_before_any_check(capsys):
    sizes = ["data.image_size=32", "data.load_size=32", "data.image_size=40", "data.load_size=40"]
    cfg = i2i.load_config(method="pix2pix", overrides=sizes)
    assert (cfg.data.image_size, cfg.data.load_size) == (40, 40)
    code, out, err = _cli(capsys, "config", "show", "--method", "pix2pix", *(f"--set={s}" for s in sizes))
    assert code == 0 and "image_size = 40\nload_size = 40\n" in out, err
    fixed = i2i.load_config(method="pix2pix", overrides=["train.batch_size=0", "train.batch_size=2"])
    assert fixed.train.batch_size == 2
    with pytest.raises(ConfigError, match=r"^--set: data.load_size: must be >= data.image_size \(40\)"):
        i2i.load_config(method="pix2pix", overrides=[*sizes, "data.load_size=32"])  # the final value is checked


def test_set_over_a_config_file_is_checked_with_the_final_values(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[method]\nname = "pix2pix"\n[data]\nimage_size = 32\nload_size = 32\n')
    cfg = i2i.load_config(path, overrides=["data.image_size=40", "data.load_size=40"])
    assert (cfg.data.image_size, cfg.data.load_size) == (40, 40)
    cfg = resolve_run_config(None, str(path), ["data.image_size=40", "data.load_size=40"])
    assert (cfg.data.image_size, cfg.data.load_size) == (40, 40)


# -- config show prints what run uses ---------------------------------------------------------
def test_config_show_prints_what_run_uses(capsys, tmp_path):
    sets = ["train.seed=1", *EPOCHS]
    args = [a for s in sets for a in ("--set", s)]
    code, demo, _ = _cli(capsys, "config", "show", "--method", "pix2pix", "--demo", *args)
    assert code == 0 and demo == config.to_toml(resolve_run_config("pix2pix", None, sets), show_unset=True)
    # without --demo, --set does not switch the base: the paper defaults, as `i2i run --data DIR`
    code, paper, _ = _cli(capsys, "config", "show", "--method", "pix2pix", *args)
    ran = resolve_run_config("pix2pix", None, sets, data=str(tmp_path))
    ran = attrs.evolve(ran, data=attrs.evolve(ran.data, root=None))  # config show has no --data
    assert code == 0 and paper == config.to_toml(ran, show_unset=True)
    code, plain, _ = _cli(capsys, "config", "show", "--method", "pix2pix", "--set", "train.seed=1")
    assert code == 0 and "image_size = 256\n" in plain and "\nsteps = " not in plain


def test_config_show_takes_the_method_from_the_config_file(capsys, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[method]\nname = "stargan"\ng_conv_dim = 24\n')
    code, shown, _ = _cli(capsys, "config", "show", "--config", str(path))
    named, _ = _cli(capsys, "config", "show", "--config", str(path), "--method", "stargan")[1:]
    assert code == 0 and shown == named and 'name = "stargan"\n' in shown and "g_conv_dim = 24\n" in shown
    code, _, err = _cli(capsys, "config", "show")
    assert code == 2 and err.count("\n") == 1 and "--method" in err
    path.write_text("[train]\nsteps = 3\n")
    code, _, err = _cli(capsys, "config", "show", "--config", str(path))
    assert code == 2 and err.count("\n") == 1 and str(path) in err and "method" in err
