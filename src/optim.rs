//! Optimizers: they update a model with its own typed gradients.
//!
//! `step(&mut model, &grads)` takes `grads: &M::Grads`, the gradient type of that very model, so
//! the gradients of another model do not compile. An optimizer's state (momentum, moments) is
//! tied to the model type it first stepped.

use core::marker::PhantomData;

use crate::module::Params;
use crate::tensor::Element;

/// Stochastic gradient descent with momentum and weight decay, as PyTorch's `SGD` (no
/// dampening, not Nesterov): `g ← ∇ + λ·p`, `v ← μ·v + g` (`v = g` on the first step),
/// `p ← p − η·v`.
///
/// ```
/// use shaped::{Affine, Sgd, Tensor, typenum::*};
/// let mut layer = Affine::<U2, U1>::new(Tensor::full(1.0), Tensor::zeros());
/// let (_, grads) = layer.backward(&Tensor::<(U1, U2)>::full(1.0), &Tensor::<(U1, U1)>::full(1.0));
/// let mut opt = Sgd::new(0.5).with_momentum(0.9);
/// opt.step(&mut layer, &grads);
/// assert_eq!(layer.weight.as_slice(), &[0.5, 0.5]);
/// ```
#[derive(Debug, Clone)]
pub struct Sgd<M, E = f32> {
    /// The learning rate η.
    pub lr: E,
    /// The momentum μ (0 for none).
    pub momentum: E,
    /// The L2 weight decay λ (0 for none).
    pub weight_decay: E,
    velocity: Vec<Vec<E>>,
    model: PhantomData<fn(&M)>,
}

impl<M: Params<E>, E: Element> Sgd<M, E> {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: E) -> Self {
        Self {
            lr,
            momentum: E::zero(),
            weight_decay: E::zero(),
            velocity: Vec::new(),
            model: PhantomData,
        }
    }

    /// With momentum `momentum`.
    pub fn with_momentum(mut self, momentum: E) -> Self {
        self.momentum = momentum;
        self
    }

    /// With L2 weight decay `weight_decay`.
    pub fn with_weight_decay(mut self, weight_decay: E) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// One update of every parameter of `model` with its gradients.
    pub fn step(&mut self, model: &mut M, grads: &M::Grads) {
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        let (velocity, mut index) = (&mut self.velocity, 0);
        model.update(grads, &mut |p, g| {
            if velocity.len() == index {
                velocity.push(Vec::new());
            }
            let v = &mut velocity[index];
            index += 1;
            let first = v.is_empty();
            if mu != E::zero() && first {
                v.resize(p.len(), E::zero());
            }
            for (i, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                let g = g + wd * *p;
                let step = if mu == E::zero() {
                    g
                } else {
                    v[i] = if first { g } else { mu * v[i] + g };
                    v[i]
                };
                *p = *p - lr * step;
            }
        });
    }
}

/// Adam, as PyTorch's `Adam` (L2 weight decay added to the gradient, no AMSGrad):
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p − η·m̂ / (√v̂ + ε)` with the bias
/// corrections `m̂ = m / (1−β₁ᵗ)`, `v̂ = v / (1−β₂ᵗ)`.
#[derive(Debug, Clone)]
pub struct Adam<M, E = f32> {
    /// The learning rate η (PyTorch's default 1e-3).
    pub lr: E,
    /// β₁ (0.9).
    pub beta1: E,
    /// β₂ (0.999).
    pub beta2: E,
    /// ε (1e-8).
    pub eps: E,
    /// L2 weight decay (0).
    pub weight_decay: E,
    t: i32,
    moments: Vec<(Vec<E>, Vec<E>)>,
    model: PhantomData<fn(&M)>,
}

impl<M: Params<E>, E: Element> Adam<M, E> {
    /// Adam with learning rate `lr` and PyTorch's defaults for the rest.
    pub fn new(lr: E) -> Self {
        let c = |v: f64| E::from_f64(v).expect("a small constant");
        Self {
            lr,
            beta1: c(0.9),
            beta2: c(0.999),
            eps: c(1e-8),
            weight_decay: E::zero(),
            t: 0,
            moments: Vec::new(),
            model: PhantomData,
        }
    }

    /// With L2 weight decay `weight_decay`.
    pub fn with_weight_decay(mut self, weight_decay: E) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// One update of every parameter of `model` with its gradients.
    pub fn step(&mut self, model: &mut M, grads: &M::Grads) {
        self.t += 1;
        let (b1, b2, eps, wd, lr) = (self.beta1, self.beta2, self.eps, self.weight_decay, self.lr);
        let c1 = E::one() - b1.powi(self.t);
        let c2 = E::one() - b2.powi(self.t);
        let (moments, mut index) = (&mut self.moments, 0);
        model.update(grads, &mut |p, g| {
            if moments.len() == index {
                moments.push((vec![E::zero(); p.len()], vec![E::zero(); p.len()]));
            }
            let (m, v) = &mut moments[index];
            index += 1;
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let g = g + wd * *p;
                *m = b1 * *m + (E::one() - b1) * g;
                *v = b2 * *v + (E::one() - b2) * g * g;
                *p = *p - lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            }
        });
    }
}
