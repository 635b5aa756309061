//! The PyO3 glue (feature `python`): conversions, GIL release, errors. See the crate docs.

use crate::{pipeline_args, ExtractKwargs};
use anyhow::Context;
use lmrepro_crawl::pipeline::Outcome;
use lmrepro_crawl::{Field, Page, Pipeline as RustPipeline};
use lmrepro_curate::bff::{self, BffConfig};
use lmrepro_curate::minhash::{self, MinhashConfig};
use lmrepro_curate::quality::Classifier;
use lmrepro_data::Resolver;
use lmrepro_extract::pipeline::{extract_warc as rust_extract_warc, DocError, Options};
use lmrepro_extract::warc::{parse_http_response, WarcReader, WarcRecord};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use pyo3::IntoPyObjectExt;
use rayon::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

create_exception!(
    lmrepro,
    LmreproError,
    PyValueError,
    "An error reported by lmrepro's Rust core (the message is the Rust error chain)."
);

/// A Rust error as a Python exception: `OSError` when the root cause is an I/O error (a missing
/// file), `LmreproError` (a `ValueError`) otherwise; the message is the whole chain.
fn err(e: anyhow::Error) -> PyErr {
    let msg = format!("{e:#}");
    if e.root_cause().downcast_ref::<std::io::Error>().is_some() {
        PyOSError::new_err(msg)
    } else {
        LmreproError::new_err(msg)
    }
}

fn io_err(e: std::io::Error, what: &Path) -> PyErr {
    PyOSError::new_err(format!("{}: {e}", what.display()))
}

// ------------------------------------------------------------------ JSON <-> Python ----------

fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py)?,
            (None, Some(u)) => u.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(json_to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

fn serde_to_py<'py, T: serde::Serialize>(py: Python<'py>, v: &T) -> PyResult<Bound<'py, PyAny>> {
    let v = serde_json::to_value(v).map_err(|e| err(e.into()))?;
    json_to_py(py, &v)
}

// ------------------------------------------------------------------ extraction ---------------

/// resiliparse's `extract_plain_text(html, preserve_formatting=True, main_content=False, ...)`
/// on a `str` (DCLM calls it with `main_content=True`).
#[pyfunction]
#[pyo3(signature = (html, preserve_formatting=true, main_content=false, list_bullets=true,
    alt_texts=true, links=false, form_fields=false, noscript=false, comments=true, skip_elements=None))]
#[allow(clippy::too_many_arguments)]
fn extract_plain_text(
    py: Python<'_>,
    html: &str,
    preserve_formatting: bool,
    main_content: bool,
    list_bullets: bool,
    alt_texts: bool,
    links: bool,
    form_fields: bool,
    noscript: bool,
    comments: bool,
    skip_elements: Option<Vec<String>>,
) -> PyResult<String> {
    let opts = ExtractKwargs {
        preserve_formatting,
        main_content,
        list_bullets,
        alt_texts,
        links,
        form_fields,
        noscript,
        comments,
        skip_elements,
    }
    .options()
    .map_err(err)?;
    Ok(py.detach(|| lmrepro_extract::extract_plain_text(html, &opts)))
}

/// [`extract_plain_text`] over a list of HTML strings, in parallel; results in input order.
#[pyfunction]
#[pyo3(signature = (htmls, preserve_formatting=true, main_content=false, list_bullets=true,
    alt_texts=true, links=false, form_fields=false, noscript=false, comments=true, skip_elements=None))]
#[allow(clippy::too_many_arguments)]
fn extract_plain_text_batch(
    py: Python<'_>,
    htmls: Vec<String>,
    preserve_formatting: bool,
    main_content: bool,
    list_bullets: bool,
    alt_texts: bool,
    links: bool,
    form_fields: bool,
    noscript: bool,
    comments: bool,
    skip_elements: Option<Vec<String>>,
) -> PyResult<Vec<String>> {
    let opts = ExtractKwargs {
        preserve_formatting,
        main_content,
        list_bullets,
        alt_texts,
        links,
        form_fields,
        noscript,
        comments,
        skip_elements,
    }
    .options()
    .map_err(err)?;
    Ok(py.detach(|| {
        htmls
            .par_iter()
            .map(|h| lmrepro_extract::extract_plain_text(h, &opts))
            .collect()
    }))
}

/// `crawl extract` on one WARC file with DCLM's settings: a list with, per response record, the
/// extracted document `{id, text, url, metadata}` or `{skipped, reason, offset}` (DCLM skips
/// non-UTF-8 pages); a broken WARC raises.
#[pyfunction]
fn extract_warc<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyList>> {
    let results = py.detach(|| {
        rust_extract_warc(&path, &Options::default())
            .map(|it| it.collect_par())
            .map_err(|e| io_err(e, &path))
    })?;
    let out = PyList::empty(py);
    for r in results {
        match r {
            Ok(doc) => out.append(serde_to_py(py, &doc)?)?,
            Err(DocError::Skipped {
                offset,
                kind,
                reason,
                ..
            }) => {
                let d = PyDict::new(py);
                d.set_item("skipped", kind)?;
                d.set_item("reason", reason)?;
                d.set_item("offset", offset)?;
                out.append(d)?;
            }
            Err(e) => return Err(err(e.into())),
        }
    }
    Ok(out)
}

/// Records of a WARC file (plain, gzip or zstd), one dict each, read lazily. `unsendable`: the
/// decompressor is not `Sync`; the iterator stays on the thread that made it.
#[pyclass(module = "lmrepro._lmrepro", unsendable)]
struct WarcIterator {
    path: PathBuf,
    reader: WarcReader,
}

#[pymethods]
impl WarcIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        mut slf: PyRefMut<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let this = &mut *slf;
        let reader = &mut this.reader;
        match py.detach(|| reader.next()) {
            None => Ok(None),
            Some(Ok(rec)) => record_dict(py, &rec).map(Some),
            Some(Err(e)) => Err(LmreproError::new_err(format!(
                "{}: {e}",
                this.path.display()
            ))),
        }
    }
}

fn record_dict<'py>(py: Python<'py>, rec: &WarcRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("offset", rec.offset)?;
    d.set_item("version", &rec.version)?;
    d.set_item("headers", rec.headers.clone())?;
    d.set_item("record_type", rec.record_type())?;
    d.set_item("record_id", rec.record_id())?;
    d.set_item("target_uri", rec.target_uri())?;
    d.set_item("content", PyBytes::new(py, &rec.block))?;
    if rec.record_type() == Some("response") {
        // As FastWARC's default (`parse_http=True`, no transfer decoding), which DCLM reads.
        match parse_http_response(&rec.block, false) {
            Ok(http) => {
                d.set_item("http_status", http.status)?;
                d.set_item("http_headers", http.headers)?;
                d.set_item("http_body", PyBytes::new(py, &http.body))?;
            }
            Err(e) => d.set_item("http_error", e.to_string())?,
        }
    }
    Ok(d)
}

/// Iterates over the records of a WARC file: dicts with `offset, version, headers, record_type,
/// record_id, target_uri, content` and, for responses, `http_status, http_headers, http_body`
/// (or `http_error`).
#[pyfunction]
fn iter_warc(path: PathBuf) -> PyResult<WarcIterator> {
    let reader = WarcReader::open(&path).map_err(|e| io_err(e, &path))?;
    Ok(WarcIterator { path, reader })
}

// ------------------------------------------------------------------ heuristics ---------------

const SKIP_KEYS: [&str; 3] = ["text", "url", "metadata"];

/// DCLM's page dict → [`Page`]: `text` (required str), `url`, `metadata["WARC-Target-URI"]`, and
/// the keys an earlier enricher wrote (a `{label: prob}` dict or an int), so that a step run on
/// its own (a DCLM mapper) sees them.
fn page_of(d: &Bound<'_, PyDict>) -> PyResult<Page> {
    let text = match d.get_item("text")? {
        Some(t) => t
            .extract::<String>()
            .map_err(|_| LmreproError::new_err("page[\"text\"] is not a str"))?,
        None => return Err(LmreproError::new_err("page has no \"text\" key")),
    };
    let opt_str = |v: Option<Bound<'_, PyAny>>, what: &str| -> PyResult<Option<String>> {
        match v {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => v
                .extract::<String>()
                .map(Some)
                .map_err(|_| LmreproError::new_err(format!("{what} is not a str"))),
        }
    };
    let url = opt_str(d.get_item("url")?, "page[\"url\"]")?;
    let warc_target_uri = match d.get_item("metadata")? {
        Some(m) => match m.cast::<PyDict>() {
            Ok(m) => opt_str(
                m.get_item("WARC-Target-URI")?,
                "page[\"metadata\"][\"WARC-Target-URI\"]",
            )?,
            Err(_) => None,
        },
        None => None,
    };
    let mut fields = BTreeMap::new();
    for (k, v) in d.iter() {
        let Ok(k) = k.extract::<String>() else {
            continue;
        };
        if SKIP_KEYS.contains(&k.as_str()) {
            continue;
        }
        if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
            if let Ok(c) = v.extract::<u64>() {
                fields.insert(k, Field::Count(c));
            }
        } else if let Ok(m) = v.cast::<PyDict>() {
            let probs: Option<BTreeMap<String, f64>> = m
                .iter()
                .map(|(l, p)| {
                    let numeric = p.is_instance_of::<PyFloat>() || p.is_instance_of::<PyInt>();
                    match (l.extract::<String>(), numeric) {
                        (Ok(l), true) => p.extract::<f64>().ok().map(|p| (l, p)),
                        _ => None,
                    }
                })
                .collect();
            if let Some(probs) = probs {
                fields.insert(k, Field::Lang(probs));
            }
        }
    }
    Ok(Page {
        text,
        url,
        warc_target_uri,
        fields,
    })
}

/// The page dict after the pipeline: a copy of the input with the final `text`, `url` and the
/// enrichers' keys (what `crawl filter` writes for a kept document).
fn page_dict<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyDict>,
    page: &Page,
) -> PyResult<Bound<'py, PyDict>> {
    let d = input.copy()?;
    d.set_item("text", &page.text)?;
    if let Some(u) = &page.url {
        d.set_item("url", u)?;
    }
    for (k, f) in &page.fields {
        match f {
            Field::Lang(m) => d.set_item(k, m.clone().into_pyobject(py)?)?,
            Field::Count(c) => d.set_item(k, c)?,
        }
    }
    Ok(d)
}

/// DCLM's RefinedWeb heuristics (built in, or a DCLM pipeline yaml), as `crawl filter` runs them.
#[pyclass(module = "lmrepro._lmrepro", frozen)]
struct Pipeline {
    inner: RustPipeline,
}

impl Pipeline {
    fn outcome_dict<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyDict>,
        out: &Outcome,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("kept", out.kept())?;
        d.set_item("page", page_dict(py, input, &out.page)?)?;
        let stop = out.stop.as_ref();
        d.set_item("dropped_at_index", stop.map(|s| s.step))?;
        d.set_item(
            "dropped_by",
            stop.map(|s| self.inner.steps[s.step].func.clone()),
        )?;
        d.set_item("error", stop.and_then(|s| s.error.clone()))?;
        d.set_item("skipped", out.skipped.clone())?;
        Ok(d)
    }
}

#[pymethods]
impl Pipeline {
    /// `spec`: `dclm-baseline-refinedweb` (built in) or the path of a pipeline yaml in DCLM's
    /// schema; the other options are `crawl filter`'s (`--source`, `--dclm-root`, `--lid-model`,
    /// `--curated-domains`). Pinned files resolve from cache → `LMREPRO_DATA_MIRROR` → download.
    #[new]
    #[pyo3(signature = (spec="dclm-baseline-refinedweb", source=None, dclm_root=None, lid_model=None, curated_domains="empty"))]
    fn new(
        py: Python<'_>,
        spec: &str,
        source: Option<String>,
        dclm_root: Option<String>,
        lid_model: Option<String>,
        curated_domains: &str,
    ) -> PyResult<Pipeline> {
        let args =
            pipeline_args(spec, source, dclm_root, lid_model, curated_domains).map_err(err)?;
        let inner = py.detach(|| args.load(Resolver::from_env())).map_err(err)?;
        Ok(Pipeline { inner })
    }

    /// A pipeline from step mappings in DCLM's yaml form, given as JSON (`[{"func": ..., ...}]`);
    /// what `lmrepro.dclm`'s one-step mappers are built from.
    #[staticmethod]
    #[pyo3(signature = (name, steps_json, dclm_root=None, lid_model=None, curated_domains="empty"))]
    fn from_steps_json(
        py: Python<'_>,
        name: &str,
        steps_json: &str,
        dclm_root: Option<String>,
        lid_model: Option<String>,
        curated_domains: &str,
    ) -> PyResult<Pipeline> {
        let args = pipeline_args(name, None, dclm_root, lid_model, curated_domains).map_err(err)?;
        let steps: Vec<serde_yaml::Mapping> = serde_yaml::from_str(steps_json)
            .map_err(|e| LmreproError::new_err(format!("steps_json: {e}")))?;
        let inner = py
            .detach(|| {
                let mut assets = lmrepro_crawl::Assets::new(Resolver::from_env());
                assets.dclm_root = args.dclm_root.clone();
                assets.lid_model_path = args.lid_model.clone();
                assets.curated_domains = args.curated_domains;
                RustPipeline::from_steps(name, &steps, &assets)
            })
            .map_err(err)?;
        Ok(Pipeline { inner })
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// Step ids (`"%02d_<func>"`, as in the conformance goldens).
    #[getter]
    fn steps(&self) -> Vec<String> {
        self.inner.steps.iter().map(|s| s.id.clone()).collect()
    }

    /// Substitutions made while building (e.g. the empty curated domain list).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.inner.notes.clone()
    }

    /// One page through every step: `{kept, page, dropped_at_index, dropped_by, error, skipped}`.
    fn run<'py>(&self, py: Python<'py>, page: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
        let p = page_of(page)?;
        let out = py.detach(|| self.inner.run(p));
        self.outcome_dict(py, page, &out)
    }

    /// [`Pipeline::run`] over a list of pages, in parallel, results in input order.
    fn run_batch<'py>(
        &self,
        py: Python<'py>,
        pages: Vec<Bound<'py, PyDict>>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let ps = pages.iter().map(page_of).collect::<PyResult<Vec<_>>>()?;
        let outs: Vec<Outcome> =
            py.detach(|| ps.into_par_iter().map(|p| self.inner.run(p)).collect());
        pages
            .iter()
            .zip(&outs)
            .map(|(d, o)| self.outcome_dict(py, d, o))
            .collect()
    }

    /// DCLM's mapper contract: `[page]` if the page survives (with its new text and fields), `[]`
    /// if a step dropped it (or raised, as DCLM's `_safe` mode counts it).
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        page: &Bound<'py, PyDict>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let p = page_of(page)?;
        let out = py.detach(|| self.inner.run(p));
        Ok(if out.kept() {
            vec![page_dict(py, page, &out.page)?]
        } else {
            vec![]
        })
    }
}

// ------------------------------------------------------------------ fastText -----------------

/// A fastText model (`.bin` / `.ftz`), predictions as the `fasttext` module returns them.
#[pyclass(module = "lmrepro._lmrepro", frozen)]
struct FastText {
    inner: lmrepro_fasttext::FastText,
}

type Predictions = (Vec<String>, Vec<f64>);

impl FastText {
    fn predict_one(&self, text: &str, k: i64, threshold: f64) -> PyResult<Predictions> {
        // The fasttext module's own check (its C++ reads one line per prediction).
        if text.contains('\n') {
            return Err(PyValueError::new_err(
                "predict processes one line at a time (remove '\\n')",
            ));
        }
        Ok(self.predict_unchecked(text, k, threshold))
    }

    fn predict_unchecked(&self, text: &str, k: i64, threshold: f64) -> Predictions {
        let k = if k < 0 {
            self.inner.nlabels()
        } else {
            k as usize
        };
        self.inner
            .predict(text, k)
            .into_iter()
            .filter(|p| p.prob as f64 >= threshold)
            .map(|p| (format!("__label__{}", p.label), p.prob as f64))
            .unzip()
    }
}

#[pymethods]
impl FastText {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<FastText> {
        let inner = py
            .detach(|| lmrepro_fasttext::FastText::load(&path))
            .map_err(err)?;
        Ok(FastText { inner })
    }

    /// `model.predict(text, k=1, threshold=0.0)`: `(labels, probs)` for a str, a list of those for
    /// a list of str (computed in parallel). Probabilities are fastText's float32 as Python floats.
    #[pyo3(signature = (text, k=1, threshold=0.0))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
        k: i64,
        threshold: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        if text.is_instance_of::<PyString>() {
            let s: String = text.extract()?;
            return self.predict_one(&s, k, threshold)?.into_bound_py_any(py);
        }
        let texts: Vec<String> = text.extract()?;
        let out = py.detach(|| {
            texts
                .par_iter()
                .map(|t| self.predict_one(t, k, threshold))
                .collect::<PyResult<Vec<_>>>()
        })?;
        let (labels, probs): (Vec<Vec<String>>, Vec<Vec<f64>>) = out.into_iter().unzip();
        (labels, probs).into_bound_py_any(py)
    }

    #[getter]
    fn nlabels(&self) -> usize {
        self.inner.nlabels()
    }
}

/// DCLM's fastText quality classifier: `score(text)` = P(`__label__hq`) after DCLM's
/// preprocessing (`" ".join(text.strip().splitlines())`), as `quality predict` writes it.
#[pyclass(module = "lmrepro._lmrepro", frozen)]
struct QualityClassifier {
    inner: Classifier,
}

#[pymethods]
impl QualityClassifier {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<QualityClassifier> {
        let inner = py.detach(|| Classifier::load(&path)).map_err(err)?;
        Ok(QualityClassifier { inner })
    }

    fn score(&self, py: Python<'_>, text: &str) -> f64 {
        py.detach(|| self.inner.score(text))
    }

    fn score_batch(&self, py: Python<'_>, texts: Vec<String>) -> Vec<f64> {
        py.detach(|| texts.par_iter().map(|t| self.inner.score(t)).collect())
    }
}

// ------------------------------------------------------------------ tokenizer ----------------

/// The input set naming the pinned GPT-NeoX-20B `tokenizer.json` (embedded: works outside a
/// checkout).
const CORPUS_INPUTS: &str = include_str!("../../../recipes/inputs/corpus.toml");
const NEOX: &str = "tokenizer/gpt-neox-20b/tokenizer.json";

/// A HF `tokenizer.json` tokenizer (GPT-NeoX-20B for DCLM); ids without special tokens.
#[pyclass(module = "lmrepro._lmrepro", frozen)]
struct Tokenizer {
    inner: lmrepro_tokenizer::Tokenizer,
}

#[pymethods]
impl Tokenizer {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Tokenizer> {
        let inner = py
            .detach(|| lmrepro_tokenizer::Tokenizer::from_file(&path))
            .map_err(err)?;
        Ok(Tokenizer { inner })
    }

    /// The pinned GPT-NeoX-20B tokenizer (resolved cache → mirror → download, sha256 checked).
    #[staticmethod]
    fn gpt_neox(py: Python<'_>) -> PyResult<Tokenizer> {
        let path = py
            .detach(|| -> anyhow::Result<PathBuf> {
                let inputs = lmrepro_data::parse_input_set(CORPUS_INPUTS)?;
                let input = inputs
                    .iter()
                    .find(|i| i.name == NEOX)
                    .ok_or_else(|| anyhow::anyhow!("{NEOX} missing from corpus.toml"))?;
                Ok(Resolver::from_env().path(input)?)
            })
            .map_err(err)?;
        Tokenizer::new(py, path)
    }

    fn encode(&self, py: Python<'_>, text: &str) -> PyResult<Vec<u32>> {
        py.detach(|| self.inner.encode(text)).map_err(err)
    }

    fn encode_batch(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<Vec<u32>>> {
        py.detach(|| {
            texts
                .par_iter()
                .map(|t| self.inner.encode(t))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .map_err(err)
    }

    fn decode(&self, py: Python<'_>, ids: Vec<u32>) -> PyResult<String> {
        py.detach(|| self.inner.decode(&ids)).map_err(err)
    }

    fn token_to_id(&self, token: &str) -> PyResult<u32> {
        self.inner.token_id(token).map_err(err)
    }

    #[getter]
    fn sha256(&self) -> String {
        self.inner.sha256().to_string()
    }
}

// ------------------------------------------------------------------ dedup --------------------

/// `dedup bff` over JSONL files into the stage folder `output`; returns the run's report.
#[pyfunction]
#[pyo3(signature = (inputs, output, expected_ngram_count=None, fp_rate=0.01, min_ngram_size=20,
    max_ngram_size=20, filtering_threshold=0.8, remove_type="old-both", seed=0, annotate=false))]
#[allow(clippy::too_many_arguments)]
fn bff_files<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    expected_ngram_count: Option<u64>,
    fp_rate: f64,
    min_ngram_size: usize,
    max_ngram_size: usize,
    filtering_threshold: f64,
    remove_type: &str,
    seed: u64,
    annotate: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = BffConfig {
        expected_ngram_count,
        fp_rate,
        min_ngram_size,
        max_ngram_size,
        filtering_threshold,
        remove_type: crate::remove_type(remove_type).map_err(err)?,
        seed,
        annotate,
        ..BffConfig::default()
    };
    let report = py
        .detach(|| bff::run(&inputs, &output, &cfg, |_, _| {}))
        .map_err(err)?;
    serde_to_py(py, &report)
}

/// `dedup minhash` over JSONL files into the stage folder `output`; returns the run's counts.
#[pyfunction]
#[pyo3(signature = (inputs, output, n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1))]
fn minhash_files<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    n_grams: usize,
    num_buckets: usize,
    hashes_per_bucket: usize,
    seed: u32,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = MinhashConfig {
        n_grams,
        num_buckets,
        hashes_per_bucket,
        seed,
        ..MinhashConfig::default()
    };
    let st = py
        .detach(|| minhash::run(&inputs, &output, &cfg))
        .map_err(err)?;
    serde_to_py(py, &st)
}

/// datatrove's MinHash signature of one text (`num_buckets * hashes_per_bucket` values), `None`
/// when it has no `n_grams`-shingle.
#[pyfunction]
#[pyo3(signature = (texts, n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1))]
fn minhash_signatures(
    py: Python<'_>,
    texts: Vec<String>,
    n_grams: usize,
    num_buckets: usize,
    hashes_per_bucket: usize,
    seed: u32,
) -> Vec<Option<Vec<u64>>> {
    py.detach(|| {
        let (a, b) = minhash::parameters(seed, num_buckets * hashes_per_bucket);
        texts
            .par_iter()
            .map(|t| minhash::signature(&minhash::shingles(t, n_grams), &a, &b))
            .collect()
    })
}

/// Reads a JSONL file (plain, `.gz` or `.zst`) into a list of values (blank lines skipped); a
/// malformed line raises with the file and line number.
#[pyfunction]
fn read_jsonl<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyList>> {
    let values = py
        .detach(|| -> anyhow::Result<Vec<Value>> {
            use std::io::BufRead;
            let mut out = Vec::new();
            for (i, line) in lmrepro_stage::jsonl::open_reader(&path)?
                .lines()
                .enumerate()
            {
                let line =
                    line.with_context(|| format!("{}:{}: read error", path.display(), i + 1))?;
                if line.trim().is_empty() {
                    continue;
                }
                out.push(
                    serde_json::from_str(&line)
                        .with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))?,
                );
            }
            Ok(out)
        })
        .map_err(err)?;
    let out = PyList::empty(py);
    for v in &values {
        out.append(json_to_py(py, v)?)?;
    }
    Ok(out)
}

#[pymodule]
fn _lmrepro(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LmreproError", m.py().get_type::<LmreproError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(extract_plain_text, m)?)?;
    m.add_function(wrap_pyfunction!(extract_plain_text_batch, m)?)?;
    m.add_function(wrap_pyfunction!(extract_warc, m)?)?;
    m.add_function(wrap_pyfunction!(iter_warc, m)?)?;
    m.add_function(wrap_pyfunction!(bff_files, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_files, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_signatures, m)?)?;
    m.add_function(wrap_pyfunction!(read_jsonl, m)?)?;
    m.add_class::<WarcIterator>()?;
    m.add_class::<Pipeline>()?;
    m.add_class::<FastText>()?;
    m.add_class::<QualityClassifier>()?;
    m.add_class::<Tokenizer>()?;
    Ok(())
}
