//! The MusicLDM track (Chen et al. 2023, arXiv 2308.01546): the parts of the paper that can be
//! built and checked without its weights or training music.
//!
//! * [`audio`]: Ogg Vorbis / WAV decode to mono, resampling, WAV output;
//! * [`spectral`] and [`mel`]: librosa's slaney mel filters and MusicLDM's 16 kHz / 64-mel
//!   `TacotronSTFT` front end (the VAE's and HiFi-GAN's input);
//! * [`beat`] and [`beat_eval`]: librosa 0.11's `beat_track` and mir_eval's beat F-measure;
//! * [`mixup`]: beat-synchronous audio mixup (BAM, paper §3.2) and the latent variant's
//!   encoder seam (BLM, blocked on the VAE weights);
//! * [`metrics`]: Fréchet distance, KL, cosine similarity and novelty rate over embeddings from
//!   an [`metrics::AudioEmbedder`];
//! * [`cli`] (`lmrepro music ...`) and [`reproduce`] (recipe kind `musicldm`).

pub mod audio;
pub mod beat;
pub mod beat_eval;
pub mod mel;
pub mod metrics;
pub mod mixup;
pub mod spectral;

/// The five mirrored clips (`musicldm/audio/<name>`), in the reference JSON's (sorted) order.
pub const CLIPS: [&str; 5] = [
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
];
pub mod cli;
pub mod reproduce;
pub use reproduce::MusicLdmReproducer;
