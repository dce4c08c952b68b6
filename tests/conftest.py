import pytest

from softnet.cpus.costs import COST_KEYS, Costs
from softnet.cpus.cpu import Cpu
from softnet.engine.events import EventQueue


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
