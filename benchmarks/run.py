"""i2i's benchmark suite: train and translate throughput, memory and FLOPs, fp32 vs the fast path.

    python benchmarks/run.py --quick                      # CPU, reduced sizes (says which)
    python benchmarks/run.py                              # CPU, the papers' settings
    python benchmarks/run.py --device cuda                # CUDA: fp32, auto, bf16, fp16
    python benchmarks/run.py --smoke                      # seconds: the test's tiny mode

For every method at its paper setting (CycleGAN and pix2pix 256 px batch 1, StarGAN 128 px
batch 16, Augmented CycleGAN 64 px batch 32, StarGAN v2 256 px batch 8) and every precision mode (``fp32_nchw``: the
reference; ``fast``: i2i's defaults, ``train.precision = auto`` + channels_last; optionally
``fast_compile``), it reports train iterations/s and images/s, translate images/s, peak
memory, FLOPs per iteration and achieved GFLOP/s, plus the machine's measured matmul and
convolution peaks in fp32 and bf16 and the data pipeline's throughput.

How it stays honest on a shared, noisy machine:

* each mode runs in its own fresh worker process (so peak memory - ``VmHWM`` after a reset
  on CPU, ``torch.cuda.max_memory_allocated`` on CUDA - is that configuration's alone), and
  the parent interleaves the workers' timed repetitions (fp32, fast, fp32, fast, ...) so
  both see the same load; ratios use the medians of those repetitions;
* the workers build and step the method exactly as the trainer does (:mod:`harness`);
* the load average is recorded before and after.

Results go to ``benchmarks/results/<device>[_quick|_smoke].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from machine import machine, measure_peaks  # noqa: E402  (a sibling script module, found through HERE)

#: --quick: sizes that keep the CPU run to minutes (CycleGAN's paper step is ~2 min in fp32
#: on a loaded 2-core CPU). (size, batch, method overrides); pix2pix keeps its paper setting.
QUICK = {
    "cyclegan": (128, 1, {}),
    "pix2pix": (256, 1, {}),
    # d_repeat_num 5: what a 64 px run gets by default (i2i_stargan.config.critic_depth; Method
    # construction, unlike a run config, keeps the class default 6, the 1x1-map trap of #21)
    "stargan": (64, 4, {"image_size": 64, "d_repeat_num": 5}),
    "augcyclegan": (64, 8, {}),
    # the paper's 256 px step is minutes here; 64 px with the demo's narrow network (width 16 up to 128)
    "stargan_v2": (64, 8, {"image_size": 64, "dim_in": 16, "max_conv_dim": 128}),
}


# -- the worker: one process per (method, mode) ---------------------------------------------
def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def worker(spec: dict) -> None:
    """Build one configuration, answer timing commands on stdin with JSON lines on stdout."""
    import torch
    from harness import Bench, Mode, Setting, count_flops, steps_per_cycle, tensor_peak_bytes

    out = sys.stdout
    sys.stdout = sys.stderr  # anything the library prints must not corrupt the protocol
    device = torch.device(spec["device"])
    setting = Setting(**spec["setting"])
    mode = Mode(**spec["mode"])
    reset = _reset_peak_rss() if device.type == "cpu" else False
    base_rss = _rss_kib("VmRSS")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_cuda = torch.cuda.memory_allocated(device)
    bench = Bench(setting, mode, device)
    # warm-up (optimizer state, allocator, oneDNN caches, compilation), FLOPs counted meanwhile;
    # it covers every kind of step (StarGAN's generator step comes every n_critic), and
    # compiled modes run each kind twice more outside the FLOP counter, which hides compilation
    start = time.perf_counter()
    cycle = steps_per_cycle(bench)
    train_flops = count_flops(lambda: [bench.train_step() for _ in range(cycle)]) // cycle  # per step, a cycle's mean
    # (weight copies, used in low precision only, compile their update at each optimizer's
    # first step outside the counter)
    copies = mode.weight_copies and mode.precision != "fp32"
    extra = 2 * cycle if mode.compile else cycle if copies else 0
    for _ in range(max(spec["warmup"] - cycle, 0) + extra):
        bench.train_step()
    if mode.compile:
        bench.translate()
    bench.sync()
    warmup_s = time.perf_counter() - start
    translate_flops = count_flops(bench.translate)
    ready = {
        "train_flops": train_flops,
        "translate_flops": translate_flops,
        "warmup_s": warmup_s,
        "precision": bench.resolved_precision,
    }
    out.write(json.dumps(ready) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd, *arg = line.split()
        if cmd == "train":  # whole cycles: StarGAN's generator step is one in n_critic
            answer: dict[str, Any] = {"seconds": bench.time(bench.train_step, int(arg[0]) * cycle)}
        elif cmd == "translate":
            answer = {"seconds": bench.time(bench.translate, int(arg[0]))}
        elif cmd == "memory":
            if device.type == "cuda":
                peak = (torch.cuda.max_memory_allocated(device) - base_cuda) / 2**20
                answer = {
                    "peak_mib": peak,
                    "tensor_peak_mib": peak,
                    "how": "torch.cuda.max_memory_allocated - allocated before building",
                }
            else:
                how = "VmHWM (reset by clear_refs) - VmRSS before building" if reset else "VmHWM - VmRSS after imports"
                answer = {"peak_mib": (_rss_kib("VmHWM") - base_rss) / 1024, "how": how}
                # read VmHWM first: the profiled step below is not part of it
                answer["tensor_peak_mib"] = tensor_peak_bytes(bench) / 2**20
        else:
            break
        out.write(json.dumps(answer) + "\n")
        out.flush()


class Worker:
    """The parent's handle on a worker process."""

    def __init__(self, spec: dict, threads: int | None) -> None:
        env = dict(os.environ)
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ready: dict = {}

    def wait_ready(self) -> Worker:
        """Block until the worker has built its method and run its warm-up steps."""
        self.ready = self._read()
        return self

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            error = WorkerKilled if code < 0 else RuntimeError
            raise error(f"benchmark worker exited with code {code} (see stderr above)")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # still building or warming up when another worker died
            self.proc.kill()
            self.proc.wait()


class WorkerKilled(RuntimeError):
    """A worker ended by a signal: on Linux, most often the kernel's out-of-memory killer."""


# -- the parent ------------------------------------------------------------------------------
def bench_method(
    setting: Any, modes: list, device: str, reps: int, steps: int, warmup: int, threads: int | None
) -> dict:
    """Workers for every mode, interleaved timed repetitions, medians and ratios.

    All modes' workers live at once, so that their repetitions can alternate under the same
    load. Where they do not fit in memory together (the kernel kills one: StarGAN v2 at 256 px
    on a 24 GB machine), each mode runs alone, one after another; the result says so
    (``interleaved: false``), and its ratios then include any drift of the machine's speed."""
    try:
        timed = _time_modes(setting, modes, device, reps, steps, warmup, threads)
        interleaved = True
    except WorkerKilled as exc:
        if len(modes) < 2:
            raise
        print(f"note: {setting.label()}: {exc}; timing each mode alone instead (not interleaved)", flush=True)
        timed = {}
        for mode in modes:
            timed.update(_time_modes(setting, [mode], device, reps, steps, warmup, threads))
        interleaved = False
    result: dict[str, Any] = {
        "setting": setting.label(),
        "size": setting.size,
        "batch": setting.batch,
        "interleaved": interleaved,
        "modes": {},
    }
    for name, t in timed.items():
        ready, memory = t["ready"], t["memory"]
        t_train, t_translate = statistics.median(t["train"]), statistics.median(t["translate"])
        flops = ready["train_flops"]
        result["modes"][name] = {
            "precision": ready["precision"],
            "train_it_per_s": 1 / t_train,
            "train_images_per_s": setting.batch / t_train,
            "translate_images_per_s": setting.batch / t_translate,
            "peak_memory_mib": memory["peak_mib"],
            "tensor_peak_mib": memory["tensor_peak_mib"],
            "train_gflop_per_it": flops / 1e9,
            "achieved_gflop_per_s": flops / t_train / 1e9,
            "translate_gflop_per_image": ready["translate_flops"] / setting.batch / 1e9,
            "train_seconds_reps": [round(x, 4) for x in t["train"]],
            "translate_seconds_reps": [round(x, 4) for x in t["translate"]],
            "warmup_seconds": round(ready["warmup_s"], 2),
        }
        result["memory_how"] = memory["how"]
    ref = result["modes"].get("fp32_nchw")
    for name, r in result["modes"].items():
        if ref is not None and name != "fp32_nchw":
            r["train_speedup_vs_fp32"] = r["train_it_per_s"] / ref["train_it_per_s"]
            r["translate_speedup_vs_fp32"] = r["translate_images_per_s"] / ref["translate_images_per_s"]
            r["peak_memory_vs_fp32"] = (
                r["peak_memory_mib"] / ref["peak_memory_mib"] if ref["peak_memory_mib"] > 0 else None
            )
            r["tensor_peak_vs_fp32"] = (
                r["tensor_peak_mib"] / ref["tensor_peak_mib"] if ref["tensor_peak_mib"] > 0 else None
            )
            # paired per-rep ratios (same rep = same load), to show the spread
            r["train_speedup_reps"] = [
                round(a / b, 3) for a, b in zip(timed["fp32_nchw"]["train"], timed[name]["train"])
            ]
    return result


def _time_modes(
    setting: Any, modes: list, device: str, reps: int, steps: int, warmup: int, threads: int | None
) -> dict[str, dict]:
    """One worker per mode, all alive at once, their timed repetitions interleaved: per mode,
    its ready message, train and translate seconds per repetition, and its memory figures."""
    import attrs

    workers = {}
    try:
        for mode in modes:
            spec = {"device": device, "setting": attrs.asdict(setting), "mode": attrs.asdict(mode), "warmup": warmup}
            workers[mode.name] = Worker(spec, threads)  # all build at once; timing starts when all are ready
        for w in workers.values():
            w.wait_ready()
        train: dict[str, list[float]] = {m: [] for m in workers}
        translate: dict[str, list[float]] = {m: [] for m in workers}
        for rep in range(reps):
            order = list(workers) if rep % 2 == 0 else list(reversed(workers))  # no mode always first
            for name in order:
                train[name].append(workers[name].ask(f"train {steps}")["seconds"])
            for name in order:
                translate[name].append(workers[name].ask(f"translate {steps}")["seconds"])
        memory = {name: w.ask("memory") for name, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()
    return {
        name: {"ready": w.ready, "train": train[name], "translate": translate[name], "memory": memory[name]}
        for name, w in workers.items()
    }


def data_pipeline(batch_size: int, batches: int, device: str, workers: int = 2, images: int = 16) -> dict:
    """benchmarks/data_pipeline.py in a subprocess (its own DataLoader workers), result to a temp file."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data.json"
        cmd = [
            sys.executable,
            str(HERE / "data_pipeline.py"),
            "--workers",
            str(workers),
            "--batch-size",
            str(batch_size),
            "--batches",
            str(batches),
            "--images",
            str(images),
            "--warmup",
            "1",
            "--device",
            device,
            "--out",
            str(out),
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def markdown(result: dict) -> str:
    """The README's table of a results file: ``python benchmarks/run.py --markdown FILE``."""
    lines = [
        "| setting | mode | precision | train it/s | train img/s | x fp32 | translate img/s | x fp32 "
        "| tensor peak MiB | x fp32 | RSS peak MiB | x fp32 | GFLOP/it | GFLOP/s | % of conv peak |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in result["methods"]:
        setting = m["setting"] if m.get("interleaved", True) else f"{m['setting']} (modes timed one after another)"
        for name, r in m["modes"].items():

            def x(key: str, r: dict = r) -> str:
                return f"{r[key]:.2f}" if r.get(key) else "1"

            share = f"{100 * r['share_of_conv_peak']:.0f}%" if r.get("share_of_conv_peak") else "-"
            lines.append(
                f"| {setting} | {name} | {r['precision']} | {r['train_it_per_s']:.3g} | {r['train_images_per_s']:.3g} "
                f"| {x('train_speedup_vs_fp32')} | {r['translate_images_per_s']:.3g} | {x('translate_speedup_vs_fp32')} "
                f"| {r.get('tensor_peak_mib', 0):.0f} | {x('tensor_peak_vs_fp32')} "
                f"| {r['peak_memory_mib']:.0f} | {x('peak_memory_vs_fp32')} | {r['train_gflop_per_it']:.1f} "
                f"| {r['achieved_gflop_per_s']:.1f} | {share} |"
            )
    return "\n".join(lines)


def print_table(result: dict) -> None:
    print(
        f"\n{'method / setting':44} {'mode':13} {'prec':5} {'it/s':>8} {'img/s':>8} {'xfp32':>6} "
        f"{'transl img/s':>12} {'xfp32':>6} {'tensorMiB':>9} {'xfp32':>6} {'RSS MiB':>9} {'xfp32':>6} {'GFLOP/it':>9} {'GFLOP/s':>8}"
    )
    for m in result["methods"]:
        for name, r in m["modes"].items():

            def ratio(key: str, r: dict = r) -> str:
                v = r.get(key)
                return f"{v:6.2f}" if v else f"{'':6}"

            print(
                f"{m['setting'][:44]:44} {name:13} {r['precision']:5} {r['train_it_per_s']:8.3f} "
                f"{r['train_images_per_s']:8.3f} {ratio('train_speedup_vs_fp32')} {r['translate_images_per_s']:12.2f} "
                f"{ratio('translate_speedup_vs_fp32')} {r.get('tensor_peak_mib', 0):9.0f} {ratio('tensor_peak_vs_fp32')} "
                f"{r['peak_memory_mib']:9.0f} {ratio('peak_memory_vs_fp32')} "
                f"{r['train_gflop_per_it']:9.1f} {r['achieved_gflop_per_s']:8.1f}"
            )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--methods", nargs="+", default=None, help="default: every method in harness.METHODS")
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and smaller sizes (listed in the output)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny: 32 px, test-size nets, 1 repetition (for tests)")
    parser.add_argument(
        "--compile", action="store_true", help="also time the fast path with torch.compile'd generators"
    )
    parser.add_argument(
        "--without-gemm", action="store_true", help="also time the fast path with train.small_map_gemm = false"
    )
    parser.add_argument(
        "--releasing-memory",
        action="store_true",
        help="also time fp32 and the fast path with train.keep_freed_memory = false (malloc returns freed memory)",
    )
    parser.add_argument(
        "--without-copies",
        action="store_true",
        help="also time the fast path with train.weight_copies = false (autocast casts every weight each step)",
    )
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions per mode (interleaved)")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="train cycles (n_critic steps for StarGAN, else 1 step) / translate calls per repetition",
    )
    parser.add_argument("--no-data", action="store_true", help="skip the data pipeline measurement")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the workers")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, help="print a results file as the README's table and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return {}
    if args.worker:
        worker(json.loads(args.worker))
        return {}
    import torch
    from harness import METHODS, Setting, cpu_modes, cuda_modes, paper_setting, smoke_setting

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    command = "python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]
    )
    methods = args.methods or (["pix2pix"] if args.smoke else list(METHODS))
    cuda = args.device == "cuda"
    kind = "smoke" if args.smoke else "quick" if args.quick else "full"
    reps = args.reps or (1 if args.smoke else 3 if (args.quick and not cuda) else 5)
    steps = args.steps or (1 if (args.smoke or not cuda) else 10)
    warmup = 1 if not cuda else 3
    modes = (
        cuda_modes(args.compile)
        if cuda
        else cpu_modes(args.compile, args.without_gemm, args.releasing_memory, args.without_copies)
    )

    settings, notes = [], []
    for name in methods:
        if args.smoke:
            settings.append(smoke_setting(name))
        elif args.quick and not cuda and name in QUICK:
            paper = paper_setting(name)
            size, batch, overrides = QUICK[name]
            s = Setting(name, size, batch, {**paper.overrides, **overrides})
            if (s.size, s.batch) != (paper.size, paper.batch):
                notes.append(f"{name}: quick uses {s.label()} instead of the paper's {paper.label()}")
            settings.append(s)
        else:
            settings.append(paper_setting(name))
    if args.smoke:
        notes.append(
            "smoke: 32 px, the plugins' test-size networks, batch 2, 1 repetition - checks the script, not speed"
        )
    for note in notes:
        print("note:", note)

    out = args.out or RESULTS / (args.device + ("" if kind == "full" else f"_{kind}") + ".json")
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "command": command,
        "kind": kind,
        "notes": notes,
        "machine": machine(),
        "loadavg_before": load_before,
        "reps": reps,
        "steps_per_rep": steps,  # train: cycles of n_critic steps (StarGAN), each timed step averaged
        "warmup_steps": warmup,
        "ratio_method": "medians of interleaved repetitions of separate worker processes, one per mode",
    }
    started = time.perf_counter()
    result["peaks_gflop_per_s"] = measure_peaks(args.device, 1 if args.smoke else 3, 256 if args.smoke else 1024)
    print("peaks (GFLOP/s):", result["peaks_gflop_per_s"])
    result["methods"] = []
    for setting in settings:
        print(f"benchmarking {setting.label()} ...", flush=True)
        try:
            m = bench_method(setting, modes, args.device, reps, steps, warmup, args.threads)
        except RuntimeError as exc:  # one method failing must not lose the others' numbers
            print(f"error: {setting.label()}: {exc}", file=sys.stderr)
            result.setdefault("errors", []).append(f"{setting.label()}: {exc}")
            continue
        for r in m["modes"].values():
            # the conv forward's peak, and the conv's forward + gradients (what a train step's layers can reach)
            for peak_name in ("conv", "conv_train"):
                peak = result["peaks_gflop_per_s"].get(f"{peak_name}_{r['precision']}")
                r[f"share_of_{peak_name}_peak"] = r["achieved_gflop_per_s"] / peak if peak else None
        result["methods"].append(m)
        _write(out, result)  # partial results survive an interrupted run
    if not args.no_data:
        # the 256-px unpaired pipeline (resize 286, crop 256, flip) against the 256-px settings' step rate
        data = (
            data_pipeline(1, 2, args.device, workers=0, images=2) if args.smoke else data_pipeline(1, 30, args.device)
        )
        sizes = {m["size"] for m in result["methods"]}
        compared = {}
        for m in result["methods"]:
            if m["size"] == 256 or args.smoke:
                fast = max(r["train_images_per_s"] for r in m["modes"].values())
                compared[m["setting"]] = {
                    "train_samples_per_s": fast,
                    "data_over_train": data["samples_per_second"] / fast,
                }
        result["data_pipeline"] = {
            "samples_per_s": data["samples_per_second"],
            "images_per_s": data["images_per_second"],
            "workers": data["workers"],
            "batch_size": data["batch_size"],
            "crop": data["crop"],
            "compared_with": compared,
            "target": "data_over_train >= 10",
            "note": "" if 256 in sizes or args.smoke else "no 256-px setting in this run",
        }
    result["loadavg_after"] = os.getloadavg()
    result["seconds"] = round(time.perf_counter() - started, 1)
    print_table(result)
    if "data_pipeline" in result:
        d = result["data_pipeline"]
        print(
            f"\ndata pipeline: {d['samples_per_s']} samples/s ({d['workers']} workers);",
            ", ".join(
                f"{k}: {v['data_over_train']:.1f}x the fastest train rate" for k, v in d["compared_with"].items()
            ),
        )
    print(f"load average before {load_before[0]:.1f}, after {result['loadavg_after'][0]:.1f}; {result['seconds']} s")
    _write(out, result)
    print("wrote", out)
    return result


if __name__ == "__main__":
    main()
