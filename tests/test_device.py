"""igb probe-time derivations: queue pairing, vector names, RETA layouts (kernel-spec §2.2, §3.1)."""

import pytest

from softnet.nic.device import default_reta, load_model, parse_indir, queues_paired, vector_layout

I350 = load_model("i350")


def test_i350_pairs_only_above_half():
    assert not queues_paired(I350, 4)
    assert queues_paired(I350, 5)


def test_vector_names_unpaired_rx_first():
    names = [v.name for v in vector_layout(I350, "eth0", 4)]
    assert names == ["eth0", "eth0-rx-0", "eth0-rx-1", "eth0-rx-2", "eth0-rx-3",
                     "eth0-tx-0", "eth0-tx-1", "eth0-tx-2", "eth0-tx-3"]


def test_vector_names_paired():
    names = [v.name for v in vector_layout(I350, "eth0", 8)]
    assert names == ["eth0"] + [f"eth0-TxRx-{i}" for i in range(8)]


def test_igb_default_reta_is_blocks():
    reta = default_reta(I350, 4)
    assert len(reta) == 128
    assert reta[:32] == [0] * 32 and reta[32:64] == [1] * 32 and reta[96:] == [3] * 32


def test_ethtool_equal_is_round_robin():
    assert parse_indir("equal 3", 128, 4)[:7] == [0, 1, 2, 0, 1, 2, 0]


def test_ethtool_weight_fill():
    t = parse_indir("weight 1 3", 128, 4)
    assert t.count(0) == 32 and t.count(1) == 96 and t[31] == 0 and t[32] == 1
    t = parse_indir("weight 1 0 1", 128, 4)
    assert t.count(1) == 0 and t.count(0) == 64 and t.count(2) == 64


@pytest.mark.parametrize("text", ["equal 5", "equal 0", "weight 0 0", "weight 1 1 1 1 1",
                                  "spread 4"])
def test_ethtool_indir_refused(text):
    with pytest.raises(ValueError):
        parse_indir(text, 128, 4)
