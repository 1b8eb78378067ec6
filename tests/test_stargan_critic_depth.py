"""StarGAN's critic depth follows the image size unless the user set it (issue #21's trap:
6 stride-2 layers on 64 px leave a 1x1 map behind a 33.5M-weight, weight-bound layer)."""

from __future__ import annotations

import pytest

import i2i
from i2i.cli.main import resolve_run_config
from i2i_stargan.config import critic_depth


@pytest.mark.parametrize("size, depth", [(4, 1), (8, 2), (32, 4), (64, 5), (96, 5), (128, 6), (178, 6), (256, 6)])
def test_critic_depth_is_log2_size_minus_one_capped_at_the_references_6(size, depth):
    assert critic_depth(size) == depth
    assert size // 2**depth >= 2  # the last map is never 1x1


def test_image_size_flag_picks_the_critic_depth():
    cfg = resolve_run_config("stargan", None, [], image_size=64, data="/d")
    assert (cfg.data.image_size, cfg.method.image_size, cfg.method.d_repeat_num) == (64, 64, 5)
    model = i2i.create_method("stargan", d_conv_dim=8, g_conv_dim=8, g_repeat_num=1, **_sizes(cfg))
    assert model.D.conv2.kernel_size == (2, 2)  # the classifier covers a 2x2 map, not 1x1


def test_the_papers_128_px_keeps_the_references_6():
    assert i2i.load_config(method="stargan", overrides={"data.root": "/d"}).method.d_repeat_num == 6


def test_an_explicit_depth_is_kept(tmp_path):
    cfg = resolve_run_config("stargan", None, ["method.d_repeat_num=6"], image_size=64, data="/d")
    assert cfg.method.d_repeat_num == 6
    file = tmp_path / "run.toml"
    file.write_text(
        '[method]\nname = "stargan"\nimage_size = 64\nd_repeat_num = 4\n[data]\nroot = "/d"\nimage_size = 64\n'
    )
    assert i2i.load_config(file).method.d_repeat_num == 4


def test_the_demo_gets_the_same_depth_as_before():
    cfg = i2i.load_config(method="stargan")  # no data: the demo's 64 px
    assert (cfg.method.image_size, cfg.method.d_repeat_num) == (64, 5)


def _sizes(cfg: i2i.RunConfig) -> dict[str, int]:
    return {"image_size": cfg.method.image_size, "d_repeat_num": cfg.method.d_repeat_num}
