"""Distances between two sets of feature vectors: Fréchet distance (FID's formula) and KID.

* **Fréchet distance**: ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between Gaussians
  fitted to the two sets. The matrix square root's trace is taken from the eigenvalues of the
  symmetric PSD matrix ``S1^(1/2) S2 S1^(1/2)`` (float64), which is exact and avoids the
  complex ``sqrtm`` round-off of the scipy route.
* **KID** (Bińkowski et al. 2018): the unbiased MMD² with the cubic polynomial kernel
  ``k(x, y) = (x·y / d + 1)^3``, averaged over ``subsets`` random subsets of ``subset_size``
  from each set (torch-fidelity/clean-fid's estimator); also returns the std over subsets.
  Unlike FID it is unbiased, so it is comparable across sample counts and fine for small sets.
"""

from __future__ import annotations

import torch


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to features ``x (n, d)`` and ``y (m, d)``."""
    x, y = x.double(), y.double()
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = torch.cov(x.T).reshape(x.shape[1], -1), torch.cov(y.T).reshape(y.shape[1], -1)
    root = _sqrt_psd(s1)
    middle = root @ s2 @ root
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt
    return float(value.clamp_min(0))


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m = x.shape[0]
    n = y.shape[0]
    sum_xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    sum_yy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return sum_xx + sum_yy - 2 * kxy.mean()


def kid(x: torch.Tensor, y: torch.Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over subsets) between features ``x`` and ``y``; the subset size shrinks to
    the smaller set when the sets are small. Needs at least 2 samples in each set."""
    x, y = x.double(), y.double()
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        ix = torch.randperm(x.shape[0], generator=generator)[:size]
        iy = torch.randperm(y.shape[0], generator=generator)[:size]
        values.append(_mmd2_unbiased(x[ix], y[iy]))
    stacked = torch.stack(values)
    return float(stacked.mean()), float(stacked.std()) if len(values) > 1 else 0.0
