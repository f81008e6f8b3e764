"""Side-by-side timing on a shared machine: interleaved rounds, foreign-CPU accounting,
a GEMM peak measured in the same run, and peak memory in fresh processes.

Absolute speeds on a 2-core machine drift by ±10–30 % between quiet runs and collapse
when another process wakes up, so every case runs its implementations *in turns*, round
by round (A B C, then C B A, …), and reports the median of the per-round ratios: slow
drift hits both sides of a ratio alike. Each round also records how much CPU time other
processes took on the cores we run on (from ``/proc/stat``); a round where that exceeds
``max_foreign_cores`` is measured again, and a case that never gets a quiet round is
flagged as contended.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = [
    "CpuMeter",
    "Impl",
    "ImplResult",
    "gemm_peak_gflops",
    "measure_peak_memory",
    "run_interleaved",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _busy_seconds(cpus: set[int]) -> float:
    """CPU time (all processes) spent busy on ``cpus`` since boot, from /proc/stat."""
    busy = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                continue
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
            busy += user + nice + system + irq + softirq + steal
    return busy / _CLOCK_TICKS


def _own_seconds() -> float:
    """CPU time of this process (all threads), user + system."""
    times = os.times()
    return times.user + times.system


class CpuMeter:
    """How much CPU *other* processes used on our cores during a block of work.

    ``foreign_cores`` is their CPU time divided by the wall time: 0 on a quiet machine,
    1.0 when another process kept one whole core busy.
    """

    def __init__(self) -> None:
        self.cpus = os.sched_getaffinity(0)

    def __enter__(self) -> CpuMeter:
        self._busy, self._own = _busy_seconds(self.cpus), _own_seconds()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._start
        foreign = (_busy_seconds(self.cpus) - self._busy) - (_own_seconds() - self._own)
        # /proc/stat counts in clock ticks: clamp the rounding noise at zero.
        self.foreign_cores = max(0.0, foreign) / max(self.wall, 1e-9)


def gemm_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best fp32 ``torch.matmul`` rate of two ``size × size`` matrices, in GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)  # warm-up: thread pool, caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


@dataclass
class Impl:
    """One implementation of a case: a unit of work, how much work it is (tokens or
    sentences), and how many calls a round times together (a round should last a
    second or more, so timer and scheduler noise stay small)."""

    call: Callable[[], object]
    work_per_call: float
    calls_per_round: int = 1


@dataclass
class ImplResult:
    """Throughputs of one implementation over the rounds of a case."""

    name: str
    per_round: list[float] = field(default_factory=list)  # work units per second

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)


@dataclass
class CaseTiming:
    """Everything measured for one case: per-implementation rates, ratios, contention."""

    impls: dict[str, ImplResult]
    ratios: dict[str, list[float]]  # "attnkit/peer" -> per-round ratios
    foreign_cores: list[float]  # per accepted round
    rejected_rounds: int
    contended: bool


def _timed_rate(call: Callable[[], object], calls: int, work_per_call: float) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return calls * work_per_call / (time.perf_counter() - start)


def run_interleaved(
    impls: dict[str, Impl],
    *,
    rounds: int,
    warmup_calls: int,
    max_foreign_cores: float,
    max_retries: int = 3,
    reference: str = "attnkit",
) -> CaseTiming:
    """Time every implementation round by round, alternating the order.

    Args:
        impls: name → implementation; the first is timed first in even rounds.
        rounds: accepted rounds to collect per implementation.
        warmup_calls: untimed calls of each implementation before the first round.
        max_foreign_cores: a round where other processes used more CPU than this
            (in cores) is discarded and run again, at most ``max_retries`` times in a row.
        reference: the implementation the ratios are taken against (numerator).
    """
    for impl in impls.values():
        for _ in range(warmup_calls):
            impl.call()
    results = {name: ImplResult(name) for name in impls}
    ratios: dict[str, list[float]] = {
        f"{reference}/{name}": [] for name in impls if name != reference
    }
    foreign, rejected, contended = [], 0, False
    names = list(impls)
    accepted, retries = 0, 0
    while accepted < rounds:
        order = names if accepted % 2 == 0 else names[::-1]
        rates = {}
        with CpuMeter() as meter:
            for name in order:
                impl = impls[name]
                rates[name] = _timed_rate(impl.call, impl.calls_per_round, impl.work_per_call)
        if meter.foreign_cores > max_foreign_cores and retries < max_retries:
            rejected, retries = rejected + 1, retries + 1
            continue
        contended |= meter.foreign_cores > max_foreign_cores
        retries = 0
        accepted += 1
        foreign.append(meter.foreign_cores)
        for name, rate in rates.items():
            results[name].per_round.append(rate)
            if name != reference:
                ratios[f"{reference}/{name}"].append(rates[reference] / rate)
    return CaseTiming(results, ratios, foreign, rejected, contended)


def _vm_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def peak_rss_growth_mib(run: Callable[[], object], calls: int) -> float:
    """Highest resident memory during ``calls`` calls of ``run``, above the level before
    them, in MiB (Linux: resets the high-water mark through /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current RSS
    before = _vm_kib("VmRSS")
    for _ in range(calls):
        run()
    return (_vm_kib("VmHWM") - before) / 1024


def measure_peak_memory(case: str, impl: str, threads: int) -> float | None:
    """Peak memory of one implementation of a case, in a fresh Python process so that
    neither side inherits the other's allocator caches. ``None`` if the child failed."""
    cmd = [sys.executable, "-m", "benchmarks", "--memory-child", case, impl]
    cmd += ["--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"]
