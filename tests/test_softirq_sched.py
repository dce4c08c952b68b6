"""__do_softirq's restart limits, ksoftirqd, and sharing the CPU with a task (spec §5.1)."""

from conftest import zero_costs

from softnet.cpus.cpu import ACCT_KSOFTIRQD, ACCT_SOFTIRQ, ACCT_TASK, NET_RX_SOFTIRQ, Cpu
from softnet.cpus.sched import BLOCK, Task
from softnet.engine.events import EventQueue


def make(cost_per_run, reraise=True, **costs):
    cpu = Cpu(0, 4, zero_costs(**costs), 1000, EventQueue(1))
    runs = []

    def handler():
        runs.append(cpu.now)
        yield cost_per_run
        if reraise:
            cpu.softirq_pending |= 1 << NET_RX_SOFTIRQ
    cpu.softirq_handlers[NET_RX_SOFTIRQ] = handler
    return cpu, runs


def irq(cpu):
    """A hard IRQ whose handler raises NET_RX (as napi_schedule does)."""
    def h(_):
        cpu.raise_softirq_irqoff(NET_RX_SOFTIRQ, True)
        return 0
    cpu.raise_irq(h, None, "test", cpu.now)


def test_ten_runs_on_irq_exit_then_ksoftirqd():
    cpu, runs = make(1_000)                 # 1 us per run: the 2 ms limit never trips
    irq(cpu)
    cpu.run(100_000)
    assert cpu.kstat_softirqs[NET_RX_SOFTIRQ] == len(runs) > 10
    # the first 10 ran on IRQ exit; ksoftirqd was woken and carried on
    assert cpu.acct[ACCT_SOFTIRQ] == 10 * 1_000
    assert cpu.acct[ACCT_KSOFTIRQD] > 0 and cpu.ksoftirqd.on_rq


def test_two_ms_limit_hands_over_before_ten_restarts():
    cpu, runs = make(700_000)               # 0.7 ms per run
    irq(cpu)
    cpu.run(2_500_000)
    # jiffies at run ends: 0.7, 1.4 (still < end = 2), 2.1 ms → hand over after 3 runs
    assert cpu.acct[ACCT_SOFTIRQ] == 3 * 700_000


def test_need_resched_stops_restarts():
    cpu, runs = make(1_000)
    cpu.sched.need_resched = True           # e.g. a wakeup on an idle CPU
    irq(cpu)
    cpu.run(1_001)
    # one pass on IRQ exit, then ksoftirqd (scheduled at once) takes the next
    assert cpu.acct[ACCT_SOFTIRQ] == 1_000
    assert len(runs) == 2 and cpu.acct[ACCT_KSOFTIRQD] == 1_000


def test_ksoftirqd_and_a_task_share_the_cpu():
    cpu, runs = make(5_000)

    def app():
        while True:
            yield 2_000
    t = Task("app", ACCT_TASK, app())
    cpu.sched.wake(t)
    irq(cpu)
    cpu.run(200_000_000)                    # 200 ms
    k, a = cpu.acct[ACCT_KSOFTIRQD], cpu.acct[ACCT_TASK]
    assert k + a + cpu.acct[ACCT_SOFTIRQ] >= 199_000_000
    assert 0.35 < k / (k + a) < 0.65        # fair share under EEVDF at equal weight
    assert t.switches > 10 and cpu.ksoftirqd.switches > 10


def test_no_reraise_no_ksoftirqd():
    cpu, runs = make(1_000, reraise=False)
    irq(cpu)
    cpu.run(50_000)
    assert len(runs) == 1 and not cpu.ksoftirqd.on_rq and cpu.acct[ACCT_KSOFTIRQD] == 0


def test_ksoftirqd_is_not_preempted_inside_a_pass():
    cpu = Cpu(0, 4, zero_costs(), 1000, EventQueue(1))
    steps = []

    def handler():                          # one pass = 3 steps of 1 ms
        for i in range(3):
            steps.append((cpu.sched.current.name, i))
            yield 1_000_000
    cpu.softirq_handlers[NET_RX_SOFTIRQ] = handler

    def app():
        while True:
            steps.append(("app", None))
            yield 100_000
    t = Task("app", ACCT_TASK, app())
    cpu.raise_softirq_irqoff(NET_RX_SOFTIRQ, False)   # from task context: wakes ksoftirqd
    cpu.run(1)
    assert steps[0] == ("ksoftirqd/0", 0)
    cpu.sched.wake(t)
    cpu.sched.need_resched = True                      # a wakeup wants the CPU
    cpu.run(10_000_000)
    first_app = steps.index(("app", None))
    assert steps[:first_app] == [("ksoftirqd/0", 0), ("ksoftirqd/0", 1), ("ksoftirqd/0", 2)]


def test_restart_window_rounds_up_at_hz_250():
    cpu = Cpu(0, 4, zero_costs(), 250, EventQueue(1))
    runs = []

    def handler():
        runs.append(cpu.now)
        yield 1_000
        cpu.softirq_pending |= 1 << NET_RX_SOFTIRQ
    cpu.softirq_handlers[NET_RX_SOFTIRQ] = handler
    irq(cpu)
    cpu.run(20_000)
    # msecs_to_jiffies(2) is 1 jiffy at HZ=250, not 0: ten passes on IRQ exit
    assert cpu.acct[ACCT_SOFTIRQ] == 10 * 1_000


def test_a_sleeper_gets_no_credit_for_its_sleep():
    cpu = Cpu(0, 4, zero_costs(), 1000, EventQueue(1))
    ran = {"a": 0, "b": 0}

    def spin(name):
        while True:
            ran[name] += 10_000 if cpu.now >= 20_000_000 else 0
            yield 10_000
    a = Task("a", ACCT_TASK, spin("a"))

    def sleeper():
        yield BLOCK
        yield from spin("b")
    b = Task("b", ACCT_TASK, sleeper())
    cpu.sched.wake(a)
    cpu.sched.wake(b)
    cpu.ev.schedule(20_000_000, lambda t, _: cpu.sched.wake(b))
    cpu.run(40_000_000)
    # after sleeping 20 ms, b shares the CPU with a instead of running 20 ms straight
    assert 0.4 < ran["b"] / (ran["a"] + ran["b"]) < 0.6
