//! Tensor construction, conversion and errors, through the public API.

use shaped::{typenum::*, Dyn, Tensor};

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

/// The panic message of `f`.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("it panics");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn add_sub_mul_work_element_by_element_with_and_without_allocating() {
    let a = Tensor::<(U2, U2), f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let b = Tensor::<(U2, U2), f64>::from_vec(vec![0.5, -1.0, 2.0, 0.0]).unwrap();
    assert_eq!(a.add(&b).as_slice(), &[1.5, 1.0, 5.0, 4.0]);
    assert_eq!(a.sub(&b).as_slice(), &[0.5, 3.0, 1.0, 4.0]);
    assert_eq!(a.mul(&b).as_slice(), &[0.5, -2.0, 6.0, 0.0]);
    assert_eq!(&a + &b, a.add(&b));
    assert_eq!(&a - &b, a.sub(&b));
    assert_eq!(&a * &b, a.mul(&b));
    let mut c = a.clone();
    let before = c.as_slice().as_ptr();
    c += &b;
    c -= &b;
    c *= &b;
    c.scale_assign(2.0);
    assert_eq!(c.as_slice(), a.mul(&b).scale(2.0).as_slice());
    assert_eq!(c.as_slice().as_ptr(), before, "in place");
}

#[test]
fn sum_and_mean_of_a_batch() {
    let t = Tensor::<(Dyn, U3), f64>::from_vec((1..=6).map(f64::from).collect()).unwrap();
    assert_eq!(t.sum(), 21.0);
    assert_eq!(t.mean(), 3.5);
    let empty = Tensor::<(Dyn, U3), f64>::default();
    assert_eq!(empty.sum(), 0.0);
    assert!(empty.mean().is_nan());
}

#[test]
fn arithmetic_on_another_runtime_batch_panics_in_the_rules_words() {
    let a = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 12]).unwrap();
    let b = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 6]).unwrap();
    let add = "shape mismatch in tensor add: expected (4, 3), found (2, 3)";
    let sub = "shape mismatch in tensor sub: expected (4, 3), found (2, 3)";
    let mul = "shape mismatch in tensor mul: expected (4, 3), found (2, 3)";
    assert_eq!(panic_message(|| drop(a.add(&b))), add);
    assert_eq!(panic_message(|| drop(&a + &b)), add);
    assert_eq!(panic_message(|| a.clone().add_assign(&b)), add);
    assert_eq!(
        panic_message(|| {
            let mut c = a.clone();
            c += &b;
        }),
        add
    );
    assert_eq!(panic_message(|| drop(a.sub(&b))), sub);
    assert_eq!(
        panic_message(|| {
            let mut c = a.clone();
            c -= &b;
        }),
        sub
    );
    assert_eq!(panic_message(|| drop(a.mul(&b))), mul);
    assert_eq!(
        panic_message(|| {
            let mut c = a.clone();
            c *= &b;
        }),
        mul
    );
}

#[test]
fn argmax_gives_one_class_per_row_of_any_rank() {
    let logits = Tensor::<(Dyn, U3)>::from_vec(vec![0.1, 0.9, 0.0, 2.0, 2.0, 1.0]).unwrap();
    assert_eq!(logits.argmax(), [1, 0]);
    let maps = Tensor::<(U2, U2, U2)>::from_vec(vec![0., 1., 1., 0., 5., 4., 3., 9.]).unwrap();
    assert_eq!(maps.argmax(), [1, 0, 0, 1]);
    let mut out = Vec::with_capacity(8);
    let cap = out.capacity();
    maps.argmax_into(&mut out);
    logits.argmax_into(&mut out);
    assert_eq!((out, cap), (vec![1, 0], 8));
    let none = Tensor::<(Dyn, U3)>::default();
    assert!(none.argmax().is_empty());
}

#[test]
fn argmax_of_rows_of_nothing_panics() {
    let t = Tensor::<(U2, Dyn)>::zeros_with((U2::default(), Dyn(0)));
    assert_eq!(
        panic_message(|| drop(t.argmax())),
        "argmax over an empty last dim: 2 rows of 0 elements have no maximum"
    );
}

#[test]
fn row_borrows_one_sample_of_the_batch() {
    let mut x = Tensor::<(Dyn, U2, U2)>::from_vec((0..12).map(|v| v as f32).collect()).unwrap();
    assert_eq!(x.row(2), &[8.0, 9.0, 10.0, 11.0]);
    x.row_mut(0).fill(-1.0);
    assert_eq!(x.rows(0, 1).as_slice(), &[-1.0; 4]);
    assert_eq!(
        panic_message(|| {
            let _ = x.row(3);
        }),
        "row 3 out of range for a batch of 3"
    );
}
