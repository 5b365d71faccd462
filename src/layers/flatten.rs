//! Flattening a batch of images into a batch of vectors.

use crate::dims::{Dim, DimMul, Flat};
use crate::module::{no_params, Module};
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
    C: Dim + DimMul<H>,
    H: Dim,
    W: Dim,
    E: Element,
    // C·H·W, computed by typenum (or `Dyn` when one of them is).
    <C as DimMul<H>>::Out: DimMul<W>,
{
    type Out = Tensor<(N, Flat<C, H, W>), E>;
    /// The input's shape.
    type Cache = (N, C, H, W);

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (n, c, h, w) = x.shape();
        Tensor::from_raw((n, c.mul(h).mul(w)), x.as_slice().to_vec())
    }

    fn forward_train(&self, x: Tensor<(N, C, H, W), E>) -> (Self::Out, Self::Cache) {
        let shape = x.shape();
        let (n, c, h, w) = shape;
        (Tensor::from_raw((n, c.mul(h).mul(w)), x.into_vec()), shape)
    }

    fn backward_train(&self, shape: Self::Cache, dy: &Self::Out) -> (Tensor<(N, C, H, W), E>, ()) {
        (Tensor::from_raw(shape, dy.as_slice().to_vec()), ())
    }
}
