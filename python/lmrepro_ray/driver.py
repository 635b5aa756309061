"""Runs the dclm-baseline data stages on a Ray cluster.

Every task calls the `lmrepro` binary (the same code as the local engine), so the stage folders
are byte-identical to `lmrepro dclm stages`: the global steps (the pool's text sources, finishing
each stage, the classifier, the top-fraction threshold, the token manifests and the compact
vocabulary) are one task each through
`lmrepro dclm stages --until`; the heuristics stage is one task
per pool file and MinHash runs in datatrove's four steps (signatures per heuristics file, one task
per bucket, one cluster merge, filter per file), each through `lmrepro dclm shard STEP`; the pool
extracts one WARC per task, BFF runs one task per shard group, fastText scores one file per task
(the global threshold and filter stay one step), tokenize + shuffle runs one task per input file
and one per group of cells of each shuffle round (round by round; the manifest is the global
step). A shard
whose completion marker exists is skipped; a task whose worker, node or `lmrepro` process dies is
retried by Ray (`max_retries`).

Needs a shared filesystem between the nodes for the stage cache and the binary (object-store
shards are not implemented; docs/scale-out.md). Standard library + `ray` only.

    python -m lmrepro_ray.driver --lmrepro target/release/lmrepro --until tokenize
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

# Before `ray`: keeps a local instance's nodes, GCS and driver on 127.0.0.1.
from lmrepro_ray import loopback  # noqa: E402  (isort: before ray)

import ray  # noqa: E402

UNTIL = ["pool", "heuristics", "dedup", "classifier", "quality", "tokenize"]

# MinHash as datatrove splits it; each step needs the one before finished.
MINHASH_STEPS = ["minhash-signatures", "minhash-buckets", "minhash-clusters", "minhash-filter"]


class ShardKilled(RuntimeError):
    """`lmrepro` died from a signal (OOM killer, node loss): worth a retry, unlike an error exit."""


def _lmrepro(binary: str, args: list[str], chaos: dict | None = None,
             threads: int | None = None) -> dict:
    """Runs `lmrepro ARGS`, returns the JSON object it prints; raises on failure.

    `chaos` (tests only), on the first attempt of that shard only (a flag file in `dir`):
    `{"mode": "kill", "dir", "shard", "delay"}` kills the `lmrepro` process after `delay`
    seconds, then the worker itself, as a crashing node would; `{"mode": "remove-node", ...}`
    writes `<shard>.started` (this node's id, the process id) and then holds the task open until
    the test harness has removed this node (`Cluster.remove_node`), as a lost machine would.
    """
    env = dict(os.environ)
    if threads:
        # `lmrepro` parallelises with rayon; holding it to the task's CPU request keeps Ray's
        # accounting honest (outputs do not depend on the thread count: the test checks it).
        env["RAYON_NUM_THREADS"] = str(threads)
    proc = subprocess.Popen(
        [binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    if chaos is not None and chaos["mode"] == "remove-node":
        flag = os.path.join(chaos["dir"], chaos["shard"] + ".started")
        if not os.path.exists(flag):
            with open(flag + ".tmp", "w") as f:
                json.dump({"node_id": ray.get_runtime_context().get_node_id(),
                           "pid": proc.pid}, f)
            os.rename(flag + ".tmp", flag)
            proc.communicate()
            # The harness removes this node now; the task never returns from this attempt.
            time.sleep(60)
            raise RuntimeError("chaos: node not removed within 60 s")
    elif chaos is not None:
        flag = os.path.join(chaos["dir"], chaos["shard"] + ".killed")
        if not os.path.exists(flag):
            try:
                proc.wait(timeout=chaos["delay"])
            except subprocess.TimeoutExpired:
                pass
            running = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            with open(flag, "w") as f:
                json.dump({"killed_while_running": running, "pid": proc.pid}, f)
            # The worker dies too: Ray sees a system failure and retries the task elsewhere.
            os._exit(1)
    out, err = proc.communicate()
    if proc.returncode < 0:
        raise ShardKilled(f"lmrepro {' '.join(args)}: killed by signal {-proc.returncode}")
    if proc.returncode != 0:
        raise RuntimeError(f"lmrepro {' '.join(args)} failed ({proc.returncode}):\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1])


def _at(opts) -> list[str]:
    at = ["--recipe", opts.recipe, "--cache", opts.cache]
    if opts.scale:
        at += ["--scale", opts.scale]
    return at


def run(opts) -> dict:
    """Runs the stages up to `opts.until` on the connected Ray cluster; returns the summary."""
    resources = {"num_cpus": opts.task_cpus}
    if opts.task_memory_mb:
        resources["memory"] = opts.task_memory_mb * 1024 * 1024

    @ray.remote(max_retries=opts.max_retries, retry_exceptions=[ShardKilled], **resources)
    def task(args: list[str], chaos: dict | None = None) -> dict:
        started = time.monotonic()
        out = _lmrepro(opts.lmrepro, args, chaos, opts.task_cpus)
        out["task_seconds"] = time.monotonic() - started
        out["node"] = ray.util.get_node_ip_address()
        return out

    at = _at(opts)
    steps = []

    def global_step(until: str) -> None:
        started = time.monotonic()
        out = ray.get(task.remote(["dclm", "stages", "--until", until, *at]))
        steps.append({"step": f"stages --until {until}", "wall_seconds": time.monotonic() - started,
                      "task_seconds": out["task_seconds"], "lmrepro_seconds": out["seconds"],
                      "node": out["node"], "stages": out["stages"]})

    def sharded_step(stage: str, until_after: str) -> None:
        """One task per shard of `stage` not yet done; the step's summary from their results."""
        started = time.monotonic()
        listing = _lmrepro(opts.lmrepro, ["dclm", "shards", stage, *at])
        if not listing.get("used", True):
            return
        todo = [s for s in listing["shards"] if not s["done"]]
        shards = []
        # Shards listed with a `round` (the tokenize cells) run round by round: a round reads
        # what the one before wrote. Every other step is one wave.
        for wave in sorted({s.get("round", 0) for s in todo}):
            refs = []
            for name in [s["name"] for s in todo if s.get("round", 0) == wave]:
                chaos = None
                if opts.chaos_dir and name == opts.chaos_shard and stage == "heuristics":
                    chaos = {"mode": "kill", "dir": opts.chaos_dir, "shard": name,
                             "delay": opts.chaos_delay}
                if opts.chaos_dir and f"{stage}:{name}" == opts.chaos_remove_node:
                    chaos = {"mode": "remove-node", "dir": opts.chaos_dir,
                             "shard": f"{stage}-{name}"}
                refs.append(task.remote(["dclm", "shard", stage, "--shard", name, *at], chaos))
            shards += ray.get(refs)
        steps.append({
            "step": f"{stage} shards",
            "key": listing["key"],
            "shards": len(listing["shards"]),
            "skipped_done": len(listing["shards"]) - len(todo),
            "ran": len(shards),
            # Retries that found their shard finished by an earlier attempt.
            "found_done": sum(1 for s in shards if s.get("skipped") == "shard done"),
            "docs_in": sum(s.get("docs_in", 0) for s in shards),
            "docs_out": sum(s.get("docs_out", 0) for s in shards),
            "chars_out": sum(s.get("chars_out", 0) for s in shards),
            "contexts": sum(s.get("contexts", 0) for s in shards),
            "contexts_in": sum(s.get("contexts_in", 0) for s in shards),
            "task_seconds": sum(s["task_seconds"] for s in shards),
            "lmrepro_seconds": sum(s["seconds"] for s in shards),
            "nodes": sorted({s["node"] for s in shards}),
            "per_shard": [{"shard": s["shard"], "seconds": s["seconds"],
                           "docs_in": s.get("docs_in", 0),
                           "contexts_in": s.get("contexts_in", 0)} for s in shards],
            "wall_seconds": time.monotonic() - started,
        })
        # A later step's shards read this stage finished (heuristics) or this step done.
        if until_after:
            global_step(until_after)

    def reaches(stage: str) -> bool:
        return UNTIL.index(opts.until) >= UNTIL.index(stage)

    # The pool: one task per WARC, then the text sources and the held-out split.
    sharded_step("pool", "pool")
    if reaches("heuristics"):
        sharded_step("heuristics", "heuristics")
    if reaches("dedup"):
        # BFF: one task per shard group (one by default: DCLM-Baseline's single filter).
        sharded_step("bff", "")
        for stage in MINHASH_STEPS:
            sharded_step(stage, "")
        global_step("dedup")
    if reaches("quality"):
        # fastText: the classifier (one task), scoring one task per file of every top-fraction
        # stage, then the global threshold and filters in the next global step.
        global_step("classifier")
        sharded_step("fasttext-scores", "")
    if reaches("tokenize"):
        # Tokenize + shuffle in its steps: the variants' documents (global step), one task per
        # input file of every token stage, the cells round by round; the next global step writes
        # the manifests and the compact vocabulary.
        global_step("quality")
        sharded_step("tokenize-files", "")
        sharded_step("tokenize-cells", "")
    if opts.until not in [st["step"].removeprefix("stages --until ") for st in steps]:
        global_step(opts.until)
    return {"engine": "ray", "until": opts.until, "steps": steps}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lmrepro", required=True, help="path to the lmrepro binary (on every node)")
    p.add_argument("--address", help="Ray cluster to submit to (default: start a local instance)")
    p.add_argument("--recipe", default="dclm-baseline")
    p.add_argument("--scale")
    p.add_argument("--cache", help="stage cache root (default: $LMREPRO_STAGE_CACHE, else "
                   "<workspace>/target/lmrepro-stages)")
    p.add_argument("--until", choices=UNTIL, default="tokenize")
    p.add_argument("--max-retries", type=int, default=3)
    p.add_argument("--task-cpus", type=int, default=1,
                   help="CPUs per task (Ray request and lmrepro's thread count)")
    p.add_argument("--task-memory-mb", type=int, help="memory request per task")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local instance (default: all)")
    p.add_argument("--summary", help="also write the summary JSON here")
    p.add_argument("--chaos-dir", help=argparse.SUPPRESS)
    p.add_argument("--chaos-shard", help=argparse.SUPPRESS)
    p.add_argument("--chaos-delay", type=float, default=0.5, help=argparse.SUPPRESS)
    p.add_argument("--chaos-remove-node", help=argparse.SUPPRESS)  # STEP:SHARD
    return p


def resolve(opts):
    """Absolute paths: tasks run in other working directories."""
    opts.lmrepro = os.path.abspath(opts.lmrepro)
    if opts.recipe.endswith(".toml"):
        opts.recipe = os.path.abspath(opts.recipe)
    if not opts.cache:
        opts.cache = os.environ.get("LMREPRO_STAGE_CACHE") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
            "target", "lmrepro-stages")
    opts.cache = os.path.abspath(opts.cache)
    return opts


def main(argv=None) -> int:
    opts = resolve(parser().parse_args(argv))
    started = time.monotonic()
    if opts.address:
        loopback.connect(opts.address)
    else:
        loopback.init_local(opts.num_cpus)
        loopback.check()
    init_seconds = time.monotonic() - started
    try:
        summary = run(opts)
    finally:
        if not opts.address:
            ray.shutdown()
    summary["ray_init_seconds"] = init_seconds
    summary["total_seconds"] = time.monotonic() - started
    text = json.dumps(summary, indent=2, sort_keys=True)
    if opts.summary:
        with open(opts.summary, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
