"""Ray on the loopback address only: one place for what the driver and the test harness share.

Ray 2.x on Linux gives a node the machine's network address; with
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` it uses 127.0.0.1 for every node (checked with Ray 2.60 and
`ray.cluster_utils.Cluster`). The variable must be set before `ray` is imported, so importing this
module sets it (an explicit value in the environment is kept); import it before `ray`.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray  # noqa: E402

LOOPBACK = "127.0.0.1"


def init_local(num_cpus: int | None = None) -> None:
    """Starts a new local Ray instance with every part on 127.0.0.1. `address="local"`: a bare
    `ray.init()` would join a cluster already running on this machine (another user's, or a
    test's) instead of starting one."""
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
             _node_ip_address=LOOPBACK)


def connect(address: str) -> None:
    """Connects the driver to a running cluster."""
    ray.init(address=address, log_to_driver=False)


def check(gcs: str | None = None, nodes: int | None = None) -> list[str]:
    """Raises unless every alive node (and `nodes` of them, if given), the GCS at `gcs` (if
    given) and this driver are on 127.0.0.1; returns the nodes' addresses."""
    alive = [n for n in ray.nodes() if n["Alive"]]
    addresses = sorted({n["NodeManagerAddress"] for n in alive})
    if addresses != [LOOPBACK] or (nodes is not None and len(alive) != nodes):
        raise SystemExit(f"cluster not on loopback or incomplete: {len(alive)} nodes, "
                         f"addresses {addresses}")
    if gcs is not None and gcs.rsplit(":", 1)[0] != LOOPBACK:
        raise SystemExit(f"GCS on {gcs}, not {LOOPBACK}")
    if ray.util.get_node_ip_address() != LOOPBACK:
        raise SystemExit(f"driver on {ray.util.get_node_ip_address()}, not {LOOPBACK}")
    return addresses
