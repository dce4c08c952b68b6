import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from cpus.costs import COST_KEYS, Costs  # noqa: E402
from cpus.cpu import Cpu  # noqa: E402
from engine.events import EventQueue  # noqa: E402


def zero_costs(**over) -> Costs:
    c = dict.fromkeys(COST_KEYS, 0)
    c.update(over)
    return Costs(c)


@pytest.fixture
def cpu():
    return Cpu(0, 4, zero_costs(), 1000, EventQueue(1))


def drive(cpu, gen):
    """Run a kernel-path generator to completion on `cpu`, advancing its clock."""
    try:
        while True:
            cpu.now += next(gen)
    except StopIteration as e:
        return e.value
