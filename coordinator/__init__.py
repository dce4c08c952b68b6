"""The coordinator: the `softnet` command. Never in the data path.

`config` reads, validates and resolves an experiment (TOML, the kernel's and tools' own
key names); `topology` decides which LPs exist, which CPU serves which queue and which
links connect them; `launch` starts, pins and watches the LP processes (or runs them
inline); `results` sums the per-process counters as the kernel does when a /proc file is
read and checks the books; `probe` reports the driver's probe chain (summary.json's
`probe`, dmesg.txt); `rundir` claims, locks and writes the run directory; `procfs`
holds the exact /proc and ethtool formats; `runfiles` reads a finished run directory back
and `compare` diffs two of them (`softnet diff`); `series` writes the time series tables; `sweep` runs a grid of runs (`softnet
sweep`), here or, through `cluster`, on a Dask cluster; `pcap` builds the packet captures (with dpkt); `plot` draws a run's or a sweep's
figures (matplotlib, an optional extra); `trace` writes the Perfetto timeline and `ftrace` the function graph; `progress` draws the progress line; `suggest`
finds the nearest valid name for a mistyped one; `entry` is the command's entry point and
signal policy, `cli` the command line.

May import: everything (`engine`, `nic`, `cpus`), rich, setproctitle, dpkt and, when
asked for, matplotlib (`plot`) and dask.distributed (`cluster`); nothing imports it.
"""
