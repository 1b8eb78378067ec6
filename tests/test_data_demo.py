"""Built-in demo tasks: derived from the shipped photos, deterministic, cached atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import DataConfig, build_data, demo
from i2i.data.demo import DEMO_TASKS, DEMO_VERSION, demo_root, demo_task
from i2i.errors import DataError

ASSETS = Path(__file__).parents[1] / "i2i" / "data" / "assets"


@pytest.fixture
def small_demos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and fewer crops per domain, so each build takes well under a second."""
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(demo, "TRAIN_PER_DOMAIN", 12)
    monkeypatch.setattr(demo, "TEST_PER_DOMAIN", 4)
    return tmp_path


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def test_shipped_photos_are_small_and_attributed() -> None:
    photos = sorted(ASSETS.glob("*.jpg"))
    assert len(photos) == 4 and sum(p.stat().st_size for p in photos) < 5 * 2**20
    attribution = (ASSETS / "ATTRIBUTION.md").read_text()
    assert all(p.name in attribution for p in photos) and "CC0" in attribution


def test_full_size_demo_has_a_few_hundred_crops_per_domain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path))
    root = demo_root("photo2grade")
    assert len(list((root / "trainA").iterdir())) == len(list((root / "trainB").iterdir())) == 240
    assert len(list((root / "testA").iterdir())) == 24
    assert "CC0" in (root / "README.txt").read_text()


def test_demo_build_is_deterministic_cached_and_versioned(small_demos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = small_demos
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path / "one"))
    first = demo_root("edges2photos")
    assert first == tmp_path / "one" / f"demo-v{DEMO_VERSION}" / "edges2photos"
    assert len(list((first / "train" / "A").iterdir())) == 12
    assert len(list((first / "test" / "B").iterdir())) == 4
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temp folder left
    stamp = (first / "train" / "B" / "0000.jpg").stat().st_mtime_ns
    assert demo_root("edges2photos") == first and (first / "train" / "B" / "0000.jpg").stat().st_mtime_ns == stamp
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path / "two"))
    assert digest(demo_root("edges2photos")) == digest(first)


@pytest.mark.parametrize("kind", ["paired", "unpaired", "labelled"])
def test_each_kind_has_a_default_demo_that_trains(kind: str, small_demos: Path) -> None:
    config = DataConfig(image_size=64, load_size=72, num_workers=0)
    dm = build_data(config, kind, batch_size=4, seed=0)
    assert len(dm.dataset) == 12 * (len(dm.info.domains) or 1)
    torch.manual_seed(0)
    batch = dm.augment(next(iter(dm.loader)), torch.device("cpu"))
    assert batch.a.shape == (4, 3, 64, 64)
    test = build_data(config, kind, split="test", batch_size=4)
    assert len(test.dataset) == 4 * (len(dm.info.domains) or 1)
    if kind == "paired":
        assert batch.b.shape == (4, 3, 64, 64) and (batch.a > 0.9).float().mean() > 0.5  # edges: mostly white
    if kind == "labelled":
        assert dm.info.domains == ("cool", "faded", "natural", "sepia") and batch.labels.sum(1).eq(1).all()


def test_edges_photos_unpaired_and_demo_errors(small_demos: Path) -> None:
    dm = build_data(DataConfig(demo="edges_photos_unpaired", image_size=32, load_size=40, num_workers=0), "unpaired")
    assert dm.info.kind == "unpaired" and set(DEMO_TASKS) == {
        "edges2photos",
        "photo2grade",
        "edges_photos_unpaired",
        "grades",
        "photos",
        "focus",
        "tones",
        "frames",
        "subjects",
        "tones_any_frame",
        "frames_any_tone",
        "inversions_any_frame",
        "frames_any_inversion",
    }
    with pytest.raises(DataError, match="unknown demo 'nope'"):
        demo_task("nope", "paired")
    with pytest.raises(DataError, match="'grades' is labelled data; a paired method needs one of: edges2photos"):
        demo_task("grades", "paired")


def test_demo_tasks_only_serve_kinds_they_make_sense_for() -> None:
    with pytest.raises(DataError, match="'photo2grade' is unpaired data; a paired method needs one of: edges2photos"):
        demo_task("photo2grade", "paired")
    assert demo_task("edges2photos", "unpaired").name == "edges2photos"
    assert demo_task(None, "labelled").name == "grades"


def test_tones_survive_the_domain_classifiers_rank_normalisation() -> None:
    """The ``tones`` domains stay apart after the per-channel rank normalisation of i2i's domain
    classifier, where a per-channel colour grade (``grades``' cool) is erased."""
    from i2i.data.demo import TONES, grade, tone
    from i2i.eval.classifier import rank_normalize

    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    x[:, 0] += torch.linspace(0, 1, 16)  # channels of different structure, as in a photo
    x = (x / 2).clamp(0, 1)

    def seen(images: torch.Tensor) -> torch.Tensor:
        return rank_normalize(images * 2 - 1)

    natural = seen(x)
    for name in TONES:
        if name != "natural":
            assert (seen(tone(x, name)) - natural).abs().mean() > 0.2, name
    assert (seen(grade(x, "cool")) - natural).abs().mean() < 0.05


def test_frames_paint_only_the_border_and_survive_the_rank_normalisation() -> None:
    """``frames`` (the two-dataset demo's spatial label set): a 6 px band at 64 px, near-black or
    near-white, the inside untouched, and still apart after the domain classifier's per-channel
    rank normalisation (unlike a global grade)."""
    from i2i.data.demo import FRAMES, frame
    from i2i.eval.classifier import rank_normalize

    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64) * 0.6 + 0.2
    dark, light = frame(x, "dark_frame"), frame(x, "light_frame")
    assert torch.equal(frame(x, "unframed"), x) and FRAMES[0] == "unframed"
    assert torch.equal(dark[..., 6:-6, 6:-6], x[..., 6:-6, 6:-6]) and torch.equal(
        light[..., 6:-6, 6:-6], x[..., 6:-6, 6:-6]
    )
    assert dark[..., :6, :].max() < 0.05 and light[..., :, -6:].min() > 0.95
    natural = rank_normalize(x * 2 - 1)
    for framed in (dark, light):
        assert (rank_normalize(framed * 2 - 1) - natural).abs().mean() > 0.1
    with pytest.raises(ValueError, match="unknown frame"):
        frame(x, "thick")


def test_subjects_are_one_domain_per_shipped_photo(small_demos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``subjects`` (StarGAN v2's demo): each domain is cut from its own photo only, in both splits."""
    photos = demo.load_photos()
    sources: list[tuple[bool, bytes]] = []
    real = demo.random_crops

    def recording(chosen, count, generator, *, test):
        assert len(chosen) == 1  # a domain never mixes photos
        sources.append((test, chosen[0].tobytes()))
        return real(chosen, count, generator, test=test)

    monkeypatch.setattr(demo, "random_crops", recording)
    root = demo_root("subjects")
    assert demo.SUBJECTS == ("astronaut", "cat", "coffee", "rocket")
    for split, count in (("train", 12), ("test", 4)):
        assert sorted(p.name for p in (root / split).iterdir()) == list(demo.SUBJECTS)
        assert all(len(list((root / split / s).glob("*.jpg"))) == count for s in demo.SUBJECTS)
    order = [p.tobytes() for p in photos]
    assert [s for t, s in sources if not t] == order and [s for t, s in sources if t] == order
    dm = build_data(DataConfig(demo="subjects", image_size=32, load_size=32, num_workers=0), "labelled")
    assert dm.info.domains == demo.SUBJECTS


def _band(path: Path) -> str:
    """Which frame a demo crop carries: its 128 px crop's 12 px border band (6 px at 64 px),
    uniform near-black or near-white, or neither."""
    with Image.open(path) as img:
        x = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    band = np.concatenate([x[:12].reshape(-1, 3), x[-12:].reshape(-1, 3), x[:, :12].reshape(-1, 3)])
    if band.std() < 0.03 and band.mean() < 0.1:
        return "dark_frame"
    if band.std() < 0.03 and band.mean() > 0.9:
        return "light_frame"
    return "unframed"


def test_the_two_dataset_demo_sets_each_vary_in_the_other_family(small_demos: Path) -> None:
    """``tones_any_frame`` / ``frames_any_tone`` (the two-dataset StarGAN demo): every tone comes
    with every frame, unlabelled, and every frame with grey and coloured crops, the frame painted
    after the tone (a negative crop's dark frame stays dark); so neither label says anything
    about the other family, and a generator sees inputs of both while it learns one."""
    tones, frames = demo_root("tones_any_frame"), demo_root("frames_any_tone")
    for name in demo.TONES:
        files = sorted((tones / "train" / name).glob("*.jpg"))
        assert len(files) == 12 and {_band(f) for f in files} == set(demo.FRAMES), name
    for name in demo.FRAMES:
        files = sorted((frames / "train" / name).glob("*.jpg"))
        assert {_band(f) for f in files} == {name}, name  # the label is the band, whatever the tone
        grey = []
        for f in files:
            with Image.open(f) as img:
                inner = np.asarray(img.convert("RGB"), dtype=np.float32)[12:-12, 12:-12]
            grey.append(bool(np.abs(inner - inner.mean(2, keepdims=True)).mean() < 2.0))
        assert any(grey) and not all(grey), name  # mono crops among coloured ones


def test_inversions_turn_one_channel_and_survive_the_rank_normalisation() -> None:
    """``INVERSIONS`` (the two-dataset demo's colour looks): pointwise, exactly one channel turned
    upside down (never green) or all made equal, so how the channels relate - what survives the
    domain classifier's per-channel rank normalisation - tells every look apart on a photo."""
    from i2i.data.demo import INVERSIONS, inversion
    from i2i.eval.classifier import rank_normalize

    crops = demo.random_crops(demo.load_photos(), 8, torch.Generator().manual_seed(0), test=False)
    assert INVERSIONS == ("natural", "mono", "red_inverted", "blue_inverted")
    assert torch.equal(inversion(crops, "natural"), crops)
    mono = inversion(crops, "mono")
    assert torch.equal(mono[:, 0], mono[:, 1]) and torch.equal(mono[:, 1], mono[:, 2])
    for name, turned in (("red_inverted", 0), ("blue_inverted", 2)):
        out = inversion(crops, name)
        for c in range(3):
            assert torch.allclose(out[:, c], 1 - crops[:, c] if c == turned else crops[:, c]), (name, c)
    with pytest.raises(ValueError, match="unknown inversion"):
        inversion(crops, "negative")

    def relations(images: torch.Tensor) -> torch.Tensor:
        """Per image, the correlations R-G, G-B, R-B of its rank-normalised channels."""
        r = rank_normalize(images * 2 - 1).flatten(2)
        r = (r - r.mean(2, keepdim=True)) / r.std(2, keepdim=True)
        return torch.stack([(r[:, i] * r[:, j]).mean(1) for i, j in ((0, 1), (1, 2), (0, 2))], 1)

    signs = {name: relations(inversion(crops, name)).sign() for name in INVERSIONS}
    assert (signs["natural"] > 0).all() and (relations(mono) > 0.99).all()
    assert (signs["red_inverted"] == torch.tensor([-1.0, 1.0, -1.0])).all()
    assert (signs["blue_inverted"] == torch.tensor([1.0, -1.0, -1.0])).all()


def _inversion_look(path: Path) -> str:
    """Which ``INVERSIONS`` look a demo crop's inside (clear of any frame) has: all channels equal
    (mono), else the channel (none, red, blue) whose turning back makes the channels agree most,
    as a photo's channels do."""
    with Image.open(path) as img:
        x = np.asarray(img.convert("RGB"), dtype=np.float32)[12:-12, 12:-12].reshape(-1, 3)
    if np.abs(x - x.mean(1, keepdims=True)).mean() < 2.0:
        return "mono"
    agreement = {}
    for name, channel in (("natural", None), ("red_inverted", 0), ("blue_inverted", 2)):
        y = x.copy()
        if channel is not None:
            y[:, channel] = 255.0 - y[:, channel]
        agreement[name] = np.corrcoef(y.T)[np.triu_indices(3, 1)].sum()
    return max(agreement, key=agreement.__getitem__)


def test_the_inversion_and_frame_demo_sets_each_vary_in_the_other_family(small_demos: Path) -> None:
    """``inversions_any_frame`` / ``frames_any_inversion`` (the two-dataset StarGAN demo): every
    look's crops carry every frame, unlabelled, painted after the look (so the band stays grey);
    every frame comes in every look; so neither label says anything about the other family."""
    looks, frames = demo_root("inversions_any_frame"), demo_root("frames_any_inversion")
    for name in demo.INVERSIONS:
        files = sorted((looks / "train" / name).glob("*.jpg"))
        assert len(files) == 12 and {_band(f) for f in files} == set(demo.FRAMES), name
        assert {_inversion_look(f) for f in files} == {name}, name
    for name in demo.FRAMES:
        files = sorted((frames / "train" / name).glob("*.jpg"))
        assert len(files) == 12 and {_band(f) for f in files} == {name}, name
        assert {_inversion_look(f) for f in files} == set(demo.INVERSIONS), name
