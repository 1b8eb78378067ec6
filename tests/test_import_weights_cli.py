"""`i2i import-weights`: reference generator files become checkpoints translate uses unchanged."""

from __future__ import annotations

import pytest
import torch

import i2i
from i2i.cli.main import main


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
        [
            "import-weights",
            str(tmp_path / "latest_net_G_A.pth"),
            str(tmp_path / "latest_net_G_B.pth"),
            "--format",
            "cyclegan-ref",
            "--out",
            str(out),
        ],
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
    args = [
        "import-weights",
        str(src),
        "--format",
        "stargan-ref",
        "--domains",
        "happy,sad,angry",
        "--one-hot",
        "--out",
        str(out),
    ]
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
    code, captured = _run(
        ["import-weights", str(garbage), "--format", "pix2pix-ref", "--out", str(tmp_path / "o.pt")], capsys
    )
    assert code == 2 and captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "garbage.pth" in captured.err
    net = _reference_like("stargan", ngf=8, c_dim=3, n_blocks=2)
    torch.save(net.state_dict(), tmp_path / "g.ckpt")
    code, captured = _run(
        [
            "import-weights",
            str(tmp_path / "g.ckpt"),
            "--format",
            "stargan-ref",
            "--domains",
            "a,b",
            "--out",
            str(tmp_path / "o.pt"),
        ],
        capsys,
    )
    assert code == 2 and "--domains names 2 labels but the generator was trained with 3" in captured.err
    assert not (tmp_path / "o.pt").exists()


# -- the importer hook: formats come from plugins -------------------------------------------------
def test_format_alone_lists_every_registered_format(capsys):
    code, captured = _run(["import-weights", "--format"], capsys)
    assert code == 0, captured.err
    names = [line.split()[0] for line in captured.out.splitlines()]
    assert {"cyclegan-ref", "pix2pix-ref", "stargan-ref"} <= set(names)
    by_name = {line.split()[0]: line for line in captured.out.splitlines()}
    assert "one or two files" in by_name["cyclegan-ref"] and "cyclegan [" in by_name["cyclegan-ref"]
    code, captured = _run(["list", "importers"], capsys)
    assert code == 0 and "stargan-ref" in captured.out


def test_the_core_registers_no_format():
    from i2i.plugins.host import PluginHost

    assert PluginHost(autoload=False).registry.names("importer") == []


def test_format_is_recognised_from_the_file(tmp_path, capsys):
    unet = _reference_like("unet_128", ngf=8, norm="batch")
    torch.save(unet.state_dict(), tmp_path / "latest_net_G.pth")
    code, captured = _run(
        ["import-weights", str(tmp_path / "latest_net_G.pth"), "--out", str(tmp_path / "u.pt")], capsys
    )
    assert code == 0, captured.err
    assert i2i.load_checkpoint(tmp_path / "u.pt").config.method_name == "pix2pix"

    star = _reference_like("stargan", ngf=8, c_dim=5, n_blocks=1)
    torch.save(star.state_dict(), tmp_path / "200000-G.ckpt")
    code, captured = _run(["import-weights", str(tmp_path / "200000-G.ckpt"), "--out", str(tmp_path / "s.pt")], capsys)
    assert code == 0, captured.err
    translator = i2i.load_checkpoint(tmp_path / "s.pt")
    assert translator.config.method_name == "stargan" and translator.method.data_info.multi_label

    torch.save({"weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    code, captured = _run(["import-weights", str(tmp_path / "other.pth"), "--out", str(tmp_path / "o.pt")], capsys)
    assert code == 2 and "no registered format recognises this file; pass --format" in captured.err
    assert not (tmp_path / "o.pt").exists()


def test_wrong_file_counts_and_missing_out(tmp_path, capsys):
    net = _reference_like("unet_128", ngf=8, norm="batch")
    for name in ("a.pth", "b.pth"):
        torch.save(net.state_dict(), tmp_path / name)
    two = [str(tmp_path / "a.pth"), str(tmp_path / "b.pth")]
    code, captured = _run(["import-weights", *two, "--format", "pix2pix-ref", "--out", str(tmp_path / "o.pt")], capsys)
    assert code == 2 and "--format pix2pix-ref takes one file, got 2" in captured.err
    code, captured = _run(["import-weights", *two, "--format", "nope-ref", "--out", str(tmp_path / "o.pt")], capsys)
    assert code == 2 and "unknown reference format 'nope-ref'" in captured.err and "stargan-ref" in captured.err
    code, captured = _run(["import-weights", two[0], "--format", "pix2pix-ref"], capsys)
    assert code == 2 and "--out" in captured.err


def test_an_in_code_plugin_adds_a_format(tmp_path):
    """A format registered by any plugin object works through the library form, no core change."""
    from types import SimpleNamespace

    from i2i.inference.weights_import import import_reference_checkpoint
    from i2i.plugins.host import PluginHost

    def convert(sd, generator=None, source="state dict"):
        sd = {k.removeprefix("gen."): v for k, v in sd.items()}
        return i2i.convert_image_generator(sd, generator, source, format="toy-ref")

    def build(request):
        (g,) = request.generators
        info = i2i.DataInfo(kind=i2i.PAIRED, channels_a=g.kwargs["input_nc"], channels_b=g.kwargs["output_nc"])
        return i2i.ImportPlan(
            method="pix2pix",
            data_info=info,
            generators={"G": g.state_dict},
            method_config=i2i.image_generator_config(g),
        )

    spec = i2i.ImporterSpec(
        name="toy-ref",
        description="toy",
        recognise=lambda sd: any(k.startswith("gen.") for k in sd),
        convert=convert,
        build=build,
    )
    plugin = SimpleNamespace(i2i_register_importers=i2i.hookimpl(lambda: [spec]))
    host = PluginHost(plugins=[("toy", plugin)])
    net = _reference_like("unet_128", ngf=8, norm="batch")
    torch.save({f"gen.{k}": v for k, v in net.state_dict().items()}, tmp_path / "toy.pth")
    out = import_reference_checkpoint([tmp_path / "toy.pth"], None, tmp_path / "toy.pt", host=host)
    translator = i2i.load_checkpoint(out)
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(translator.translate(x), net(x), atol=1e-5)


def test_a_reference_file_given_to_translate_names_the_import_command(tmp_path, capsys, monkeypatch):
    """A user's ``latest_net_G.pth`` handed straight to ``translate`` (or ``eval``) gets the
    command that converts it, with the formats that recognise it; the hint then works."""
    src = tmp_path / "latest_net_G.pth"
    torch.save(_reference_like("unet_128", ngf=8, norm="batch").state_dict(), src)
    (tmp_path / "in").mkdir()
    code, captured = _run(["translate", str(src), str(tmp_path / "in"), "--out", str(tmp_path / "o")], capsys)
    command = f"`i2i import-weights {src} --format pix2pix-ref --out model.pt`"
    assert code == 2 and captured.err.strip() == (
        f"error: {src}: not an i2i checkpoint (it holds a plain state dict); it looks like a pix2pix-ref file: "
        f"convert it once with {command}"
    )
    assert not (tmp_path / "o").exists()
    monkeypatch.chdir(tmp_path)  # the hint's --out model.pt is relative
    code, captured = _run(command.strip("`").split()[1:], capsys)
    assert code == 0, captured.err
    assert i2i.load_checkpoint(tmp_path / "model.pt").method.config.netG == "unet_128"
