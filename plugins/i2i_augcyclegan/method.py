"""Augmented CycleGAN (Almahairi et al. 2018): many-to-many unpaired translation.

Each direction is a *stochastic* mapping ``G_AB(a, z_b)`` / ``G_BA(b, z_a)``: the latent code
``z ~ N(0, I)`` carries what the source image does not determine about its translation (the
colour of a shoe drawn from an edge map). Encoders recover codes from image pairs::

    E_B(a, b) -> z_b     the code that maps a to b
    E_A(b, a) -> z_a     the code that maps b to a

(inputs ordered source, target, as the release's ``enc_A_B``). One training step, in the
release's order - discriminators first, then generators and encoders against the updated
discriminators:

* translate with prior codes: ``b~ = G_AB(a, z_b)``, ``a~ = G_BA(b, z_a)``;
* infer the codes of the real images: ``z_b' = E_B(a~, b)``, ``z_a' = E_A(b~, a)``;
* ``D``: LSGAN on ``a`` vs ``a~`` and ``b`` vs ``b~``; latent GANs on prior ``z`` vs ``z'``;
* ``G``: fool every discriminator; image cycles with the inferred codes
  (``|G_BA(b~, z_a') - a|``, ``|G_AB(a~, z_b') - b|``); latent cycles that recover the prior
  code from the generated image (``|E_B(a, b~) - z_b|``, or its Gaussian NLL plus a KL on
  ``z'`` with a stochastic encoder); optionally a supervised L1 on aligned rows.

The original release (aalmah/augmented_cyclegan, Python 2, PyTorch 0.3) augments only
domain B; ``augment_a = false`` gives that one-sided model's losses and optimisation order:
``G_BA`` sees a constant code of ones (the release's ``ignore_noise`` device) and ``E_A`` /
``D_zA`` are not built.

By default (``architecture = "i2i"``) the networks follow the paper's description with i2i's
CycleGAN-style building blocks; ``architecture = "release"`` builds the release's own networks
layer for layer (:mod:`.release_nets`, parameter counts tested against its layer lists).
Each difference of the default networks from the release is listed in :mod:`.release_nets`.

The latent discriminator (three BatchNorm1d hidden layers of 64) and the loss terms match the release.
"""

from __future__ import annotations

import math
from pathlib import PurePath
from typing import Any, cast

import attrs
import torch
import torch.nn.functional as F
from torch import nn

import i2i
from i2i import Batch, DataInfo, StepContext, UsageError

from . import release_nets
from .config import AugCycleGANConfig
from .evaluation import CAPABILITIES
from .options import TRANSLATE_OPTIONS, as_int, direction_of

#: Posterior codes are clamped like the release's ``gauss_reparametrize``.
CODE_CLAMP = 4.0
#: Codes shown in each sample grid (a fixed draw, so grids are comparable across steps).
SAMPLE_CODES = 3


@attrs.frozen
class _Posterior:
    """A code inferred by an encoder: the code used downstream, and its Gaussian when stochastic."""

    z: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None


def _l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(output.float(), target.float())


def _gaussian_nll(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean negative log-density of ``z`` under N(mu, exp(logvar)) (the release's latent cycle)."""
    z, mu, logvar = z.float(), mu.float(), logvar.float()
    log_prob = -0.5 * logvar - (z - mu) ** 2 / (2.0 * logvar.exp()) - 0.5 * math.log(2 * math.pi)
    return -log_prob.mean()


def _kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over code dimensions, averaged over the batch."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * torch.sum(logvar + 1.0 - mu**2 - logvar.exp(), dim=1)).mean()


class AugCycleGAN(i2i.Method):
    """Two latent-conditioned generators, two encoders, image and latent discriminators."""

    data_kind = i2i.UNPAIRED
    generator_names = ("G_AB", "G_BA")
    #: Both directions, K samples per input, and the paper's reconstruction and noise measures.
    eval_capabilities = CAPABILITIES

    def __init__(self, config: AugCycleGANConfig, data_info: DataInfo) -> None:
        super().__init__(config, data_info)
        c = config
        ca, cb = data_info.channels_a, data_info.channels_b
        self.G_AB = self._generator(ca, cb, c.augment_b)
        self.G_BA = self._generator(cb, ca, c.augment_a)
        self.D_A = self._image_discriminator(ca, edges=True)
        self.D_B = self._image_discriminator(cb)
        # Optional parts exist only when used, so each optimizer owns exactly what it updates.
        self.E_A = self._encoder(cb, ca) if c.augment_a else None
        self.E_B = self._encoder(ca, cb) if c.augment_b else None
        self.D_zA = self._latent_discriminator() if c.augment_a and self.latent_gan else None
        self.D_zB = self._latent_discriminator() if c.augment_b and self.latent_gan else None
        self.gan_loss = i2i.create_gan_loss(c.gan_mode)  # the loss registry: a plugin's objective too

    # -- construction ---------------------------------------------------------------------
    @property
    def latent_gan(self) -> bool:
        """The release drops the latent GAN with a stochastic encoder: the KL term takes its role."""
        return self.config.latent_gan and not self.config.stochastic_encoder

    @property
    def release(self) -> bool:
        """``architecture = "release"``: the authors' networks (:mod:`.release_nets`)."""
        return self.config.architecture == "release"

    def _generator(self, input_nc: int, output_nc: int, augmented: bool = True) -> nn.Module:
        c = self.config
        if self.release:  # the release's G_B_A of the one-sided model is a plain ResNet
            if augmented:
                return release_nets.ReleaseLatentGenerator(input_nc, output_nc, c.ngf, c.nlatent, c.n_blocks)
            return release_nets.ReleaseResnetGenerator(input_nc, output_nc, c.ngf, c.n_blocks)
        return i2i.create_generator(
            "augcyclegan_resnet",
            input_nc=input_nc,
            output_nc=output_nc,
            ngf=c.ngf,
            nlatent=c.nlatent,
            n_blocks=c.n_blocks,
            use_dropout=c.use_dropout,
            init_type=c.init_type,
            init_gain=c.init_gain,
        )

    def _encoder(self, source_nc: int, target_nc: int) -> nn.Module:
        c = self.config
        if self.release:
            return release_nets.ReleaseEncoder(
                source_nc, target_nc, c.nef, c.nlatent, c.norm_encoder, c.stochastic_encoder
            )
        return i2i.create_generator(
            "augcyclegan_encoder",
            input_nc=source_nc,
            output_nc=target_nc,
            ngf=c.nef,
            nlatent=c.nlatent,
            norm=c.norm_encoder,
            gaussian=c.stochastic_encoder,
            init_type=c.init_type,
            init_gain=c.init_gain,
        )

    def _image_discriminator(self, input_nc: int, edges: bool = False) -> nn.Module:
        c = self.config
        if self.release:  # D_A: the edge discriminator with its fixed 32 filters; D_B: the patch one
            if edges:
                return release_nets.ReleaseEdgeDiscriminator(input_nc, 32, c.norm_d)
            return release_nets.ReleaseDiscriminator(input_nc, c.ndf, c.norm_d)
        return i2i.create_discriminator(
            "patchgan",
            input_nc=input_nc,
            ndf=c.ndf,
            n_layers=c.n_layers_d,
            norm=c.norm_d,
            init_type=c.init_type,
            init_gain=c.init_gain,
        )

    def _latent_discriminator(self) -> nn.Module:
        c = self.config
        return i2i.create_discriminator(
            "latent_mlp",
            ndf=c.ndf_latent,
            nlatent=c.nlatent,
            norm=c.norm_latent_d,
            init_type=c.init_type,
            init_gain=c.init_gain,
        )

    def _present(self, *names: str) -> list[nn.Module]:
        return [m for m in (getattr(self, n) for n in names) if m is not None]

    def generator_modules(self) -> list[nn.Module]:
        """Everything the ``G`` optimizer updates: both generators and the encoders."""
        return self._present("G_AB", "G_BA", "E_A", "E_B")

    def discriminator_modules(self) -> list[nn.Module]:
        """Everything the ``D`` optimizer updates: image and latent discriminators."""
        return self._present("D_A", "D_B", "D_zA", "D_zB")

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        g_params = [p for m in self.generator_modules() for p in m.parameters()]
        d_params = [p for m in self.discriminator_modules() for p in m.parameters()]
        return {
            "G": i2i.adam(g_params, lr=c.lr, betas=betas),
            "D": i2i.adam(d_params, lr=c.discriminator_lr, betas=betas),
        }

    def _prior(self, n: int, like: torch.Tensor, augmented: bool) -> torch.Tensor:
        """Codes for ``n`` images: N(0, I) draws, or the constant ones code of a non-augmented side."""
        shape = (n, self.config.nlatent)
        if not augmented:
            return torch.ones(shape, device=like.device)
        return torch.randn(shape, device=like.device)

    def _infer(
        self, encoder: nn.Module | None, source: torch.Tensor, target: torch.Tensor, *, sample: bool
    ) -> _Posterior:
        """The code mapping ``source`` to ``target``; constant ones when that side is not augmented."""
        if encoder is None:
            ones = torch.ones(source.shape[0], self.config.nlatent, device=source.device)
            return _Posterior(ones, ones, None)
        out = encoder(source, target)
        if not self.config.stochastic_encoder:
            return _Posterior(out, out, None)
        mu, logvar = out
        z = mu
        if sample:
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            z = z.clamp(-CODE_CLAMP, CODE_CLAMP)
        return _Posterior(z, mu, logvar)

    def _check_batch(self, batch: Batch) -> None:
        if batch.b is None:
            raise UsageError("augcyclegan needs unpaired batches with both domains (batch.b is missing)")
        small = min(len(batch.a), len(batch.b)) < 2
        if small and self.latent_gan and self.config.norm_latent_d == "batch":
            raise UsageError(
                "augcyclegan: the latent discriminators use batch norm, so train.batch_size must be at least 2 "
                '(or set method.norm_latent_d = "none")'
            )

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        self._check_batch(batch)
        c = self.config
        a, b = batch.a, batch.b
        assert b is not None  # _check_batch raised otherwise
        z_a = self._prior(b.shape[0], b, c.augment_a)
        z_b = self._prior(a.shape[0], a, c.augment_b)
        fake_b = self.G_AB(a, z_b)
        fake_a = self.G_BA(b, z_a)
        post_b = self._infer(self.E_B, fake_a, b, sample=True)  # code of the real b
        post_a = self._infer(self.E_A, fake_b, a, sample=True)  # code of the real a

        logs = self._discriminator_step(a, b, fake_a, fake_b, z_a, z_b, post_a, post_b, ctx)
        discriminators = self.discriminator_modules()
        i2i.set_requires_grad(discriminators, False)
        try:
            loss_g, g_logs = self._generator_loss(batch, fake_a, fake_b, z_a, z_b, post_a, post_b)
            ctx.backward(loss_g)
            ctx.step("G")
        finally:
            i2i.set_requires_grad(discriminators, True)
        return {**logs, **g_logs}

    def _discriminator_step(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        fake_a: torch.Tensor,
        fake_b: torch.Tensor,
        z_a: torch.Tensor,
        z_b: torch.Tensor,
        post_a: _Posterior,
        post_b: _Posterior,
        ctx: StepContext,
    ) -> dict[str, torch.Tensor]:
        """Real vs generated images, prior vs inferred codes; nothing reaches G or E (detached)."""
        gan = self.gan_loss
        losses = {
            "D/A": 0.5 * (gan(self.D_A(a), True) + gan(self.D_A(fake_a.detach()), False)),
            "D/B": 0.5 * (gan(self.D_B(b), True) + gan(self.D_B(fake_b.detach()), False)),
        }
        if self.D_zA is not None:
            losses["D/zA"] = 0.5 * (gan(self.D_zA(z_a), True) + gan(self.D_zA(post_a.z.detach()), False))
        if self.D_zB is not None:
            losses["D/zB"] = 0.5 * (gan(self.D_zB(z_b), True) + gan(self.D_zB(post_b.z.detach()), False))
        if self.config.gan_mode == "wgangp":  # the critics' gradient penalty, as CycleGAN/pix2pix apply it
            lam = self.config.lambda_gp
            losses["D/gp_A"] = i2i.gradient_penalty(self.D_A, a, fake_a, lam)
            losses["D/gp_B"] = i2i.gradient_penalty(self.D_B, b, fake_b, lam)
            if self.D_zA is not None:
                losses["D/gp_zA"] = i2i.gradient_penalty(self.D_zA, z_a, post_a.z, lam)
            if self.D_zB is not None:
                losses["D/gp_zB"] = i2i.gradient_penalty(self.D_zB, z_b, post_b.z, lam)
        ctx.backward(sum(losses.values()))
        ctx.step("D")
        return {k: v.detach() for k, v in losses.items()}

    def _generator_loss(
        self,
        batch: Batch,
        fake_a: torch.Tensor,
        fake_b: torch.Tensor,
        z_a: torch.Tensor,
        z_b: torch.Tensor,
        post_a: _Posterior,
        post_b: _Posterior,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        c = self.config
        a, b = batch.a, batch.b
        assert b is not None  # train_step's _check_batch raised otherwise
        gan = self.gan_loss
        terms: dict[str, torch.Tensor] = {
            "G/gan_A": gan(self.D_A(fake_a), True, for_discriminator=False),
            "G/gan_B": gan(self.D_B(fake_b), True, for_discriminator=False),
            # image cycles, each with the code inferred for the real image
            "G/cycle_A": c.lambda_cycle_a * _l1(self.G_BA(fake_b, post_a.z), a),
            "G/cycle_B": c.lambda_cycle_b * _l1(self.G_AB(fake_a, post_b.z), b),
        }
        for side, encoder, d_z, prior, post, source, fake in (
            ("A", self.E_A, self.D_zA, z_a, post_a, b, fake_a),
            ("B", self.E_B, self.D_zB, z_b, post_b, a, fake_b),
        ):
            if encoder is None:
                continue
            if d_z is not None:
                terms[f"G/gan_z{side}"] = gan(d_z(post.z), True, for_discriminator=False)
            # latent cycle: the prior code must be recoverable from the image it produced
            recovered = self._infer(encoder, source, fake, sample=False)
            if recovered.logvar is None:
                terms[f"G/latent_z{side}"] = c.lambda_latent * _l1(recovered.mu, prior)
            else:
                terms[f"G/latent_z{side}"] = c.lambda_latent * _gaussian_nll(prior, recovered.mu, recovered.logvar)
                assert post.logvar is not None  # the same (stochastic) encoder as ``recovered``
                terms[f"G/kl_z{side}"] = c.lambda_latent * _kl_to_prior(post.mu, post.logvar)
        if c.supervised:
            terms["G/sup"] = c.lambda_sup * self._supervised_loss(batch)
        total = cast(torch.Tensor, sum(terms.values()))  # terms is never empty
        logs = {k: v.detach() for k, v in terms.items()}
        logs["G/total"] = total.detach()
        return total, logs

    @staticmethod
    def paired_rows(batch: Batch) -> list[int]:
        """Rows whose A and B files share a name stem: aligned pairs for the supervised term."""
        names_a, names_b = batch.names_a, batch.names_b
        if len(names_a) != len(batch.a) or len(names_b) != len(names_a):
            return []
        return [i for i, (x, y) in enumerate(zip(names_a, names_b)) if x and PurePath(x).stem == PurePath(y).stem]

    def _supervised_loss(self, batch: Batch) -> torch.Tensor:
        """L1 of both directions on aligned rows, each with the code its encoder infers from the pair."""
        rows = self.paired_rows(batch)
        if not rows:
            return batch.a.new_zeros((), dtype=torch.float32)
        index = torch.tensor(rows, device=batch.a.device)
        assert batch.b is not None  # train_step's _check_batch raised otherwise
        a, b = batch.a[index], batch.b[index]
        z_b = self._infer(self.E_B, a, b, sample=True).z
        z_a = self._infer(self.E_A, b, a, sample=True).z
        return _l1(self.G_AB(a, z_b), b) + _l1(self.G_BA(b, z_a), a)

    # -- inference ------------------------------------------------------------------------
    def _side(self, direction: str) -> tuple[nn.Module, nn.Module, nn.Module | None, bool]:
        """(generator, reverse generator, target encoder, target augmented) of a direction."""
        if direction == "a2b":
            return self.G_AB, self.G_BA, self.E_B, self.config.augment_b
        return self.G_BA, self.G_AB, self.E_A, self.config.augment_a

    def draw_codes(self, samples: int, n: int, seed: int | None, device: torch.device | str = "cpu") -> torch.Tensor:
        """``(samples, n, nlatent)`` prior codes from a private generator (the global RNG is untouched).

        ``seed=None`` draws fresh codes. The first ``n`` codes of a seed are those
        ``translate(x, seed=seed)`` uses, so sample ``s0`` of a seed is its plain translation.
        """
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(as_int("seed", seed))
        # one draw per sample: CPU randn fills large tensors by another algorithm, so a single
        # (samples, n, nlatent) draw would not start with the codes of a (n, nlatent) draw
        codes = [torch.randn(n, self.config.nlatent, generator=generator) for _ in range(samples)]
        return torch.stack(codes).to(device)

    def _code(
        self, x: torch.Tensor, direction: str, z: torch.Tensor | None, reference: torch.Tensor | None, seed: int | None
    ) -> torch.Tensor:
        """The target-domain code for each row of ``x``."""
        n, nlatent = x.shape[0], self.config.nlatent
        _, reverse, encoder, augmented = self._side(direction)
        if not augmented:
            if z is not None or reference is not None:
                side = "b" if direction == "a2b" else "a"
                raise UsageError(
                    f"direction {direction}: domain {side.upper()} is not augmented (method.augment_{side} = false), so it takes no z or reference"
                )
            return torch.ones(n, nlatent, device=x.device)
        if z is not None and reference is not None:
            raise UsageError("translate: give either z or reference, not both")
        if reference is not None:
            if reference.dim() != 4 or reference.shape[0] not in (1, n):
                raise UsageError(f"reference: expected (1 or {n}, C, H, W) images, got shape {tuple(reference.shape)}")
            reference = reference.to(x.device)
            # The encoder learnt codes of real images against their own translations (E_B(G_BA(b), b)),
            # so the reference's code is inferred that way and then applied to x.
            ones = torch.ones(reference.shape[0], nlatent, device=x.device)
            z = self._infer(encoder, reverse(reference, ones), reference, sample=False).z
        elif z is None:
            z = self.draw_codes(1, n, seed, x.device)[0]
        return i2i.latent_codes(z, n, nlatent, x.device)

    def translate(
        self,
        x: torch.Tensor,
        direction: str = "a2b",
        z: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
        seed: int | None = 0,
        **options: Any,
    ) -> torch.Tensor:
        """One translation per row of ``x``; the code comes from ``z``, a ``reference`` image of
        the target domain (through its encoder), or a seeded prior draw (default seed 0, so the
        same input gives the same output; ``seed=None`` draws fresh codes)."""
        if options:
            raise UsageError(
                f"translate: unknown option {sorted(options)[0]!r} (known: {', '.join(o.name for o in self.translate_options)})"
            )
        direction = direction_of(direction)
        generator = self._side(direction)[0]
        return generator(x, self._code(x, direction, z, reference, seed))

    def translate_variants(
        self, x: torch.Tensor, samples: int = 4, seed: int | None = 0, direction: str = "a2b", **options: Any
    ) -> dict[str, torch.Tensor]:
        """``samples`` translations per input from prior codes, keyed ``s0`` .. ``s{K-1}``.

        The same seed gives the same samples; different samples use different codes (identical
        only for a non-augmented target domain, whose mapping is deterministic). With ``z`` or
        ``reference`` the translation is unique and keyed ``""``.
        """
        if options.get("z") is not None or options.get("reference") is not None:
            return {"": self.translate(x, direction=direction, seed=seed, **options)}
        options = {k: v for k, v in options.items() if k not in ("z", "reference")}
        if options:
            raise UsageError(
                f"translate: unknown option {sorted(options)[0]!r} (known: {', '.join(o.name for o in self.translate_options)})"
            )
        samples = as_int("samples", samples)
        if samples < 1:
            raise UsageError(f"samples: expected at least 1, got {samples}")
        direction = direction_of(direction)
        generator, _, _, augmented = self._side(direction)
        n = x.shape[0]
        if augmented:
            codes = self.draw_codes(samples, n, seed, x.device)
        else:
            codes = torch.ones(samples, n, self.config.nlatent, device=x.device)
        return {f"s{i}": generator(x, codes[i]) for i in range(samples)}

    translate_options = TRANSLATE_OPTIONS

    def input_channels(self, direction: str = "a2b", **options: Any) -> int:
        """b2a reads domain B's images."""
        return self.data_info.channels_b if direction_of(direction) == "b2a" else self.data_info.channels_a

    @torch.no_grad()
    def sample(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Rows: input, ``SAMPLE_CODES`` A->B samples, the A->B->A reconstruction; the same for B."""
        a = batch.a
        rows: dict[str, torch.Tensor] = {"input": a}
        variants = self.translate_variants(a, samples=SAMPLE_CODES, seed=0, direction="a2b")
        rows.update(variants)
        fake_b = variants["s0"]
        rows["reconstruction"] = self.G_BA(fake_b, self._infer(self.E_A, fake_b, a, sample=False).z)
        if batch.b is not None:
            b = batch.b
            fake_a = self.translate(b, direction="b2a", seed=0)
            rows["input_b"] = b
            rows["b2a"] = fake_a
            rows["b2a_reconstruction"] = self.G_AB(fake_a, self._infer(self.E_B, fake_a, b, sample=False).z)
        return rows

    def export_inputs(self, x: torch.Tensor) -> dict[str, tuple[nn.Module, tuple[i2i.ExportInput, ...]]]:
        """Each generator with ``(image, z)`` example inputs; ``z`` is ``(N, nlatent)``."""
        n, _, h, w = x.shape
        z = torch.zeros(n, self.config.nlatent, device=x.device, dtype=x.dtype)
        x_b = x if self.data_info.channels_b == x.shape[1] else x.new_zeros(n, self.data_info.channels_b, h, w)
        code = i2i.ExportInput("z", z, {0: "batch"})
        return {"G_AB": (self.G_AB, (i2i.image_input(x), code)), "G_BA": (self.G_BA, (i2i.image_input(x_b), code))}
