"""`softnet plot`: a run's figures from its time series and summary, a sweep's figure from
its table."""

import pytest

pytest.importorskip("matplotlib")   # the optional extra softnet[plot]; tox installs it

from softnet.coordinator.cli import main  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("plot") / "r"
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "3ms", "--interval", "auto", "--set", "flows.0.rate=700kpps"]) == 0
    return out


def test_every_run_figure(run, capsys):
    assert main(["plot", str(run)]) == 0
    printed = capsys.readouterr().out.split()
    for what in ("cpu", "drops", "irq", "latency"):
        path = run / "plots" / f"{what}.png"
        assert str(path) in printed
        assert path.read_bytes().startswith(PNG)
        assert path.stat().st_size > 5000          # axes, lines and labels, not a blank


def test_svg_and_another_directory(run, tmp_path):
    assert main(["plot", str(run), "cpu", "--format", "svg", "--out", str(tmp_path)]) == 0
    svg = (tmp_path / "cpu.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "cpu3" in svg


def test_a_run_without_time_series_says_what_to_do(tmp_path, capsys):
    out = tmp_path / "plain"
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "1ms"]) == 0
    assert main(["plot", str(out), "cpu"]) == 2
    assert "--interval" in capsys.readouterr().err
    assert not (out / "plots").exists()            # nothing half-drawn
    assert main(["plot", str(out), "latency"]) == 0   # the summary is enough for this one


def test_a_sweep_figure(tmp_path, capsys):
    sw = tmp_path / "sw"
    assert main(["sweep", "--vary", "flows.0.rate=100kpps,300kpps,600kpps", "--duration",
                 "2ms", "--out", str(sw), "--quiet", "--plot", "dropped"]) == 0
    assert (sw / "sweep.png").read_bytes().startswith(PNG)
    assert main(["plot", str(sw), "--y", "offered_pps"]) == 0
    assert (sw / "plots" / "sweep.png").read_bytes().startswith(PNG)
    assert main(["plot", str(sw), "--y", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "--y nonsense" in err and "delivered" in err
    assert "a file it reads" not in err            # the question was wrong, not the files
    assert main(["plot", str(sw), "cpu"]) == 2
    assert "points/N" in capsys.readouterr().err


def test_a_timeline_from_the_trace(tmp_path, run, capsys):
    assert main(["plot", str(run), "timeline"]) == 2            # no trace.json there
    assert "--trace" in capsys.readouterr().err
    out = tmp_path / "t"
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "1ms", "--trace"]) == 0
    assert main(["plot", str(out), "timeline"]) == 0
    assert (out / "plots" / "timeline.png").read_bytes().startswith(PNG)


def test_a_run_without_drops_and_damaged_files(tmp_path, capsys):
    out = tmp_path / "basic"
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "1ms", "--interval", "auto", "--set", "flows.3.rate=1kpps",
                 "--set", "flows.3.dst=\"10.0.0.1:9000\""]) == 0
    assert (out / "timeseries" / "drops.csv").read_text().count("\n") == 1   # header only
    assert main(["plot", str(out), "drops"]) == 0            # "no drops" is a figure too
    cpu = out / "timeseries" / "cpu.csv"
    cpu.write_text(cpu.read_text().replace(",0,", ",x,", 1))
    assert main(["plot", str(out), "cpu"]) == 2
    assert "cannot draw cpu" in capsys.readouterr().err
    assert main(["plot", str(out), "latency", "--out", str(out / "summary.json")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_a_sweep_figure_some_points_lack(tmp_path, capsys):
    from helpers import ROOT
    sw = tmp_path / "sw"
    # a router reads nothing: no latency in any point; the table is kept all the same
    assert main(["sweep", f"{ROOT}/examples/router.toml", "--vary",
                 "flows.0.rate=100kpps,200kpps", "--duration", "1ms", "--out", str(sw),
                 "--plot", "latency_p50_ns"]) == 0
    assert (sw / "sweep.csv").exists() and not (sw / "sweep.png").exists()
    assert "no sweep.png" in capsys.readouterr().err
