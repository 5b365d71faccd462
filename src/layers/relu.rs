//! The rectified linear unit.

use crate::module::{no_params, Context, LayerWork, Module};
use crate::par;
use crate::rows::{relu_grad_masked, relu_masked};
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

    /// The training path's gradient, read through the mask its forward pass kept, equals the
    /// stateless one from `x`, bit for bit: on a tensor long enough to run on every thread in
    /// chunks (and to turn), with a length that is not a whole number of words, for both
    /// element types; and with no forward pass in the work, or one of another size (even one
    /// with as many words of mask), the gradient still comes from `x`.
    #[test]
    fn the_training_gradient_through_the_mask_is_the_one_from_the_input() {
        fn run<E: Element>() {
            let n = (1 << 20) + 37;
            let x = Tensor::<(crate::Dyn,), E>::from_fn_with((crate::Dyn(n),), |i| {
                let v = ((i[0] * 7919) % 1001) as f64 - 500.0;
                E::from(if i[0] % 97 == 0 { f64::NAN } else { v }).unwrap()
            });
            let dy = Tensor::<(crate::Dyn,), E>::from_fn_with((crate::Dyn(n),), |i| {
                E::from((i[0] % 13) as f64 - 6.5).unwrap()
            });
            let want = ReLU.backward(&x, &dy);
            let mut work = <ReLU as Module<E, _>>::Work::default();
            // No forward pass yet: from `x`.
            let dx = ReLU
                .backward_train(&x, &dy, &mut work, &mut (), true)
                .unwrap();
            assert_eq!(bits(dx.as_slice()), bits(want.as_slice()));
            let y = ReLU.forward_train(&x, &mut work, &mut Context::new(0));
            assert_eq!(bits(y.as_slice()), bits(ReLU.forward(&x).as_slice()));
            let dx = ReLU
                .backward_train(&x, &dy, &mut work, &mut (), true)
                .unwrap();
            assert_eq!(bits(dx.as_slice()), bits(want.as_slice()));
            // A forward pass of 20 elements fewer: as many words of mask, but not this input's.
            let short = Tensor::<(crate::Dyn,), E>::from_fn_with((crate::Dyn(n - 20),), |i| {
                E::from(-1.0 - i[0] as f64).unwrap()
            });
            ReLU.forward_train(&short, &mut work, &mut Context::new(0));
            assert_eq!(work.keep.len(), n.div_ceil(64));
            let dx = ReLU
                .backward_train(&x, &dy, &mut work, &mut (), true)
                .unwrap();
            assert_eq!(bits(dx.as_slice()), bits(want.as_slice()));
        }
        fn bits<E: Element>(v: &[E]) -> Vec<u64> {
            v.iter().map(|e| e.to_f64().unwrap().to_bits()).collect()
        }
        run::<f32>();
        run::<f64>();
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

/// In training, the forward pass keeps a mask of one bit per element, where the gradient
/// passes, and the backward pass reads it instead of the input: the input gradient of a ReLU
/// between two layers then reads `dy` and 1/32 as much again (in `f32`), not `dy` and `x`.
/// Measured on the 256 × 4096 benchmark ReLU (2 threads, Zen 5 VM, interleaved A/B, 13 rounds):
/// forward+backward 0.88× the time (median of the rounds' ratios; the medians of the times,
/// 136 → 112 µs), the forward pass within noise (0.98×). In isolation the backward pass took
/// 45 µs against 63–75 µs from `x`, and writing the mask cost the forward pass about 2 µs (of
/// 50).
impl<S: Shape, E: Element> Module<E, Tensor<S, E>> for ReLU {
    type Out = Tensor<S, E>;
    /// The output, the input gradient, and the mask of where the gradient passes (one bit per
    /// element, 64 to a word).
    type Work = LayerWork<S, S, E, Vec<u64>>;

    fn infer(&self, x: &Tensor<S, E>) -> Tensor<S, E> {
        self.forward(x)
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<S, E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Tensor<S, E> {
        let y = work.out.reset(x.shape()).as_mut_slice();
        let x = x.as_slice();
        // Resized, not refilled: `relu_masked` writes every word (and after the first step of a
        // batch size this allocates nothing).
        work.keep.resize(x.len().div_ceil(64), 0);
        par::for_chunks_mut_bits(y, &mut work.keep, |r, y, mask| {
            relu_masked(&x[r], y, mask);
        });
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
        let mask = &work.keep;
        // The mask of the last forward pass in this work, if its input had these dimensions
        // (its output has them too) and it wrote the mask; else the gradient from `x`. (That
        // the input is the same one is the contract of `backward_train`.)
        let kept = work.out.dims().as_ref() == x.dims().as_ref()
            && mask.len() == x.as_slice().len().div_ceil(64);
        if !kept {
            self.backward_into(x, dy, &mut work.dx);
            return Some(&work.dx);
        }
        check_dims::<ReluGradOutput>(x.dims().as_ref(), dy.dims().as_ref());
        let (dy, dx) = (dy.as_slice(), work.dx.reset(x.shape()).as_mut_slice());
        par::for_chunks_mut(dx, |r, dx| {
            // Chunks start on a word (`for_ranges`' chunks are multiples of 64 long).
            assert!(r.start.is_multiple_of(64), "a chunk off a word of the mask");
            relu_grad_masked(&dy[r.clone()], &mask[r.start / 64..], dx);
        });
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Tensor<S, E> {
        &work.out
    }
}
