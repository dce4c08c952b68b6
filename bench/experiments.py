"""Fixed experiments for the benchmarks, built in code so they scale with the CPU count.

`rss_scaling(n)`: an I350 with n queues, one queue per CPU, and on every CPU a reader of its
own port; each queue gets flows whose RSS hash lands on it (source ports are searched with
the NIC's own Toeplitz and RETA), so receive work spreads evenly and stays on its CPU.
"""

from __future__ import annotations

from softnet.coordinator.topology import sw_flow_hash
from softnet.cpus.backlog import get_rps_cpu
from softnet.nic.device import default_reta, load_model
from softnet.nic.rss import flow_hash_and_queue
from softnet.nic.toeplitz import MS_RSS_KEY

HKEY = ":".join(f"{b:02x}" for b in MS_RSS_KEY)


def rss_scaling(ncpus: int, total_pps: float, duration: str, flows_per_queue: int = 2) -> dict:
    model = load_model("i350")
    reta = default_reta(model, ncpus)
    rss = {"key": MS_RSS_KEY, "rx_flow_hash": {"udp4": "sdfn"}, "reta": reta}
    flows = []
    per_flow = total_pps / (ncpus * flows_per_queue)
    sport = 40000
    for q in range(ncpus):
        found = 0
        while found < flows_per_queue:
            f = {"proto": "udp", "src_ip": "10.0.0.2", "sport": sport, "dst_ip": "10.0.0.1",
                 "dport": 9000 + q}
            sport += 1
            if flow_hash_and_queue(f, rss)[1] == q:
                flows.append({"name": f"q{q}-{found}", "src": f"10.0.0.2:{f['sport']}",
                              "dst": f"10.0.0.1:{9000 + q}", "rate": f"{per_flow:.0f}pps",
                              "size": 64, "arrival": "poisson"})
                found += 1
    return {
        "seed": 7, "duration": duration, "cpus": ncpus,
        "nic": {"model": "i350", "combined": ncpus, "hkey": HKEY,
                "rx_flow_hash": {"udp4": "sdfn"}, "rx_usecs": 3},
        "irq": {"smp_affinity": {f"eth0-rx-{q}": f"{1 << q:x}" for q in range(ncpus)}},
        "flows": flows,
        "apps": [{"name": f"reader{q}", "cpu": q,
                  "socket": {"proto": "udp", "bind": f"0.0.0.0:{9000 + q}"},
                  "cost_per_read": "200ns"} for q in range(ncpus)],
    }


def rps_cross(ncpus: int, total_pps: float, duration: str, flows_per_cpu: int = 4,
              seed: int = 7) -> dict:
    """One RX queue on CPU 0 steered by RPS to the other CPUs (to CPU 0 itself when it is
    alone), each running a reader of its own port. Source ports are searched so that RPS
    lands each flow on its reader's CPU, as a tuned host would have it: every packet crosses
    CPUs once (backlog enqueue + IPI), and no socket hand-off follows."""
    targets = list(range(1, ncpus)) or [0]
    mask = f"{sum(1 << c for c in targets):x}"
    flows = []
    per_flow = total_pps / (len(targets) * flows_per_cpu)
    sport = 40000
    for i, c in enumerate(targets):
        found = 0
        while found < flows_per_cpu:
            f = {"src_ip": "10.0.0.2", "sport": sport, "dst_ip": "10.0.0.1", "dport": 9000 + i}
            sport += 1
            if get_rps_cpu(targets, sw_flow_hash(f, seed)) == c:
                flows.append({"name": f"cpu{c}-{found}", "src": f"10.0.0.2:{f['sport']}",
                              "dst": f"10.0.0.1:{9000 + i}", "rate": f"{per_flow:.0f}pps",
                              "size": 64, "arrival": "poisson"})
                found += 1
    return {
        "seed": seed, "duration": duration, "cpus": ncpus,
        "nic": {"model": "i350", "combined": 1, "hkey": HKEY, "rps_cpus": {"rx-0": mask}},
        "irq": {"smp_affinity": {"eth0-rx-0": "1"}},
        "flows": flows,
        "apps": [{"name": f"reader{c}", "cpu": c,
                  "socket": {"proto": "udp", "bind": f"0.0.0.0:{9000 + i}"},
                  "cost_per_read": "200ns"} for i, c in enumerate(targets)],
    }


def rps_handoff(ncpus: int, total_pps: float, duration: str, nflows: int = 16) -> dict:
    """RPS without RFS: one RX queue on CPU 0, RPS to the other CPUs, readers there, but the
    flows' ports ignore where RPS puts them, so most datagrams are handed to a socket on yet
    another CPU. The CPUs then feed each other's sockets both ways: a cycle of 42 ns links,
    the worst case for conservative synchronisation (and the case `--quantum` is for)."""
    targets = list(range(1, ncpus)) or [0]
    mask = f"{sum(1 << c for c in targets):x}"
    flows = [{"name": f"f{i}", "src": f"10.0.0.{2 + i}:{40000 + i}",
              "dst": f"10.0.0.1:{9000 + i % len(targets)}",
              "rate": f"{total_pps / nflows:.0f}pps", "size": 64, "arrival": "poisson"}
             for i in range(nflows)]
    return {
        "seed": 7, "duration": duration, "cpus": ncpus,
        "nic": {"model": "i350", "combined": 1, "hkey": HKEY, "rps_cpus": {"rx-0": mask}},
        "irq": {"smp_affinity": {"eth0-rx-0": "1"}},
        "flows": flows,
        "apps": [{"name": f"reader{c}", "cpu": c,
                  "socket": {"proto": "udp", "bind": f"0.0.0.0:{9000 + i}"},
                  "cost_per_read": "200ns"} for i, c in enumerate(targets)],
    }


def router(ncpus: int, total_pps: float, duration: str, flows_per_queue: int = 2) -> dict:
    """ip_forward = 1 on an I350 with one queue per CPU: flows for another host spread by
    RSS, each forwarded back out of the TX queue paired with its RX queue (XPS off), so
    every packet is received, routed and transmitted on one CPU, and the NIC process both
    feeds the CPUs and takes their doorbells."""
    cfg = rss_scaling(ncpus, total_pps, duration, flows_per_queue)
    for f in cfg["flows"]:
        f["dst"] = f["dst"].replace("10.0.0.1", "10.9.0.1")    # not local: forwarded
    cfg["irq"] = {"smp_affinity": {f"eth0-{d}-{q}": f"{1 << q:x}" for q in range(ncpus)
                                   for d in ("rx", "tx")}}
    cfg["sysctl"] = {"net.ipv4.ip_forward": 1}
    cfg["apps"] = []
    return cfg


def router2(total_pps: float, duration: str, paired: bool = True) -> dict:
    """Two ports on 2 CPUs (`examples/router2.toml` scaled): an east flow in eth0 → out eth1
    at two thirds of `total_pps`, a west flow the other way. `paired`: each port's RX vector
    shares a CPU with the other port's TX vector, so every CPU cleans the ring it forwards
    onto; else each port's vectors sit on a CPU of their own, and every forwarded packet
    crosses to the other CPU to reach its TX queue."""
    cfg = {"seed": 1, "duration": duration, "cpus": 2,
           "nic": {"model": "i350", "ports": 2, "combined": 1,
                   "rx_flow_hash": {"udp4": "sdfn"}},
           "sysctl": {"net.ipv4.ip_forward": 1},
           "routes": [{"dst": "10.2.0.0/16", "dev": "eth1"}],
           "flows": [{"name": "east", "port": 0, "src": "10.1.0.2:40000",
                      "dst": "10.2.0.9:7000", "rate": f"{total_pps * 2 / 3:.0f}pps",
                      "arrival": "poisson"},
                     {"name": "west", "port": 1, "src": "10.2.0.9:7000",
                      "dst": "10.1.0.2:40000", "rate": f"{total_pps / 3:.0f}pps",
                      "arrival": "poisson"}]}
    a, b = ("1", "2") if paired else ("2", "1")    # the CPUs of eth1-tx-0 and eth0-tx-0
    cfg["irq"] = {"smp_affinity": {"eth0-rx-0": "1", "eth1-tx-0": a,
                                   "eth1-rx-0": "2", "eth0-tx-0": b}}
    return cfg
