//! PyTorch's default initialisation, seeded.
//!
//! `nn.Linear` and `nn.Conv2d` draw their weights with `kaiming_uniform_(a = √5)` and their
//! biases from `U(−1/√fan_in, 1/√fan_in)`; with `a = √5` the weight bound is also `1/√fan_in`.
//! `fan_in` is `DI` for [`Affine`], `C·HF·WF` for [`Conv`].
//!
//! ```
//! use shaped::rand::{rngs::StdRng, SeedableRng};
//! use shaped::{Affine, Init, ReLU, typenum::*};
//! let model = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::init(&mut StdRng::seed_from_u64(0));
//! assert!(model.0.weight.as_slice().iter().all(|w| w.abs() <= 0.5)); // 1/√4
//! ```

use rand::{Rng, RngCore};

use crate::dims::ConstDim;
use crate::layers::{
    affine::Affine, conv::Conv, dropout::Dropout, flatten::Flatten, pool, relu::ReLU,
};
use crate::rules::{AffineNonZero, ConvNonZero, NonZero, PoolNonZero, Via};
use crate::shape::ConstShape;
use crate::tensor::{Element, Tensor};

/// A random generator of the `rand` the crate uses (0.9, re-exported as [`shaped::rand`](crate::rand)):
/// every `rand::RngCore` of that version is one, and only those are.
///
/// A project that adds `rand` itself may get another version (`cargo add rand` gives the newest),
/// and a generator of another version is another type to the compiler, even with the same
/// name. [`Init::init`] and [`Dataset::shuffle`](crate::data::Dataset::shuffle) take a
/// `Generator` rather than `rand::Rng` so that the error then says so in its first line,
/// instead of "the trait bound `StdRng: shaped::rand::Rng` is not satisfied":
///
/// ```text
/// error[E0277]: `rand::prelude::StdRng` is a generator of another `rand` than shaped's (0.9, re-exported as `shaped::rand`): use `shaped::rand::rngs::StdRng`, or `Model::seeded(seed)`, which needs no `rand`
/// ```
///
/// ```
/// use shaped::rand::{rngs::StdRng, SeedableRng}; // the crate's `rand`: no dependency of your own
/// use shaped::{typenum::*, Affine, Init, Seeded};
/// let a = Affine::<U4, U2>::init(&mut StdRng::seed_from_u64(3));
/// let b = Affine::<U4, U2>::seeded(3); // the same draws, without naming a generator
/// assert_eq!(a, b);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a generator of another `rand` than shaped's (0.9, re-exported as `shaped::rand`): use `shaped::rand::rngs::StdRng`, or `Model::seeded(seed)`, which needs no `rand`",
    label = "a generator of another `rand` version, or not a `rand` generator",
    note = "a project's own `rand` dependency of another version (`cargo add rand` gives the newest) is a second crate, whose generators are other types than shaped's, even with the same names",
    note = "`shaped::rand` is the `rand` shaped uses: seed `shaped::rand::rngs::StdRng` (with `shaped::rand::SeedableRng`), or pin your own `rand` to 0.9; `Seeded::seeded(seed)` draws the same numbers as `Init::init(&mut StdRng::seed_from_u64(seed))`"
)]
pub trait Generator: RngCore {}
impl<R: RngCore + ?Sized> Generator for R {}

/// A layer or model that can be built with PyTorch's default initialisation, drawing from a
/// random generator of type `R` (`StdRng` unless said otherwise; any [`Generator`], that is any
/// generator of `shaped::rand`, works).
///
/// The generator is a parameter of the trait rather than of the method so that a layer's rules
/// (no zero-sized layer) are checked once the call's generator is known, and a broken one is
/// reported in its own words (`zero-sized Affine layer: …`) rather than as a missing `init`.
///
/// ```
/// use shaped::rand::{rngs::StdRng, Rng, SeedableRng};
/// use shaped::{typenum::*, Affine, Init, ReLU};
///
/// let layer = Affine::<U4, U2>::init(&mut StdRng::seed_from_u64(0));
/// assert!(layer.weight.as_slice().iter().all(|w| w.abs() <= 0.5)); // U(−1/√4, 1/√4)
///
/// // A layer of your own draws its parameters from the generator it is given; then models
/// // holding it are built by `init` (and `seeded`) too.
/// #[derive(Clone, Debug, PartialEq)]
/// struct Gain(f32);
/// impl<R: Rng + ?Sized> Init<R> for Gain {
///     fn init(rng: &mut R) -> Self {
///         Gain(rng.random_range(0.5..1.5))
///     }
/// }
/// let (gain, _relu) = <(Gain, ReLU)>::init(&mut StdRng::seed_from_u64(1));
/// assert!((0.5..1.5).contains(&gain.0));
/// assert_eq!(gain, Gain::init(&mut StdRng::seed_from_u64(1))); // the first draw of seed 1
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be initialised from a `{R}`",
    note = "`Init` draws from the `rand` the crate uses (`shaped::rand`, 0.9): a generator of another `rand` version is another type to the compiler; use `Model::seeded(seed)` (trait `Seeded`) or `shaped::rand::rngs::StdRng`",
    note = "every layer of a model must be one `Init` knows: a layer of your own needs an `impl Init<R>`"
)]
pub trait Init<R: Generator + ?Sized = rand::rngs::StdRng>: Sized {
    /// Draws the parameters from `rng`.
    fn init(rng: &mut R) -> Self;
}

/// [`Init`] from a seed alone: `Cnn::seeded(0)`, with the crate's own generator (`StdRng`), so a
/// project needs no `rand` dependency of its own (and cannot pick a second, incompatible
/// version of it). For another generator, `shaped::rand` is the version the crate uses.
///
/// ```
/// use shaped::{typenum::*, Affine, ReLU, Seeded};
/// let a = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::seeded(7);
/// let b = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::seeded(7);
/// assert_eq!(a, b); // the same seed, the same parameters
/// ```
pub trait Seeded: Sized {
    /// PyTorch's default initialisation, drawn from a generator seeded with `seed`.
    //
    // The bound is on the method, not on the blanket impl, so that a layer that cannot be
    // initialised reports its own rule (`zero-sized Affine layer`, `f64` where the stride goes)
    // rather than a missing `seeded`.
    fn seeded(seed: u64) -> Self
    where
        Self: Init<rand::rngs::StdRng>,
    {
        Self::init(&mut rand::SeedableRng::seed_from_u64(seed))
    }
}
impl<T> Seeded for T {}

/// A tensor of `U(−bound, bound)` draws.
pub(crate) fn uniform<S: ConstShape, E: Element, R: Rng + ?Sized>(
    rng: &mut R,
    bound: f64,
) -> Tensor<S, E> {
    // A finite f64 always converts to f32 or f64.
    Tensor::from_fn(|_| E::from_f64(rng.random_range(-bound..bound)).unwrap_or_else(E::zero))
}

impl<DI, DO, E, R> Init<R> for Affine<DI, DO, E>
where
    DI: ConstDim,
    DO: ConstDim,
    E: Element,
    R: Rng + ?Sized,
    // A layer of 0 inputs or outputs does not compile (`zero-sized Affine layer`), checked
    // once `R` is known (see `rules::Anchor`).
    Via<R, DI>: NonZero<AffineNonZero>,
    Via<R, DO>: NonZero<AffineNonZero>,
{
    fn init(rng: &mut R) -> Self {
        let bound = 1.0 / (DI::SIZE as f64).sqrt();
        let weight = uniform(rng, bound);
        Self::new(weight, uniform(rng, bound))
    }
}

impl<C, K, HF, WF, S, P, E, R> Init<R> for Conv<C, K, HF, WF, S, P, E>
where
    C: ConstDim,
    K: ConstDim,
    HF: ConstDim,
    WF: ConstDim,
    E: Element,
    R: Rng + ?Sized,
    // The stride and padding are typenum numbers; `Conv<C, K, HF, WF, f64>` (the element
    // type where the stride goes) says so in its own words, once `R` is known.
    Via<R, S>: ConstDim,
    Via<R, P>: ConstDim,
    // No channel, no filter or an empty kernel does not compile (`zero-sized Conv layer`).
    Via<R, C>: NonZero<ConvNonZero>,
    Via<R, K>: NonZero<ConvNonZero>,
    Via<R, HF>: NonZero<ConvNonZero>,
    Via<R, WF>: NonZero<ConvNonZero>,
{
    fn init(rng: &mut R) -> Self {
        let bound = 1.0 / ((C::SIZE * HF::SIZE * WF::SIZE) as f64).sqrt();
        let weight = uniform(rng, bound);
        Self::new(weight, uniform(rng, bound))
    }
}

macro_rules! init_stateless {
    ($([$($g:ident),*] $ty:ty),*) => {$(
        impl<$($g,)* R: Rng + ?Sized> Init<R> for $ty {
            fn init(_: &mut R) -> Self {
                Self::default()
            }
        }
    )*};
}
init_stateless!([] ReLU, [] Flatten, [] Dropout);

// A pool window of 0 does not compile (`zero-sized pool window`).
impl<K, S, R: Rng + ?Sized> Init<R> for pool::MaxPool2d<K, S>
where
    Via<R, K>: NonZero<PoolNonZero>,
{
    fn init(_: &mut R) -> Self {
        Self::new()
    }
}
impl<K, S, R: Rng + ?Sized> Init<R> for pool::AvgPool2d<K, S>
where
    Via<R, K>: NonZero<PoolNonZero>,
{
    fn init(_: &mut R) -> Self {
        Self::new()
    }
}

macro_rules! init_tuple {
    ($($l:ident),+) => {
        impl<R: Rng + ?Sized, $($l: Init<R>),+> Init<R> for ($($l,)+) {
            fn init(rng: &mut R) -> Self {
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
init_tuple!(L0, L1, L2, L3, L4, L5, L6, L7, L8, L9);
init_tuple!(L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10);
init_tuple!(L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11);
