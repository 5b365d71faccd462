//! The rectified linear unit.

use crate::module::{no_params, Context, LayerWork, Module};
use crate::par;
use crate::rules::{check_dims, ReluGradOutput, ShapeEq};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// `y = max(0, x)`, element-wise, on any shape.
///
/// `backward` returns `dx = dy ∘ 1[x > 0]`, of the input's shape: the gradient is zero where
/// `x == 0`, as in PyTorch. NaN propagates as in PyTorch: `max(0, NaN)` is NaN, and the
/// gradient at a NaN input is `dy` (PyTorch masks where `x ≤ 0`, which NaN is not).
///
/// ```
/// use shaped::{ReLU, Tensor, typenum::U4};
/// let x = Tensor::<(U4,)>::from_vec(vec![-1.0, 0.0, 2.0, 3.0])?;
/// let y: Tensor<(U4,)> = ReLU.forward(&x);
/// assert_eq!(y.as_slice(), &[0.0, 0.0, 2.0, 3.0]);
/// let dx = ReLU.backward(&x, &Tensor::<(U4,)>::full(1.0));
/// assert_eq!(dx.as_slice(), &[0.0, 0.0, 1.0, 1.0]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReLU;

impl ReLU {
    /// `y = max(0, x)`.
    ///
    /// ```
    /// use shaped::{ReLU, Tensor, typenum::U2};
    /// let x = Tensor::<(U2, U2)>::from_vec(vec![-1.0, 2.0, f32::NAN, 0.0])?;
    /// let y: Tensor<(U2, U2)> = ReLU.forward(&x);
    /// assert_eq!(y.as_slice()[..2], [0.0, 2.0]);
    /// assert!(y.as_slice()[2].is_nan()); // NaN kept, as in PyTorch
    /// assert_eq!(y.as_slice()[3], 0.0);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn forward<S: Shape, E: Element>(&self, x: &Tensor<S, E>) -> Tensor<S, E> {
        Tensor::from_raw(x.shape(), par::map_new(x.as_slice(), relu))
    }

    /// [`ReLU::forward`] into `y`, which takes `x`'s shape and keeps its memory when it already
    /// has room: no allocation in a loop.
    ///
    /// ```
    /// use shaped::{Dyn, ReLU, Tensor, U2};
    /// let mut y = Tensor::default();
    /// for rows in [3, 2, 3] {
    ///     let x = Tensor::<(Dyn, U2)>::from_vec(vec![-1.0, 1.0].repeat(rows))?;
    ///     ReLU.forward_into(&x, &mut y); // allocates on the first pass only
    ///     assert_eq!(y.dims(), [rows, 2]);
    ///     assert_eq!(y.as_slice(), [0.0, 1.0].repeat(rows));
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn forward_into<S: Shape, E: Element>(&self, x: &Tensor<S, E>, y: &mut Tensor<S, E>) {
        par::map(x.as_slice(), y.reset(x.shape()).as_mut_slice(), relu);
    }

    /// `dx = dy ∘ 1[x > 0]`. `dy` must have the input's shape; another shape does not
    /// compile, and the error prints both shapes.
    ///
    /// ```
    /// use shaped::{ReLU, Tensor, typenum::U4};
    /// let x = Tensor::<(U4,)>::from_vec(vec![-2.0, 0.0, 0.5, 3.0])?;
    /// let dy = Tensor::<(U4,)>::from_vec(vec![1.0, 2.0, 3.0, 4.0])?;
    /// let dx: Tensor<(U4,)> = ReLU.backward(&x, &dy);
    /// assert_eq!(dx.as_slice(), &[0.0, 0.0, 3.0, 4.0]); // zero where x ≤ 0, x = 0 included
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of `dy` has another size than `x`'s, with the same message
    /// in plain decimal.
    #[track_caller]
    pub fn backward<S, G, E>(&self, x: &Tensor<S, E>, dy: &Tensor<G, E>) -> Tensor<S, E>
    where
        S: Shape,
        G: Shape + ShapeEq<S, ReluGradOutput>,
        E: Element,
    {
        check_dims::<ReluGradOutput>(x.dims().as_ref(), dy.dims().as_ref());
        Tensor::from_raw(
            x.shape(),
            par::zip_map_new(x.as_slice(), dy.as_slice(), relu_grad),
        )
    }

    /// [`ReLU::backward`] into `dx`, which takes `x`'s shape and keeps its memory when it
    /// already has room.
    ///
    /// ```
    /// use shaped::{Dyn, ReLU, Tensor, U2};
    /// let mut dx = Tensor::default();
    /// for rows in [2, 4] {
    ///     let x = Tensor::<(Dyn, U2)>::from_vec([-1.0, 1.0].repeat(rows))?;
    ///     let dy = Tensor::<(Dyn, U2)>::from_vec(vec![5.0; 2 * rows])?;
    ///     ReLU.backward_into(&x, &dy, &mut dx);
    ///     assert_eq!(dx.as_slice(), [0.0, 5.0].repeat(rows));
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`ReLU::backward`].
    #[track_caller]
    pub fn backward_into<S, G, E>(&self, x: &Tensor<S, E>, dy: &Tensor<G, E>, dx: &mut Tensor<S, E>)
    where
        S: Shape,
        G: Shape + ShapeEq<S, ReluGradOutput>,
        E: Element,
    {
        check_dims::<ReluGradOutput>(x.dims().as_ref(), dy.dims().as_ref());
        let dx = dx.reset(x.shape()).as_mut_slice();
        par::zip_map(x.as_slice(), dy.as_slice(), dx, relu_grad);
    }
}

/// `max(0, x)`, NaN kept.
fn relu<E: Element>(x: E) -> E {
    if x <= E::zero() {
        E::zero()
    } else {
        x
    }
}

/// `dy` where `x > 0` (or NaN), else 0.
fn relu_grad<E: Element>(x: E, dy: E) -> E {
    if x <= E::zero() {
        E::zero()
    } else {
        dy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::consts::*;

    #[test]
    fn gradient_is_zero_at_zero_and_below() {
        let x = Tensor::<(U2, U2), f64>::from_vec(vec![-0.5, 0.0, 1e-300, 7.0]).unwrap();
        let dy = Tensor::<(U2, U2), f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(ReLU.backward(&x, &dy).as_slice(), &[0.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn nan_propagates_forward_and_backward_as_in_pytorch() {
        let x = Tensor::<(U2,), f64>::from_vec(vec![f64::NAN, -1.0]).unwrap();
        assert!(ReLU.forward(&x).as_slice()[0].is_nan());
        let dy = Tensor::<(U2,), f64>::from_vec(vec![5.0, 6.0]).unwrap();
        assert_eq!(ReLU.backward(&x, &dy).as_slice(), &[5.0, 0.0]);
    }
}

no_params!(ReLU);

impl<S: Shape, E: Element> Module<E, Tensor<S, E>> for ReLU {
    type Out = Tensor<S, E>;
    type Work = LayerWork<S, S, E>;

    fn infer(&self, x: &Tensor<S, E>) -> Tensor<S, E> {
        self.forward(x)
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<S, E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Tensor<S, E> {
        self.forward_into(x, &mut work.out);
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<S, E>,
        work: &'w mut Self::Work,
        _: &mut (),
        input_grad: bool,
    ) -> Option<&'w Tensor<S, E>> {
        if !input_grad {
            return None;
        }
        self.backward_into(x, dy, &mut work.dx);
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Tensor<S, E> {
        &work.out
    }
}
