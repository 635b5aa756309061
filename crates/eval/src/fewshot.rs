//! llm-foundry's few-shot example choice (`llmfoundry/eval/datasets/utils.py::
//! get_fewshot_sample_idxs`, v0.9.0 as pinned by DCLM's `requirements.txt`): one
//! `random.Random(fewshot_random_seed)` shared by all items of a dataset (consumed in item order),
//! the sample put into a Python `set`, and the prompt built in that set's iteration order.

use lmrepro_pycompat::{PyRandom, PySet};

/// llm-foundry `get_fewshot_sample_idxs` (utils.py, v0.9.0), returning the indices in the order
/// the prompt uses them (the set's iteration order).
pub fn fewshot_sample_idxs(
    dataset_size: usize,
    num_fewshot: usize,
    example_idx: usize,
    rng: &mut PyRandom,
) -> Vec<usize> {
    let num_fewshot = num_fewshot.min(dataset_size.saturating_sub(1));
    let sample = rng.sample_range(dataset_size, num_fewshot);
    let mut set = PySet::from_keys(&sample);
    if set.contains(example_idx) {
        set.remove(example_idx);
        if set.len() >= dataset_size - 1 {
            return set.iter_order();
        }
        let mut replacement = rng.choice_range(dataset_size);
        while set.contains(replacement) || replacement == example_idx {
            replacement = rng.choice_range(dataset_size);
        }
        set.add(replacement);
    }
    set.iter_order()
}
