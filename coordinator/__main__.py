"""`python -m softnet.coordinator` is the `softnet` command."""

from .entry import entry

entry()
