//! Training on real text (Gutenberg sample), exact resume, checkpoint errors, TokenLm scoring.

use lmrepro_data::testing;
use lmrepro_lm::{ScoreRequest, TokenLm};
use lmrepro_model::config::ModelConfig;
use lmrepro_model::data::{read_texts, Contexts, TextTokenizer};
use lmrepro_model::lm::BurnLm;
use lmrepro_model::recipe::{load_recipe, TrainParams};
use lmrepro_model::train::{run, OptimConfig, RunConfig, RunOptions, Trainer};
use lmrepro_model::{Cpu, CpuTrain};
use std::path::PathBuf;
use std::sync::OnceLock;

fn corpus_path() -> PathBuf {
    lmrepro_data::resolve_in_set(
        &testing::resolver(),
        "train_text",
        "corpus/gutenberg_sample.jsonl.zst",
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Byte-level contexts of 65 tokens from the first 40,000 characters of each Gutenberg book;
/// every 7th book is held out.
fn data() -> &'static (Contexts, Contexts) {
    static D: OnceLock<(Contexts, Contexts)> = OnceLock::new();
    D.get_or_init(|| {
        let docs = read_texts(&corpus_path()).unwrap();
        assert_eq!(docs.len(), 21);
        let tok = TextTokenizer::Bytes;
        let cut: Vec<String> = docs
            .iter()
            .map(|d| d.chars().take(40_000).collect())
            .collect();
        let train: Vec<&str> = cut
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + 1) % 7 != 0)
            .map(|(_, s)| s.as_str())
            .collect();
        let held: Vec<&str> = cut
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + 1) % 7 == 0)
            .map(|(_, s)| s.as_str())
            .collect();
        (
            Contexts::from_stream(&tok.encode_docs(train).unwrap(), 65),
            Contexts::from_stream(&tok.encode_docs(held).unwrap(), 65),
        )
    })
}

fn tiny_cfg(steps: u64) -> RunConfig {
    let mut model = ModelConfig::open_lm(64, 2, 4);
    model.vocab_size = 257;
    model.seq_len = 64;
    RunConfig {
        model,
        optim: OptimConfig {
            lr: 3e-3,
            final_lr: 3e-5,
            warmup: 10,
            weight_decay: 0.033,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            z_loss: 1e-4,
            grad_clip: Some(1.0),
        },
        global_batch: 16,
        micro_batch: 8,
        steps,
        seed: 124,
        eval_every: 20,
        eval_batches: 4,
        checkpoint_every: 0,
        peak_flops: None,
    }
}

/// Loss of a 0.16M-parameter OpenLM (bytes) on Gutenberg decreases and reaches a stated value.
#[test]
fn tiny_model_learns_gutenberg_bytes() {
    let (train, held) = data();
    let cfg = tiny_cfg(100);
    let t0 = std::time::Instant::now();
    let r = run::<CpuTrain>(
        &cfg,
        train,
        held,
        &RunOptions::default(),
        &Default::default(),
    )
    .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let first = r.train_curve[0].1;
    eprintln!(
        "first ce {first:.4} final train ce {:.4} held-out {:.4} evals {:?} in {secs:.1}s",
        r.final_train_loss, r.final_eval_loss, r.eval_curve
    );
    // At init the untied head (std 1/sqrt(d)) gives unit-variance logits (x 0.973 for the
    // truncation), so the expected loss is ln 257 + 0.973 / 2 = 6.036.
    assert!(
        (first - (257f64.ln() + 0.4865)).abs() < 0.2,
        "initial loss {first}"
    );
    // Stated value: after 100 steps of 16 x 64 bytes the held-out loss is below 2.80 nats/byte
    // (measured 2.70 here at step 100 of a 120-step run; the unigram byte entropy of this text is
    // about 3.0 nats... so the model has learned more than byte frequencies).
    assert!(r.final_eval_loss < 2.80, "held-out {}", r.final_eval_loss);
    // Monotone enough: every evaluation improves on the previous one.
    for w in r.eval_curve.windows(2) {
        assert!(w[1].1 < w[0].1, "held-out loss went up: {:?}", r.eval_curve);
    }
}

fn weights_bytes(tr: &Trainer<CpuTrain>) -> Vec<(String, Vec<u8>)> {
    use burn_core::module::AutodiffModule;
    let p = lmrepro_model::optim::collect_params(&tr.model.valid());
    let mut out: Vec<(String, Vec<u8>)> = p
        .tensors
        .iter()
        .map(|(k, (_, t))| (k.clone(), t.to_data().as_bytes().to_vec()))
        .collect();
    for (k, (_, t)) in &tr.opt.exp_avg_sq.tensors {
        out.push((format!("v.{k}"), t.to_data().as_bytes().to_vec()));
    }
    out
}

#[test]
fn resume_is_bit_exact() {
    let (train, _) = data();
    let cfg = tiny_cfg(6);
    let dev = Default::default();
    let mut a = Trainer::<CpuTrain>::new(cfg.clone(), train.len(), &dev).unwrap();
    let mut losses_a = Vec::new();
    for _ in 0..6 {
        losses_a.push(a.train_step(train).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut b = Trainer::<CpuTrain>::new(cfg.clone(), train.len(), &dev).unwrap();
    let mut losses_b = Vec::new();
    for _ in 0..3 {
        losses_b.push(b.train_step(train).unwrap());
    }
    b.save(&dir.path().join("step_3")).unwrap();
    drop(b);
    let mut c = Trainer::<CpuTrain>::new(cfg, train.len(), &dev).unwrap();
    c.resume(dir.path()).unwrap();
    assert_eq!(c.step, 3);
    for _ in 0..3 {
        losses_b.push(c.train_step(train).unwrap());
    }
    for (x, y) in losses_a.iter().zip(&losses_b) {
        assert_eq!(x.loss.to_bits(), y.loss.to_bits(), "step {}", x.step);
        assert_eq!(
            x.grad_norm.to_bits(),
            y.grad_norm.to_bits(),
            "step {}",
            x.step
        );
    }
    let (wa, wc) = (weights_bytes(&a), weights_bytes(&c));
    assert_eq!(wa.len(), wc.len());
    for ((ka, va), (kc, vc)) in wa.iter().zip(&wc) {
        assert_eq!(ka, kc);
        assert!(va == vc, "{ka} differs after resume");
    }
}

#[test]
fn corrupt_and_mismatched_checkpoints_are_clear_errors() {
    let (train, _) = data();
    let cfg = tiny_cfg(2);
    let dev = Default::default();
    let mut a = Trainer::<CpuTrain>::new(cfg.clone(), train.len(), &dev).unwrap();
    a.train_step(train).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("step_1");
    a.save(&ck).unwrap();

    // Different model shape.
    let mut other = cfg.clone();
    other.model.d_model = 32;
    let mut t = Trainer::<CpuTrain>::new(other, train.len(), &dev).unwrap();
    let e = format!("{:#}", t.resume(&ck).unwrap_err());
    assert!(e.contains("different model"), "{e}");

    // Different optimiser settings.
    let mut other = cfg.clone();
    other.optim.lr = 1e-3;
    let mut t = Trainer::<CpuTrain>::new(other, train.len(), &dev).unwrap();
    let e = format!("{:#}", t.resume(&ck).unwrap_err());
    assert!(e.contains("different run config"), "{e}");

    // A flipped byte in the weights.
    let p = ck.join("model.safetensors");
    let mut bytes = std::fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    std::fs::write(&p, &bytes).unwrap();
    let mut t = Trainer::<CpuTrain>::new(cfg.clone(), train.len(), &dev).unwrap();
    let e = format!("{:#}", t.resume(&ck).unwrap_err());
    assert!(
        e.contains("corrupt checkpoint") && e.contains("model.safetensors"),
        "{e}"
    );

    // Truncated state.json.
    let s = ck.join("state.json");
    let text = std::fs::read_to_string(&s).unwrap();
    std::fs::write(&s, &text[..text.len() / 2]).unwrap();
    let e = format!("{:#}", t.resume(&ck).unwrap_err());
    assert!(e.contains("state.json"), "{e}");

    // Not a checkpoint at all.
    let empty = tempfile::tempdir().unwrap();
    let e = format!("{:#}", t.resume(empty.path()).unwrap_err());
    assert!(e.contains("holds no checkpoint"), "{e}");
}

#[test]
fn run_writes_metrics_and_checkpoint_and_scores() {
    let (train, held) = data();
    let mut cfg = tiny_cfg(4);
    cfg.eval_every = 2;
    cfg.peak_flops = Some(1e12);
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out_dir: Some(out.path().to_path_buf()),
        ..Default::default()
    };
    let r = run::<CpuTrain>(&cfg, train, held, &opts, &Default::default()).unwrap();
    assert_eq!(r.steps, 4);
    let text = std::fs::read_to_string(out.path().join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 4 step lines + 2 eval lines.
    assert_eq!(lines.len(), 6);
    for key in ["loss", "lr", "grad_norm", "tokens_per_s", "mfu"] {
        assert!(lines[0].get(key).is_some(), "missing {key}");
    }
    assert!(
        lines
            .iter()
            .filter(|l| l.get("eval_loss").is_some())
            .count()
            == 2
    );

    // The final checkpoint loads as a TokenLm; its scores agree with next-token log-probs.
    let mut lm = BurnLm::<Cpu>::load(out.path(), &Default::default()).unwrap();
    assert_eq!(lm.max_context(), 64);
    let ctx: Vec<u32> = "The old man".bytes().map(u32::from).collect();
    let cont: Vec<u32> = " said".bytes().map(u32::from).collect();
    let res = lm
        .score(&[ScoreRequest {
            context: ctx.clone(),
            continuation: cont.clone(),
        }])
        .unwrap();
    assert_eq!(res[0].logprobs.len(), cont.len());
    let next = lm.next_token_logprobs(std::slice::from_ref(&ctx)).unwrap();
    let lp0 = next[0][cont[0] as usize] as f64;
    assert!((lp0 - res[0].logprobs[0]).abs() < 1e-5);
    let argmax = next[0]
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
        .unwrap()
        .0;
    assert_eq!(res[0].greedy_match[0], argmax == cont[0] as usize);
    // Out-of-vocabulary ids are an error, not garbage.
    assert!(lm.next_token_logprobs(&[vec![999]]).is_err());
}

#[test]
fn training_recipes_parse() {
    let names = lmrepro_model::recipe::train_recipes().unwrap();
    assert_eq!(
        names,
        [
            "dclm-400m-1x",
            "train-sweep-tiny",
            "train-tiny",
            "train-tiny-neox"
        ]
    );
    for name in &names {
        let r = load_recipe(name).unwrap();
        assert_eq!(r.kind, "train");
        let p: TrainParams = r.params().unwrap();
        let cfg = p.run_config().unwrap();
        if name == "dclm-400m-1x" {
            assert_eq!(cfg.model.num_params().dclm_reported(), 411_616_256);
            // 8,232,325,120 tokens / (512 x 2048) = 7850 steps.
            assert_eq!(cfg.steps, 7850);
            assert_eq!(cfg.optim.warmup, 2000);
        }
        if name.starts_with("train-tiny") {
            let n = cfg.model.num_params().total;
            assert!((1_000_000..=5_000_000).contains(&n), "{name}: {n} params");
        }
    }
}

#[test]
fn sweep_writes_n_d_loss_rows() {
    let (train, held) = data();
    let r = load_recipe("train-sweep-tiny").unwrap();
    let mut p: TrainParams = r.params().unwrap();
    // CI-sized grid: two widths, two small budgets.
    let spec = p.sweep.as_mut().unwrap();
    spec.d_models = vec![16, 32];
    spec.token_multipliers = vec![0.005, 0.01];
    let rows =
        lmrepro_model::sweep(&p, train, held, lmrepro_model::DeviceKind::Cpu, false).unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let want = (row.multiplier * 20.0 * row.n_params as f64 / 512.0)
            .round()
            .max(1.0) as u64;
        assert_eq!(row.steps, want);
        assert_eq!(row.tokens, row.steps * 512);
        assert!(row.eval_loss.is_finite() && row.eval_loss < 6.0);
    }
    assert!(rows[2].n_params > rows[0].n_params);
    let csv = lmrepro_model::sweep_csv(&rows);
    assert!(csv.starts_with("n_params,tokens,loss,"), "{csv}");
    assert_eq!(csv.lines().count(), 5);
}

/// Every file of a run folder, `metrics.jsonl` without its timing fields.
fn run_folder(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut t = lmrepro_stage::testing::tree(dir);
    if let Some(m) = t.get_mut("metrics.jsonl") {
        let mut out = Vec::new();
        for line in m.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let mut v: serde_json::Value = serde_json::from_slice(line).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("tokens_per_s");
            o.remove("mfu");
            out.extend(serde_json::to_vec(&v).unwrap());
            out.push(b'\n');
        }
        *m = out;
    }
    t
}

/// What a run killed after step 3 (its last checkpoint at step 2) leaves — metrics lines past the
/// checkpoint, a torn last line, an unfinished `step_4.partial` — resumes into the folder an
/// uninterrupted run writes. Before the fix the resumed run appended its lines after the old
/// ones (steps 3.. twice, and the torn line kept); checkpoints are now written in
/// `step_<N>.partial/` and renamed (the kill -9 harness, `lmrepro-cli tests/kill_anywhere.rs`,
/// runs the command itself).
#[test]
fn resumed_run_folder_equals_an_uninterrupted_one() {
    let (train, held) = data();
    let mut cfg = tiny_cfg(4);
    cfg.eval_every = 2;
    cfg.checkpoint_every = 2;
    let whole = tempfile::tempdir().unwrap();
    let opts =
        |dir: &std::path::Path, resume: Option<PathBuf>, stop_after: Option<u64>| RunOptions {
            out_dir: Some(dir.to_path_buf()),
            resume,
            stop_after,
            ..Default::default()
        };
    run::<CpuTrain>(
        &cfg,
        train,
        held,
        &opts(whole.path(), None, None),
        &Default::default(),
    )
    .unwrap();

    let killed = tempfile::tempdir().unwrap();
    let k = killed.path();
    run::<CpuTrain>(
        &cfg,
        train,
        held,
        &opts(k, None, Some(3)),
        &Default::default(),
    )
    .unwrap();
    std::fs::remove_dir_all(k.join("step_3")).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(k.join("metrics.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"step\":4,\"lo").unwrap();
    std::fs::create_dir_all(k.join("step_4.partial")).unwrap();
    std::fs::write(k.join("step_4.partial/model.safetensors"), b"torn").unwrap();
    let resume = lmrepro_model::checkpoint::resolve_dir(k).unwrap();
    assert!(resume.ends_with("step_2"), "{}", resume.display());
    run::<CpuTrain>(
        &cfg,
        train,
        held,
        &opts(k, Some(resume), None),
        &Default::default(),
    )
    .unwrap();
    lmrepro_stage::testing::assert_same_tree(
        &run_folder(whole.path()),
        &run_folder(k),
        "resumed run folder",
    );
}
