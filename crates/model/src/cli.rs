//! The training subcommands, mounted flat in `lmrepro` (`lmrepro train`, `lmrepro sweep`,
//! `lmrepro params`, `lmrepro bench`, `lmrepro bench-shape`).

use crate::recipe::{load_recipe, TrainParams};
use crate::{param_count_table, recipe_data, run_on, sweep, sweep_csv, DeviceKind, RunOptions};
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Train a model from a `train` recipe (`recipes/train/<name>.toml`: dclm-400m-1x,
    /// train-tiny, train-tiny-neox, train-sweep-tiny; or a workspace `recipes/<name>.toml`; or a
    /// path to a recipe file, `*.toml`).
    Train {
        #[arg(long)]
        recipe: String,
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
        /// Resume from a checkpoint directory (or a run directory: its newest step_*). Without
        /// it, a run resumes from the newest checkpoint in its output directory, if any.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Output directory for metrics.jsonl and checkpoints (default: runs/<recipe>); the
        /// same command run again continues where it stopped.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop after this many steps in this process (the lr schedule keeps the recipe's length).
        #[arg(long)]
        max_steps: Option<u64>,
    },
    /// Scaling sweep: N model widths x M token multipliers -> (N, D, loss) CSV.
    Sweep {
        #[arg(long)]
        recipe: String,
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
        /// CSV output path.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the parameter counts of the DCLM / GPT-2 / BLOOM configurations.
    Params,
    /// Time training steps of a named shape (gpt2-small, openlm-411m, tiny) on random tokens:
    /// first-step seconds, tokens/s, MFU, peak memory; progress on stderr, JSON on stdout and
    /// `--json` (the burn side of `benchmarks/train/gpu/`).
    BenchShape(crate::shape_bench::ShapeBenchArgs),
    /// Time training steps of a recipe's model on its data: tokens/s after `warmup` untimed steps.
    Bench {
        #[arg(long)]
        recipe: String,
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        #[arg(long, default_value_t = 10)]
        steps: u64,
    },
}

pub fn run(cmd: Command) -> Result<()> {
    let progress = std::io::stderr().is_terminal();
    match cmd {
        Command::Train {
            recipe,
            device,
            resume,
            out,
            max_steps,
        } => {
            let r = load_recipe(&recipe)?;
            let params: TrainParams = r.params()?;
            let cfg = params.run_config()?;
            let resolver = lmrepro_data::Resolver::from_env();
            let (train, heldout) = recipe_data(&r, &resolver, &params)?;
            eprintln!(
                "{}: {} parameters, {} steps x {} tokens, {} train / {} held-out contexts, device {device:?}",
                r.name,
                cfg.model.num_params().total,
                cfg.steps,
                cfg.tokens_per_step(),
                train.len(),
                heldout.len()
            );
            let out = out.unwrap_or_else(|| PathBuf::from("runs").join(&r.name));
            // The same command again resumes (a killed run continues byte-identically) instead
            // of starting over into a folder that holds the first attempt's checkpoints.
            let resume = resume.or_else(|| {
                let newest = crate::checkpoint::resolve_dir(&out).ok()?;
                eprintln!("resuming from {}", newest.display());
                Some(newest)
            });
            let opts = RunOptions {
                out_dir: Some(out.clone()),
                resume,
                progress,
                stop_after: max_steps,
            };
            let res = run_on(device, &cfg, &train, &heldout, &opts)?;
            println!(
                "steps {} train ce {:.4} held-out ce {:.4} ({:.0} tokens/s); metrics and checkpoints in {}",
                res.steps,
                res.final_train_loss,
                res.final_eval_loss,
                res.tokens_per_s,
                out.display()
            );
            Ok(())
        }
        Command::Sweep {
            recipe,
            device,
            out,
        } => {
            let r = load_recipe(&recipe)?;
            let params: TrainParams = r.params()?;
            let resolver = lmrepro_data::Resolver::from_env();
            let (train, heldout) = recipe_data(&r, &resolver, &params)?;
            let rows = sweep(&params, &train, &heldout, device, progress)?;
            std::fs::write(&out, sweep_csv(&rows))
                .with_context(|| format!("writing {}", out.display()))?;
            println!("{} runs -> {}", rows.len(), out.display());
            Ok(())
        }
        Command::Bench {
            recipe,
            device,
            warmup,
            steps,
        } => {
            let r = load_recipe(&recipe)?;
            let params: TrainParams = r.params()?;
            let cfg = params.run_config()?;
            let resolver = lmrepro_data::Resolver::from_env();
            let (train, heldout) = recipe_data(&r, &resolver, &params)?;
            let b = crate::bench(device, &cfg, &train, &heldout, warmup, steps)?;
            println!("{}", serde_json::to_string(&b)?);
            Ok(())
        }
        Command::BenchShape(args) => {
            let r = crate::shape_bench::run_shape_bench(&args)?;
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }
        Command::Params => {
            print!("{}", param_count_table().to_markdown());
            Ok(())
        }
    }
}
