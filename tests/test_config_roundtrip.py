"""The config.toml a run writes is the resolved experiment in the file's own terms: it
validates, and running it again gives the same results."""

import os

import pytest

from helpers import ROOT, softnet

EXAMPLES = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".toml"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_config_toml_of_every_example_validates(tmp_path, name):
    path = os.path.join(ROOT, "examples", name)
    short = [] if "migrate" in open(path).read() else ["--set", 'duration="1ms"']
    r = softnet("run", path, "--mode", "inline", "--quiet", "--out", str(tmp_path / "a"),
                *short)
    assert r.returncode == 0, r.stderr
    v = softnet("validate", str(tmp_path / "a" / "config.toml"))
    assert v.returncode == 0, v.stderr


def test_config_toml_reproduces_the_run(tmp_path):
    first = softnet("run", os.path.join(ROOT, "examples", "sender.toml"), "--mode", "inline",
                    "--quiet", "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    again = softnet("run", str(tmp_path / "a" / "config.toml"), "--mode", "inline", "--quiet",
                    "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "a" / "summary.json").read_bytes() == \
        (tmp_path / "b" / "summary.json").read_bytes()
