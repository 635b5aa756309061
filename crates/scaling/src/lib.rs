//! Scaling-law fits.
//!
//! - [`gadre`]: Gadre et al. 2024 ("Language models scale reliably with over-training and on
//!   downstream tasks"), the released code's exact procedure (`mlfoundations/scaling`).
//! - [`chinchilla`]: Hoffmann et al. 2022 Approach 3 as replicated by Epoch AI (Besiroglu et al. 2024).

pub mod chinchilla;
pub mod gadre;
pub mod levmar;

use lmrepro_data::{Recipe, Resolver};
use lmrepro_report::{Reproducer, RunOptions};
use std::path::Path;

/// Recipe kind `scaling-overtraining`: Gadre et al. 2024's fits and tables ([`gadre`]).
pub struct OvertrainingReproducer;

impl Reproducer for OvertrainingReproducer {
    fn kind(&self) -> &'static str {
        "scaling-overtraining"
    }

    fn reproduce(
        &self,
        recipe: &Recipe,
        resolver: &Resolver,
        out: &Path,
        _: &RunOptions,
    ) -> anyhow::Result<Vec<String>> {
        gadre::reproduce(recipe, resolver, out)
    }
}

/// Recipe kind `chinchilla-approach3`: Epoch AI's replication of Hoffmann et al. ([`chinchilla`]).
pub struct ChinchillaReproducer;

impl Reproducer for ChinchillaReproducer {
    fn kind(&self) -> &'static str {
        "chinchilla-approach3"
    }

    fn reproduce(
        &self,
        recipe: &Recipe,
        resolver: &Resolver,
        out: &Path,
        _: &RunOptions,
    ) -> anyhow::Result<Vec<String>> {
        chinchilla::reproduce(recipe, resolver, out)
    }
}
