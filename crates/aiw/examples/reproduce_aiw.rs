//! `cargo run -p lmrepro-aiw --example reproduce_aiw -- <out_dir>`: runs recipe `aiw` outside the
//! xtask (resolver from the environment, mirror defaulting to ../shared/data).
fn main() -> anyhow::Result<()> {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "results/aiw".into()),
    );
    std::fs::create_dir_all(&out)?;
    let recipe = lmrepro_data::Recipe::load_named("aiw")?;
    let files = lmrepro_aiw::reproduce(&recipe, &lmrepro_data::testing::resolver(), &out)?;
    for f in files {
        println!("{}", out.join(f).display());
    }
    Ok(())
}
