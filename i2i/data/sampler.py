"""A distributed sampler that resumes mid-epoch without touching the skipped samples.

Semantics of ``torch.utils.data.DistributedSampler`` (pad or drop to a multiple of
``world_size``, rank ``r`` takes every ``world_size``-th index), plus:

* the order depends only on ``(seed, epoch)`` - not on any RNG state - so a resumed run
  sees exactly the same order;
* ``set_start(i)`` makes the next pass begin at this rank's ``i``-th sample: nothing
  before it is decoded;
* each index comes with a token derived from ``(seed, epoch, index)``, which unpaired
  datasets turn into the domain-B partner (the reference draws it with ``random``; a hash
  needs no RNG in the workers and survives resume);
* ``groups`` (the sizes of consecutive index ranges, e.g. the sources of a multi-source
  dataset) makes every ``block`` consecutive indices come from one group, the groups taking
  turns; with ``block = batch_size * world_size`` each rank's every batch comes from one
  group, alternating (StarGAN's training on several datasets). Each group's indices are
  reshuffled whenever they run out, so small groups repeat and every group gets its turn.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
from torch.utils.data import Sampler

_MASK = (1 << 64) - 1


def mix(*values: int) -> int:
    """A 63-bit hash of integers (splitmix64 steps): fast, stable across runs and platforms."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & _MASK)) & _MASK
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        state = z ^ (z >> 31)
    return state >> 1


class ResumableSampler(Sampler):
    """Shuffled (or sequential) indices for one rank; ``len`` is the samples of the next pass.

    ``with_tokens=True`` yields ``(index, token)`` keys (for i2i's datasets); otherwise
    plain indices. ``set_start`` applies to the next pass only.
    """

    def __init__(
        self,
        size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        with_tokens: bool = False,
        groups: tuple[int, ...] = (),
        block: int = 1,
    ) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        if size < 1:
            raise ValueError("cannot sample from an empty dataset")
        self.size, self.shuffle, self.seed = size, shuffle, seed
        self.rank, self.world_size, self.drop_last, self.with_tokens = rank, world_size, drop_last, with_tokens
        if groups and (sum(groups) != size or min(groups) < 1 or block < 1):
            raise ValueError(f"groups {tuple(groups)} must be positive sizes adding up to {size}, block >= 1")
        self.groups, self.block = tuple(groups), block
        self.epoch = 0
        self.start = 0
        if drop_last and size >= world_size:
            self.num_samples = size // world_size
        else:
            self.num_samples = math.ceil(size / world_size)
        self.total_size = self.num_samples * world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_start(self, index: int) -> None:
        """Begin the next pass at this rank's ``index``-th sample (samples, not batches)."""
        if not 0 <= index <= self.num_samples:
            raise ValueError(f"start {index} is outside [0, {self.num_samples}]")
        self.start = index

    def indices(self) -> list[int]:
        """This rank's full index list for the current epoch (before ``start``)."""
        if len(self.groups) > 1:
            order = self._alternating()
        elif self.shuffle:
            generator = torch.Generator().manual_seed(mix(self.seed, self.epoch) & 0x7FFF_FFFF_FFFF_FFFF)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        if self.total_size > len(order):  # pad by repeating, as DistributedSampler does
            order += (order * math.ceil(self.total_size / len(order)))[: self.total_size - len(order)]
        order = order[: self.total_size]
        return order[self.rank : self.total_size : self.world_size]

    def _alternating(self) -> list[int]:
        """``block`` indices of group 0, then of group 1, ... until ``total_size`` indices."""
        offsets = [sum(self.groups[:g]) for g in range(len(self.groups))]
        streams: list[list[int]] = [[] for _ in self.groups]
        cycles = [0] * len(self.groups)
        order: list[int] = []
        turn = 0
        while len(order) < self.total_size:
            g = turn % len(self.groups)
            while len(streams[g]) < self.block:
                n = self.groups[g]
                if self.shuffle:
                    seed = mix(self.seed, self.epoch, g, cycles[g]) & 0x7FFF_FFFF_FFFF_FFFF
                    fresh = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
                else:
                    fresh = list(range(n))
                streams[g] += [offsets[g] + i for i in fresh]
                cycles[g] += 1
            order += streams[g][: self.block]
            del streams[g][: self.block]
            turn += 1
        return order[: self.total_size]

    def __iter__(self) -> Iterator[int | tuple[int, int]]:
        start, self.start = self.start, 0  # consumed now, not at the first next()
        keys = self.indices()[start:]
        if self.with_tokens:
            return iter([(index, mix(self.seed, self.epoch, index)) for index in keys])
        return iter(keys)

    def __len__(self) -> int:
        return self.num_samples - self.start
