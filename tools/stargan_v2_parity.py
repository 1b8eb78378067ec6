"""Step-by-step parity of i2i's ``stargan_v2`` with clovaai/stargan-v2, in fp32 on the CPU.

    python tools/stargan_v2_parity.py --reference ~/src/stargan-v2        # 32 px, 3 domains: ~2 min
    python tools/stargan_v2_parity.py --reference ~/src/stargan-v2 --image-size 256 --steps 1

``--reference`` is a checkout of clovaai/stargan-v2 (its ``core/`` is what is imported; munch
must be installed, the landmark network's cv2/ffmpeg/scikit-image are stubbed when absent).
Nothing is downloaded: the networks start from i2i's own initialisation.

What it checks: i2i's method is built with the reference's defaults at ``--image-size``
(widths from the reference's ``2**14 // img_size`` rule, so both sides build the same shapes).
The reference's four networks receive i2i's initial weights (``load_state_dict(strict=True)``,
no key mapping), and both get Adam with the reference's settings (lr 1e-4, mapping network
1e-6, betas (0, 0.99), weight decay 1e-4). Then, for each step, before it i2i is put into the
reference's exact state (weights and Adam moments), and both run one iteration on the same
inputs:

* the reference: its own ``compute_d_loss`` / ``compute_g_loss`` in ``Solver.train``'s order
  (D latent, D reference, G+F+E latent, G reference), each followed by its optimizers' steps,
  then its ``moving_average`` of G, F and E (beta 0.999) and its ``lambda_ds`` decrement;
* i2i: ``train_step`` through the trainer's ``TrainContext`` (reference images come from the
  batch, as in i2i; the same indices are handed to the reference as ``x_ref``/``x_ref2``, and the
  latent codes are drawn from the same RNG state), then the trainer's EMA update without warm-up.

Two tracks, each from the same initial weights:

* ``stock``: i2i with its two documented kernel substitutions undone on this instance
  (instance norm through ``F.instance_norm``, the reference's ``nn.InstanceNorm2d``, instead of
  ``F.group_norm``; torch's unfused Adam instead of ``fused=True``). Gated per step: the 14
  losses (relative ``--loss-tol``), the gradient each of the six optimizer updates received
  (D, D, G, F, E, G; relative L2 ``--grad-tol``), and every weight of G, F, E, D and of the
  EMA after the step (absolute ``--weight-tol``). Measured: losses and gradients identical
  (0.0), weights within 1.2e-7.
* ``shipped``: i2i as installed. Its rounding differs from the reference's by ~1e-7, and each
  of an iteration's six updates starts from the weights the previous one left: Adam's first
  steps turn a rounding-level gradient of either sign into a full ``lr`` step, so later
  updates within the iteration drift apart (measured at 32 px, step 0: gradients D 2e-6,
  D 8e-5, G 4e-3, F 5e-3, E 2e-4, G 7e-2; step 1, after the first iteration's updates
  sharpened the networks: D 2e-4 ... G 8e-2). Gated: the first update (D, latent-guided: its
  three losses, relative ``--loss-tol``, and its gradient, relative L2 ``--grad-tol-shipped``
  1e-3); the rest is reported.

Exit 0 when every gated check agrees.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any, NoReturn

import torch

import i2i
import i2i.optim as i2i_optim
from i2i.train.context import TrainContext
from i2i.train.ema import EMA
from i2i.train.precision import Precision

#: i2i's train_step loss names -> (reference part, its Munch key)
LOSSES = {
    **{f"D/latent_{k}": ("d_latent", k) for k in ("real", "fake", "reg")},
    **{f"D/ref_{k}": ("d_ref", k) for k in ("real", "fake", "reg")},
    **{f"G/latent_{k}": ("g_latent", k) for k in ("adv", "sty", "ds", "cyc")},
    **{f"G/ref_{k}": ("g_ref", k) for k in ("adv", "sty", "ds", "cyc")},
}
NETS = {"generator": "G", "mapping_network": "F", "style_encoder": "E", "discriminator": "D"}


def usage_error(message: str) -> NoReturn:
    """One ``error:`` line on stderr and exit status 2, as the i2i CLI reports bad input."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def import_reference(root: Path) -> tuple[Any, Any]:
    """The reference's ``core.model`` and ``core.solver``, with its optional heavy imports stubbed."""
    if not (root / "core" / "solver.py").is_file():
        usage_error(f"--reference {root}: no core/solver.py (expected a clovaai/stargan-v2 checkout)")
    if importlib.util.find_spec("munch") is None:
        usage_error("the reference needs munch (pip install munch)")
    for name in ("cv2", "ffmpeg", "skimage"):  # the landmark network's and video helpers' imports
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
            if name == "skimage":
                filters = types.ModuleType("skimage.filters")
                filters.gaussian = None  # type: ignore[attr-defined]
                sys.modules["skimage.filters"] = filters
    metrics = types.ModuleType("metrics.eval")  # FID/LPIPS evaluation: not used by a training step
    metrics.calculate_metrics = None  # type: ignore[attr-defined]
    sys.modules["metrics.eval"] = metrics
    sys.path.insert(0, str(root))
    import core.model
    import core.solver

    return core.model, core.solver


def reference_indices(y: torch.Tensor) -> types.SimpleNamespace:
    """Reference images from the batch: row ``i`` takes the next row's image as ``x_ref`` and
    another image of that row's domain as ``x_ref2`` (the same one when it has no other)."""
    n = y.shape[0]
    ref = [(i + 1) % n for i in range(n)]
    ref2 = []
    for r in ref:
        same = [j for j in range(n) if j != r and y[j] == y[r]]
        ref2.append(same[0] if same else r)
    return types.SimpleNamespace(ref=torch.tensor(ref), ref2=torch.tensor(ref2))


def _stock_instance_norm(self: Any, x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.instance_norm(x, None, None, self.weight, self.bias, True, 0.1, self.eps)


def make_stock(method: torch.nn.Module) -> None:
    """Instance norm of this instance through ``F.instance_norm`` (the reference's
    ``nn.InstanceNorm2d``) instead of i2i's ``F.group_norm``."""
    from i2i.nets.norm import InstanceNorm

    for m in method.modules():
        if isinstance(m, InstanceNorm):
            m.forward = types.MethodType(_stock_instance_norm, m)  # type: ignore[method-assign]


def relative(mine: list[torch.Tensor], theirs: list[torch.Tensor]) -> float:
    """``|mine - theirs| / |theirs|`` over a whole list of tensors (L2)."""
    num = sum(float((a.double() - b.double()).pow(2).sum()) for a, b in zip(mine, theirs))
    den = sum(float(b.double().pow(2).sum()) for b in theirs)
    return (num / max(den, 1e-30)) ** 0.5


def run_track(args: argparse.Namespace, model: Any, solver: Any, stock: bool) -> list[str]:
    """One track (``shipped`` i2i, or ``stock`` kernels); returns the failed checks."""
    import i2i_stargan_v2.method as method_module
    from munch import Munch

    track = "stock" if stock else "shipped"
    grad_tol = args.grad_tol if stock else args.grad_tol_shipped
    gated = "" if stock else " (gated: the first update's losses and gradient)"
    size, k, b = args.image_size, args.domains, args.batch
    torch.manual_seed(args.seed)
    info = i2i.DataInfo(kind=i2i.LABELLED, channels_a=3, channels_b=3, domains=tuple(f"d{i}" for i in range(k)))
    method = i2i.create_method("stargan_v2", data_info=info, image_size=size, ds_iter=args.ds_iter)
    if stock:
        make_stock(method)
    c = method.config
    ref = Munch(
        generator=model.Generator(size, c.style_dim, w_hpf=0),
        mapping_network=model.MappingNetwork(c.latent_dim, c.style_dim, k),
        style_encoder=model.StyleEncoder(size, c.style_dim, k),
        discriminator=model.Discriminator(size, k),
    )
    for name, short in NETS.items():
        ref[name].load_state_dict(getattr(method, short).state_dict(), strict=True)
    ref_ema = Munch({name: copy.deepcopy(ref[name]) for name in ("generator", "mapping_network", "style_encoder")})
    ref_opt = {
        name: torch.optim.Adam(
            net.parameters(),
            lr=c.f_lr if name == "mapping_network" else c.lr,
            betas=(c.beta1, c.beta2),
            weight_decay=c.weight_decay,
        )
        for name, net in ref.items()
    }
    ref_args = Munch(
        lambda_reg=c.lambda_reg, lambda_sty=c.lambda_sty, lambda_ds=c.lambda_ds, lambda_cyc=c.lambda_cyc, w_hpf=0
    )
    if stock:
        fusable, i2i_optim._fusable = i2i_optim._fusable, lambda params: False  # torch's unfused Adam
        try:
            optimizers = method.configure_optimizers()
        finally:
            i2i_optim._fusable = fusable
    else:
        optimizers = method.configure_optimizers()
    precision = Precision.create("fp32", torch.device("cpu"))
    ctx = TrainContext(optimizers, precision, device=torch.device("cpu"))
    ema = EMA(method.generators(), 0.999, warmup=False)
    method.train()
    for net in ref.values():
        net.train()

    # the gradients each optimizer step received, in call order, on both sides
    grads: dict[str, list[tuple[str, list[torch.Tensor]]]] = {"i2i": [], "ref": []}

    def capture(side: str, name: str) -> Any:
        def hook(optimizer: torch.optim.Optimizer, *_: Any) -> None:
            grads[side].append((name, [p.grad.detach().clone() for g in optimizer.param_groups for p in g["params"]]))

        return hook

    for name, short in NETS.items():
        ref_opt[name].register_step_pre_hook(capture("ref", short))
        optimizers[short].register_step_pre_hook(capture("i2i", short))

    failures: list[str] = []
    gen = torch.Generator().manual_seed(args.seed + 1)
    for step in range(args.steps):
        # -- the reference's state before this step, loaded into i2i ----------------------
        for name, short in NETS.items():
            getattr(method, short).load_state_dict(ref[name].state_dict())
            opt_sd = optimizers[short].state_dict()
            opt_sd["state"] = copy.deepcopy(ref_opt[name].state_dict()["state"])
            optimizers[short].load_state_dict(opt_sd)
        ema.load_state_dict({NETS[n]: net.state_dict() for n, net in ref_ema.items()})
        for side in grads.values():
            side.clear()

        # -- one batch; references from the batch, as i2i picks them ----------------------
        x = torch.rand(b, 3, size, size, generator=gen) * 2 - 1
        y_org = torch.arange(b) % k
        refs = reference_indices(y_org)
        x_ref, x_ref2, y_trg = x[refs.ref], x[refs.ref2], y_org[refs.ref]
        seed = int(torch.randint(0, 2**31, (1,), generator=gen))

        # -- the reference: Solver.train's iteration on these inputs ----------------------
        torch.manual_seed(seed)  # i2i's train_step draws z, z2 first thing from this state
        z, z2 = torch.randn(b, c.latent_dim), torch.randn(b, c.latent_dim)
        x_real = x.clone()
        parts: dict[str, Any] = {}

        def update(loss: torch.Tensor, *names: str) -> None:
            for o in ref_opt.values():
                o.zero_grad()
            loss.backward()
            for name in names:
                ref_opt[name].step()

        loss, parts["d_latent"] = solver.compute_d_loss(ref, ref_args, x_real, y_org, y_trg, z_trg=z)
        update(loss, "discriminator")
        loss, parts["d_ref"] = solver.compute_d_loss(ref, ref_args, x_real, y_org, y_trg, x_ref=x_ref)
        update(loss, "discriminator")
        loss, parts["g_latent"] = solver.compute_g_loss(ref, ref_args, x_real, y_org, y_trg, z_trgs=[z, z2])
        update(loss, "generator", "mapping_network", "style_encoder")
        loss, parts["g_ref"] = solver.compute_g_loss(ref, ref_args, x_real, y_org, y_trg, x_refs=[x_ref, x_ref2])
        update(loss, "generator")
        for name in ref_ema:
            solver.moving_average(ref[name], ref_ema[name], beta=0.999)
        if ref_args.lambda_ds > 0:
            ref_args.lambda_ds -= c.lambda_ds / c.ds_iter

        # -- i2i: the trainer's step ---------------------------------------------------------
        batch = i2i.Batch(a=x.clone(), labels=torch.nn.functional.one_hot(y_org, k).float())
        picked = method_module.pick_references
        method_module.pick_references = lambda y, refs=refs: refs  # type: ignore[assignment]
        try:
            torch.manual_seed(seed)
            ctx.begin_step(step)
            with precision.autocast():
                out = method.train_step(batch, ctx)
            ctx.end_step()
        finally:
            method_module.pick_references = picked
        ema.update()

        # -- compare ---------------------------------------------------------------------
        where = f"{track} step {step}"
        worst_loss = 0.0
        for key, (part, field) in LOSSES.items():
            mine, theirs = float(out[key]), float(parts[part][field])
            rel = abs(mine - theirs) / max(abs(theirs), 1e-8)
            worst_loss = max(worst_loss, rel)
            if (stock or key.startswith("D/latent_")) and rel > args.loss_tol:
                failures.append(f"{where}: {key} i2i {mine:.6g} reference {theirs:.6g} (relative {rel:.1e})")
        order = ([n for n, _ in grads["i2i"]], [n for n, _ in grads["ref"]])
        worst_grad, per_update = 0.0, []
        if order[0] != order[1]:
            failures.append(f"{where}: i2i updated {' '.join(order[0])}, the reference {' '.join(order[1])}")
        else:
            for i, ((name, mine_g), (_, theirs_g)) in enumerate(zip(grads["i2i"], grads["ref"])):
                rel = relative(mine_g, theirs_g)
                worst_grad = max(worst_grad, rel)
                per_update.append(f"{name} {rel:.0e}")
                if (stock or i == 0) and rel > grad_tol:
                    failures.append(f"{where}: the gradient {name} received differs by {rel:.1e} (relative L2)")
        worst_weight = 0.0
        pairs: list[tuple[str, Any, torch.nn.Module]] = [
            (short, getattr(method, short).state_dict(), ref[name]) for name, short in NETS.items()
        ]
        pairs += [(f"EMA {NETS[name]}", ema.shadow[NETS[name]], net) for name, net in ref_ema.items()]
        for label, mine_sd, theirs_net in pairs:
            for key, value in theirs_net.state_dict().items():
                diff = (mine_sd[key].float() - value.float()).abs().max().item() if value.numel() else 0.0
                worst_weight = max(worst_weight, diff)
                if stock and diff > args.weight_tol:
                    failures.append(f"{where}: {label}.{key} differs by {diff:.2e} after the step")
        print(
            f"{where}{gated}: lambda_ds {float(out['G/lambda_ds']):.3f}; updates {' '.join(order[0])}; losses agree to "
            f"{worst_loss:.1e} (relative), gradients to {worst_grad:.1e} (relative L2: {', '.join(per_update)}), weights and EMA to "
            f"{worst_weight:.1e} (absolute)",
            flush=True,
        )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="a clovaai/stargan-v2 checkout")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--domains", type=int, default=3)
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--ds-iter", type=int, default=4, help="short, so lambda_ds visibly decays over the steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss-tol", type=float, default=1e-4, help="relative, every loss, both tracks")
    parser.add_argument("--grad-tol", type=float, default=1e-4, help="relative L2 per update, stock track")
    parser.add_argument(
        "--grad-tol-shipped", type=float, default=1e-3, help="relative L2, the first update of the shipped track"
    )
    parser.add_argument("--weight-tol", type=float, default=1e-6, help="absolute, after each step, stock track")
    args = parser.parse_args(argv)
    model, solver = import_reference(args.reference.expanduser())
    failures = run_track(args, model, solver, stock=False) + run_track(args, model, solver, stock=True)
    if failures:
        print("\n".join(failures[:40]))
        print(f"parity: FAILED ({len(failures)} checks)")
        return 1
    print(
        f"parity: OK ({args.steps} steps per track, {args.image_size} px, {args.domains} domains, batch {args.batch})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
