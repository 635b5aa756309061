"""DCLM mapper drop-ins: ``func(page, **kwargs) -> list[page]``, as in DCLM's ``baselines/mappers``.

Each function has the name of the DCLM mapper it replaces and takes the yaml step's keyword
arguments; it builds (once per distinct arguments) a one-step :class:`lmrepro.Pipeline` from
``{"func": name, **kwargs}``, exactly as ``lmrepro crawl filter`` builds that yaml step, and returns
``[page]`` (the page with its new text and enricher keys) or ``[]`` (dropped). Enricher outputs
already on the page (``language_id_whole_page_fasttext``, ``previous_word_count``) are read back,
so the steps chain as in DCLM's ``apply_partial_func_sequential``.

``refinedweb(page)`` runs the whole built-in ``dclm_baseline_refinedweb.yaml`` (26 steps) as one
mapper. To point a DCLM yaml at these, make them visible where DCLM's ``get_mapper`` looks up
``func`` (its ``baselines.mappers`` namespace), e.g. ``baselines.mappers.filters.page_length_filter
= lmrepro.dclm.page_length_filter`` before building the processor.
"""

import functools
import json
from typing import Any, Dict, List

from ._lmrepro import Pipeline

# The functions of dclm_baseline_refinedweb.yaml (the ones lmrepro implements).
FUNCS = (
    "move_url_modifier",
    "url_substring_filter",
    "url_removal_modifier",
    "newline_removal_modifier",
    "detect_lang_whole_page_enricher",
    "language_filter",
    "page_length_filter",
    "word_length_filter",
    "symbol_ratio_filter",
    "bullet_count_filter",
    "ellipsis_count_filter",
    "alphabetic_word_ratio_filter",
    "stop_word_filter",
    "massive_web_repetition_filters",
    "word_counter_enricher",
    "uppercase_ratio_line_modifier",
    "numeric_ratio_line_modifier",
    "counter_line_modifier",
    "line_length_modifier",
    "substring_line_modifier",
    "word_removal_ratio_filter",
)


@functools.lru_cache(maxsize=None)
def _step(func: str, kwargs_json: str) -> Pipeline:
    step = dict(json.loads(kwargs_json), func=func)
    return Pipeline.from_steps_json(func, json.dumps([step]))


def _mapper(func: str):
    def mapper(page: Dict[str, Any], **kwargs) -> List[Dict[str, Any]]:
        return _step(func, json.dumps(kwargs, sort_keys=True))(page)

    mapper.__name__ = mapper.__qualname__ = func
    mapper.__doc__ = f"DCLM's `{func}` mapper, run by lmrepro (see the module docs)."
    return mapper


for _f in FUNCS:
    globals()[_f] = _mapper(_f)


@functools.lru_cache(maxsize=1)
def _refinedweb() -> Pipeline:
    return Pipeline()


def refinedweb(page: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The whole dclm-baseline-refinedweb pipeline as one DCLM mapper."""
    return _refinedweb()(page)


__all__ = list(FUNCS) + ["refinedweb"]
