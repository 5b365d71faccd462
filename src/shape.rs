//! Shapes: tuples of dims, rank 1 to 6, row-major.

use core::fmt;

use crate::dims::{ConstDim, Dim, DimMul};
use crate::rules::ShapeCmp;
use crate::tensor::ShapeError;

use typenum::B1;

/// A tensor shape: a tuple of dims such as `(U4, U3)` or `(Dyn, U784)`, rank 1 to 6,
/// row-major.
///
/// Every tuple of dims is a shape, with no condition, so a function generic over the batch
/// needs `N: Dim` and nothing per tensor:
///
/// ```
/// use shaped::{Affine, Dim, Dyn, ReLU, Tensor, U2, U3};
/// fn predict<N: Dim>(layer: &Affine<U3, U2>, x: &Tensor<(N, U3)>) -> Tensor<(N, U2)> {
///     ReLU.forward(&layer.forward(x))
/// }
/// let layer = Affine::<U3, U2>::new(Tensor::full(1.0), Tensor::zeros());
/// let y = predict(&layer, &Tensor::<(Dyn, U3)>::from_vec(vec![1.0; 15])?);
/// assert_eq!(y.dims(), [5, 2]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
///
/// A shape is also a value: the tuple of its dims, zero-sized when every dim is static, holding
/// the sizes of its [`Dyn`](crate::Dyn) dims otherwise.
///
/// Every shape compares equal to itself (the `ShapeCmp` supertrait); that is what lets a generic
/// function pass the shape rules that compare a tensor with another of the same shape.
///
/// Its methods, on shapes as values:
///
/// ```
/// use shaped::{Dyn, Shape, U3, U4};
/// let s = (Dyn(2), U3::default());
/// assert_eq!(s.dims(), [2, 3]);
/// assert_eq!(s.num_elements(), 6);
/// assert_eq!(s.batch(), Dyn(2));
/// let fixed: (U4, U3) = s.with_batch(U4::default()); // another batch dim, another type
/// assert_eq!(fixed.dims(), [4, 3]);
/// assert_eq!(s.with_batch_size(5), Some((Dyn(5), U3::default())));
/// assert_eq!(fixed.with_batch_size(5), None); // U4 is 4
/// assert_eq!(<(U4, U3)>::from_dims(&[4, 3]), Some(fixed));
/// assert_eq!(<(U4, U3)>::from_dims(&[4, 2]), None);
/// assert_eq!(<(Dyn, U3)>::for_len(12)?.dims(), [4, 3]); // the `Dyn` dim inferred
/// assert!(<(Dyn, U3)>::for_len(10).is_err()); // not whole rows
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub trait Shape: ShapeCmp<Self, Same = B1> + Copy + fmt::Debug + Send + Sync + 'static {
    /// The number of dims.
    const RANK: usize;
    /// The size each dim's type fixes, outermost first (`None` for a [`Dyn`](crate::Dyn) dim).
    const STATIC: &'static [Option<usize>];
    /// The dims as an array, `[usize; RANK]`.
    type Dims: AsRef<[usize]>
        + AsMut<[usize]>
        + Copy
        + Default
        + PartialEq
        + Eq
        + fmt::Debug
        + Send
        + Sync
        + 'static;
    /// The outermost dim: the batch.
    type Batch: Dim;
    /// This shape with another outermost dim.
    type WithBatch<M: Dim>: Shape<Batch = M>;

    /// The dims, outermost first: `[4, 3]` for `(U4, U3)`.
    fn dims(&self) -> Self::Dims;
    /// The shape with these dims, or `None` when the count of dims differs or a static dim has
    /// another size.
    fn from_dims(dims: &[usize]) -> Option<Self>;
    /// The outermost dim.
    fn batch(&self) -> Self::Batch;
    /// The same shape with another outermost dim.
    fn with_batch<M: Dim>(self, batch: M) -> Self::WithBatch<M>;
    /// The same shape with a batch of `n`, or `None` when the batch dim is static and another
    /// size.
    fn with_batch_size(self, n: usize) -> Option<Self>;

    /// The number of elements.
    fn num_elements(&self) -> usize {
        self.dims().as_ref().iter().product()
    }

    /// The shape of a row-major buffer of `len` elements: exact for an all-static shape, with a
    /// single [`Dyn`](crate::Dyn) dim inferred from `len` (as `-1` in a PyTorch `view`).
    fn for_len(len: usize) -> Result<Self, ShapeError> {
        let known: usize = Self::STATIC.iter().flatten().product();
        let runtime = Self::STATIC.iter().filter(|d| d.is_none()).count();
        let wrong = |expected: String| ShapeError {
            expected,
            found: format!("{len} elements"),
        };
        let inferred = match runtime {
            0 if len == known => Some(0),
            0 => {
                return Err(wrong(format!(
                    "{known} elements for shape {}",
                    describe(Self::STATIC)
                )))
            }
            1 if known > 0 && len.is_multiple_of(known) => Some(len / known),
            1 if known == 0 => {
                return Err(wrong(format!(
                    "a shape whose runtime dim can be inferred, but {} has a static dim of 0",
                    describe(Self::STATIC)
                )))
            }
            1 => {
                return Err(wrong(format!(
                    "a multiple of {known} elements for shape {}",
                    describe(Self::STATIC)
                )))
            }
            _ => None,
        };
        let Some(inferred) = inferred else {
            return Err(wrong(format!(
                "a shape with at most one Dyn dim to infer from a length, but {} has {runtime} \
                 (give the shape: Tensor::from_shape_vec)",
                describe(Self::STATIC)
            )));
        };
        let dims: Vec<usize> = Self::STATIC.iter().map(|d| d.unwrap_or(inferred)).collect();
        // Every static dim is taken as it is and the one runtime dim accepts any size.
        Self::from_dims(&dims).ok_or_else(|| wrong(describe(Self::STATIC)))
    }
}

/// A shape whose every dim is static: it can be built from nothing
/// ([`Tensor::zeros`](crate::Tensor::zeros)), and its element count is a constant.
///
/// ```
/// use shaped::{ConstShape, Tensor, typenum::{U2, U3}};
/// assert_eq!(<(U2, U3)>::DIMS, [2, 3]);
/// assert_eq!(<(U2, U3)>::NUM_ELEMENTS, 6);
///
/// /// A tensor built from nothing: every size is known to the compiler.
/// fn ones<S: ConstShape>() -> Tensor<S> {
///     Tensor::full(1.0)
/// }
/// assert_eq!(ones::<(U2, U3)>().as_slice(), &[1.0; 6]);
/// ```
#[diagnostic::on_unimplemented(
    message = "the shape `{Self}` has a `Dyn` dim, whose size is known only at run time",
    label = "a shape of compile-time dims is needed here",
    note = "build tensors of a runtime shape with `Tensor::from_vec(data)` (the `Dyn` dim is \
            inferred) or `Tensor::zeros_with(shape)`"
)]
pub trait ConstShape: Shape + Default {
    /// The dims, outermost first.
    const DIMS: &'static [usize];
    /// The number of elements.
    const NUM_ELEMENTS: usize;
}

/// Formats static dims as `(Dyn, 784)`.
pub(crate) fn describe(dims: &[Option<usize>]) -> String {
    let inner: Vec<String> = dims
        .iter()
        .map(|d| d.map_or_else(|| "Dyn".to_string(), |d| d.to_string()))
        .collect();
    if dims.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

macro_rules! shape_tuple {
    ($rank:literal; $d0:ident $v0:ident $(, $d:ident $v:ident)*) => {
        impl<$d0: Dim $(, $d: Dim)*> Shape for ($d0, $($d,)*) {
            const RANK: usize = $rank;
            const STATIC: &'static [Option<usize>] = &[$d0::STATIC $(, $d::STATIC)*];
            type Dims = [usize; $rank];
            type Batch = $d0;
            type WithBatch<M: Dim> = (M, $($d,)*);

            fn dims(&self) -> [usize; $rank] {
                let ($v0, $($v,)*) = *self;
                [$v0.size() $(, $v.size())*]
            }
            fn from_dims(dims: &[usize]) -> Option<Self> {
                let &[$v0 $(, $v)*] = dims else { return None };
                Some(($d0::from_size($v0)?, $($d::from_size($v)?,)*))
            }
            fn batch(&self) -> $d0 {
                self.0
            }
            fn with_batch<M: Dim>(self, batch: M) -> Self::WithBatch<M> {
                #[allow(unused_variables)]
                let ($v0, $($v,)*) = self;
                (batch, $($v,)*)
            }
            fn with_batch_size(self, n: usize) -> Option<Self> {
                #[allow(unused_variables)]
                let ($v0, $($v,)*) = self;
                Some(($d0::from_size(n)?, $($v,)*))
            }
        }

        impl<$d0: ConstDim $(, $d: ConstDim)*> ConstShape for ($d0, $($d,)*) {
            const DIMS: &'static [usize] = &[$d0::SIZE $(, $d::SIZE)*];
            const NUM_ELEMENTS: usize = 1 * $d0::SIZE $(* $d::SIZE)*;
        }
    };
}
shape_tuple!(1; A a);
shape_tuple!(2; A a, B b);
shape_tuple!(3; A a, B b, C c);
shape_tuple!(4; A a, B b, C c, D d);
shape_tuple!(5; A a, B b, C c, D d, F f);
shape_tuple!(6; A a, B b, C c, D d, F f, G g);

/// The product of a tuple's dims, as a dim: static when every dim is, [`Dyn`](crate::Dyn) otherwise.
#[doc(hidden)]
pub trait ProdDims {
    /// `A·B·…`.
    type Out: Dim;
}
impl<A: Dim> ProdDims for (A,) {
    type Out = A;
}
macro_rules! prod_dims {
    ($d0:ident, $($d:ident),+) => {
        impl<$d0, $($d),+> ProdDims for ($d0, $($d,)+)
        where
            ($($d,)+): ProdDims,
            $d0: DimMul<<($($d,)+) as ProdDims>::Out>,
        {
            type Out = <$d0 as DimMul<<($($d,)+) as ProdDims>::Out>>::Out;
        }
    };
}
prod_dims!(A, B);
prod_dims!(A, B, C);
prod_dims!(A, B, C, D);
prod_dims!(A, B, C, D, F);
prod_dims!(A, B, C, D, F, G);

/// The element count of a shape, as a dim: `Count<(U4, U3)>` is `U12`, `Count<(Dyn, U3)>` is
/// `Dyn`.
///
/// ```
/// use shaped::{Count, Dyn, typenum::{U3, U4, U12}};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(Count<(U4, U3)>, U12);
/// assert_type_eq_all!(Count<(Dyn, U3)>, Dyn);
/// ```
pub type Count<S> = <S as ProdDims>::Out;
