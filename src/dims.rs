//! Dimensions as types: typenum's unsigned numbers, and the named shape arithmetic.
//!
//! `U1`, `U784`, … are re-exported from [`typenum::consts`], so `use shaped::dims::*` (or
//! `use shaped::*`) brings them into scope.

pub use typenum::consts::*;
pub use typenum::Unsigned;

/// A dimension: a typenum unsigned number such as `U784`.
///
/// Beyond [`Unsigned`], a `Dim` is known to equal itself, so code generic over a dim (an
/// `Affine<DI, DO>` for any `DI`) passes the rules that compare it with itself without
/// repeating them as bounds. Every typenum unsigned is a `Dim`.
pub trait Dim:
    Unsigned + typenum::IsEqual<Self, Output = typenum::B1> + Send + Sync + 'static
{
}
impl<D> Dim for D where
    D: Unsigned + typenum::IsEqual<D, Output = typenum::B1> + Send + Sync + 'static
{
}

use core::ops::{Add, Div, Mul, Sub};
use typenum::{Add1, Diff, Gr, IsGreater, IsLessOrEqual, LeEq, Prod, Quot, Sum};

use crate::rules::{
    ConvKernelHeight, ConvKernelWidth, ConvStride, PoolStride, PoolWindowHeight, PoolWindowWidth,
    Verdict,
};

/// The output size of a convolution along one axis: `⌊(X + 2P − F) / S⌋ + 1` for an input of
/// `X`, a kernel of `F`, stride `S` and zero padding `P` on both sides.
///
/// When the kernel fits (`F ≤ X + 2P`) and `S > 0`, this is
/// `Add1<Quot<Diff<Sum<X, Prod<P, U2>>, F>, S>>`. Otherwise it does not compile, and the error
/// names the rule: `kernel height _7 is larger than the padded input height _5 (H + 2P) in
/// Conv`, or `stride must be non-zero in Conv: found S = _0`. The subtraction and division run
/// only once both checks pass, so typenum's own errors never show. `A` is the axis the errors
/// name: [`Height`] (the default) or [`Width`].
///
/// ```
/// use shaped::{ConvOut, Width, U1, U2, U3, U5, U16, U32};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(ConvOut<U32, U3, U2, U1>, U16); // ⌊(32 + 2 − 3) / 2⌋ + 1
/// assert_type_eq_all!(ConvOut<U5, U5, U1, U0>, U1);
/// assert_type_eq_all!(ConvOut<U32, U5, U1, U2, Width>, U32);
/// # use shaped::U0;
/// ```
pub type ConvOut<X, F, S, P, A = Height> = <X as ConvOutput<F, S, P, A>>::Out;

/// The padded size `X + 2P`.
pub type Padded<X, P> = Sum<X, Prod<P, U2>>;

/// The height axis of a convolution (errors say "height").
#[derive(Debug, Clone, Copy, Default)]
pub struct Height;
/// The width axis of a convolution (errors say "width").
#[derive(Debug, Clone, Copy, Default)]
pub struct Width;

/// The height axis of a pooling window (errors say "pool window height").
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolHeight;
/// The width axis of a pooling window (errors say "pool window width").
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolWidth;

/// An axis of a sliding window (convolution or pooling), and the rules that name it.
pub trait ConvAxis {
    /// The rule "the window fits the padded input" on this axis.
    type KernelRule;
    /// The rule "the stride is non-zero".
    type StrideRule;
}
impl ConvAxis for Height {
    type KernelRule = ConvKernelHeight;
    type StrideRule = ConvStride;
}
impl ConvAxis for Width {
    type KernelRule = ConvKernelWidth;
    type StrideRule = ConvStride;
}
impl ConvAxis for PoolHeight {
    type KernelRule = PoolWindowHeight;
    type StrideRule = PoolStride;
}
impl ConvAxis for PoolWidth {
    type KernelRule = PoolWindowWidth;
    type StrideRule = PoolStride;
}

/// The output size of a pooling window `K` with stride `S` (no padding) along one axis:
/// `⌊(X − K) / S⌋ + 1`, that is [`ConvOut`]`<X, K, S, U0, A>`, with errors that speak of the
/// pool window. `A` is [`PoolHeight`] (the default) or [`PoolWidth`].
pub type PoolOut<X, K, S, A = PoolHeight> = ConvOut<X, K, S, typenum::U0, A>;

/// The flattened size `C·H·W` of one `(C, H, W)` sample.
pub type Flat<C, H, W> = Prod<Prod<C, H>, W>;

/// Computes [`ConvOut`]; implemented for every input size, checked on use.
pub trait ConvOutput<F, S, P, A> {
    /// The output size.
    type Out: Dim;
}
impl<X, F, S, P, A> ConvOutput<F, S, P, A> for X
where
    P: Mul<U2>,
    X: Add<Prod<P, U2>>,
    F: IsLessOrEqual<Padded<X, P>>,
    S: IsGreater<U0>,
    (LeEq<F, Padded<X, P>>, Gr<S, U0>): ConvOutBranch<Padded<X, P>, F, S, A>,
{
    type Out = <(LeEq<F, Padded<X, P>>, Gr<S, U0>) as ConvOutBranch<Padded<X, P>, F, S, A>>::Out;
}

/// Branch on (kernel fits, stride non-zero).
#[doc(hidden)]
pub trait ConvOutBranch<Xp, F, S, A> {
    /// The output size, or a placeholder beside the rule's error.
    type Out: Dim;
}
impl<Xp, F, S, A> ConvOutBranch<Xp, F, S, A> for (B1, B1)
where
    Xp: Sub<F>,
    Diff<Xp, F>: Div<S>,
    Quot<Diff<Xp, F>, S>: Add<B1>,
    Add1<Quot<Diff<Xp, F>, S>>: Dim,
{
    type Out = Add1<Quot<Diff<Xp, F>, S>>;
}
impl<Xp, F, S, A: ConvAxis, AnyStride> ConvOutBranch<Xp, F, S, A> for (B0, AnyStride)
where
    B0: Verdict<A::KernelRule, Xp, F>,
{
    type Out = typenum::U1;
}
impl<Xp, F, S, A: ConvAxis> ConvOutBranch<Xp, F, S, A> for (B1, B0)
where
    B0: Verdict<A::StrideRule, S, S>,
{
    type Out = typenum::U1;
}
