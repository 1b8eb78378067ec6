"""StarGAN on several labelled datasets (Choi et al. 2018, section 3.2): ``data.sources``, the
mask vector, the alternating sampler, targets from any dataset, the reference's ``Both`` import.

Tiny networks (8 wide, 32 px) on the CPU; data is generated on the fly or the small demos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import i2i
from i2i.cli.main import main
from i2i.data import DataConfig, ResumableSampler, build_data
from i2i.data.config import DataSource
from i2i.data.sources import source_config
from i2i.testing import MethodConformance, make_context, run_steps

CELEBA = i2i.LabelSource("celeba", ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), multi_label=True)
RAFD = i2i.LabelSource("rafd", ("angry", "happy", "neutral"), multi_label=False)
INFO = i2i.DataInfo(kind=i2i.LABELLED, domains=CELEBA.domains + RAFD.domains, multi_label=True, sources=(CELEBA, RAFD))
TINY = dict(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, d_repeat_num=3, image_size=32)


def make(seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    return i2i.create_method("stargan", data_info=INFO, **{**TINY, "n_critic": 1, **overrides})


def labels(source: int, n: int = 4) -> torch.Tensor:
    """Label vectors ``[celeba(5), rafd(3), mask(2)]`` of ``n`` images of one dataset."""
    out = torch.zeros(n, 10)
    if source == 0:
        out[:, 1] = 1.0  # Blond_Hair
        out[::2, 3] = 1.0  # some Male
    else:
        out[torch.arange(n), 5 + torch.arange(n) % 3] = 1.0
    out[:, 8 + source] = 1.0
    return out


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class TestMultiSourceConformance(MethodConformance):
    method_name = "stargan"
    overrides = {**TINY, "n_critic": 1}
    data_info = INFO

    def make_batch(self) -> i2i.Batch:
        return i2i.Batch(a=images(2), labels=torch.cat([labels(0, 1), labels(1, 1)]))


# -- data -----------------------------------------------------------------------------------------
def test_sampler_alternates_groups_batch_by_batch_per_rank_and_resumes() -> None:
    sampler = ResumableSampler(10, seed=3, groups=(7, 3), block=2)
    order = list(sampler)
    assert len(order) == 10
    assert [all(i < 7 for i in order[b : b + 2]) for b in range(0, 10, 2)] == [True, False, True, False, True]
    assert {i for i in order if i >= 7} == {7, 8, 9}  # the small group runs out and is reshuffled
    sampler.set_start(4)
    assert list(sampler) == order[4:]  # resume mid-epoch: the same order
    sampler.set_epoch(1)
    assert list(sampler) != order
    for rank in range(2):  # each rank's every batch of 2 comes from one group, the groups in turn
        ranked = list(ResumableSampler(12, seed=3, groups=(6, 6), block=4, rank=rank, world_size=2))
        assert [[i < 6 for i in ranked[b : b + 2]] for b in range(0, 6, 2)] == [
            [True, True],
            [False, False],
            [True, True],
        ]
    with pytest.raises(ValueError, match="groups"):
        ResumableSampler(10, groups=(4, 4), block=2)


@pytest.fixture
def small_demos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from i2i.data import demo

    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(demo, "TRAIN_PER_DOMAIN", 4)
    monkeypatch.setattr(demo, "TEST_PER_DOMAIN", 2)
    return tmp_path


def test_two_sources_build_a_mask_vector_dataset_whose_batches_alternate(small_demos: Path) -> None:
    config = DataConfig(
        sources=(DataSource(demo="grades"), DataSource(demo="focus", load_size=40)),
        image_size=32,
        load_size=32,
        num_workers=0,
    )
    data = build_data(config, i2i.LABELLED, batch_size=4)
    info = data.info
    assert [(s.name, s.domains, s.multi_label) for s in info.sources] == [
        ("grades", ("cool", "faded", "natural", "sepia"), False),
        ("focus", ("blurred", "plain", "sharpened"), False),
    ]
    assert info.domains == ("cool", "faded", "natural", "sepia", "blurred", "plain", "sharpened")
    seen = []
    for raw in data.loader:
        batch = data.augment(raw, "cpu")
        assert batch.labels.shape == (4, 9) and batch.a.shape == (4, 3, 32, 32)
        source = batch.labels[:, 7:].argmax(1)
        assert source.unique().numel() == 1  # one dataset per batch
        k = int(source[0])
        known = batch.labels[:, :4] if k == 0 else batch.labels[:, 4:7]
        other = batch.labels[:, 4:7] if k == 0 else batch.labels[:, :4]
        assert known.sum(1).eq(1).all() and other.eq(0).all()
        seen.append(k)
    assert seen == [0, 1, 0, 1, 0, 1, 0][: len(seen)] and len(seen) == 7  # 28 images, the datasets in turn
    # each source keeps its own worker-side resize; unset values come from [data]
    assert source_config(config, config.sources[1], i2i.LABELLED).load_size == 40
    assert source_config(config, config.sources[0], i2i.LABELLED).load_size == 32


def test_sources_from_toml_and_the_cli_and_bad_sources_are_one_line_errors(tmp_path: Path, capsys) -> None:
    toml = tmp_path / "two.toml"
    toml.write_text(
        '[method]\nname = "stargan"\n[data]\nimage_size = 64\n'
        '[[data.sources]]\nroot = "/data/celeba"\nlayout = "attributes"\nattributes = ["Blond_Hair", "Male"]\n'
        'load_size = 178\npreprocess = "scale_width_and_crop"\n'
        '[[data.sources]]\nroot = "/data/rafd"\nname = "rafd"\n'
    )
    cfg = i2i.load_config(toml)
    first, second = cfg.data.sources
    assert (first.root, first.layout, first.attributes, first.load_size) == (
        "/data/celeba",
        "attributes",
        ("Blond_Hair", "Male"),
        178,
    )
    assert (second.name, second.attributes) == ("rafd", None)
    cfg = i2i.load_config(method="stargan", overrides=['data.sources=[{demo="grades"}, {demo="focus"}]'])
    assert [s.demo for s in cfg.data.sources] == ["grades", "focus"]
    with pytest.raises(i2i.ConfigError, match="data.sources"):
        i2i.load_config(method="stargan", overrides=['data.sources=[{demo="grades", colour=1}]'])
    for sources, message in (('[{demo="grades"}]', "two or more"), ('[{demo="grades"}, {name="x"}]', "root")):
        with pytest.raises(SystemExit) as exit_info:
            main(
                [
                    "run",
                    "--method",
                    "stargan",
                    "--steps",
                    "1",
                    "--out",
                    str(tmp_path / "r"),
                    "--set",
                    f"data.sources={sources}",
                ]
            )
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


# -- the method -----------------------------------------------------------------------------------
def test_networks_are_built_for_the_union_of_labels_plus_the_mask() -> None:
    method = make()
    assert method.G.c_dim == 5 + 3 + 2 and method.D.c_dim == 5 + 3
    assert method.G.main[0].in_channels == 3 + 10 and method.D.conv2.out_channels == 8


def test_classification_loss_uses_only_the_known_part() -> None:
    method = make()
    logits = torch.randn(4, 8)
    for k in (0, 1):
        target = labels(k)
        base = method.classification_loss(logits, target)
        other = logits.clone()
        other[:, 5:] += 3.0 if k == 0 else 0.0
        other[:, :5] += 3.0 if k == 1 else 0.0
        assert torch.equal(method.classification_loss(other, target), base)  # the unknown part is ignored
    expected = (
        torch.nn.functional.binary_cross_entropy_with_logits(logits[:, :5], labels(0)[:, :5], reduction="sum") / 4
    )
    assert torch.allclose(method.classification_loss(logits, labels(0)), expected)  # CelebA: summed BCE
    expected = torch.nn.functional.cross_entropy(logits[:, 5:], labels(1)[:, 5:8].argmax(1))
    assert torch.allclose(method.classification_loss(logits, labels(1)), expected)  # RaFD: cross-entropy
    mixed = torch.cat([labels(0, 2), labels(1, 2)])
    halves = 0.5 * method.classification_loss(logits[:2], mixed[:2]) + 0.5 * method.classification_loss(
        logits[2:], mixed[2:]
    )
    assert torch.allclose(method.classification_loss(logits, mixed), halves)


def test_keep_loss_is_the_kl_of_d_reading_only_the_other_datasets_labels() -> None:
    method = make(lambda_keep=1.0)
    real = torch.randn(4, 8)
    mixed = torch.cat([labels(0, 2), labels(1, 2)])
    assert method.layout.keep_loss(real, real, mixed) == 0  # D reads the same labels on the fake
    for k, own, other in ((0, slice(0, 5), slice(5, 8)), (1, slice(5, 8), slice(0, 5))):
        fake = real.clone()
        fake[:, own] += torch.randn(4, own.stop - own.start)  # the own (target) part may change freely
        assert method.layout.keep_loss(fake, real, labels(k)) == 0
        fake[:, other] += 2.0 * torch.randn(4, other.stop - other.start)
        assert method.layout.keep_loss(fake, real, labels(k)) > 0
    # RaFD's part: KL of the softmaxes, for the CelebA images (the RaFD ones set their expression)
    fake = torch.randn(4, 8)
    kl = torch.nn.functional.kl_div(
        fake[:2, 5:].log_softmax(1), real[:2, 5:].log_softmax(1), log_target=True, reduction="none"
    ).sum(1)
    # CelebA's part: one Bernoulli KL per attribute, for the RaFD images
    p, q = real[2:, :5].sigmoid(), fake[2:, :5].sigmoid()
    bernoulli = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).sum(1)
    expected = (kl.sum() + bernoulli.sum()) / 4
    assert torch.allclose(method.layout.keep_loss(fake, real, mixed), expected, atol=1e-5)


def test_lambda_keep_adds_its_term_to_the_generator_loss_and_logs_it() -> None:
    batch = i2i.Batch(a=images(), labels=labels(1))
    steps = {}
    for keep in (0.0, 5.0):
        method = make(seed=3, lambda_keep=keep)
        torch.manual_seed(7)
        steps[keep] = (run_steps(method, batch, 1)[0], [p.detach().clone() for p in method.G.parameters()])
    (plain, g_plain), (kept, g_kept) = steps[0.0], steps[5.0]
    assert "G/loss_keep" not in plain and kept["G/loss_keep"] > 0
    for key in plain:  # the same draw and the same D update; only G's loss gained the term
        assert plain[key] == kept[key], key
    assert any(not torch.equal(a, b) for a, b in zip(g_plain, g_kept))


def test_lambda_keep_needs_several_datasets(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--method", "stargan", "--steps", "1", "--out", str(tmp_path / "r"), "--set=method.lambda_keep=1"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "method.lambda_keep" in err and "data.sources" in err
    assert not (tmp_path / "r").exists()


def test_targets_are_shuffled_within_each_dataset() -> None:
    method = make()
    mixed = torch.cat([labels(0, 3), labels(1, 3)])
    for seed in range(5):
        torch.manual_seed(seed)
        shuffled = method.layout.shuffled(mixed)
        assert torch.equal(shuffled[:, 8:], mixed[:, 8:])  # every image keeps its dataset's mask
        assert sorted(map(tuple, shuffled[3:].tolist())) == sorted(map(tuple, mixed[3:].tolist()))


def test_one_reference_iteration_is_one_batch_of_each_dataset_for_n_critic() -> None:
    method = make(n_critic=2)
    ctx = make_context(method)
    updates = []
    for step in range(8):
        before = [p.detach().clone() for p in method.G.parameters()]
        run_steps(method, i2i.Batch(a=images(seed=step), labels=labels(step % 2)), 1, ctx)
        updates.append(any(not torch.equal(b, p) for b, p in zip(before, method.G.parameters())))
    # iterations 1, 2, 3, 4 of (CelebA, RaFD): G steps after both batches of every 2nd iteration
    assert updates == [False, False, True, True, False, False, True, True]
    ctx.raise_problems("stargan")


def test_translate_targets_labels_of_any_dataset_one_dataset_at_a_time() -> None:
    method = make().eval()
    x = images(2)
    celeba = torch.tensor([[0, 1, 0, 1, 0, 0, 0, 0, 1, 0]] * 2, dtype=torch.float32)  # Blond_Hair, Male kept
    happy = torch.tensor([[0, 0, 0, 0, 0, 0, 1, 0, 0, 1]] * 2, dtype=torch.float32)
    with torch.no_grad():
        both = method.translate(x, target="Blond_Hair,happy", source_labels="Male")
        assert torch.equal(both, method.G(method.G(x, celeba), happy))
        assert torch.equal(method.translate(x, target="rafd:happy"), method.G(x, happy))
        variants = method.translate_variants(x, target="all", source_labels="Male")
    assert list(variants) == list(CELEBA.domains + RAFD.domains)
    with pytest.raises(i2i.UsageError, match="unknown label 'Smiling'.*celeba: Black_Hair"):
        method.translate(x, target="Smiling")
    with pytest.raises(i2i.UsageError, match="one output per label"):
        method.translate(x, target="all")


def test_shared_label_names_are_qualified() -> None:
    a = i2i.LabelSource("day", ("sunny", "neutral"))
    b = i2i.LabelSource("faces", ("happy", "neutral"))
    info = i2i.DataInfo(kind=i2i.LABELLED, domains=a.domains + b.domains, multi_label=True, sources=(a, b))
    torch.manual_seed(0)
    method = i2i.create_method("stargan", data_info=info, **TINY).eval()
    with torch.no_grad():
        keys = list(method.translate_variants(images(1), target="all"))
        assert keys == ["sunny", "day:neutral", "happy", "faces:neutral"]
        method.translate(images(1), target="faces:neutral")
    with pytest.raises(i2i.UsageError, match="several datasets; name one as day:neutral or faces:neutral"):
        method.translate(images(1), target="neutral")


# -- end to end -----------------------------------------------------------------------------------
def _domain_folders(root: Path, domains: dict[str, float]) -> Path:
    for split, count in (("train", 3), ("test", 1)):
        for name, shade in domains.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                rng = np.random.default_rng(i)
                pixels = (rng.uniform(0, 80, (36, 36, 3)) + 255 * shade * np.array([1.0, 0.6, 0.3])).clip(0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.png")
    return root


def test_cli_trains_on_two_datasets_and_translates_to_labels_of_both(tmp_path: Path) -> None:
    colours = _domain_folders(tmp_path / "colours", {"warm": 0.8, "cold": 0.1})
    moods = _domain_folders(tmp_path / "moods", {"calm": 0.3, "wild": 0.6, "sleepy": 0.5})
    sources = f'[{{root="{colours}"}}, {{root="{moods}", name="mood", load_size=48}}]'
    out = tmp_path / "run"
    args = [
        "run",
        "--method",
        "stargan",
        "--steps",
        "4",
        "--batch-size",
        "2",
        "--image-size",
        "32",
        "--out",
        str(out),
        "--set",
        f"data.sources={sources}",
        "--set",
        "data.num_workers=0",
    ]
    args += [f"--set=method.{k}={v}" for k, v in TINY.items() if k != "image_size"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)
    translator = i2i.load_checkpoint(out / "last.pt")
    assert [s.name for s in translator.data_info.sources] == ["colours", "mood"]
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.full((40, 52, 3), 120, np.uint8)).save(inputs / "x.png")
    for target, expected in (
        ("all", {"x_warm.png", "x_cold.png", "x_calm.png", "x_wild.png", "x_sleepy.png"}),
        ("warm,wild", {"x.png"}),
    ):
        result = tmp_path / f"out-{target}"
        with pytest.raises(SystemExit) as exit_info:
            main(
                [
                    "translate",
                    str(out / "last.pt"),
                    str(inputs),
                    "--out",
                    str(result),
                    "--target",
                    target,
                    "--device",
                    "cpu",
                ]
            )
        assert exit_info.value.code in (0, None)
        assert expected <= {p.name for p in result.iterdir()}


class RefStarGenerator(torch.nn.Module):
    """yunjey/stargan ``model.py`` Generator, as ``main.py --dataset Both`` builds it
    (``c_dim + c2_dim + 2`` label inputs): its state dict is a ``200000-G.ckpt``."""

    def __init__(self, conv_dim: int, c_dim: int, repeat_num: int) -> None:
        super().__init__()
        nn = torch.nn

        def norm(d: int) -> nn.Module:
            return nn.InstanceNorm2d(d, affine=True, track_running_stats=True)

        class Block(nn.Module):
            def __init__(self, d: int) -> None:
                super().__init__()
                self.main = nn.Sequential(
                    nn.Conv2d(d, d, 3, 1, 1, bias=False),
                    norm(d),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(d, d, 3, 1, 1, bias=False),
                    norm(d),
                )

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + self.main(x)

        layers = [nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False), norm(conv_dim), nn.ReLU(inplace=True)]
        d = conv_dim
        for _ in range(2):
            layers += [nn.Conv2d(d, d * 2, 4, 2, 1, bias=False), norm(d * 2), nn.ReLU(inplace=True)]
            d *= 2
        layers += [Block(d) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(d, d // 2, 4, 2, 1, bias=False), norm(d // 2), nn.ReLU(inplace=True)]
            d //= 2
        layers += [nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


def test_reference_both_checkpoint_imports_and_translates_like_test_multi(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    ref = RefStarGenerator(conv_dim=8, c_dim=5 + 8 + 2, repeat_num=2)
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.1)
    assert ref.state_dict()["main.0.weight"].shape == (8, 3 + 15, 7, 7)
    torch.save(ref.state_dict(), tmp_path / "200000-G.ckpt")
    out = tmp_path / "both.pt"
    with pytest.raises(SystemExit) as exit_info:
        main(["import-weights", str(tmp_path / "200000-G.ckpt"), "--format", "stargan-ref", "--out", str(out)])
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    translator = i2i.load_checkpoint(out)
    method = translator.method
    assert [(s.name, len(s.domains), s.multi_label) for s in method.data_info.sources] == [
        ("celeba", 5, True),
        ("rafd", 8, False),
    ]
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    blond = torch.tensor([[0, 1, 0, 1, 0] + [0] * 8 + [1, 0]] * 2, dtype=torch.float32)  # [c_celeba, zero_rafd, mask]
    happy = torch.zeros(2, 15)
    happy[:, 5 + 4], happy[:, 14] = 1.0, 1.0  # [zero_celeba, c_rafd (happy, ImageFolder order), mask]
    ref.train()  # the reference translates with instance statistics
    with torch.no_grad():
        assert torch.allclose(
            translator.translate(x, target="Blond_Hair", source_labels="Male"), ref(x, blond), atol=1e-5
        )
        assert torch.allclose(translator.translate(x, target="happy"), ref(x, happy), atol=1e-5)
        grid = translator.translate_variants(x, target="all", source_labels="Male")
    assert len(grid) == 13 and torch.allclose(
        grid["surprised"],
        ref(x, torch.cat([torch.zeros(2, 12), torch.ones(2, 1), torch.tensor([[0.0, 1.0]] * 2)], 1)),
        atol=1e-5,
    )
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "import-weights",
                str(tmp_path / "200000-G.ckpt"),
                "--format",
                "stargan-ref",
                "--out",
                str(tmp_path / "x.pt"),
                "--domains",
                "celeba:a,b;rafd:c",
            ]
        )
    assert exit_info.value.code == 2 and "trained with 15" in capsys.readouterr().err


def test_label_mistakes_across_datasets_are_checked_before_translating() -> None:
    """The translate options' ``check`` (what stops ``i2i translate`` before any image): the
    same names and messages as :meth:`translate`, each option named in its own message."""
    translator = i2i.Translator(make())
    assert translator.check_options({"target": "Blond_Hair,happy", "source_labels": "Male"})
    translator.check_options({"target": "rafd:happy"})
    translator.check_options({"source_labels": "Male,Young"})  # target all (the default)
    for options, message in [
        ({"target": "Blnd_Hair"}, r"^target: unknown label 'Blnd_Hair' \(valid: celeba: Black_Hair"),
        ({"target": "happy", "source_labels": "Mael"}, r"^source_labels: unknown label 'Mael'"),
        ({"source_labels": "happy,sad"}, r"^source_labels: unknown label 'sad'"),
        ({"target": "happy,angry"}, r"name exactly one of angry, happy, neutral"),
    ]:
        with pytest.raises(i2i.UsageError, match=message):
            translator.check_options(options)
