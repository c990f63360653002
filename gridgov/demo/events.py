"""Demo events in every state, fired through the same workflow service the consoles use."""
from __future__ import annotations

import random


def generate(rng: random.Random, count: int) -> int:
    return 0
