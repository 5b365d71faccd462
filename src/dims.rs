//! Dimensions as types: typenum's unsigned numbers, and the named shape arithmetic.
//!
//! `U0` … `U1024` and the powers of two and ten beyond are re-exported from
//! [`typenum::consts`] (listed there, not in this index), so `use shaped::typenum::*`,
//! `use shaped::dims::*` or `use shaped::*` brings them into scope. A size typenum has no name
//! for (`U1568`) is written as a product or through the named arithmetic: `Prod<U32, U49>`,
//! [`Flat`]`<U32, U7, U7>`; the compiler checks it like any other.

#[doc(no_inline)]
pub use typenum::consts::*;
pub use typenum::Unsigned;

use core::fmt;
use core::ops::{Add, Div, Mul, Sub};
use typenum::{Add1, Diff, Gr, IsEqual, IsGreater, IsLessOrEqual, LeEq, Prod, Quot, Sum};

use crate::rules::{
    mismatch, ConvKernelHeight, ConvKernelWidth, ConvStride, DimCmp, PoolStride, PoolWindowHeight,
    PoolWindowWidth, Rule, Verdict,
};

/// A dimension: a typenum unsigned number such as `U784`, whose size the compiler knows, or
/// [`Dyn`], whose size is known at run time (first of all the batch).
///
/// A `Dim` is a value as well as a type: a static dim is zero-sized, a [`Dyn`] carries its size,
/// so a tensor whose shape is all static stores no sizes. A `Dim` is known to equal itself, so
/// code generic over a dim passes the rules that compare it with itself without repeating them
/// as bounds: a function generic over the batch needs `N: Dim` and nothing else.
///
/// ```
/// use shaped::{Dim, Dyn, U784};
/// assert_eq!(U784::default().size(), 784);
/// assert_eq!(Dyn(32).size(), 32);
/// assert_eq!(<U784 as Dim>::STATIC, Some(784));
/// assert_eq!(U784::from_size(100), None); // a static dim has one size
/// ```
pub trait Dim: Copy + Eq + fmt::Debug + Send + Sync + 'static + DimCmp<Self, Same = B1> {
    /// The size fixed by the type: `Some(784)` for `U784`, `None` for [`Dyn`].
    const STATIC: Option<usize>;
    /// The size.
    fn size(self) -> usize;
    /// The dim of size `n`, or `None` when the type fixes another size.
    fn from_size(n: usize) -> Option<Self>;
}

/// A dimension whose size the compiler knows: every typenum unsigned.
///
/// Needed where a size has no tensor to be read from (a stride, a padding) or where a tensor is
/// built from nothing ([`Tensor::zeros`](crate::Tensor::zeros)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a compile-time dimension",
    label = "a typenum number (`U1`, `U784`, …) is needed here",
    note = "`Dyn` dims have no size until run time: build such tensors with `from_vec` or `zeros_with`",
    note = "in `Conv<C, K, HF, WF, S, P, E>` and the pools, the stride `S` and padding `P` come before the element type `E`: `Conv<U1, U4, U3, U3, U1, U0, f64>`"
)]
pub trait ConstDim: Dim + Default {
    /// The size.
    const SIZE: usize;
}

impl<U> Dim for U
where
    U: Unsigned + Copy + Eq + fmt::Debug + Default + Send + Sync + 'static,
    U: IsEqual<U, Output = B1>,
{
    const STATIC: Option<usize> = Some(U::USIZE);
    fn size(self) -> usize {
        U::USIZE
    }
    fn from_size(n: usize) -> Option<Self> {
        (n == U::USIZE).then(U::default)
    }
}
// On typenum's two number types rather than on every `Unsigned`, so that asking it of `Dyn`
// reports this trait's own message instead of "`Dyn: Unsigned` is not satisfied".
impl ConstDim for typenum::UTerm {
    const SIZE: usize = 0;
}
impl<U, B> ConstDim for typenum::UInt<U, B>
where
    typenum::UInt<U, B>: Dim + Unsigned + Default,
{
    const SIZE: usize = <typenum::UInt<U, B> as Unsigned>::USIZE;
}

/// A dimension whose size is known at run time: `Tensor<(Dyn, U784)>` is a batch of any
/// number of 784-feature rows.
///
/// Static dims keep every compile-time rule. Where a `Dyn` meets another size the rule is
/// checked at run time: data coming in (`Tensor::from_vec`, labels, files) returns an `Err`;
/// two arguments of one call that disagree (an `x` and a `dy` of different batches) panic with
/// the rule's own words, as documented under `# Panics`.
///
/// ```
/// use shaped::{Dyn, Tensor, U3};
/// let x = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 12])?; // 4 rows, inferred
/// assert_eq!(x.dims(), [4, 3]);
/// assert!(Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 10]).is_err()); // not whole rows
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dyn(pub usize);

impl Dim for Dyn {
    const STATIC: Option<usize> = None;
    fn size(self) -> usize {
        self.0
    }
    fn from_size(n: usize) -> Option<Self> {
        Some(Dyn(n))
    }
}

/// The product of two dims, as a dim: the static product of two typenum numbers, [`Dyn`] as
/// soon as one of them is (used by [`Flat`] and [`Count`](crate::Count)).
pub trait DimMul<Rhs> {
    /// The product.
    type Out: Dim;
    /// The product's value.
    fn mul(self, rhs: Rhs) -> Self::Out;
}
impl<A, B> DimMul<B> for A
where
    A: Unsigned + Mul<B>,
    B: Unsigned,
    Prod<A, B>: ConstDim,
{
    type Out = Prod<A, B>;
    fn mul(self, _: B) -> Self::Out {
        Default::default()
    }
}
impl<B: Dim> DimMul<B> for Dyn {
    type Out = Dyn;
    fn mul(self, rhs: B) -> Dyn {
        Dyn(self.0 * rhs.size())
    }
}
impl<A: ConstDim + Unsigned> DimMul<Dyn> for A {
    type Out = Dyn;
    fn mul(self, rhs: Dyn) -> Dyn {
        Dyn(A::SIZE * rhs.0)
    }
}

/// The output size of a convolution along one axis: `⌊(X + 2P − F) / S⌋ + 1` for an input of
/// `X`, a kernel of `F`, stride `S` and zero padding `P` on both sides.
///
/// When the kernel fits (`F ≤ X + 2P`) and `S > 0`, this is
/// `Add1<Quot<Diff<Sum<X, Prod<P, U2>>, F>, S>>`. Otherwise it does not compile, and the error
/// names the rule: `kernel height _7 is larger than the padded input height _5 (H + 2P) in
/// Conv`, or `stride must be non-zero in Conv: found S = _0`. The subtraction and division run
/// only once both checks pass, so typenum's own errors never show. `A` is the axis the errors
/// name: [`Height`] (the default) or [`Width`]. For an input of [`Dyn`] size the output is
/// `Dyn`, computed and checked at run time.
///
/// ```
/// use shaped::{ConvOut, Width, U1, U2, U3, U5, U16, U32};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(ConvOut<U32, U3, U2, U1>, U16); // ⌊(32 + 2 − 3) / 2⌋ + 1
/// assert_type_eq_all!(ConvOut<U5, U5, U1, U0>, U1);
/// assert_type_eq_all!(ConvOut<U32, U5, U1, U2, Width>, U32);
/// assert_type_eq_all!(ConvOut<shaped::Dyn, U5, U1, U2>, shaped::Dyn);
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
    type KernelRule: Rule;
    /// The rule "the stride is non-zero".
    type StrideRule: Rule;
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

/// The flattened size `C·H·W` of one `(C, H, W)` sample ([`Dyn`] if one of them is).
pub type Flat<C, H, W> = <<C as DimMul<H>>::Out as DimMul<W>>::Out;

/// Computes [`ConvOut`]; implemented for every input size, checked on use.
pub trait ConvOutput<F, S, P, A> {
    /// The output size.
    type Out: Dim;
    /// The output size's value.
    ///
    /// # Panics
    ///
    /// For a [`Dyn`] input, if the kernel does not fit the padded input or the stride is 0,
    /// with the rule's message (a static input is checked by the compiler instead).
    fn conv_out(self) -> Self::Out;
}
impl<X, F, S, P, A> ConvOutput<F, S, P, A> for X
where
    X: Unsigned,
    P: Mul<U2>,
    X: Add<Prod<P, U2>>,
    F: IsLessOrEqual<Padded<X, P>>,
    S: IsGreater<U0>,
    (LeEq<F, Padded<X, P>>, Gr<S, U0>): ConvOutBranch<Padded<X, P>, F, S, A>,
{
    type Out = <(LeEq<F, Padded<X, P>>, Gr<S, U0>) as ConvOutBranch<Padded<X, P>, F, S, A>>::Out;
    fn conv_out(self) -> Self::Out {
        Default::default()
    }
}
impl<F: ConstDim, S: ConstDim, P: ConstDim, A: ConvAxis> ConvOutput<F, S, P, A> for Dyn {
    type Out = Dyn;
    fn conv_out(self) -> Dyn {
        let padded = self.0 + 2 * P::SIZE;
        if F::SIZE > padded {
            mismatch::<A::KernelRule>(padded, F::SIZE);
        }
        if S::SIZE == 0 {
            mismatch::<A::StrideRule>(0, 0);
        }
        Dyn((padded - F::SIZE) / S::SIZE + 1)
    }
}

/// Branch on (kernel fits, stride non-zero).
#[doc(hidden)]
pub trait ConvOutBranch<Xp, F, S, A> {
    /// The output size, or a placeholder beside the rule's error.
    type Out: ConstDim;
}
impl<Xp, F, S, A> ConvOutBranch<Xp, F, S, A> for (B1, B1)
where
    Xp: Sub<F>,
    Diff<Xp, F>: Div<S>,
    Quot<Diff<Xp, F>, S>: Add<B1>,
    Add1<Quot<Diff<Xp, F>, S>>: ConstDim,
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
