"""Where the reference-guided steps get their reference images: from the batch itself.

The reference code runs a second data loader of ``(x_ref, x_ref2, y_ref)``: two images of one
domain, drawn independently of the source images; ``y_ref`` is also the target domain of the
latent-guided steps. i2i hands a method one labelled batch, so the references come from it:

* ``x_ref`` of row ``i`` is another row of the batch (a random permutation without fixed
  points, so an image never serves as its own reference), and its domain is the row's target
  ``y_trg`` - targets therefore follow the batch's domain mix, as the reference's follow its
  (domain-balanced) sampler's;
* ``x_ref2`` is a random *other* image of that same domain in the batch; when the batch holds
  only one image of that domain it is ``x_ref`` itself (the reference-guided diversity term of
  that row is then 0). With the paper's batch of 8 and 2-3 domains that is rare.

Everything is drawn from the global torch RNG on the batch's device, so a seeded run (and a
resumed one, which restores the RNG state) draws the same references.
"""

from __future__ import annotations

import attrs
import torch


@attrs.frozen
class References:
    """Row indices into the batch: ``ref`` and ``ref2`` (same domain as ``ref``)."""

    ref: torch.Tensor
    ref2: torch.Tensor


def derangement(n: int, device: torch.device) -> torch.Tensor:
    """A random permutation of ``range(n)`` with no fixed point (n >= 2): each element of a random
    order maps to the next one (a single random cycle)."""
    order = torch.randperm(n, device=device)
    out = torch.empty_like(order)
    out[order] = order.roll(-1)
    return out


def pick_references(y: torch.Tensor) -> References:
    """References for a batch with domain indices ``y`` ``(N,)``; see the module docstring."""
    n = y.shape[0]
    if n < 2:
        index = torch.zeros(n, dtype=torch.long, device=y.device)
        return References(index, index)
    ref = derangement(n, y.device)
    rows = torch.arange(n, device=y.device)
    same = (y[None, :] == y[ref][:, None]) & (rows[None, :] != ref[:, None])  # (N, N) candidates for row i
    scores = torch.rand(n, n, device=y.device).masked_fill(~same, -1.0)
    best = scores.argmax(dim=1)
    ref2 = torch.where(same.any(dim=1), best, ref)
    return References(ref, ref2)
