//! Scaling-law fits.
//!
//! - [`gadre`]: Gadre et al. 2024 ("Language models scale reliably with over-training and on
//!   downstream tasks"), the released code's exact procedure (`mlfoundations/scaling`).
//! - [`chinchilla`]: Hoffmann et al. 2022 Approach 3 as replicated by Epoch AI (Besiroglu et al. 2024).

pub mod chinchilla;
pub mod gadre;
pub mod levmar;
