//! Type-level facts about shapes, checked at compile time at zero runtime cost.

use shaped::rules::{AffineInput, DimEq, ReluGradOutput, ShapeCmp, ShapeEq};
use shaped::{typenum::*, Affine, ConstShape, ConvOut, Count, Dim, Dyn, Flat, Shape, Tensor};
use static_assertions::{assert_eq_size, assert_impl_all, assert_not_impl_any, assert_type_eq_all};

// The element count of a shape is the product of its dims, computed in the type system.
assert_type_eq_all!(Count<(U4, U3)>, U12);
assert_type_eq_all!(
    Count<(U64, U3, U224, U224)>,
    Prod<U64, Prod<U3, Prod<U224, U224>>>
);
assert_type_eq_all!(Count<(U2, U3, U4, U5, U6)>, U720);
// ... and is a runtime dim as soon as one dim is.
assert_type_eq_all!(Count<(Dyn, U3)>, Dyn);
assert_type_eq_all!(Count<(U3, Dyn, U4)>, Dyn);
assert_type_eq_all!(Flat<U32, U4, U4>, U512);
assert_type_eq_all!(Flat<U32, Dyn, U4>, Dyn);
assert_type_eq_all!(ConvOut<Dyn, U3, U1, U1>, Dyn);

// Shapes compare dim by dim; a `Dyn` dim compares equal here and is checked at run time.
assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U4, U3)>>::Same, B1);
assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U4, U2)>>::Same, B0);
assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U3, U4)>>::Same, B0);
assert_type_eq_all!(<(Dyn, U3) as ShapeCmp<(U4, U3)>>::Same, B1);
assert_type_eq_all!(<(Dyn, U3) as ShapeCmp<(Dyn, U2)>>::Same, B0);

// The rules hold exactly when the dims agree, or cannot be told apart before run time.
assert_impl_all!(U784: DimEq<U784, AffineInput>);
assert_not_impl_any!(U100: DimEq<U784, AffineInput>);
assert_impl_all!(Dyn: DimEq<U784, AffineInput>);
assert_impl_all!((U4, U3): ShapeEq<(U4, U3), ReluGradOutput>);
assert_not_impl_any!((U4, U2): ShapeEq<(U4, U3), ReluGradOutput>);
assert_not_impl_any!((U12,): ShapeEq<(U4, U3), ReluGradOutput>);
assert_not_impl_any!((Dyn, U2): ShapeEq<(Dyn, U3), ReluGradOutput>);

// Shapes of rank 1 to 6, of any dims; only all-static ones can be built from nothing.
assert_impl_all!((U2,): Shape, ConstShape);
assert_impl_all!((U2, U3, U4, U5, U6, U7): Shape, ConstShape);
assert_impl_all!((Dyn, U3, Dyn, U5, U6, Dyn): Shape);
assert_not_impl_any!((Dyn, U3): ConstShape);

// A static tensor stores no sizes; a `Dyn` dim stores one.
assert_eq_size!((U64, U784), ());
assert_eq_size!((Dyn, U784), usize);
assert_eq_size!(Tensor<(U4, U3)>, Vec<f32>);
assert_eq_size!(Tensor<(Dyn, U3)>, (Vec<f32>, usize));

// A layer's forward output type is (N, DO), generic in every dim with no bound but `Dim`:
// a `Dim` equals itself, so no rule is repeated as a bound.
fn forward_output<N: Dim, DI: Dim, DO: Dim>(
    layer: &Affine<DI, DO>,
    x: &Tensor<(N, DI)>,
) -> Tensor<(N, DO)> {
    layer.forward(x)
}

#[test]
fn shape_constants_are_decimal() {
    assert_eq!(<(U4, U3) as ConstShape>::DIMS, &[4, 3]);
    assert_eq!(<(U4, U3) as ConstShape>::NUM_ELEMENTS, 12);
    assert_eq!(<(U2, U3, U4, U5) as Shape>::RANK, 4);
    assert_eq!(<(Dyn, U3) as Shape>::STATIC, &[None, Some(3)]);
    let y = forward_output(
        &Affine::<U3, U2>::new(Tensor::full(1.0), Tensor::zeros()),
        &Tensor::<(U5, U3)>::full(1.0),
    );
    assert_eq!(y.dims(), [5, 2]);
    let y = forward_output(
        &Affine::<U3, U2>::new(Tensor::full(1.0), Tensor::zeros()),
        &Tensor::<(Dyn, U3)>::from_vec(vec![1.0; 21]).unwrap(),
    );
    assert_eq!(y.dims(), [7, 2]);
}

// Dilation and groups in the type-level arithmetic: a dilated kernel spans D·(F − 1) + 1, and a
// grouped convolution's filters see C/G channels.
mod conv_options {
    use shaped::{typenum::*, ConvOut, Dyn, Height, PaddedPoolOut, PerGroup, Width};
    use static_assertions::assert_type_eq_all;
    assert_type_eq_all!(ConvOut<U9, U3, U2, U1, Height, U2>, U4); // ⌊(9 + 2 − 5) / 2⌋ + 1
    assert_type_eq_all!(ConvOut<U8, U3, U2, U1, Width, U2>, U3); // ⌊(8 + 2 − 5) / 2⌋ + 1
    assert_type_eq_all!(ConvOut<U8, U3, U1, U0, Height, U1>, ConvOut<U8, U3, U1, U0>);
    assert_type_eq_all!(ConvOut<Dyn, U3, U1, U2, Height, U2>, Dyn);
    assert_type_eq_all!(PerGroup<U6, U9, U3>, U2);
    assert_type_eq_all!(PerGroup<U32, U64, U1>, U32);
    assert_type_eq_all!(PaddedPoolOut<U7, U3, U2, U1>, U4);
}
