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
    pub fn with_momentum(mut self, momentum: E) -> Result<Self, SettingError> {
        self.momentum = non_negative("momentum", momentum)?;
        Ok(self)
    }

    /// With L2 weight decay `weight_decay` (`≥ 0`).
    pub fn with_weight_decay(mut self, weight_decay: E) -> Result<Self, SettingError> {
        self.weight_decay = non_negative("weight_decay", weight_decay)?;
        Ok(self)
    }

    /// The learning rate.
    pub fn lr(&self) -> E {
        self.lr
    }

    /// Sets the learning rate (a schedule), checked as in [`Sgd::new`].
    pub fn set_lr(&mut self, lr: E) -> Result<(), SettingError> {
        self.lr = non_negative("lr", lr)?;
        Ok(())
    }

    /// The momentum buffer, shaped like the gradients (none before the first step with
    /// momentum).
    pub fn velocity(&self) -> Option<&M::Grads> {
        self.velocity.as_ref()
    }

    /// One update of every parameter of `model` with its gradients.
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
    pub fn with_betas(mut self, beta1: E, beta2: E) -> Result<Self, SettingError> {
        self.beta1 = unit("beta1", beta1)?;
        self.beta2 = unit("beta2", beta2)?;
        Ok(self)
    }

    /// With `eps` (`≥ 0`).
    pub fn with_eps(mut self, eps: E) -> Result<Self, SettingError> {
        self.eps = non_negative("eps", eps)?;
        Ok(self)
    }

    /// With L2 weight decay `weight_decay` (`≥ 0`).
    pub fn with_weight_decay(mut self, weight_decay: E) -> Result<Self, SettingError> {
        self.weight_decay = non_negative("weight_decay", weight_decay)?;
        Ok(self)
    }

    /// The learning rate.
    pub fn lr(&self) -> E {
        self.lr
    }

    /// Sets the learning rate (a schedule), checked as in [`Adam::new`].
    pub fn set_lr(&mut self, lr: E) -> Result<(), SettingError> {
        self.lr = non_negative("lr", lr)?;
        Ok(())
    }

    /// The number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The moments `(m, v)`, shaped like the gradients (none before the first step or load).
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
