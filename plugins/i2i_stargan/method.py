"""StarGAN (Choi et al. 2018): one generator for every domain, conditioned on a target label.

``G(x, c)`` translates ``x`` to the domain(s) ``c`` (one-hot domains or multi-hot attributes,
tiled and concatenated to the image); ``D(x)`` returns a WGAN critic patch map and domain
logits. The losses and their schedule follow yunjey/stargan's ``solver.train``:

* **every trainer step is one critic iteration**: ``D`` minimises
  ``-D(x) + D(G(x, c_trg)) + lambda_cls * cls(D_cls(x), c_org) + lambda_gp * GP``;
* **every** ``n_critic``-th **step also updates G** (after D, as the reference's
  ``(i+1) % n_critic == 0``): ``-D(G(x, c_trg)) + lambda_cls * cls(D_cls(G(x, c_trg)), c_trg)
  + lambda_rec * |x - G(G(x, c_trg), c_org)|``.

``c_trg`` is the batch's own labels shuffled (``label_org[randperm]``, as the reference does
for CelebA and RaFD alike), so targets follow the data's label distribution. ``cls`` is
BCE-with-logits summed over attributes (multi-hot) or cross-entropy (one-hot).

The critic counter is a plain int kept in the state dict as extra state (no device sync per
step to read it), so a resumed run keeps the G/D rhythm. Loss keys are the reference's seven
and the same every step: the ``G/*`` values are those of the most recent G update (a buffer,
so they survive a resume too; zeros before the first), so loggers that average over steps see
no gaps.

**Several datasets** (``data.sources``, the reference's ``--dataset Both``): the label is
``[c_1, ..., c_K, mask]`` (:mod:`i2i_stargan.sources`), G is built for all of it and D for
every dataset's labels; D's classification loss uses only each image's known part. The
sampler alternates datasets batch by batch, and one reference iteration (one batch of each
dataset) counts as one critic iteration for the ``n_critic`` rhythm, as in ``train_multi``.
``method.lambda_keep > 0`` (not in the paper, off by default) adds ``lambda_keep *
keep`` to G's loss (:meth:`~i2i_stargan.sources.LabelLayout.keep_loss`: the other datasets'
labels D reads on the input stay as they were), logged as ``G/loss_keep``.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs
import torch
import torch.nn.functional as F

import i2i
from i2i_stargan.config import StarGANConfig
from i2i_stargan.sources import LabelLayout
from i2i_stargan.targets import SourceLabels, Target, all_targets, is_all, source_matrix, target_labels
from i2i_stargan.translate_options import OPTIONS

D_KEYS = ("D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp")
G_KEYS = ("G/loss_fake", "G/loss_rec", "G/loss_cls")


class StarGAN(i2i.Method):
    """Multi-domain translation with a single label-conditioned generator."""

    data_kind = i2i.LABELLED
    generator_names = ("G",)
    #: ``i2i eval``: ``target="all"`` gives one output per label; multi-label inputs pass their own
    #: labels, and ``target="all"`` sets (rather than toggles) the exclusive attributes; with
    #: several datasets a label two of them share is named ``dataset:label``.
    eval_capabilities = i2i.EvalCapabilities(
        target="target",
        all_targets="all",
        source_labels="source_labels",
        set_labels=lambda method: method.config.exclusive_attributes,
        qualified_target="{source}:{label}",
    )
    #: a buffer (registered in ``__init__``): the last generator step's losses, logged between them
    last_g_losses: torch.Tensor

    def __init__(self, config: StarGANConfig, data_info: i2i.DataInfo) -> None:
        if not data_info.domains:
            # built without data (``i2i.create_method("stargan")``): the paper's CelebA attributes
            data_info = attrs.evolve(data_info, domains=i2i.DataConfig().attributes, multi_label=True)
        if not data_info.multi_label and len(data_info.domains) < 2:
            raise i2i.UsageError(f"stargan needs at least two domains, got {list(data_info.domains)}")
        super().__init__(config, data_info)
        self.domains: tuple[str, ...] = tuple(data_info.domains)
        #: several datasets (``data.sources``): where each one's labels and mask bit sit
        self.layout = LabelLayout(data_info.sources, config.exclusive_attributes) if data_info.sources else None
        channels, c_dim = data_info.channels_a, len(self.domains)
        self.c_dim = self.layout.g_dim if self.layout else c_dim  # the generator's label width
        self.G = i2i.create_generator(
            "stargan",
            input_nc=channels,
            output_nc=channels,
            ngf=config.g_conv_dim,
            c_dim=self.c_dim,
            n_blocks=config.g_repeat_num,
        )
        self.D = i2i.create_discriminator(
            "stargan",
            input_nc=channels,
            ndf=config.d_conv_dim,
            n_layers=config.d_repeat_num,
            c_dim=c_dim,
            image_size=config.image_size,
        )
        #: critic iterations so far; travels in state_dict() through get/set_extra_state
        self.critic_steps = 0
        #: G's logged losses: the reference's three, and ``G/loss_keep`` when it is on
        self.keeps = self.layout is not None and config.lambda_keep > 0
        self.g_keys = G_KEYS + (("G/loss_keep",) if self.keeps else ())
        self.register_buffer("last_g_losses", torch.zeros(len(self.g_keys)))

    def get_extra_state(self) -> dict[str, int]:
        return {"critic_steps": self.critic_steps}

    def set_extra_state(self, state: dict[str, int]) -> None:
        self.critic_steps = int(state["critic_steps"])

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {
            "G": i2i.adam(self.G.parameters(), lr=c.g_lr, betas=(c.beta1, c.beta2)),
            "D": i2i.adam(self.D.parameters(), lr=c.d_lr, betas=(c.beta1, c.beta2)),
        }

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The reference's: BCE summed over attributes and averaged over images, or cross-entropy."""
        if self.layout is not None:
            return self.layout.classification_loss(logits, labels)
        logits = logits.float()
        if self.data_info.multi_label:
            return F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / logits.shape[0]
        return F.cross_entropy(logits, labels.argmax(dim=1))

    def train_step(self, batch: i2i.Batch, ctx: i2i.StepContext) -> dict[str, torch.Tensor]:
        x, c_org = batch.a, self._check_batch(batch)
        if self.layout is not None:
            c_trg = self.layout.shuffled(c_org)
        else:
            c_trg = c_org[torch.randperm(c_org.shape[0], device=c_org.device)]
        cfg = self.config

        # critic: real/fake + domain classification of real images + gradient penalty
        with torch.no_grad():
            fake = self.G(x, c_trg)
        # The penalty's graph first: backward runs the later-built graph first, so the
        # critic pass's bf16 weight copies are freed before the penalty's double backward.
        d_gp = i2i.gradient_penalty(self.D, x, fake, lambda_gp=1.0)  # fp32; logged unweighted
        # Real and fake in one pass: D has no normalisation, so this equals the reference's
        # two passes, but each (large) weight gets one gradient instead of two to add up.
        out_src, out_cls = self.D(torch.cat([x, fake.to(x.dtype)]))
        n = x.shape[0]
        d_real = -out_src[:n].float().mean()
        d_fake = out_src[n:].float().mean()
        d_cls = self.classification_loss(out_cls[:n], c_org)
        ctx.backward(d_real + d_fake + cfg.lambda_cls * d_cls + cfg.lambda_gp * d_gp)
        ctx.step("D")
        losses = dict(zip(D_KEYS, (d_real, d_fake, d_cls, d_gp)))

        self.critic_steps += 1
        if self._iterations() % cfg.n_critic == 0:
            self.last_g_losses.copy_(self._generator_step(x, c_org, c_trg, ctx, out_cls[:n].detach()))
        losses.update(zip(self.g_keys, self.last_g_losses.clone()))
        return {k: v.detach().float() for k, v in losses.items()}

    def _generator_step(
        self,
        x: torch.Tensor,
        c_org: torch.Tensor,
        c_trg: torch.Tensor,
        ctx: i2i.StepContext,
        real_cls: torch.Tensor,
    ) -> torch.Tensor:
        """One G update; returns its (fake, rec, cls[, keep]) losses. D is frozen so it collects
        no gradient. ``real_cls``: the critic pass's logits for ``x`` (what ``keep`` holds to)."""
        cfg = self.config
        i2i.set_requires_grad(self.D, False)
        try:
            fake = self.G(x, c_trg)
            out_src, out_cls = self.D(fake)
            g_fake = -out_src.float().mean()
            g_cls = self.classification_loss(out_cls, c_trg)
            g_rec = F.l1_loss(self.G(fake, c_org).float(), x.float())
            loss = g_fake + cfg.lambda_rec * g_rec + cfg.lambda_cls * g_cls
            terms = [g_fake, g_rec, g_cls]
            if self.keeps and self.layout is not None:
                g_keep = self.layout.keep_loss(out_cls, real_cls, c_org)
                loss = loss + cfg.lambda_keep * g_keep
                terms.append(g_keep)
            ctx.backward(loss)
            ctx.step("G")
        finally:
            i2i.set_requires_grad(self.D, True)
        return torch.stack(terms).detach()

    def _iterations(self) -> int:
        """Reference iterations completed: critic steps, or with K datasets every K of them."""
        if self.layout is None:
            return self.critic_steps
        return (self.critic_steps - 1) // self.layout.count + 1

    def _check_batch(self, batch: i2i.Batch) -> torch.Tensor:
        if batch.labels is None:
            raise i2i.UsageError(
                "stargan needs labelled data: train/<domain>/ folders or a CelebA-style attribute list"
            )
        labels = batch.labels.float()
        if self.layout is not None:
            self.layout.check(labels)
        elif labels.dim() != 2 or labels.shape[1] != len(self.domains):
            raise i2i.UsageError(
                f"stargan was built for {len(self.domains)} domains ({', '.join(self.domains)}) "
                f"but the data has {labels.shape[-1]} labels"
            )
        h, w = batch.a.shape[-2:]
        size = self.config.image_size
        if (h, w) != (size, size):
            raise i2i.UsageError(
                f"stargan: training images are {h}x{w} px but method.image_size is {size} "
                f"(it sizes D's domain classifier); set method.image_size = data.image_size"
            )
        return labels

    # -- inference ------------------------------------------------------------------------
    def translate(
        self, x: torch.Tensor, target: Target | None = None, source_labels: SourceLabels = None, **options: Any
    ) -> torch.Tensor:
        """``x`` translated to ``target`` (a domain name; for attributes ``"Blond_Hair,-Male"``).

        With no target, image ``i`` goes to the ``i mod D``-th domain of ``target="all"`` (what
        generic evaluation gets); name one to choose.
        """
        _reject_unknown(options)
        if self.layout is not None:
            if target is None:
                return self.G(x, self.layout.spread(source_labels, x.shape[0], x.device))
            if is_all(target):
                raise i2i.UsageError("target 'all' gives one output per label: use translate_variants, not translate")
            for c in self.layout.targets(target, source_labels, x.shape[0], x.device):
                x = self.G(x, c)  # one dataset's labels at a time, in the order named
            return x
        source = source_matrix(source_labels, self.domains, x.shape[0], x.device)
        c = target_labels(
            target,
            self.domains,
            self.data_info.multi_label,
            source,
            self.config.exclusive_attributes,
            x.shape[0],
            x.device,
        )
        return self.G(x, c)

    def translate_variants(
        self, x: torch.Tensor, target: Target | None = "all", source_labels: SourceLabels = None, **options: Any
    ) -> dict[str, torch.Tensor]:
        """``target="all"`` (the default): one output per domain, keyed by its name."""
        _reject_unknown(options)
        if not is_all(target):
            return {"": self.translate(x, target=target, source_labels=source_labels)}
        if self.layout is not None:
            return {
                name: self.G(x, c) for name, c in self.layout.all_targets(source_labels, x.shape[0], x.device).items()
            }
        source = source_matrix(source_labels, self.domains, x.shape[0], x.device)
        labels = all_targets(
            self.domains, self.data_info.multi_label, source, self.config.exclusive_attributes, x.shape[0], x.device
        )
        return {name: self.G(x, c) for name, c in labels.items()}

    translate_options = OPTIONS

    def check_labels(
        self, target: Target | None = None, source_labels: SourceLabels = None, *, per_image_labels: bool = False
    ) -> None:
        """Raise the one-line error :meth:`translate_variants` would for ``target`` and
        ``source_labels`` (an unknown or ambiguous name, a one-hot target naming two, attributes
        left unspecified), computed for one image on the CPU: the translate options' ``check``,
        so that a mistake stops ``i2i translate`` before any image is read. Tensors, and labels
        given per image (``per_image_labels``: an attribute file), stand in as known labels."""
        cpu = torch.device("cpu")
        width = self.layout.total if self.layout is not None else len(self.domains)
        known = isinstance(source_labels, torch.Tensor) or per_image_labels
        source = torch.zeros(1, width) if known else source_labels
        if target is None:
            target = "all"  # translate_variants' default: what i2i translate runs
        if self.layout is not None:
            if is_all(target):
                self.layout.all_targets(source, 1, cpu)
            else:
                self.layout.targets(target, source, 1, cpu)
            return
        own = source_matrix(source, self.domains, 1, cpu)
        multi, exclusive = self.data_info.multi_label, self.config.exclusive_attributes
        if is_all(target):
            all_targets(self.domains, multi, own, exclusive, 1, cpu)
        else:
            target_labels(target, self.domains, multi, own, exclusive, 1, cpu)

    def sample(self, batch: i2i.Batch) -> dict[str, torch.Tensor]:
        """The inputs, then one row per domain (each input translated to every domain)."""
        source = batch.labels
        if self.layout is not None:
            source = None if source is None else source[:, : self.layout.total]
        elif source is None and self.data_info.multi_label:
            source = torch.zeros(len(batch), len(self.domains), device=batch.a.device)
        with torch.no_grad():
            variants = self.translate_variants(batch.a, target="all", source_labels=source)
        rows = {"input": batch.a}
        for name, images in variants.items():
            rows[name if name != "input" else "input (domain)"] = images
        return rows

    def export_inputs(self, x: torch.Tensor) -> dict[str, tuple[torch.nn.Module, tuple[i2i.ExportInput, ...]]]:
        """The generator with its image and the target ``label`` (one-hot, multi-hot; with several
        datasets ``[c_1, ..., c_K, mask]``, the first dataset's first label)."""
        c = torch.zeros(x.shape[0], self.c_dim, device=x.device, dtype=x.dtype)
        c[:, 0] = 1.0
        if self.layout is not None:
            c[:, self.layout.total] = 1.0  # the first dataset's mask bit
        return {"G": (self.G, (i2i.image_input(x), i2i.ExportInput("label", c, {0: "batch"})))}


def _reject_unknown(options: Mapping[str, Any]) -> None:
    if options:
        name = sorted(options)[0]
        raise i2i.UsageError(
            f"stargan: unknown translate option {name!r} (known: target (--target), source_labels (--source-labels))"
        )
