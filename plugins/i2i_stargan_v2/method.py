"""StarGAN v2 (Choi et al. 2020): one generator, many domains, many styles per domain.

``G(x, s)`` renders image ``x`` in style ``s``; a style is either drawn - ``F(z, y)`` maps a
random code ``z`` into domain ``y``'s style space (latent-guided) - or taken from a reference
image, ``E(x_ref, y)`` (reference-guided). ``D(x, y)`` is one real/fake classifier per domain.
Each trainer step is one iteration of clovaai/stargan-v2's ``Solver.train``, in its order:

1. ``D``, latent-guided, then ``D``, reference-guided: non-saturating loss on real images of
   their own domain and on ``G(x, s_trg)`` as the target domain, plus ``lambda_reg`` * R1
   (``0.5 * E|grad_x D(x)|^2`` on the real images);
2. ``G``, ``F`` and ``E`` on the latent-guided loss, then ``G`` alone on the reference-guided
   one: ``adv + lambda_sty * |E(G(x, s), y) - s| - lambda_ds * |G(x, s) - G(x, s2)| +
   lambda_cyc * |G(G(x, s), E(x, y_org)) - x|``, where ``s2`` comes from a second code or
   a second reference of the same domain.

``lambda_ds`` falls linearly from ``lambda_ds`` to 0 over ``ds_iter`` steps; it is a function
of the trainer's global step (no state of its own), so a resumed run continues the schedule
exactly. Networks not being updated in a step are frozen (D in the G steps, E in the
reference-guided G step): the reference lets them collect gradients and zeroes them unused,
which gives the same updates. R1 runs in fp32 with autocast off (a double backward); under
bf16 everything else runs in bf16. The trainer's EMA (``train.ema``, 0.999 by default) of
``G``, ``F`` and ``E`` is what samples, ``i2i translate``, ``i2i eval`` and export use.

Reference images come from the batch itself (:mod:`.references`). Translation: a target
domain with ``samples`` seeded latent codes (``s0``, ``s1`` ...), or the style of a
``reference`` image of the target domain; ``target="all"`` gives one output per domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

import i2i

from .config import StarGANv2Config
from .evaluation import DESCRIPTION, diversity
from .nets import Discriminator, Generator, MappingNetwork, StyleEncoder
from .references import pick_references

#: Domains of a model built without data (``i2i.create_method("stargan_v2")``): AFHQ's.
AFHQ_DOMAINS = ("cat", "dog", "wild")
OPTIONS = ("target", "samples", "seed", "reference", "z")
PARTS = ("real", "fake", "reg")
G_PARTS = ("adv", "sty", "ds", "cyc")


def _load_reference(path: Any, method: Any, options: Mapping[str, Any]) -> torch.Tensor:
    """A style image of the target domain, ``(1, C, H, W)`` in [-1, 1]."""
    image, _ = i2i.read_image(path, method.data_info.channels_a)
    return image[None] * 2 - 1


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.float() - b.float()).abs().mean()


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise i2i.UsageError(f"{name}: expected an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise i2i.UsageError(f"{name}: expected an integer, got {value!r}") from None


def _is_all(target: Any) -> bool:
    return isinstance(target, str) and target.strip().lower() == "all"


def _check_codes(z: Any, method: Any, options: Mapping[str, Any]) -> None:
    """A command-line ``--z`` before any image is read (tensors are checked against their batch)."""
    if isinstance(z, str):
        i2i.latent_codes(z, 1, method.config.latent_dim)


def _one_domain_for_reference(target: Any, reference: Any, domains: Any) -> None:
    if reference is not None and _is_all(target):
        raise i2i.UsageError(f"reference: a reference image has one domain; name it with target ({', '.join(domains)})")


def _check_target(target: Any, method: Any, options: Mapping[str, Any]) -> None:
    """``--target`` against the checkpoint's domains before any image is read (a reference
    image needs one named domain)."""
    _one_domain_for_reference(target, options.get("reference"), method.domains)
    if not _is_all(target):
        method.domain_index(target, 1, torch.device("cpu"))


class StarGANv2(i2i.Method):
    """Generator, mapping network, style encoder and multi-task discriminator."""

    data_kind = i2i.LABELLED
    generator_names = ("G", "F", "E")
    #: ``i2i eval``: ``target="all"`` gives one output per domain (accuracy, SWD, KID, cycle), and
    #: the method's own diversity rows (:mod:`.evaluation`) use K latent codes and K references.
    eval_capabilities = i2i.EvalCapabilities(
        target="target",
        all_targets="all",
        samples="samples",
        seed="seed",
        metrics=(i2i.EvalMetric("diversity", DESCRIPTION, diversity, at_end=True),),
    )

    def __init__(self, config: StarGANv2Config, data_info: i2i.DataInfo) -> None:
        if not data_info.domains:
            data_info = attrs.evolve(data_info, domains=AFHQ_DOMAINS, multi_label=False)
        if data_info.multi_label:
            raise i2i.UsageError(
                "stargan_v2 translates between exclusive domains (one folder per domain: train/<domain>/); "
                "attribute lists (multi-label) are not supported"
            )
        if len(data_info.domains) < 2:
            raise i2i.UsageError(f"stargan_v2 needs at least two domains, got {list(data_info.domains)}")
        super().__init__(config, data_info)
        c, channels, n = config, data_info.channels_a, len(data_info.domains)
        self.domains: tuple[str, ...] = tuple(data_info.domains)
        self.G = Generator(c.image_size, c.style_dim, c.max_conv_dim, c.w_hpf, width=c.width, channels=channels)
        self.F = MappingNetwork(c.latent_dim, c.style_dim, n, c.hidden_dim)
        self.E = StyleEncoder(c.image_size, c.style_dim, n, c.max_conv_dim, width=c.width, channels=channels)
        self.D = Discriminator(c.image_size, n, c.max_conv_dim, width=c.width, channels=channels)
        for net in (self.G, self.F, self.E, self.D):  # the reference's he_init: N(0, 2/fan_in), zero biases
            i2i.init_weights(net, "kaiming")
        self.size_multiple = self.G.size_multiple

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        if c.w_hpf > 0:
            raise i2i.UsageError(
                "method.w_hpf > 0 is the reference's face layout, which trains with a pretrained landmark "
                "network (wing/FAN) i2i does not ship; such a model translates but cannot be trained (set w_hpf = 0)"
            )
        common = dict(betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        return {
            "G": i2i.adam(self.G.parameters(), lr=c.lr, **common),
            "F": i2i.adam(self.F.parameters(), lr=c.f_lr, **common),
            "E": i2i.adam(self.E.parameters(), lr=c.lr, **common),
            "D": i2i.adam(self.D.parameters(), lr=c.lr, **common),
        }

    def train_step(self, batch: i2i.Batch, ctx: i2i.StepContext) -> dict[str, torch.Tensor]:
        x, y_org = batch.a, self._check_batch(batch)
        refs = pick_references(y_org)
        x_ref, x_ref2, y_trg = x[refs.ref], x[refs.ref2], y_org[refs.ref]
        n, device = x.shape[0], x.device
        z, z2 = (
            torch.randn(n, self.config.latent_dim, device=device),
            torch.randn(n, self.config.latent_dim, device=device),
        )
        lambda_ds = self.config.lambda_ds_at(ctx.global_step)
        losses: dict[str, torch.Tensor] = {}
        losses.update(self._discriminator_step("latent", x, y_org, y_trg, ctx, z=z))
        losses.update(self._discriminator_step("ref", x, y_org, y_trg, ctx, ref=x_ref))
        losses.update(self._generator_step("latent", x, y_org, y_trg, lambda_ds, ctx, first=z, second=z2))
        losses.update(self._generator_step("ref", x, y_org, y_trg, lambda_ds, ctx, first=x_ref, second=x_ref2))
        losses["G/lambda_ds"] = torch.tensor(lambda_ds)
        return {k: v.detach().float() for k, v in losses.items()}

    def _style(self, kind: str, source: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``F(z, y)`` for the latent-guided steps, ``E(x_ref, y)`` for the reference-guided ones."""
        return self.F(source, y) if kind == "latent" else self.E(source, y)

    def _real_scores(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``D(x, y)`` of the real images and their R1 penalty, in fp32 with autocast off."""
        with torch.autocast(x.device.type, enabled=False):
            x = x.detach().float().requires_grad_(True)
            logits = self.D(x, y)
            (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
            return logits, 0.5 * grad.pow(2).flatten(1).sum(1).mean()

    def _discriminator_step(
        self,
        kind: str,
        x: torch.Tensor,
        y_org: torch.Tensor,
        y_trg: torch.Tensor,
        ctx: i2i.StepContext,
        *,
        z: torch.Tensor | None = None,
        ref: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.G(x, self._style(kind, z if kind == "latent" else ref, y_trg))  # type: ignore[arg-type]
        real_logits, r1 = self._real_scores(x, y_org)
        loss_real, loss_fake = _bce(real_logits, 1.0), _bce(self.D(fake, y_trg), 0.0)
        ctx.backward(loss_real + loss_fake + self.config.lambda_reg * r1)
        ctx.step("D")
        return {f"D/{kind}_{k}": v for k, v in zip(PARTS, (loss_real, loss_fake, r1))}

    def _generator_step(
        self,
        kind: str,
        x: torch.Tensor,
        y_org: torch.Tensor,
        y_trg: torch.Tensor,
        lambda_ds: float,
        ctx: i2i.StepContext,
        *,
        first: torch.Tensor,
        second: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """One generator update; ``first``/``second`` are the two codes (or the two references)."""
        c = self.config
        frozen = [self.D] if kind == "latent" else [self.D, self.E]
        i2i.set_requires_grad(frozen, False)
        try:
            s_trg = self._style(kind, first, y_trg)
            fake = self.G(x, s_trg)
            adv = _bce(self.D(fake, y_trg), 1.0)
            sty = _l1(self.E(fake, y_trg), s_trg)
            with torch.no_grad():  # the reference detaches this second output
                fake2 = self.G(x, self._style(kind, second, y_trg))
            ds = _l1(fake, fake2)
            cyc = _l1(self.G(fake, self.E(x, y_org)), x)
            ctx.backward(adv + c.lambda_sty * sty - lambda_ds * ds + c.lambda_cyc * cyc)
            ctx.step("G")
            if kind == "latent":
                ctx.step("F")
                ctx.step("E")
        finally:
            i2i.set_requires_grad(frozen, True)
        return {f"G/{kind}_{k}": v for k, v in zip(G_PARTS, (adv, sty, ds, cyc))}

    def _check_batch(self, batch: i2i.Batch) -> torch.Tensor:
        """The batch's domain indices ``(N,)``, after checking labels and image size."""
        if batch.labels is None:
            raise i2i.UsageError(
                "stargan_v2 needs labelled data: one folder per domain (train/<domain>/, val/<domain>/)"
            )
        labels = batch.labels
        if labels.dim() != 2 or labels.shape[1] != len(self.domains):
            raise i2i.UsageError(
                f"stargan_v2 was built for {len(self.domains)} domains ({', '.join(self.domains)}) "
                f"but the data has {labels.shape[-1]} labels"
            )
        h, w = batch.a.shape[-2:]
        size = self.config.image_size
        if (h, w) != (size, size):
            raise i2i.UsageError(
                f"stargan_v2: training images are {h}x{w} px but method.image_size is {size} (it sizes the style "
                "encoder and discriminator); set method.image_size = data.image_size"
            )
        return labels.argmax(dim=1)

    # -- inference ------------------------------------------------------------------------
    def domain_index(self, target: Any, n: int, device: torch.device) -> torch.Tensor:
        """``(n,)`` domain indices: a domain name (or index) for every row; None spreads the
        rows over the domains (row ``i`` -> domain ``i mod D``, what generic callers get)."""
        if target is None:
            return torch.arange(n, device=device) % len(self.domains)
        if isinstance(target, str) and target.strip() in self.domains:
            return torch.full((n,), self.domains.index(target.strip()), dtype=torch.long, device=device)
        if isinstance(target, int) and not isinstance(target, bool) and 0 <= target < len(self.domains):
            return torch.full((n,), target, dtype=torch.long, device=device)
        raise i2i.UsageError(f"target: unknown domain {target!r} (known: {', '.join(self.domains)}, or 'all')")

    def draw_codes(self, samples: int, n: int, seed: int | None, device: torch.device | str = "cpu") -> torch.Tensor:
        """``(samples, n, latent_dim)`` latent codes from a private generator (the global RNG is
        untouched); one draw per sample, so sample ``k`` of a seed is the same for any ``samples``
        >= k + 1 and sample 0 is what ``translate(x, seed=seed)`` uses. ``seed=None``: fresh codes."""
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(_as_int("seed", seed))
        codes = [torch.randn(n, self.config.latent_dim, generator=generator) for _ in range(samples)]
        return torch.stack(codes).to(device)

    def reference_style(self, reference: Any, y: torch.Tensor) -> torch.Tensor:
        """``E(reference, y)`` for a ``(1 or N, C, H, W)`` image in [-1, 1] of the target domain,
        resized to ``image_size`` (the size the style encoder reads)."""
        n = y.shape[0]
        if not isinstance(reference, torch.Tensor) or reference.dim() != 4 or reference.shape[0] not in (1, n):
            raise i2i.UsageError(
                f"reference: expected (1 or {n}, C, H, W) images in [-1, 1], got {getattr(reference, 'shape', type(reference).__name__)}"
            )
        reference = reference.to(y.device, torch.float32)
        size = self.config.image_size
        if reference.shape[-2:] != (size, size):
            shrinking = min(reference.shape[-2:]) > size
            reference = F.interpolate(
                reference, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking
            )
        return self.E(reference.expand(n, -1, -1, -1), y)

    def _code_style(self, z: Any, y: torch.Tensor) -> torch.Tensor:
        return self.F(i2i.latent_codes(z, y.shape[0], self.config.latent_dim, y.device), y)

    def translate(
        self,
        x: torch.Tensor,
        target: Any = None,
        seed: int | None = 0,
        z: Any = None,
        reference: Any = None,
        **options: Any,
    ) -> torch.Tensor:
        """``x`` in domain ``target``, with the style of ``reference`` (an image of that domain),
        of latent codes ``z``, or of a seeded latent draw (default seed 0: the same input gives
        the same output). No target: row ``i`` goes to domain ``i mod D``."""
        _reject_unknown(options)
        if _is_all(target):
            raise i2i.UsageError("target 'all' gives one output per domain: use translate_variants, not translate")
        if z is not None and reference is not None:
            raise i2i.UsageError("translate: give either z or reference, not both")
        n = x.shape[0]
        if reference is not None and target is None:
            raise i2i.UsageError(
                f"reference: name the reference image's domain with target ({', '.join(self.domains)})"
            )
        y = self.domain_index(target, n, x.device)
        if reference is not None:
            s = self.reference_style(reference, y)
        else:
            s = self._code_style(self.draw_codes(1, n, seed, x.device)[0] if z is None else z, y)
        return self.G(x, s).clamp(-1, 1)

    def translate_variants(
        self,
        x: torch.Tensor,
        target: Any = "all",
        samples: int = 1,
        seed: int | None = 0,
        z: Any = None,
        reference: Any = None,
        **options: Any,
    ) -> dict[str, torch.Tensor]:
        """Named outputs: one per domain for ``target="all"`` (keyed by domain name), times
        ``samples`` latent codes (``s0`` ... ``s{K-1}``; ``cat_s0`` ... with ``all``). Sample
        ``k`` uses the same code in every domain. With ``z`` or ``reference`` the style is fixed,
        so there is one output per target domain."""
        _reject_unknown(options)
        samples = _as_int("samples", samples)
        if samples < 1:
            raise i2i.UsageError(f"samples: expected at least 1, got {samples}")
        targets: list[Any] = list(self.domains) if _is_all(target) else [target]
        _one_domain_for_reference(target, reference, self.domains)
        if reference is not None or z is not None:
            if samples > 1:
                raise i2i.UsageError("samples: a reference image or explicit z fixes the style; samples must be 1")
            return {
                (t if _is_all(target) else ""): self.translate(x, target=t, z=z, reference=reference) for t in targets
            }
        codes = self.draw_codes(samples, x.shape[0], seed, x.device)
        out: dict[str, torch.Tensor] = {}
        for t in targets:
            y = self.domain_index(t, x.shape[0], x.device)
            for k in range(samples):
                key = "_".join(part for part in (t if _is_all(target) else "", f"s{k}" if samples > 1 else "") if part)
                out[key] = self.G(x, self.F(codes[k], y)).clamp(-1, 1)
        return out

    translate_options = (
        i2i.TranslateOption(
            "target",
            default="all",
            check=_check_target,
            help="domain to translate to (one of the model's domains); 'all' writes one output per domain",
        ),
        i2i.TranslateOption(
            "samples",
            type=int,
            default=1,
            minimum=1,
            help="diverse outputs per input and domain from different latent codes, saved as <name>_s0, _s1, ...",
        ),
        i2i.TranslateOption(
            "seed", type=int, default=0, help="seed of the latent codes (the same input gives the same outputs)"
        ),
        i2i.TranslateOption(
            "reference",
            is_file=True,
            load=_load_reference,
            help="an image of the target domain whose style is taken (needs --target naming its domain)",
        ),
        i2i.TranslateOption(
            "z",
            check=_check_codes,
            help="explicit latent code: latent_dim comma-separated numbers (Python API: a (N or 1, latent_dim) tensor)",
        ),
    )

    def sample(self, batch: i2i.Batch) -> dict[str, torch.Tensor]:
        """Inputs; each domain with two latent codes (the domain changes down the rows, the style
        between a domain's two rows); then a reference (the batch rolled by one) and the inputs
        in its domain and style."""
        x = batch.a
        rows = {"input": x}
        for name, image in self.translate_variants(x, target="all", samples=2, seed=0).items():
            rows[name.replace("_s", " z")] = image
        if x.shape[0] >= 2 and batch.labels is not None:
            ref, y_ref = x.roll(1, dims=0), batch.labels.argmax(1).roll(1, dims=0)
            rows["reference"] = ref
            rows["reference style"] = self.G(x, self.E(ref, y_ref)).clamp(-1, 1)
        return rows

    def export_inputs(self, x: torch.Tensor) -> dict[str, tuple[nn.Module, tuple[i2i.ExportInput, ...]]]:
        """``G(image, style)``, ``F(z, domain)`` and ``E(reference, domain)``, with ``domain`` an
        int64 index ``(N,)``. The generator's image may have any size that is a multiple of
        ``size_multiple``; the style encoder's reference is fixed at ``image_size`` (it reduces
        its input to 4x4 before the heads), so only its batch is dynamic."""
        n, c = x.shape[0], self.config
        y = torch.zeros(n, dtype=torch.long, device=x.device)
        style = torch.zeros(n, c.style_dim, device=x.device, dtype=x.dtype)
        z = torch.zeros(n, c.latent_dim, device=x.device, dtype=x.dtype)
        ref = torch.zeros(n, x.shape[1], c.image_size, c.image_size, device=x.device, dtype=x.dtype)
        domain = i2i.ExportInput("domain", y, {0: "batch"})
        return {
            "G": (self.G, (i2i.image_input(x), i2i.ExportInput("style", style, {0: "batch"}))),
            "F": (self.F, (i2i.ExportInput("z", z, {0: "batch"}), domain)),
            "E": (self.E, (i2i.ExportInput("reference", ref, {0: "batch"}), domain)),
        }


def _reject_unknown(options: Mapping[str, Any]) -> None:
    if options:
        raise i2i.UsageError(
            f"stargan_v2: unknown translate option {sorted(options)[0]!r} (known: {', '.join(OPTIONS)})"
        )
