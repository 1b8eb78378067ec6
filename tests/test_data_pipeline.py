"""build_data end to end: batches, device augmentation semantics, determinism, resume, bad files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import Batch, DataConfig, build_data
from i2i.data.files import SkippedImageWarning
from i2i.errors import DataError


def noise(path: Path, size: tuple[int, int] = (24, 20), seed: int = 0, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode).save(path)
    return path


def cfg(root: Path, **kw) -> DataConfig:
    base = dict(root=str(root), num_workers=0, image_size=16, load_size=20, rotation=15.0, affine=True)
    return DataConfig(**{**base, **kw})


def paired_root(root: Path, n: int = 4, grey_b: bool = False) -> Path:
    for i in range(n):
        noise(root / "train" / "A" / f"{i}.png", seed=i)
        noise(root / "train" / "B" / f"{i}.png", seed=i, mode="L" if grey_b else "RGB")
    return root


def unpaired_root(root: Path, n: int = 6) -> Path:
    for i in range(n):
        noise(root / "trainA" / f"{i}.png", seed=i)
        noise(root / "trainB" / f"{i}.png", seed=i)  # same pictures: geometry differences are visible
    return root


def batches(dm, device: str = "cpu", train: bool = True, epoch: int = 0) -> list[Batch]:
    dm.sampler.set_epoch(epoch)
    return [dm.augment(raw, torch.device(device), train=train) for raw in dm.loader]


def test_paired_batches_share_geometry(tmp_path: Path) -> None:
    dm = build_data(cfg(paired_root(tmp_path), color_jitter=0.4), "paired", batch_size=2, seed=0)
    assert dm.info.kind == "paired" and dm.batches_per_epoch() == 2
    torch.manual_seed(0)
    for batch in batches(dm):
        assert isinstance(batch, Batch) and batch.a.shape == batch.b.shape == (2, 3, 16, 16)
        assert batch.a.dtype == torch.float32 and -1.0 <= batch.a.min() and batch.a.max() <= 1.0
        torch.testing.assert_close(batch.a, batch.b)  # identical crop, flip, rotation, affine, jitter
        assert batch.names_a == batch.names_b


def test_paired_geometry_with_different_channel_counts(tmp_path: Path) -> None:
    dm = build_data(cfg(paired_root(tmp_path, grey_b=True), channels_b=1), "paired", batch_size=4, seed=0)
    assert (dm.info.channels_a, dm.info.channels_b) == (3, 1)
    torch.manual_seed(1)
    (batch,) = batches(dm)
    assert batch.b.shape == (4, 1, 16, 16)
    grey = (0.299 * batch.a[:, 0] + 0.587 * batch.a[:, 1] + 0.114 * batch.a[:, 2]).unsqueeze(1)
    assert (grey - batch.b).abs().mean() < 0.05


def test_unpaired_draws_are_independent_unless_asked(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path, n=1)
    dm = build_data(cfg(root, rotation=0.0, affine=False), "unpaired", batch_size=1, seed=0)
    torch.manual_seed(0)
    results = [batches(dm, epoch=e)[0] for e in range(8)]
    assert any(not torch.equal(b.a, b.b) for b in results)
    same = build_data(cfg(root, rotation=0.0, affine=False, independent_unpaired=False), "unpaired", seed=0)
    torch.manual_seed(0)
    assert all(torch.equal(b.a, b.b) for e in range(8) for b in batches(same, epoch=e))


def test_same_seed_same_batches_different_seed_different_order(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path)

    def run(seed: int) -> tuple[list[list[str]], torch.Tensor]:
        dm = build_data(cfg(root, color_jitter=0.3), "unpaired", batch_size=2, seed=seed)
        torch.manual_seed(5)
        out = batches(dm, epoch=2)
        return [b.names_a + b.names_b for b in out], torch.cat([torch.cat([b.a, b.b]) for b in out])

    names, images = run(0)
    names2, images2 = run(0)
    assert names == names2 and torch.equal(images, images2)
    assert run(1)[0] != names


def test_resume_mid_epoch_reproduces_the_rest_without_decoding_the_skipped(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path, n=8)
    dm = build_data(cfg(root), "unpaired", batch_size=2, seed=7)
    torch.manual_seed(0)
    dm.sampler.set_epoch(3)
    states, full = [], []
    for raw in dm.loader:
        states.append(torch.get_rng_state())
        full.append(dm.augment(raw, torch.device("cpu")))

    resumed = build_data(cfg(root), "unpaired", batch_size=2, seed=7)
    calls: list[object] = []
    original = resumed.dataset.__getitem__
    resumed.loader.dataset.__class__ = type(
        "Counting", (type(resumed.dataset),), {"__getitem__": lambda self, key: calls.append(key) or original(key)}
    )
    resumed.sampler.set_epoch(3)
    resumed.sampler.set_start(2 * 2)  # two batches of two were done
    torch.set_rng_state(states[2])
    rest = [resumed.augment(raw, torch.device("cpu")) for raw in resumed.loader]
    assert len(calls) == 4 and len(rest) == 2
    for got, want in zip(rest, full[2:]):
        assert got.names_a == want.names_a and got.names_b == want.names_b
        assert torch.equal(got.a, want.a) and torch.equal(got.b, want.b)


def test_ranks_see_disjoint_shards(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path, n=8)
    seen = []
    for rank in range(2):
        dm = build_data(cfg(root), "unpaired", batch_size=2, seed=0, rank=rank, world_size=2)
        assert dm.batches_per_epoch() == 2
        seen.append({name for b in batches(dm) for name in b.names_a})
    assert seen[0].isdisjoint(seen[1]) and len(seen[0] | seen[1]) == 8


@pytest.mark.parametrize(
    ("preprocess", "size", "multiple", "expected", "expected_eval"),
    [
        ("resize_and_crop", (40, 30), 4, (16, 16), (16, 16)),
        ("crop", (40, 30), 4, (16, 16), (16, 16)),
        ("crop", (10, 12), 4, (16, 16), (16, 16)),
        ("scale_width", (40, 20), 4, (16, 20), (16, 20)),  # non-square kept: width -> 20, height 10 -> at least 16
        ("scale_width_and_crop", (40, 20), 4, (16, 16), (16, 16)),
        # 18x30 to multiples of 8: training crops (16x24), evaluation pads (24x32); never resized
        ("none", (30, 18), 8, (16, 24), (24, 32)),
    ],
)
def test_preprocess_modes_give_network_friendly_sizes(
    tmp_path: Path, preprocess, size, multiple, expected, expected_eval
) -> None:
    noise(tmp_path / "trainA" / "0.png", size=size)
    noise(tmp_path / "trainB" / "0.png", size=size)
    dm = build_data(cfg(tmp_path, preprocess=preprocess), "unpaired", size_multiple=multiple)
    torch.manual_seed(0)
    (batch,) = batches(dm)
    (evaluated,) = batches(dm, train=False)
    h, w = batch.a.shape[-2:]
    assert h % multiple == 0 and w % multiple == 0
    assert (h, w) == expected
    assert tuple(evaluated.a.shape[-2:]) == expected_eval


def test_eval_is_deterministic_centre_crop_without_flip(tmp_path: Path) -> None:
    noise(tmp_path / "trainA" / "0.png", size=(20, 20))
    noise(tmp_path / "trainB" / "0.png", size=(20, 20))
    dm = build_data(cfg(tmp_path, preprocess="crop"), "unpaired")
    raw = next(iter(dm.loader))
    first = dm.augment(raw, torch.device("cpu"), train=False)
    second = dm.augment(raw, torch.device("cpu"), train=False)
    assert torch.equal(first.a, second.a)
    expected = raw["a"][:, :, 2:18, 2:18].float() / 127.5 - 1.0
    torch.testing.assert_close(first.a, expected)


def test_labelled_batches_carry_labels(tmp_path: Path) -> None:
    for k, domain in enumerate(("day", "night")):
        for i in range(2):
            noise(tmp_path / "train" / domain / f"{i}.png", seed=10 * k + i)
    dm = build_data(cfg(tmp_path), "labelled", batch_size=4, shuffle=False)
    (batch,) = batches(dm)
    assert dm.info.domains == ("day", "night") and batch.b is None
    assert batch.labels.tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]


def test_corrupt_files_are_substituted_counted_and_strict_stops(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path, n=4)
    (root / "trainA" / "1.png").write_bytes(b"not a png")
    data = (root / "trainA" / "2.png").read_bytes()
    (root / "trainA" / "2.png").write_bytes(data[: len(data) // 3])
    dm = build_data(cfg(root), "unpaired", batch_size=2, shuffle=False)
    with pytest.warns(SkippedImageWarning) as record:
        out = batches(dm)
    assert [len(b) for b in out] == [2, 2]  # full batches: bad files replaced by the next good one
    assert [n for b in out for n in b.names_a] == ["0.png", "3.png", "3.png", "3.png"]
    assert [Path(p).name for p in dm.skipped()] == ["1.png", "2.png"]
    assert dm.skip_summary().startswith("2 image files were skipped")
    assert len(record) == 2 and "1.png" in str(record[0].message)
    strict = build_data(cfg(root, strict=True), "unpaired", batch_size=2, shuffle=False)
    with pytest.raises(DataError, match=r"bad image .*1\.png"):
        batches(strict)


def test_decompression_bomb_is_skipped(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path, n=2)
    noise(root / "trainA" / "0.png", size=(200, 200))
    dm = build_data(cfg(root, max_image_pixels=100 * 100), "unpaired", shuffle=False)
    with pytest.warns(SkippedImageWarning, match="max_image_pixels"):
        names = [b.names_a[0] for b in batches(dm)]
    assert names == ["1.png", "1.png"]


def test_worker_processes_decode_and_report(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path, n=4)
    (root / "trainB" / "3.png").write_bytes(b"")  # zero bytes: reported at scan
    (root / "trainA" / "0.png").write_bytes(b"junk")  # reported from the worker
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImageWarning)
        dm = build_data(cfg(root, num_workers=1), "unpaired", batch_size=2)
        torch.manual_seed(0)
        out = batches(dm)
    assert sum(len(b) for b in out) == 4
    assert sorted(Path(p).name for p in dm.skipped()) == ["0.png", "3.png"]
