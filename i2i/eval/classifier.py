"""A small domain classifier, trained on real *training* images only, for judging translations.

Its job is to say whether a translated image looks like its target domain, which it can only
do honestly if it never saw the held-out images, nor any generated ones: it is trained on the
run's training split and its accuracy on the held-out *real* images is reported next to every
score it produces (a classifier that cannot tell the real domains apart makes every
translation look bad; one at 100% makes the numbers meaningful).

Inputs are **rank-normalised per channel**: each pixel value is replaced by the fraction of the
image's pixels (of that channel) at or below it. Every image then has the same per-channel
histogram, so colour statistics alone - the cheapest trick a generator learns first, e.g. a
yellow cast for "zebra" - cannot fool the classifier; it must see structure and texture.
Its penultimate features also give ``kid_classifier`` (KID in this classifier's feature space),
which is *not* FID and never called so.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from i2i.data.demo import cache_dir
from i2i.io.atomic import atomic_file
from i2i.optim import adam

#: Images are resized to this square before classification (small: trained in seconds on a CPU).
INPUT_SIZE = 64


#: Levels of the empirical CDF: the precision of the 8-bit images the data comes from.
RANK_LEVELS = 256


def rank_normalize(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` in [-1, 1] -> per image and channel, each value's empirical CDF (the share
    of that channel's pixels at or below it), mapped to [-1, 1].

    Values are binned to 256 levels first, so the CDF is one histogram + cumulative sum per
    channel (linear time; a sort per channel is ~10x slower on a CPU), and ties share a value,
    so flat regions stay flat.
    """
    n, c, h, w = x.shape
    levels = ((x.float().clamp(-1, 1) + 1) * ((RANK_LEVELS - 1) / 2)).round().long().reshape(n * c, h * w)
    counts = torch.zeros(n * c, RANK_LEVELS, device=x.device).scatter_add_(
        1, levels, torch.ones_like(levels, dtype=torch.float32)
    )
    cdf = counts.cumsum(1) / (h * w)
    return (cdf.gather(1, levels) * 2 - 1).reshape(n, c, h, w)


def prepare(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """[-1, 1] images of any channel count and size -> the classifier's 3-channel ``size`` input."""
    x = x.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] > 3:
        x = x[:, :3]
    if x.shape[-2:] != (size, size):
        shrinking = min(x.shape[-2:]) > size
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
    return rank_normalize(x)


class DomainClassifier(nn.Module):
    """Four strided conv blocks, global average pooling, a linear head.

    ``multi_label``: independent sigmoid outputs (CelebA-style attributes) instead of a softmax.
    """

    def __init__(
        self, classes: int, *, multi_label: bool = False, width: int = 32, input_size: int = INPUT_SIZE
    ) -> None:
        super().__init__()
        self.classes, self.multi_label, self.input_size = classes, multi_label, input_size
        layers: list[nn.Module] = []
        channels = 3
        for i in range(4):
            out = width * min(2**i, 4)
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.GroupNorm(8, out), nn.LeakyReLU(0.2, True)]
            channels = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, classes)
        self.feature_dim = channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (pooled) features of ``prepare``-d images."""
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
        """Class indices (single-label) or 0/1 attribute matrix (multi-label) for [-1, 1] images."""
        self.eval()
        dev = self.head.weight.device
        logits = torch.cat(
            [self(prepare(images[i : i + batch].to(dev), self.input_size)).cpu() for i in range(0, len(images), batch)]
        )
        return (logits > 0).long() if self.multi_label else logits.argmax(1)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
        self.eval()
        dev = self.head.weight.device
        return torch.cat(
            [
                self.features(prepare(images[i : i + batch].to(dev), self.input_size)).cpu()
                for i in range(0, len(images), batch)
            ]
        )


def train_classifier(
    batches: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]],
    classes: int,
    *,
    multi_label: bool = False,
    steps: int = 300,
    lr: float = 1e-3,
    seed: int = 0,
    input_size: int = INPUT_SIZE,
    device: torch.device | str = "cpu",
) -> DomainClassifier:
    """Train on ``batches()`` of ``(images in [-1, 1], targets)`` (class indices, or float 0/1
    attribute rows), re-iterated until ``steps`` updates; random flips and small shifts augment."""
    torch.manual_seed(seed)
    model = DomainClassifier(classes, multi_label=multi_label, input_size=input_size).to(device)
    optimizer = adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    model.train()
    step = 0
    while step < steps:
        seen = False
        for images, targets in batches():
            seen = True
            x = prepare(images.to(device), input_size)
            flip = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            shift = [int(s) for s in torch.randint(-4, 5, (2,))]
            x = torch.roll(x, shifts=shift, dims=(2, 3))
            logits = model(x)
            targets = targets.to(device)
            loss = (
                F.binary_cross_entropy_with_logits(logits, targets.float())
                if multi_label
                else F.cross_entropy(logits, targets.long())
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step >= steps:
                break
        if not seen:
            raise ValueError("no training images for the domain classifier")
    return model.eval()


def accuracy(model: DomainClassifier, images: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct classes (single-label) or of correct attribute bits (multi-label)."""
    predicted = model.predict(images)
    return float((predicted == targets.long().to(predicted.device)).float().mean())


# -- one classifier per training set: trained once, then cached -----------------------------------
def _cache_key(images: torch.Tensor, targets: torch.Tensor, **settings: object) -> str:
    """A digest of exactly what the classifier learns from: the (resized) training images, their
    targets and the training settings - the same data folder read again gives the same key."""
    digest = hashlib.sha256()
    for tensor in (images, targets):
        digest.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
        digest.update(tensor.detach().float().contiguous().cpu().numpy().tobytes())
    digest.update(repr(sorted(settings.items())).encode())
    digest.update(f"v{CACHE_VERSION}".encode())
    return digest.hexdigest()[:24]


#: Bump when the classifier's architecture or training changes, so old cached ones are not reused.
CACHE_VERSION = 1


def classifier_for(
    images: torch.Tensor,
    targets: torch.Tensor,
    classes: int,
    *,
    multi_label: bool = False,
    steps: int = 300,
    seed: int = 0,
    input_size: int = INPUT_SIZE,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    cache: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> DomainClassifier:
    """The domain classifier for these training ``images`` (``[-1, 1]``) and ``targets``.

    Training it is most of an evaluation's time on a CPU, and it depends only on the training
    images and these settings, so it is stored under ``<cache>/eval-classifiers/<digest>.pt``
    (``$I2I_CACHE_DIR`` or the user cache) and loaded from there next time; ``log`` says which
    happened. ``cache=False`` always trains (and stores nothing).
    """

    settings = dict(
        classes=classes, multi_label=multi_label, steps=steps, seed=seed, input_size=input_size, batch_size=batch_size
    )
    path = cache_dir() / "eval-classifiers" / f"{_cache_key(images, targets, **settings)}.pt"
    if cache and path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = DomainClassifier(classes, multi_label=multi_label, input_size=input_size)
            model.load_state_dict(state, strict=True)
            log(f"domain classifier: trained before on these {len(images)} training images, loaded from {path}")
            return model.to(device).eval()
        except Exception as exc:  # a stale or damaged cache entry is retrained, never fatal
            log(f"domain classifier: cached {path} unusable ({type(exc).__name__}); training again")
    where = f"; cached in {path.parent}" if cache else ""
    log(f"training the domain classifier ({steps} steps on {len(images)} training images{where})")
    dev = torch.device(device)
    # seeded, so the classifier is a function of what the cache key holds; the RNG is restored
    # afterwards, so what follows draws the same numbers whether it was cached or trained
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        order = torch.randperm(len(images))

        def batches() -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
            perm = order[torch.randperm(len(order))]
            for i in range(0, len(perm), batch_size):
                yield images[perm[i : i + batch_size]], targets[perm[i : i + batch_size]]

        model = train_classifier(
            batches, classes, multi_label=multi_label, steps=steps, seed=seed, input_size=input_size, device=device
        )
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(path) as fh:
                torch.save({k: v.cpu() for k, v in model.state_dict().items()}, fh)
        except OSError as exc:  # a read-only cache costs the next run time, not this one its result
            log(f"domain classifier: not cached ({exc.strerror or exc})")
    return model
