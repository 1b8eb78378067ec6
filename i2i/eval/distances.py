"""Distances between two sets of feature vectors: Fréchet distance (FID's formula) and KID.

* **Fréchet distance**: ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between Gaussians
  fitted to the two sets, in float64. The trace of the matrix square root is computed exactly
  from symmetric eigen/singular values (see :func:`trace_sqrt_product`), avoiding the complex
  ``sqrtm`` round-off of the scipy route.
* **KID** (Bińkowski et al. 2018): the unbiased MMD² with the cubic polynomial kernel
  ``k(x, y) = (x·y / d + 1)^3``, averaged over ``subsets`` random subsets of ``subset_size``
  from each set (torch-fidelity/clean-fid's estimator); also returns the std over subsets.
  Unlike FID it is unbiased, so it is comparable across sample counts and fine for small sets.
"""

from __future__ import annotations

import math

import torch


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def trace_sqrt_product(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``tr((S1 S2)^(1/2))`` for the covariances of ``x (n, d)`` and ``y (m, d)``.

    With ``A = Xc / sqrt(n-1)`` and ``B = Yc / sqrt(m-1)``, ``S1 S2 = A^T A B^T B`` has the same
    non-zero eigenvalues as ``(A B^T)(A B^T)^T``, so the trace is the nuclear norm of the small
    ``(n, m)`` matrix ``A B^T``: exact, and far cheaper than a ``d x d`` matrix square root when
    there are fewer samples than feature dimensions (2048 for Inception). Otherwise the
    ``d x d`` route: the eigenvalues of ``S1^(1/2) S2 S1^(1/2)``.
    """
    a = (x - x.mean(0)) / math.sqrt(max(x.shape[0] - 1, 1))
    b = (y - y.mean(0)) / math.sqrt(max(y.shape[0] - 1, 1))
    d = x.shape[1]
    if x.shape[0] * y.shape[0] <= d * d:
        return torch.linalg.svdvals(a @ b.T).sum()
    s1, s2 = a.T @ a, b.T @ b
    root = _sqrt_psd(s1)
    middle = root @ s2 @ root
    return torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()


def frechet_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to features ``x (n, d)`` and ``y (m, d)``."""
    x, y = x.double(), y.double()
    mu1, mu2 = x.mean(0), y.mean(0)
    trace1 = (x - mu1).square().sum() / max(x.shape[0] - 1, 1)  # tr(S1) without forming S1
    trace2 = (y - mu2).square().sum() / max(y.shape[0] - 1, 1)
    value = (mu1 - mu2).square().sum() + trace1 + trace2 - 2 * trace_sqrt_product(x, y)
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


def kid(
    x: torch.Tensor, y: torch.Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, std over subsets) between features ``x`` and ``y``; the subset size shrinks to
    the smaller set when the sets are small. Needs at least 2 samples in each set."""
    x, y = x.double(), y.double()
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    if size == x.shape[0] == y.shape[0]:
        subsets = 1  # every subset would be the whole of both sets
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        ix = torch.randperm(x.shape[0], generator=generator)[:size]
        iy = torch.randperm(y.shape[0], generator=generator)[:size]
        values.append(_mmd2_unbiased(x[ix], y[iy]))
    stacked = torch.stack(values)
    return float(stacked.mean()), float(stacked.std()) if len(values) > 1 else 0.0
