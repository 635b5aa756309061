//! Scaling-law fits.
//!
//! - [`gadre`]: Gadre et al. 2024 ("Language models scale reliably with over-training and on
//!   downstream tasks"), the released code's exact procedure (`mlfoundations/scaling`).
//! - [`chinchilla`]: Hoffmann et al. 2022 Approach 3 as replicated by Epoch AI (Besiroglu et al. 2024).

pub mod chinchilla;
pub mod gadre;
pub mod levmar;

lmrepro_report::single_scale_reproducer! {
    /// Recipe kind `scaling-overtraining`: Gadre et al. 2024's fits and tables ([`gadre`]).
    pub struct OvertrainingReproducer("scaling-overtraining") => gadre::reproduce
}

lmrepro_report::single_scale_reproducer! {
    /// Recipe kind `chinchilla-approach3`: Epoch AI's replication of Hoffmann et al. ([`chinchilla`]).
    pub struct ChinchillaReproducer("chinchilla-approach3") => chinchilla::reproduce
}
