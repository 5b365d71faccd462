//! Inverted dropout.

use rand::Rng;

use crate::module::{no_params, Context, LayerWork, Module};
use crate::optim::SettingError;
use crate::rules::{check_dims, GradOutput};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// Inverted dropout, as PyTorch's `Dropout(p)`: in training each element is zeroed with
/// probability `p` and the others are scaled by `1 / (1 − p)`, so `y = x ∘ mask` with
/// `mask ∈ {0, 1/(1−p)}`; in [`Module::infer`] it is the identity.
///
/// `backward_train` returns `dx = dy ∘ mask`, the same mask, kept in the step's work. The
/// masks come from the [`Context`]'s seeded generator: the same seed gives the same masks.
///
/// ```
/// use shaped::{Context, Dropout, Module, Tensor, typenum::*};
/// let mut layer = Dropout::new(0.5)?;
/// let x = Tensor::<(U2, U4)>::full(1.0);
/// let mut work = Default::default();
/// let y = layer.forward_train(&x, &mut work, &mut Context::new(7));
/// assert!(y.as_slice().iter().all(|&v| v == 0.0 || v == 2.0)); // dropped, or scaled by 2
/// assert_eq!(layer.infer(&x), x); // the identity in evaluation
/// # Ok::<(), shaped::SettingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// Dropout with probability `p` of zeroing an element, in `[0, 1]` as in PyTorch (`p = 1`
    /// zeroes everything).
    ///
    /// ```
    /// use shaped::{typenum::*, Context, Dropout, Module, Tensor};
    /// let mut all = Dropout::new(1.0)?;
    /// let x = Tensor::<(U2, U3)>::full(1.0);
    /// let y = all.forward_train(&x, &mut Default::default(), &mut Context::new(0)).clone();
    /// assert_eq!(y.as_slice(), &[0.0; 6]); // every element dropped
    /// let err = Dropout::new(1.5).unwrap_err();
    /// assert_eq!((err.name, err.value, err.allowed), ("p", 1.5, "a probability in [0, 1]"));
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn new(p: f64) -> Result<Self, SettingError> {
        if (0.0..=1.0).contains(&p) {
            Ok(Self { p })
        } else {
            Err(SettingError {
                name: "p",
                value: p,
                allowed: "a probability in [0, 1]",
            })
        }
    }

    /// The probability of zeroing an element.
    ///
    /// ```
    /// use shaped::Dropout;
    /// assert_eq!(Dropout::new(0.2)?.p(), 0.2);
    /// assert_eq!(Dropout::default().p(), 0.5); // PyTorch's default
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn p(&self) -> f64 {
        self.p
    }
}

/// PyTorch's default, `p = 0.5`.
impl Default for Dropout {
    fn default() -> Self {
        Self { p: 0.5 }
    }
}

no_params!(Dropout);

impl<S: Shape, E: Element> Module<E, Tensor<S, E>> for Dropout {
    type Out = Tensor<S, E>;
    /// The mask is kept for the backward pass.
    type Work = LayerWork<S, S, E, Tensor<S, E>>;

    fn infer(&self, x: &Tensor<S, E>) -> Tensor<S, E> {
        x.clone()
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<S, E>,
        work: &'w mut Self::Work,
        ctx: &mut Context,
    ) -> &'w Tensor<S, E> {
        // PyTorch's scale; with p = 1 every element is dropped and the scale is never used.
        let keep = if self.p < 1.0 {
            1.0 / (1.0 - self.p)
        } else {
            0.0
        };
        let keep = E::from_f64(keep).unwrap_or_else(E::zero);
        let rng = ctx.rng();
        let mask = work.keep.reset(x.shape()).as_mut_slice();
        for m in mask.iter_mut() {
            *m = if rng.random::<f64>() < self.p {
                E::zero()
            } else {
                keep
            };
        }
        let out = work.out.reset(x.shape()).as_mut_slice();
        for ((y, &v), &m) in out.iter_mut().zip(x.as_slice()).zip(work.keep.as_slice()) {
            *y = v * m;
        }
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
        check_dims::<GradOutput>(x.dims().as_ref(), dy.dims().as_ref());
        if !input_grad {
            return None;
        }
        let dx = work.dx.reset(x.shape()).as_mut_slice();
        for ((d, &g), &m) in dx.iter_mut().zip(dy.as_slice()).zip(work.keep.as_slice()) {
            *d = g * m;
        }
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Tensor<S, E> {
        &work.out
    }
}
