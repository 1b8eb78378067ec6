"""Upstream torch bugs i2i works around, pinned as strict xfails.

Each test asserts the correct behaviour of torch itself. While the bug exists the test is an
expected failure; once a torch release fixes it the test passes, ``strict=True`` turns that
into a failure, and the workaround (and this test) can go.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F


@pytest.mark.xfail(
    strict=True,
    reason="torch bug: F.instance_norm of a channels_last batch-of-one input returns a wrong input "
    "gradient and a contiguous output; i2i.nets.norm.InstanceNorm works around it",
)
def test_torch_instance_norm_on_channels_last_batch_of_one():
    torch.manual_seed(0)
    x64 = (torch.randn(1, 6, 31, 31, dtype=torch.float64) * 2 + 3).requires_grad_(True)
    g64 = torch.randn_like(x64)
    var, mean = torch.var_mean(x64, dim=(2, 3), unbiased=False, keepdim=True)
    ((x64 - mean) * torch.rsqrt(var + 1e-5)).backward(g64)
    x = x64.detach().float().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    weight = torch.ones(6, requires_grad=True)
    bias = torch.zeros(6, requires_grad=True)
    y = F.instance_norm(x, weight=weight, bias=bias)
    y.backward(g64.float().contiguous(memory_format=torch.channels_last))
    rel = ((x.grad.double() - x64.grad).norm() / x64.grad.norm()).item()
    assert rel < 1e-5, f"input gradient off by {rel:.3g} (relative)"
    assert y.is_contiguous(memory_format=torch.channels_last)
