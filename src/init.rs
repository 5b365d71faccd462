//! PyTorch's default initialisation, seeded.
//!
//! `nn.Linear` and `nn.Conv2d` draw their weights with `kaiming_uniform_(a = √5)` and their
//! biases from `U(−1/√fan_in, 1/√fan_in)`; with `a = √5` the weight bound is also `1/√fan_in`.
//! `fan_in` is `DI` for [`Affine`], `C·HF·WF` for [`Conv`].
//!
//! ```
//! use rand::{rngs::StdRng, SeedableRng};
//! use shaped::{Affine, Init, ReLU, typenum::*};
//! let model = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::init(&mut StdRng::seed_from_u64(0));
//! assert!(model.0.weight.as_slice().iter().all(|w| w.abs() <= 0.5)); // 1/√4
//! ```

use rand::Rng;

use crate::dims::ConstDim;
use crate::layers::{
    affine::Affine, conv::Conv, dropout::Dropout, flatten::Flatten, pool, relu::ReLU,
};
use crate::shape::ConstShape;
use crate::tensor::{Element, Tensor};

/// A layer or model that can be built with PyTorch's default initialisation.
pub trait Init: Sized {
    /// Draws the parameters from `rng`.
    fn init<R: Rng + ?Sized>(rng: &mut R) -> Self;
}

/// A tensor of `U(−bound, bound)` draws.
fn uniform<S: ConstShape, E: Element, R: Rng + ?Sized>(rng: &mut R, bound: f64) -> Tensor<S, E> {
    Tensor::from_fn(|_| E::from_f64(rng.random_range(-bound..bound)).expect("a finite draw"))
}

impl<DI: ConstDim, DO: ConstDim, E: Element> Init for Affine<DI, DO, E> {
    fn init<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let bound = 1.0 / (DI::SIZE as f64).sqrt();
        let weight = uniform(rng, bound);
        Self::new(weight, uniform(rng, bound))
    }
}

impl<C, K, HF, WF, S, P, E> Init for Conv<C, K, HF, WF, S, P, E>
where
    C: ConstDim,
    K: ConstDim,
    HF: ConstDim,
    WF: ConstDim,
    S: ConstDim,
    P: ConstDim,
    E: Element,
{
    fn init<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let bound = 1.0 / ((C::SIZE * HF::SIZE * WF::SIZE) as f64).sqrt();
        let weight = uniform(rng, bound);
        Self::new(weight, uniform(rng, bound))
    }
}

macro_rules! init_stateless {
    ($([$($g:ident),*] $ty:ty),*) => {$(
        impl<$($g),*> Init for $ty {
            fn init<R: Rng + ?Sized>(_: &mut R) -> Self {
                Self::default()
            }
        }
    )*};
}
init_stateless!([] ReLU, [] Flatten, [] Dropout, [K, S] pool::MaxPool2d<K, S>, [K, S] pool::AvgPool2d<K, S>);

macro_rules! init_tuple {
    ($($l:ident),+) => {
        impl<$($l: Init),+> Init for ($($l,)+) {
            fn init<R: Rng + ?Sized>(rng: &mut R) -> Self {
                ($($l::init(rng),)+)
            }
        }
    };
}
init_tuple!(L0);
init_tuple!(L0, L1);
init_tuple!(L0, L1, L2);
init_tuple!(L0, L1, L2, L3);
init_tuple!(L0, L1, L2, L3, L4);
init_tuple!(L0, L1, L2, L3, L4, L5);
init_tuple!(L0, L1, L2, L3, L4, L5, L6);
init_tuple!(L0, L1, L2, L3, L4, L5, L6, L7);
init_tuple!(L0, L1, L2, L3, L4, L5, L6, L7, L8);
