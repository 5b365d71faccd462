//! Flattening a batch of images into a batch of vectors.

use core::marker::PhantomData;
use core::ops::Mul;

use crate::dims::{Dim, Flat};
use crate::module::{no_params, Module};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// `(N, C, H, W) -> (N, C·H·W)`, row-major, without copying; the product is computed in the
/// types ([`Flat`]), so the next layer's input rule checks it:
///
/// ```
/// use shaped::{Flatten, Module, Tensor, typenum::*};
/// let x = Tensor::<(U2, U16, U4, U4)>::zeros();
/// let y: Tensor<(U2, U256)> = Flatten.infer(&x);
/// # let _ = y;
/// ```
///
/// `backward_train` reshapes the gradient back to `(N, C, H, W)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

no_params!(Flatten);

impl<N, C, H, W, E> Module<E, Tensor<(N, C, H, W), E>> for Flatten
where
    N: Dim,
    C: Dim + Mul<H>,
    H: Dim,
    W: Dim,
    E: Element,
    // C·H·W, computed by typenum.
    <C as Mul<H>>::Output: Mul<W>,
    Flat<C, H, W>: Dim,
    (N, C, H, W): Shape,
    (N, Flat<C, H, W>): Shape,
{
    type Out = Tensor<(N, Flat<C, H, W>), E>;
    /// Nothing but the input's type.
    type Cache = PhantomData<Tensor<(N, C, H, W), E>>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        Tensor::from_vec_exact(x.as_slice().to_vec())
    }

    fn forward_train(&self, x: Tensor<(N, C, H, W), E>) -> (Self::Out, Self::Cache) {
        (Tensor::from_vec_exact(x.into_vec()), PhantomData)
    }

    fn backward_train(&self, _: Self::Cache, dy: &Self::Out) -> (Tensor<(N, C, H, W), E>, ()) {
        (Tensor::from_vec_exact(dy.as_slice().to_vec()), ())
    }
}
