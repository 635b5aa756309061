//! `cargo xtask bench`: ours against the peers, same inputs, same core, in one command (issue 17).
//!
//! - Peers: pinned PyPI packages and DCLM's source/`bff` in `.venv-bench/` ([`peers`]);
//!   installed by `--setup`, or automatically by a full run that finds them missing.
//! - Inputs: prepared from the pinned mirror through the data layer into
//!   `<target>/bench/{full,smoke}/inputs/` ([`cases`]); never committed.
//! - Rounds: ours and the peer alternate on the same CPUs (`taskset -c 0`, or `0,1` with
//!   `--cores 2`; the first side alternates between rounds); every measurement is one JSON line
//!   ([`measure`]: CPU model, load average before/after, user/sys/wall seconds, peak RSS, docs,
//!   bytes, output summary, whether the outputs agree) appended to
//!   `benchmarks/results/<date>-<machine>.jsonl`; the ratio table (peer CPU / ours, min / median /
//!   max over rounds) is printed and rewritten as `<date>-<machine>.md` from the whole JSONL file.
//! - `--smoke`: tiny inputs, one round, results under the work dir only (never in the tree);
//!   `cargo xtask test` runs it with the debug CLI. Peers run when `.venv-bench/` has them, else
//!   a `skip:` line (an error under `LMREPRO_REQUIRE_ALL=1`, unless `LMREPRO_BENCH_PEERS=off`
//!   says on purpose that this machine has no peers: `.ci/run`).
//!
//! Invariant: a measurement whose outputs disagree with the peer's is recorded and shown as
//! such (`outputs_equal: false`, `DIFFER` in the table) and makes the command fail at the end,
//! so a fast but wrong run never reads as a speed-up.

mod cases;
mod measure;
pub mod peers;

use anyhow::{bail, Context, Result};
use measure::Machine;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `cargo xtask bench` options.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Benchmarks to run (default: all): heuristics, tokenize, bff, minhash, fasttext, extract.
    pub names: Vec<String>,
    /// Alternating ours/peer rounds per benchmark and core count.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Tiny inputs, one round, results kept under the work dir (what `cargo xtask test` runs).
    #[arg(long)]
    pub smoke: bool,
    /// Input size: full (the issue's inputs) or quick (about a quarter: one Gutenberg shard for
    /// bff / minhash, 780 texts for heuristics, one WARC for extract).
    #[arg(long, default_value = "full", value_parser = ["full", "quick"])]
    pub size: String,
    /// CPUs per run: 1 (taskset -c 0), 2 (taskset -c 0,1; our threads and the peers' where they
    /// have a thread option), or both (also prints our 1 → 2 core speed-up).
    #[arg(long, default_value = "1", value_parser = ["1", "2", "both"])]
    pub cores: String,
    /// Only the peers.
    #[arg(long, conflicts_with = "ours_only")]
    pub peers_only: bool,
    /// Only ours (no peer is installed or run).
    #[arg(long)]
    pub ours_only: bool,
    /// Install the peers into .venv-bench/ and exit.
    #[arg(long)]
    pub setup: bool,
    /// Our `lmrepro` binary (default: a release build, or the debug build with --smoke).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// How `--bin` was built, recorded as our side's `impl` (e.g. "dev profile, stage crates at
    /// opt-level 3"); default: the profile folder the binary sits in.
    #[arg(long, requires = "bin")]
    pub bin_note: Option<String>,
}

pub fn run(root: &Path, args: BenchArgs) -> Result<()> {
    if args.setup {
        return peers::setup(root);
    }
    let names: Vec<String> = if args.names.is_empty() {
        cases::ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args.names.clone()
    };
    for n in &names {
        if !cases::ALL.contains(&n.as_str()) {
            bail!("unknown benchmark `{n}` (known: {})", cases::ALL.join(", "));
        }
    }
    let cores: Vec<usize> = match args.cores.as_str() {
        "1" => vec![1],
        "2" => vec![2],
        _ => vec![1, 2],
    };
    let machine = Machine::detect();
    if let Some(&c) = cores.iter().find(|&&c| c > machine.cores) {
        bail!("--cores {c}: this machine has {} CPU(s)", machine.cores);
    }
    let rounds = if args.smoke { 1 } else { args.rounds.max(1) };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let lmrepro = match &args.bin {
        Some(b) => b.clone(),
        None => build_lmrepro(&target, args.smoke)?,
    };
    let mut found = peers::Peers::find(root);
    let missing = found.missing_for(&names).join("; ");
    if !args.smoke && !args.ours_only && !missing.is_empty() {
        eprintln!("xtask bench: installing the missing peers ({missing})");
        peers::setup(root)?;
        found = peers::Peers::find(root);
    }
    let quick = args.size == "quick" && !args.smoke;
    let size = if args.smoke {
        "smoke"
    } else {
        args.size.as_str()
    };
    let work = target.join("bench").join(size);
    std::fs::create_dir_all(work.join("runs"))?;
    let results = if args.smoke {
        // Only the latest smoke run is kept.
        let _ = std::fs::remove_file(work.join("results.jsonl"));
        work.join("results.jsonl")
    } else {
        let dir = root.join("benchmarks/results");
        std::fs::create_dir_all(&dir)?;
        dir.join(format!("{}-{}.jsonl", &utc_now()[..10], machine.slug()))
    };
    let ctx = cases::Ctx {
        root: root.to_path_buf(),
        work: work.clone(),
        smoke: args.smoke,
        quick,
        lmrepro: lmrepro.clone(),
        bin_note: args.bin_note.clone(),
        peers: &found,
        resolver: lmrepro_data::Resolver::from_env(),
    };
    let run_id = utc_now();
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for name in &names {
        let input = cases::prepare(name, &ctx).with_context(|| format!("bench {name}: inputs"))?;
        for &c in &cores {
            for round in 1..=rounds {
                let r = one_round(&ctx, name, &input, c, round, &args, &run_id, &machine)?;
                if let Some(why) = r.1 {
                    if !skipped.contains(&why) {
                        skipped.push(why);
                    }
                }
                for rec in r.0 {
                    append(&results, &rec)?;
                    records.push(rec);
                }
            }
        }
    }
    let table = tables(&records);
    println!("\n{table}");
    eprintln!(
        "xtask bench: {} measurements appended to {}",
        records.len(),
        results.display()
    );
    if !args.smoke {
        let all = read_records(&results)?;
        let md = results.with_extension("md");
        std::fs::write(&md, markdown(&all, &machine))?;
        eprintln!("xtask bench: ratio tables in {}", md.display());
    }
    for why in &skipped {
        let line = format!("skip: {why}");
        if std::env::var_os("LMREPRO_REQUIRE_ALL").is_some_and(|v| v == "1")
            && std::env::var_os("LMREPRO_BENCH_PEERS").is_none_or(|v| v != "off")
        {
            bail!("{line} (LMREPRO_REQUIRE_ALL=1; LMREPRO_BENCH_PEERS=off declares a machine without peers)");
        }
        println!("{line}");
    }
    let wrong: Vec<String> = records
        .iter()
        .filter(|r| r["outputs_equal"] == json!(false) && r["side"] == json!("ours"))
        .map(|r| {
            format!(
                "{} ({} cores, round {}): {}",
                r["bench"], r["cores"], r["round"], r["compare"]
            )
        })
        .collect();
    if !wrong.is_empty() {
        bail!("outputs differ from the peer's:\n  {}", wrong.join("\n  "));
    }
    Ok(())
}

/// Our release binary (built once into the target dir), or the debug one for `--smoke`, which
/// `cargo xtask test` has just built for the workspace tests.
fn build_lmrepro(target: &Path, smoke: bool) -> Result<PathBuf> {
    let (profile, dir) = if smoke {
        ("dev", "debug")
    } else {
        ("release", "release")
    };
    let bin = target.join(dir).join("lmrepro");
    if smoke && bin.is_file() {
        return Ok(bin);
    }
    eprintln!("xtask bench: building the `lmrepro` CLI ({profile}; the first release build takes several minutes)");
    crate::cargo(&["build", "--profile", profile, "-p", "lmrepro-cli"], &[])?;
    Ok(bin)
}

/// One round of one benchmark: ours and the peer (order alternating with the round), their
/// records with the comparison filled in, and the reason the peer was skipped if it was.
#[allow(clippy::too_many_arguments)]
fn one_round(
    ctx: &cases::Ctx,
    name: &str,
    input: &cases::Input,
    cores: usize,
    round: usize,
    args: &BenchArgs,
    run_id: &str,
    machine: &Machine,
) -> Result<(Vec<Value>, Option<String>)> {
    let cpus: Vec<String> = (0..cores).map(|c| c.to_string()).collect();
    let cpus = cpus.join(",");
    let mut sides: Vec<&str> = Vec::new();
    if !args.peers_only {
        sides.push("ours");
    }
    let mut skip = None;
    if !args.ours_only {
        let probe = cases::peer(name, ctx, input, cores, &ctx.work)?;
        match probe {
            Ok(_) => sides.push("peer"),
            Err(why) => skip = Some(format!("peer side of bench {name}: {why}")),
        }
    }
    if round.is_multiple_of(2) {
        sides.reverse();
    }
    let mut recs = Vec::new();
    let mut summaries = std::collections::BTreeMap::new();
    for side in sides {
        let out = ctx.work.join("runs").join(format!("{name}-{side}"));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out)?;
        let cmd = if side == "ours" {
            cases::ours(name, ctx, input, cores, &out)?
        } else {
            cases::peer(name, ctx, input, cores, &out)?.map_err(anyhow::Error::msg)?
        };
        let logs = ctx.work.join("runs").join(format!("{name}-{side}.stdout"));
        let errs = logs.with_extension("stderr");
        eprintln!(
            "xtask bench: {name} {side} ({}, {cores} core(s), round {round}/{})",
            cmd.label,
            if args.smoke { 1 } else { args.rounds }
        );
        let cost = measure::timed(&cpus, &cmd.program, &cmd.args, &cmd.envs, &logs, &errs)
            .with_context(|| format!("bench {name}: {side}"))?;
        let summary = if side == "ours" {
            cases::summarize_ours(name, &out)
        } else {
            cases::summarize_peer(name, &out, &logs)
        }
        .with_context(|| {
            format!(
                "bench {name}: reading the {side} output in {}",
                out.display()
            )
        })?;
        let mut rec = json!({
            "run": run_id, "bench": name, "side": side, "impl": cmd.label, "round": round,
            "cores": cores, "cpus": cpus, "smoke": ctx.smoke,
            "size": if ctx.smoke { "smoke" } else if ctx.quick { "quick" } else { "full" },
            "machine": machine,
            "load_before": cost.load_before, "load_after": cost.load_after,
            "user_s": cost.user_s, "sys_s": cost.sys_s, "cpu_s": cost.cpu_s, "wall_s": cost.wall_s,
            "peak_rss_kb": cost.peak_rss_kb, "docs": input.docs, "bytes": input.bytes,
            "output": public_summary(&summary),
        });
        if let Some(w) = summary.get("work_cpu_s").and_then(Value::as_f64) {
            rec["work_cpu_s"] = json!(w);
        }
        if name == "extract" {
            // The WARC's response records are only known once a side has read them.
            rec["docs"] = summary.get("docs").cloned().unwrap_or(Value::Null);
        }
        summaries.insert(side, summary);
        recs.push(rec);
        // Outputs are large (tokens, 200 MB of books): only the summary is kept.
        let _ = std::fs::remove_dir_all(&out);
    }
    if let (Some(o), Some(p)) = (summaries.get("ours"), summaries.get("peer")) {
        let (equal, note) = cases::compare(name, o, p, input.bytes);
        let cost = |side: &str, k: &str| {
            recs.iter()
                .find(|r| r["side"] == json!(side))
                .and_then(|r| f(r, k))
        };
        // Peer CPU / ours: whole process vs whole process, the peer's work alone vs our whole
        // process (the headline column), and work alone on both sides (where ours times it).
        let ratio = |pk: &str, ok: &str| match (cost("peer", pk), cost("ours", ok)) {
            (Some(p), Some(o)) if o > 0.0 => json!(p / o),
            _ => Value::Null,
        };
        let ratios = json!({
            "whole": ratio("cpu_s", "cpu_s"),
            "peer_work_vs_ours_whole": ratio("work_cpu_s", "cpu_s"),
            "work_alone": ratio("work_cpu_s", "work_cpu_s"),
        });
        for r in &mut recs {
            r["outputs_equal"] = json!(equal);
            r["compare"] = json!(note);
            r["ratios"] = ratios.clone();
        }
    } else {
        for r in &mut recs {
            r["outputs_equal"] = Value::Null;
        }
    }
    Ok((recs, skip))
}

/// The summary without per-document arrays (fastText's scores become their digest).
fn public_summary(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("work_cpu_s");
        if let Some(scores) = o.remove("scores") {
            let text: Vec<String> = scores
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| format!("{:.9}", x.as_f64().unwrap_or(f64::NAN)))
                .collect();
            o.insert(
                "scores_digest_9dp".into(),
                json!(cases::digest(text.iter().map(String::as_str))),
            );
        }
    }
    v
}

fn append(path: &Path, rec: &Value) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(f, "{}", serde_json::to_string(rec)?)?;
    Ok(())
}

fn read_records(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}: line {}", path.display(), i + 1))
        })
        .collect()
}

/// Min / median / max of a non-empty list.
fn spread(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((v[0], med, v[n - 1]))
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

/// The ratio table of one run's records, and the 1 → 2 core table where both were measured.
fn tables(records: &[Value]) -> String {
    let mut keys: Vec<(String, u64)> = Vec::new();
    for r in records {
        let k = (
            r["bench"].as_str().unwrap_or("").to_string(),
            r["cores"].as_u64().unwrap_or(0),
        );
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut out = String::from(
        "| bench | cores | rounds | ours CPU s (median) | peer | peer CPU s, work alone (median) | ratio peer work / ours (min / median / max) | whole-process ratio (median) | work-alone ratio, both sides (median) | peak RSS ours / peer MB | outputs | load 1 min |\n|---|---:|---:|---:|---|---:|---|---:|---:|---:|---|---|\n",
    );
    for (bench, cores) in &keys {
        let rs: Vec<&Value> = records
            .iter()
            .filter(|r| r["bench"] == json!(bench) && r["cores"].as_u64() == Some(*cores))
            .collect();
        let side = |s: &str| -> Vec<&Value> {
            rs.iter()
                .copied()
                .filter(|r| r["side"] == json!(s))
                .collect()
        };
        let (ours, peer) = (side("ours"), side("peer"));
        let med =
            |v: &[&Value], k: &str| spread(v.iter().filter_map(|r| f(r, k)).collect()).map(|s| s.1);
        let fmt = |x: Option<f64>, p: usize| x.map_or("–".to_string(), |x| format!("{x:.p$}"));
        let mut work = Vec::new();
        let mut whole = Vec::new();
        let mut alone = Vec::new();
        let rounds = ours.len().max(peer.len());
        for o in &ours {
            let Some(p) = peer
                .iter()
                .find(|p| p["round"] == o["round"] && p["run"] == o["run"])
            else {
                continue;
            };
            if let (Some(oc), Some(pc)) = (f(o, "cpu_s"), f(p, "cpu_s")) {
                whole.push(pc / oc);
                work.push(f(p, "work_cpu_s").unwrap_or(pc) / oc);
            }
            if let (Some(ow), Some(pw)) = (f(o, "work_cpu_s"), f(p, "work_cpu_s")) {
                alone.push(pw / ow);
            }
        }
        let ratio = spread(work).map_or("–".into(), |(a, m, b)| {
            format!("{a:.2} / **{m:.2}×** / {b:.2}")
        });
        let whole = spread(whole).map_or("–".into(), |s| format!("{:.2}×", s.1));
        let ours_work = med(&ours, "work_cpu_s");
        let alone = match (spread(alone), ours_work) {
            (Some(s), Some(w)) => format!("{:.2}× (ours {w:.2} s)", s.1),
            (None, Some(w)) => format!("– (ours {w:.2} s)"),
            _ => "–".into(),
        };
        let rss = |v: &[&Value]| med(v, "peak_rss_kb").map(|k| k / 1024.0);
        let eq: Vec<&Value> = rs.iter().map(|r| &r["outputs_equal"]).collect();
        let outputs = if eq.iter().any(|e| **e == json!(false)) {
            format!(
                "**DIFFER**: {}",
                rs.iter()
                    .find(|r| r["outputs_equal"] == json!(false))
                    .map_or("", |r| r["compare"].as_str().unwrap_or(""))
            )
        } else if eq.iter().all(|e| **e == json!(true)) {
            rs[0]["compare"].as_str().unwrap_or("equal").to_string()
        } else {
            "not compared (one side only)".into()
        };
        let loads: Vec<f64> = rs
            .iter()
            .filter_map(|r| r["load_before"][0].as_f64())
            .collect();
        let load = spread(loads).map_or("–".into(), |(a, _, b)| format!("{a:.1}–{b:.1}"));
        let peer_impl = peer.first().and_then(|p| p["impl"].as_str()).unwrap_or("–");
        out += &format!(
            "| {bench} | {cores} | {rounds} | {} | {peer_impl} | {} | {ratio} | {whole} | {alone} | {} / {} | {outputs} | {load} |\n",
            fmt(med(&ours, "cpu_s"), 2),
            fmt(peer.iter().filter_map(|p| f(p, "work_cpu_s").or(f(p, "cpu_s"))).collect::<Vec<_>>().pipe_median(), 2),
            fmt(rss(&ours), 0),
            fmt(rss(&peer), 0),
        );
    }
    // Item 6 of the issue: our speed-up from one core to two, same output.
    let mut scale = String::new();
    let benches: Vec<&String> = keys.iter().map(|k| &k.0).collect();
    let mut seen = Vec::new();
    for b in benches {
        if seen.contains(&b) {
            continue;
        }
        seen.push(b);
        let wall = |c: u64| {
            spread(
                records
                    .iter()
                    .filter(|r| {
                        r["bench"] == json!(b)
                            && r["side"] == json!("ours")
                            && r["cores"].as_u64() == Some(c)
                    })
                    .filter_map(|r| f(r, "wall_s"))
                    .collect(),
            )
        };
        let digests = |c: u64| -> Vec<String> {
            records
                .iter()
                .filter(|r| {
                    r["bench"] == json!(b)
                        && r["side"] == json!("ours")
                        && r["cores"].as_u64() == Some(c)
                })
                .map(|r| r["output"].to_string())
                .collect()
        };
        if let (Some(w1), Some(w2)) = (wall(1), wall(2)) {
            let same = digests(1)
                .iter()
                .chain(&digests(2))
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == 1;
            scale += &format!(
                "| {b} | {:.2} | {:.2} | **{:.2}×** | {} |\n",
                w1.1,
                w2.1,
                w1.1 / w2.1,
                if same { "yes" } else { "**NO**" }
            );
        }
    }
    if !scale.is_empty() {
        out += "\nOurs, 1 → 2 cores (wall seconds, median over rounds):\n\n| bench | 1 core wall s | 2 cores wall s | speed-up | output identical |\n|---|---:|---:|---:|---|\n";
        out += &scale;
    }
    out
}

trait PipeMedian {
    fn pipe_median(self) -> Option<f64>;
}
impl PipeMedian for Vec<f64> {
    fn pipe_median(self) -> Option<f64> {
        spread(self).map(|s| s.1)
    }
}

/// `<date>-<machine>.md`: one table per run recorded in the day's JSONL file.
fn markdown(all: &[Value], machine: &Machine) -> String {
    let mut runs: Vec<&str> = Vec::new();
    for r in all {
        if let Some(id) = r["run"].as_str() {
            if !runs.contains(&id) {
                runs.push(id);
            }
        }
    }
    let mut md = format!(
        "# `cargo xtask bench` on {} ({} CPUs)\n\nGenerated from the JSONL file beside this one (one line per measurement). Ratio = peer CPU \
         seconds / ours (> 1: ours uses less CPU); the peer's CPU is its work alone where its driver times \
         it in-process (`work_cpu_s`), else the whole process; ours is the whole `lmrepro` process. The \
         work-alone column divides the peer's in-process work time by ours where `lmrepro` times its \
         own work loop too (fastText: the scoring loop, `LMREPRO_WORK_TIMES`). \
         CPU = user + sys from wait4; runs pinned with `taskset`. Measured on a shared machine unless the load \
         column says otherwise.\n",
        machine.cpu, machine.cores
    );
    for id in runs {
        let rs: Vec<Value> = all
            .iter()
            .filter(|r| r["run"] == json!(id))
            .cloned()
            .collect();
        let size = rs
            .first()
            .and_then(|r| r["size"].as_str())
            .unwrap_or("full");
        md += &format!("\n## Run {id} ({size} inputs)\n\n{}", tables(&rs));
    }
    md
}

/// `YYYY-MM-DDTHH:MM:SSZ` from the system clock (days to civil date: Howard Hinnant's algorithm).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        // date -u -d @1796541473
        assert_eq!(format_utc(1_796_541_473), "2026-12-06T07:17:53Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn spread_is_min_median_max() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), Some((1.0, 2.0, 3.0)));
        assert_eq!(spread(vec![4.0, 1.0]), Some((1.0, 2.5, 4.0)));
        assert_eq!(spread(vec![]), None);
    }

    fn rec(side: &str, round: u64, cores: u64, cpu: f64, work: Option<f64>, eq: bool) -> Value {
        let mut r = json!({"run": "r", "bench": "tokenize", "side": side, "impl": side, "round": round,
            "cores": cores, "cpu_s": cpu, "wall_s": cpu, "peak_rss_kb": 2048.0,
            "load_before": [1.0, 1.0, 1.0], "outputs_equal": eq, "compare": "tokens equal",
            "output": {"tokens": 5}});
        if let Some(w) = work {
            r["work_cpu_s"] = json!(w);
        }
        r
    }

    #[test]
    fn ratio_table_uses_peer_work_time_and_flags_wrong_outputs() {
        let rs = vec![
            rec("ours", 1, 1, 2.0, None, true),
            rec("peer", 1, 1, 9.0, Some(8.0), true),
            rec("ours", 2, 1, 4.0, None, true),
            rec("peer", 2, 1, 9.0, Some(8.0), true),
            rec("ours", 1, 2, 1.0, None, true),
        ];
        let t = tables(&rs);
        assert!(t.contains("2.00 / **3.00×** / 4.00"), "{t}");
        assert!(t.contains("| 3.38× |"), "{t}"); // whole process: median of 4.5 and 2.25
        assert!(
            t.contains("| tokenize | 3.00 | 1.00 | **3.00×** | yes |"),
            "{t}"
        );
        // No ours work time: the work-alone column is empty.
        assert!(t.contains("| 3.38× | – |"), "{t}");
        let mut both = rs.clone();
        both[0]["work_cpu_s"] = json!(1.0); // round 1: 8 / 1
        both[2]["work_cpu_s"] = json!(2.0); // round 2: 8 / 2
        let t2 = tables(&both);
        assert!(t2.contains("| 3.38× | 6.00× (ours 1.50 s) |"), "{t2}");
        // The headline ratio still divides by our whole process.
        assert!(t2.contains("2.00 / **3.00×** / 4.00"), "{t2}");
        let mut bad = rs.clone();
        bad[1]["outputs_equal"] = json!(false);
        bad[1]["compare"] = json!("DIFFER: tokens");
        assert!(tables(&bad).contains("**DIFFER**: DIFFER: tokens"));
    }
}
