"""Config layers: what the user sets explicitly rules over the defaults beneath it.

Epoch counts the user gives replace a ``train.steps`` that only a default layer set.
"""

from __future__ import annotations

import pytest

import i2i
from i2i.cli.main import resolve_run_config
from i2i.train.schedule import decay_steps, total_steps

EPOCHS = ["train.epochs=1", "train.epochs_decay=0"]


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
