"""From user-facing target names to the label vectors StarGAN's generator is conditioned on.

Two label kinds (``DataInfo.multi_label``):

* **one-hot domains** (one folder per domain): ``target="sepia"`` picks one domain; the
  input's own labels are never needed.
* **multi-hot attributes** (a CelebA-style list): ``target="Blond_Hair,-Male"`` sets
  ``Blond_Hair`` to 1 and ``Male`` to 0. Attributes not named keep the input's values, so
  they must be known (``source_labels``) unless every attribute is named. Setting one of
  ``exclusive`` (the hair colours) clears the others that were not named.

``target="all"`` gives one label set per domain, as the reference's test does: each one-hot
domain in turn; for attributes, each attribute toggled (an exclusive one set, its group
cleared). No target at all spreads a batch over those label sets (image ``i`` gets the
``i mod D``-th), so generic callers of ``translate(x)`` get a valid translation. Every user
mistake is a one-line :class:`i2i.UsageError` naming the valid names.
"""

from __future__ import annotations

from typing import Sequence

import torch

import i2i

Target = str | Sequence[str]
SourceLabels = torch.Tensor | str | Sequence[str] | None


def split_names(target: Target) -> list[str]:
    """``"a, -b"`` or ``["a", "-b"]`` -> ``["a", "-b"]`` (blanks dropped)."""
    items = target.split(",") if isinstance(target, str) else list(target)
    if not all(isinstance(item, str) for item in items):
        raise i2i.UsageError(f"target: expected domain names, got {target!r}")
    return [item.strip() for item in items if item.strip()]


#: How a user passes the inputs' own attributes: the CLI flag and the Python keyword.
SOURCE_OPTION = "--source-labels (source_labels= from Python)"


def example_labels(domains: Sequence[str]) -> str:
    """An example value in the model's own attribute names, e.g. ``'Blond_Hair,Young'``."""
    return repr(",".join(list(domains)[:2]))


def _unknown(name: str, domains: Sequence[str]) -> i2i.UsageError:
    return i2i.UsageError(f"target: unknown domain {name!r} (valid: {', '.join(domains)}, or 'all')")


def is_all(target: Target | None) -> bool:
    return isinstance(target, str) and target.strip().lower() == "all"


def source_matrix(source: SourceLabels, domains: Sequence[str], n: int, device: torch.device) -> torch.Tensor | None:
    """``source_labels`` as a float ``(n, D)`` 0/1 tensor, or None when not given.

    Accepts a ``(n, D)`` or ``(D,)`` tensor, or the names of the attributes the inputs have
    (``"Blond_Hair,Young"``: those 1, the rest 0) - the form ``--source-labels`` passes.
    """
    if source is None:
        return None
    if isinstance(source, torch.Tensor):
        labels = source.detach().to(device=device, dtype=torch.float32)
        if labels.dim() == 1:
            labels = labels.unsqueeze(0)
        if labels.dim() != 2 or labels.shape[1] != len(domains) or labels.shape[0] not in (1, n):
            raise i2i.UsageError(
                f"source_labels: expected shape ({n}, {len(domains)}) for {', '.join(domains)}, got {tuple(source.shape)}"
            )
        return labels.expand(n, -1).clone()
    labels = torch.zeros(n, len(domains), device=device)
    for name in split_names(source):
        if name not in domains:
            raise i2i.UsageError(f"--source-labels: unknown attribute {name!r} (valid: {', '.join(domains)})")
        labels[:, domains.index(name)] = 1.0
    return labels


def _one_hot(index: int, size: int, n: int, device: torch.device) -> torch.Tensor:
    labels = torch.zeros(n, size, device=device)
    labels[:, index] = 1.0
    return labels


def one_hot_target(target: Target, domains: Sequence[str], n: int, device: torch.device) -> torch.Tensor:
    names = split_names(target)
    if len(names) != 1:
        raise i2i.UsageError(
            f"target: the domains are one-hot, name exactly one of {', '.join(domains)} (got {target!r})"
        )
    name = names[0]
    if name.startswith("-"):
        raise i2i.UsageError(
            f"target: {name!r}: '-NAME' turns an attribute off; these domains are one-hot, name one of {', '.join(domains)}"
        )
    if name not in domains:
        raise _unknown(name, domains)
    return _one_hot(domains.index(name), len(domains), n, device)


def multi_hot_target(
    target: Target,
    domains: Sequence[str],
    source: torch.Tensor | None,
    exclusive: Sequence[str],
    n: int,
    device: torch.device,
) -> torch.Tensor:
    wanted: dict[str, float] = {}
    for item in split_names(target):
        name, value = (item[1:].strip(), 0.0) if item.startswith("-") else (item, 1.0)
        if name not in domains:
            raise _unknown(name, domains)
        if wanted.get(name, value) != value:
            raise i2i.UsageError(f"target: {name!r} is both set and cleared in {target!r}")
        wanted[name] = value
    if not wanted:
        raise i2i.UsageError(f"target: name at least one of {', '.join(domains)} (or -NAME to turn one off)")
    group = [d for d in domains if d in exclusive]
    for name, value in list(wanted.items()):
        if value == 1.0 and name in group:
            for other in group:
                wanted.setdefault(other, 0.0)
    missing = [d for d in domains if d not in wanted]
    if missing and source is None:
        raise i2i.UsageError(
            f"target {target!r} leaves {', '.join(missing)} unspecified: pass the inputs' own attributes with "
            f"{SOURCE_OPTION}, e.g. {example_labels(domains)}, or name every attribute in the target (-NAME turns one off)"
        )
    labels = source.clone() if source is not None else torch.zeros(n, len(domains), device=device)
    for name, value in wanted.items():
        labels[:, domains.index(name)] = value
    return labels


def target_labels(
    target: Target | None,
    domains: Sequence[str],
    multi_label: bool,
    source: torch.Tensor | None,
    exclusive: Sequence[str],
    n: int,
    device: torch.device,
) -> torch.Tensor:
    """The ``(n, D)`` label tensor for one ``target`` (not ``"all"``; None: :func:`spread_targets`)."""
    if target is None:
        return spread_targets(domains, multi_label, source, exclusive, n, device)
    if is_all(target):
        raise i2i.UsageError("target 'all' gives one output per domain: use translate_variants, not translate")
    if multi_label:
        return multi_hot_target(target, domains, source, exclusive, n, device)
    return one_hot_target(target, domains, n, device)


def all_targets(
    domains: Sequence[str],
    multi_label: bool,
    source: torch.Tensor | None,
    exclusive: Sequence[str],
    n: int,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Domain name -> ``(n, D)`` labels for ``target="all"`` (the reference's ``create_labels``)."""
    if not multi_label:
        return {name: _one_hot(i, len(domains), n, device) for i, name in enumerate(domains)}
    if source is None:
        raise i2i.UsageError(
            f"target 'all' toggles each attribute ({', '.join(domains)}), so it needs the inputs' own: "
            f"pass {SOURCE_OPTION}, e.g. {example_labels(domains)}"
        )
    group = [i for i, d in enumerate(domains) if d in exclusive]
    out: dict[str, torch.Tensor] = {}
    for i, name in enumerate(domains):
        labels = source.clone()
        if i in group:
            labels[:, group] = 0.0
            labels[:, i] = 1.0
        else:
            labels[:, i] = 1.0 - labels[:, i]
        out[name] = labels
    return out


def spread_targets(
    domains: Sequence[str],
    multi_label: bool,
    source: torch.Tensor | None,
    exclusive: Sequence[str],
    n: int,
    device: torch.device,
) -> torch.Tensor:
    """No target named: image ``i`` gets the ``i mod D``-th of the ``"all"`` label sets.

    Generic callers (the trainer's held-out summary) call ``translate(x)`` with no options;
    this spreads a batch over every domain instead of failing. Unknown attributes count as 0.
    """
    if multi_label and source is None:
        source = torch.zeros(n, len(domains), device=device)
    variants = list(all_targets(domains, multi_label, source, exclusive, n, device).values())
    return torch.stack([variants[i % len(variants)][i] for i in range(n)])
