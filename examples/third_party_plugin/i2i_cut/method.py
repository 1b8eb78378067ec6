"""CUT: one generator trained with a GAN loss and patch-wise contrastive learning.

Instead of a second generator and a cycle (CycleGAN), CUT keeps content by asking each patch of
the output to be recognisable as the corresponding patch of the input among other input
patches (PatchNCE), measured on the generator's own encoder features through a small MLP head.
"""

from __future__ import annotations

from typing import Any

import torch

import i2i
from i2i import Batch, DataInfo, Method, StepContext, set_requires_grad
from i2i_cut.config import CUTConfig
from i2i_cut.patchnce import PatchSampleMLP, encode, encoder_channels, patch_nce_loss


class CUT(Method):
    """``G: A -> B``, ``D`` on B, the PatchNCE head ``F``; optimizers ``"G"``, ``"D"``, ``"F"``.

    One step, as the reference ``optimize_parameters``: D on the current fakes, then G and F
    together on ``lambda_GAN * GAN + lambda_NCE * NCE`` (averaged with the identity NCE term on
    B when ``nce_idt``).
    """

    data_kind = i2i.UNPAIRED
    generator_names = ("G",)
    #: ``i2i eval``: one direction (A -> B); G is trained to leave B images unchanged (the
    #: identity NCE term of CUT; FastCUT relies on the NCE term alone), so ``idempotence`` -
    #: how much G changes held-out B images - is worth reporting beside SWD and accuracy.
    eval_capabilities = i2i.EvalCapabilities(keeps_target_domain=True)
    #: ``i2i translate CKPT --strength 0.5`` (and ``translator.translate(x, strength=0.5)``):
    #: i2i turns this record into the flag, its help, and the checks of its value.
    translate_options = (
        i2i.TranslateOption(
            "strength",
            type=float,
            default=1.0,
            minimum=0.0,
            help="blend of translation and input: 1 the translation, 0 the input unchanged",
        ),
    )

    def __init__(self, config: CUTConfig, data_info: DataInfo) -> None:
        super().__init__(config, data_info)
        c, nc_a, nc_b = config, data_info.channels_a, data_info.channels_b
        if c.nce_idt and nc_a != nc_b:
            raise i2i.ConfigError(
                f"method.nce_idt: the identity NCE term feeds B images to G, which needs domains with equal "
                f"channels, got {nc_a} (A) and {nc_b} (B); set method.nce_idt=false"
            )
        blocks: dict[str, Any] = {} if c.n_blocks is None else {"n_blocks": c.n_blocks}
        self.G = i2i.create_generator(
            c.netG, input_nc=nc_a, output_nc=nc_b, ngf=c.ngf, norm=c.normG, use_dropout=False, **blocks
        )
        self.D = i2i.create_discriminator(c.netD, input_nc=nc_b, ndf=c.ndf, n_layers=c.n_layers_D, norm=c.normD)
        for net in (self.G, self.D):
            i2i.init_weights(net, c.init_type, c.init_gain)
        self.F = PatchSampleMLP(encoder_channels(self.G, c.nce_layers, nc_a), c.netF_nc, c.init_type, c.init_gain)
        self.gan_loss = i2i.GANLoss(c.gan_mode)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        optimizers: dict[str, torch.optim.Optimizer] = {
            "G": i2i.adam(self.G.parameters(), lr=c.lr, betas=betas),
            "D": i2i.adam(self.D.parameters(), lr=c.lr, betas=betas),
        }
        if c.lambda_NCE > 0:  # without NCE the head gets no gradient and is not trained
            optimizers["F"] = i2i.adam(self.F.parameters(), lr=c.lr, betas=betas)
        return optimizers

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        c = self.config
        real_a, real_b = batch.a, batch.b
        if real_b is None:
            raise i2i.DataError("cut needs unpaired data with both domains: the batch has no B images")
        n = real_a.shape[0]
        real = torch.cat((real_a, real_b)) if c.nce_idt else real_a
        flipped = c.flip_equivariance and bool(torch.rand(()) < 0.5)
        if flipped:
            real = torch.flip(real, [3])
        fake = self.G(real)
        fake_b = fake[:n]
        idt_b = fake[n:] if c.nce_idt else None

        losses: dict[str, torch.Tensor] = {}
        set_requires_grad(self.D, True)
        losses["D/fake"] = self.gan_loss(self.D(fake_b.detach()), False)
        losses["D/real"] = self.gan_loss(self.D(real_b), True)
        loss_d = 0.5 * (losses["D/fake"] + losses["D/real"])
        ctx.backward(loss_d)
        ctx.step("D")

        set_requires_grad(self.D, False)
        try:
            loss_g = fake_b.new_zeros((), dtype=torch.float32)
            if c.lambda_GAN > 0:
                losses["G/gan"] = c.lambda_GAN * self.gan_loss(self.D(fake_b), True, for_discriminator=False)
                loss_g = loss_g + losses["G/gan"]
            if c.lambda_NCE > 0:
                losses["G/nce"] = self._nce(real_a, fake_b, flipped)
                nce = losses["G/nce"]
                if c.nce_idt:
                    assert idt_b is not None  # computed above whenever nce_idt is on
                    losses["G/nce_idt"] = self._nce(real_b, idt_b, flipped)
                    nce = 0.5 * (nce + losses["G/nce_idt"])
                loss_g = loss_g + nce
            ctx.backward(loss_g)
            ctx.step("G")
            if c.lambda_NCE > 0:
                ctx.step("F")
        finally:
            set_requires_grad(self.D, True)
        losses["D/loss"] = loss_d
        losses["G/loss"] = loss_g
        return {k: v.detach() for k, v in losses.items()}

    def _nce(self, source: torch.Tensor, target: torch.Tensor, flipped: bool) -> torch.Tensor:
        """``lambda_NCE`` * PatchNCE between the encoder features of ``source`` (keys) and of its
        translation ``target`` (queries), averaged over layers (the reference ``calculate_NCE_loss``)."""
        c = self.config
        feat_q = encode(self.G, target, c.nce_layers)
        if flipped:  # the output was made from the flipped input: flip its features back
            feat_q = [torch.flip(f, [3]) for f in feat_q]
        feat_k = encode(self.G, source, c.nce_layers)
        keys, patch_ids = self.F(feat_k, c.num_patches)
        queries, _ = self.F(feat_q, c.num_patches, patch_ids)
        total = source.new_zeros((), dtype=torch.float32)
        for q, k in zip(queries, keys):
            loss = patch_nce_loss(q, k, source.shape[0], c.nce_T, c.nce_includes_all_negatives_from_minibatch)
            total = total + c.lambda_NCE * loss.mean()
        return total / len(c.nce_layers)

    # -- inference ------------------------------------------------------------------------
    def translate(self, x: torch.Tensor, strength: float = 1.0, **options: Any) -> torch.Tensor:
        """``G(x)``, blended with ``x`` when ``strength < 1`` (domains with equal channels).
        With no options this is the plain translation, as evaluation and samples need."""
        if options:
            raise i2i.UsageError(f"cut translate: unknown options {', '.join(sorted(options))} (known: strength)")
        out = self.G(x)
        if strength == 1.0:
            return out
        if x.shape[1] != out.shape[1]:
            raise i2i.UsageError("strength: blending needs domains with equal channels; use strength 1")
        return torch.lerp(x.to(out.dtype), out, float(strength))

    def sample(self, batch: Batch) -> dict[str, torch.Tensor]:
        """real_A | fake_B, and real_B | idt_B when B images are at hand."""
        out = {"real_A": batch.a, "fake_B": self.G(batch.a)}
        if batch.b is not None and self.config.nce_idt:
            out["real_B"] = batch.b
            out["idt_B"] = self.G(batch.b)
        return out

    def extra_repr(self) -> str:
        return f"nce_layers={list(self.config.nce_layers)}, nce_idt={self.config.nce_idt}"


__all__ = ["CUT"]
