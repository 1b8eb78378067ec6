"""Typed translate options (``i2i.TranslateOption``): the records, the flags ``i2i translate``
builds from a checkpoint's method, and the same checks and messages in the Python API."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from inference_support import save_rgb, write_checkpoint
from PIL import Image

import i2i
from i2i.cli.main import main
from i2i.errors import UsageError
from i2i.inference.spec import check_options
from i2i.method import DataInfo
from i2i.plugins.host import get_host

DIRECTION = i2i.TranslateOption("direction", choices=("a2b", "b2a"), default="a2b", value_aliases={"AtoB": "a2b"})
SAMPLES = i2i.TranslateOption("samples", type=int, minimum=1, aliases=("n_samples",))
FLAG = i2i.TranslateOption("sharp", type=bool)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture
def cyclegan(tmp_path: Path) -> Path:
    info = DataInfo(kind="unpaired", channels_a=3, channels_b=1)
    return write_checkpoint(
        tmp_path / "cyc.pt", "cyclegan", get_host(), data_info=info, overrides={"lambda_identity": 0.0}
    )


# -- the records ---------------------------------------------------------------------------------------
def test_values_are_converted_and_checked_with_one_line_messages() -> None:
    declared = (DIRECTION, SAMPLES, FLAG)
    assert check_options(declared, {"direction": "b2a", "samples": "3", "sharp": "yes"}, "m") == {
        "direction": "b2a",
        "samples": 3,
        "sharp": True,
    }
    assert check_options(declared, {"direction": "AtoB", "n_samples": 2}, "m") == {"direction": "a2b", "samples": 2}
    assert check_options(declared, {"direction": "A2B"}, "m") == {"direction": "a2b"}  # case and -_ ignored
    assert check_options(declared, {"direction": None}, "m") == {}  # None means "not given"
    for options, message in [
        ({"direction": "up"}, r"direction: expected one of a2b, b2a, AtoB, got 'up'"),
        ({"samples": "many"}, r"samples: expected an integer, got 'many'"),
        ({"samples": 2.5}, r"samples: expected an integer, got 2.5"),
        ({"samples": 0}, r"samples: expected at least 1, got 0"),
        ({"sharp": "maybe"}, r"sharp: expected true or false"),
        ({"samples": 2, "n_samples": 3}, r"samples: given twice"),
        (
            {"sampels": 2},
            r"method 'm' has no option 'sampels' \(its translate options: direction, samples, sharp\); "
            r"did you mean 'samples'\?",
        ),
    ]:
        with pytest.raises(UsageError, match=message):
            check_options(declared, options, "m")


def test_a_record_rejects_bad_declarations() -> None:
    with pytest.raises(ValueError, match="identifiers"):
        i2i.TranslateOption("two words")
    with pytest.raises(ValueError, match="type must be one of"):
        i2i.TranslateOption("x", type=list)
    assert SAMPLES.flag == "--samples" and i2i.TranslateOption("source_labels").flag == "--source-labels"


def test_every_built_in_declares_records_and_translates_without_options() -> None:
    """``translate(x)`` with no options must work: evaluation and the report's samples call it."""
    host = get_host()
    for name in ("pix2pix", "cyclegan", "augcyclegan", "stargan"):
        spec = host.registry.get("method", name)
        assert all(isinstance(o, i2i.TranslateOption) for o in spec.factory.translate_options)
        overrides = {f"method.{k}": v for k, v in spec.test_overrides.items()}
        cfg = i2i.load_config(method=name, overrides={**overrides, "data.image_size": 32, "data.load_size": 32})
        method = spec.factory(cfg.method, DataInfo(kind=spec.data_kind)).eval()
        with torch.no_grad():
            assert method.translate(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32)


# -- the command line builds its flags from the checkpoint's method ---------------------------------------
def test_help_lists_the_checkpoints_options_and_only_generic_flags_without_one(cyclegan: Path, capsys) -> None:
    code, out, _ = run_cli(["translate", str(cyclegan), "--help"], capsys)
    assert code == 0
    assert "Translate options of 'cyclegan'" in out and "--direction" in out and "AtoB" in out
    code, out, _ = run_cli(["translate", "--help"], capsys)
    assert code == 0
    for generic in ("--out", "--batch-size", "--size", "--fit", "--device", "--precision", "--option"):
        assert generic in out
    flags = set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", out))
    assert not flags & {"--direction", "--target", "--source-labels", "--samples", "--reference", "--seed"}, flags
    assert "i2i translate CKPT --help" in out


def test_a_checkpoints_flags_stay_with_its_invocation(cyclegan: Path, tmp_path: Path, capsys) -> None:
    """The method's flags belong to one invocation: the shared click command keeps its generic
    parameters, so a later ``translate`` (another method, or the docs check) never sees them."""
    import click

    from i2i.cli.main import cli

    command = cli.get_command(click.Context(cli), "translate")
    before = [p.name for p in command.params]
    save_rgb(tmp_path / "in" / "x.png", 20, 24)
    code, _, err = run_cli(
        ["translate", str(cyclegan), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--direction", "b2a"], capsys
    )
    assert code == 0, err
    assert [p.name for p in command.params] == before
    code, out, _ = run_cli(["translate", "--help"], capsys)
    assert code == 0 and "--direction" not in out


def test_old_and_new_direction_spellings_and_the_generic_option_agree(cyclegan: Path, tmp_path: Path, capsys) -> None:
    save_rgb(tmp_path / "in" / "x.png", 20, 24)
    outs = []
    for i, flags in enumerate([["--direction", "b2a"], ["--direction", "BtoA"], ["--option", "direction=b2a"]]):
        code, _, err = run_cli(
            [
                "translate",
                str(cyclegan),
                str(tmp_path / "in"),
                "--out",
                str(tmp_path / f"o{i}"),
                "--precision",
                "fp32",
                *flags,
            ],
            capsys,
        )
        assert code == 0, err
        outs.append((tmp_path / f"o{i}" / "x.png").read_bytes())
    assert outs[0] == outs[1] == outs[2]
    assert Image.open(tmp_path / "o0" / "x.png").mode == "RGB"  # b2a reads B (grey) and writes A (RGB)
    t = i2i.load_checkpoint(cyclegan)
    api = t.translate(np.asarray(Image.open(tmp_path / "in" / "x.png").convert("L")), direction="BtoA")
    assert np.abs(api.astype(int) - np.asarray(Image.open(tmp_path / "o0" / "x.png")).astype(int)).max() <= 1


def test_cli_and_api_give_the_same_message(cyclegan: Path, tmp_path: Path, capsys) -> None:
    save_rgb(tmp_path / "in" / "x.png", 16, 16)
    code, _, err = run_cli(
        ["translate", str(cyclegan), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--direction", "sideways"],
        capsys,
    )
    assert code == 2
    with pytest.raises(UsageError) as exc:
        i2i.load_checkpoint(cyclegan).translate(torch.zeros(3, 16, 16), direction="sideways")
    assert err.strip() == f"error: {exc.value}" and "direction: expected one of a2b, b2a" in err
    code, _, err = run_cli(
        ["translate", str(cyclegan), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--target", "x"], capsys
    )
    assert code == 2 and "method 'cyclegan' has no option 'target'" in err and "--direction" in err
    assert not (tmp_path / "o").exists()  # nothing written by a command that failed


# -- files: per-image labels, references, A|B pairs -------------------------------------------------------
def _attribute_file(path: Path, rows: dict[str, list[int]], names: list[str]) -> Path:
    lines = [str(len(rows)), " ".join(names)] + [f"{k} {' '.join(map(str, v))}" for k, v in rows.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_stargan_takes_each_images_labels_from_an_attribute_file(tmp_path: Path, capsys) -> None:
    attrs_ = ("Black_Hair", "Blond_Hair", "Male")
    info = DataInfo(kind="labelled", domains=attrs_, multi_label=True)
    ckpt = write_checkpoint(tmp_path / "s.pt", "stargan", get_host(), data_info=info)
    save_rgb(tmp_path / "in" / "a.png", 32, 32, seed=1)
    save_rgb(tmp_path / "in" / "b.png", 32, 32, seed=2)
    # rows are matched by file name, else by stem (the list names the original JPEGs)
    listing = _attribute_file(tmp_path / "list_attr.txt", {"a.jpg": [1, -1, 1], "b.jpg": [-1, 1, -1]}, list(attrs_))
    code, _, err = run_cli(
        [
            "translate",
            str(ckpt),
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "o"),
            "--precision",
            "fp32",
            "--target",
            "Blond_Hair",
            "--attribute-file",
            str(listing),
        ],
        capsys,
    )
    assert code == 0, err
    t = i2i.load_checkpoint(ckpt)
    for name, own in [("a", "Black_Hair,Male"), ("b", "Blond_Hair")]:
        image = Image.open(tmp_path / "in" / f"{name}.png")
        expected = t.translate(image, target="Blond_Hair", source_labels=own)
        got = np.asarray(Image.open(tmp_path / "o" / f"{name}.png")).astype(int)
        assert np.abs(got - np.asarray(expected).astype(int)).max() <= 1
    # the same file through the API (PIL images opened from files carry their names)
    api = t.translate(Image.open(tmp_path / "in" / "a.png"), target="Blond_Hair", attribute_file=listing)
    assert np.abs(np.asarray(api).astype(int) - np.asarray(Image.open(tmp_path / "o" / "a.png")).astype(int)).max() <= 1
    # a missing row is reported for that image and the others go on; a bad column is one error line
    save_rgb(tmp_path / "in2" / "c.png", 32, 32)
    save_rgb(tmp_path / "in2" / "a.png", 32, 32)
    code, _, err = run_cli(
        [
            "translate",
            str(ckpt),
            str(tmp_path / "in2"),
            "--out",
            str(tmp_path / "o2"),
            "--target",
            "Male",
            "--attribute-file",
            str(listing),
        ],
        capsys,
    )
    assert code == 0 and "cannot translate" in err and "no entry for c.png" in err
    assert (tmp_path / "o2" / "a.png").is_file() and not (tmp_path / "o2" / "c.png").exists()
    bad = _attribute_file(tmp_path / "bad.txt", {"a.png": [1]}, ["Smiling"])
    code, _, err = run_cli(
        ["translate", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "o3"), "--attribute-file", str(bad)],
        capsys,
    )
    assert code == 2 and "--attribute-file" in err and "no column 'Black_Hair'" in err and "Smiling" in err


def test_augcyclegan_reference_is_a_declared_file_option(tmp_path: Path, capsys) -> None:
    ckpt = write_checkpoint(tmp_path / "a.pt", "augcyclegan", get_host())
    save_rgb(tmp_path / "in" / "x.png", 32, 32, seed=1)
    style = save_rgb(tmp_path / "style.png", 40, 40, seed=2)
    code, _, err = run_cli(
        [
            "translate",
            str(ckpt),
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "o"),
            "--reference",
            str(style),
            "--precision",
            "fp32",
        ],
        capsys,
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x.png"]  # one output: the reference's style
    code, _, err = run_cli(
        [
            "translate",
            str(ckpt),
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "o2"),
            "--reference",
            str(tmp_path / "missing.png"),
        ],
        capsys,
    )
    assert code == 2 and "--reference" in err and "no such file" in err


def test_side_by_side_pairs_split_and_warn(tmp_path: Path, capsys) -> None:
    ckpt = write_checkpoint(tmp_path / "p.pt", "cyclegan", get_host())
    pair = save_rgb(tmp_path / "in" / "pair.png", 32, 64)
    code, _, err = run_cli(["translate", str(ckpt), str(pair), "--out", str(tmp_path / "o"), "--split", "left"], capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "o" / "pair.png").size == (32, 32)
    assert "side-by-side" not in err
    from i2i.inference.files import translate_files

    t = i2i.load_checkpoint(ckpt)
    with pytest.warns(UserWarning, match="side-by-side A\\|B pair"):
        translate_files(
            t, [pair], tmp_path / "o2", progress=False, warn_pair=lambda image: image.shape[-1] == 2 * image.shape[-2]
        )


def test_a_plugin_written_before_the_records_keeps_its_options() -> None:
    """``translate_options()`` returning ``{name: help}`` (the old protocol) still reaches the method."""

    class Legacy(i2i.Method):
        def __init__(self) -> None:
            super().__init__(None, DataInfo(kind="paired"))
            self.G = torch.nn.Identity()

        def translate(self, x: torch.Tensor, gain: str = "1") -> torch.Tensor:
            return x * float(gain)

        def translate_options(self):  # type: ignore[override]
            return {"gain": "multiply the input"}

    t = i2i.Translator(Legacy())
    x = torch.full((1, 3, 8, 8), 0.25)
    assert torch.allclose(t.translate(x, gain="2"), x * 2)
    with pytest.raises(UsageError, match=r"has no option 'gian' \(its translate options: gain\); did you mean 'gain'"):
        t.translate(x, gian="2")


# -- values checked against the checkpoint before any image is read ---------------------------------------
def test_an_options_check_sees_the_method_and_the_other_options_and_stops_the_call() -> None:
    """``TranslateOption(check=...)``, the hook a third-party method uses for values only its
    checkpoint can judge (its label names); the Python API and ``i2i translate`` both call it."""
    from dummy_plugin import Dummy, DummyConfig  # the tests' own plugin: a method that is no built-in

    seen: list[tuple[object, object, dict]] = []

    def known_level(value: object, method: object, options: dict) -> None:
        seen.append((value, method, dict(options)))
        if value not in ("low", "high"):
            raise UsageError(f"level: this checkpoint knows low, high; got {value!r}")

    class Levelled(Dummy):
        translate_options = (i2i.TranslateOption("level", check=known_level), SAMPLES)

    method = Levelled(DummyConfig(), DataInfo(kind="paired"))
    translator = i2i.Translator(method)
    assert translator.check_options({"level": "low", "n_samples": "2"}) == {"level": "low", "samples": 2}
    assert seen == [("low", method, {"samples": 2})]
    with pytest.raises(UsageError, match="this checkpoint knows low, high; got 'medium'"):
        translator.translate(torch.zeros(1, 3, 8, 8), level="medium")
    assert translator.check_options({"samples": 1}) == {"samples": 1}  # not given: not checked
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "Blnd_Hair"], "error: target: unknown domain 'Blnd_Hair' (valid: Black_Hair, Blond_Hair, Male"),
        (["--target", "Male", "--source-labels", "Mael"], "error: --source-labels: unknown attribute 'Mael'"),
        (["--target", "Blond_Hair"], "leaves Male unspecified: pass the inputs' own attributes"),
        (["--target", "Male,-Male", "--source-labels", "Male"], "'Male' is both set and cleared"),
    ],
)
def test_a_wrong_label_stops_stargan_translate_before_any_image(
    args: list[str], message: str, tmp_path: Path, capsys
) -> None:
    info = DataInfo(kind="labelled", domains=("Black_Hair", "Blond_Hair", "Male"), multi_label=True)
    ckpt = write_checkpoint(tmp_path / "s.pt", "stargan", get_host(), data_info=info)
    for i in range(3):
        save_rgb(tmp_path / "in" / f"{i}.png", 32, 32, seed=i)
    code, out, err = run_cli(
        ["translate", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "o"), *args], capsys
    )
    assert code == 2 and message in err, err
    assert "cannot translate" not in err and "translating" not in out + err and "Traceback" not in err
    assert err.count("error:") == 1 and not (tmp_path / "o").exists()
    # the same values are fine where the checkpoint has them
    code, _, err = run_cli(
        [
            "translate",
            str(ckpt),
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "ok"),
            "--target",
            "Male,-Blond_Hair",
            "--source-labels",
            "Black_Hair",
        ],
        capsys,
    )
    assert code == 0 and len(list((tmp_path / "ok").glob("*.png"))) == 3, err


def test_stargan_one_hot_targets_are_checked_up_front(tmp_path: Path, capsys) -> None:
    info = DataInfo(kind="labelled", domains=("day", "dusk", "night"), multi_label=False)
    ckpt = write_checkpoint(tmp_path / "s.pt", "stargan", get_host(), data_info=info)
    save_rgb(tmp_path / "in" / "a.png", 32, 32)
    t = i2i.load_checkpoint(ckpt)
    for target, message in [("noon", "unknown domain 'noon'"), ("day,night", "name exactly one of day, dusk, night")]:
        with pytest.raises(UsageError, match=message):
            t.check_options({"target": target})
        code, _, err = run_cli(
            ["translate", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--target", target], capsys
        )
        assert code == 2 and message in err and "cannot translate" not in err
    assert t.check_options({"target": "dusk"}) == {"target": "dusk"}


def test_an_attribute_checkpoint_without_labels_is_one_error_not_one_per_image(tmp_path: Path, capsys) -> None:
    info = DataInfo(kind="labelled", domains=("Black_Hair", "Blond_Hair", "Male"), multi_label=True)
    ckpt = write_checkpoint(tmp_path / "s.pt", "stargan", get_host(), data_info=info)
    for i in range(4):
        save_rgb(tmp_path / "in" / f"{i}.png", 32, 32, seed=i)
    code, _, err = run_cli(["translate", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "target 'all' toggles each attribute" in err and "--source-labels" in err, err
    assert "cannot translate" not in err and err.count("error:") == 1 and not (tmp_path / "o").exists()


def test_a_method_refusing_every_image_stops_after_the_second(tmp_path: Path) -> None:
    """A third-party method whose options are judged only in ``translate`` (no ``check``): the
    same UsageError for the first two images is the call's fault, so the folder is not ground
    through image by image; different reasons (one image's own) let the others go on."""
    from dummy_plugin import Dummy, DummyConfig  # the tests' own plugin: a method that is no built-in

    from i2i.inference.files import translate_files

    calls: list[int] = []

    class Picky(Dummy):
        def translate(self, x, **options):
            calls.append(x.shape[0])
            if self.refuse_all:
                raise UsageError("strength: this checkpoint takes at most 1")
            if len(calls) <= 2:
                raise UsageError(f"image {len(calls)} is odd")
            return super().translate(x)

    paths = [save_rgb(tmp_path / "in" / f"{i}.png", 16, 16, seed=i) for i in range(5)]
    method = Picky(DummyConfig(), DataInfo(kind="paired"))
    method.refuse_all = True
    with pytest.raises(UsageError, match=r"^strength: this checkpoint takes at most 1$"):
        translate_files(i2i.Translator(method), paths, tmp_path / "o1", batch_size=1, progress=False)
    assert len(calls) == 2
    calls.clear()
    method.refuse_all = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = translate_files(i2i.Translator(method), paths, tmp_path / "o2", batch_size=1, progress=False)
    assert written == 3 and len(calls) == 5
    said = [str(w.message) for w in caught]
    assert re.search(r"cannot translate .*0\.png: image 1 is odd", said[0]) and "1.png: image 2 is odd" in said[1]
    assert "2 image(s) could not be translated" in said[2]


def test_latent_codes_from_python_and_the_command_line() -> None:
    assert i2i.latent_codes("0.5, -1, 2", 3, 3).tolist() == [[0.5, -1.0, 2.0]] * 3  # one code for every image
    rows = torch.arange(6.0).reshape(2, 3)
    assert torch.equal(i2i.latent_codes(rows, 2, 3), rows) and i2i.latent_codes([1, 2, 3], 2, 3).shape == (2, 3)
    for value, message in [
        ("abc", r"^z: expected 3 comma-separated numbers, got 'abc'$"),
        ("1,2", r"^z: expected 3 comma-separated numbers \(the model's code size\), got 2$"),
        ("1,nan,2", r"^z: latent codes must be finite numbers$"),
        (torch.zeros(3, 3), r"^z: expected \(1 or 2, 3\) latent codes, got shape \(3, 3\)$"),
        ({"a": 1}, r"^z: expected \(1 or 2, 3\) latent codes, got dict$"),
    ]:
        with pytest.raises(UsageError, match=message):
            i2i.latent_codes(value, 2, 3)


@pytest.mark.parametrize("method", ["augcyclegan", "stargan_v2"])
def test_a_command_line_z_is_checked_up_front_and_used(method: str, tmp_path: Path, capsys) -> None:
    info = DataInfo(kind="labelled", domains=("cat", "dog"), multi_label=False) if method == "stargan_v2" else None
    ckpt = write_checkpoint(tmp_path / "m.pt", method, get_host(), data_info=info)
    t = i2i.load_checkpoint(ckpt)
    dim = t.method.config.nlatent if method == "augcyclegan" else t.method.config.latent_dim
    extra = ["--target", "dog"] if method == "stargan_v2" else []
    save_rgb(tmp_path / "in" / "x.png", 32, 32, seed=1)
    for z, message in [("abc", "error: z: expected"), ("1,2", f"expected {dim} comma-separated numbers")]:
        code, out, err = run_cli(
            ["translate", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "bad"), "--z", z, *extra], capsys
        )
        assert code == 2 and message in err and "internal error" not in err and "translating" not in out + err, err
    code, _, err = run_cli(
        ["translate", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--precision", "fp32"]
        + ["--z", ",".join(["0.5"] * dim), *extra],
        capsys,
    )
    assert code == 0, err
    image = Image.open(tmp_path / "in" / "x.png")
    expected = t.translate(image, z=torch.full((1, dim), 0.5), **({"target": "dog"} if extra else {}))
    got = np.asarray(Image.open(tmp_path / "o" / "x.png")).astype(int)
    assert np.abs(got - np.asarray(expected).astype(int)).max() <= 1
