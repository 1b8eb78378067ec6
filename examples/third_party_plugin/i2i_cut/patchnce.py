"""PatchNCE: the contrastive loss of CUT and the patch-sampling MLP head it trains.

The reference (``PatchSampleF`` with ``netF = mlp_sample``) builds its MLPs lazily on the first
forward pass, when the feature channel counts are first seen. That makes the parameter set
depend on a forward pass: an optimizer created before it misses them and a checkpoint cannot be
loaded into a fresh instance. Here the head is built eagerly from channel counts known at
construction (:func:`encoder_channels`), so it is an ordinary sub-module: in ``state_dict()``,
in its own optimizer, identical for identical seeds.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

import i2i


def encoder_layers(generator: nn.Module) -> nn.Sequential:
    """The generator's layer sequence (i2i's ResNet generators keep it as ``.model``)."""
    layers = getattr(generator, "model", None)
    if not isinstance(layers, nn.Sequential):
        raise i2i.ConfigError(
            f"method.netG: CUT reads encoder features layer by layer and needs a ResNet-style generator "
            f"with a .model Sequential, got {type(generator).__name__}"
        )
    return layers


def encoder_depth(generator: nn.Module) -> int:
    """Number of leading layers that form the encoder: everything before the first upsampling."""
    layers = encoder_layers(generator)
    for index, layer in enumerate(layers):
        if isinstance(layer, nn.ConvTranspose2d) or isinstance(layer, nn.Upsample):
            return index
    return len(layers)


def encoder_channels(generator: nn.Module, layer_ids: Sequence[int], input_nc: int) -> list[int]:
    """Channels of the output of each layer in ``layer_ids``, read from the layers' convolutions
    (no forward pass, so building stays deterministic and touches no norm statistics)."""
    layers = encoder_layers(generator)
    depth = encoder_depth(generator)
    bad = [i for i in layer_ids if i >= depth]
    if bad:
        raise i2i.ConfigError(
            f"method.nce_layers: {bad} are not encoder layers of this generator (its encoder has layers 0-{depth - 1}); "
            "pick smaller indices or more residual blocks"
        )
    channels, out = input_nc, []
    wanted = set(layer_ids)
    for index, layer in enumerate(layers):
        for module in layer.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                channels = module.out_channels
        if index in wanted:
            out.append(channels)
        if index >= max(layer_ids):
            break
    return out


def encode(generator: nn.Module, x: torch.Tensor, layer_ids: Sequence[int]) -> list[torch.Tensor]:
    """The outputs of the generator's layers ``layer_ids`` for input ``x`` (the reference's
    ``netG(x, layers, encode_only=True)``); stops after the last one."""
    feats, last = [], max(layer_ids)
    wanted = set(layer_ids)
    for index, layer in enumerate(encoder_layers(generator)):
        x = layer(x)
        if index in wanted:
            feats.append(x)
        if index == last:
            break
    return feats


def _l2_normalise(x: torch.Tensor) -> torch.Tensor:
    """The reference ``Normalize(2)``: ``x / (||x|| + 1e-7)``."""
    return x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-7)


class PatchSampleMLP(nn.Module):
    """Samples ``num_patches`` positions per feature map and projects each patch with a
    two-layer MLP (``Linear-ReLU-Linear`` to ``nc`` dims), then L2-normalises it.

    One MLP per feature map; ``in_channels`` are the maps' channel counts. The same positions
    are used for every image of a batch, and ``patch_ids`` returned for the keys are passed back
    for the queries, so query and key patches correspond.
    """

    def __init__(
        self, in_channels: Sequence[int], nc: int = 256, init_type: str = "xavier", init_gain: float = 0.02
    ) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, nc), nn.ReLU(), nn.Linear(nc, nc)) for c in in_channels)
        i2i.init_weights(self, init_type, init_gain)

    def forward(
        self, feats: Sequence[torch.Tensor], num_patches: int, patch_ids: Sequence[torch.Tensor] | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        out, ids = [], []
        for index, feat in enumerate(feats):
            n, c, h, w = feat.shape
            flat = feat.permute(0, 2, 3, 1).flatten(1, 2)  # (N, H*W, C)
            if patch_ids is None:
                patch_id = torch.randperm(h * w, device=feat.device)[: min(num_patches, h * w)]
            else:
                patch_id = patch_ids[index]
            sample = flat[:, patch_id, :].flatten(0, 1)  # (N * P, C)
            out.append(_l2_normalise(self.mlps[index](sample).float()))
            ids.append(patch_id)
        return out, ids


def patch_nce_loss(
    feat_q: torch.Tensor,
    feat_k: torch.Tensor,
    batch_size: int,
    temperature: float = 0.07,
    all_negatives_from_minibatch: bool = False,
) -> torch.Tensor:
    """Per-patch InfoNCE loss (the reference ``PatchNCELoss``), in fp32.

    ``feat_q``/``feat_k`` are ``(N * P, D)`` normalised query (output) and key (input) patches,
    row ``i`` of each at the same position. The positive of query ``i`` is key ``i``; the
    negatives are the other keys of the same image (of the whole batch with
    ``all_negatives_from_minibatch``). Keys are detached, as in the reference.
    """
    feat_q, feat_k = feat_q.float(), feat_k.detach().float()
    dim = feat_q.shape[1]
    l_pos = (feat_q * feat_k).sum(dim=1, keepdim=True)
    groups = 1 if all_negatives_from_minibatch else batch_size
    q = feat_q.view(groups, -1, dim)
    k = feat_k.view(groups, -1, dim)
    npatches = q.shape[1]
    l_neg = torch.bmm(q, k.transpose(2, 1))
    # a query's own key is its positive: keep it out of the negatives
    diagonal = torch.eye(npatches, dtype=torch.bool, device=q.device)[None, :, :]
    l_neg = l_neg.masked_fill(diagonal, -10.0).view(-1, npatches)
    logits = torch.cat((l_pos, l_neg), dim=1) / temperature
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target, reduction="none")
