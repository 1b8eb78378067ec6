"""clovaai/stargan-v2's network shapes and parameter counts, derived by hand from its ``core/model.py``.

Independent of the plugin's code: the key names, module indices and shapes follow the reference's
constructors (``Generator``, ``MappingNetwork``, ``StyleEncoder``, ``Discriminator``), so the tests
can check that i2i's networks are those and that a reference checkpoint imports.
"""

from __future__ import annotations

import math

Shapes = dict[str, tuple[int, ...]]


def _conv(prefix: str, cin: int, cout: int, k: int, bias: bool = True) -> Shapes:
    out: Shapes = {f"{prefix}.weight": (cout, cin, k, k)}
    if bias:
        out[f"{prefix}.bias"] = (cout,)
    return out


def _linear(prefix: str, cin: int, cout: int) -> Shapes:
    return {f"{prefix}.weight": (cout, cin), f"{prefix}.bias": (cout,)}


def _resblk(prefix: str, cin: int, cout: int, normalize: bool) -> Shapes:
    out = {**_conv(f"{prefix}.conv1", cin, cin, 3), **_conv(f"{prefix}.conv2", cin, cout, 3)}
    if normalize:  # InstanceNorm2d(affine=True) on dim_in, twice
        for norm in ("norm1", "norm2"):
            out |= {f"{prefix}.{norm}.weight": (cin,), f"{prefix}.{norm}.bias": (cin,)}
    if cin != cout:
        out |= _conv(f"{prefix}.conv1x1", cin, cout, 1, bias=False)
    return out


def _adain_resblk(prefix: str, cin: int, cout: int, style_dim: int) -> Shapes:
    out = {**_conv(f"{prefix}.conv1", cin, cout, 3), **_conv(f"{prefix}.conv2", cout, cout, 3)}
    out |= _linear(f"{prefix}.norm1.fc", style_dim, 2 * cin) | _linear(f"{prefix}.norm2.fc", style_dim, 2 * cout)
    if cin != cout:
        out |= _conv(f"{prefix}.conv1x1", cin, cout, 1, bias=False)
    return out


def generator(img_size: int = 256, style_dim: int = 64, w_hpf: float = 0, max_conv_dim: int = 512) -> Shapes:
    dim_in = 2**14 // img_size
    out = _conv("from_rgb", 3, dim_in, 3)
    encode: list[tuple[int, int, bool]] = []
    decode: list[tuple[int, int]] = []
    repeat = int(math.log2(img_size)) - 4 + (1 if w_hpf > 0 else 0)
    d = dim_in
    for _ in range(repeat):
        d_out = min(d * 2, max_conv_dim)
        encode.append((d, d_out, True))
        decode.insert(0, (d_out, d))
        d = d_out
    for _ in range(2):
        encode.append((d, d, True))
        decode.insert(0, (d, d))
    for i, (cin, cout, norm) in enumerate(encode):
        out |= _resblk(f"encode.{i}", cin, cout, norm)
    for i, (cin, cout) in enumerate(decode):
        out |= _adain_resblk(f"decode.{i}", cin, cout, style_dim)
    out |= {"to_rgb.0.weight": (dim_in,), "to_rgb.0.bias": (dim_in,)} | _conv("to_rgb.2", dim_in, 3, 1)
    return out


def mapping_network(latent_dim: int = 16, style_dim: int = 64, num_domains: int = 2) -> Shapes:
    out = _linear("shared.0", latent_dim, 512)
    for i in (2, 4, 6):
        out |= _linear(f"shared.{i}", 512, 512)
    for d in range(num_domains):
        for i in (0, 2, 4):
            out |= _linear(f"unshared.{d}.{i}", 512, 512)
        out |= _linear(f"unshared.{d}.6", 512, style_dim)
    return out


def _trunk(prefix: str, img_size: int, max_conv_dim: int = 512) -> tuple[Shapes, int, int]:
    dim_in = 2**14 // img_size
    out = _conv(f"{prefix}.0", 3, dim_in, 3)
    repeat = int(math.log2(img_size)) - 2
    d = dim_in
    for i in range(repeat):
        d_out = min(d * 2, max_conv_dim)
        out |= _resblk(f"{prefix}.{i + 1}", d, d_out, False)
        d = d_out
    index = repeat + 2  # after the LeakyReLU
    out |= _conv(f"{prefix}.{index}", d, d, 4)
    return out, d, index


def style_encoder(img_size: int = 256, style_dim: int = 64, num_domains: int = 2) -> Shapes:
    out, d, _ = _trunk("shared", img_size)
    for k in range(num_domains):
        out |= _linear(f"unshared.{k}", d, style_dim)
    return out


def discriminator(img_size: int = 256, num_domains: int = 2) -> Shapes:
    out, d, index = _trunk("main", img_size)
    return out | _conv(f"main.{index + 2}", d, num_domains, 1)


def count(shapes: Shapes) -> int:
    return sum(math.prod(s) for s in shapes.values())


def hand_counts(levels: int, num_domains: int) -> dict[str, int]:
    """Parameter counts at 256 px by arithmetic on the layer list (no shapes): ``levels`` generator
    levels (4, or 5 for the face layout), widths 64 doubling to 512."""

    def resblk(cin: int, cout: int, norm: bool) -> int:
        return (
            9 * cin * cin + cin + 9 * cin * cout + cout + (4 * cin if norm else 0) + (cin * cout if cin != cout else 0)
        )

    def adain(cin: int, cout: int) -> int:
        return (
            9 * cin * cout + cout + 9 * cout * cout + cout + 130 * cin + 130 * cout + (cin * cout if cin != cout else 0)
        )

    widths = [64, 128, 256, 512, 512, 512, 512]
    g = 3 * 64 * 9 + 64 + 2 * (resblk(512, 512, True) + adain(512, 512)) + 2 * 64 + 64 * 3 + 3
    g += sum(resblk(a, b, True) + adain(b, a) for a, b in zip(widths[:levels], widths[1 : levels + 1]))
    f = 16 * 512 + 512 + 3 * (512 * 512 + 512) + num_domains * (3 * (512 * 512 + 512) + 512 * 64 + 64)
    trunk = 3 * 64 * 9 + 64 + sum(resblk(a, b, False) for a, b in zip(widths[:-1], widths[1:])) + 512 * 512 * 16 + 512
    return {
        "generator": g,
        "mapping_network": f,
        "style_encoder": trunk + num_domains * (512 * 64 + 64),
        "discriminator": trunk + 512 * num_domains + num_domains,
    }


#: The same numbers, written out: AFHQ (3 domains, w_hpf 0) and CelebA-HQ (2 domains, w_hpf 1).
AFHQ_COUNTS = {
    "generator": 33_892_995,
    "mapping_network": 3_259_072,
    "style_encoder": 20_949_760,
    "discriminator": 20_852_803,
}
CELEBA_HQ_COUNTS = {
    "generator": 43_467_395,
    "mapping_network": 2_438_272,
    "style_encoder": 20_916_928,
    "discriminator": 20_852_290,
}
