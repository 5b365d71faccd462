//! A deterministic fuzz test of `io::from_bytes`: valid files mutated (bit flips, truncations,
//! header edits, random lengths) and random bytes, from fixed seeds. For every input: no panic;
//! after an `Err` the model is unchanged; `Ok` exactly when the safetensors crate's own decoding
//! of the same bytes has every parameter with the model's dtype and shape, and then the loaded
//! values are that decoding's, bit for bit. (`fuzz/` holds the same check as a cargo-fuzz
//! target, for open-ended runs.)

use rand::{rngs::StdRng, Rng, SeedableRng};
use safetensors::{Dtype, SafeTensors};
use shaped::io;
use shaped::{typenum::*, Affine, Element, Init, Params, ReLU};
use std::panic::{catch_unwind, AssertUnwindSafe};

type M32 = (Affine<U4, U3>, ReLU, Affine<U3, U2>);
type M64 = (Affine<U4, U3, f64>, ReLU, Affine<U3, U2, f64>);
/// The files of a longer model carry a tensor the models above lack.
type Longer = (Affine<U4, U3>, ReLU, Affine<U3, U2>, Affine<U2, U2>);

/// Cases per valid file; with 6 valid files and twice as many random inputs, 8 × CASES in all.
const CASES: u64 = 50_000;

/// Little-endian bytes of each value, whatever its type.
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

/// Whether the safetensors crate's decoding of `bytes` has every parameter of `model` with its
/// dtype and shape.
fn decodes_for<E: Element, M: Params<E>>(model: &M, bytes: &[u8]) -> bool {
    let Ok(file) = SafeTensors::deserialize(bytes) else {
        return false;
    };
    let dtype = if core::mem::size_of::<E>() == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let mut ok = true;
    model.visit("", &mut |name, dims, _| {
        ok &= file
            .tensor(name)
            .is_ok_and(|t| t.dtype() == dtype && t.shape() == dims);
    });
    ok
}

/// The checks of the module's doc on one input; `what` says which, should one fail.
fn check<E: Element, M: Params<E> + Clone + PartialEq + core::fmt::Debug>(
    fresh: &M,
    bytes: &[u8],
    what: &dyn Fn() -> String,
) {
    let mut model = fresh.clone();
    let result = catch_unwind(AssertUnwindSafe(|| io::from_bytes(&mut model, bytes)))
        .unwrap_or_else(|_| panic!("from_bytes panicked on {}", what()));
    let expected = decodes_for(fresh, bytes);
    match result {
        Err(e) => {
            assert!(!expected, "{e} on {}, which safetensors decodes", what());
            assert_eq!(&model, fresh, "an Err changed the model, on {}", what());
        }
        Ok(()) => {
            assert!(
                expected,
                "Ok on {}, which safetensors does not decode",
                what()
            );
            let file = SafeTensors::deserialize(bytes).unwrap();
            model.visit("", &mut |name, _, values| {
                let data = file.tensor(name).unwrap();
                assert_eq!(le_bytes(values), data.data(), "{name} on {}", what());
            });
        }
    }
}

/// Where the header's text lies, as far as the file goes.
fn header_range(bytes: &[u8]) -> core::ops::Range<usize> {
    let n = bytes
        .get(..8)
        .map_or(0, |p| u64::from_le_bytes(p.try_into().unwrap()));
    let end = usize::try_from(n.saturating_add(8))
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    8.min(end)..end
}

const DTYPES: [&str; 8] = ["F32", "F64", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3"];

/// Edits the header's text: a digit, a dtype, a byte inserted or removed (with or without the
/// length field following), a tensor's name.
fn edit_header(rng: &mut StdRng, bytes: &mut Vec<u8>) {
    let header = header_range(bytes);
    if header.is_empty() {
        return;
    }
    let pick = |rng: &mut StdRng| rng.random_range(header.clone());
    match rng.random_range(0..6) {
        0 => {
            // A digit of a shape or an offset.
            let digits: Vec<usize> = header
                .clone()
                .filter(|&i| bytes[i].is_ascii_digit())
                .collect();
            if !digits.is_empty() {
                let i = digits[rng.random_range(0..digits.len())];
                bytes[i] = b'0' + rng.random_range(0..10);
            }
        }
        1 => {
            // A dtype.
            let text = String::from_utf8_lossy(&bytes[header.clone()]).into_owned();
            let from = DTYPES[rng.random_range(0..DTYPES.len())];
            let to = DTYPES[rng.random_range(0..DTYPES.len())];
            if let Some(at) = text.find(&format!("\"{from}\"")) {
                let at = header.start + at + 1;
                bytes.splice(at..at + from.len(), to.bytes());
            }
        }
        2 => {
            // A byte inserted, the length field following.
            let at = pick(rng);
            bytes.insert(at, b" {}[],:\"0a"[rng.random_range(0..10)]);
            let n = (header.len() + 1) as u64;
            bytes[..8].copy_from_slice(&n.to_le_bytes());
        }
        3 => {
            // A byte removed, the length field left as it was.
            let at = pick(rng);
            bytes.remove(at);
        }
        4 => {
            // A tensor renamed: one letter of a name.
            let text = String::from_utf8_lossy(&bytes[header.clone()]).into_owned();
            if let Some(at) = text.find(".weight").or_else(|| text.find(".bias")) {
                bytes[header.start + at + 1] = b"wbxW"[rng.random_range(0..4)];
            }
        }
        _ => {
            // Two bytes of the header swapped.
            let (i, j) = (pick(rng), pick(rng));
            bytes.swap(i, j);
        }
    }
}

/// One to three mutations of a valid file.
fn mutate(rng: &mut StdRng, file: &[u8]) -> Vec<u8> {
    let mut bytes = file.to_vec();
    for _ in 0..rng.random_range(1..=3) {
        match rng.random_range(0..8) {
            0 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            7 if header_range(&bytes).end < bytes.len() => {
                // A bit of the data: the file stays valid, with another value.
                let i = rng.random_range(header_range(&bytes).end..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 => bytes.truncate(rng.random_range(0..=bytes.len())),
            2 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            3 if bytes.len() >= 8 => {
                // The header length: near its value, or anything.
                let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
                let n = if rng.random_bool(0.7) {
                    n.wrapping_add_signed(rng.random_range(-16..=16))
                } else {
                    rng.random()
                };
                bytes[..8].copy_from_slice(&n.to_le_bytes());
            }
            4 | 5 => edit_header(rng, &mut bytes),
            _ => {
                let extra = rng.random_range(1..32);
                bytes.extend((0..extra).map(|_| rng.random::<u8>()));
            }
        }
    }
    bytes
}

/// The model's file as PyTorch's `save_file` writes it, with `{"format": "pt"}` metadata.
fn with_metadata<M: Params<f32>>(model: &M) -> Vec<u8> {
    let plain = io::to_bytes(model).unwrap();
    let file = SafeTensors::deserialize(&plain).unwrap();
    let metadata = [("format".to_string(), "pt".to_string())].into();
    safetensors::serialize(file.tensors(), Some(metadata)).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fuzz_files<E: Element, M: Params<E> + Clone + PartialEq + core::fmt::Debug>(
    fresh: &M,
    files: &[(&str, Vec<u8>)],
) {
    for (f, (label, file)) in files.iter().enumerate() {
        check(fresh, file, &|| format!("the valid {label} file"));
        for case in 0..CASES {
            let seed = (f as u64) << 32 | case;
            let mut rng = StdRng::seed_from_u64(seed);
            let bytes = mutate(&mut rng, file);
            check(fresh, &bytes, &|| {
                format!("{label} mutated with seed {seed:#x}: {}", hex(&bytes))
            });
        }
    }
}

#[test]
fn mutated_f32_files_load_as_safetensors_decodes_them_or_not_at_all() {
    let fresh = M32::init(&mut StdRng::seed_from_u64(0));
    let files = [
        (
            "f32",
            io::to_bytes(&M32::init(&mut StdRng::seed_from_u64(1))).unwrap(),
        ),
        (
            "f64",
            io::to_bytes(&M64::init(&mut StdRng::seed_from_u64(1))).unwrap(),
        ),
        (
            "longer",
            io::to_bytes(&Longer::init(&mut StdRng::seed_from_u64(1))).unwrap(),
        ),
        (
            "f32 with metadata",
            with_metadata(&M32::init(&mut StdRng::seed_from_u64(1))),
        ),
    ];
    fuzz_files(&fresh, &files);
}

#[test]
fn mutated_f64_files_load_as_safetensors_decodes_them_or_not_at_all() {
    let fresh = M64::init(&mut StdRng::seed_from_u64(0));
    let files = [
        (
            "f64",
            io::to_bytes(&M64::init(&mut StdRng::seed_from_u64(1))).unwrap(),
        ),
        (
            "f32",
            io::to_bytes(&M32::init(&mut StdRng::seed_from_u64(1))).unwrap(),
        ),
    ];
    fuzz_files(&fresh, &files);
}

#[test]
fn random_bytes_load_as_safetensors_decodes_them_or_not_at_all() {
    let fresh = M32::init(&mut StdRng::seed_from_u64(0));
    for seed in 0..2 * CASES {
        let mut rng = StdRng::seed_from_u64(seed);
        let len = rng.random_range(0..256);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Half with a header length that fits, so the parser gets past the first check.
        if len >= 8 && rng.random_bool(0.5) {
            let n = rng.random_range(0..=len as u64 - 8);
            bytes[..8].copy_from_slice(&n.to_le_bytes());
        }
        check(&fresh, &bytes, &|| {
            format!("random bytes of seed {seed}: {}", hex(&bytes))
        });
    }
}
