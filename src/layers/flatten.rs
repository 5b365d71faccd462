//! Flattening a batch of images into a batch of vectors.

use crate::dims::{Dim, DimMul, Flat};
use crate::module::{no_params, Context, LayerWork, Module};
use crate::rules::{check_dims, GradOutput};
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
/// `backward_train` reshapes the gradient back to `(N, C, H, W)`. (Training copies the data
/// into the step's buffers; `infer` copies it into a new tensor.)
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
    type Work = LayerWork<(N, C, H, W), (N, Flat<C, H, W>), E>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (n, c, h, w) = x.shape();
        Tensor::from_raw((n, c.mul(h).mul(w)), x.as_slice().to_vec())
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (n, c, h, w) = x.shape();
        let out = work.out.reset((n, c.mul(h).mul(w)));
        out.as_mut_slice().copy_from_slice(x.as_slice());
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        _: &mut (),
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C, H, W), E>> {
        let (n, c, h, w) = x.shape();
        check_dims::<GradOutput>(&[n.size(), c.mul(h).mul(w).size()], dy.dims().as_ref());
        if !input_grad {
            return None;
        }
        let dx = work.dx.reset(x.shape());
        dx.as_mut_slice().copy_from_slice(dy.as_slice());
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}
