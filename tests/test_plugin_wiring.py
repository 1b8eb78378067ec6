"""Library users and plugins reach the run through what they hand in, not global state.

* ``Trainer``/``i2i.run`` train an already-built ``Method`` (Lightning's ``fit(model)``), no
  plugin registration needed;
* the data layer uses the host it is given: a dataset layout registered only in
  ``Trainer(host=...)`` is found;
* the built-in methods take their GAN objective from the loss registry, so a plugin's loss is
  selectable by name (``--set method.gan_mode=softplus``, the plugin guide's example), while the
  built-in names build exactly the ``GANLoss`` they always did; the registry asked is the one of
  the host building the method (``PluginHost.build_method``), not the process-wide one.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from train_support import dummy_config, dummy_host, make_paired

import i2i
import i2i.testing
from i2i.plugins.host import PluginHost, set_host


class SoftplusGANLoss(nn.Module):
    """The guide's example loss: non-saturating GAN loss with softplus."""

    def forward(self, prediction, target_is_real, for_discriminator=True):
        return F.softplus(-prediction if target_is_real else prediction).mean()


@i2i.hookimpl
def _register_losses():
    yield i2i.LossSpec("softplus", SoftplusGANLoss, "non-saturating GAN loss with softplus")


def test_a_plugins_loss_is_selectable_as_gan_mode() -> None:
    host = PluginHost(plugins=[("softplus", SimpleNamespace(i2i_register_losses=_register_losses))])
    set_host(PluginHost())  # the process-wide host knows no softplus: the building host must be asked
    for name in ("cyclegan", "pix2pix", "augcyclegan"):
        if name not in host.registry.names("method"):
            pytest.skip(f"{name} plugin not installed")
        spec = host.registry.get("method", name)
        method = i2i.create_method(name, host=host, **{**spec.test_overrides, "gan_mode": "softplus"})
        assert isinstance(method.gan_loss, SoftplusGANLoss), name
        batch = i2i.testing.dummy_batch(method.data_info, size=32)
        losses = i2i.testing.run_steps(method, batch, 1)[0]
        assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    # built-in names: the same GANLoss module as before, so the numerics do not move
    lsgan = i2i.create_method("cyclegan", host=host, **host.registry.get("method", "cyclegan").test_overrides)
    assert isinstance(lsgan.gan_loss, i2i.GANLoss) and lsgan.gan_loss.mode == "lsgan"
    with pytest.raises(i2i.UsageError, match="method.gan_mode: unknown loss 'softplux'; did you mean 'softplus'"):
        i2i.create_method("cyclegan", host=host, gan_mode="softplux")


def test_trainer_trains_an_already_built_unregistered_method(tmp_path: Path) -> None:
    import dummy_plugin

    host = dummy_host()
    root = make_paired(tmp_path / "data", n_train=4, n_test=2, size=16)
    config = dummy_config(host, root, steps=2)
    bare = PluginHost(autoload=False)  # knows no method at all
    method = dummy_plugin.Dummy(dummy_plugin.DummyConfig(width=3), i2i.DataInfo(kind=i2i.PAIRED))
    before = {k: v.clone() for k, v in method.state_dict().items()}
    trainer = i2i.run(config, method=method, out=tmp_path / "run", host=bare, progress=False)
    assert trainer.method is method and trainer.step == 2
    assert any(not torch.equal(before[k], v) for k, v in method.state_dict().items())
    assert (tmp_path / "run" / "last.pt").is_file()

    # a method built for other data is refused with the reason, before any step
    grey = dummy_plugin.Dummy(dummy_plugin.DummyConfig(), i2i.DataInfo(kind=i2i.PAIRED, channels_a=1, channels_b=1))
    with pytest.raises(i2i.ConfigError, match="built for paired data with 1/1 channels"):
        i2i.run(config, method=grey, out=tmp_path / "grey", host=bare, progress=False)


def test_a_dataset_registered_only_in_the_trainers_host_is_found(tmp_path: Path) -> None:
    import dummy_plugin

    from i2i.data.datasets import AlignedDataset, LoadOptions

    made: list[str] = []

    def side_by_side(config, split="train"):
        made.append(split)
        files = sorted((Path(config.root) / split).glob("*.png"))
        return AlignedDataset(files, LoadOptions(preprocess="none", channels_a=3, channels_b=3), root=str(config.root))

    @i2i.hookimpl
    def register_datasets():
        yield i2i.DatasetSpec("my_sbs", side_by_side, "side-by-side pairs, a plugin's layout")

    import numpy as np
    from PIL import Image

    for split in ("train", "test"):
        (tmp_path / "data" / split).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((16, 32, 3), 40 * i, np.uint8)).save(tmp_path / "data" / split / f"{i}.png")
    host = PluginHost(
        autoload=False,
        plugins=[("dummy", dummy_plugin), ("sbs", SimpleNamespace(i2i_register_datasets=register_datasets))],
    )
    set_host(PluginHost(autoload=False))  # the global host does not know the layout
    config = i2i.load_config(
        method="dummy",
        host=host,
        overrides={
            "data.root": str(tmp_path / "data"),
            "data.layout": "my_sbs",
            "data.image_size": 16,
            "data.load_size": 16,
            "data.num_workers": 0,
            "train.batch_size": 2,
            "train.steps": 1,
            "train.device": "cpu",
            "train.precision": "fp32",
        },
    )
    i2i.Trainer(config, out_dir=tmp_path / "run", host=host, progress=False).fit()
    assert "train" in made and (tmp_path / "run" / "last.pt").is_file()


def test_hooks_get_a_read_only_view_of_the_run(tmp_path: Path) -> None:
    from i2i.train.view import RunView

    seen: list[object] = []

    class Watcher:
        @i2i.hookimpl
        def i2i_train_start(self, run):
            seen.append(run)
            with pytest.raises(AttributeError, match="read-only"):
                run.step = 99
            assert run.is_main and run.method is not None and run.out_dir == tmp_path / "run" and run.total_steps == 2

        @i2i.hookimpl
        def i2i_train_end(self, run, step, status):
            seen.append(run)
            assert run.step == step == 2 and status == "finished"

    host = dummy_host()
    host.register(Watcher(), "watcher")
    config = dummy_config(host, make_paired(tmp_path / "data", n_train=4, n_test=2), steps=2)
    trainer = i2i.Trainer(config, out_dir=tmp_path / "run", host=host, progress=False)
    trainer.fit()
    assert len(seen) == 2 and seen[0] is seen[1] is trainer.view and isinstance(seen[0], RunView)
    assert not isinstance(seen[0], i2i.Trainer)
