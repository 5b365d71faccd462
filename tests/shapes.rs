//! Type-level facts about shapes, checked at compile time at zero runtime cost.

use shaped::rules::{AffineInput, DimEq, ReluGradOutput, ShapeCmp, ShapeEq};
use shaped::{typenum::*, Affine, Count, Dim, Shape, Tensor};
use static_assertions::{assert_impl_all, assert_not_impl_any, assert_type_eq_all};

// The element count of a shape is the product of its dims, computed in the type system.
assert_type_eq_all!(Count<(U4, U3)>, U12);
assert_type_eq_all!(
    <(U64, U3, U224, U224) as Shape>::Size,
    Prod<Prod<U3, Prod<U56, U56>>, U1024>
);
assert_type_eq_all!(Count<(U2, U3, U4, U5, U6)>, U720);

// Shapes compare dim by dim.
assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U4, U3)>>::Same, B1);
assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U4, U2)>>::Same, B0);
assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U3, U4)>>::Same, B0);

// The rules hold exactly when the dims agree.
assert_impl_all!(U784: DimEq<U784, AffineInput>);
assert_not_impl_any!(U100: DimEq<U784, AffineInput>);
assert_impl_all!((U4, U3): ShapeEq<(U4, U3), ReluGradOutput>);
assert_not_impl_any!((U4, U2): ShapeEq<(U4, U3), ReluGradOutput>);
assert_not_impl_any!((U12,): ShapeEq<(U4, U3), ReluGradOutput>);

// Shapes of rank 1 to 6.
assert_impl_all!((U2,): Shape);
assert_impl_all!((U2, U3, U4, U5, U6, U7): Shape);

// A layer's forward output type is (N, DO).
fn forward_output<N: Dim, DI: Dim, DO: Dim>(
    layer: &Affine<DI, DO>,
    x: &Tensor<(N, DI)>,
) -> Tensor<(N, DO)>
where
    (N, DI): Shape,
    (N, DO): Shape,
    (DO, DI): Shape,
    (DO,): Shape,
{
    // Generic in every dim, and still no rule repeated as a bound: a `Dim` equals itself.
    layer.forward(x)
}

#[test]
fn shape_constants_are_decimal() {
    assert_eq!(<(U4, U3) as Shape>::DIMS, &[4, 3]);
    assert_eq!(<(U4, U3) as Shape>::NUM_ELEMENTS, 12);
    assert_eq!(<(U2, U3, U4, U5) as Shape>::RANK, 4);
    let y = forward_output(
        &Affine::<U3, U2>::new(Tensor::full(1.0), Tensor::zeros()),
        &Tensor::<(U5, U3)>::full(1.0),
    );
    assert_eq!(y.dims(), &[5, 2]);
}
