//! The tiny-scale candidate pool: every `response` record of the pinned WARCs extracted as DCLM
//! does (resiliparse main content, strict UTF-8), DCLM's human-labelled Common Crawl texts, and
//! slices of Wikipedia summaries and Gutenberg books. Every `heldout_every`-th document of each
//! text source is set aside as the common held-out set (WARC pages all stay in the pool).

use super::Ctx;
use crate::cache::{Stage, StageCache};
use crate::params::PoolSpec;
use anyhow::{bail, Context, Result};
use lmrepro_data::{Recipe, Resolver};
use lmrepro_stage::{Claim, ShardedStage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Per-source counts of the pool stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceCount {
    pub source: String,
    pub pool_docs: u64,
    pub heldout_docs: u64,
    pub pool_chars: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PoolSummary {
    pub sources: Vec<SourceCount>,
    /// WARC records that gave no document, by reason (`non_utf8`, ...), as DCLM skips them.
    pub warc_skipped: BTreeMap<String, u64>,
    /// Pool files (relative to the stage directory), in order.
    pub files: Vec<String>,
}

impl PoolSummary {
    pub fn pool_docs(&self) -> u64 {
        self.sources.iter().map(|s| s.pool_docs).sum()
    }

    pub fn pool_chars(&self) -> u64 {
        self.sources.iter().map(|s| s.pool_chars).sum()
    }
}

/// The held-out documents in a pool stage's directory.
pub const HELDOUT_FILE: &str = "heldout.jsonl";

/// The pool stage's key material: its spec and the sha256 of every source it reads; with the
/// quality extractor also the sha256 of its code ([`extractor_code`]).
fn material(ctx: &Ctx) -> Result<Value> {
    let spec = &ctx.p.pool;
    let mut inputs: Vec<&str> = spec.warcs.iter().map(String::as_str).collect();
    inputs.extend(spec.texts.iter().map(String::as_str));
    inputs.push(&spec.wikipedia);
    inputs.push(&spec.gutenberg);
    let mut m = json!({"spec": spec, "inputs": ctx.input_shas(&inputs)?});
    if let Some(code) = extractor_code(spec.extract_mode) {
        m["extractor_code"] = code.into();
    }
    Ok(m)
}

/// The sha256 of [`lmrepro_extract::EXTRACTOR_SOURCES`] for `--mode quality`, whose texts change
/// whenever its rules do (a stage key otherwise covers the recipe and the crate version only, and
/// a rebuilt extractor would reuse the texts of an older one); `None` for the faithful mode,
/// whose texts are pinned to resiliparse 2.0.1's and whose committed keys stay as they are.
fn extractor_code(mode: lmrepro_extract::Mode) -> Option<String> {
    (!mode.is_faithful()).then(|| sources_digest(&lmrepro_extract::EXTRACTOR_SOURCES))
}

fn sources_digest(sources: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for s in sources {
        // Length first, so that moving text between files changes the digest too.
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The stage's name in the cache.
pub const STAGE: &str = "pool";

/// The pool stage before it runs: its key and its WARC shards. Extracting a WARC is the pool's
/// costly part and needs nothing but the WARC, so each WARC is a shard (as `crawl run` and DCLM's
/// `ray_processing` process one WARC per task): its documents go to a work folder
/// (`<root>/pool-<key>.shards/<shard>.jsonl` + marker, [`ShardedStage`]); the stage build then
/// extracts any WARC still missing, moves the WARC files in, and adds the text sources (cheap,
/// and one held-out split across them).
pub struct Plan {
    pub material: Value,
    pub key: String,
    /// The finished stage's folder.
    pub dir: PathBuf,
    pub work: ShardedStage,
    /// Shard name (= its pool file name without `.jsonl`) → the WARC's recipe input name, in
    /// recipe order.
    pub warcs: Vec<(String, String)>,
    /// `pool.extract_mode`.
    pub mode: lmrepro_extract::Mode,
}

/// A WARC shard's completion record: what the pool summary needs from it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WarcStats {
    pub docs: u64,
    pub chars: u64,
    /// Records that gave no document, by reason.
    pub skipped: BTreeMap<String, u64>,
}

/// The pool stage's key and shards.
pub fn plan(cache: &StageCache, ctx: &Ctx) -> Result<Plan> {
    let material = material(ctx)?;
    let key = crate::cache::key_of(&material);
    let dir = cache.stage_dir(STAGE, &key);
    // Shared: Ray runs the WARC shards as concurrent processes, each under its shard's lock.
    let work = ShardedStage::shared(&dir.with_file_name(format!("{STAGE}-{key}.shards")));
    let warcs = ctx
        .p
        .pool
        .warcs
        .iter()
        .enumerate()
        .map(|(i, name)| (file_stem(i, name), name.clone()))
        .collect();
    Ok(Plan {
        material,
        key,
        dir,
        work,
        warcs,
        mode: ctx.p.pool.extract_mode,
    })
}

/// The `file_no`-th pool file's name without `.jsonl` (WARCs come first, in recipe order).
fn file_stem(file_no: usize, source: &str) -> String {
    format!("{file_no:02}-{}", source.replace(['/', '.'], "_"))
}

impl Plan {
    /// Whether the whole stage is finished (the work folder is then gone).
    pub fn finished(&self) -> bool {
        self.dir.join(lmrepro_stage::DONE_FILE).is_file()
    }

    /// Whether `shard` is done in the work folder: its marker and its output are there (a build
    /// interrupted after moving some outputs leaves markers without outputs: redone).
    pub fn is_done(&self, shard: &str) -> bool {
        self.work.is_done(shard) && self.work.output_path(shard, ".jsonl").is_file()
    }

    /// Extracts one WARC (unless done) into the work folder: `<shard>.jsonl` (temporary name,
    /// renamed), then its marker.
    pub fn run_shard(
        &self,
        recipe: &Recipe,
        resolver: &Resolver,
        shard: &str,
    ) -> Result<WarcStats> {
        let Some((_, name)) = self.warcs.iter().find(|(n, _)| n == shard) else {
            let known: Vec<&str> = self.warcs.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "no pool shard `{shard}`; the shards (one per WARC) are {}",
                known.join(", ")
            );
        };
        let _lock = match self.work.claim(shard, || self.is_done(shard))? {
            Claim::Done(stats) => return Ok(stats),
            Claim::Mine(lock) => lock,
        };
        let mut stats = WarcStats::default();
        let path = recipe.resolve(resolver, name)?;
        let docs = warc_docs(&path, name, self.mode, &mut stats.skipped)?;
        stats.docs = docs.len() as u64;
        stats.chars = chars_of(&docs);
        lmrepro_stage::jsonl::write_atomic(
            &self.work.temp_path(shard, ".jsonl"),
            &self.work.output_path(shard, ".jsonl"),
            &lmrepro_stage::to_jsonl(&docs),
        )?;
        self.work.mark_done(shard, &stats)?;
        Ok(stats)
    }
}

/// The pool stage: extracts the WARCs not yet done, then builds the stage folder.
pub fn run(cache: &mut StageCache, ctx: &Ctx) -> Result<(Stage, PoolSummary)> {
    let plan = plan(cache, ctx)?;
    let done = cache.run(STAGE, &plan.material, |dir| {
        build(ctx.recipe, ctx.resolver, &ctx.p.pool, &plan, dir)
    })?;
    // The WARC shards now live in the stage folder; their work folder is spent.
    if plan.work.dir.exists() {
        std::fs::remove_dir_all(&plan.work.dir)
            .with_context(|| format!("removing {}", plan.work.dir.display()))?;
    }
    Ok(done)
}

/// Characters of the documents' `text`.
fn chars_of(docs: &[Map<String, Value>]) -> u64 {
    docs.iter()
        .map(|d| d["text"].as_str().map_or(0, |t| t.chars().count() as u64))
        .sum()
}

/// The finished pool stage, never building it: a shard task must not race the pool's one
/// builder (an error when the pool is not finished yet).
pub fn finished(cache: &StageCache, ctx: &Ctx) -> Result<(Stage, PoolSummary)> {
    let key = crate::cache::key_of(&material(ctx)?);
    let dir = cache.stage_dir(STAGE, &key);
    match lmrepro_stage::read_done(&dir)? {
        Some(summary) => Ok((Stage { dir, key }, summary)),
        None => bail!(
            "the pool stage {} is not finished: run `lmrepro dclm stages --until pool` first",
            dir.display()
        ),
    }
}

pub(crate) fn write_jsonl(path: &Path, docs: &[Map<String, Value>]) -> Result<()> {
    std::fs::write(path, lmrepro_stage::to_jsonl(docs))
        .with_context(|| format!("writing {}", path.display()))
}

fn doc(text: String, source: &str, id: String, url: Option<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("text".into(), Value::String(text));
    m.insert("source".into(), json!(source));
    m.insert("id".into(), json!(id));
    if let Some(u) = url {
        m.insert("url".into(), json!(u));
    }
    m
}

/// Cuts `text` into chunks of at most `max_chars` characters at blank-line paragraph breaks
/// (a single paragraph longer than that is its own chunk).
pub fn chunk_paragraphs(text: &str, max_chars: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_chars = 0usize;
    for para in text.split("\n\n") {
        let para = para.trim_matches('\n');
        if para.trim().is_empty() {
            continue;
        }
        let n = para.chars().count();
        if cur_chars > 0 && cur_chars + 2 + n > max_chars {
            out.push(std::mem::take(&mut cur));
            cur_chars = 0;
        }
        if cur_chars > 0 {
            cur.push_str("\n\n");
            cur_chars += 2;
        }
        cur.push_str(para);
        cur_chars += n;
    }
    if cur_chars > 0 {
        out.push(cur);
    }
    out
}

/// The `text` of every line (malformed lines and missing `text` are errors naming file and line).
fn read_text_jsonl(path: &Path) -> Result<Vec<String>> {
    let (docs, _) = lmrepro_stage::read_docs(path, lmrepro_stage::OnMalformed::Error)?;
    Ok(docs
        .iter()
        .map(|(_, d)| lmrepro_stage::text(d).to_string())
        .collect())
}

/// Every `response` record of a WARC as a document, in record order (DCLM's extraction
/// options); records that give no document are counted in `skipped` by reason.
fn warc_docs(
    path: &Path,
    name: &str,
    mode: lmrepro_extract::Mode,
    skipped: &mut BTreeMap<String, u64>,
) -> Result<Vec<Map<String, Value>>> {
    let opts = lmrepro_extract::Options {
        mode,
        ..Default::default()
    };
    let it = lmrepro_extract::extract_warc(path, &opts)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut docs = Vec::new();
    for r in it.collect_par() {
        match r {
            Ok(d) => docs.push(doc(d.text, name, d.id, d.url)),
            Err(e) => *skipped.entry(e.kind().to_string()).or_default() += 1,
        }
    }
    Ok(docs)
}

/// Wikipedia: `spec.wikipedia_articles` evenly spaced articles in title order.
fn wikipedia_texts(wiki_path: &Path, spec: &PoolSpec) -> Result<Vec<String>> {
    let wiki: BTreeMap<String, Value> = serde_json::from_slice(
        &std::fs::read(wiki_path).with_context(|| format!("reading {}", wiki_path.display()))?,
    )
    .with_context(|| format!("{}: not a JSON object of articles", wiki_path.display()))?;
    let total = wiki.len();
    let n = spec.wikipedia_articles.min(total);
    let articles: Vec<&Value> = wiki.values().collect();
    let mut texts = Vec::with_capacity(n);
    for i in 0..n {
        let a = articles[i * total / n.max(1)];
        let Some(t) = a.get("extract").and_then(Value::as_str) else {
            bail!("{}: article {i} has no `extract`", wiki_path.display());
        };
        texts.push(t.to_string());
    }
    Ok(texts)
}

/// Gutenberg: `spec.gutenberg_chunks` chunks taken round-robin over the books, so every book
/// contributes.
fn gutenberg_texts(path: &Path, spec: &PoolSpec) -> Result<Vec<String>> {
    let books = read_text_jsonl(path)?;
    let per_book: Vec<Vec<String>> = books
        .iter()
        .map(|b| chunk_paragraphs(b, spec.gutenberg_chunk_chars))
        .collect();
    let mut texts = Vec::new();
    let longest = per_book.iter().map(Vec::len).max().unwrap_or(0);
    'outer: for i in 0..longest {
        for b in &per_book {
            if texts.len() == spec.gutenberg_chunks {
                break 'outer;
            }
            if let Some(c) = b.get(i) {
                texts.push(c.clone());
            }
        }
    }
    Ok(texts)
}

/// Builds `pool/*.jsonl` and `heldout.jsonl` in `dir`: the WARC shards (extracted now unless
/// done) moved in, in recipe order, then the text sources.
fn build(
    recipe: &Recipe,
    resolver: &Resolver,
    spec: &PoolSpec,
    plan: &Plan,
    dir: &Path,
) -> Result<PoolSummary> {
    let pool_dir = dir.join("pool");
    std::fs::create_dir_all(&pool_dir)?;
    let mut summary = PoolSummary::default();
    for (shard, name) in &plan.warcs {
        let stats = plan.run_shard(recipe, resolver, shard)?;
        let file = format!("{shard}.jsonl");
        let from = plan.work.output_path(shard, ".jsonl");
        std::fs::rename(&from, pool_dir.join(&file))
            .with_context(|| format!("moving {}", from.display()))?;
        summary.files.push(format!("pool/{file}"));
        for (reason, n) in &stats.skipped {
            *summary.warc_skipped.entry(reason.clone()).or_default() += n;
        }
        summary.sources.push(SourceCount {
            source: name.clone(),
            pool_docs: stats.docs,
            pool_chars: stats.chars,
            ..Default::default()
        });
    }
    let mut heldout: Vec<Map<String, Value>> = Vec::new();
    let mut file_no = plan.warcs.len();
    let mut emit =
        |summary: &mut PoolSummary, source: &str, docs: Vec<Map<String, Value>>| -> Result<()> {
            let name = format!("{}.jsonl", file_stem(file_no, source));
            file_no += 1;
            let chars = chars_of(&docs);
            write_jsonl(&pool_dir.join(&name), &docs)?;
            summary.files.push(format!("pool/{name}"));
            let c = summary
                .sources
                .iter_mut()
                .find(|s| s.source == source)
                .expect("source registered before emit");
            c.pool_docs += docs.len() as u64;
            c.pool_chars += chars;
            Ok(())
        };

    let split = |summary: &mut PoolSummary,
                 heldout: &mut Vec<Map<String, Value>>,
                 source: &str,
                 texts: Vec<String>|
     -> Result<Vec<Map<String, Value>>> {
        let mut pool = Vec::new();
        let mut held = 0u64;
        for (i, t) in texts.into_iter().enumerate() {
            let d = doc(t, source, format!("{source}#{i}"), None);
            if (i + 1) % spec.heldout_every == 0 {
                heldout.push(d);
                held += 1;
            } else {
                pool.push(d);
            }
        }
        summary.sources.push(SourceCount {
            source: source.to_string(),
            heldout_docs: held,
            ..Default::default()
        });
        Ok(pool)
    };

    for name in &spec.texts {
        let texts = read_text_jsonl(&recipe.resolve(resolver, name)?)?;
        let pool = split(&mut summary, &mut heldout, name, texts)?;
        emit(&mut summary, name, pool)?;
    }

    let texts = wikipedia_texts(&recipe.resolve(resolver, &spec.wikipedia)?, spec)?;
    let pool = split(&mut summary, &mut heldout, &spec.wikipedia, texts)?;
    emit(&mut summary, &spec.wikipedia, pool)?;

    let texts = gutenberg_texts(&recipe.resolve(resolver, &spec.gutenberg)?, spec)?;
    let pool = split(&mut summary, &mut heldout, &spec.gutenberg, texts)?;
    emit(&mut summary, &spec.gutenberg, pool)?;

    write_jsonl(&dir.join(HELDOUT_FILE), &heldout)?;
    Ok(summary)
}

/// The pool files of a finished pool stage.
pub fn files(dir: &Path, summary: &PoolSummary) -> Vec<PathBuf> {
    summary.files.iter().map(|f| dir.join(f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quality_pools_key_on_the_extractor_code_faithful_ones_do_not() {
        use lmrepro_extract::Mode;
        assert_eq!(extractor_code(Mode::Faithful), None);
        let code = extractor_code(Mode::Quality).unwrap();
        assert_eq!(code.len(), 64);
        assert_eq!(code, sources_digest(&lmrepro_extract::EXTRACTOR_SOURCES));
        // Any change of the code, or text moved from one file to the next, changes it.
        assert_ne!(sources_digest(&["ab", "c"]), sources_digest(&["a", "bc"]));
        assert_ne!(sources_digest(&["ab", "c"]), sources_digest(&["ab", "d"]));
    }

    #[test]
    fn chunks_respect_paragraphs() {
        let t = "aaaa\n\nbbbb\n\ncccc";
        assert_eq!(chunk_paragraphs(t, 10), vec!["aaaa\n\nbbbb", "cccc"]);
        assert_eq!(chunk_paragraphs(t, 3), vec!["aaaa", "bbbb", "cccc"]);
        assert!(chunk_paragraphs("\n\n\n\n", 5).is_empty());
    }

    proptest! {
        #[test]
        fn chunking_keeps_every_paragraph(paras in proptest::collection::vec("[a-z ]{1,30}", 0..20), max in 1usize..80) {
            let text = paras.join("\n\n");
            let chunks = chunk_paragraphs(&text, max);
            let kept: Vec<String> = text.split("\n\n").filter(|p| !p.trim().is_empty()).map(str::to_string).collect();
            let rejoined: Vec<String> = chunks.iter().flat_map(|c| c.split("\n\n").map(str::to_string)).collect();
            prop_assert_eq!(kept, rejoined);
            for c in &chunks {
                prop_assert!(c.chars().count() <= max || !c.contains("\n\n"));
            }
        }
    }
}
