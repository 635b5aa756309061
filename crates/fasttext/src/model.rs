//! The model file reader and `predict`.
//!
//! What is reproduced exactly (all in f32, in fastText's order of operations):
//! - tokenisation (`Dictionary::readWord`), FNV-1a hash with fastText's signed-char quirk,
//!   character n-grams `<word>` (UTF-8 aware), pruned-bucket remapping (`pushHash`), word n-grams;
//! - the hidden vector: sum of input rows (product-quantized with norm codes, or dense) times
//!   `1/n`;
//! - hierarchical softmax (Huffman tree from label counts, DFS with `std_log = log(x + 1e-5)`) or
//!   full softmax, top-k with fastText's tie rule, `exp` of the log-probability.

use crate::tokens::{fasttext_tokens, EOS};
use anyhow::{bail, ensure, Context, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

const MAGIC: i32 = 793712314;
const BOW: &str = "<";
const EOW: &str = ">";
const LABEL_PREFIX: &str = "__label__";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    Hs,
    Ns,
    Softmax,
    Ova,
}

#[derive(Debug, Clone)]
struct Args {
    dim: usize,
    word_ngrams: i32,
    loss: Loss,
    bucket: i32,
    minn: i32,
    maxn: i32,
}

struct ProductQuantizer {
    /// The dimension the sub-quantizers cover (`dsub * (nsubq - 1) + lastdsub`, checked on load).
    dim: usize,
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

const KSUB: usize = 256;

impl ProductQuantizer {
    #[inline]
    fn centroids(&self, m: usize, code: u8) -> &[f32] {
        let code = code as usize;
        if m == self.nsubq - 1 {
            let s = m * KSUB * self.dsub + code * self.lastdsub;
            &self.centroids[s..s + self.lastdsub]
        } else {
            let s = (m * KSUB + code) * self.dsub;
            &self.centroids[s..s + self.dsub]
        }
    }
}

enum Matrix {
    Dense {
        cols: usize,
        data: Vec<f32>,
    },
    Quant {
        codes: Vec<u8>,
        pq: ProductQuantizer,
        norm: Option<(Vec<u8>, ProductQuantizer)>,
    },
}

impl Matrix {
    fn rows(&self) -> usize {
        match self {
            Matrix::Dense { cols, data } => data.len() / (*cols).max(1),
            Matrix::Quant { codes, pq, .. } => codes.len() / pq.nsubq.max(1),
        }
    }

    /// Asks the CPU to start loading row `i` (a hint: it changes no result). Summing the rows of
    /// a document is a chain of cache misses into a matrix far larger than the cache (DCLM's
    /// quality model: 2M hash buckets x 100 floats = 800 MB); issuing the loads a few rows ahead
    /// overlaps them.
    #[inline]
    fn prefetch_row(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Matrix::Dense { cols, data } = self {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let row = &data[i * cols..(i + 1) * cols];
            // One hint per 64-byte cache line of the row.
            for line in row.chunks(16) {
                // SAFETY: prefetching is a hint that never faults; the pointer is in bounds.
                #[allow(unused_unsafe)]
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(line.as_ptr() as *const i8)
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// The dense matrix whose row `i` is what [`Matrix::add_row_to`] adds for row `i` of this
    /// quantized one (`None` if it is dense or would hold more than `max_floats` floats).
    fn dequantized(&self, max_floats: usize) -> Option<Matrix> {
        let Matrix::Quant { pq, .. } = self else {
            return None;
        };
        let (rows, cols) = (self.rows(), pq.dim);
        if rows.checked_mul(cols)? > max_floats {
            return None;
        }
        let mut data = vec![0.0f32; rows * cols];
        for (i, row) in data.chunks_exact_mut(cols.max(1)).enumerate() {
            // +0 + alpha * centroid is the product, except that a -0 product becomes +0: adding
            // either to the hidden vector gives the same bits, since a sum that starts at +0
            // never becomes -0 (that needs -0 + -0).
            self.add_row_to(row, i);
        }
        Some(Matrix::Dense { cols, data })
    }

    /// `Vector::addRow(A, i)`: `x += A[i]` (quantized: `alpha * centroid`).
    fn add_row_to(&self, x: &mut [f32], i: usize) {
        match self {
            Matrix::Dense { cols, data } => {
                for (xj, a) in x.iter_mut().zip(&data[i * cols..(i + 1) * cols]) {
                    *xj += *a;
                }
            }
            Matrix::Quant { codes, pq, norm } => {
                let alpha = match norm {
                    Some((nc, npq)) => npq.centroids(0, nc[i])[0],
                    None => 1.0,
                };
                let code = &codes[pq.nsubq * i..pq.nsubq * (i + 1)];
                for (m, &cm) in code.iter().enumerate() {
                    let c = pq.centroids(m, cm);
                    let base = m * pq.dsub;
                    for (n, &cv) in c.iter().enumerate() {
                        x[base + n] += alpha * cv;
                    }
                }
            }
        }
    }

    /// `Matrix::dotRow(vec, i)`, accumulated in f32 in fastText's order.
    fn dot_row(&self, x: &[f32], i: usize) -> f32 {
        match self {
            Matrix::Dense { cols, data } => {
                let mut d = 0.0f32;
                for (a, xv) in data[i * cols..(i + 1) * cols].iter().zip(x) {
                    d += *a * *xv;
                }
                d
            }
            Matrix::Quant { codes, pq, norm } => {
                let alpha = match norm {
                    Some((nc, npq)) => npq.centroids(0, nc[i])[0],
                    None => 1.0,
                };
                let code = &codes[pq.nsubq * i..pq.nsubq * (i + 1)];
                let mut res = 0.0f32;
                for (m, &cm) in code.iter().enumerate() {
                    let c = pq.centroids(m, cm);
                    let base = m * pq.dsub;
                    for (n, &cv) in c.iter().enumerate() {
                        res += x[base + n] * cv;
                    }
                }
                res * alpha
            }
        }
    }
}

#[derive(Clone, Copy)]
struct TreeNode {
    left: i32,
    right: i32,
    count: i64,
}

/// A loaded fastText supervised model.
pub struct FastText {
    /// Identifies this model in the per-thread subword cache.
    instance: u64,
    args: Args,
    /// Dictionary entries (words and labels) and their lookup by fastText's own hash.
    words: Vec<Vec<u8>>,
    word_table: WordTable,
    /// Per dictionary entry: is it a label, and its subword ids (words only).
    is_label: Vec<bool>,
    subwords: Vec<Vec<i32>>,
    labels: Vec<String>,
    nwords: i32,
    /// `pruneidx_size_` (-1: not pruned) and the map.
    pruneidx_size: i64,
    /// Looked up for every character n-gram of an out-of-vocabulary word (lid.176.ftz: 42,765
    /// entries, most n-grams absent): FxHash, not SipHash.
    pruneidx: HashMap<i32, i32, rustc_hash::FxBuildHasher>,
    input: Matrix,
    output: Matrix,
    tree: Vec<TreeNode>,
}

/// Open-addressing table from a dictionary entry's [`ft_hash`] to its id: the hash is computed
/// anyway for the word n-grams, so a lookup costs one hash of the word instead of two.
struct WordTable {
    /// `-1` = empty slot; size a power of two, at most half full.
    slots: Vec<i32>,
    mask: usize,
}

impl WordTable {
    fn new(words: &[Vec<u8>]) -> WordTable {
        let size = (2 * words.len()).next_power_of_two().max(2);
        let mut t = WordTable {
            slots: vec![-1; size],
            mask: size - 1,
        };
        for (id, w) in words.iter().enumerate() {
            let mut i = ft_hash(w) as usize & t.mask;
            while t.slots[i] >= 0 {
                i = (i + 1) & t.mask;
            }
            t.slots[i] = id as i32;
        }
        t
    }

    #[inline]
    fn find(&self, words: &[Vec<u8>], w: &[u8], hash: u32) -> Option<i32> {
        let mut i = hash as usize & self.mask;
        loop {
            let id = self.slots[i];
            if id < 0 {
                return None;
            }
            if words[id as usize] == w {
                return Some(id);
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// One prediction: the label without `__label__` and its probability (fastText's f32).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub label: String,
    pub prob: f32,
}

/// Reads the model file front to back (no copy of the whole file in memory: DCLM's classifier is
/// 855 MB); `pos` is for error messages.
struct Reader<R> {
    r: R,
    pos: u64,
    /// The stream's total length when known (a file, a byte slice): a size field asking for more
    /// than what is left is a truncated or corrupt file, reported before anything is allocated.
    len: Option<u64>,
}

impl<R: BufRead> Reader<R> {
    fn fill(&mut self, out: &mut [u8]) -> Result<()> {
        self.r.read_exact(out).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                anyhow::anyhow!(
                    "truncated fastText model: wanted {} bytes at offset {}",
                    out.len(),
                    self.pos
                )
            } else {
                anyhow::Error::new(e).context(format!("reading at offset {}", self.pos))
            }
        })?;
        self.pos += out.len() as u64;
        Ok(())
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }
    /// Fails unless `bytes` more bytes can still be in the stream (when its length is known).
    fn expect_available(&mut self, bytes: u128, what: &str) -> Result<()> {
        if let Some(len) = self.len {
            let left = len.saturating_sub(self.pos);
            ensure!(
                bytes <= left as u128,
                "truncated or corrupt fastText model: {what} needs {bytes} bytes at offset {}, \
                 only {left} left",
                self.pos
            );
        }
        Ok(())
    }
    /// The initial capacity for `n` items: all of them when the stream is known to hold them,
    /// else at most 1 GiB worth, so a corrupt size in an unsized stream cannot reserve unbounded
    /// memory before the read fails.
    fn capacity(&self, n: usize, item: usize) -> usize {
        if self.len.is_some() {
            n
        } else {
            n.min((1 << 30) / item)
        }
    }
    fn take(&mut self, n: usize) -> Result<Vec<u8>> {
        self.expect_available(n as u128, "a byte array")?;
        let mut v = Vec::with_capacity(self.capacity(n, 1));
        let mut chunk = vec![0u8; 1 << 16];
        while v.len() < n {
            let k = (n - v.len()).min(chunk.len());
            self.fill(&mut chunk[..k])?;
            v.extend_from_slice(&chunk[..k]);
        }
        Ok(v)
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        n.checked_mul(4).context("matrix too large")?;
        self.expect_available(4 * n as u128, "a matrix")?;
        let mut out = Vec::with_capacity(self.capacity(n, 4));
        advise_huge_pages(&out);
        let mut chunk = vec![0u8; 1 << 16];
        while out.len() < n {
            let k = (n - out.len()).min(chunk.len() / 4);
            self.fill(&mut chunk[..4 * k])?;
            out.extend(
                chunk[..4 * k]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
            );
        }
        Ok(out)
    }
    fn cstr(&mut self) -> Result<Vec<u8>> {
        let mut w = Vec::new();
        self.r
            .read_until(0, &mut w)
            .with_context(|| format!("reading at offset {}", self.pos))?;
        self.pos += w.len() as u64;
        ensure!(
            w.pop() == Some(0),
            "truncated fastText dictionary entry at offset {}",
            self.pos
        );
        Ok(w)
    }
    fn at_end(&mut self) -> Result<bool> {
        Ok(self.r.fill_buf()?.is_empty())
    }
}

/// Asks Linux to back a large matrix with 2 MiB pages before it is first written. Inference reads
/// rows at random from matrices far larger than what the TLB covers with 4 KiB pages, so every row
/// costs a page walk; with transparent huge pages in `madvise` mode (the common default) this
/// call is what enables them. A hint only: values are unchanged, and failure is ignored.
fn advise_huge_pages(v: &Vec<f32>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + v.capacity() * std::mem::size_of::<f32>();
        let (a, e) = ((start + HUGE - 1) & !(HUGE - 1), end & !(HUGE - 1));
        if e > a {
            // SAFETY: [a, e) lies inside the vector's allocation; MADV_HUGEPAGE changes no
            // contents and no mapping permissions.
            unsafe {
                libc::madvise(a as *mut libc::c_void, e - a, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

fn usize_of(v: i64, what: &str) -> Result<usize> {
    usize::try_from(v).with_context(|| format!("fastText model: negative {what} ({v})"))
}

fn read_pq<R: BufRead>(r: &mut Reader<R>) -> Result<ProductQuantizer> {
    let dim = usize_of(r.i32()? as i64, "pq dim")?;
    let nsubq = usize_of(r.i32()? as i64, "pq nsubq")?;
    let dsub = usize_of(r.i32()? as i64, "pq dsub")?;
    let lastdsub = usize_of(r.i32()? as i64, "pq lastdsub")?;
    ensure!(
        nsubq > 0,
        "fastText model: product quantizer with 0 sub-quantizers"
    );
    // Every centroid slice `centroids(m, code)` must lie inside the table and cover exactly
    // `dim` coordinates; a file that disagrees would index out of bounds at prediction time.
    ensure!(
        dsub.checked_mul(nsubq - 1)
            .and_then(|d| d.checked_add(lastdsub))
            == Some(dim)
            && (if nsubq == 1 { lastdsub } else { dsub }) > 0,
        "fastText model: product quantizer of dim {dim} with {nsubq} sub-quantizers of \
         {dsub} (last {lastdsub}) does not add up, at offset {}",
        r.pos
    );
    let centroids = r.f32s(dim * KSUB)?;
    Ok(ProductQuantizer {
        dim,
        nsubq,
        dsub,
        lastdsub,
        centroids,
    })
}

fn read_matrix<R: BufRead>(r: &mut Reader<R>, quant: bool) -> Result<Matrix> {
    if quant {
        let qnorm = r.u8()? != 0;
        let m = usize_of(r.i64()?, "rows")?;
        let _n = r.i64()?;
        let codesize = usize_of(r.i32()? as i64, "code size")?;
        let codes = r.take(codesize)?;
        let pq = read_pq(r)?;
        ensure!(
            Some(codes.len()) == m.checked_mul(pq.nsubq),
            "fastText model: {} codes for {m} rows x {} sub-quantizers",
            codes.len(),
            pq.nsubq
        );
        let norm = if qnorm {
            let nc = r.take(m)?;
            Some((nc, read_pq(r)?))
        } else {
            None
        };
        Ok(Matrix::Quant { codes, pq, norm })
    } else {
        let m = usize_of(r.i64()?, "rows")?;
        let n = usize_of(r.i64()?, "cols")?;
        let len = m
            .checked_mul(n)
            .with_context(|| format!("fastText model: matrix of {m} x {n} is too large"))?;
        let data = r.f32s(len)?;
        Ok(Matrix::Dense { cols: n, data })
    }
}

/// fastText's `Dictionary::hash`: FNV-1a over bytes sign-extended from `int8_t`.
#[inline]
fn ft_hash(s: &[u8]) -> u32 {
    s.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b))
}

const FNV_OFFSET: u32 = 2166136261;

/// One byte of [`ft_hash`].
#[inline]
fn fnv_step(h: u32, b: u8) -> u32 {
    (h ^ b as i8 as i32 as u32).wrapping_mul(16777619)
}

impl FastText {
    pub fn load(path: &Path) -> Result<FastText> {
        let f = std::fs::File::open(path)
            .with_context(|| format!("opening fastText model {}", path.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        FastText::read(std::io::BufReader::with_capacity(1 << 20, f), len, true)
            .with_context(|| format!("loading fastText model {}", path.display()))
    }

    /// Like [`FastText::load`], but a quantized input matrix stays quantized as stored (the
    /// reference the expanded matrix is tested against; same predictions, slower).
    pub fn load_as_stored(path: &Path) -> Result<FastText> {
        let f = std::fs::File::open(path)
            .with_context(|| format!("opening fastText model {}", path.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        FastText::read(std::io::BufReader::with_capacity(1 << 20, f), len, false)
            .with_context(|| format!("loading fastText model {}", path.display()))
    }

    pub fn from_bytes(buf: &[u8]) -> Result<FastText> {
        FastText::read(buf, Some(buf.len() as u64), true)
    }

    /// Reads a model from a stream (e.g. one that also hashes the bytes it passes on).
    pub fn from_reader<R: BufRead>(reader: R) -> Result<FastText> {
        FastText::read(reader, None, true)
    }

    fn read<R: BufRead>(reader: R, len: Option<u64>, dequantize: bool) -> Result<FastText> {
        let mut r = Reader {
            r: reader,
            pos: 0,
            len,
        };
        let magic = r.i32()?;
        ensure!(
            magic == MAGIC,
            "not a fastText model (magic {magic}, expected {MAGIC})"
        );
        let version = r.i32()?;
        ensure!(
            version == 12,
            "unsupported fastText model version {version} (expected 12)"
        );
        let dim = usize_of(r.i32()? as i64, "dim")?;
        ensure!(dim > 0, "fastText model: dim 0");
        let _ws = r.i32()?;
        let _epoch = r.i32()?;
        let _min_count = r.i32()?;
        let _neg = r.i32()?;
        let word_ngrams = r.i32()?;
        let loss = match r.i32()? {
            1 => Loss::Hs,
            2 => Loss::Ns,
            3 => Loss::Softmax,
            4 => Loss::Ova,
            l => bail!("unknown fastText loss {l}"),
        };
        let model = r.i32()?;
        ensure!(
            model == 3,
            "fastText model is not supervised (model={model})"
        );
        let bucket = r.i32()?;
        let minn = r.i32()?;
        let maxn = r.i32()?;
        // Character n-grams (maxn > 0) and word n-grams hash into `bucket` rows: the C++ library
        // divides by it, so 0 there is a corrupt file (undefined behaviour in C++), not a model.
        ensure!(
            bucket > 0 || (bucket == 0 && maxn <= 0 && word_ngrams <= 1),
            "fastText model: bucket {bucket} with maxn {maxn} and wordNgrams {word_ngrams}"
        );
        let _lr_update = r.i32()?;
        let _t = r.f64()?;
        let args = Args {
            dim,
            word_ngrams,
            loss,
            bucket,
            minn,
            maxn,
        };

        // Dictionary.
        let size = r.i32()?;
        let nwords = r.i32()?;
        let nlabels = r.i32()?;
        let _ntokens = r.i64()?;
        let pruneidx_size = r.i64()?;
        let mut is_label = Vec::new();
        let mut words = Vec::new();
        let mut label_counts = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..size {
            let w = r.cstr()?;
            let count = r.i64()?;
            let ty = r.u8()?;
            if ty == 1 {
                label_counts.push(count);
                let s = String::from_utf8_lossy(&w);
                labels.push(s.strip_prefix(LABEL_PREFIX).unwrap_or(&s).to_string());
            }
            is_label.push(ty == 1);
            words.push(w);
        }
        // fastText's own table maps each entry to its first id; a file never repeats an entry.
        ensure!(
            size >= 0 && words.len() == size as usize,
            "fastText dictionary: bad size {size}"
        );
        ensure!(
            labels.len() == nlabels as usize && (size - nlabels) == nwords,
            "fastText dictionary: {size} entries, {nwords} words, {nlabels} labels do not add up"
        );
        let mut pruneidx = HashMap::default();
        for _ in 0..pruneidx_size.max(0) {
            let a = r.i32()?;
            let b = r.i32()?;
            pruneidx.insert(a, b);
        }
        let mut ft = FastText {
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            args,
            word_table: WordTable::new(&words),
            words: Vec::new(),
            is_label,
            subwords: Vec::new(),
            labels,
            nwords,
            pruneidx_size,
            pruneidx,
            input: Matrix::Dense {
                cols: 0,
                data: vec![],
            },
            output: Matrix::Dense {
                cols: 0,
                data: vec![],
            },
            tree: Vec::new(),
        };
        // `initNgrams`: each word's subwords = [id] + n-grams of "<word>" (none for EOS).
        let mut subwords = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let mut v = vec![i as i32];
            if w.as_slice() != EOS.as_bytes() {
                let mut bw = Vec::with_capacity(w.len() + 2);
                bw.extend_from_slice(BOW.as_bytes());
                bw.extend_from_slice(w);
                bw.extend_from_slice(EOW.as_bytes());
                ft.compute_subwords(&bw, &mut v);
            }
            subwords.push(v);
        }
        ft.subwords = subwords;
        ft.words = words;

        let quant_input = r.u8()? != 0;
        ft.input = read_matrix(&mut r, quant_input)?;
        let qout = r.u8()? != 0;
        ft.output = read_matrix(&mut r, quant_input && qout)?;
        ensure!(
            r.at_end()?,
            "fastText model has trailing bytes after offset {}",
            r.pos
        );
        ensure!(
            ft.output.rows() == nlabels as usize,
            "output matrix has {} rows for {nlabels} labels",
            ft.output.rows()
        );
        ft.check_shapes()?;
        // A small quantized input matrix (lid.176.ftz: 50,000 rows of 16) is expanded once into
        // the f32 rows `add_row_to` would build on every use: each element is the same f32
        // product `alpha * centroid`, added in the same order, so the sums are bit-identical,
        // and a row costs 16 additions instead of 8 code and centroid look-ups.
        if dequantize {
            if let Some(dense) = ft.input.dequantized(DEQUANTIZE_MAX_FLOATS) {
                ft.input = dense;
            }
        }
        if ft.args.loss == Loss::Hs {
            ft.tree = build_tree(&label_counts)?;
        }
        Ok(ft)
    }

    /// What `predict` relies on and fastText's writer guarantees; a file that breaks it is corrupt
    /// (the C++ library would read out of bounds).
    fn check_shapes(&self) -> Result<()> {
        ensure!(!self.labels.is_empty(), "fastText model without labels");
        let dim = self.args.dim;
        for (name, m) in [("input", &self.input), ("output", &self.output)] {
            let cols = match m {
                Matrix::Dense { cols, .. } => *cols,
                Matrix::Quant { pq, norm, .. } => {
                    if let Some((_, npq)) = norm {
                        ensure!(
                            npq.dim >= 1,
                            "fastText model: {name} norm quantizer of dim 0"
                        );
                    }
                    pq.dim
                }
            };
            ensure!(
                cols == dim,
                "fastText model: {name} matrix has {cols} columns for dim {dim}"
            );
        }
        // Words come before labels (fastText sorts its dictionary so), so a word's id is a row of
        // the input matrix.
        let nwords = self.nwords as usize;
        if let Some(i) = (0..self.is_label.len()).find(|&i| self.is_label[i] != (i >= nwords)) {
            bail!("fastText dictionary: entry {i} is out of order (words must precede labels)");
        }
        let rows = self.input.rows();
        let hashed = self.args.maxn > 0 || self.args.word_ngrams > 1;
        let needed = if self.pruneidx_size > 0 {
            match self.pruneidx.values().copied().filter(|&v| v >= 0).max() {
                Some(v) => nwords as u64 + v as u64 + 1,
                None => nwords as u64,
            }
        } else if self.pruneidx_size < 0 && hashed {
            nwords as u64 + self.args.bucket as u64
        } else {
            nwords as u64
        };
        ensure!(
            rows as u64 >= needed,
            "fastText model: input matrix has {rows} rows, the dictionary needs {needed}"
        );
        if let Some(&v) = self.pruneidx.values().find(|&&v| v < 0) {
            bail!("fastText model: negative pruned n-gram index {v}");
        }
        Ok(())
    }

    /// Number of labels.
    pub fn nlabels(&self) -> usize {
        self.labels.len()
    }

    /// `Dictionary::computeSubwords`. FNV-1a is a left fold over the bytes, so the hash of each
    /// n-gram extends the hash of the (n-1)-gram starting at the same character instead of
    /// hashing a copied n-gram (a test compares this with the copy-and-hash form).
    fn compute_subwords(&self, word: &[u8], out: &mut Vec<i32>) {
        let (minn, maxn) = (self.args.minn as usize, self.args.maxn.max(0) as usize);
        let bucket = self.args.bucket as u32;
        for i in 0..word.len() {
            if word[i] & 0xC0 == 0x80 {
                continue;
            }
            let mut h = FNV_OFFSET;
            let mut j = i;
            let mut n = 1;
            while j < word.len() && n <= maxn {
                h = fnv_step(h, word[j]);
                j += 1;
                while j < word.len() && word[j] & 0xC0 == 0x80 {
                    h = fnv_step(h, word[j]);
                    j += 1;
                }
                if n >= minn && !(n == 1 && (i == 0 || j == word.len())) {
                    self.push_hash(out, (h % bucket) as i32);
                }
                n += 1;
            }
        }
    }

    /// [`FastText::compute_subwords`] as fastText writes it: copy each n-gram, then hash it.
    #[cfg(test)]
    fn compute_subwords_copying(&self, word: &[u8], out: &mut Vec<i32>) {
        let (minn, maxn) = (self.args.minn as usize, self.args.maxn.max(0) as usize);
        let mut ngram = Vec::new();
        for i in 0..word.len() {
            if word[i] & 0xC0 == 0x80 {
                continue;
            }
            ngram.clear();
            let mut j = i;
            let mut n = 1;
            while j < word.len() && n <= maxn {
                ngram.push(word[j]);
                j += 1;
                while j < word.len() && word[j] & 0xC0 == 0x80 {
                    ngram.push(word[j]);
                    j += 1;
                }
                if n >= minn && !(n == 1 && (i == 0 || j == word.len())) {
                    let h = (ft_hash(&ngram) % self.args.bucket as u32) as i32;
                    self.push_hash(out, h);
                }
                n += 1;
            }
        }
    }

    /// Subword ids of a word missing from the dictionary (`computeSubwords("<" + word + ">")`),
    /// through a per-thread cache: they depend only on the word and the model, and the same
    /// out-of-vocabulary words recur from page to page (language ID spent most of its time
    /// hashing their character n-grams). `hash` is the word's [`ft_hash`].
    ///
    /// Short words with few ids (lid.176.ftz keeps 0–2 of a word's n-grams) live in one 64-byte
    /// slot each, found by `hash` without rehashing the word: a lookup is one cache line instead
    /// of a slot, a boxed key and boxed ids (three cache misses, most of the cost before).
    fn oov_subwords(&self, word: &[u8], hash: u32, ids: &mut Vec<i32>) {
        if word.len() > OOV_CACHE_MAX_WORD {
            self.compute_oov_subwords(word, ids);
            return;
        }
        OOV_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.instance != self.instance {
                *cache = OovCache::new(self.instance);
            }
            let key = (word.len() <= SLOT_KEY).then(|| {
                let mut k = [0u8; SLOT_KEY];
                k[..word.len()].copy_from_slice(word);
                k
            });
            if let Some(key) = &key {
                let len = word.len() as u8;
                let hit = cache.small.find(spread(hash), |s| {
                    s.hash == hash && s.key_len == len && s.key == *key
                });
                if let Some(s) = hit {
                    ids.extend_from_slice(&s.ids[..s.nids as usize]);
                    return;
                }
            }
            if let Some(sub) = cache.large.get(word) {
                ids.extend_from_slice(sub);
                return;
            }
            let start = ids.len();
            self.compute_oov_subwords(word, ids);
            let new = &ids[start..];
            match key {
                Some(key) if new.len() <= SLOT_IDS => {
                    if cache.small.len() >= OOV_CACHE_MAX_ENTRIES {
                        cache.small.clear();
                    }
                    let mut slot = OovSlot {
                        hash,
                        key_len: word.len() as u8,
                        nids: new.len() as u8,
                        key,
                        ids: [0; SLOT_IDS],
                    };
                    slot.ids[..new.len()].copy_from_slice(new);
                    cache
                        .small
                        .insert_unique(spread(hash), slot, |s| spread(s.hash));
                }
                _ => {
                    if cache.large.len() >= OOV_CACHE_MAX_ENTRIES {
                        cache.large.clear();
                    }
                    cache.large.insert(word.into(), new.into());
                }
            }
        });
    }

    fn compute_oov_subwords(&self, word: &[u8], ids: &mut Vec<i32>) {
        let mut bw = Vec::with_capacity(word.len() + 2);
        bw.extend_from_slice(BOW.as_bytes());
        bw.extend_from_slice(word);
        bw.extend_from_slice(EOW.as_bytes());
        self.compute_subwords(&bw, ids);
    }

    /// `Dictionary::pushHash`.
    #[inline]
    fn push_hash(&self, out: &mut Vec<i32>, id: i32) {
        if self.pruneidx_size == 0 || id < 0 {
            return;
        }
        let id = if self.pruneidx_size > 0 {
            match self.pruneidx.get(&id) {
                Some(&m) => m,
                None => return,
            }
        } else {
            id
        };
        out.push(self.nwords + id);
    }

    /// `Dictionary::getLine` on one line (the text must not contain `\n`; `</s>` is appended as
    /// the Python binding appends `"\n"`).
    fn line_ids(&self, text: &str) -> Vec<i32> {
        let mut ids = Vec::new();
        let mut hashes = Vec::new();
        let mut add = |tok: &str, ids: &mut Vec<i32>| {
            let b = tok.as_bytes();
            let h = ft_hash(b);
            match self.word_table.find(&self.words, b, h) {
                Some(wid) => {
                    if !self.is_label[wid as usize] {
                        if self.args.maxn <= 0 {
                            ids.push(wid);
                        } else {
                            ids.extend_from_slice(&self.subwords[wid as usize]);
                        }
                        hashes.push(h);
                    }
                }
                None => {
                    if !tok.starts_with(LABEL_PREFIX) {
                        if tok != EOS {
                            self.oov_subwords(b, h, ids);
                        }
                        hashes.push(h);
                    }
                }
            }
        };
        for tok in fasttext_tokens(text) {
            // getLine stops at the first EOS; the caller removed newlines, so this is the end.
            if tok == EOS {
                break;
            }
            add(tok, &mut ids);
        }
        add(EOS, &mut ids);
        // `addWordNgrams`.
        let n = self.args.word_ngrams;
        if n > 1 {
            // C++ keeps the word hashes as `int32_t` and widens them to `uint64_t`: negative ones
            // sign-extend (`as i32 as u64`), which decides the bucket of about half the bigrams.
            let widen = |h: u32| h as i32 as u64;
            for i in 0..hashes.len() {
                let mut h = widen(hashes[i]);
                for &hj in hashes.iter().skip(i + 1).take(n as usize - 1) {
                    h = h.wrapping_mul(116049371).wrapping_add(widen(hj));
                    // fastText: uint64_t h; pushHash(line, h % bucket)
                    self.push_hash(&mut ids, (h % self.args.bucket as u64) as i32);
                }
            }
        }
        ids
    }

    /// `model.predict(text, k)` of the Python module: `text` must not contain `\n`.
    pub fn predict(&self, text: &str, k: usize) -> Vec<Prediction> {
        let ids = self.line_ids(text);
        if ids.is_empty() || k == 0 {
            return Vec::new();
        }
        let dim = self.args.dim;
        let mut hidden = vec![0.0f32; dim];
        // Rows are added in fastText's order (f32 sums are order-dependent); the prefetch distance
        // only decides how early each row's load is issued.
        // Measured on DCLM's classifier (2-core EPYC VM, huge pages on): 8 rows ahead cut the
        // prediction time by about a quarter; 4 and 16 were no better.
        const AHEAD: usize = 8;
        for &id in ids.iter().take(AHEAD) {
            self.input.prefetch_row(id as usize);
        }
        for (n, &id) in ids.iter().enumerate() {
            if let Some(&next) = ids.get(n + AHEAD) {
                self.input.prefetch_row(next as usize);
            }
            self.input.add_row_to(&mut hidden, id as usize);
        }
        let scale = (1.0f64 / ids.len() as f64) as f32;
        for h in &mut hidden {
            *h *= scale;
        }
        let threshold = std_log(0.0);
        let mut heap: Vec<(f32, usize)> = Vec::new();
        match self.args.loss {
            Loss::Hs => {
                let root = 2 * self.labels.len() - 2;
                self.dfs(k, threshold, root, 0.0, &mut heap, &hidden);
            }
            Loss::Softmax | Loss::Ns | Loss::Ova => {
                let n = self.labels.len();
                let mut out: Vec<f32> = (0..n).map(|i| self.output.dot_row(&hidden, i)).collect();
                if self.args.loss == Loss::Softmax {
                    let max = out.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let mut z = 0.0f32;
                    for o in &mut out {
                        *o = (*o - max).exp();
                        z += *o;
                    }
                    for o in &mut out {
                        *o /= z;
                    }
                } else {
                    for o in &mut out {
                        *o = (1.0 / (1.0 + (-(*o as f64)).exp())) as f32;
                    }
                }
                for (i, &p) in out.iter().enumerate() {
                    let s = std_log(p);
                    if s < threshold {
                        continue;
                    }
                    heap_push(&mut heap, k, (s, i));
                }
            }
        }
        // sort_heap with `a.first > b.first`: descending score.
        heap.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        heap.into_iter()
            .map(|(s, i)| Prediction {
                label: self.labels[i].clone(),
                prob: s.exp(),
            })
            .collect()
    }

    fn dfs(
        &self,
        k: usize,
        threshold: f32,
        node: usize,
        score: f32,
        heap: &mut Vec<(f32, usize)>,
        hidden: &[f32],
    ) {
        if score < threshold {
            return;
        }
        if heap.len() == k && score < heap_front(heap) {
            return;
        }
        let t = self.tree[node];
        if t.left == -1 && t.right == -1 {
            heap_push(heap, k, (score, node));
            return;
        }
        let osz = self.labels.len();
        let f = self.output.dot_row(hidden, node - osz);
        // `f = 1. / (1 + std::exp(-f))`: expf, then the division in double, stored as float.
        let f = (1.0f64 / (1.0f32 + (-f).exp()) as f64) as f32;
        self.dfs(
            k,
            threshold,
            t.left as usize,
            score + std_log((1.0f64 - f as f64) as f32),
            heap,
            hidden,
        );
        self.dfs(
            k,
            threshold,
            t.right as usize,
            score + std_log(f),
            heap,
            hidden,
        );
    }
}

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);
/// Quantized input matrices up to this many floats (64 MiB) are expanded at load.
const DEQUANTIZE_MAX_FLOATS: usize = 16 << 20;
/// Longer words are rare and rarely repeat: not cached.
const OOV_CACHE_MAX_WORD: usize = 64;
/// A thread's cache is cleared at this many words (bounds memory on odd inputs).
const OOV_CACHE_MAX_ENTRIES: usize = 1 << 16;

/// Key bytes and ids held in an [`OovSlot`] (the slot is 64 bytes, one cache line).
const SLOT_KEY: usize = 26;
const SLOT_IDS: usize = 8;

/// A cached out-of-vocabulary word (zero-padded key) and its subword ids.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct OovSlot {
    hash: u32,
    key_len: u8,
    nids: u8,
    key: [u8; SLOT_KEY],
    ids: [i32; SLOT_IDS],
}

const _: () = assert!(std::mem::size_of::<OovSlot>() == 64);

/// Spreads a 32-bit [`ft_hash`] over the 64 bits the table takes its bucket and tag from.
#[inline]
fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One thread's cache of out-of-vocabulary subword ids, for the model `instance`.
struct OovCache {
    instance: u64,
    /// Words of at most [`SLOT_KEY`] bytes with at most [`SLOT_IDS`] ids.
    small: hashbrown::HashTable<OovSlot>,
    /// The other words up to [`OOV_CACHE_MAX_WORD`] bytes.
    large: HashMap<Box<[u8]>, Box<[i32]>, rustc_hash::FxBuildHasher>,
}

impl OovCache {
    fn new(instance: u64) -> OovCache {
        OovCache {
            instance,
            small: hashbrown::HashTable::new(),
            large: HashMap::default(),
        }
    }
}

thread_local! {
    static OOV_CACHE: RefCell<OovCache> = RefCell::new(OovCache::new(0));
}

/// The smallest score kept (the front of fastText's min-heap).
fn heap_front(heap: &[(f32, usize)]) -> f32 {
    heap.iter().map(|h| h.0).fold(f32::INFINITY, f32::min)
}

/// `push_heap` then, above k entries, `pop_heap`: drops the smallest score. Among equal smallest
/// scores std::pop_heap removes the one at the heap's front, which is the older entry; we keep
/// the newest, as fastText does for k = 1.
fn heap_push(heap: &mut Vec<(f32, usize)>, k: usize, item: (f32, usize)) {
    heap.push(item);
    if heap.len() > k {
        let min = heap_front(heap);
        // A model with NaN weights gives NaN scores, which `min` skips: when nothing equals the
        // minimum (every kept score is NaN) the oldest NaN goes. Found by the fasttext_model fuzz
        // target (it panicked here).
        let pos = heap
            .iter()
            .position(|h| h.0 == min)
            .or_else(|| heap.iter().position(|h| h.0.is_nan()))
            .unwrap_or(0);
        heap.remove(pos);
    }
}

/// `Loss::std_log`: `std::log(x + 1e-5)` in double, returned as float.
#[inline]
fn std_log(x: f32) -> f32 {
    (x as f64 + 1e-5).ln() as f32
}

/// `HierarchicalSoftmaxLoss::buildTree`: Huffman tree over label counts (labels sorted by count).
///
/// fastText's build assumes counts below its 1e15 sentinel; with a larger (corrupt) count it
/// picks an internal node not built yet (past the end, or the node itself, after which `predict`
/// loops forever — in C++ too). That is an error here: found by the fasttext_model fuzz target
/// (first an index out of bounds, then a hang).
fn build_tree(counts: &[i64]) -> Result<Vec<TreeNode>> {
    let osz = counts.len();
    let mut tree = vec![
        TreeNode {
            left: -1,
            right: -1,
            count: 1_000_000_000_000_000,
        };
        2 * osz - 1
    ];
    for (i, &c) in counts.iter().enumerate() {
        tree[i].count = c;
    }
    let mut leaf = osz as i64 - 1;
    let mut node = osz;
    for i in osz..2 * osz - 1 {
        let mut mini = [0usize; 2];
        for m in &mut mini {
            if leaf >= 0 && tree[leaf as usize].count < tree[node].count {
                *m = leaf as usize;
                leaf -= 1;
            } else {
                ensure!(
                    node < i,
                    "fastText model: label counts do not form a Huffman tree (node {i})"
                );
                *m = node;
                node += 1;
            }
        }
        tree[i].left = mini[0] as i32;
        tree[i].right = mini[1] as i32;
        tree[i].count = tree[mini[0]].count.saturating_add(tree[mini[1]].count);
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A model with only what `compute_subwords` reads: n-gram sizes, buckets, pruning.
    fn toy(minn: i32, maxn: i32, bucket: i32, pruned: &[(i32, i32)]) -> FastText {
        let empty = || Matrix::Dense {
            cols: 0,
            data: vec![],
        };
        FastText {
            instance: 0,
            args: Args {
                dim: 1,
                word_ngrams: 1,
                loss: Loss::Softmax,
                bucket,
                minn,
                maxn,
            },
            words: vec![],
            word_table: WordTable::new(&[]),
            is_label: vec![],
            subwords: vec![],
            labels: vec![],
            nwords: 10,
            pruneidx_size: if pruned.is_empty() {
                -1
            } else {
                pruned.len() as i64
            },
            pruneidx: pruned.iter().copied().collect(),
            input: empty(),
            output: empty(),
            tree: vec![],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// The cache hands back what computing gives, for words in either table (short words
        /// with few ids, words with many ids, long words) and for words met again.
        #[test]
        fn cached_oov_subwords_equal_computed_ones(
            words in prop::collection::vec(
                prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c', 0xC3, 0xA9]), 0..40),
                1..12,
            ),
            bucket in 1i32..400,
            prune in any::<bool>(),
        ) {
            let pruned: Vec<(i32, i32)> = if prune {
                (0..bucket).step_by(7).map(|b| (b, b)).collect()
            } else {
                vec![]
            };
            let mut m = toy(2, 4, bucket, &pruned);
            m.instance = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
            for w in words.iter().chain(&words) {
                let (mut cached, mut computed) = (vec![-1], vec![-1]);
                m.oov_subwords(w, ft_hash(w), &mut cached);
                m.compute_oov_subwords(w, &mut computed);
                prop_assert_eq!(cached, computed);
            }
        }

        /// Incremental n-gram hashing equals hashing each copied n-gram, on UTF-8 and on broken
        /// byte strings, with and without pruned buckets.
        #[test]
        fn incremental_subword_hashes_equal_copied_ones(
            word in prop::collection::vec(
                prop::sample::select(vec![b'<', b'>', b'a', b'z', 0xC3, 0xA9, 0xE4, 0xB8, 0x80, 0xF0, 0x9F]),
                0..24,
            ),
            minn in 0i32..4,
            span in 0i32..5,
            bucket in 1i32..50,
            prune in any::<bool>(),
        ) {
            let pruned: Vec<(i32, i32)> = if prune {
                (0..bucket).step_by(3).map(|b| (b, b / 2)).collect()
            } else {
                vec![]
            };
            let m = toy(minn, minn + span, bucket, &pruned);
            let (mut fast, mut slow) = (vec![], vec![]);
            m.compute_subwords(&word, &mut fast);
            m.compute_subwords_copying(&word, &mut slow);
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn hash_is_fnv1a_with_signed_bytes() {
        assert_eq!(ft_hash(b""), 2166136261);
        // 'a' = 0x61: (2166136261 ^ 0x61) * 16777619 mod 2^32
        assert_eq!(ft_hash(b"a"), 0xe40c292c);
        // Non-ASCII bytes are sign-extended: 0xC3 -> 0xFFFFFFC3.
        let expect = (2166136261u32 ^ 0xFFFF_FFC3).wrapping_mul(16777619);
        assert_eq!(ft_hash(&[0xC3]), expect);
    }

    #[test]
    fn rejects_non_models() {
        assert!(FastText::from_bytes(b"not a model").is_err());
        assert!(FastText::from_bytes(&[]).is_err());
    }
}
