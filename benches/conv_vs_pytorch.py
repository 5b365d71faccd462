#!/usr/bin/env python3
"""Convolution speed of shaped against PyTorch CPU (2 threads), in one run.

    pip install torch && python3 benches/conv_vs_pytorch.py [--rounds 5] [--reps 50]

Each round runs the shaped timing binary (`cargo bench --bench conv -- --timings REPS`, one
process, a median over REPS calls per workload) and then PyTorch on the same workloads in
this process, so both sides see the same machine load; the ratio of the medians over rounds is
printed per workload (below 1.0: shaped is faster).
"""
import argparse
import json
import statistics
import subprocess
import time

import torch

WORKLOADS = {
    # name: (N, C, H, W, K, HF, WF, S, P)
    "conv_small": (8, 3, 32, 32, 16, 3, 3, 1, 1),
    "conv_stride2": (32, 16, 32, 32, 32, 3, 3, 2, 1),
    "conv_lenet": (64, 1, 28, 28, 6, 5, 5, 1, 0),
}


def median_seconds(f, reps):
    for _ in range(3):
        f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_timings(reps):
    out = {}
    for name, (n, c, h, w, k, hf, wf, s, p) in WORKLOADS.items():
        g = torch.Generator().manual_seed(0)
        x = torch.rand(n, c, h, w, generator=g) - 0.5
        wt = torch.rand(k, c, hf, wf, generator=g) - 0.5
        b = torch.rand(k, generator=g) - 0.5
        xg, wg, bg = (t.clone().requires_grad_(True) for t in (x, wt, b))
        ho, wo = (h + 2 * p - hf) // s + 1, (w + 2 * p - wf) // s + 1
        dy = torch.rand(n, k, ho, wo, generator=g) - 0.5

        def forward():
            with torch.no_grad():
                torch.nn.functional.conv2d(x, wt, b, stride=s, padding=p)

        def forward_backward():
            xg.grad = wg.grad = bg.grad = None
            y = torch.nn.functional.conv2d(xg, wg, bg, stride=s, padding=p)
            y.backward(dy)

        out[name] = {
            "forward": median_seconds(forward, reps),
            "forward_backward": median_seconds(forward_backward, reps),
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(2)
    subprocess.run(["cargo", "bench", "--bench", "conv", "--no-run"], check=True,
                   stderr=subprocess.DEVNULL)
    samples = {name: {"forward": ([], []), "forward_backward": ([], [])} for name in WORKLOADS}
    for r in range(args.rounds):
        shaped = json.loads(subprocess.run(
            ["cargo", "bench", "-q", "--bench", "conv", "--", "--timings", str(args.reps)],
            check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        ref = torch_timings(args.reps)
        for name in WORKLOADS:
            for kind in ("forward", "forward_backward"):
                samples[name][kind][0].append(shaped[name][kind])
                samples[name][kind][1].append(ref[name][kind])
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"medians over {args.rounds} rounds of {args.reps} calls")
    print(f"{'workload':<14} {'pass':<17} {'shaped ms':>10} {'torch ms':>10} {'ratio':>7}")
    for name in WORKLOADS:
        for kind in ("forward", "forward_backward"):
            a, b = (statistics.median(v) * 1e3 for v in samples[name][kind])
            print(f"{name:<14} {kind:<17} {a:>10.3f} {b:>10.3f} {a / b:>7.2f}")


if __name__ == "__main__":
    main()
