"""The FID Inception v3 network, built locally and loaded from a user-supplied weight file.

FID and KID are only comparable with published numbers when computed with *the* network of
the original TensorFlow FID code. pytorch-fid ported it: torchvision's Inception v3 with 1008
classes and four block changes (TensorFlow's average pools ignore padding, and the last
block max-pools), weights ``pt_inception-2015-12-05-6726825d.pth``. i2i builds the same
architecture from torchvision's blocks and loads that file with ``weights_only=True``; it
never downloads anything. Without the file, :func:`load_fid_inception` says how to get it.

Features are the 2048-d pool3 activations of images resized to 299x299 (bilinear), fed in
``[-1, 1]`` as pytorch-fid does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import UsageError

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
#: The resolution FID is defined at. (Tests lower it to torchvision's minimum, 75, for speed.)
INPUT_SIZE = 299
HOW_TO_GET = (
    f"FID/KID need the FID Inception weights {WEIGHTS_NAME} (the pytorch-fid port of the TensorFlow "
    "FID network, ~91 MB): download it once from the GitHub releases of mseitzer/pytorch-fid (release "
    "'fid_weights') and pass --inception-weights FILE; i2i never downloads it"
)


def _blocks() -> tuple[type, type, type, type]:
    from torchvision.models import inception as tv  # lazy: torchvision's models only for FID/KID

    class FIDInceptionA(tv.InceptionA):
        """Average pool without the padded zeros (TensorFlow's semantics)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b5, b3, pool], 1)

    class FIDInceptionC(tv.InceptionC):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            b7d = self.branch7x7dbl_1(x)
            for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
                b7d = layer(b7d)
            pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b7, b7d, pool], 1)

    class FIDInceptionE1(tv.InceptionE):
        """First E block: average pool without padded zeros."""

        pool = staticmethod(lambda x: F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
            pool = self.branch_pool(self.pool(x))
            return torch.cat([b1, b3, bd, pool], 1)

    class FIDInceptionE2(FIDInceptionE1):
        """Second E block: the TensorFlow graph max-pools here (a bug there, kept for comparability)."""

        pool = staticmethod(lambda x: F.max_pool2d(x, kernel_size=3, stride=1, padding=1))

    return FIDInceptionA, FIDInceptionC, FIDInceptionE1, FIDInceptionE2


def fid_inception_v3() -> nn.Module:
    """The FID Inception v3 architecture, randomly initialised (load weights with :func:`load_fid_inception`)."""
    from torchvision.models.inception import Inception3  # lazy: only for FID/KID

    block_a, block_c, block_e1, block_e2 = _blocks()
    net = Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = block_a(192, pool_features=32)
    net.Mixed_5c = block_a(256, pool_features=64)
    net.Mixed_5d = block_a(288, pool_features=64)
    net.Mixed_6b = block_c(768, channels_7x7=128)
    net.Mixed_6c = block_c(768, channels_7x7=160)
    net.Mixed_6d = block_c(768, channels_7x7=160)
    net.Mixed_6e = block_c(768, channels_7x7=192)
    net.Mixed_7b = block_e1(1280)
    net.Mixed_7c = block_e2(2048)
    return net


class FIDFeatures(nn.Module):
    """``[-1, 1]`` images (any size, 1 or 3 channels) -> 2048-d pool3 features."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net: Any = net.eval()  # torchvision's Inception3: its layers are read by name below

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = x.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x[:, :3], size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in (
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            "Mixed_7c",
        ):
            x = getattr(n, name)(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch: int = 32) -> torch.Tensor:
        device = next(self.parameters()).device
        return torch.cat([self(images[i : i + batch].to(device)).double().cpu() for i in range(0, len(images), batch)])


def load_fid_inception(path: str | Path | None, device: torch.device | str = "cpu") -> FIDFeatures:
    """Build the FID Inception and load ``path`` (weights only); a one-line error says how to
    get the file when it is missing or holds something else."""
    if path is None:
        raise UsageError(HOW_TO_GET)
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--inception-weights {path}: file not found. {HOW_TO_GET}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(
            f"--inception-weights {path}: not a readable PyTorch weight file ({type(exc).__name__})"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    with torch.device("meta"):  # no random init of 24M weights that the file replaces anyway
        net = fid_inception_v3()
    net = net.to_empty(device="cpu")
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"--inception-weights {path}: not the FID Inception weights {WEIGHTS_NAME} ({first})"
        ) from None
    return FIDFeatures(net).to(device)
