"""Loopback ports for tests: a taken one, a closed one, a free range."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from streamlab.spark.daemons import port_taken


@contextmanager
def listening_port() -> Iterator[int]:
    """Yield a loopback port something listens on while the block runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> int:
    """Return a port ``p`` such that ``p .. p+count-1`` are all free on loopback."""
    for _ in range(200):
        first = random.randint(20000, 45000)
        if not any(port_taken(first + i) for i in range(count)):
            return first
    raise RuntimeError("no free ports")
