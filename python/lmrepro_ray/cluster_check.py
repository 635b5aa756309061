"""Test harness: a multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`, a head
with no CPUs and N one-CPU worker nodes, all on 127.0.0.1), then the driver on it.

Called by crates/cli/tests/ray_engine.rs; prints the driver's summary with the cluster's figures.

    python -m lmrepro_ray.cluster_check --workers 2 --lmrepro BIN --cache DIR --until tokenize
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

from lmrepro_ray import loopback  # noqa: E402  (before ray)

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from lmrepro_ray import driver  # noqa: E402


def remove_node_when_started(cluster: Cluster, flag: str, stop: threading.Event) -> None:
    """Chaos (tests): once the task named by `flag` has started, removes the worker node it runs
    on (no graceful shutdown, as a lost machine) and records the node and whether its `lmrepro`
    process was still running in `<flag>.removed`."""
    while not stop.is_set() and not os.path.exists(flag):
        time.sleep(0.02)
    if stop.is_set():
        return
    with open(flag) as f:
        started = json.load(f)
    running = os.path.exists(f"/proc/{started['pid']}") and not _zombie(started["pid"])
    node = next(n for n in cluster.worker_nodes if n.node_id == started["node_id"])
    cluster.remove_node(node, allow_graceful=False)
    with open(flag + ".removed", "w") as f:
        json.dump({"node_id": started["node_id"], "process_running": running,
                   "workers_left": len(cluster.worker_nodes)}, f)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def main(argv=None) -> int:
    p = driver.parser()
    p.add_argument("--workers", type=int, default=2)
    # A second run on the same cluster (one start-up: CI budget), e.g. a recipe with more BFF
    # shard groups on the same stage cache; its summary goes under "then".
    p.add_argument("--then-recipe")
    p.add_argument("--then-until", choices=driver.UNTIL)
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
    stop = threading.Event()
    try:
        addresses = loopback.check(gcs, opts.workers + 1)
        nodes = opts.workers + 1
        if opts.chaos_remove_node:
            flag = os.path.join(opts.chaos_dir, opts.chaos_remove_node.replace(":", "-") + ".started")
            watcher = threading.Thread(target=remove_node_when_started,
                                       args=(cluster, flag, stop), daemon=True)
            watcher.start()
        run_started = time.monotonic()
        summary = driver.run(opts)
        summary["run_seconds"] = time.monotonic() - run_started
        if opts.then_recipe:
            then = argparse.Namespace(**vars(opts))
            then.recipe = os.path.abspath(opts.then_recipe)
            then.until = opts.then_until or opts.until
            then.chaos_dir = then.chaos_shard = then.chaos_remove_node = None
            then_started = time.monotonic()
            summary["then"] = driver.run(then)
            summary["then"]["run_seconds"] = time.monotonic() - then_started
    finally:
        stop.set()
        ray.shutdown()
        cluster.shutdown()
    summary.update({"cluster_start_seconds": start_seconds, "nodes": nodes,
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
