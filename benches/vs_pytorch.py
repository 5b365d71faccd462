#!/usr/bin/env python3
"""Speed of shaped against PyTorch CPU (f32) on every benchmark workload, in one run.

    pip install torch numpy
    python3 benches/vs_pytorch.py [--rounds 7] [--reps 50] [--threads 2] [--only a,b]

The shaped side is `benches/vs_pytorch.rs`, built once (`cargo bench --bench vs_pytorch
--no-run`) and run directly with `--timings REPS`. Each round runs that binary, then PyTorch on
the same workloads in this process, then a 1024³ matrix product and a copy of a 256 × 4096
tensor in PyTorch, so both sides see the same machine load. The binary also times the same
1024³ product on the gemm crate it calls, directly: the GEMM peak the affine and convolution
rows are measured against (shaped's and PyTorch's), beside PyTorch's matmul. Each side reports
per workload and pass a median over REPS samples; a sample is the mean of enough consecutive
calls to last about 20 µs, by the same rule on both sides.

Both sides train as a user's loop does: shaped keeps its step buffers and gradients across
calls; PyTorch runs forward under `torch.no_grad()`, and forward+backward with `x` and the
parameters requiring grad, their `.grad` set to None before each call, then `y.backward(dy)`.
`--threads` sets PyTorch's thread count and SHAPED_NUM_THREADS for the shaped binary; `--only`
keeps the workloads named (comma-separated), for a quick look at one of them.

The output is a markdown table: per workload and pass the medians over rounds, and the median
over rounds of each round's ratio shaped / PyTorch with its range (below 1.0: shaped is faster).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

# name: (kind, dims); the shaped side is `benches/vs_pytorch.rs`.
WORKLOADS = {
    "affine_1x4_3": ("affine", (1, 4, 3)),
    "affine_32x64_32": ("affine", (32, 64, 32)),
    "affine_relu_64x784_256": ("affine_relu", (64, 784, 256)),
    "affine_256x1024_1024": ("affine", (256, 1024, 1024)),
    # (N, C, H, W, K, HF, WF, S, P)
    "conv_small": ("conv", (8, 3, 32, 32, 16, 3, 3, 1, 1)),
    "conv_stride2": ("conv", (32, 16, 32, 32, 32, 3, 3, 2, 1)),
    "conv_lenet": ("conv", (64, 1, 28, 28, 6, 5, 5, 1, 0)),
    "relu_256x4096": ("relu", (256, 4096)),
    # The same workloads through shaped's stateless calls (`forward`, `backward` returning new
    # tensors each call); PyTorch has one API, measured the same way as above.
    "relu_256x4096_stateless": ("relu", (256, 4096)),
    "affine_256x1024_1024_stateless": ("affine", (256, 1024, 1024)),
    "conv_stride2_stateless": ("conv", (32, 16, 32, 32, 32, 3, 3, 2, 1)),
    "affine_1x4_3_stateless": ("affine", (1, 4, 3)),
    "affine_32x64_32_stateless": ("affine", (32, 64, 32)),
    "affine_relu_64x784_256_stateless": ("affine_relu", (64, 784, 256)),
    "conv_small_stateless": ("conv", (8, 3, 32, 32, 16, 3, 3, 1, 1)),
    "conv_lenet_stateless": ("conv", (64, 1, 28, 28, 6, 5, 5, 1, 0)),
    # Whole training steps: "forward" is the model's forward pass (PyTorch's in train mode
    # under no_grad, as shaped's forward_train), "forward+backward" a step (forward,
    # cross-entropy, backward, Adam). (model, batch)
    "step_lenet5_b64": ("step", ("lenet5", 64)),
    "step_digits_cnn_b32": ("step", ("digits_cnn", 32)),
    "step_resnet_b32": ("step", ("resnet", 32)),
}
PASSES = ("forward", "forward_backward")
# As `MIN_SAMPLE_SECONDS` in benches/vs_pytorch.rs.
MIN_SAMPLE_SECONDS = 20e-6
GEMM_SIDE = 1024


def median_seconds(f, reps):
    """As `median_seconds` in benches/vs_pytorch.rs: three warm-up calls choose how many
    calls a sample takes; the median over `reps` samples of the time of one call."""
    warm = []
    for _ in range(3):
        t = time.perf_counter()
        f()
        warm.append(time.perf_counter() - t)
    calls = max(1, int(-(-MIN_SAMPLE_SECONDS // max(statistics.median(warm), 1e-9))))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        times.append((time.perf_counter() - t) / calls)
    return statistics.median(times)


def setup(kind, dims, g):
    """Returns (forward(x, params), x, params, dy) for one workload, seeded by `g`."""

    def rand(*shape):
        return torch.rand(*shape, generator=g) - 0.5

    if kind in ("affine", "affine_relu"):
        n, di, do = dims
        x, params, dy = rand(n, di), [rand(do, di), rand(do)], rand(n, do)
        if kind == "affine":
            return (lambda x, p: F.linear(x, *p)), x, params, dy
        return (lambda x, p: F.relu(F.linear(x, *p))), x, params, dy
    if kind == "conv":
        n, c, h, w, k, hf, wf, s, p = dims
        ho, wo = (h + 2 * p - hf) // s + 1, (w + 2 * p - wf) // s + 1
        x, params, dy = rand(n, c, h, w), [rand(k, c, hf, wf), rand(k)], rand(n, k, ho, wo)
        return (lambda x, ps: F.conv2d(x, *ps, stride=s, padding=p)), x, params, dy
    assert kind == "relu"
    return (lambda x, p: F.relu(x)), rand(*dims), [], rand(*dims)


def step_model(name):
    """The whole-step models, as benches/vs_pytorch.rs defines them: (model, input shape)."""
    nn = torch.nn
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        ), (1, 28, 28)
    if name == "resnet":
        from resnet_vs_pytorch import resnet  # the twin of examples/resnet.rs
        return resnet(), (1, 8, 8)
    assert name == "digits_cnn"
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, 10),
    ), (1, 8, 8)


def step_timings(model_name, batch, reps, g):
    """Forward alone (no_grad), and a step: zero_grad, forward, cross-entropy, backward,
    Adam, as a PyTorch training loop runs it."""
    torch.manual_seed(1)
    model, shape = step_model(model_name)
    x = torch.rand(batch, *shape, generator=g) - 0.5
    labels = torch.tensor([(i * 7 + 3) % 10 for i in range(batch)])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward():
        with torch.no_grad():
            model(x)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        opt.step()

    return {"forward": median_seconds(forward, reps),
            "forward_backward": median_seconds(step, reps)}


def torch_timings(reps, names):
    out = {}
    for name in names:
        kind, dims = WORKLOADS[name]
        if kind == "step":
            out[name] = step_timings(*dims, reps, torch.Generator().manual_seed(0))
            continue
        fn, x, params, dy = setup(kind, dims, torch.Generator().manual_seed(0))
        xg = x.clone().requires_grad_(True)
        pg = [p.clone().requires_grad_(True) for p in params]

        def forward():
            with torch.no_grad():
                fn(x, params)

        def forward_backward():
            for t in [xg, *pg]:
                t.grad = None
            fn(xg, pg).backward(dy)

        out[name] = {
            "forward": median_seconds(forward, reps),
            "forward_backward": median_seconds(forward_backward, reps),
        }
    return out


def gemm_seconds(reps):
    g = torch.Generator().manual_seed(1)
    a = torch.rand(GEMM_SIDE, GEMM_SIDE, generator=g)
    b = torch.rand(GEMM_SIDE, GEMM_SIDE, generator=g)
    out = torch.empty(GEMM_SIDE, GEMM_SIDE)
    return median_seconds(lambda: torch.mm(a, b, out=out), reps)


def copy_seconds(reps):
    """PyTorch copying the ReLU rows' 256 × 4096 input into a kept tensor: PyTorch's own speed
    on a memory-bound pass of that size, beside which the ReLU rows are read."""
    x = torch.rand(256, 4096, generator=torch.Generator().manual_seed(1))
    out = torch.empty_like(x)
    return median_seconds(lambda: out.copy_(x), reps)


def build():
    """Builds the timing binary once and returns its path."""
    done = subprocess.run(
        ["cargo", "bench", "--bench", "vs_pytorch", "--no-run", "--message-format=json"],
        capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"cargo bench --no-run failed:\n{done.stderr}")
    for line in done.stdout.splitlines():
        msg = json.loads(line)
        if (msg.get("reason") == "compiler-artifact" and msg.get("executable")
                and msg["target"]["name"] == "vs_pytorch"):
            return msg["executable"]
    raise SystemExit("cargo bench --no-run named no vs_pytorch executable")


def cpu_model():
    """The CPU as /proc/cpuinfo names it, with what a ratio depends on: the vendor's family and
    model (a virtual machine's model name is often just "AMD EPYC"), AVX-512, and whether it is
    a virtual machine."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or "unknown CPU"
    if "cpu family" not in info:
        return name
    flags = info.get("flags", "").split()
    extra = [f"{info.get('vendor_id', '?')} family {info['cpu family']} model {info.get('model', '?')}"]
    extra.append("AVX-512" if "avx512f" in flags else "no AVX-512")
    if "hypervisor" in flags:
        extra.append("virtual machine")
    return f"{name} ({', '.join(extra)})"


def fmt_time(s):
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    return f"{s * 1e6:.2f} µs" if s < 1e-3 else f"{s * 1e3:.3f} ms"


def fmt_ratio(r):
    return f"{r:.2g}" if r < 0.1 else f"{r:.2f}"


def flops(name):
    """FLOP of the matrix products of a workload's passes (bias, ReLU and the lowering not
    counted), or None for a workload that is not one: affine, forward X·Wᵀ, backward dY·W and
    dYᵀ·X; convolution, forward 2·N·K·C·HF·WF·HO·WO (a multiply-add is 2 FLOP), backward dX
    and dW as many each (the benchmark asks for dX)."""
    kind, dims = WORKLOADS[name]
    if kind in ("affine", "affine_relu"):
        n, di, do = dims
        forward = 2 * n * di * do
    elif kind == "conv":
        n, c, h, w, k, hf, wf, s, p = dims
        ho, wo = (h + 2 * p - hf) // s + 1, (w + 2 * p - wf) // s + 1
        forward = 2 * n * k * c * hf * wf * ho * wo
    else:
        return None
    return {"forward": forward, "forward_backward": 3 * forward}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=",".join(WORKLOADS),
                    help="comma-separated workloads to measure (default: all)")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    torch.set_num_threads(args.threads)
    env = dict(os.environ, SHAPED_NUM_THREADS=str(args.threads))
    binary = build()

    shaped = {name: {p: [] for p in PASSES} for name in names}
    ref = {name: {p: [] for p in PASSES} for name in names}
    gemm, crate_gemm, copies = [], [], []
    for r in range(args.rounds):
        line = subprocess.run([binary, "--timings", str(args.reps), "--only", ",".join(names),
                               "--gemm-peak", str(GEMM_SIDE)],
                              env=env, check=True, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1]
        s, t = json.loads(line), torch_timings(args.reps, names)
        for name in names:
            for p in PASSES:
                shaped[name][p].append(s[name][p])
                ref[name][p].append(t[name][p])
        gemm.append(gemm_seconds(args.reps))
        copies.append(copy_seconds(args.reps))
        crate_gemm.append(s["gemm_crate_peak"])
        print(f"round {r + 1}/{args.rounds} done", flush=True)

    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(f"\n{cpu_model()}, {cores} cores ({usable} usable); {rustc}; torch {torch.__version__}; "
          f"{args.threads} thread(s) on both sides; system allocator; "
          f"medians over {args.rounds} rounds of {args.reps} samples\n")
    print("| workload | pass | shaped | PyTorch | shaped / PyTorch | range over rounds |")
    print("|---|---|---:|---:|---:|---|")
    for name in names:
        for p in PASSES:
            a, b = shaped[name][p], ref[name][p]
            ratios = [x / y for x, y in zip(a, b)]
            print(f"| {name} | {p.replace('_', '+')} | {fmt_time(statistics.median(a))} "
                  f"| {fmt_time(statistics.median(b))} | {fmt_ratio(statistics.median(ratios))}× "
                  f"| {fmt_ratio(min(ratios))}–{fmt_ratio(max(ratios))} |")

    if "relu_256x4096" in names:
        copy = statistics.median(copies)
        relu = statistics.median(shaped["relu_256x4096"]["forward"])
        print(f"\nMemory-bound reference: PyTorch copying a 256 × 4096 f32 tensor into a kept one "
              f"{fmt_time(copy)} (range over rounds {fmt_time(min(copies))}–"
              f"{fmt_time(max(copies))}); shaped's ReLU forward on it {fmt_time(relu)}, "
              f"{fmt_ratio(relu / copy)}× the copy.")

    def gflops(seconds):
        rates = [2 * GEMM_SIDE**3 / t / 1e9 for t in seconds]
        return statistics.median(rates), min(rates), max(rates)

    peak, lo, hi = gflops(crate_gemm)
    torch_peak, tlo, thi = gflops(gemm)
    print(f"\nGEMM peak references, {GEMM_SIDE}³ f32 product, {args.threads} thread(s): the gemm "
          f"crate's own (called directly, rows split over the threads) {peak:.0f} GFLOP/s "
          f"(range over rounds {lo:.0f}–{hi:.0f}); PyTorch's matmul {torch_peak:.0f} GFLOP/s "
          f"({tlo:.0f}–{thi:.0f}). The products of the affine and convolution workloads (their "
          f"FLOP over the pass's median time, lowering and bias included in the time), on both "
          f"sides, as a share of each:\n")
    print("| workload | pass | shaped GFLOP/s | % of gemm crate peak | % of PyTorch matmul "
          "| PyTorch GFLOP/s | PyTorch, % of gemm crate peak |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in names:
        f = flops(name)
        if f is None:
            continue
        for p in PASSES:
            gf = f[p] / statistics.median(shaped[name][p]) / 1e9
            tf = f[p] / statistics.median(ref[name][p]) / 1e9
            print(f"| {name} | {p.replace('_', '+')} | {gf:.1f} | {100 * gf / peak:.0f} % "
                  f"| {100 * gf / torch_peak:.0f} % | {tf:.1f} | {100 * tf / peak:.0f} % |")


if __name__ == "__main__":
    main()
