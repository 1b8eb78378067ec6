"""StarGAN v2 under ``torchrun --nproc_per_node 2`` on CPU (gloo): every rank ends with the same
networks and the same EMA of G, F and E, the diversity weight follows the global step on
every rank, and a distributed run resumed from its checkpoint equals the straight one.

Each rank draws its own latent codes and in-shard references (as each process of the reference's
multi-GPU setups would), so two ranks do not replay a one-process run; what must hold is that
the gradient averaging keeps the ranks in lockstep and that resume restores every rank's state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from stargan_v2_support import TINY_RUN, make_domains
from train_support import subprocess_env

SETS = {
    **TINY_RUN,
    "data.image_size": 32,
    "data.load_size": 32,
    "method.image_size": 32,
    "train.batch_size": 4,
    "train.eval_at_end": "false",
}

#: Run under torchrun: trains through the library API, then each rank saves what it holds.
WORKER = """
import os, sys, torch, i2i
data, out, steps, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "resume"
sets = [*sys.argv[5:], f"data.root={data}", f"train.steps={steps}"]  # parsed as --set values
cfg = i2i.load_config(method="stargan_v2", overrides=sets)
trainer = i2i.run(cfg, out=out, resume=resume)
state = {"model": trainer.method.state_dict(), "ema": trainer.ema.state_dict(), "step": trainer.step}
torch.save(state, os.path.join(out, f"rank{os.environ['RANK']}_step{steps}.pt"))
"""


def _torchrun(worker: Path, data: Path, out: Path, steps: int, resume: bool) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker)]
    command += [str(data), str(out), str(steps), "resume" if resume else "new"]
    command += [f"{k}={v}" for k, v in SETS.items()]
    done = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-2000:]


def _equal(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        if isinstance(a[key], dict):
            _equal(a[key], b[key], f"{what}.{key}")
        elif isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), f"{what}.{key}"
        else:
            assert a[key] == b[key], f"{what}.{key}"


def test_two_gloo_ranks_stay_in_lockstep_and_resume_exactly(tmp_path: Path) -> None:
    data = make_domains(tmp_path / "data", per_domain=4)
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    straight, split = tmp_path / "straight", tmp_path / "split"
    _torchrun(worker, data, straight, 4, resume=False)
    _torchrun(worker, data, split, 2, resume=False)
    _torchrun(worker, data, split, 4, resume=True)

    ranks = [torch.load(straight / f"rank{r}_step4.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 4 and set(ranks[0]["ema"]) == {"G", "F", "E"}
    _equal(ranks[0], ranks[1], "rank 0 vs rank 1")  # weights and EMA identical on both ranks
    start = torch.load(split / "rank0_step2.pt", weights_only=True)
    moved = [k for k in ranks[0]["model"] if not torch.equal(start["model"][k], ranks[0]["model"][k])]
    assert any(k.startswith(net) for net in ("G.", "F.", "E.", "D.") for k in moved)  # training did something
    assert not torch.equal(start["ema"]["G"]["from_rgb.weight"], ranks[0]["ema"]["G"]["from_rgb.weight"])
    for r in (0, 1):  # the resumed run equals the straight one, on every rank
        _equal(ranks[r], torch.load(split / f"rank{r}_step4.pt", weights_only=True), f"resumed rank {r}")

    ckpt = torch.load(split / "last.pt", weights_only=True)
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2 and ckpt["step"] == 4
    _equal(ckpt["model"], ranks[0]["model"], "checkpoint")
    _equal(ckpt["ema"], ranks[0]["ema"], "checkpoint ema")
    lines = [json.loads(line) for line in (split / "metrics.jsonl").read_text().splitlines()]
    lambdas = [line["losses"]["G/lambda_ds"] for line in lines if "losses" in line]
    assert lambdas == [1.0, 0.75, 0.5, 0.25]  # ds_iter 4, continued across the resume; rank 0 logs once a step
