//! Any bytes: `Image::decode` answers an error or an image, never panics;
//! an image restores into a fresh kernel or is refused, never panics, and a
//! restored kernel passes its invariants. Half the inputs get their
//! checksums recomputed first, so that mutations reach the section decoders
//! and restore's validation.
#![no_main]

use kmodel::container::{self, Image};
use kmodel::kernel::Kernel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.first().is_some_and(|b| b & 1 == 1) {
        container::image::reseal(&mut bytes);
    }
    if let Ok(image) = Image::decode(&bytes) {
        let mut k = Kernel::default();
        if container::restore(&mut k, &image).is_ok() {
            k.check_invariants().expect("a restored kernel is consistent");
        }
    }
});
