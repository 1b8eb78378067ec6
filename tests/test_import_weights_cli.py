"""`i2i import-weights`: reference generator files become checkpoints translate uses unchanged."""

from __future__ import annotations

import pytest
import torch

import i2i
from i2i.cli import main


def _run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code, capsys.readouterr()


def _reference_like(name: str, **kwargs) -> torch.nn.Module:
    """i2i's networks use the reference layouts, so their state dicts are reference files."""
    torch.manual_seed(0)
    return i2i.create_generator(name, **kwargs).eval()


@pytest.mark.parametrize(
    ("name", "kwargs", "method"),
    [
        ("resnet_6blocks", dict(ngf=8, norm="instance"), "pix2pix"),
        ("unet_128", dict(ngf=8, norm="batch", use_dropout=True), "pix2pix"),
    ],
)
def test_one_generator_file(tmp_path, capsys, name, kwargs, method):
    net = _reference_like(name, **kwargs)
    src = tmp_path / "latest_net_G.pth"
    sd = net.state_dict()
    if kwargs["norm"] == "instance":  # old reference checkpoints carry instance-norm statistics
        sd = dict(sd, **{"model.2.running_mean": torch.zeros(8), "model.2.running_var": torch.ones(8)})
    torch.save(sd, src)
    out = tmp_path / "imported.pt"
    code, captured = _run(["import-weights", str(src), "--format", "cyclegan-ref", "--out", str(out)], capsys)
    assert code == 0, captured.err
    translator = i2i.load_checkpoint(out)
    assert translator.method.config.netG == name and translator.config.method_name == method
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        expected = net(x)
    assert torch.allclose(translator.translate(x), expected, atol=1e-5)


def test_two_files_make_a_cyclegan_checkpoint(tmp_path, capsys):
    g_a = _reference_like("resnet_6blocks", ngf=8, norm="instance")
    torch.manual_seed(1)
    g_b = i2i.create_generator("resnet_6blocks", ngf=8, norm="instance").eval()
    torch.save(g_a.state_dict(), tmp_path / "latest_net_G_A.pth")
    torch.save(g_b.state_dict(), tmp_path / "latest_net_G_B.pth")
    out = tmp_path / "h2z.pt"
    code, captured = _run(
        ["import-weights", str(tmp_path / "latest_net_G_A.pth"), str(tmp_path / "latest_net_G_B.pth"),
         "--format", "cyclegan-ref", "--out", str(out)],
        capsys,
    )
    assert code == 0, captured.err
    translator = i2i.load_checkpoint(out)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(translator.translate(x, direction="a2b"), g_a(x), atol=1e-5)
        assert torch.allclose(translator.translate(x, direction="b2a"), g_b(x), atol=1e-5)


def test_stargan_file_with_domain_names(tmp_path, capsys):
    net = _reference_like("stargan", ngf=8, c_dim=3, n_blocks=2)
    src = tmp_path / "200000-G.ckpt"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, src)
    out = tmp_path / "rafd.pt"
    args = ["import-weights", str(src), "--format", "stargan-ref", "--domains", "happy,sad,angry", "--one-hot", "--out", str(out)]
    code, captured = _run(args, capsys)
    assert code == 0, captured.err
    translator = i2i.load_checkpoint(out)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    c = torch.tensor([[0.0, 1.0, 0.0]])
    with torch.no_grad():
        assert torch.allclose(translator.translate(x, target="sad"), net(x, c), atol=1e-5)


def test_errors_are_one_line(tmp_path, capsys):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    code, captured = _run(["import-weights", str(garbage), "--format", "pix2pix-ref", "--out", str(tmp_path / "o.pt")], capsys)
    assert code == 2 and captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "garbage.pth" in captured.err
    net = _reference_like("stargan", ngf=8, c_dim=3, n_blocks=2)
    torch.save(net.state_dict(), tmp_path / "g.ckpt")
    code, captured = _run(
        ["import-weights", str(tmp_path / "g.ckpt"), "--format", "stargan-ref", "--domains", "a,b", "--out", str(tmp_path / "o.pt")],
        capsys,
    )
    assert code == 2 and "--domains names 2 labels but the generator was trained with 3" in captured.err
    assert not (tmp_path / "o.pt").exists()
