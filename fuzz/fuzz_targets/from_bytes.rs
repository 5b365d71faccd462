//! `io::from_bytes` on arbitrary bytes, into an f32 and an f64 model: no panic; after an `Err`
//! the model is unchanged; `Ok` exactly when the safetensors crate's own decoding has every
//! parameter with the model's dtype and shape, and then the loaded values are that decoding's,
//! bit for bit. `tests/io_fuzz.rs` runs the same checks on a fixed set of mutated files.
//!
//! ```text
//! cargo install cargo-fuzz                      # once
//! cd fuzz && cargo +nightly fuzz run from_bytes # add `-- -max_total_time=600` to bound it
//! ```
//!
//! Seeding `corpus/from_bytes/` with a valid file (`io::to_bytes` of either model) gets the
//! fuzzer past the header parser sooner.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::{rngs::StdRng, SeedableRng};
use safetensors::{Dtype, SafeTensors};
use shaped::{io, typenum::*, Affine, Element, Init, Params, ReLU};

type M32 = (Affine<U4, U3>, ReLU, Affine<U3, U2>);
type M64 = (Affine<U4, U3, f64>, ReLU, Affine<U3, U2, f64>);

fn le_bytes<E: Element>(values: &[E]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| {
            if core::mem::size_of::<E>() == 4 {
                v.to_f32().unwrap().to_le_bytes().to_vec()
            } else {
                v.to_f64().unwrap().to_le_bytes().to_vec()
            }
        })
        .collect()
}

fn check<E: Element, M: Params<E> + Clone + PartialEq + core::fmt::Debug>(fresh: M, bytes: &[u8]) {
    let dtype = if core::mem::size_of::<E>() == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let decoded = SafeTensors::deserialize(bytes).ok();
    let mut expected = decoded.is_some();
    fresh.visit("", &mut |name, dims, _| {
        expected &= decoded.as_ref().is_some_and(|file| {
            file.tensor(name)
                .is_ok_and(|t| t.dtype() == dtype && t.shape() == dims)
        });
    });

    let mut model = fresh.clone();
    match io::from_bytes(&mut model, bytes) {
        Err(e) => {
            assert!(!expected, "{e}, on bytes safetensors decodes");
            assert_eq!(model, fresh, "an Err changed the model");
        }
        Ok(()) => {
            assert!(expected, "Ok on bytes safetensors does not decode");
            let file = decoded.unwrap();
            model.visit("", &mut |name, _, values| {
                assert_eq!(
                    le_bytes(values),
                    file.tensor(name).unwrap().data(),
                    "{name}"
                );
            });
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    check(M32::init(&mut StdRng::seed_from_u64(0)), bytes);
    check(M64::init(&mut StdRng::seed_from_u64(0)), bytes);
});
