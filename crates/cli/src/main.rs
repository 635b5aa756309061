//! `lmrepro`: reproduce paper tables from pinned recipes, and run each stage on your own data.

use anyhow::Result;
use clap::{Parser, Subcommand};
use lmrepro_data::Resolver;

#[derive(Parser)]
#[command(
    name = "lmrepro",
    version,
    about = "Reproduce language-model papers from pinned recipes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate results/<recipe>/ from recipes/<recipe>.toml.
    Reproduce(lmrepro_cli::ReproduceArgs),
    /// Resolve and verify the pinned inputs of recipes (all when none given; cache → mirror →
    /// download).
    Fetch { recipes: Vec<String> },
    /// Crawl processing: WARC extraction and DCLM's heuristic filters.
    #[command(subcommand)]
    Crawl(CrawlCommand),
    /// Train decoders (OpenLM / BLOOM / GPT-2 options) with DCLM's recipe; sweeps; parameter counts.
    #[command(flatten)]
    Model(lmrepro_model::cli::Command),
    /// Evaluate a model on llm-foundry ICL tasks (DCLM CORE / EXTENDED / MMLU).
    Eval(lmrepro_eval::cli::EvalArgs),
    /// Alice-in-Wonderland track: generate problems, score responses, run models.
    #[command(subcommand)]
    Aiw(lmrepro_aiw::cli::Command),
    /// MusicLDM track: beat tracking on your own audio (Ogg Vorbis / WAV).
    #[command(subcommand)]
    Music(lmrepro_musicldm::cli::Command),
    /// BigBIO track: validate BigBIO-schema JSONL, zero-shot PubMedQA / BIOSSES.
    #[command(subcommand)]
    Bigbio(lmrepro_bigbio::cli::Command),
    /// DCLM: the dclm-baseline data stages one at a time or shard by shard (what the Ray driver
    /// calls), and `dclm runs` over DCLM's released run database.
    #[command(subcommand)]
    Dclm(DclmCommand),
    /// Log-probability of every token of each JSON line's "text" under a Hugging Face model
    /// (`--model hf:PATH`).
    Score(lmrepro_hf::cli::ScoreArgs),
    /// Hugging Face folders: export our checkpoints for transformers.
    #[command(subcommand)]
    Hf(lmrepro_hf::cli::HfCommand),
}

/// `lmrepro dclm ...`: the pipeline's stages and the run database, owned by two crates.
#[derive(Subcommand)]
enum DclmCommand {
    #[command(flatten)]
    Stages(lmrepro_dclm::cli::Command),
    /// runs: filter, sort and print DCLM's released runs.
    #[command(flatten)]
    Runs(lmrepro_dclm_runs::cli::Command),
}

/// `lmrepro crawl ...`: stages owned by two crates under one namespace.
#[derive(Subcommand)]
enum CrawlCommand {
    #[command(flatten)]
    Extraction(lmrepro_extract::cli::Command),
    #[command(flatten)]
    Heuristics(lmrepro_crawl::cli::Command),
    /// dedup {bff,minhash,exact}, quality {train,predict,filter}, tokenize.
    #[command(flatten)]
    Curation(lmrepro_curate::cli::Command),
    /// WARC -> main-content text -> heuristics -> filtered JSONL in one streaming pass (resumable
    /// per WARC).
    Run(lmrepro_dclm::crawl_run::CrawlRunArgs),
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Reproduce(args) => lmrepro_cli::run_reproduce(&args),
        Command::Aiw(cmd) => lmrepro_aiw::cli::run(cmd),
        Command::Music(cmd) => lmrepro_musicldm::cli::run(cmd),
        Command::Bigbio(cmd) => lmrepro_bigbio::cli::run_with(cmd, &|arg| {
            let path = std::path::Path::new(arg);
            path.exists()
                .then(|| lmrepro_dclm::load_checkpoint_lm(path))
        }),
        Command::Dclm(DclmCommand::Stages(cmd)) => lmrepro_dclm::cli::run(cmd),
        Command::Model(cmd) => lmrepro_model::cli::run(cmd),
        Command::Eval(args) => lmrepro_eval::cli::run_eval_with(&args, &|arg| {
            if let Some(dir) = lmrepro_hf::parse_model_arg(arg) {
                return Some(lmrepro_hf::load_token_lm(&dir));
            }
            let path = std::path::Path::new(arg);
            path.exists()
                .then(|| lmrepro_dclm::load_checkpoint_lm(path))
        }),
        Command::Score(args) => lmrepro_hf::cli::run_score(&args),
        Command::Hf(cmd) => lmrepro_hf::cli::run(cmd),
        Command::Crawl(CrawlCommand::Heuristics(cmd)) => lmrepro_crawl::cli::run(cmd),
        Command::Crawl(CrawlCommand::Curation(cmd)) => lmrepro_curate::cli::run(cmd),
        Command::Crawl(CrawlCommand::Extraction(cmd)) => lmrepro_extract::cli::run(cmd),
        Command::Crawl(CrawlCommand::Run(args)) => {
            lmrepro_dclm::crawl_run::run(&args, Resolver::from_env()).map(|_| ())
        }
        Command::Fetch { recipes } => lmrepro_cli::run_fetch(&recipes),
        Command::Dclm(DclmCommand::Runs(cmd)) => lmrepro_dclm_runs::cli::run(cmd),
    }
}
