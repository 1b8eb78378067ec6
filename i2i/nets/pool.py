"""The CycleGAN image history buffer (Shrivastava et al. 2017).

Updating the discriminator on a history of generated images rather than only the latest ones
damps oscillation. :class:`ImagePool` is an ``nn.Module`` so that a method can hold it as an
attribute and its contents travel in ``state_dict()`` (``<name>._extra_state``, a dict of
tensors) - a resumed run continues with the same history. It has no parameters.

Images of several sizes (``data.preprocess = "none"``, where each batch is one size) are kept
as they come; a batch of more than one image is never given a stored image of another size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ImagePool(nn.Module):
    """Store up to ``pool_size`` past images; ``query`` returns a batch mixing new and old ones.

    As the reference: while the pool is filling, images are stored and returned unchanged;
    once full, each image is, with probability 1/2, swapped for a random stored one (which is
    returned) or else returned as is. ``pool_size=0`` disables the buffer. Randomness comes
    from torch's CPU generator (seeded by ``torch.manual_seed``), and nothing waits on the
    device.
    """

    def __init__(self, pool_size: int = 50) -> None:
        super().__init__()
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch the size of ``images`` (detached) drawn from the history as above."""
        images = images.detach()
        if self.pool_size == 0:
            return images
        if self.images and self.images[0].device != images.device:
            self.images = [im.to(images.device) for im in self.images]
        out: list[torch.Tensor] = []
        for image in images.unbind(0):
            image = image.clone()
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()).item() > 0.5:
                j = int(torch.randint(self.pool_size, ()).item())
                if len(images) > 1 and self.images[j].shape != image.shape:
                    out.append(image)  # one batch is one size: a stored image of another stays
                    continue
                out.append(self.images[j].to(images.dtype))
                self.images[j] = image
            else:
                out.append(image)
        return torch.stack(out, 0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.query(images)

    def get_extra_state(self) -> dict[str, Any]:
        """The history as one stacked tensor, or as a list when it holds several image sizes
        (``data.preprocess = "none"`` on images of different sizes)."""
        one_size = len({im.shape for im in self.images}) <= 1
        if one_size:
            stored: torch.Tensor | list[torch.Tensor] = (
                torch.stack(self.images, 0).cpu() if self.images else torch.empty(0)
            )
        else:
            stored = [im.cpu() for im in self.images]
        return {"images": stored, "pool_size": torch.tensor(self.pool_size)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        stored = state["images"]
        images = list(stored) if isinstance(stored, (list, tuple)) else list(stored.unbind(0))
        self.images = [im.clone() for im in images][: self.pool_size]

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}"
