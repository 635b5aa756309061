//! The fastText `.bin`/`.ftz` loader (dense and product-quantized) and a prediction with whatever
//! it accepted.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_fasttext::FastText;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = FastText::from_bytes(data) {
        let _ = model.nlabels();
        let _ = model.predict("the quick brown fox\njumps", 2);
        let _ = model.predict("", 1);
    }
});
