"""i2i-cut's own tests: i2i's method conformance suite, inherited, plus PatchNCE unit tests.

Run after installing the package next to i2i: ``pytest examples/third_party_plugin/tests``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import i2i
import i2i_cut.plugin
from i2i import PluginHost
from i2i.testing import MethodConformance, dummy_batch, run_steps
from i2i_cut import CUT, CUTConfig, PatchSampleMLP, patch_nce_loss
from i2i_cut.patchnce import encode, encoder_channels

torch.set_num_threads(1)


def cut_host() -> PluginHost:
    """Only i2i's built-ins and this plugin, whatever else is installed."""
    return PluginHost(autoload=False, plugins=[("cut", i2i_cut.plugin)])


class TestCUTConformance(MethodConformance):
    method_name = "cut"
    learn_key = "G/nce"

    def make_host(self) -> PluginHost:
        return cut_host()


class TestFastCUTConformance(TestCUTConformance):
    method_name = "fastcut"


# -- PatchNCE -----------------------------------------------------------------------------------
def _reference_patch_nce(feat_q: torch.Tensor, feat_k: torch.Tensor, batch_size: int, T: float) -> torch.Tensor:
    """The reference PatchNCELoss, transcribed literally (bmm for the positives too)."""
    num_patches, dim = feat_q.shape
    feat_k = feat_k.detach()
    l_pos = torch.bmm(feat_q.view(num_patches, 1, -1), feat_k.view(num_patches, -1, 1)).view(num_patches, 1)
    feat_q = feat_q.view(batch_size, -1, dim)
    feat_k = feat_k.view(batch_size, -1, dim)
    npatches = feat_q.size(1)
    l_neg = torch.bmm(feat_q, feat_k.transpose(2, 1))
    l_neg.masked_fill_(torch.eye(npatches, dtype=torch.bool)[None, :, :], -10.0)
    out = torch.cat((l_pos, l_neg.view(-1, npatches)), dim=1) / T
    return torch.nn.CrossEntropyLoss(reduction="none")(out, torch.zeros(out.size(0), dtype=torch.long))


def test_patch_nce_matches_the_reference_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(2 * 16, 8, generator=gen), dim=1)
    k = F.normalize(torch.randn(2 * 16, 8, generator=gen), dim=1)
    torch.testing.assert_close(patch_nce_loss(q, k, 2, 0.07), _reference_patch_nce(q, k, 2, 0.07))


def test_patch_nce_rewards_matching_patches() -> None:
    gen = torch.Generator().manual_seed(1)
    k = F.normalize(torch.randn(64, 16, generator=gen), dim=1)
    matched = patch_nce_loss(k.clone(), k, batch_size=2).mean()
    shuffled = patch_nce_loss(k[torch.randperm(64, generator=gen)], k, batch_size=2).mean()
    assert matched < 0.1 < shuffled
    # with negatives from the whole batch there are more of them; shapes stay per patch
    assert patch_nce_loss(k, k, batch_size=2, all_negatives_from_minibatch=True).shape == (64,)


def test_patch_nce_keys_get_no_gradient() -> None:
    q = torch.randn(8, 4, requires_grad=True)
    k = torch.randn(8, 4, requires_grad=True)
    patch_nce_loss(F.normalize(q, dim=1), F.normalize(k, dim=1), batch_size=1).mean().backward()
    assert q.grad is not None and k.grad is None


def test_patch_sampler_uses_one_set_of_positions_for_queries_and_keys() -> None:
    torch.manual_seed(0)
    head = PatchSampleMLP([3, 5], nc=16)
    feats = [torch.randn(2, 3, 8, 8), torch.randn(2, 5, 4, 4)]
    keys, ids = head(feats, num_patches=10)
    queries, same_ids = head(feats, num_patches=10, patch_ids=ids)
    assert [k.shape for k in keys] == [(20, 16), (20, 16)]  # 4x4 = 16 positions >= 10
    assert all(torch.equal(a, b) for a, b in zip(ids, same_ids))
    assert all(torch.equal(a, b) for a, b in zip(keys, queries))
    # unit length up to the reference's 1e-7 in the denominator (the fresh head's outputs are tiny)
    torch.testing.assert_close(keys[0].norm(dim=1), torch.ones(20), atol=2e-3, rtol=0)
    small, _ = head([torch.randn(1, 3, 2, 2)], num_patches=10)
    assert small[0].shape == (4, 16)  # fewer positions than patches: all of them


def test_head_is_built_eagerly_from_the_generator_layout() -> None:
    """Paper layers 0,4,8,12,16 of resnet_9blocks: input, both downsamplings, two residual blocks."""
    G = i2i.create_generator("resnet_9blocks", ngf=8)
    layers = (0, 4, 8, 12, 16)
    channels = encoder_channels(G, layers, input_nc=3)
    feats = encode(G, torch.randn(1, 3, 32, 32), layers)
    assert channels == [f.shape[1] for f in feats] == [3, 16, 32, 32, 32]
    assert [f.shape[-1] for f in feats] == [38, 16, 8, 8, 8]  # layer 0 is the reflection-padded input


def test_nce_layers_must_lie_in_the_encoder() -> None:
    with pytest.raises(i2i.ConfigError, match="nce_layers"):
        i2i.create_method("cut", host=cut_host(), ngf=8, ndf=8, n_blocks=2, nce_layers=[0, 4, 12])


def test_identity_nce_needs_equal_channels() -> None:
    info = i2i.DataInfo(kind=i2i.UNPAIRED, channels_a=1, channels_b=3)
    with pytest.raises(i2i.ConfigError, match="nce_idt"):
        i2i.create_method("cut", host=cut_host(), data_info=info, ngf=8, ndf=8, n_blocks=2, nce_layers=[0, 4])
    method = i2i.create_method(
        "fastcut",
        host=cut_host(),
        data_info=info,
        ngf=8,
        ndf=8,
        n_blocks=2,
        nce_layers=[0, 4],
        num_patches=8,
        netF_nc=8,
    )
    assert method.translate(torch.zeros(1, 1, 16, 16)).shape == (1, 3, 16, 16)


# -- registration and configs -------------------------------------------------------------------
def test_fastcut_is_cut_with_other_defaults() -> None:
    host = cut_host()
    cut = i2i.load_config(method="cut", host=host, overrides={"data.root": "/data/h2z"})
    fast = i2i.load_config(method="fastcut", host=host, overrides={"data.root": "/data/h2z"})
    assert isinstance(cut.method, CUTConfig) and isinstance(fast.method, CUTConfig)
    assert (cut.method.nce_idt, cut.method.lambda_NCE, cut.method.flip_equivariance) == (True, 1.0, False)
    assert (fast.method.nce_idt, fast.method.lambda_NCE, fast.method.flip_equivariance) == (False, 10.0, True)
    assert (cut.train.epochs, cut.train.epochs_decay, fast.train.epochs, fast.train.epochs_decay) == (200, 200, 150, 50)
    assert cut.method.nce_layers == (0, 4, 8, 12, 16) and cut.method.nce_T == 0.07 and cut.method.num_patches == 256


def test_without_nce_the_head_is_not_trained() -> None:
    method = i2i.create_method("cut", host=cut_host(), lambda_NCE=0.0, ngf=8, ndf=8, n_blocks=2, nce_layers=[0, 4])
    assert isinstance(method, CUT) and set(method.configure_optimizers()) == {"G", "D"}
    losses = run_steps(method, dummy_batch(method.data_info), 1)[0]
    assert "G/nce" not in losses and "G/gan" in losses


def test_installed_entry_point_registers_cut_and_fastcut() -> None:
    """The package, pip-installed, is found by a default host through the ``i2i`` entry point group."""
    host = PluginHost()
    assert {"cut", "fastcut"} <= set(i2i.list_methods(host=host))
    assert "i2i-cut" in i2i.get_method("cut", host=host).plugin


def test_cli_trains_cut_on_the_demo_data(tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", I2I_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [
        sys.executable,
        "-m",
        "i2i",
        "run",
        "--method",
        "cut",
        "--steps",
        "2",
        "--image-size",
        "32",
        "--precision",
        "fp32",
        "--out",
        str(tmp_path / "run"),
        "--set",
        "method.ngf=8",
        "--set",
        "method.ndf=8",
        "--set",
        "method.n_blocks=2",
        "--set",
        "method.nce_layers=[0,4,7,10]",
        "--set",
        "train.eval_at_end=false",
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "last.pt").is_file()
    # the declared translate option is a flag of `i2i translate` for this checkpoint, with its help
    ckpt = str(tmp_path / "run" / "last.pt")
    shown = subprocess.run(
        [sys.executable, "-m", "i2i", "translate", ckpt, "--help"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0 and "--strength" in shown.stdout and "blend of translation" in shown.stdout
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 40, 90)).save(tmp_path / "photo.png")
    translate = [sys.executable, "-m", "i2i", "translate", ckpt, str(tmp_path / "photo.png"), "--precision", "fp32"]
    done = subprocess.run(
        [*translate, "--out", str(tmp_path / "o"), "--strength", "0"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "o" / "photo.png").getpixel((5, 5)) == (200, 40, 90)  # strength 0: the input
    bad = subprocess.run(
        [*translate, "--out", str(tmp_path / "o2"), "--strength", "-1"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.strip() == "error: strength: expected at least 0, got '-1'"


# -- a reference-weight format of its own (i2i_register_importers) ------------------------------
def _i2i(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", I2I_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-m", "i2i", *args], env=env, capture_output=True, text=True, timeout=300)


def test_cut_reference_generator_imports_and_translates_like_the_reference(tmp_path: Path) -> None:
    # CUT's generator with --no_antialias is the CycleGAN ResNet, whose layout i2i's keeps key for key
    torch.manual_seed(0)
    reference = i2i.create_generator("resnet_9blocks", ngf=8).eval()
    torch.save(reference.state_dict(), tmp_path / "latest_net_G.pth")
    listed = _i2i("import-weights", "--format", tmp_path=tmp_path)
    assert listed.returncode == 0 and "cut-ref" in listed.stdout and "i2i-cut" in listed.stdout
    out = tmp_path / "cut.pt"
    done = _i2i(
        "import-weights",
        str(tmp_path / "latest_net_G.pth"),
        "--format",
        "cut-ref",
        "--out",
        str(out),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    translator = i2i.load_checkpoint(out)
    assert translator.config.method_name == "cut" and translator.method.config.n_blocks == 9
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(translator.translate(x), reference(x), atol=1e-5, rtol=1e-5)
    # without --format the file also reads as a CycleGAN generator: the user is asked to choose
    ambiguous = _i2i(
        "import-weights", str(tmp_path / "latest_net_G.pth"), "--out", str(tmp_path / "x.pt"), tmp_path=tmp_path
    )
    assert ambiguous.returncode == 2 and "cut-ref" in ambiguous.stderr and "pass --format" in ambiguous.stderr


def test_anti_aliased_cut_generators_are_refused_with_a_reason(tmp_path: Path) -> None:
    sd = dict(i2i.create_generator("resnet_9blocks", ngf=8, n_blocks=2).state_dict())
    sd["model.5.filt"] = torch.ones(16, 1, 3, 3)  # the reference's Downsample blur kernel
    torch.save(sd, tmp_path / "latest_net_G.pth")
    done = _i2i(
        "import-weights", str(tmp_path / "latest_net_G.pth"), "--out", str(tmp_path / "x.pt"), tmp_path=tmp_path
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "anti-aliased" in done.stderr and "--no_antialias" in done.stderr
    assert not (tmp_path / "x.pt").exists()


# -- an evaluation capability (Method.eval_capabilities) ----------------------------------------
def test_declared_capability_makes_i2i_eval_report_idempotence(tmp_path: Path) -> None:
    import json

    assert CUT.eval_capabilities.keeps_target_domain
    cfg = i2i.load_config(
        method="cut",
        host=cut_host(),
        overrides=[
            "method.ngf=8",
            "method.ndf=8",
            "method.n_blocks=2",
            "method.nce_layers=[0,4,7,10]",
            "method.num_patches=16",
            "method.netF_nc=16",
            "train.steps=1",
            "train.eval_at_end=false",
            "train.device=cpu",
            "train.precision=fp32",
            "data.image_size=32",
            "data.load_size=32",
            "data.num_workers=0",
        ],
    )
    i2i.run(cfg, out=tmp_path / "run", host=cut_host(), progress=False)
    report = tmp_path / "eval.json"
    done = _i2i(
        "eval",
        str(tmp_path / "run" / "last.pt"),
        "--metrics",
        "idempotence,swd",
        "--max-images",
        "4",
        "--workers",
        "0",
        "--json",
        str(report),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    table = json.loads(report.read_text())["table"]
    assert table["idempotence_a2b"]["identity"] == 0.0 and table["idempotence_a2b"]["model"] >= 0
    assert "swd_a2b" in table and not any(k.endswith("_b2a") for k in table)  # one declared direction


def test_strength_is_checked_the_same_way_in_the_python_api() -> None:
    host = cut_host()
    method = i2i.create_method("cut", host=host, ngf=8, ndf=8, n_blocks=2, nce_layers=(0, 4, 7, 10))
    translator = i2i.Translator(method)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert torch.allclose(translator.translate(x, strength="0"), x, atol=1e-6)
    assert torch.allclose(translator.translate(x), translator.translate(x, strength=1.0))
    with pytest.raises(i2i.UsageError, match=r"^strength: expected a number, got 'lots'$"):
        translator.translate(x, strength="lots")


def test_reference_options_convert_through_the_plugins_own_table() -> None:
    """``MethodSpec.reference``: a CUT command line of the reference becomes an i2i config."""
    line = (
        "python train.py --dataroot ./datasets/grumpifycat --name grumpycat_FastCUT --CUT_mode FastCUT "
        "--model cut --nce_layers 0,4,8 --lambda_NCE 5"
    )
    config, conversion = i2i.convert_reference(line, host=cut_host())
    m = config.method
    assert config.method_name == "cut" and config.data.root == "./datasets/grumpifycat"
    assert (m.nce_idt, m.flip_equivariance, m.nce_layers, m.lambda_NCE) == (False, True, (0, 4, 8), 5.0)
    assert (config.train.epochs, config.train.epochs_decay) == (150, 50)
    assert config.out == "checkpoints/grumpycat_FastCUT" and not conversion.unknown


def test_finalize_config_rejects_a_generator_deeper_than_the_crop() -> None:
    """``MethodSpec.finalize_config``: checked when the run config is resolved."""
    with pytest.raises(i2i.ConfigError, match="method.netG: 'unet_256' needs images of at least 256 px"):
        i2i.load_config(
            method="cut",
            host=cut_host(),
            overrides={"data.root": "/d", "data.image_size": 64, "data.load_size": 72, "method.netG": "unet_256"},
        )
