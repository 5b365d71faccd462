//! Shapes: tuples of typenum dims, rank 1 to 6, row-major.

use core::ops::Mul;
use generic_array::ArrayLength;
use typenum::{Prod, B1};

use crate::dims::Dim;

use crate::rules::ShapeCmp;

/// A tensor shape: a tuple of typenum dims such as `(U4, U3)`, rank 1 to 6, row-major.
///
/// A function generic over a dim needs this one bound per tensor:
///
/// ```
/// use shaped::{Affine, Dim, Shape, Tensor, U2, U3};
/// fn predict<N: Dim>(layer: &Affine<U3, U2>, x: &Tensor<(N, U3)>) -> Tensor<(N, U2)>
/// where
///     (N, U3): Shape,
///     (N, U2): Shape,
/// {
///     layer.forward(x)
/// }
/// ```
///
/// Every shape compares equal to itself (the `ShapeCmp` supertrait); that is what lets such a
/// function pass the shape rules that compare a tensor with another of the same shape.
pub trait Shape: ShapeCmp<Self, Same = B1> + Sized + Send + Sync + 'static {
    /// The number of elements, as a type.
    type Size: ArrayLength;
    /// The number of dims.
    const RANK: usize;
    /// The number of elements.
    const NUM_ELEMENTS: usize;
    /// The dims, outermost first.
    const DIMS: &'static [usize];
}

impl<A: Dim> Shape for (A,)
where
    A: ArrayLength,
    (A,): ShapeCmp<(A,), Same = B1>,
{
    type Size = A;
    const RANK: usize = 1;
    const NUM_ELEMENTS: usize = A::USIZE;
    const DIMS: &'static [usize] = &[A::USIZE];
}

macro_rules! shape_tuple {
    ($rank:literal; $($d:ident),+; $size:ty) => {
        impl<$($d: Dim),+> Shape for ($($d,)+)
        where
            // The element count is the product of the dims (computed in the type system).
            $size: ArrayLength,
            ($($d,)+): ShapeCmp<($($d,)+), Same = B1> + ProdDims,
        {
            type Size = $size;
            const RANK: usize = $rank;
            const NUM_ELEMENTS: usize = 1 $(* $d::USIZE)+;
            const DIMS: &'static [usize] = &[$($d::USIZE),+];
        }
    };
}

/// The product of a tuple's dims, as a type.
#[doc(hidden)]
pub trait ProdDims {
    /// `A·B·…`.
    type Out;
}
impl<A> ProdDims for (A,) {
    type Out = A;
}
macro_rules! prod_dims {
    ($d0:ident, $($d:ident),+) => {
        impl<$d0, $($d),+> ProdDims for ($d0, $($d,)+)
        where
            ($($d,)+): ProdDims,
            $d0: Mul<<($($d,)+) as ProdDims>::Out>,
        {
            type Out = Prod<$d0, <($($d,)+) as ProdDims>::Out>;
        }
    };
}
prod_dims!(A, B);
prod_dims!(A, B, C);
prod_dims!(A, B, C, D);
prod_dims!(A, B, C, D, F);
prod_dims!(A, B, C, D, F, G);

/// The element count of a shape, as a type: `Count<(U4, U3)>` is `U12`.
pub type Count<S> = <S as ProdDims>::Out;

shape_tuple!(2; A, B; Count<(A, B)>);
shape_tuple!(3; A, B, C; Count<(A, B, C)>);
shape_tuple!(4; A, B, C, D; Count<(A, B, C, D)>);
shape_tuple!(5; A, B, C, D, F; Count<(A, B, C, D, F)>);
shape_tuple!(6; A, B, C, D, F, G; Count<(A, B, C, D, F, G)>);
