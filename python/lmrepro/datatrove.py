"""datatrove drop-ins: pipeline steps backed by lmrepro's Rust stages.

- :class:`Extractor`: main-content extraction (resiliparse's ``extract_plain_text``, DCLM's
  ``main_content=True`` by default), batched and in-process;
- :class:`DCLMRefinedWebFilter`: DCLM's RefinedWeb heuristics (built in or a DCLM yaml): drops a
  document where a step drops it (reason = the step's function), rewrites the text of the kept
  ones and stores the enrichers' keys (and ``url``) in ``doc.metadata``;
- :class:`FastTextQualityFilter`: DCLM's fastText hq score into ``doc.metadata[key]``, keep
  ``score >= threshold``.

Usable in any datatrove executor (``LocalPipelineExecutor``, Slurm, Ray). Pages are built from
``doc.metadata`` plus ``doc.text``, so ``url`` / ``metadata``-style keys that datatrove's readers
put there reach the URL steps.
"""

from typing import List, Optional

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.extractors.base import BaseExtractor
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.batching import batched
from datatrove.utils.typeshelper import StatHints

from . import _lmrepro


class Extractor(BaseExtractor):
    """HTML in ``doc.text`` → plain text, with resiliparse's options; empty results are dropped
    (as datatrove's extractors do). Runs in-process in batches: the Rust extractor needs no
    timeout sandbox (its work is bounded by the document size), so ``timeout`` is not used."""

    name = "⛏ lmrepro extractor"

    def __init__(self, batch_size: int = 256, main_content: bool = True, **options):
        super().__init__(timeout=0)
        self.batch_size = batch_size
        self.options = dict(options, main_content=main_content)

    def extract(self, text: str) -> str:
        return _lmrepro.extract_plain_text(text, **self.options)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for batch in batched(data, self.batch_size):
            with self.track_time("batch"):
                texts = _lmrepro.extract_plain_text_batch([d.text for d in batch], **self.options)
            for doc, text in zip(batch, texts):
                self.stat_update(StatHints.total)
                self.stat_update("extracted")
                doc.text = text
                if text:
                    self.stat_update(StatHints.forwarded)
                    self.update_doc_stats(doc)
                    yield doc
                else:
                    self.stat_update(StatHints.dropped)


class DCLMRefinedWebFilter(BaseFilter):
    """DCLM's RefinedWeb heuristics as a datatrove filter (``lmrepro crawl filter``'s verdicts)."""

    name = "🦀 lmrepro DCLM RefinedWeb"

    def __init__(
        self,
        pipeline: str = "dclm-baseline-refinedweb",
        source: Optional[str] = None,
        dclm_root: Optional[str] = None,
        lid_model: Optional[str] = None,
        batch_size: int = 256,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        self.spec = (pipeline, source, dclm_root, lid_model)
        self._pipeline = None

    @property
    def pipeline(self) -> "_lmrepro.Pipeline":
        # Built lazily in the worker (the native object is not pickled with the step).
        if self._pipeline is None:
            p, s, r, m = self.spec
            self._pipeline = _lmrepro.Pipeline(p, source=s, dclm_root=r, lid_model=m)
        return self._pipeline

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pipeline"] = None
        return state

    def filter(self, doc: Document):
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: List[Document]):
        pages = [dict(d.metadata, text=d.text) for d in batch]
        results = []
        for doc, out in zip(batch, self.pipeline.run_batch(pages)):
            if out["error"] is not None:
                results.append((False, f"{out['dropped_by']}_error"))
            elif not out["kept"]:
                results.append((False, out["dropped_by"]))
            else:
                page = out["page"]
                doc.text = page.pop("text")
                doc.metadata.update(page)
                results.append(True)
        return results


class FastTextQualityFilter(BaseFilter):
    """DCLM's fastText quality score (``lmrepro crawl quality predict``) and threshold filter
    (``quality filter --threshold``; DCLM-Baseline: 0.018112)."""

    name = "🦀 lmrepro fastText quality"

    def __init__(
        self,
        model_path: str,
        threshold: float = 0.018112,
        key: str = "fasttext_hq_prob",
        batch_size: int = 256,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        self.model_path, self.threshold, self.key = model_path, threshold, key
        self._model = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    @property
    def model(self) -> "_lmrepro.QualityClassifier":
        if self._model is None:
            self._model = _lmrepro.QualityClassifier(self.model_path)
        return self._model

    def filter(self, doc: Document):
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: List[Document]):
        scores = self.model.score_batch([d.text for d in batch])
        out = []
        for doc, s in zip(batch, scores):
            doc.metadata[self.key] = s
            out.append(True if s >= self.threshold else (False, "fasttext_quality"))
        return out


__all__ = ["Extractor", "DCLMRefinedWebFilter", "FastTextQualityFilter"]
