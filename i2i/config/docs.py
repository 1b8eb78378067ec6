"""The configuration reference (``docs/config.md``) and ``i2i config show``'s unset keys.

Everything comes from the config classes themselves: fields, types, defaults, rules (their
validators), one-line meanings (a class's ``field_help`` mapping, falling back to
:data:`COMMON_HELP` for the names methods share) and what an unset optional key means
(``unset_help``). ``python -m i2i.config.docs > docs/config.md`` regenerates the reference;
``tests/test_config_docs.py`` fails when it is out of date.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from typing import Any

import attrs
import tomli_w

from i2i.config.reference_names import REFERENCE_OPTIONS, reference_names
from i2i.config.validation import COMPONENT_KEY
from i2i.data.config import DataConfig
from i2i.plugins.host import PluginHost
from i2i.train.config import TrainConfig

#: Meanings of method fields that several methods share (the reference options' own words).
COMMON_HELP: dict[str, str] = {
    "netG": "registered generator (see: i2i list generators)",
    "netD": "registered discriminator (see: i2i list discriminators)",
    "ngf": "generator width (channels of its first layer)",
    "ndf": "discriminator width (channels of its first layer)",
    "nef": "encoder width (channels of its first layer)",
    "ndf_latent": "width of the latent-code discriminator",
    "nlatent": "size of the latent code",
    "n_blocks": "residual blocks of the generator",
    "n_layers_D": "PatchGAN layers (3: the 70x70 PatchGAN)",
    "n_layers_d": "PatchGAN layers of the image discriminators",
    "norm": "normalisation layers: batch, instance, instance_affine, syncbatch or none",
    "norm_d": "normalisation of the image discriminators",
    "norm_encoder": "normalisation of the latent encoders",
    "norm_latent_d": "normalisation of the latent discriminators",
    "normG": "normalisation of the generator",
    "normD": "normalisation of the discriminator",
    "use_dropout": "dropout in the generator",
    "init_type": "weight initialisation: normal, xavier, kaiming or orthogonal",
    "init_gain": "scale of the weight initialisation",
    "gan_mode": "GAN objective: vanilla, lsgan, hinge or wgangp",
    "lambda_A": "weight of the A -> B -> A cycle loss",
    "lambda_B": "weight of the B -> A -> B cycle loss",
    "lambda_identity": "identity loss weight, relative to the cycle weights (0: off)",
    "lambda_gp": "weight of the WGAN-GP gradient penalty",
    "lambda_L1": "weight of the L1 distance to the target",
    "lambda_cls": "weight of the domain classification loss",
    "lambda_rec": "weight of the reconstruction (cycle) loss",
    "lambda_cycle_a": "weight of the A cycle loss",
    "lambda_cycle_b": "weight of the B cycle loss",
    "lambda_latent": "weight of the latent-code cycle (or KL) term",
    "lambda_sup": "weight of the supervised L1 on aligned rows",
    "pool_size": "history of past fakes the discriminators see (0: only the current ones)",
    "lr": "Adam learning rate",
    "lr_d": "discriminator learning rate",
    "g_lr": "generator Adam learning rate",
    "d_lr": "discriminator Adam learning rate",
    "beta1": "Adam beta1",
    "beta2": "Adam beta2",
    "train_mode_at_test": "translate with dropout on and batch statistics, as the paper's test.py",
    "g_conv_dim": "generator width (channels of its first layer)",
    "d_conv_dim": "discriminator width (channels of its first layer)",
    "g_repeat_num": "residual blocks of the generator",
    "d_repeat_num": "stride-2 layers of the discriminator",
    "image_size": "the image size the discriminator's classifier head is built for (= data.image_size)",
    "n_critic": "discriminator updates per generator update",
    "exclusive_attributes": "attributes of which at most one is on (setting one clears the others)",
    "augment_a": "domain A gets a latent code (many-to-many into A)",
    "augment_b": "domain B gets a latent code (many-to-many into B)",
    "stochastic_encoder": "the encoders output a Gaussian (mu, logvar)",
    "latent_gan": "a GAN on the latent codes",
    "supervised": "rows whose A and B file stems match count as aligned pairs",
    "architecture": "i2i's networks, or the original release's layer for layer",
}


def field_help(cls: Any, name: str) -> str:
    return getattr(cls, "field_help", {}).get(name) or COMMON_HELP.get(name, "")


def unset_help(cls: Any, name: str) -> str:
    return getattr(cls, "unset_help", {}).get(name, "")


def _type(field: Any) -> str:
    tp = field.type  # a string under `from __future__ import annotations`, until attrs resolves it
    text = tp if isinstance(tp, str) else (tp.__name__ if isinstance(tp, type) else str(tp))
    text = re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", text)  # i2i.data.config.DataSource -> DataSource
    return text.replace("| None", "(optional)").replace("tuple[str, ...]", "list of str").strip()


def _toml_value(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[4:].strip()


def _rule(field: Any) -> str:
    marker = field.metadata.get(COMPONENT_KEY)
    if marker is not None:
        kind, also = marker
        return f"a registered {kind}" + (f" or {', '.join(also)}" if also else "")
    validator = field.validator
    return "" if validator is None else _describe_validator(validator)


def _describe_validator(validator: Any) -> str:
    inner = getattr(validator, "validator", None)  # attrs optional()
    if inner is not None and type(validator).__name__ == "_OptionalValidator":
        return _describe_validator(inner)
    parts = getattr(validator, "_validators", None)  # attrs and_()
    if parts is not None:
        return "; ".join(filter(None, (_describe_validator(p) for p in parts)))
    choices = getattr(validator, "choices", None) or getattr(validator, "options", None)
    if choices is not None:
        return "one of " + ", ".join(str(c) for c in choices)
    text = getattr(validator, "text", None)
    if text is not None:
        return text
    bound, op = getattr(validator, "bound", None), getattr(validator, "compare_op", None)
    if op is not None:
        return f"{op} {bound}"
    return ""  # a custom rule: the meaning column says what it checks


_HEADER = ["| key | type | default | allowed | meaning | reference option |", "|---|---|---|---|---|---|"]


def _rows(table: str, cls: Any, *, method: bool = False, header: bool = True) -> list[str]:
    defaults = cls()
    rows = list(_HEADER) if header else []
    nested = []
    for field in attrs.fields(cls):
        value = getattr(defaults, field.name)
        if attrs.has(type(value)):  # a sub-table such as [train.tracking]: its keys follow
            nested.append((f"{table}.{field.name}", type(value)))
            continue
        default = f"unset: {unset_help(cls, field.name) or 'no value'}" if value is None else f"`{_toml_value(value)}`"
        key = f"{table}.{field.name}"
        refs = [field.name] if method else reference_names(key)
        ref = ", ".join(f"`{r}`" for r in refs)
        cells = [f"`{key}`", _type(field), default, _rule(field), field_help(cls, field.name), ref]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    for sub_table, sub_cls in nested:
        rows += _rows(sub_table, sub_cls, method=method, header=False)
    return rows


def _builtin_packages() -> set[str]:
    """Top-level packages of the plugins i2i itself ships (its entry points in group ``i2i``)."""

    try:
        points = metadata.distribution("i2i-translate").entry_points
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return set()
    return {ep.value.split(".")[0] for ep in points if ep.group == "i2i"}


def reference_markdown(host: Any = None) -> str:
    """The whole configuration reference as Markdown, for the built-in methods of ``host``."""

    host = host if host is not None else PluginHost()
    out = [
        "# Configuration reference",
        "",
        "<!-- generated by `python -m i2i.config.docs > docs/config.md`; tests/test_config_docs.py checks it -->",
        "",
        "A run config has a `[method]` table (`name` plus the method's own keys), `[data]`, `[train]`",
        "and an optional top-level `out`. `i2i config show --method NAME` prints a complete one;",
        "`i2i config check FILE` checks one; any key can be set with `--set table.key=VALUE`",
        "(of several `--set` of one key, the last wins). Setting `train.epochs` or `train.epochs_decay`",
        "without `train.steps` drops a `train.steps` that only the method's defaults set.",
        "A key that is unset (left out) has the meaning given in the default column.",
        "The last column names the option of the reference code",
        "(junyanz/pytorch-CycleGAN-and-pix2pix, yunjey/stargan) a key corresponds to;",
        "method keys keep the reference's own names.",
        "",
        "## `[train]`",
        "",
        *_rows("train", TrainConfig),
        "",
        "## `[data]`",
        "",
        *_rows("data", DataConfig),
    ]
    registry = host.registry
    builtin = _builtin_packages()
    for name in registry.names("method"):
        spec = registry.get("method", name)
        if spec.config.__module__.split(".")[0] not in builtin:
            continue  # a third-party plugin documents its own keys
        out += ["", f"## `[method]` of `{name}`", "", *_rows("method", spec.config, method=True)]
    flags = sorted((ref, target) for ref, target in REFERENCE_OPTIONS.items())
    out += ["", "## Reference options", "", "| reference option | i2i |", "|---|---|"]
    out += [f"| `{ref}` | `{target}` |" for ref, target in flags]
    return "\n".join(out) + "\n"


def main() -> None:  # pragma: no cover - the test calls reference_markdown
    sys.stdout.write(reference_markdown())


if __name__ == "__main__":  # pragma: no cover
    main()
