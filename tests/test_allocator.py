"""``train.keep_freed_memory``: glibc malloc keeps what a step frees, and i2i sets it where it owns the work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from eval_support import make_domains

import i2i
from i2i.inference import translator as translator_module
from i2i.inference.translator import load_checkpoint
from i2i.train import trainer as trainer_module
from i2i.train.trainer import Trainer

# Allocates and frees a 48 MiB tensor (above glibc's largest adaptive mmap threshold, 32 MiB;
# below i2i's 64 MiB) as a step does its feature maps, and reports how much of it left the
# process on the last free and how many page faults five more rounds took. (The first rounds
# under kept memory grow the heap until a freed block fits torch's aligned request: warm-up.)
_PROBE = """
import json, resource, sys
import torch
from i2i.allocator import keep_freed_memory

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

applied = keep_freed_memory() if sys.argv[1] == "keep" else False
for _ in range(12):
    x = torch.ones(12 << 20)  # 48 MiB of fp32
    del x
x = torch.ones(12 << 20)
held = rss_kib()
del x
returned = held - rss_kib()
before = faults()
for _ in range(5):
    x = torch.ones(12 << 20)
    del x
print(json.dumps({"applied": applied, "returned_mib": returned / 1024, "faults": faults() - before}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux-only")
def test_kept_memory_is_reused_without_page_faults():
    released, kept = _probe("release"), _probe("keep")
    assert kept["applied"] is True
    assert released["returned_mib"] > 40  # default malloc: the block went back to the kernel ...
    assert released["faults"] > 5 * 10_000  # ... and its 12288 pages fault in again every round
    assert kept["returned_mib"] < 4  # kept: the pages stay in the process
    assert kept["faults"] < released["faults"] / 10


def _run(tmp_path, name: str, **train) -> Trainer:
    data = make_domains(tmp_path / "data", ("a", "b"), n_train=2, n_test=1, size=32)
    overrides = {
        "data.root": str(data),
        "data.image_size": 32,
        "data.load_size": 32,
        "data.num_workers": 0,
        "method.image_size": 32,
        "method.g_conv_dim": 8,
        "method.d_conv_dim": 8,
        "method.g_repeat_num": 1,
        "train.steps": 1,
        "train.batch_size": 2,
        "train.device": "cpu",
        "train.eval_at_end": False,
        "train.sample_every": 100,
        **{f"train.{k}": v for k, v in train.items()},
    }
    cfg = i2i.load_config(method="stargan", overrides=overrides)
    return Trainer(cfg, out_dir=tmp_path / name, progress=False)


def test_cpu_training_and_translation_keep_freed_memory_unless_switched_off(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(trainer_module, "keep_freed_memory", lambda: calls.append("train"))
    monkeypatch.setattr(translator_module, "keep_freed_memory", lambda: calls.append("translate"))
    _run(tmp_path, "on").fit()
    assert calls == ["train"]
    _run(tmp_path, "off", keep_freed_memory=False).fit()
    assert calls == ["train"]  # switched off: malloc left as it was
    load_checkpoint(tmp_path / "on" / "last.pt")
    assert calls == ["train", "translate"]
