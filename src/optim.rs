//! Optimizers: they update a model with its own typed gradients.
//!
//! `step(&mut model, &grads)` takes `grads: &M::Grads`, the gradient type of that very model, so
//! the gradients of another model do not compile. An optimizer's state (momentum, moments) is a
//! value of the same type, shaped like the model's gradients, allocated at the first step and
//! reused; it can be saved and loaded ([`crate::io::save_optimizer`]), so training resumes
//! exactly where it stopped.
//!
//! Every setting is checked where it is made, as PyTorch checks its optimizers: a NaN, negative
//! or infinite learning rate, a momentum or weight decay below 0, betas outside `[0, 1)` or a
//! negative `eps` is a [`SettingError`] naming the setting and the range it must lie in.

use core::fmt;
use core::marker::PhantomData;

use crate::module::{Params, Tensors};
use crate::tensor::Element;

/// An optimizer setting outside its range.
///
/// ```
/// use shaped::{typenum::*, Affine, Sgd, SettingError};
/// let err: SettingError = Sgd::<Affine<U2, U1>>::new(f32::NAN).unwrap_err();
/// assert_eq!((err.name, err.allowed), ("lr", "a finite number ≥ 0"));
/// assert!(err.value.is_nan());
/// assert_eq!(err.to_string(), "invalid optimizer setting lr = NaN: expected a finite number ≥ 0");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SettingError {
    /// The setting, e.g. `"lr"` or `"beta2"`.
    pub name: &'static str,
    /// The value given.
    pub value: f64,
    /// The range it must lie in, e.g. `"a finite number ≥ 0"`.
    pub allowed: &'static str,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid optimizer setting {} = {}: expected {}",
            self.name, self.value, self.allowed
        )
    }
}
impl std::error::Error for SettingError {}

/// `value` if it is finite and `≥ 0`.
fn non_negative<E: Element>(name: &'static str, value: E) -> Result<E, SettingError> {
    if value.is_finite() && value >= E::zero() {
        Ok(value)
    } else {
        Err(SettingError {
            name,
            value: value.to_f64().unwrap_or(f64::NAN),
            allowed: "a finite number ≥ 0",
        })
    }
}

/// `value` if it is in `[0, 1)`.
fn unit<E: Element>(name: &'static str, value: E) -> Result<E, SettingError> {
    if value >= E::zero() && value < E::one() {
        Ok(value)
    } else {
        Err(SettingError {
            name,
            value: value.to_f64().unwrap_or(f64::NAN),
            allowed: "a number in [0, 1)",
        })
    }
}

/// Stochastic gradient descent with momentum and weight decay, as PyTorch's `SGD` (no
/// dampening, not Nesterov): `g ← ∇ + λ·p`, `v ← μ·v + g` (`v = g` on the first step),
/// `p ← p − η·v`.
///
/// ```
/// use shaped::{Affine, Sgd, Tensor, typenum::*};
/// let mut layer = Affine::<U2, U1>::new(Tensor::full(1.0), Tensor::zeros());
/// let (_, grads) = layer.backward(&Tensor::<(U1, U2)>::full(1.0), &Tensor::<(U1, U1)>::full(1.0));
/// let mut opt = Sgd::new(0.5)?.with_momentum(0.9)?;
/// opt.step(&mut layer, &grads);
/// assert_eq!(layer.weight.as_slice(), &[0.5, 0.5]);
/// assert!(Sgd::<Affine<U2, U1>>::new(-0.1).is_err());
/// # Ok::<(), shaped::SettingError>(())
/// ```
#[derive(Debug)]
pub struct Sgd<M: Params<E>, E: Element = f32> {
    lr: E,
    momentum: E,
    weight_decay: E,
    velocity: Option<M::Grads>,
    model: PhantomData<fn(&M)>,
}

// By hand: a derive would ask `M: Clone`, and only the state (`M::Grads`) is cloned.
impl<M: Params<E>, E: Element> Clone for Sgd<M, E> {
    fn clone(&self) -> Self {
        Self {
            velocity: self.velocity.clone(),
            model: PhantomData,
            ..*self
        }
    }
}

impl<M: Params<E>, E: Element> Sgd<M, E> {
    /// Plain SGD with learning rate `lr` (a finite number `≥ 0`).
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Params, Sgd, Tensor};
    /// let mut layer = Affine::<U1, U1>::new(Tensor::full(1.0), Tensor::zeros());
    /// let mut grads = layer.zero_grads();
    /// grads.weight.as_mut_slice()[0] = 2.0;
    /// let mut opt = Sgd::new(0.1)?;
    /// opt.step(&mut layer, &grads);
    /// assert!((layer.weight.as_slice()[0] - 0.8).abs() < 1e-6); // 1 − 0.1 · 2
    /// assert!(Sgd::<Affine<U1, U1>>::new(f32::INFINITY).is_err());
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn new(lr: E) -> Result<Self, SettingError> {
        Ok(Self {
            lr: non_negative("lr", lr)?,
            momentum: E::zero(),
            weight_decay: E::zero(),
            velocity: None,
            model: PhantomData,
        })
    }

    /// With momentum `momentum` (`≥ 0`).
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Params, Sgd, Tensor};
    /// let mut layer = Affine::<U1, U1>::new(Tensor::full(1.0), Tensor::zeros());
    /// let mut grads = layer.zero_grads();
    /// grads.weight.as_mut_slice()[0] = 1.0;
    /// let mut opt = Sgd::new(0.1)?.with_momentum(0.5)?;
    /// opt.step(&mut layer, &grads); // v = g = 1, w = 1 − 0.1
    /// opt.step(&mut layer, &grads); // v = 0.5 · 1 + 1 = 1.5, w = 0.9 − 0.15
    /// assert!((layer.weight.as_slice()[0] - 0.75).abs() < 1e-6);
    /// assert!(Sgd::<Affine<U1, U1>>::new(0.1)?.with_momentum(-0.9).is_err());
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn with_momentum(mut self, momentum: E) -> Result<Self, SettingError> {
        self.momentum = non_negative("momentum", momentum)?;
        Ok(self)
    }

    /// With L2 weight decay `weight_decay` (`≥ 0`).
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Params, Sgd, Tensor};
    /// let mut layer = Affine::<U1, U1>::new(Tensor::full(1.0), Tensor::zeros());
    /// let grads = layer.zero_grads(); // no gradient: only the decay moves the weight
    /// let mut opt = Sgd::new(0.1)?.with_weight_decay(0.5)?;
    /// opt.step(&mut layer, &grads);
    /// assert!((layer.weight.as_slice()[0] - 0.95).abs() < 1e-6); // 1 − 0.1 · 0.5 · 1
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn with_weight_decay(mut self, weight_decay: E) -> Result<Self, SettingError> {
        self.weight_decay = non_negative("weight_decay", weight_decay)?;
        Ok(self)
    }

    /// The learning rate.
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Sgd};
    /// let opt = Sgd::<Affine<U2, U1>>::new(0.25)?;
    /// assert_eq!(opt.lr(), 0.25);
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn lr(&self) -> E {
        self.lr
    }

    /// Sets the learning rate (a schedule), checked as in [`Sgd::new`].
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Sgd};
    /// let mut opt = Sgd::<Affine<U2, U1>>::new(0.1)?;
    /// for epoch in 1..=3 {
    ///     opt.set_lr(0.1 / epoch as f32)?; // a 1/t schedule
    /// }
    /// assert!((opt.lr() - 0.1 / 3.0).abs() < 1e-9);
    /// assert!(opt.set_lr(-1.0).is_err());
    /// assert!((opt.lr() - 0.1 / 3.0).abs() < 1e-9); // unchanged by the refused setting
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn set_lr(&mut self, lr: E) -> Result<(), SettingError> {
        self.lr = non_negative("lr", lr)?;
        Ok(())
    }

    /// The momentum buffer, shaped like the gradients (none before the first step with
    /// momentum).
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, AffineGrads, Params, Seeded, Sgd};
    /// let mut layer = Affine::<U2, U1>::seeded(0);
    /// let mut grads = layer.zero_grads();
    /// grads.bias.as_mut_slice()[0] = 1.0;
    /// let mut opt = Sgd::new(0.1)?.with_momentum(0.9)?;
    /// assert!(opt.velocity().is_none());
    /// opt.step(&mut layer, &grads);
    /// let v: &AffineGrads<U2, U1> = opt.velocity().unwrap();
    /// assert_eq!(v, &grads); // the first step's velocity is the gradient
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn velocity(&self) -> Option<&M::Grads> {
        self.velocity.as_ref()
    }

    /// One update of every parameter of `model` with its gradients.
    ///
    /// `grads` is the gradient type of that model: the gradients of another model do not
    /// compile.
    ///
    /// ```
    /// use shaped::{softmax_cross_entropy, typenum::*, Affine, Seeded, Sgd, Tensor};
    /// let mut layer = Affine::<U2, U3>::seeded(0);
    /// let x = Tensor::<(U2, U2)>::from_vec(vec![1.0, 0.0, 0.0, 1.0])?;
    /// let mut opt = Sgd::new(0.5)?;
    /// let loss = |layer: &Affine<U2, U3>| softmax_cross_entropy(&layer.forward(&x), &[0, 2]);
    /// let before = loss(&layer)?.0;
    /// for _ in 0..10 {
    ///     let (_, dlogits) = loss(&layer)?;
    ///     let (_, grads) = layer.backward(&x, &dlogits);
    ///     opt.step(&mut layer, &grads);
    /// }
    /// assert!(loss(&layer)?.0 < before);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step(&mut self, model: &mut M, grads: &M::Grads) {
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        let first = self.velocity.is_none();
        if mu != E::zero() && first {
            // Allocated once, at the first step; every later step reuses it.
            self.velocity = Some(model.zero_grads());
        }
        for i in 0..model.count() {
            let (p, g) = (model.tensor_mut(i), grads.tensor(i));
            match self.velocity.as_mut() {
                Some(velocity) if mu != E::zero() => {
                    let v = velocity.tensor_mut(i);
                    for ((p, &g), v) in p.iter_mut().zip(g).zip(v) {
                        let g = g + wd * *p;
                        *v = if first { g } else { mu * *v + g };
                        *p = *p - lr * *v;
                    }
                }
                _ => {
                    for (p, &g) in p.iter_mut().zip(g) {
                        *p = *p - lr * (g + wd * *p);
                    }
                }
            }
        }
    }
}

/// Adam, as PyTorch's `Adam` (L2 weight decay added to the gradient, no AMSGrad):
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p − η·m̂ / (√v̂ + ε)` with the bias
/// corrections `m̂ = m / (1−β₁ᵗ)`, `v̂ = v / (1−β₂ᵗ)`.
///
/// The moments `m` and `v` are values of the model's gradient type; the step count `t` is a
/// `u64`.
///
/// ```
/// use shaped::{typenum::*, Adam, Affine};
/// let opt = Adam::<Affine<U2, U1>>::new(1e-3)?.with_betas(0.9, 0.99)?;
/// assert_eq!(opt.steps(), 0);
/// let err = Adam::<Affine<U2, U1>>::new(1e-3)?.with_betas(0.9, 1.0).unwrap_err();
/// assert_eq!(err.to_string(), "invalid optimizer setting beta2 = 1: expected a number in [0, 1)");
/// # Ok::<(), shaped::SettingError>(())
/// ```
#[derive(Debug)]
pub struct Adam<M: Params<E>, E: Element = f32> {
    lr: E,
    beta1: E,
    beta2: E,
    eps: E,
    weight_decay: E,
    t: u64,
    moments: Option<(M::Grads, M::Grads)>,
    model: PhantomData<fn(&M)>,
}

impl<M: Params<E>, E: Element> Clone for Adam<M, E> {
    fn clone(&self) -> Self {
        Self {
            moments: self.moments.clone(),
            model: PhantomData,
            ..*self
        }
    }
}

impl<M: Params<E>, E: Element> Adam<M, E> {
    /// Adam with learning rate `lr` and PyTorch's defaults for the rest (β₁ 0.9, β₂ 0.999,
    /// ε 1e-8, no weight decay).
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine, Params, Tensor};
    /// let mut layer = Affine::<U1, U1>::new(Tensor::full(1.0), Tensor::zeros());
    /// let mut grads = layer.zero_grads();
    /// grads.weight.as_mut_slice()[0] = 3.0;
    /// let mut opt = Adam::new(0.1)?;
    /// opt.step(&mut layer, &grads);
    /// // The first step moves each weight by about lr, whatever the gradient's size:
    /// // m̂ / √v̂ = ±1.
    /// assert!((layer.weight.as_slice()[0] - 0.9).abs() < 1e-6);
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn new(lr: E) -> Result<Self, SettingError> {
        let c = |v: f64| E::from_f64(v).unwrap_or_else(E::zero);
        Ok(Self {
            lr: non_negative("lr", lr)?,
            beta1: c(0.9),
            beta2: c(0.999),
            eps: c(1e-8),
            weight_decay: E::zero(),
            t: 0,
            moments: None,
            model: PhantomData,
        })
    }

    /// With the moment decays β₁ and β₂ (each in `[0, 1)`).
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine};
    /// let opt = Adam::<Affine<U2, U1>>::new(1e-3)?.with_betas(0.5, 0.9)?;
    /// # let _ = opt;
    /// let err = Adam::<Affine<U2, U1>>::new(1e-3)?.with_betas(1.0, 0.9).unwrap_err();
    /// assert_eq!(err.name, "beta1");
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn with_betas(mut self, beta1: E, beta2: E) -> Result<Self, SettingError> {
        self.beta1 = unit("beta1", beta1)?;
        self.beta2 = unit("beta2", beta2)?;
        Ok(self)
    }

    /// With `eps` (`≥ 0`).
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine, Params, Tensor};
    /// let mut layer = Affine::<U1, U1>::new(Tensor::full(1.0), Tensor::zeros());
    /// let mut grads = layer.zero_grads();
    /// grads.weight.as_mut_slice()[0] = 1.0;
    /// // A large `eps` damps the step: m̂ / (√v̂ + ε) = 1 / (1 + 1).
    /// let mut opt = Adam::new(0.1)?.with_eps(1.0)?;
    /// opt.step(&mut layer, &grads);
    /// assert!((layer.weight.as_slice()[0] - 0.95).abs() < 1e-6);
    /// assert!(Adam::<Affine<U1, U1>>::new(0.1)?.with_eps(-1e-8).is_err());
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn with_eps(mut self, eps: E) -> Result<Self, SettingError> {
        self.eps = non_negative("eps", eps)?;
        Ok(self)
    }

    /// With L2 weight decay `weight_decay` (`≥ 0`).
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine, Params, Tensor};
    /// let mut layer = Affine::<U1, U1>::new(Tensor::full(2.0), Tensor::zeros());
    /// let grads = layer.zero_grads();
    /// // The decay is added to the gradient (`g + λ·w`): a zero gradient still moves the weight.
    /// let mut opt = Adam::new(0.1)?.with_weight_decay(0.01)?;
    /// opt.step(&mut layer, &grads);
    /// assert!((layer.weight.as_slice()[0] - 1.9).abs() < 1e-5);
    /// assert_eq!(layer.bias.as_slice(), &[0.0]); // a zero bias does not decay
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn with_weight_decay(mut self, weight_decay: E) -> Result<Self, SettingError> {
        self.weight_decay = non_negative("weight_decay", weight_decay)?;
        Ok(self)
    }

    /// The learning rate.
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine};
    /// let opt = Adam::<Affine<U2, U1>>::new(3e-4)?;
    /// assert_eq!(opt.lr(), 3e-4);
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn lr(&self) -> E {
        self.lr
    }

    /// Sets the learning rate (a schedule), checked as in [`Adam::new`].
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine};
    /// let mut opt = Adam::<Affine<U2, U1>>::new(1e-3)?;
    /// opt.set_lr(1e-4)?; // a step decay
    /// assert_eq!(opt.lr(), 1e-4);
    /// let err = opt.set_lr(f32::NAN).unwrap_err();
    /// assert_eq!(err.name, "lr");
    /// assert_eq!(opt.lr(), 1e-4);
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn set_lr(&mut self, lr: E) -> Result<(), SettingError> {
        self.lr = non_negative("lr", lr)?;
        Ok(())
    }

    /// The number of steps taken.
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine, Params, Seeded};
    /// let mut layer = Affine::<U2, U1>::seeded(0);
    /// let grads = layer.zero_grads();
    /// let mut opt = Adam::new(1e-3)?;
    /// for _ in 0..3 {
    ///     opt.step(&mut layer, &grads);
    /// }
    /// assert_eq!(opt.steps(), 3); // `t` of the bias corrections
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The moments `(m, v)`, shaped like the gradients (none before the first step or load).
    ///
    /// ```
    /// use shaped::{typenum::*, Adam, Affine, Params, Seeded};
    /// let mut layer = Affine::<U2, U1>::seeded(0);
    /// let mut grads = layer.zero_grads();
    /// grads.bias.as_mut_slice()[0] = 2.0;
    /// let mut opt = Adam::new(1e-3)?;
    /// assert!(opt.moments().is_none());
    /// opt.step(&mut layer, &grads);
    /// let (m, v) = opt.moments().unwrap();
    /// assert!((m.bias.as_slice()[0] - 0.2).abs() < 1e-6); // (1 − β₁) · g
    /// assert!((v.bias.as_slice()[0] - 0.004).abs() < 1e-6); // (1 − β₂) · g²
    /// # Ok::<(), shaped::SettingError>(())
    /// ```
    pub fn moments(&self) -> Option<&(M::Grads, M::Grads)> {
        self.moments.as_ref()
    }

    /// Allocates the moments (zero) for `model` if there are none yet.
    fn state_mut(&mut self, model: &M) {
        if self.moments.is_none() {
            self.moments = Some((model.zero_grads(), model.zero_grads()));
        }
    }

    /// One update of every parameter of `model` with its gradients.
    ///
    /// `grads` is the gradient type of that model: the gradients of another model do not
    /// compile.
    ///
    /// ```
    /// use shaped::{mse, typenum::*, Adam, Affine, Seeded, Tensor};
    /// let mut layer = Affine::<U2, U1>::seeded(0);
    /// let x = Tensor::<(U4, U2)>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])?;
    /// let target = Tensor::<(U4, U1)>::from_vec(vec![0.0, 1.0, 1.0, 2.0])?; // x₀ + x₁
    /// let mut opt = Adam::new(0.05)?;
    /// for _ in 0..300 {
    ///     let (_, dy) = mse(&layer.forward(&x), &target);
    ///     let (_, grads) = layer.backward(&x, &dy);
    ///     opt.step(&mut layer, &grads);
    /// }
    /// assert!(mse(&layer.forward(&x), &target).0 < 1e-3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step(&mut self, model: &mut M, grads: &M::Grads) {
        // A u64 of steps does not overflow in practice; saturate rather than wrap regardless.
        self.t = self.t.saturating_add(1);
        let (b1, b2, eps, wd, lr) = (self.beta1, self.beta2, self.eps, self.weight_decay, self.lr);
        let power = |b: E| match i32::try_from(self.t) {
            Ok(t) => b.powi(t),
            Err(_) => b.powf(E::from_u64(self.t).unwrap_or_else(E::max_value)),
        };
        let (c1, c2) = (E::one() - power(b1), E::one() - power(b2));
        let (m, v) = self
            .moments
            .get_or_insert_with(|| (model.zero_grads(), model.zero_grads()));
        for i in 0..model.count() {
            let (p, g) = (model.tensor_mut(i), grads.tensor(i));
            let (m, v) = (m.tensor_mut(i), v.tensor_mut(i));
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let g = g + wd * *p;
                *m = b1 * *m + (E::one() - b1) * g;
                *v = b2 * *v + (E::one() - b2) * g * g;
                *p = *p - lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            }
        }
    }
}

/// An optimizer whose state (a value shaped like its model's gradients, and a step count) can
/// be saved and loaded: [`crate::io::save_optimizer`], [`crate::io::load_optimizer`]. Its
/// [`Tensors`] are that state, under PyTorch's state names.
///
/// [`io::save_optimizer`](crate::io::save_optimizer) and
/// [`io::load_optimizer`](crate::io::load_optimizer) go through it; so can code of your own:
///
/// ```
/// use shaped::{typenum::*, Adam, Affine, OptimizerState, Seeded, Tensors};
/// let model = Affine::<U2, U1>::seeded(0);
/// let mut opt = Adam::<Affine<U2, U1>>::new(1e-3)?;
/// assert_eq!(opt.count(), 0); // no state before the first step
/// opt.prepare(&model); // zero moments, shaped like the model's gradients
/// let mut names = Vec::new();
/// opt.visit("", &mut |name, _, _| names.push(name.to_string()));
/// assert_eq!(names, ["exp_avg.weight", "exp_avg.bias", "exp_avg_sq.weight", "exp_avg_sq.bias"]);
/// opt.set_steps(10); // as a loaded state resumes
/// assert_eq!(OptimizerState::steps(&opt), 10);
/// opt.clear();
/// assert!(opt.moments().is_none());
/// # Ok::<(), shaped::SettingError>(())
/// ```
pub trait OptimizerState<E: Element>: Tensors<E> + Clone {
    /// The model it steps.
    type Model: Params<E>;
    /// Allocates the state (zeros) for `model` if there is none yet.
    fn prepare(&mut self, model: &Self::Model);
    /// Drops the state: the optimizer as before its first step.
    fn clear(&mut self);
    /// The number of steps taken.
    fn steps(&self) -> u64;
    /// Sets the number of steps taken (what a loaded state resumes from).
    fn set_steps(&mut self, steps: u64);
}

/// The tensors of up to two state values shaped like the gradients, named `first.…` and
/// `second.…`.
macro_rules! state_tensors {
    ($first:literal, $second:literal) => {
        fn count(&self) -> usize {
            self.parts()
                .map_or(0, |(a, b)| a.count() + b.map_or(0, |b| b.count()))
        }
        fn tensor(&self, i: usize) -> &[E] {
            match self.parts() {
                Some((a, _)) if i < a.count() => a.tensor(i),
                Some((a, Some(b))) => b.tensor(i - a.count()),
                _ => panic!("tensor {i} of an optimizer state"),
            }
        }
        fn tensor_mut(&mut self, i: usize) -> &mut [E] {
            match self.parts_mut() {
                Some((a, _)) if i < a.count() => a.tensor_mut(i),
                Some((a, Some(b))) => {
                    let n = a.count();
                    b.tensor_mut(i - n)
                }
                _ => panic!("tensor {i} of an optimizer state"),
            }
        }
        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E])) {
            if let Some((a, b)) = self.parts() {
                a.visit(&format!("{prefix}{}.", $first), f);
                if let Some(b) = b {
                    b.visit(&format!("{prefix}{}.", $second), f);
                }
            }
        }
        fn visit_mut<Err>(
            &mut self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
        ) -> Result<(), Err> {
            if let Some((a, b)) = self.parts_mut() {
                a.visit_mut(&format!("{prefix}{}.", $first), f)?;
                if let Some(b) = b {
                    b.visit_mut(&format!("{prefix}{}.", $second), f)?;
                }
            }
            Ok(())
        }
    };
}

impl<M: Params<E>, E: Element> Tensors<E> for Adam<M, E> {
    state_tensors!("exp_avg", "exp_avg_sq");
}

impl<M: Params<E>, E: Element> Adam<M, E> {
    /// The state as (first value, second value).
    fn parts(&self) -> Option<(&M::Grads, Option<&M::Grads>)> {
        self.moments.as_ref().map(|(m, v)| (m, Some(v)))
    }
    fn parts_mut(&mut self) -> Option<(&mut M::Grads, Option<&mut M::Grads>)> {
        self.moments.as_mut().map(|(m, v)| (m, Some(v)))
    }
}

impl<M: Params<E>, E: Element> OptimizerState<E> for Adam<M, E> {
    type Model = M;
    fn prepare(&mut self, model: &M) {
        self.state_mut(model);
    }
    fn clear(&mut self) {
        self.moments = None;
    }
    fn steps(&self) -> u64 {
        self.t
    }
    fn set_steps(&mut self, steps: u64) {
        self.t = steps;
    }
}

impl<M: Params<E>, E: Element> Tensors<E> for Sgd<M, E> {
    state_tensors!("momentum_buffer", "unused");
}

impl<M: Params<E>, E: Element> Sgd<M, E> {
    /// The state as (first value, no second value).
    fn parts(&self) -> Option<(&M::Grads, Option<&M::Grads>)> {
        self.velocity.as_ref().map(|v| (v, None))
    }
    fn parts_mut(&mut self) -> Option<(&mut M::Grads, Option<&mut M::Grads>)> {
        self.velocity.as_mut().map(|v| (v, None))
    }
}

/// SGD's step count is not part of its update (the first step only tells a fresh momentum
/// buffer from a loaded one), so it is saved as 0 or 1: whether a velocity exists.
impl<M: Params<E>, E: Element> OptimizerState<E> for Sgd<M, E> {
    type Model = M;
    fn prepare(&mut self, model: &M) {
        if self.velocity.is_none() && self.momentum != E::zero() {
            self.velocity = Some(model.zero_grads());
        }
    }
    fn clear(&mut self) {
        self.velocity = None;
    }
    fn steps(&self) -> u64 {
        u64::from(self.velocity.is_some())
    }
    fn set_steps(&mut self, _: u64) {}
}
