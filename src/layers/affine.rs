//! The fully connected layer.

use crate::dims::Dim;

use crate::gemm::{matmul, View};
use crate::module::{weight_bias_params, Module, Params};
use crate::rules::{check_dim, check_dims, AffineGradOutput, AffineInput, AtBatch, DimEq, ShapeEq};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// `Y = X·Wᵀ + b`: a fully connected layer from `DI` input features to `DO` outputs, with
/// `X: (N, DI)`, `W: (DO, DI)`, `b: (DO,)`, `Y: (N, DO)`.
///
/// `backward` returns `dX = dY·W` of shape `(N, DI)`, and in [`AffineGrads`]
/// `dW = dYᵀ·X` of shape `(DO, DI)` and `db = Σₙ dY` of shape `(DO,)`.
///
/// ```
/// use shaped::{Affine, AffineGrads, Tensor, typenum::{U2, U3, U4}};
/// let layer = Affine::<U3, U2>::new(
///     Tensor::from_vec(vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5])?,
///     Tensor::from_vec(vec![0.0, 1.0])?,
/// );
/// let x = Tensor::<(U4, U3)>::full(1.0);
/// let y: Tensor<(U4, U2)> = layer.forward(&x);
/// assert_eq!(&y.as_slice()[..2], &[0.0, 2.5]);
/// let dy = Tensor::<(U4, U2)>::full(1.0);
/// let (dx, grads): (Tensor<(U4, U3)>, AffineGrads<U3, U2>) = layer.backward(&x, &dy);
/// assert_eq!(grads.bias.as_slice(), &[4.0, 4.0]);
/// assert_eq!(&dx.as_slice()[..3], &[1.5, 0.5, -0.5]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Affine<DI: Dim, DO: Dim, E = f32> {
    /// `W`, shape `(DO, DI)` (PyTorch's `Linear.weight` layout).
    pub weight: Tensor<(DO, DI), E>,
    /// `b`, shape `(DO,)`.
    pub bias: Tensor<(DO,), E>,
}

/// The parameter gradients of an [`Affine`] layer, shaped like its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct AffineGrads<DI: Dim, DO: Dim, E = f32> {
    /// `dW = dYᵀ·X`, shape `(DO, DI)`.
    pub weight: Tensor<(DO, DI), E>,
    /// `db = Σₙ dY`, shape `(DO,)`.
    pub bias: Tensor<(DO,), E>,
}

impl<DI: Dim, DO: Dim, E: Element> Affine<DI, DO, E> {
    /// A layer with the given weight `(DO, DI)` and bias `(DO,)`.
    ///
    /// # Panics
    ///
    /// If `DO` is a [`Dyn`](crate::Dyn) dim and the two tensors disagree on its size.
    #[track_caller]
    pub fn new(weight: Tensor<(DO, DI), E>, bias: Tensor<(DO,), E>) -> Self {
        assert_eq!(
            weight.dims()[0],
            bias.dims()[0],
            "Affine: the weight has {} outputs (DO), the bias {}",
            weight.dims()[0],
            bias.dims()[0]
        );
        Self { weight, bias }
    }

    /// `Y = X·Wᵀ + b`, `(N, DI) -> (N, DO)`.
    ///
    /// An input whose last dim is not `DI` does not compile:
    /// `shape mismatch in Affine input: expected _784 features (DI), found _100`.
    ///
    /// # Panics
    ///
    /// If the input's features are a [`Dyn`](crate::Dyn) dim of another size than `DI`, with
    /// the same message.
    #[track_caller]
    pub fn forward<N, D>(&self, x: &Tensor<(N, D), E>) -> Tensor<(N, DO), E>
    where
        N: Dim,
        D: Dim + DimEq<DI, AffineInput>,
    {
        let (n, d) = x.shape();
        let (d_o, di) = self.weight.shape();
        check_dim::<AffineInput>(di.size(), d.size());
        let (n_, do_, di_) = (n.size(), d_o.size(), di.size());
        let mut y = Vec::with_capacity(n_ * do_);
        for _ in 0..n_ {
            y.extend_from_slice(self.bias.as_slice());
        }
        matmul(
            [n_, do_, di_],
            &mut y,
            do_,
            true,
            View::rows(x.as_slice(), di_),
            View::transposed(self.weight.as_slice(), di_),
        );
        Tensor::from_raw((n, d_o), y)
    }

    /// The gradients of a loss through the layer: given `x` `(N, DI)` and `dy = ∂L/∂Y`
    /// `(N, DO)`, returns `dX = dY·W` `(N, DI)` and the parameter gradients
    /// `dW = dYᵀ·X` `(DO, DI)`, `db = Σₙ dY` `(DO,)`.
    ///
    /// `dy` must have exactly the forward output's shape `(N, DO)`: another batch or another
    /// `DO` does not compile, and the error prints both shapes.
    ///
    /// # Panics
    ///
    /// Where a [`Dyn`](crate::Dyn) dim hides a mismatch from the compiler (a `dy` of another
    /// runtime batch than `x`, say), with the rule's message in plain decimal:
    /// `shape mismatch in Affine grad_output: expected (32, 2) (N, DO), found (16, 2)`.
    #[track_caller]
    pub fn backward<N, D, G>(
        &self,
        x: &Tensor<(N, D), E>,
        dy: &Tensor<G, E>,
    ) -> (Tensor<(N, DI), E>, AffineGrads<DI, DO, E>)
    where
        N: Dim,
        D: Dim + DimEq<DI, AffineInput>,
        G: Shape + ShapeEq<(N, DO), AffineGradOutput>,
    {
        let (batch, d) = x.shape();
        let (out, features) = self.weight.shape();
        check_dim::<AffineInput>(features.size(), d.size());
        let (n, di, d_o) = (batch.size(), features.size(), out.size());
        check_dims::<AffineGradOutput>(&[n, d_o], dy.dims().as_ref());
        let dys = dy.as_slice();
        let mut dx = Tensor::zeros_with((batch, features));
        matmul(
            [n, di, d_o],
            dx.as_mut_slice(),
            di,
            false,
            View::rows(dys, d_o),
            View::rows(self.weight.as_slice(), di),
        );
        let mut dw = Tensor::zeros_with(self.weight.shape());
        matmul(
            [d_o, di, n],
            dw.as_mut_slice(),
            di,
            false,
            View::transposed(dys, d_o),
            View::rows(x.as_slice(), di),
        );
        let mut db = Tensor::zeros_with(self.bias.shape());
        for row in dys.chunks_exact(d_o) {
            for (b, g) in db.as_mut_slice().iter_mut().zip(row) {
                *b += *g;
            }
        }
        (
            dx,
            AffineGrads {
                weight: dw,
                bias: db,
            },
        )
    }
}

impl<DI: Dim, DO: Dim, E: Element> Params<E> for Affine<DI, DO, E> {
    type Grads = AffineGrads<DI, DO, E>;

    weight_bias_params!();
}

impl<N, D, DI, DO, E> Module<E, Tensor<(N, D), E>> for Affine<DI, DO, E>
where
    N: Dim,
    D: Dim,
    // The junction rule, undecided until the batch is known (see `rules::Anchor`).
    AtBatch<N, D>: DimEq<DI, AffineInput>,
    DI: Dim,
    DO: Dim,
    E: Element,
{
    type Out = Tensor<(N, DO), E>;
    /// The input, for `dW = dYᵀ·X`.
    type Cache = Tensor<(N, D), E>;

    fn infer(&self, x: &Tensor<(N, D), E>) -> Self::Out {
        self.forward(x)
    }

    fn forward_train(&self, x: Tensor<(N, D), E>) -> (Self::Out, Self::Cache) {
        (self.forward(&x), x)
    }

    fn backward_train(&self, x: Self::Cache, dy: &Self::Out) -> (Tensor<(N, D), E>, Self::Grads) {
        let (dx, grads) = self.backward(&x, dy);
        // `D` is `DI` (checked by the rule above); the data moves, nothing is copied.
        (Tensor::from_raw(x.shape(), dx.into_vec()), grads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::consts::*;

    // Hand-computed: W = [[1, 2], [3, 4], [5, 6]], b = [1, 0, -1], x = [[1, -1]].
    fn layer() -> Affine<U2, U3, f64> {
        Affine::new(
            Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap(),
            Tensor::from_vec(vec![1.0, 0.0, -1.0]).unwrap(),
        )
    }

    #[test]
    fn forward_is_x_times_w_transposed_plus_b() {
        let x = Tensor::<(U1, U2), f64>::from_vec(vec![1.0, -1.0]).unwrap();
        let y = layer().forward(&x);
        assert_eq!(y.as_slice(), &[1.0 - 2.0 + 1.0, 3.0 - 4.0, 5.0 - 6.0 - 1.0]);
    }

    #[test]
    fn backward_matches_hand_computed_products() {
        let x = Tensor::<(U1, U2), f64>::from_vec(vec![1.0, -1.0]).unwrap();
        let dy = Tensor::<(U1, U3), f64>::from_vec(vec![1.0, 2.0, 3.0]).unwrap();
        let (dx, g) = layer().backward(&x, &dy);
        // dX = dY·W = [1+6+15, 2+8+18]
        assert_eq!(dx.as_slice(), &[22.0, 28.0]);
        // dW = dYᵀ·X = [[1, -1], [2, -2], [3, -3]]
        assert_eq!(g.weight.as_slice(), &[1.0, -1.0, 2.0, -2.0, 3.0, -3.0]);
        assert_eq!(g.bias.as_slice(), &[1.0, 2.0, 3.0]);
    }
}
