//! Batch normalisation over the channels: [`BatchNorm1d`] on `(N, C)`, [`BatchNorm2d`] on
//! `(N, C, H, W)`, as PyTorch's.
//!
//! One type, [`BatchNorm`], with a layout marker ([`Vectors`] or [`Images`]) saying which inputs
//! it takes ([`BatchNormInput`]); the two aliases are the names to use.
//!
//! Three passes, each named for the statistics it normalises with:
//!
//! - `forward` (and [`Module::infer`]): evaluation, with the running statistics; `&self`.
//! - `forward_training` (and [`Module::forward_train`]): training, with the batch's own mean
//!   and biased variance; it updates the running statistics (`momentum`, the unbiased
//!   variance) and counts the batch in `num_batches_tracked`, so it takes `&mut self`.
//! - `backward` (and [`Module::backward_train`]): the gradient of the training pass, through
//!   the batch statistics; the statistics are computed again from `x`, so it needs nothing
//!   from the forward pass but `x`.
//!
//! The running statistics are buffers, not parameters: they are saved and loaded with the
//! parameters under PyTorch's names (`running_mean`, `running_var`, and `num_batches_tracked`
//! as an `int64` scalar) through [`Tensors::visit_buffers`], and are not among the tensors that
//! gradients and optimizers step through.

use core::marker::PhantomData;

use typenum::B0;

use rand::Rng;

use crate::dims::{ConstDim, Dim};
use crate::init::Init;
use crate::module::{weight_bias_tensors, Buffer, BufferMut, Context, LayerWork, Module};
use crate::module::{Params, Tensors};
use crate::optim::SettingError;
use crate::rules::{check_dim, check_dims, AtBatch, BatchNorm1dRank, BatchNorm2dRank};
use crate::rules::{BatchNormChannels, BatchNormGradOutput, DimEq, ShapeEq, Verdict};
use crate::shape::Shape;
use crate::tensor::{fmt_dims, Element, Tensor};

/// The layout of [`BatchNorm1d`]: a batch of vectors `(N, C)`, one channel per feature (or
/// `(N, C, L)`, statistics per channel over `N` and `L`).
///
/// ```
/// use shaped::layers::batchnorm::{BatchNorm, Vectors};
/// use shaped::{typenum::*, BatchNorm1d, BatchNormInput};
/// use static_assertions::{assert_impl_all, assert_not_impl_any, assert_type_eq_all};
/// assert_type_eq_all!(BatchNorm1d<U8>, BatchNorm<U8, Vectors>);
/// assert_impl_all!((U4, U8): BatchNormInput<U8, Vectors>); // (N, C)
/// assert_impl_all!((U4, U8, U16): BatchNormInput<U8, Vectors>); // (N, C, L)
/// assert_not_impl_any!((U4, U8, U2, U2): BatchNormInput<U8, Vectors>); // images: BatchNorm2d
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vectors;

/// The layout of [`BatchNorm2d`]: a batch of images `(N, C, H, W)`, statistics per channel over
/// `N`, `H` and `W`.
///
/// ```
/// use shaped::layers::batchnorm::{BatchNorm, Images};
/// use shaped::{typenum::*, BatchNorm2d, BatchNormInput};
/// use static_assertions::{assert_impl_all, assert_not_impl_any, assert_type_eq_all};
/// assert_type_eq_all!(BatchNorm2d<U8>, BatchNorm<U8, Images>);
/// assert_impl_all!((U4, U8, U5, U5): BatchNormInput<U8, Images>); // (N, C, H, W)
/// assert_not_impl_any!((U4, U8): BatchNormInput<U8, Images>); // vectors: BatchNorm1d
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Images;

/// Batch normalisation of `C` channels in layout `L` ([`Vectors`] or [`Images`]); use the
/// aliases [`BatchNorm1d`] and [`BatchNorm2d`].
///
/// The fields are PyTorch's: `weight` (γ, initially 1) and `bias` (β, initially 0) are the
/// parameters; `running_mean` (initially 0), `running_var` (initially 1) and
/// `num_batches_tracked` (initially 0) are buffers. `momentum` (0.1) and `eps` (1e-5) are
/// settings ([`BatchNorm::with_momentum`], [`BatchNorm::with_eps`]).
///
/// ```
/// use shaped::layers::batchnorm::{BatchNorm, Images};
/// use shaped::{typenum::*, BatchNorm2d, Module, Tensor};
/// let bn: BatchNorm<U3, Images> = BatchNorm2d::<U3>::new(); // the alias names this type
/// assert_eq!((bn.weight.as_slice(), bn.bias.as_slice()), (&[1.0; 3][..], &[0.0; 3][..]));
/// assert_eq!((bn.momentum(), bn.eps(), bn.num_batches_tracked), (0.1, 1e-5, 0));
/// // Evaluated with the initial running statistics (mean 0, variance 1): y = x / √(1 + ε).
/// let y: Tensor<(U1, U3, U1, U1)> = bn.infer(&Tensor::<(U1, U3, U1, U1)>::full(2.0));
/// assert!((y.as_slice()[0] - 2.0 / (1.0f32 + 1e-5).sqrt()).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm<C: Dim, L, E = f32> {
    /// γ, shape `(C,)`.
    pub weight: Tensor<(C,), E>,
    /// β, shape `(C,)`.
    pub bias: Tensor<(C,), E>,
    /// The running mean, shape `(C,)`: `(1 − momentum)·running_mean + momentum·mean` after
    /// every training pass.
    pub running_mean: Tensor<(C,), E>,
    /// The running variance, shape `(C,)`: `(1 − momentum)·running_var +
    /// momentum·unbiased_var` after every training pass.
    pub running_var: Tensor<(C,), E>,
    /// The number of training passes (PyTorch's `int64` counter).
    pub num_batches_tracked: i64,
    momentum: f64,
    eps: f64,
    layout: PhantomData<L>,
}

/// `y = (x − mean[c]) / √(var[c] + ε) · γ[c] + β[c]` per feature `c`, on a batch of vectors
/// `(N, C)` (or, as PyTorch's `BatchNorm1d` also takes, `(N, C, L)`): PyTorch's `BatchNorm1d`.
/// In training `mean` and `var` are the batch's own (over `N`, and `L`; variance biased); in
/// evaluation they are the running statistics.
///
/// `backward` returns the gradient of the training pass, with `M = N` (or `N·L`),
/// `x̂ = (x − mean)/√(var + ε)` and sums `Σ` over the `M` values of each feature:
/// `dx = γ/√(var + ε) · (dy − Σdy/M − x̂·Σ(dy·x̂)/M)` of `x`'s shape, and in [`BatchNormGrads`]
/// `dγ = Σ dy·x̂` and `dβ = Σ dy`, each of shape `(C,)`.
///
/// ```
/// use shaped::{BatchNorm1d, BatchNormGrads, Tensor, typenum::*};
/// let mut bn = BatchNorm1d::<U2>::new();
/// let x = Tensor::<(U4, U2)>::from_vec(vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0])?;
/// let y: Tensor<(U4, U2)> = bn.forward_training(&x); // batch statistics
/// assert!((y.as_slice()[0] + 1.3416).abs() < 1e-4); // (1 − 2.5) / √1.25
/// assert_eq!(bn.num_batches_tracked, 1);
/// assert!((bn.running_mean.as_slice()[0] - 0.25).abs() < 1e-6); // 0.9·0 + 0.1·2.5
/// let (dx, grads): (Tensor<(U4, U2)>, BatchNormGrads<U2>) = bn.backward(&x, &y);
/// assert!((grads.bias.as_slice()[0]).abs() < 1e-6); // Σ dy, and dy = y sums to 0
/// let eval: Tensor<(U4, U2)> = bn.forward(&x); // running statistics
/// # let _ = (dx, eval);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub type BatchNorm1d<C, E = f32> = BatchNorm<C, Vectors, E>;

/// `y = (x − mean[c]) / √(var[c] + ε) · γ[c] + β[c]` per channel `c`, on a batch of images
/// `(N, C, H, W)`: PyTorch's `BatchNorm2d`. In training `mean` and `var` are the batch's own
/// (over `N`, `H` and `W`, variance biased); in evaluation they are the running statistics.
///
/// `backward` returns the gradient of the training pass, with `M = N·H·W`,
/// `x̂ = (x − mean)/√(var + ε)` and sums `Σ` over `N`, `H`, `W` of each channel:
/// `dx = γ/√(var + ε) · (dy − Σdy/M − x̂·Σ(dy·x̂)/M)` of shape `(N, C, H, W)`, and in
/// [`BatchNormGrads`] `dγ = Σ dy·x̂` and `dβ = Σ dy`, each of shape `(C,)`.
///
/// ```
/// use shaped::{BatchNorm2d, BatchNormGrads, Module, Tensor, typenum::*};
/// let mut bn = BatchNorm2d::<U3>::new().with_momentum(0.5)?;
/// let x = Tensor::<(U2, U3, U4, U4)>::from_fn(|i| (i[0] * 7 + i[2] * i[3]) as f32);
/// let y: Tensor<(U2, U3, U4, U4)> = bn.forward_training(&x);
/// let mean = y.as_slice()[..16].iter().chain(&y.as_slice()[48..64]).sum::<f32>() / 32.0;
/// assert!(mean.abs() < 1e-5); // each channel normalised over N, H, W
/// let dy = Tensor::<(U2, U3, U4, U4)>::full(1.0);
/// let (dx, grads): (Tensor<(U2, U3, U4, U4)>, BatchNormGrads<U3>) = bn.backward(&x, &dy);
/// assert_eq!(grads.bias.as_slice(), &[32.0; 3]);
/// assert!(dx.as_slice().iter().all(|d| d.abs() < 1e-5)); // a constant dy is normalised away
/// let eval: Tensor<(U2, U3, U4, U4)> = bn.infer(&x); // the running statistics (`eval()`)
/// # let _ = eval;
/// # Ok::<(), shaped::SettingError>(())
/// ```
pub type BatchNorm2d<C, E = f32> = BatchNorm<C, Images, E>;

/// The parameter gradients of a [`BatchNorm`] layer, shaped like its parameters.
///
/// ```
/// use shaped::{typenum::*, BatchNorm1d, BatchNormGrads, Tensor};
/// let bn = BatchNorm1d::<U2>::new();
/// let x = Tensor::<(U2, U2)>::from_vec(vec![1.0, 5.0, 3.0, 5.0])?; // feature 1 is constant
/// let dy = Tensor::<(U2, U2)>::from_vec(vec![1.0, 2.0, 3.0, 2.0])?;
/// let (_, grads): (Tensor<(U2, U2)>, BatchNormGrads<U2>) = bn.backward(&x, &dy);
/// assert_eq!(grads.bias.as_slice(), &[4.0, 4.0]); // dβ = Σ dy
/// // dγ = Σ dy·x̂, with x̂ = (−1, 1) for feature 0 (up to ε) and 0 for the constant one.
/// assert!((grads.weight.as_slice()[0] - 2.0).abs() < 1e-4);
/// assert_eq!(grads.weight.as_slice()[1], 0.0);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormGrads<C: Dim, E = f32> {
    /// `dγ = Σ dy·x̂`, shape `(C,)`.
    pub weight: Tensor<(C,), E>,
    /// `dβ = Σ dy`, shape `(C,)`.
    pub bias: Tensor<(C,), E>,
}

impl<C: ConstDim, L, E: Element> BatchNorm<C, L, E> {
    /// PyTorch's initial layer: `weight` 1, `bias` 0, `running_mean` 0, `running_var` 1,
    /// `num_batches_tracked` 0, `momentum` 0.1, `eps` 1e-5.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm2d, Tensors};
    /// let bn = BatchNorm2d::<U4>::new();
    /// assert_eq!(bn.weight.as_slice(), &[1.0; 4]);
    /// assert_eq!(bn.bias.as_slice(), &[0.0; 4]);
    /// assert_eq!(bn.running_mean.as_slice(), &[0.0; 4]);
    /// assert_eq!(bn.running_var.as_slice(), &[1.0; 4]);
    /// assert_eq!(bn.count(), 2); // weight and bias; the running statistics are buffers
    /// ```
    pub fn new() -> Self {
        Self {
            weight: Tensor::full(E::one()),
            bias: Tensor::zeros(),
            running_mean: Tensor::zeros(),
            running_var: Tensor::full(E::one()),
            num_batches_tracked: 0,
            momentum: 0.1,
            eps: 1e-5,
            layout: PhantomData,
        }
    }
}

/// [`BatchNorm::new`].
impl<C: ConstDim, L, E: Element> Default for BatchNorm<C, L, E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The parameters are PyTorch's initial ones (ones and zeros): nothing is drawn.
impl<C: ConstDim, L, E: Element, R: Rng + ?Sized> Init<R> for BatchNorm<C, L, E> {
    fn init(_: &mut R) -> Self {
        Self::new()
    }
}

impl<C: Dim, L, E: Element> BatchNorm<C, L, E> {
    /// With `momentum`, the weight of each batch in the running statistics, in `[0, 1]`
    /// (PyTorch's default 0.1; PyTorch's `None`, a cumulative average, is not offered).
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Tensor};
    /// let mut bn = BatchNorm1d::<U1>::new().with_momentum(1.0)?; // the last batch's statistics
    /// bn.forward_training(&Tensor::<(U4, U1)>::from_vec(vec![1.0, 2.0, 3.0, 6.0])?);
    /// assert_eq!(bn.running_mean.as_slice(), &[3.0]);
    /// // The unbiased variance, Σ(x − 3)² / 3:
    /// assert!((bn.running_var.as_slice()[0] - 14.0 / 3.0).abs() < 1e-5);
    /// assert!(BatchNorm1d::<U1>::new().with_momentum(1.5).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self, SettingError> {
        if !(0.0..=1.0).contains(&momentum) {
            return Err(SettingError {
                name: "momentum",
                value: momentum,
                allowed: "a number in [0, 1]",
            });
        }
        self.momentum = momentum;
        Ok(self)
    }

    /// With `eps`, added to the variance before its square root: a finite number `≥ 0`
    /// (PyTorch's default 1e-5).
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Tensor};
    /// let bn = BatchNorm1d::<U1>::new().with_eps(3.0)?; // running variance 1: y = x / √(1 + 3)
    /// let y: Tensor<(U1, U1)> = bn.forward(&Tensor::<(U1, U1)>::full(4.0));
    /// assert_eq!(y.as_slice(), &[2.0]);
    /// assert!(BatchNorm1d::<U1>::new().with_eps(-1.0).is_err());
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn with_eps(mut self, eps: f64) -> Result<Self, SettingError> {
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(SettingError {
                name: "eps",
                value: eps,
                allowed: "a finite number ≥ 0",
            });
        }
        self.eps = eps;
        Ok(self)
    }

    /// The weight of each batch in the running statistics.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm2d};
    /// assert_eq!(BatchNorm2d::<U8>::new().momentum(), 0.1); // PyTorch's default
    /// assert_eq!(BatchNorm2d::<U8>::new().with_momentum(0.01)?.momentum(), 0.01);
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// The number added to the variance before its square root.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm2d};
    /// assert_eq!(BatchNorm2d::<U8>::new().eps(), 1e-5); // PyTorch's default
    /// assert_eq!(BatchNorm2d::<U8>::new().with_eps(1e-3)?.eps(), 1e-3);
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn eps(&self) -> f64 {
        self.eps
    }

    fn setting(v: f64) -> E {
        // A finite f64 always converts to f32 or f64.
        E::from_f64(v).unwrap_or_else(E::zero)
    }

    /// The channel count and the values per channel and sample (`H·W`, or 1) of an input whose
    /// axis 1 is the channels; checks the channels against `C` (free for static dims).
    #[track_caller]
    fn geometry<S: Shape>(&self, x: &Tensor<S, E>) -> (usize, usize) {
        let dims = x.dims();
        let dims = dims.as_ref();
        let c = self.weight.dims()[0];
        check_dim::<BatchNormChannels>(c, dims.get(1).copied().unwrap_or(0));
        (c, dims[2..].iter().product())
    }

    /// The evaluation pass: normalised with the running statistics.
    #[track_caller]
    fn eval_into<S: Shape>(&self, x: &Tensor<S, E>, y: &mut Tensor<S, E>) {
        let (c, inner) = self.geometry(x);
        let eps = Self::setting(self.eps);
        let y = y.reset(x.shape()).as_mut_slice();
        for ch in 0..c {
            let inv = E::one() / (self.running_var.as_slice()[ch] + eps).sqrt();
            let (mean, scale) = (
                self.running_mean.as_slice()[ch],
                self.weight.as_slice()[ch] * inv,
            );
            let beta = self.bias.as_slice()[ch];
            for (ys, xs) in planes_mut(y, c, inner, ch).zip(planes(x.as_slice(), c, inner, ch)) {
                for (y, &v) in ys.iter_mut().zip(xs) {
                    *y = (v - mean) * scale + beta;
                }
            }
        }
    }

    /// The training pass: normalised with the batch statistics, which update the running ones.
    #[track_caller]
    fn train_into<S: Shape>(&mut self, x: &Tensor<S, E>, y: &mut Tensor<S, E>) {
        let (c, inner) = self.geometry(x);
        let m = values_per_channel(x, c);
        let (momentum, eps) = (Self::setting(self.momentum), Self::setting(self.eps));
        let keep = E::one() - momentum;
        // `m ≥ 2` (checked above): the unbiased variance's `m − 1` is not 0.
        let unbias = count::<E>(m) / count::<E>(m - 1);
        let y = y.reset(x.shape()).as_mut_slice();
        for ch in 0..c {
            let (mean, var) = channel_stats(x.as_slice(), c, inner, ch, m);
            let rm = &mut self.running_mean.as_mut_slice()[ch];
            *rm = keep * *rm + momentum * mean;
            let rv = &mut self.running_var.as_mut_slice()[ch];
            *rv = keep * *rv + momentum * var * unbias;
            let scale = self.weight.as_slice()[ch] / (var + eps).sqrt();
            let beta = self.bias.as_slice()[ch];
            for (ys, xs) in planes_mut(y, c, inner, ch).zip(planes(x.as_slice(), c, inner, ch)) {
                for (y, &v) in ys.iter_mut().zip(xs) {
                    *y = (v - mean) * scale + beta;
                }
            }
        }
        self.num_batches_tracked = self.num_batches_tracked.saturating_add(1);
    }

    /// The gradient of the training pass: adds `dγ`, `dβ` into `grads` and, when `dx` is
    /// given, writes `dx` there.
    #[track_caller]
    fn backward_slices<S: Shape, G: Shape>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<G, E>,
        dx: Option<&mut Tensor<S, E>>,
        grads: &mut BatchNormGrads<C, E>,
    ) {
        let (c, inner) = self.geometry(x);
        check_dims::<BatchNormGradOutput>(x.dims().as_ref(), dy.dims().as_ref());
        let m = values_per_channel(x, c);
        let mf = count::<E>(m);
        let eps = Self::setting(self.eps);
        let mut dx = dx.map(|d| d.reset(x.shape()).as_mut_slice());
        let (x, dy) = (x.as_slice(), dy.as_slice());
        for ch in 0..c {
            let (mean, var) = channel_stats(x, c, inner, ch, m);
            let inv = E::one() / (var + eps).sqrt();
            let (mut sum_dy, mut sum_dy_xhat) = (E::zero(), E::zero());
            for (xs, gs) in planes(x, c, inner, ch).zip(planes(dy, c, inner, ch)) {
                let [g, gx] = crate::ops::lanes(gs, xs, |g, v| [g, g * (v - mean) * inv]);
                sum_dy += g;
                sum_dy_xhat += gx;
            }
            grads.bias.as_mut_slice()[ch] += sum_dy;
            grads.weight.as_mut_slice()[ch] += sum_dy_xhat;
            let Some(dx) = dx.as_deref_mut() else {
                continue;
            };
            let k = self.weight.as_slice()[ch] * inv;
            let (mean_dy, mean_dy_xhat) = (sum_dy / mf, sum_dy_xhat / mf);
            let rows = planes_mut(dx, c, inner, ch).zip(planes(x, c, inner, ch));
            for ((ds, xs), gs) in rows.zip(planes(dy, c, inner, ch)) {
                for ((d, &v), &g) in ds.iter_mut().zip(xs).zip(gs) {
                    *d = k * (g - mean_dy - (v - mean) * inv * mean_dy_xhat);
                }
            }
        }
    }
}

impl<C: Dim, L, E: Element> BatchNorm<C, L, E> {
    /// The gradient of the evaluation pass (running statistics frozen): `dx = dy·γ/√(var + ε)`,
    /// `dγ += Σ dy·x̂`, `dβ += Σ dy`, with `x̂ = (x − mean)/√(var + ε)` from the running mean
    /// and variance.
    #[track_caller]
    fn eval_backward_slices<S: Shape, G: Shape>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<G, E>,
        dx: &mut Tensor<S, E>,
        grads: &mut BatchNormGrads<C, E>,
    ) {
        let (c, inner) = self.geometry(x);
        check_dims::<BatchNormGradOutput>(x.dims().as_ref(), dy.dims().as_ref());
        let eps = Self::setting(self.eps);
        let dx = dx.reset(x.shape()).as_mut_slice();
        let (x, dy) = (x.as_slice(), dy.as_slice());
        for ch in 0..c {
            let inv = E::one() / (self.running_var.as_slice()[ch] + eps).sqrt();
            let (mean, k) = (
                self.running_mean.as_slice()[ch],
                self.weight.as_slice()[ch] * inv,
            );
            let (mut sum_dy, mut sum_dy_xhat) = (E::zero(), E::zero());
            let rows = planes_mut(dx, c, inner, ch).zip(planes(x, c, inner, ch));
            for ((ds, xs), gs) in rows.zip(planes(dy, c, inner, ch)) {
                for ((d, &v), &g) in ds.iter_mut().zip(xs).zip(gs) {
                    *d = g * k;
                    sum_dy += g;
                    sum_dy_xhat += g * (v - mean) * inv;
                }
            }
            grads.bias.as_mut_slice()[ch] += sum_dy;
            grads.weight.as_mut_slice()[ch] += sum_dy_xhat;
        }
    }
}

/// `n` as an element.
fn count<E: Element>(n: usize) -> E {
    E::from_usize(n).unwrap_or_else(E::max_value)
}

/// The planes (`H·W` values, or 1) of channel `ch` of every sample, in order.
fn planes<E>(x: &[E], c: usize, inner: usize, ch: usize) -> impl Iterator<Item = &[E]> {
    x.chunks_exact((c * inner).max(1))
        .map(move |sample| &sample[ch * inner..(ch + 1) * inner])
}

/// [`planes`], mutable.
fn planes_mut<E>(x: &mut [E], c: usize, inner: usize, ch: usize) -> impl Iterator<Item = &mut [E]> {
    x.chunks_exact_mut((c * inner).max(1))
        .map(move |sample| &mut sample[ch * inner..(ch + 1) * inner])
}

/// The mean and the biased variance of channel `ch` over its `m` values (two passes: the
/// variance is a sum of squares of centred values, not a difference of two large sums).
fn channel_stats<E: Element>(x: &[E], c: usize, inner: usize, ch: usize, m: usize) -> (E, E) {
    let mf = count::<E>(m);
    let mean = channel_sum(x, c, inner, ch, |v| v) / mf;
    let var = channel_sum(x, c, inner, ch, |v| (v - mean) * (v - mean)) / mf;
    (mean, var)
}

/// `Σ f(v)` over channel `ch`'s values, plane by plane.
fn channel_sum<E: Element>(x: &[E], c: usize, inner: usize, ch: usize, f: impl Fn(E) -> E) -> E {
    planes(x, c, inner, ch).fold(E::zero(), |acc, plane| acc + crate::ops::sum_by(plane, &f))
}

/// The values each channel's batch statistics are taken over (`N·H·W`, or `N`), at least 2.
///
/// # Panics
///
/// If there are fewer than 2, as PyTorch refuses them ("Expected more than 1 value per channel
/// when training"): the variance of one value is 0 and its unbiased estimate divides by 0.
#[track_caller]
fn values_per_channel<S: Shape, E>(x: &Tensor<S, E>, c: usize) -> usize {
    let dims = x.dims();
    let m = x.as_slice().len().checked_div(c).unwrap_or(0);
    if m < 2 {
        panic!(
            "BatchNorm in training needs more than 1 value per channel (N·H·W, or N for \
             BatchNorm1d), found {m} in an input of shape {}: the variance of a batch of one \
             value is undefined (PyTorch: \"Expected more than 1 value per channel when \
             training\")",
            fmt_dims(dims.as_ref())
        );
    }
    m
}

/// The inputs a [`BatchNorm`] of layout `L` takes, with their channels (axis 1) checked against
/// `C` by the rule `BatchNormChannels`: `(N, C)` and `(N, C, L)` for [`BatchNorm1d`] (as
/// PyTorch's), `(N, C, H, W)` for [`BatchNorm2d`]. A tensor of another rank is the error
/// `BatchNorm2d takes a batch of images (N, C, H, W) with C = _16, found a tensor of shape
/// (_2, _64): …` rather than a missing method.
///
/// A function generic over what a batch norm takes states it as the bound:
///
/// ```
/// use shaped::layers::batchnorm::Images;
/// use shaped::{typenum::*, BatchNorm2d, BatchNormInput, Dyn, Tensor};
///
/// fn normalise<S: BatchNormInput<U2, Images>>(bn: &BatchNorm2d<U2>, x: &Tensor<S>) -> Tensor<S> {
///     bn.forward(x)
/// }
/// let bn = BatchNorm2d::<U2>::new();
/// let shape = (Dyn(3), U2::default(), Dyn(5), Dyn(5)); // any batch, any image size
/// let y = normalise(&bn, &Tensor::<(Dyn, U2, Dyn, Dyn)>::zeros_with(shape));
/// assert_eq!(y.dims(), [3, 2, 5, 5]);
/// ```
pub trait BatchNormInput<C, L>: Shape {}

// The channel rule, undecided until the batch is known (see `rules::Anchor`).
impl<N: Dim, C2: Dim, C> BatchNormInput<C, Vectors> for (N, C2) where
    AtBatch<N, C2>: DimEq<C, BatchNormChannels>
{
}
impl<N: Dim, C2: Dim, L: Dim, C> BatchNormInput<C, Vectors> for (N, C2, L) where
    AtBatch<N, C2>: DimEq<C, BatchNormChannels>
{
}
impl<N: Dim, C2: Dim, H: Dim, W: Dim, C> BatchNormInput<C, Images> for (N, C2, H, W) where
    AtBatch<N, C2>: DimEq<C, BatchNormChannels>
{
}

macro_rules! wrong_rank {
    ($layout:ident, $rule:ident; $($d:ident),*) => {
        impl<N: Dim, $($d: Dim,)* C> BatchNormInput<C, $layout> for (N, $($d,)*)
        where
            // Always the rule's error, reported once the batch is known (`rules::Anchor`).
            AtBatch<N, B0>: Verdict<$rule, C, (N, $($d,)*)>,
        {
        }
    };
}
wrong_rank!(Vectors, BatchNorm1dRank;);
wrong_rank!(Vectors, BatchNorm1dRank; A, B, F);
wrong_rank!(Vectors, BatchNorm1dRank; A, B, F, G);
wrong_rank!(Vectors, BatchNorm1dRank; A, B, F, G, J);
wrong_rank!(Images, BatchNorm2dRank;);
wrong_rank!(Images, BatchNorm2dRank; A);
wrong_rank!(Images, BatchNorm2dRank; A, B);
wrong_rank!(Images, BatchNorm2dRank; A, B, F, G);
wrong_rank!(Images, BatchNorm2dRank; A, B, F, G, J);

impl<C: Dim, L, E: Element> BatchNorm<C, L, E> {
    /// The evaluation pass, `x -> y` of `x`'s shape: normalised with the running statistics,
    /// which it leaves as they are (PyTorch's `model.eval()`).
    ///
    /// An input whose channels are not `C` does not compile:
    /// `shape mismatch in BatchNorm channels: expected _16 channels (C), found _8`; nor does an
    /// input of another rank than the layout's ([`BatchNormInput`]).
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Tensor};
    /// let mut bn = BatchNorm1d::<U2>::new();
    /// bn.running_mean = Tensor::from_vec(vec![1.0, -1.0])?;
    /// bn.running_var = Tensor::from_vec(vec![4.0, 0.25])?;
    /// let bn = bn.with_eps(0.0)?;
    /// let x = Tensor::<(U2, U2)>::from_vec(vec![3.0, 0.0, 5.0, -1.0])?;
    /// let y: Tensor<(U2, U2)> = bn.forward(&x);
    /// assert_eq!(y.as_slice(), &[1.0, 2.0, 2.0, 0.0]); // (x − mean) / √var, per feature
    /// assert_eq!(bn.num_batches_tracked, 0); // the statistics are left as they are
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If the channels are a [`Dyn`](crate::Dyn) dim of another size than `C`, with the same
    /// message.
    #[track_caller]
    pub fn forward<S: BatchNormInput<C, L>>(&self, x: &Tensor<S, E>) -> Tensor<S, E> {
        let mut y = Tensor::default();
        self.eval_into(x, &mut y);
        y
    }

    /// [`Self::forward`] into `y`, which takes `x`'s shape and keeps its memory when it already
    /// has room: no allocation in a loop.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Dyn, Tensor};
    /// let bn = BatchNorm1d::<U2>::new().with_eps(0.0)?; // running mean 0, variance 1: y = x
    /// let mut y = Tensor::default();
    /// for rows in [3, 1] {
    ///     let x = Tensor::<(Dyn, U2)>::from_vec(vec![0.5; 2 * rows])?;
    ///     bn.forward_into(&x, &mut y);
    ///     assert_eq!(y.as_slice(), vec![0.5; 2 * rows]);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Self::forward`].
    #[track_caller]
    pub fn forward_into<S: BatchNormInput<C, L>>(&self, x: &Tensor<S, E>, y: &mut Tensor<S, E>) {
        self.eval_into(x, y);
    }

    /// The training pass, `x -> y` of `x`'s shape: normalised with the batch's own mean and
    /// biased variance per channel; the running statistics move towards them by `momentum`
    /// (the variance unbiased, `· M / (M − 1)` over the `M` values of a channel, as PyTorch
    /// does) and `num_batches_tracked` grows by 1.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Tensor};
    /// let mut bn = BatchNorm1d::<U1>::new();
    /// let x = Tensor::<(U4, U1)>::from_vec(vec![1.0, 2.0, 3.0, 6.0])?;
    /// let y: Tensor<(U4, U1)> = bn.forward_training(&x);
    /// assert!(y.as_slice().iter().sum::<f32>().abs() < 1e-5); // the batch's own mean, 3
    /// assert_eq!(bn.num_batches_tracked, 1);
    /// assert!((bn.running_mean.as_slice()[0] - 0.3).abs() < 1e-6); // 0.9 · 0 + 0.1 · 3
    /// // One value per channel has no variance: PyTorch refuses it, and so does this.
    /// let one = Tensor::<(U1, U1)>::full(1.0);
    /// assert!(std::panic::catch_unwind(move || bn.forward_training(&one)).is_err());
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If a channel has fewer than 2 values in the batch (`N·H·W`, or `N`: a batch of one
    /// vector): `BatchNorm in training needs more than 1 value per channel …`, as PyTorch
    /// raises "Expected more than 1 value per channel when training"; nothing is updated then.
    /// As [`Self::forward`] for the channels.
    #[track_caller]
    pub fn forward_training<S: BatchNormInput<C, L>>(&mut self, x: &Tensor<S, E>) -> Tensor<S, E> {
        let mut y = Tensor::default();
        self.train_into(x, &mut y);
        y
    }

    /// [`Self::forward_training`] into `y`, which takes `x`'s shape and keeps its memory when it
    /// already has room.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm2d, Dyn, Tensor};
    /// let mut bn = BatchNorm2d::<U1>::new();
    /// let mut y = Tensor::default();
    /// for rows in [2, 3] {
    ///     let values = (0..4 * rows).map(|v| v as f32).collect();
    ///     let x = Tensor::<(Dyn, U1, U2, U2)>::from_vec(values)?;
    ///     bn.forward_training_into(&x, &mut y);
    ///     assert_eq!(y.dims(), [rows, 1, 2, 2]);
    /// }
    /// assert_eq!(bn.num_batches_tracked, 2);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Self::forward_training`].
    #[track_caller]
    pub fn forward_training_into<S: BatchNormInput<C, L>>(
        &mut self,
        x: &Tensor<S, E>,
        y: &mut Tensor<S, E>,
    ) {
        self.train_into(x, y);
    }

    /// The gradients of a loss through the training pass at `x` (the batch statistics of `x`;
    /// the running statistics play no part): given `dy = ∂L/∂y` of `x`'s shape, returns `dx`
    /// of `x`'s shape and `dγ`, `dβ` of shape `(C,)`.
    ///
    /// `dy` of another shape does not compile:
    /// `shape mismatch in BatchNorm grad_output: expected … (the input's shape), found …`.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, BatchNormGrads, Tensor};
    /// let bn = BatchNorm1d::<U1>::new();
    /// let x = Tensor::<(U4, U1)>::from_vec(vec![1.0, 2.0, 3.0, 6.0])?;
    /// let dy = Tensor::<(U4, U1)>::full(1.0);
    /// let (dx, grads): (Tensor<(U4, U1)>, BatchNormGrads<U1>) = bn.backward(&x, &dy);
    /// assert!(dx.as_slice().iter().all(|d| d.abs() < 1e-6)); // a shift of y is normalised away
    /// assert_eq!(grads.bias.as_slice(), &[4.0]); // Σ dy
    /// assert!(grads.weight.as_slice()[0].abs() < 1e-5); // Σ x̂ = 0
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// Where a [`Dyn`](crate::Dyn) dim hides a mismatch of `dy` from the compiler, with the
    /// same message in plain decimal; as [`Self::forward_training`] for fewer than 2 values per
    /// channel.
    #[track_caller]
    pub fn backward<S, G>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<G, E>,
    ) -> (Tensor<S, E>, BatchNormGrads<C, E>)
    where
        S: BatchNormInput<C, L>,
        G: Shape + ShapeEq<S, BatchNormGradOutput>,
    {
        let mut dx = Tensor::default();
        let mut grads = self.zero_grads();
        self.backward_slices(x, dy, Some(&mut dx), &mut grads);
        (dx, grads)
    }

    /// The gradients of a loss through the evaluation pass [`Self::forward`] (the running
    /// statistics, frozen: fine-tuning with BatchNorm in evaluation mode, as PyTorch's
    /// `bn.eval()` differentiates): given `dy` of `x`'s shape, returns `dx = dy·γ/√(var + ε)`
    /// of `x`'s shape and `dγ = Σ dy·x̂`, `dβ = Σ dy` of shape `(C,)`, `x̂` normalised with the
    /// running mean and variance.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Tensor};
    /// let bn = BatchNorm1d::<U2>::new(); // running mean 0, variance 1, γ = 1
    /// let x = Tensor::<(U3, U2)>::full(2.0);
    /// let (dx, grads) = bn.backward_eval(&x, &Tensor::<(U3, U2)>::full(1.0));
    /// assert!((dx.as_slice()[0] - 1.0 / (1.0f32 + 1e-5).sqrt()).abs() < 1e-6);
    /// assert_eq!(grads.bias.as_slice(), &[3.0, 3.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Self::backward`] for the shapes (any number of values per channel is fine here).
    #[track_caller]
    pub fn backward_eval<S, G>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<G, E>,
    ) -> (Tensor<S, E>, BatchNormGrads<C, E>)
    where
        S: BatchNormInput<C, L>,
        G: Shape + ShapeEq<S, BatchNormGradOutput>,
    {
        let mut dx = Tensor::default();
        let mut grads = self.zero_grads();
        self.eval_backward_slices(x, dy, &mut dx, &mut grads);
        (dx, grads)
    }

    /// [`Self::backward_eval`] into buffers the caller keeps: `dx` is overwritten, `dγ` and
    /// `dβ` are added into `grads`.
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Params, Tensor};
    /// let bn = BatchNorm1d::<U1>::new().with_eps(0.0)?; // running mean 0, variance 1
    /// let (x, dy) = (Tensor::<(U2, U1)>::full(3.0), Tensor::<(U2, U1)>::full(1.0));
    /// let (mut dx, mut grads) = (Tensor::default(), bn.zero_grads());
    /// bn.backward_eval_into(&x, &dy, &mut dx, &mut grads);
    /// bn.backward_eval_into(&x, &dy, &mut dx, &mut grads); // added into `grads`
    /// assert_eq!(grads.weight.as_slice(), &[12.0]); // 2 · Σ dy·x̂, x̂ = 3
    /// assert_eq!(dx.as_slice(), &[1.0, 1.0]); // dy·γ/√var, overwritten
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Self::backward_eval`].
    #[track_caller]
    pub fn backward_eval_into<S, G>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<G, E>,
        dx: &mut Tensor<S, E>,
        grads: &mut BatchNormGrads<C, E>,
    ) where
        S: BatchNormInput<C, L>,
        G: Shape + ShapeEq<S, BatchNormGradOutput>,
    {
        self.eval_backward_slices(x, dy, dx, grads);
    }

    /// [`Self::backward`] into buffers the caller keeps: `dx` takes `x`'s shape and is
    /// overwritten; `dγ` and `dβ` are **added** into `grads` (PyTorch's `.grad` accumulation).
    ///
    /// ```
    /// use shaped::{typenum::*, BatchNorm1d, Params, Tensor};
    /// let bn = BatchNorm1d::<U1>::new();
    /// let x = Tensor::<(U2, U1)>::from_vec(vec![0.0, 2.0])?;
    /// let dy = Tensor::<(U2, U1)>::from_vec(vec![1.0, 3.0])?;
    /// let (mut dx, mut grads) = (Tensor::default(), bn.zero_grads());
    /// for _ in 0..3 {
    ///     bn.backward_into(&x, &dy, &mut dx, &mut grads);
    /// }
    /// assert_eq!(grads.bias.as_slice(), &[12.0]); // 3 passes of Σ dy = 4
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Self::backward`].
    #[track_caller]
    pub fn backward_into<S, G>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<G, E>,
        dx: &mut Tensor<S, E>,
        grads: &mut BatchNormGrads<C, E>,
    ) where
        S: BatchNormInput<C, L>,
        G: Shape + ShapeEq<S, BatchNormGradOutput>,
    {
        self.backward_slices(x, dy, Some(dx), grads);
    }
}

impl<S, C, L, E> Module<E, Tensor<S, E>> for BatchNorm<C, L, E>
where
    S: BatchNormInput<C, L>,
    C: Dim,
    E: Element,
{
    /// The input's shape.
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
        self.train_into(x, &mut work.out);
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<S, E>,
        dy: &Tensor<S, E>,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<S, E>> {
        let dx = input_grad.then_some(&mut work.dx);
        self.backward_slices(x, dy, dx, grads);
        input_grad.then_some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Tensor<S, E> {
        &work.out
    }
}

impl<C: Dim, L, E: Element> Tensors<E> for BatchNorm<C, L, E> {
    weight_bias_tensors!();

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], Buffer<'_, E>)) {
        for (name, t) in [
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
        ] {
            f(
                &format!("{prefix}{name}"),
                t.dims().as_ref(),
                Buffer::Float(t.as_slice()),
            );
        }
        // An int64 scalar (shape `[]`), as in PyTorch's state_dict.
        f(
            &format!("{prefix}num_batches_tracked"),
            &[],
            Buffer::Int64(core::slice::from_ref(&self.num_batches_tracked)),
        );
    }

    fn visit_buffers_mut<Err>(
        &mut self,
        prefix: &str,
        f: &mut dyn FnMut(&str, &[usize], BufferMut<'_, E>) -> Result<(), Err>,
    ) -> Result<(), Err> {
        for (name, t) in [
            ("running_mean", &mut self.running_mean),
            ("running_var", &mut self.running_var),
        ] {
            let dims = t.dims();
            f(
                &format!("{prefix}{name}"),
                dims.as_ref(),
                BufferMut::Float(t.as_mut_slice()),
            )?;
        }
        f(
            &format!("{prefix}num_batches_tracked"),
            &[],
            BufferMut::Int64(core::slice::from_mut(&mut self.num_batches_tracked)),
        )
    }
}

impl<C: Dim, E: Element> Tensors<E> for BatchNormGrads<C, E> {
    weight_bias_tensors!();
}

impl<C: Dim, L, E: Element> Params<E> for BatchNorm<C, L, E> {
    type Grads = BatchNormGrads<C, E>;

    fn zero_grads(&self) -> Self::Grads {
        BatchNormGrads {
            weight: Tensor::zeros_with(self.weight.shape()),
            bias: Tensor::zeros_with(self.bias.shape()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::consts::*;

    // Hand-computed: one channel of values 1, 2, 3, 4: mean 2.5, biased variance 1.25,
    // unbiased 5/3.
    #[test]
    fn training_normalises_and_moves_the_running_statistics() {
        let mut bn = BatchNorm1d::<U1, f64>::new().with_eps(0.0).unwrap();
        let x = Tensor::<(U4, U1), f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let y = bn.forward_training(&x);
        let s = 1.25f64.sqrt();
        let want = [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s];
        for (g, w) in y.as_slice().iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{g} {w}");
        }
        assert!((bn.running_mean.as_slice()[0] - 0.25).abs() < 1e-15);
        assert!((bn.running_var.as_slice()[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-15);
        assert_eq!(bn.num_batches_tracked, 1);
    }

    #[test]
    fn evaluation_uses_the_running_statistics() {
        let mut bn = BatchNorm1d::<U1, f64>::new().with_eps(0.0).unwrap();
        bn.running_mean.as_mut_slice()[0] = 1.0;
        bn.running_var.as_mut_slice()[0] = 4.0;
        bn.weight.as_mut_slice()[0] = 3.0;
        bn.bias.as_mut_slice()[0] = 0.5;
        let x = Tensor::<(U2, U1), f64>::from_vec(vec![1.0, 5.0]).unwrap();
        assert_eq!(bn.forward(&x).as_slice(), &[0.5, 6.5]);
        assert_eq!(bn.num_batches_tracked, 0);
    }

    #[test]
    fn settings_out_of_range_are_errors() {
        let bn = BatchNorm2d::<U2>::new();
        assert_eq!(
            bn.clone().with_momentum(1.5).unwrap_err().to_string(),
            "invalid optimizer setting momentum = 1.5: expected a number in [0, 1]"
        );
        assert!(bn.clone().with_eps(-1e-5).is_err());
        assert!(bn.with_eps(f64::NAN).is_err());
    }
}
