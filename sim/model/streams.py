"""Random streams: one root seed, an explicit spawn key per replicate, phase and purpose.

A replicate's streams never depend on how many replicates, splits or workers there
are; each purpose has its own stream, so (for instance) the i-th paid customer of
replicate k gets the same traits at every split even when arrival counts differ
(common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PURPOSES = (
    "paid_times",
    "paid_traits",
    "organic_times",
    "organic_traits",
    "referral_times",
    "referral_traits",
    "orders",
    "churn",
    "base_traits",
    "scheduled_traits",  # appended last: earlier purposes keep their spawn keys
)
MAIN, WARMUP = 0, 1


@dataclass(frozen=True)
class ReplicateSeeds:
    """Seeds of replicate ``replicate`` under ``root_seed``."""

    root_seed: int
    replicate: int

    def seed_sequence(self, phase: int, purpose: str) -> np.random.SeedSequence:
        """SeedSequence with spawn key (replicate, phase, purpose index)."""
        return np.random.SeedSequence(
            self.root_seed, spawn_key=(self.replicate, phase, PURPOSES.index(purpose))
        )

    def generators(self, phase: int = MAIN) -> dict[str, np.random.Generator]:
        """Fresh generators, one per purpose, for the main period or the warm-up."""
        return {
            p: np.random.Generator(np.random.PCG64(self.seed_sequence(phase, p))) for p in PURPOSES
        }


class ReusableStreams:
    """The generators of one replicate and phase, rewound to their start for each run.

    Rewinding (restoring each bit generator's saved state) gives exactly the draws of
    fresh generators from :meth:`ReplicateSeeds.generators`, without re-seeding.
    """

    def __init__(self, seeds: ReplicateSeeds, phase: int):
        self._generators = seeds.generators(phase)
        self._states = {p: g.bit_generator.state for p, g in self._generators.items()}

    def fresh(self) -> dict[str, np.random.Generator]:
        """The generators, each back at the start of its stream."""
        for purpose, generator in self._generators.items():
            generator.bit_generator.state = self._states[purpose]
        return self._generators
