"""Test harness: a multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`, a head
with no CPUs and N one-CPU worker nodes, all on 127.0.0.1), then the driver on it.

Called by crates/cli/tests/ray_engine.rs; prints the driver's summary with the cluster's figures.

    python -m lmrepro_ray.cluster_check --workers 2 --lmrepro BIN --cache DIR --until tokenize
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from lmrepro_ray import driver  # noqa: E402

LOOPBACK = "127.0.0.1"


def main(argv=None) -> int:
    p = driver.parser()
    p.add_argument("--workers", type=int, default=2)
    opts = driver.resolve(p.parse_args(argv))
    started = time.monotonic()
    # The head schedules nothing, so every task runs on a worker node.
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(opts.workers):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    gcs = cluster.address
    ray.init(address=gcs, log_to_driver=False)
    start_seconds = time.monotonic() - started
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        addresses = sorted({n["NodeManagerAddress"] for n in nodes})
        if len(nodes) != opts.workers + 1 or addresses != [LOOPBACK]:
            raise SystemExit(f"cluster not on loopback or incomplete: {len(nodes)} nodes, "
                             f"addresses {addresses}")
        if gcs.rsplit(":", 1)[0] != LOOPBACK:
            raise SystemExit(f"GCS on {gcs}, not {LOOPBACK}")
        if ray.util.get_node_ip_address() != LOOPBACK:
            raise SystemExit(f"driver on {ray.util.get_node_ip_address()}, not {LOOPBACK}")
        run_started = time.monotonic()
        summary = driver.run(opts)
        summary["run_seconds"] = time.monotonic() - run_started
    finally:
        ray.shutdown()
        cluster.shutdown()
    summary.update({"cluster_start_seconds": start_seconds, "nodes": len(nodes),
                    "node_addresses": addresses, "gcs": gcs,
                    "total_seconds": time.monotonic() - started})
    text = json.dumps(summary, indent=2, sort_keys=True)
    if opts.summary:
        with open(opts.summary, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
