//! Training under other x86-64 instruction-set levels (issue 19 item 5).
//!
//! burn-flex picks its CPU kernels at run time: macerator's reductions (sums, max) run with the
//! widest vectors found (SSE 4 lanes / AVX2 8 / AVX-512 16 lanes, so the summation order changes
//! with the CPU), and gemm picks its FMA or its scalar microkernel and sizes its k-blocks from the
//! L1 cache geometry. So the same seed trains to slightly different floats on another CPU; see
//! `docs/reliability.md` §5 for the contract this test enforces.
//!
//! The test runs a few training steps of the dclm-baseline `tiny` model shape (open_lm d=64 l=2
//! h=4, context 128, batch 16 × 128, an 8,192-token vocabulary) natively and then as other CPUs:
//! - in the test command (root only): this CPU with an EPYC-like L1 data cache (32 KiB, 8-way),
//!   a fake `/sys/devices/system/cpu` bind-mounted in a private mount namespace, so gemm cuts k
//!   into blocks of 512 instead of 1,024;
//! - with `LMREPRO_ISA_LEVELS=Haswell,Nehalem,Haswell+l1=32K:8` (benchmark-style, minutes each):
//!   under `qemu-x86_64` as a CPU without AVX-512 (Haswell: AVX2 + FMA, like the AMD EPYC of the
//!   issue) and without AVX/FMA at all (Nehalem: SSE4.2, gemm's scalar kernel).
//!
//! The child runs are this same test binary with `LMREPRO_ISA_PROBE_OUT` set. Requirements: the
//! data (token batches, shuffling) is identical; two native runs are bit-identical; every loss
//! agrees with the native run within the contract (`lmrepro_report::contract::LOSS_REL_TOL`).
//!
//! Where neither root nor `LMREPRO_ISA_LEVELS` is available it prints a skip line (a failure only
//! with `LMREPRO_REQUIRE_QEMU=1`: CI machines carry neither qemu nor root; see the docs).

use lmrepro_data::testing;
use lmrepro_model::config::ModelConfig;
use lmrepro_model::data::{read_texts, Contexts, TextTokenizer};
use lmrepro_model::train::{OptimConfig, RunConfig, Trainer};
use lmrepro_model::CpuTrain;
use lmrepro_report::contract::{losses_agree, LOSS_REL_TOL};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

const STEPS: usize = 3;

/// The dclm-baseline `tiny` scale (recipes/dclm-baseline.toml `[params.scales.tiny]`) on
/// byte-tokenized Gutenberg text, with the tiny scale's compact vocabulary size so the head and
/// its gradient have the production shapes (k = 2,048 tokens in the weight gradients, above gemm's
/// smallest k-block of 512).
fn dclm_tiny_cfg() -> RunConfig {
    let mut model = ModelConfig::open_lm(64, 2, 4);
    model.vocab_size = 8192;
    model.seq_len = 128;
    RunConfig {
        model,
        optim: OptimConfig {
            lr: 1e-2,
            final_lr: 1e-4,
            warmup: 8,
            weight_decay: 0.033,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            z_loss: 1e-4,
            grad_clip: Some(1.0),
        },
        global_batch: 16,
        micro_batch: 16,
        steps: 80,
        seed: 124,
        eval_every: 0,
        eval_batches: 2,
        checkpoint_every: 0,
        peak_flops: None,
    }
}

fn contexts() -> (Contexts, Contexts) {
    let corpus = lmrepro_data::resolve_in_set(
        &testing::resolver(),
        "train_text",
        "corpus/gutenberg_sample.jsonl.zst",
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    let docs = read_texts(&corpus).unwrap();
    let cut: Vec<String> = docs
        .iter()
        .map(|d| d.chars().take(20_000).collect())
        .collect();
    let (train, held): (Vec<_>, Vec<_>) = cut.iter().enumerate().partition(|(i, _)| i % 7 != 6);
    let enc = |v: Vec<(usize, &String)>| {
        let texts: Vec<&str> = v.iter().map(|(_, s)| s.as_str()).collect();
        Contexts::from_stream(&TextTokenizer::Bytes.encode_docs(texts).unwrap(), 129)
    };
    (enc(train), enc(held))
}

/// One probe: `STEPS` training steps and a held-out loss; lines `name value-bits value`.
fn probe() -> String {
    let (train, held) = contexts();
    let cfg = dclm_tiny_cfg();
    let mut tr = Trainer::<CpuTrain>::new(cfg, train.len(), &Default::default()).unwrap();
    let mut out = String::new();
    let mut h = Sha256::new();
    for i in 0..train.len().min(64) {
        for t in train.get(i) {
            h.update(t.to_le_bytes());
        }
    }
    out += &format!("data {}\n", hex::encode(h.finalize()));
    for _ in 0..STEPS {
        let s = tr.train_step(&train).unwrap();
        out += &format!("loss{} {:016x} {}\n", s.step, s.loss.to_bits(), s.loss);
        out += &format!(
            "grad_norm{} {:016x} {}\n",
            s.step,
            s.grad_norm.to_bits(),
            s.grad_norm
        );
    }
    let e = tr.eval(&held);
    out += &format!("heldout {:016x} {e}\n", e.to_bits());
    out
}

fn parse(text: &str) -> Vec<(String, String, Option<f64>)> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f.get(2).map(|v| v.parse::<f64>().unwrap()),
            )
        })
        .collect()
}

/// Whether this process may bind-mount in a private mount namespace (root with CAP_SYS_ADMIN).
fn can_bind_mount() -> bool {
    Command::new("unshare")
        .args(["--mount", "mount", "--bind", "/tmp", "/tmp"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
        .unwrap_or(false)
}

/// A copy of `/sys/devices/system/cpu` (cpu0's caches, `online`, `possible`) whose L1 data cache
/// is `size` with `ways` ways: bind-mounted over the real one, it makes gemm size its k-blocks
/// as on that CPU (`gemm_common::cache` reads these files).
fn fake_cpu_sysfs(dir: &Path, size: &str, ways: &str) {
    let real = Path::new("/sys/devices/system/cpu");
    for f in ["online", "possible"] {
        std::fs::write(dir.join(f), std::fs::read(real.join(f)).unwrap()).unwrap();
    }
    for e in std::fs::read_dir(real.join("cpu0/cache")).unwrap() {
        let src = e.unwrap().path();
        if !src.is_dir() {
            continue;
        }
        let dst = dir.join("cpu0/cache").join(src.file_name().unwrap());
        std::fs::create_dir_all(&dst).unwrap();
        let read = |n: &str| std::fs::read_to_string(src.join(n)).unwrap_or_default();
        let l1_data = read("level").trim() == "1" && read("type").trim() == "Data";
        for n in [
            "level",
            "type",
            "size",
            "ways_of_associativity",
            "coherency_line_size",
            "shared_cpu_list",
        ] {
            let v = match n {
                "size" if l1_data => format!("{size}\n"),
                "ways_of_associativity" if l1_data => format!("{ways}\n"),
                _ => read(n),
            };
            std::fs::write(dst.join(n), v).unwrap();
        }
    }
}

/// Runs the probe as `level`: `native`, a qemu CPU model (`Haswell`), optionally with a fake
/// L1 data cache (`Haswell+l1=32K:8`, needs root for a private mount namespace).
fn run_child(level: &str, out: &Path) -> String {
    let me = std::env::current_exe().unwrap();
    let (cpu, l1) = match level.split_once("+l1=") {
        Some((cpu, l1)) => (cpu, Some(l1.split_once(':').expect("l1=SIZE:WAYS"))),
        None => (level, None),
    };
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if cpu != "native" {
        argv.extend(["qemu-x86_64".into(), "-cpu".into(), cpu.into()]);
    }
    argv.push(me.into());
    argv.extend(
        [
            "--exact",
            "isa_probe_child",
            "--nocapture",
            "--test-threads=1",
        ]
        .map(Into::into),
    );
    let mut cmd = if let Some((size, ways)) = l1 {
        let fake = out.with_extension("sysfs");
        std::fs::create_dir_all(&fake).unwrap();
        fake_cpu_sysfs(&fake, size, ways);
        let mut c = Command::new("unshare");
        c.args(["--mount", "sh", "-c"])
            .arg(r#"mount --bind "$0" /sys/devices/system/cpu && exec "$@""#)
            .arg(&fake)
            .args(&argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    let st = cmd.env("LMREPRO_ISA_PROBE_OUT", out).status().unwrap();
    assert!(st.success(), "probe as {level} failed: {st}");
    std::fs::read_to_string(out).unwrap()
}

/// The child side: does nothing unless `LMREPRO_ISA_PROBE_OUT` names the file to write.
#[test]
fn isa_probe_child() {
    if let Some(p) = std::env::var_os("LMREPRO_ISA_PROBE_OUT") {
        std::fs::write(p, probe()).unwrap();
    }
}

#[test]
fn training_agrees_across_x86_levels_within_the_contract() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("skip: training_agrees_across_x86_levels_within_the_contract: not x86-64");
        return;
    }
    // The test command runs this machine's kernels with an EPYC-like L1 data cache (32 KiB 8-way:
    // gemm's k-blocks of 512 instead of 1,024 here), which needs root for a private mount
    // namespace. Other instruction-set levels run under qemu, minutes each, when asked for:
    // `LMREPRO_ISA_LEVELS=Haswell,Nehalem,Haswell+l1=32K:8` (Haswell: AVX2 + FMA without AVX-512,
    // the EPYC of the issue; Nehalem: SSE4.2 without AVX / FMA, gemm's scalar kernel).
    let levels = match std::env::var("LMREPRO_ISA_LEVELS") {
        Ok(l) => l,
        Err(_) if can_bind_mount() => "native+l1=32K:8".into(),
        Err(_) => String::new(),
    };
    let skip = |why: &str| {
        let msg = format!("skip: training_agrees_across_x86_levels_within_the_contract: {why}");
        if std::env::var_os("LMREPRO_REQUIRE_QEMU").is_some() {
            panic!("{msg}");
        }
        eprintln!("{msg}");
    };
    if levels.is_empty() {
        return skip("cannot bind-mount a fake L1 (needs root) and LMREPRO_ISA_LEVELS is unset");
    }
    let levels: Vec<&str> = levels.split(',').collect();
    if levels.iter().any(|l| !l.starts_with("native")) && !on_path("qemu-x86_64") {
        return skip("qemu-x86_64 not on PATH (apt-get install qemu-user)");
    }
    let dir = tempfile::tempdir().unwrap();
    let native = parse(&run_child("native", &dir.path().join("native")));
    // The same run twice natively is bit-identical (the contract's exact part for one machine).
    let again = parse(&run_child("native", &dir.path().join("again")));
    assert_eq!(native, again, "two native runs differ");
    for &cpu in &levels {
        let t0 = std::time::Instant::now();
        let other = parse(&run_child(
            cpu,
            &dir.path().join(cpu.replace(['+', '=', ':'], "_")),
        ));
        assert_eq!(other.len(), native.len());
        assert_eq!(other[0], native[0], "{cpu}: training data differs");
        let mut identical = 0;
        let mut worst = 0f64;
        for (a, b) in native.iter().zip(&other).skip(1) {
            assert_eq!(a.0, b.0);
            let (x, y) = (a.2.unwrap(), b.2.unwrap());
            if a.1 == b.1 {
                identical += 1;
            }
            worst = worst.max((x - y).abs() / x.abs().max(f64::MIN_POSITIVE));
            if a.0.starts_with("loss") || a.0 == "heldout" {
                assert!(
                    losses_agree(x, y),
                    "{cpu}: {} {x} vs native {y} beyond the contract (rel {LOSS_REL_TOL:e})",
                    a.0
                );
            }
        }
        // Guards the harness: the fake L1 must reach gemm (else this run proves nothing).
        if cpu.starts_with("native+l1=") {
            assert!(
                identical < native.len() - 1,
                "{cpu}: the fake L1 changed nothing"
            );
        }
        eprintln!(
            "{cpu}: {identical}/{} values bit-identical to native, largest relative difference \
             {worst:.2e} ({:.1} s)",
            native.len() - 1,
            t0.elapsed().as_secs_f64()
        );
    }
}
