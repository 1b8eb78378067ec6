"""Reflection and replication padding that keep the input's dtype under autocast.

Autocast on the CPU lists ``reflection_pad2d`` and ``replication_pad2d`` among the ops it runs
in fp32, so in a bf16 network every ``nn.ReflectionPad2d`` widens its bf16 input to fp32, pads
in fp32 and hands the next conv an fp32 map that the conv narrows back to bf16: two full
copies and a padding pass at twice the bytes, forward and backward, for a result that is
bit for bit the same (padding only moves values). These subclasses pad with autocast off,
in whatever dtype arrives, so the copies go. They are drop-in: same constructor, no
parameters, ``isinstance`` of the torch class, and in fp32 the very same op.

Augmented CycleGAN's step at its paper setting spent ~7% of its bf16 time in those copies.
A plugin's own networks get the same by using these classes (``i2i.ReflectionPad2d``).
"""

from __future__ import annotations

import torch
from torch import nn


class _PadInInputDtype(nn.Module):
    """Runs the padding class after it in the MRO with autocast off."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        with torch.autocast(input.device.type, enabled=False):
            return super().forward(input)


class ReflectionPad2d(_PadInInputDtype, nn.ReflectionPad2d):
    """``nn.ReflectionPad2d`` that pads in its input's dtype even under autocast."""


class ReplicationPad2d(_PadInInputDtype, nn.ReplicationPad2d):
    """``nn.ReplicationPad2d`` that pads in its input's dtype even under autocast."""
