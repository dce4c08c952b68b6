"""A user's cost profile (`profile = "….toml"`, relative to the experiment file): checked as
the shipped ones are, used by every CPU in both modes, copied into the run directory so
that config.toml reruns it. Run as a script, this prints examples/profiles/slow-cpu.toml."""

import shutil
import tomllib
from importlib import resources

import pytest

from helpers import ROOT, run_both_modes, run_inline

SLOW = f"{ROOT}/examples/profiles/slow-cpu.toml"
HEADER = """\
# A user's cost profile (`profile = "profiles/slow-cpu.toml"`, relative to the experiment
# file): a core of the same design at a quarter of the clock, 0.9 GHz, for set-ups of an
# older, slower host such as the livelock experiments of the NAPI literature. Every CPU
# figure is the shipped xeon-e5-1650v4 profile's times 4 (the same cycle counts at 3.6 / 0.9
# GHz); the links (PCIe, the interconnect) are the device's and stay. tests/test_profile_file.py
# holds it to that, so regenerate it when a step is added:
#   python3 tests/test_profile_file.py > examples/profiles/slow-cpu.toml
name = "slow-cpu"
description = "xeon-e5-1650v4 scaled to 0.9 GHz (cycle counts unchanged)"
clock_ghz = 0.9

[sources]
scaled = "cpus/profiles/xeon-e5-1650v4.toml in this repository, every CPU figure times 3.6 / 0.9 = 4 (its own sources give the originals)"
"""

EXPERIMENT = """
seed = 1
duration = "5ms"
cpus = 1
{profile}
[nic]
model = "i350"
combined = 1
[[flows]]
name = "f"
src = "10.0.0.3:50000"
dst = "10.0.0.1:9000"
rate = "200kpps"
size = 64
"""


def scaled() -> str:
    raw = tomllib.loads((resources.files("softnet.cpus.profiles")
                         / "xeon-e5-1650v4.toml").read_text())
    lines = [HEADER, "[costs]"]
    lines += [f'{k} = {{ ns = {v["ns"] * 4}, source = "scaled" }}'
              for k, v in raw["costs"].items()]
    lines += ["", "[links]"]
    lines += [f'{k} = {{ ns = {v["ns"]}, source = "scaled" }}' for k, v in raw["links"].items()]
    return "\n".join(lines) + "\n"


def test_the_example_is_the_shipped_profile_at_a_quarter_of_the_clock():
    with open(SLOW) as f:
        assert f.read() == scaled()


def _experiment(tmp_path, profile_line: str):
    (tmp_path / "profiles").mkdir(exist_ok=True)
    shutil.copy(SLOW, tmp_path / "profiles" / "slow-cpu.toml")
    f = tmp_path / "exp.toml"
    f.write_text(EXPERIMENT.format(profile=profile_line))
    return f


def test_a_profile_file_costs_every_step_and_reruns_from_the_run_directory(tmp_path):
    f = _experiment(tmp_path, 'profile = "profiles/slow-cpu.toml"')
    slow = run_inline(tmp_path / "slow", file=str(f))
    fast = run_inline(tmp_path / "fast", 'profile="xeon-e5-1650v4"', file=str(f))
    busy = {k: sum(v for c, v in s["cpu_time_ns"]["cpu0"].items() if c != "idle")
            for k, s in (("slow", slow), ("fast", fast))}
    assert 3.5 * busy["fast"] < busy["slow"] < 4.5 * busy["fast"], busy
    run = tmp_path / "slow"
    assert 'profile = "profile.toml"' in (run / "config.toml").read_text()
    assert (run / "profile.toml").read_bytes() == (tmp_path / "profiles" /
                                                    "slow-cpu.toml").read_bytes()
    run_inline(tmp_path / "again", file=str(run / "config.toml"))
    assert (tmp_path / "again" / "summary.json").read_bytes() == \
        (run / "summary.json").read_bytes()
    assert slow["profile"] == "slow-cpu"
    # workers get the same costs
    run_both_modes(tmp_path / "both", "--duration", "2ms", file=str(f))


@pytest.mark.parametrize("text, says", [
    (None, "no such file (a cost profile file was expected)"),
    ("[sources]\nx = 'y'\n[costs]\n", "[costs] irq_entry_exit needs { ns = <integer ≥ 0>"),
    ("name = 'p'\n", "needs a [sources] table"),
    ("[sources]\nx = 'y'\n[costs]\nirq_entry_exit = { ns = 1, source = 'z' }\n",
     "cites 'z', not listed in [sources]"),
    ("[sources]\nx = 'y'\n[costs]\nwarp_drive = { ns = 1, source = 'x' }\n",
     "[costs] warp_drive is not a step softnet costs"),
    ("[costs\n", "not valid TOML"),
    ("[sources]\nx = 'y'\n[cost]\n", "cost is not part of a profile"),
    ("[sources]\nx = 3\n", "naming, as text, what each figure comes from"),
])
def test_a_bad_profile_file_is_refused_by_name(tmp_path, text, says):
    from helpers import softnet
    if text is not None:
        (tmp_path / "mine.toml").write_text(text)
    f = tmp_path / "exp.toml"
    f.write_text(EXPERIMENT.format(profile='profile = "mine.toml"'))
    r = softnet("run", str(f), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_relative_to_the_experiment_file_not_the_working_directory(tmp_path, monkeypatch):
    f = _experiment(tmp_path, 'profile = "profiles/slow-cpu.toml"')
    monkeypatch.chdir("/")
    s = run_inline(tmp_path / "o", file=str(f))
    assert s["profile"] == "slow-cpu"


if __name__ == "__main__":
    print(scaled(), end="")
