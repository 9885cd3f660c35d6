"""Speed and memory of the SimPy reference engine on a scenario (the baseline by default).

Prints, for a few replicates at one split:

- seconds per replicate (warm-up and horizon, timed without instrumentation);
- events per second, counted three ways, each divided by the uninstrumented time:
  SimPy scheduled events (``Environment.step`` calls), process resumptions (one per
  callback those events run: a customer woken by a timer or by the month boundary
  counts once; this is the unit of "bare SimPy with N random processes") and model
  events (arrivals, orders, churns and month-boundary clock redraws, from the outcome);
- memory per live customer: the traced peak of one horizon run (tracemalloc), less
  what was allocated before it, divided by the peak number of live customer processes.

The goal of issue 3 is >= 100k events per second and <= 2 KB per live customer.
``--reference`` also times bare SimPy with 10k processes drawing exponential timers,
to calibrate "events per second" on this machine.

Usage::

    .venv/bin/python bench/bench_simpy.py [SCENARIO] [--replicates 3] [--split 0.6]
        [--seed 1] [--reference] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import tracemalloc
from pathlib import Path

import numpy as np
import simpy

from splitsim.engines import simpy_engine
from splitsim.model.scenario_files import load_scenario
from splitsim.model.streams import MAIN, ReplicateSeeds, ReusableStreams

ROOT = Path(__file__).resolve().parents[1]


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts scheduled events and the callbacks they resume."""

    steps = 0
    resumptions = 0
    live_processes = 0
    peak_live_processes = 0

    def step(self) -> None:
        """Count the next event and its callbacks, then process it."""
        if self._queue:
            event = self._queue[0][3]
            cls = type(self)
            cls.steps += 1
            cls.resumptions += len(event.callbacks or ())
        super().step()

    def process(self, generator):
        """Start a process and track how many are alive at once."""
        cls = type(self)
        cls.live_processes += 1
        cls.peak_live_processes = max(cls.peak_live_processes, cls.live_processes)
        proc = super().process(generator)
        proc.callbacks.append(_process_ended)
        return proc

    @classmethod
    def reset(cls) -> None:
        """Zero the counters."""
        cls.steps = cls.resumptions = cls.live_processes = cls.peak_live_processes = 0


def _process_ended(_event) -> None:
    CountingEnvironment.live_processes -= 1


def model_events(outcome, alive_start: int) -> int:
    """Arrivals, orders, churns and month-boundary clock redraws of one horizon run."""
    arrivals = int(outcome["first_orders"].sum())
    orders = arrivals + int(outcome["repeat_orders"].sum())
    churns = int(outcome["churned_natural"].sum() + outcome["churned_failure"].sum())
    alive = outcome["alive"]
    # customers alive at each month start redraw their clocks at the boundary
    redraws = alive_start + int(alive[:-1].sum())
    return orders + churns + redraws


def run_replicate(scenario, split, seed, replicate):
    """Warm-up and horizon of one replicate; return (warm-up s, horizon s, outcome, base)."""
    seeds = ReplicateSeeds(seed, replicate)
    start = time.perf_counter()
    base = simpy_engine.initial_base(scenario, seeds)
    middle = time.perf_counter()
    outcome = simpy_engine.simulate(scenario, split, base, ReusableStreams(seeds, MAIN))
    return middle - start, time.perf_counter() - middle, outcome, base


def count_events(scenario, split, seed, replicate):
    """SimPy steps and resumptions of one replicate (warm-up and horizon), instrumented."""
    original = simpy_engine.simpy.Environment
    simpy_engine.simpy.Environment = CountingEnvironment
    try:
        CountingEnvironment.reset()
        run_replicate(scenario, split, seed, replicate)
        return CountingEnvironment.steps, CountingEnvironment.resumptions
    finally:
        simpy_engine.simpy.Environment = original


def memory_per_live_customer(scenario, split, seed, replicate):
    """Traced peak bytes of one horizon run per peak live customer process."""
    seeds = ReplicateSeeds(seed, replicate)
    base = simpy_engine.initial_base(scenario, seeds)
    original = simpy_engine.simpy.Environment
    simpy_engine.simpy.Environment = CountingEnvironment
    CountingEnvironment.reset()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        simpy_engine.simulate(scenario, split, base, ReusableStreams(seeds, MAIN))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        simpy_engine.simpy.Environment = original
    # the calendar and the month's arrival processes are not customers
    live = max(1, CountingEnvironment.peak_live_processes - 3)
    return (peak - before) / live, live


def bare_simpy(processes=10_000, until=20.0, seed=1):
    """Resumptions per second of bare SimPy: processes waiting on exponential timers."""
    rng = np.random.default_rng(seed)

    def waiter(env):
        while True:
            yield env.timeout(rng.exponential(1.0))

    env = CountingEnvironment()
    CountingEnvironment.reset()
    for _ in range(processes):
        env.process(waiter(env))
    env.run(until=until)
    resumptions = CountingEnvironment.resumptions
    env = simpy.Environment()
    for _ in range(processes):
        env.process(waiter(env))
    start = time.perf_counter()
    env.run(until=until)
    return resumptions / (time.perf_counter() - start)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "baseline.toml"))
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--split", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference", action="store_true", help="also time bare SimPy")
    parser.add_argument("--profile", action="store_true", help="cProfile one horizon run")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario)
    split = scenario.strategy.retention_share if args.split is None else args.split
    print(f"scenario {scenario.name}, split {split}, seed {args.seed}, engine simpy")

    warmup = horizon = 0.0
    steps = resumptions = modelled = customers = 0
    for k in range(args.replicates):
        warmup_s, horizon_s, outcome, base = run_replicate(scenario, split, args.seed, k)
        warmup += warmup_s
        horizon += horizon_s
        s, r = count_events(scenario, split, args.seed, k)
        steps += s
        resumptions += r
        modelled += model_events(outcome, int(base.alive.sum()))
        customers += int(outcome["customers_served"])
    n, total = args.replicates, warmup + horizon
    print(
        f"seconds per replicate: {total / n:.2f} "
        f"(warm-up {warmup / n:.2f}, horizon {horizon / n:.2f})"
    )
    print(f"customers served per replicate (horizon): {customers / n:,.0f}")
    print(f"SimPy scheduled events per second: {steps / total:,.0f}")
    print(f"process resumptions per second:    {resumptions / total:,.0f}  (goal >= 100,000)")
    print(f"model events per second (horizon): {modelled / horizon:,.0f}")
    per_customer, live = memory_per_live_customer(scenario, split, args.seed, 0)
    print(
        f"memory per live customer: {per_customer / 1024:.2f} KB "
        f"(peak {live:,} live customer processes; goal <= 2 KB)"
    )
    if args.reference:
        print(f"bare SimPy, 10k exponential timers: {bare_simpy():,.0f} resumptions per second")
    if args.profile:
        seeds = ReplicateSeeds(args.seed, 0)
        base = simpy_engine.initial_base(scenario, seeds)
        profiler = cProfile.Profile()
        profiler.runcall(simpy_engine.simulate, scenario, split, base, ReusableStreams(seeds, MAIN))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
