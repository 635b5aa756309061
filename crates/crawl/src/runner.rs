//! The one way pages go through a pipeline: batches run in parallel on the current rayon pool
//! (outcomes come back in input order), and every outcome is counted per step. `crawl filter`, the
//! `dclm-heuristics` reproducer and `crawl run` (lmrepro-dclm) differ only in where the documents
//! come from and what they write.

use crate::page::Page;
use crate::pipeline::{Outcome, Pipeline};
use lmrepro_stage::Tally;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

lmrepro_stage::tally! {
    /// Pages through one step (DCLM's processor reports the same numbers).
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    pub struct StepCount {
        /// Pages that reached the step.
        pub pages_in: u64,
        /// Pages passed on (`pages_in - removed - errors`).
        pub pages_out: u64,
        pub removed: u64,
        /// Pages dropped because the step raised (DCLM `_safe` mode).
        pub errors: u64,
        /// Pages the step did not apply to (URL steps on pages without URL); they pass on.
        pub skipped: u64,
    }
}

/// One step's counts with its name, as reports and stats files show them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StepStats {
    pub index: usize,
    pub func: String,
    /// `"%02d_<func>"`.
    pub id: String,
    #[serde(flatten)]
    pub count: StepCount,
}

/// The per-step counts of one pipeline, in step order (serialised as a plain list).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Steps(pub Vec<StepStats>);

impl Steps {
    /// Zero counts for every step of `p`.
    pub fn new(p: &Pipeline) -> Steps {
        Steps(
            p.steps
                .iter()
                .map(|s| StepStats {
                    index: s.index,
                    func: s.func.clone(),
                    id: s.id.clone(),
                    count: StepCount::default(),
                })
                .collect(),
        )
    }

    fn count(&mut self, out: &Outcome) {
        let end = out.stop.as_ref().map_or(self.0.len(), |s| s.step + 1);
        for st in &mut self.0[..end] {
            st.count.pages_in += 1;
            if out.skipped.contains(&st.index) {
                st.count.skipped += 1;
            }
        }
        match &out.stop {
            None => {}
            Some(s) if s.error.is_some() => self.0[s.step].count.errors += 1,
            Some(s) => self.0[s.step].count.removed += 1,
        }
        for st in &mut self.0[..end] {
            st.count.pages_out = st.count.pages_in - st.count.removed - st.count.errors;
        }
    }
}

impl std::ops::Deref for Steps {
    type Target = [StepStats];

    fn deref(&self) -> &[StepStats] {
        &self.0
    }
}

/// Steps add position by position (a plain `Vec` would concatenate); an empty list, the start of
/// a sum, takes the other side's steps.
impl Tally for Steps {
    fn tally(&mut self, other: &Self) {
        if self.0.is_empty() {
            self.0 = other.0.clone();
            return;
        }
        if other.0.is_empty() {
            return;
        }
        assert!(
            self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| a.id == b.id),
            "adding the step counts of different pipelines"
        );
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            a.count.tally(&b.count);
        }
    }
}

lmrepro_stage::tally! {
    /// What the pipeline did to a set of pages; a run's counts are the sum of its shards'.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    pub struct Counts {
        /// Pages run through the pipeline.
        pub docs_in: u64,
        /// Pages that passed every step.
        pub docs_kept: u64,
        /// Pages for which the URL steps were skipped (no `url` / `metadata.WARC-Target-URI`).
        pub pages_without_url: u64,
        pub steps: Steps,
    }
}

impl Counts {
    /// Zero counts, with every step of `p` named.
    pub fn new(p: &Pipeline) -> Counts {
        Counts {
            steps: Steps::new(p),
            ..Counts::default()
        }
    }

    /// Adds one outcome.
    pub fn count(&mut self, out: &Outcome) {
        self.docs_in += 1;
        self.docs_kept += out.kept() as u64;
        self.pages_without_url += !out.skipped.is_empty() as u64;
        self.steps.count(out);
    }

    /// Pages dropped because a step raised.
    pub fn errors(&self) -> u64 {
        self.steps.iter().map(|s| s.count.errors).sum()
    }

    /// Pages dropped (removed or raised) per step id; steps that dropped nothing are left out.
    pub fn dropped_by(&self) -> BTreeMap<String, u64> {
        self.steps
            .iter()
            .map(|s| (s.id.clone(), s.count.removed + s.count.errors))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Runs the pages of `batch` through `pipeline` in parallel, counts every outcome into `counts`
/// and returns the outcomes in input order, each with its item's payload (the source document).
pub fn run_batch<T: Send>(
    pipeline: &Pipeline,
    batch: Vec<(T, Page)>,
    counts: &mut Counts,
) -> Vec<(T, Outcome)> {
    let outcomes: Vec<(T, Outcome)> = batch
        .into_par_iter()
        .map(|(item, page)| {
            let out = pipeline.run(page);
            (item, out)
        })
        .collect();
    for (_, out) in &outcomes {
        counts.count(out);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Stop;

    fn outcome(stop: Option<(usize, bool)>, skipped: Vec<usize>) -> Outcome {
        Outcome {
            page: Page::default(),
            stop: stop.map(|(step, error)| Stop {
                step,
                error: error.then(|| "raised".to_string()),
            }),
            skipped,
        }
    }

    fn named(n: usize) -> Steps {
        Steps(
            (0..n)
                .map(|i| StepStats {
                    index: i,
                    id: format!("{i:02}_f"),
                    func: "f".into(),
                    count: StepCount::default(),
                })
                .collect(),
        )
    }

    #[test]
    fn counts_follow_pages_and_add_up_per_step() {
        let mut a = Counts {
            steps: named(3),
            ..Counts::default()
        };
        a.count(&outcome(None, vec![0]));
        a.count(&outcome(Some((1, false)), vec![]));
        let mut b = Counts {
            steps: named(3),
            ..Counts::default()
        };
        b.count(&outcome(Some((1, true)), vec![0]));
        b.count(&outcome(Some((2, false)), vec![]));
        let total = lmrepro_stage::sum([&a, &b]);
        assert_eq!(
            (total.docs_in, total.docs_kept, total.pages_without_url),
            (4, 1, 2)
        );
        let c: Vec<_> = total
            .steps
            .iter()
            .map(|s| (s.count.pages_in, s.count.pages_out, s.count.skipped))
            .collect();
        assert_eq!(c, [(4, 4, 2), (4, 2, 0), (2, 1, 0)]);
        assert_eq!(total.errors(), 1);
        assert_eq!(
            total.dropped_by(),
            [("01_f".to_string(), 2), ("02_f".to_string(), 1)].into()
        );
        // The serialised step is flat, as the stats files have always shown it.
        let v = serde_json::to_value(&total.steps[0]).unwrap();
        assert_eq!(v["pages_in"], 4);
        assert_eq!(v["id"], "00_f");
    }
}
