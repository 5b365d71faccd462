//! Tensor construction, conversion and errors, through the public API.

use shaped::{typenum::*, Tensor};

#[test]
fn large_tensor_lives_on_the_heap_in_a_debug_build() {
    // 64 x 3 x 224 x 224 f32 = 37 MiB: far beyond a thread's stack.
    let mut t = Tensor::<(U64, U3, U224, U224)>::zeros();
    t.as_mut_slice().fill(1.5);
    assert_eq!(t.as_slice().len(), 64 * 3 * 224 * 224);
    let doubled = t.map(|v| v * 2.0);
    assert!(doubled.as_slice().iter().all(|&v| v == 3.0));
    let v = t.into_vec();
    assert_eq!(v.len(), 9_633_792);
    let back = Tensor::<(U64, U3, U224, U224)>::from_vec(v).unwrap();
    assert_eq!(back.as_slice()[9_633_791], 1.5);
    let clone = back.clone();
    assert_eq!(clone.as_slice()[0], 1.5);
}

#[test]
fn from_vec_of_the_wrong_length_names_both_counts() {
    let err = Tensor::<(U4, U3), f64>::from_vec(vec![0.0; 10]).unwrap_err();
    assert_eq!(err.expected, "12 elements for shape (4, 3)");
    assert_eq!(err.found, "10 elements");
    assert_eq!(
        err.to_string(),
        "shape error: expected 12 elements for shape (4, 3), found 10 elements"
    );
}

#[test]
fn from_fn_passes_the_row_major_multi_index() {
    let t = Tensor::<(U2, U2, U3)>::from_fn(|i| (i[0] * 100 + i[1] * 10 + i[2]) as f32);
    assert_eq!(
        t.as_slice(),
        &[0., 1., 2., 10., 11., 12., 100., 101., 102., 110., 111., 112.]
    );
}

#[test]
fn reshape_keeps_the_elements_in_order() {
    let t = Tensor::<(U2, U3)>::from_fn(|i| (i[0] * 3 + i[1]) as f32);
    let r: Tensor<(U3, U2)> = t.clone().reshape();
    assert_eq!(r.as_slice(), t.as_slice());
    assert_eq!(r.dims(), [3, 2]);
}

#[test]
fn debug_shows_the_shape_in_decimal() {
    let t = Tensor::<(U2, U3), f64>::zeros();
    assert_eq!(
        format!("{t:?}"),
        "Tensor<(2, 3), f64> [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]"
    );
    let big = Tensor::<(U1024,)>::zeros();
    assert!(format!("{big:?}").starts_with("Tensor<(1024,), f32> [0.0, 0.0"));
    assert!(format!("{big:?}").ends_with("(1024 elements)"));
}

#[test]
fn map_and_full() {
    let t = Tensor::<(U3,)>::full(2.0).map(|v| v * v);
    assert_eq!(t.as_slice(), &[4.0; 3]);
}
