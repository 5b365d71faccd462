//! Activations, element-wise on any shape: [`LeakyReLU`], [`Sigmoid`], [`Tanh`], [`GELU`],
//! [`SiLU`]; the [`Elementwise`] trait they are written with, which makes a layer of your own
//! from its scalar function and derivative; and [`softmax`] and [`log_softmax`] over the last
//! dim, for inference.
//!
//! ([`ReLU`](crate::ReLU) has its own file, with the same API.)

use crate::ops::{map_into, zip_into};
use crate::rules::{check_elementwise_grad, ElementwiseGradOutput, ShapeEq};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// A layer that applies one scalar function to every element: `y = f(x)` on any shape,
/// with `dx = dy ∘ f′(x)`.
///
/// Implement [`value`](Elementwise::value) and [`derivative`](Elementwise::derivative), then
/// call [`elementwise!`](crate::elementwise) with the type: it becomes a layer with
/// [`Module`](crate::Module) (training buffers kept across steps, no allocation once sized),
/// [`Params`](crate::Params) (none) and [`Init`](crate::Init) (the type's `Default`, if it
/// has one), and the trait gives it the stateless passes `forward`, `backward` and their
/// `_into` forms. Every activation of this crate is written this way.
///
/// ```
/// use shaped::prelude::*;
/// use shaped::Element;
///
/// /// Softsign, `y = x / (1 + |x|)`; `dy/dx = 1 / (1 + |x|)²`.
/// #[derive(Clone, Copy, Debug, Default, PartialEq)]
/// struct Softsign;
///
/// impl Elementwise for Softsign {
///     fn value<E: Element>(&self, x: E) -> E {
///         x / (E::one() + x.abs())
///     }
///     fn derivative<E: Element>(&self, x: E, _y: E) -> E {
///         let d = E::one() + x.abs();
///         (d * d).recip()
///     }
/// }
/// shaped::elementwise!(Softsign);
///
/// let x = Tensor::<(U1, U3)>::from_vec(vec![-1.0, 0.0, 3.0])?;
/// let y: Tensor<(U1, U3)> = Softsign.forward(&x);
/// assert_eq!(y.as_slice(), &[-0.5, 0.0, 0.75]);
/// let dy = Tensor::<(U1, U3)>::full(1.0);
/// let dx: Tensor<(U1, U3)> = Softsign.backward(&x, &dy);
/// assert_eq!(dx.as_slice(), &[0.25, 1.0, 0.0625]);
///
/// // A layer like any other: in a model, built by `seeded`, trained.
/// let mut model = <(Affine<U3, U2>, Softsign)>::seeded(0);
/// let mut work = Default::default();
/// let out = model.forward_train(&x, &mut work, &mut Context::new(0));
/// assert_eq!(out.dims(), [1, 2]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
///
/// Both functions are generic over the element type ([`Element`]: `f32` or `f64`, with
/// every method of [`num_traits::Float`]), so one implementation serves both.
pub trait Elementwise: Sync {
    /// `f(x)`.
    fn value<E: Element>(&self, x: E) -> E;

    /// `f′(x)`, the derivative at `x`, given also `y = f(x)` (which some derivatives are
    /// written with: the sigmoid's is `y (1 − y)`).
    fn derivative<E: Element>(&self, x: E, y: E) -> E;

    /// `y = f(x)`, element-wise, into a new tensor of `x`'s shape.
    fn forward<S: Shape, E: Element>(&self, x: &Tensor<S, E>) -> Tensor<S, E> {
        let mut y = Tensor::default();
        self.forward_into(x, &mut y);
        y
    }

    /// [`Elementwise::forward`] into `y`, which takes `x`'s shape and keeps its memory when it
    /// already has room: no allocation in a loop.
    ///
    /// ```
    /// use shaped::{Dyn, Elementwise, Sigmoid, Tensor, U2};
    /// let mut y = Tensor::default();
    /// for rows in [2, 1] {
    ///     let x = Tensor::<(Dyn, U2), f64>::from_vec(vec![0.0; 2 * rows])?;
    ///     Sigmoid.forward_into(&x, &mut y);
    ///     assert_eq!(y.as_slice(), vec![0.5; 2 * rows]); // σ(0)
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    fn forward_into<S: Shape, E: Element>(&self, x: &Tensor<S, E>, y: &mut Tensor<S, E>) {
        let y = y.reset(x.shape()).as_mut_slice();
        map_into(x.as_slice(), y, |v| self.value(v));
    }

    /// `dx = dy ∘ f′(x)`, of `x`'s shape. `dy` must have the input's shape; another shape
    /// does not compile, and the error names the layer and prints both shapes:
    /// `shape mismatch in Sigmoid grad_output: expected (_4, _3) (the input's shape), found
    /// (_4, _2)`.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of `dy` has another size than `x`'s, with the same message
    /// in plain decimal.
    #[track_caller]
    fn backward<S, G, E>(&self, x: &Tensor<S, E>, dy: &Tensor<G, E>) -> Tensor<S, E>
    where
        S: Shape,
        G: Shape + ShapeEq<S, ElementwiseGradOutput<Self>>,
        E: Element,
    {
        let mut dx = Tensor::default();
        self.backward_into(x, dy, &mut dx);
        dx
    }

    /// [`Elementwise::backward`] into `dx`, which takes `x`'s shape and keeps its memory when
    /// it already has room.
    ///
    /// ```
    /// use shaped::{Dyn, Elementwise, Sigmoid, Tensor, U2};
    /// let mut dx = Tensor::default();
    /// for rows in [2, 1] {
    ///     let x = Tensor::<(Dyn, U2), f64>::from_vec(vec![0.0; 2 * rows])?;
    ///     let dy = Tensor::<(Dyn, U2), f64>::from_vec(vec![2.0; 2 * rows])?;
    ///     Sigmoid.backward_into(&x, &dy, &mut dx);
    ///     assert_eq!(dx.as_slice(), vec![0.5; 2 * rows]); // 2 · σ′(0) = 2 · 0.25
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Elementwise::backward`].
    #[track_caller]
    fn backward_into<S, G, E>(&self, x: &Tensor<S, E>, dy: &Tensor<G, E>, dx: &mut Tensor<S, E>)
    where
        S: Shape,
        G: Shape + ShapeEq<S, ElementwiseGradOutput<Self>>,
        E: Element,
    {
        check_elementwise_grad::<Self>(x.dims().as_ref(), dy.dims().as_ref());
        let dx = dx.reset(x.shape()).as_mut_slice();
        zip_into(x.as_slice(), dy.as_slice(), dx, |v, g| {
            g * self.derivative(v, self.value(v))
        });
    }
}

/// The training backward pass of an [`Elementwise`] layer (called by the
/// [`Module`](crate::Module) impl that [`elementwise!`](crate::elementwise) writes).
#[doc(hidden)]
#[track_caller]
pub fn backward_train<'w, L, S, E>(
    layer: &L,
    x: &Tensor<S, E>,
    dy: &Tensor<S, E>,
    dx: &'w mut Tensor<S, E>,
    input_grad: bool,
) -> Option<&'w Tensor<S, E>>
where
    L: Elementwise,
    S: Shape,
    E: Element,
{
    check_elementwise_grad::<L>(x.dims().as_ref(), dy.dims().as_ref());
    if !input_grad {
        return None;
    }
    layer.backward_into(x, dy, dx);
    Some(dx)
}

/// `v` as an element (every constant here is exact or rounds as PyTorch's do).
fn c<E: Element>(v: f64) -> E {
    E::from_f64(v).unwrap_or_else(E::nan)
}

/// The logistic function `1 / (1 + e^(−x))`: 0 at `−∞`, 1 at `+∞`, never NaN but for NaN.
fn logistic<E: Element>(x: E) -> E {
    E::one() / (E::one() + (-x).exp())
}

/// `y = x` for `x > 0`, `y = negative_slope · x` otherwise, element-wise, on any shape
/// (PyTorch's `LeakyReLU`, default slope 0.01).
///
/// `backward` returns `dx = dy` where `x > 0` and `dx = negative_slope · dy` elsewhere (at
/// `x = 0` too, as in PyTorch), of the input's shape.
///
/// ```
/// use shaped::{Elementwise, LeakyReLU, Tensor, typenum::U4};
/// let x = Tensor::<(U4,), f64>::from_vec(vec![-2.0, 0.0, 1.0, 3.0])?;
/// let layer = LeakyReLU::new(0.1);
/// let y: Tensor<(U4,), f64> = layer.forward(&x);
/// assert_eq!(y.as_slice(), &[-0.2, 0.0, 1.0, 3.0]);
/// let dx: Tensor<(U4,), f64> = layer.backward(&x, &Tensor::<(U4,), f64>::full(1.0));
/// assert_eq!(dx.as_slice(), &[0.1, 0.1, 1.0, 1.0]);
/// assert_eq!(LeakyReLU::default().negative_slope(), 0.01);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    negative_slope: f64,
}

impl LeakyReLU {
    /// A leaky ReLU with the given slope for `x ≤ 0` (any value, as PyTorch takes it).
    ///
    /// ```
    /// use shaped::{Elementwise, LeakyReLU, Tensor, typenum::U3};
    /// let x = Tensor::<(U3,), f64>::from_vec(vec![-1.0, 0.0, 2.0])?;
    /// let y: Tensor<(U3,), f64> = LeakyReLU::new(0.2).forward(&x);
    /// assert_eq!(y.as_slice(), &[-0.2, 0.0, 2.0]);
    /// let mirrored: Tensor<(U3,), f64> = LeakyReLU::new(-1.0).forward(&x); // |x|
    /// assert_eq!(mirrored.as_slice(), &[1.0, 0.0, 2.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn new(negative_slope: f64) -> Self {
        Self { negative_slope }
    }

    /// The slope for `x ≤ 0`.
    ///
    /// ```
    /// use shaped::LeakyReLU;
    /// assert_eq!(LeakyReLU::new(0.2).negative_slope(), 0.2);
    /// assert_eq!(LeakyReLU::default().negative_slope(), 0.01);
    /// ```
    pub fn negative_slope(&self) -> f64 {
        self.negative_slope
    }
}

/// PyTorch's default, `negative_slope = 0.01`.
impl Default for LeakyReLU {
    fn default() -> Self {
        Self::new(0.01)
    }
}

impl Elementwise for LeakyReLU {
    fn value<E: Element>(&self, x: E) -> E {
        if x > E::zero() {
            x
        } else {
            x * c(self.negative_slope)
        }
    }

    fn derivative<E: Element>(&self, x: E, _: E) -> E {
        if x > E::zero() {
            E::one()
        } else {
            c(self.negative_slope)
        }
    }
}
crate::elementwise!(LeakyReLU);

/// `y = σ(x) = 1 / (1 + e^(−x))`, element-wise, on any shape.
///
/// `backward` returns `dx = dy ∘ y ∘ (1 − y)`, of the input's shape.
///
/// ```
/// use shaped::{Elementwise, Sigmoid, Tensor, typenum::U3};
/// let x = Tensor::<(U3,), f64>::from_vec(vec![-1000.0, 0.0, 1000.0])?;
/// let y: Tensor<(U3,), f64> = Sigmoid.forward(&x);
/// assert_eq!(y.as_slice(), &[0.0, 0.5, 1.0]); // no overflow at either end
/// let dx: Tensor<(U3,), f64> = Sigmoid.backward(&x, &Tensor::<(U3,), f64>::full(1.0));
/// assert_eq!(dx.as_slice(), &[0.0, 0.25, 0.0]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Elementwise for Sigmoid {
    fn value<E: Element>(&self, x: E) -> E {
        logistic(x)
    }

    fn derivative<E: Element>(&self, _: E, y: E) -> E {
        (E::one() - y) * y
    }
}
crate::elementwise!(Sigmoid);

/// `y = tanh(x)`, element-wise, on any shape.
///
/// `backward` returns `dx = dy ∘ (1 − y²)`, of the input's shape.
///
/// ```
/// use shaped::{Elementwise, Tanh, Tensor, typenum::U3};
/// let x = Tensor::<(U3,), f64>::from_vec(vec![-30.0, 0.0, 0.5])?;
/// let y: Tensor<(U3,), f64> = Tanh.forward(&x);
/// assert_eq!(y.as_slice()[..2], [-1.0, 0.0]);
/// let dx: Tensor<(U3,), f64> = Tanh.backward(&x, &Tensor::<(U3,), f64>::full(1.0));
/// assert_eq!(dx.as_slice()[..2], [0.0, 1.0]);
/// assert!((dx.as_slice()[2] - (1.0 - 0.5f64.tanh().powi(2))).abs() < 1e-15);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

impl Elementwise for Tanh {
    fn value<E: Element>(&self, x: E) -> E {
        x.tanh()
    }

    fn derivative<E: Element>(&self, _: E, y: E) -> E {
        E::one() - y * y
    }
}
crate::elementwise!(Tanh);

/// `y = x · Φ(x) = x/2 · (1 + erf(x / √2))`, element-wise, on any shape: the Gaussian error
/// linear unit in PyTorch's exact form (`GELU(approximate='none')`), `Φ` the standard normal
/// distribution function.
///
/// `backward` returns `dx = dy ∘ (Φ(x) + x · φ(x))`, `φ(x) = e^(−x²/2) / √(2π)` the normal
/// density, of the input's shape.
///
/// ```
/// use shaped::{Elementwise, Tensor, GELU, typenum::U3};
/// let x = Tensor::<(U3,), f64>::from_vec(vec![-10.0, 0.0, 1.0])?;
/// let y: Tensor<(U3,), f64> = GELU.forward(&x);
/// assert_eq!(y.as_slice()[..2], [0.0, 0.0]);
/// assert!((y.as_slice()[2] - 0.841344746068543).abs() < 1e-15); // PyTorch's GELU(1.0)
/// let dx: Tensor<(U3,), f64> = GELU.backward(&x, &Tensor::<(U3,), f64>::full(1.0));
/// assert_eq!(dx.as_slice()[1], 0.5);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
// PyTorch's name (and the paper's), kept as it is written there.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GELU;

/// `erf(x)`: the standard library has no stable `erf` (rustc 1.95), so `libm`'s, in `f64`
/// (for `f32` the result is rounded once, from a more precise value).
fn erf<E: Element>(x: E) -> E {
    c(libm::erf(x.to_f64().unwrap_or(f64::NAN)))
}

impl Elementwise for GELU {
    fn value<E: Element>(&self, x: E) -> E {
        // PyTorch's order of operations: x · 0.5 · (1 + erf(x · (1/√2))).
        x * c(0.5) * (E::one() + erf(x * c(core::f64::consts::FRAC_1_SQRT_2)))
    }

    fn derivative<E: Element>(&self, x: E, _: E) -> E {
        // 1/√(2π), as PyTorch writes it: (2/√π) · (1/√2) · 0.5.
        let beta = core::f64::consts::FRAC_2_SQRT_PI * core::f64::consts::FRAC_1_SQRT_2 * 0.5;
        let cdf = c::<E>(0.5) * (E::one() + erf(x * c(core::f64::consts::FRAC_1_SQRT_2)));
        let pdf = c::<E>(beta) * (x * x * c(-0.5)).exp();
        cdf + x * pdf
    }
}
crate::elementwise!(GELU);

/// `y = x · σ(x) = x / (1 + e^(−x))`, element-wise, on any shape: the sigmoid linear unit
/// (also called swish).
///
/// `backward` returns `dx = dy ∘ σ(x) (1 + x (1 − σ(x)))`, of the input's shape.
///
/// ```
/// use shaped::{Elementwise, SiLU, Tensor, typenum::U3};
/// let x = Tensor::<(U3,), f64>::from_vec(vec![-800.0, 0.0, 800.0])?;
/// let y: Tensor<(U3,), f64> = SiLU.forward(&x);
/// assert_eq!(y.as_slice(), &[0.0, 0.0, 800.0]);
/// let dx: Tensor<(U3,), f64> = SiLU.backward(&x, &Tensor::<(U3,), f64>::full(1.0));
/// assert_eq!(dx.as_slice(), &[0.0, 0.5, 1.0]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiLU;

impl Elementwise for SiLU {
    fn value<E: Element>(&self, x: E) -> E {
        x / (E::one() + (-x).exp())
    }

    fn derivative<E: Element>(&self, x: E, _: E) -> E {
        let s = logistic(x);
        s * (E::one() + x * (E::one() - s))
    }
}
crate::elementwise!(SiLU);

/// `softmax(x)ᵢ = e^(xᵢ) / Σⱼ e^(xⱼ)` over the last dim, for each position of the others, on
/// a tensor of any rank: class probabilities from a batch of logits `(N, C)`.
///
/// Computed as `e^(xᵢ − max) / Σⱼ e^(xⱼ − max)`, so logits of any finite size give finite
/// probabilities. A row holding a NaN or `+∞`, or only `−∞`, is NaN, as in PyTorch. For
/// inference: training takes [`softmax_cross_entropy`](crate::softmax_cross_entropy), which
/// has the gradient.
///
/// ```
/// use shaped::{softmax, Tensor, typenum::*};
/// let logits = Tensor::<(U2, U3), f64>::from_vec(vec![0.0, 0.0, 0.0, 1000.0, 0.0, -1000.0])?;
/// let p: Tensor<(U2, U3), f64> = softmax(&logits);
/// assert!(p.as_slice()[..3].iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-15));
/// assert_eq!(p.as_slice()[3..], [1.0, 0.0, 0.0]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub fn softmax<S: Shape, E: Element>(x: &Tensor<S, E>) -> Tensor<S, E> {
    let mut y = Tensor::default();
    softmax_into(x, &mut y);
    y
}

/// [`softmax`] into `y`, which takes `x`'s shape and keeps its memory when it already has
/// room.
///
/// ```
/// use shaped::{softmax_into, Dyn, Tensor, U3};
/// let mut p = Tensor::default();
/// for rows in [2, 1] {
///     let logits = Tensor::<(Dyn, U3), f64>::from_vec(vec![0.0, 2f64.ln(), 0.0].repeat(rows))?;
///     softmax_into(&logits, &mut p);
///     let expected = [0.25, 0.5, 0.25].repeat(rows); // 1, 2, 1 over their sum
///     assert!(p.as_slice().iter().zip(expected).all(|(p, e)| (p - e).abs() < 1e-15));
/// }
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub fn softmax_into<S: Shape, E: Element>(x: &Tensor<S, E>, y: &mut Tensor<S, E>) {
    let last = last_dim(x);
    let y = y.reset(x.shape()).as_mut_slice();
    for (xr, yr) in x
        .as_slice()
        .chunks_exact(last)
        .zip(y.chunks_exact_mut(last))
    {
        let max = row_max(xr);
        let mut sum = E::zero();
        for (y, &v) in yr.iter_mut().zip(xr) {
            *y = (v - max).exp();
            sum += *y;
        }
        for y in yr.iter_mut() {
            *y = *y / sum;
        }
    }
}

/// `log_softmax(x)ᵢ = xᵢ − log Σⱼ e^(xⱼ)` over the last dim, on a tensor of any rank: the
/// logarithm of [`softmax`] without its underflow (a class far below the others gets a large
/// negative number, not `−∞`).
///
/// Computed as `(xᵢ − max) − log Σⱼ e^(xⱼ − max)`; NaN where [`softmax`] is, as in PyTorch.
///
/// ```
/// use shaped::{log_softmax, Tensor, typenum::*};
/// let logits = Tensor::<(U1, U3), f64>::from_vec(vec![0.0, 1000.0, -1000.0])?;
/// let lp: Tensor<(U1, U3), f64> = log_softmax(&logits);
/// assert_eq!(lp.as_slice(), &[-1000.0, 0.0, -2000.0]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub fn log_softmax<S: Shape, E: Element>(x: &Tensor<S, E>) -> Tensor<S, E> {
    let mut y = Tensor::default();
    log_softmax_into(x, &mut y);
    y
}

/// [`log_softmax`] into `y`, which takes `x`'s shape and keeps its memory when it already has
/// room.
///
/// ```
/// use shaped::{log_softmax_into, Dyn, Tensor, U2};
/// let mut lp = Tensor::default();
/// for rows in [1, 3] {
///     let logits = Tensor::<(Dyn, U2), f64>::from_vec(vec![5.0; 2 * rows])?;
///     log_softmax_into(&logits, &mut lp);
///     assert_eq!(lp.as_slice(), vec![-2f64.ln(); 2 * rows]); // two equal classes
/// }
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub fn log_softmax_into<S: Shape, E: Element>(x: &Tensor<S, E>, y: &mut Tensor<S, E>) {
    let last = last_dim(x);
    let y = y.reset(x.shape()).as_mut_slice();
    for (xr, yr) in x
        .as_slice()
        .chunks_exact(last)
        .zip(y.chunks_exact_mut(last))
    {
        let max = row_max(xr);
        let mut sum = E::zero();
        for (y, &v) in yr.iter_mut().zip(xr) {
            *y = v - max;
            sum += y.exp();
        }
        let log_sum = sum.ln();
        for y in yr.iter_mut() {
            *y = *y - log_sum;
        }
    }
}

/// The size of the last dim, at least 1 (a last dim of 0 leaves no element to walk).
fn last_dim<S: Shape, E: Element>(x: &Tensor<S, E>) -> usize {
    x.dims().as_ref().last().copied().unwrap_or(1).max(1)
}

/// The largest element of a row, ignoring NaN (a NaN then makes the whole row NaN through
/// the sum); `−∞` for a row of `−∞`.
fn row_max<E: Element>(row: &[E]) -> E {
    row.iter().copied().fold(E::neg_infinity(), E::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::{Context, LayerWork, Module};
    use typenum::consts::*;

    fn t3(v: [f64; 3]) -> Tensor<(U3,), f64> {
        Tensor::from_vec(v.to_vec()).unwrap()
    }

    #[test]
    fn leaky_relu_slope_applies_at_zero_and_to_nan_as_in_pytorch() {
        let x = t3([0.0, f64::NAN, -0.0]);
        let layer = LeakyReLU::new(0.2);
        let dx = layer.backward(&x, &t3([1.0, 1.0, 1.0]));
        assert_eq!(dx.as_slice(), &[0.2, 0.2, 0.2]);
        let y = layer.forward(&x);
        assert_eq!(y.as_slice()[0], 0.0);
        assert!(y.as_slice()[1].is_nan());
        assert!(y.as_slice()[2] == 0.0 && y.as_slice()[2].is_sign_negative());
    }

    #[test]
    fn gelu_and_silu_are_nan_at_minus_infinity_as_in_pytorch() {
        let x = t3([f64::NEG_INFINITY, f64::INFINITY, 0.0]);
        let g = GELU.forward(&x);
        assert!(g.as_slice()[0].is_nan());
        assert_eq!(g.as_slice()[1], f64::INFINITY);
        let s = SiLU.forward(&x);
        assert!(s.as_slice()[0].is_nan());
        assert_eq!(s.as_slice()[1], f64::INFINITY);
    }

    #[test]
    fn softmax_of_an_empty_last_dim_is_empty() {
        let x = Tensor::<(U2, crate::Dyn), f32>::zeros_with((U2::default(), crate::Dyn(0)));
        assert_eq!(softmax(&x).dims(), [2, 0]);
        assert_eq!(log_softmax(&x).dims(), [2, 0]);
    }

    #[test]
    fn the_runtime_message_names_the_layer() {
        let x = Tensor::<(crate::Dyn,), f64>::from_vec(vec![0.0; 3]).unwrap();
        let dy = Tensor::<(crate::Dyn,), f64>::from_vec(vec![0.0; 2]).unwrap();
        let err = std::panic::catch_unwind(|| Sigmoid.backward(&x, &dy)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert_eq!(
            msg,
            "shape mismatch in Sigmoid grad_output: expected (3,) (the input's shape), found (2,)"
        );
    }

    #[test]
    fn a_training_pass_equals_the_stateless_one() {
        let x = Tensor::<(U2, U3), f64>::from_fn(|i| i[0] as f64 - i[1] as f64 * 0.7);
        let dy = Tensor::<(U2, U3), f64>::from_fn(|i| 1.0 + i[1] as f64);
        let mut layer = GELU;
        let mut work = Default::default();
        let y = layer
            .forward_train(&x, &mut work, &mut Context::new(0))
            .clone();
        assert_eq!(y, GELU.forward(&x));
        let dx = layer.backward_train(&x, &dy, &mut work, &mut (), true);
        assert_eq!(dx, Some(&GELU.backward(&x, &dy)));
        assert_eq!(
            layer.backward_train(&x, &dy, &mut work, &mut (), false),
            None
        );
        let _: &LayerWork<(U2, U3), (U2, U3), f64> = &work;
    }
}
