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
use core::marker::PhantomData;
use core::ops::{Add, Div, Mul, Rem, Sub};
use typenum::{Add1, Diff, Gr, IsEqual, IsGreater, IsLessOrEqual, LeEq, Mod, Prod, Quot, Sub1};
use typenum::{Sum, UInt, UTerm};

use crate::rules::{
    mismatch, ConvKernelHeight, ConvKernelWidth, ConvStride, DimCmp, PoolStride, PoolWindowHeight,
    PoolWindowWidth, Rule, Verdict,
};
use crate::rules::{ConvDilatedKernelHeight, ConvDilatedKernelWidth, ConvDilationNonZero};
use crate::rules::{ConvGroupsChannels, ConvGroupsFilters, ConvGroupsNonZero};
use crate::rules::{PaddedPoolWindowHeight, PaddedPoolWindowWidth};

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
///
/// ```
/// use shaped::{ConstDim, Tensor, U3, U5};
/// assert_eq!(<U5 as ConstDim>::SIZE, 5);
///
/// /// A 1-D tensor of `D` elements, `0, 1, …`, built from its type alone.
/// fn range<D: ConstDim>() -> Tensor<(D,)> {
///     Tensor::from_fn(|i| i[0] as f32)
/// }
/// assert_eq!(range::<U3>().as_slice(), &[0.0, 1.0, 2.0]);
/// ```
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
///
/// ```
/// use shaped::{DimMul, Dyn, U3, U4, U12};
/// let n: U12 = U3::default().mul(U4::default()); // static: the product is a type
/// assert_eq!(n, U12::default());
/// assert_eq!(Dyn(5).mul(U3::default()), Dyn(15)); // known at run time
/// assert_eq!(U3::default().mul(Dyn(2)), Dyn(6));
/// ```
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

/// The output size of a convolution along one axis: `⌊(X + 2P − D·(F − 1) − 1) / S⌋ + 1` for
/// an input of `X`, a kernel of `F` with dilation `D` (1 unless said: the dense kernel, and
/// then this is `⌊(X + 2P − F) / S⌋ + 1`), stride `S` and zero padding `P` on both sides.
///
/// When the dilated kernel fits (`D·(F − 1) + 1 ≤ X + 2P`) and `S > 0`, this is
/// `Add1<Quot<Diff<Sum<X, Prod<P, U2>>, F>, S>>` with `F` the dilated kernel's span. Otherwise
/// it does not compile, and the error names the rule: `kernel height _7 is larger than the
/// padded input height _5 (H + 2P) in Conv` (`dilated kernel height _9 (D·(HF − 1) + 1) is
/// larger than …` when `D > 1`), `stride must be non-zero in Conv: found S = _0`, or `dilation
/// must be non-zero in Conv: found D = _0`. The subtraction and division run only once the
/// checks pass, so typenum's own errors never show. `A` is the axis the errors name:
/// [`Height`] (the default) or [`Width`]. For an input of [`Dyn`] size the output is `Dyn`,
/// computed and checked at run time.
///
/// ```
/// use shaped::{ConvOut, Height, Width, U1, U2, U3, U4, U5, U7, U8, U16, U32};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(ConvOut<U32, U3, U2, U1>, U16); // ⌊(32 + 2 − 3) / 2⌋ + 1
/// assert_type_eq_all!(ConvOut<U5, U5, U1, U0>, U1);
/// assert_type_eq_all!(ConvOut<U32, U5, U1, U2, Width>, U32);
/// assert_type_eq_all!(ConvOut<shaped::Dyn, U5, U1, U2>, shaped::Dyn);
/// // Dilation 2: a 3-tap kernel spans 5 rows, ⌊(16 + 2 − 5) / 2⌋ + 1 = 7
/// assert_type_eq_all!(ConvOut<U16, U3, U2, U1, Height, U2>, U7);
/// // Dilation 4 and padding 4 keep the size: ⌊(8 + 8 − 9) / 1⌋ + 1 = 8
/// assert_type_eq_all!(ConvOut<U8, U3, U1, U4, Width, U4>, U8);
/// # use shaped::U0;
/// ```
pub type ConvOut<X, F, S, P, A = Height, D = typenum::U1> = <X as ConvOutput<F, S, P, A, D>>::Out;

/// The padded size `X + 2P`.
///
/// ```
/// use shaped::{Padded, U1, U2, U28, U30, U32};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(Padded<U28, U1>, U30);
/// assert_type_eq_all!(Padded<U28, U2>, U32);
/// ```
pub type Padded<X, P> = Sum<X, Prod<P, U2>>;

/// The height axis of a convolution (errors say "height").
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, ConvOut, Height, U1, U3, U8};
/// use static_assertions::assert_type_eq_all;
/// // The default axis:
/// assert_type_eq_all!(ConvOut<U8, U3, U1, U1, Height>, ConvOut<U8, U3, U1, U1>, U8);
/// let message = <<Height as ConvAxis>::KernelRule as Rule>::MESSAGE;
/// assert!(message.starts_with("kernel height {Found} is larger than the padded input height"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Height;
/// The width axis of a convolution (errors say "width").
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, ConvOut, Width, U1, U2, U3, U4, U8};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(ConvOut<U8, U3, U2, U1, Width>, U4); // ⌊(8 + 2 − 3) / 2⌋ + 1
/// let message = <<Width as ConvAxis>::KernelRule as Rule>::MESSAGE;
/// assert!(message.starts_with("kernel width {Found} is larger than the padded input width"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Width;

/// The height axis of a pooling window (errors say "pool window height").
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, PoolHeight, PoolOut, U2, U3, U6};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(PoolOut<U6, U2, U2, PoolHeight>, U3);
/// let message = <<PoolHeight as ConvAxis>::KernelRule as Rule>::MESSAGE;
/// assert_eq!(message, "pool window height {Found} is larger than the input height {Expected}");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolHeight;
/// The width axis of a pooling window (errors say "pool window width").
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, PoolOut, PoolWidth, U2, U3, U7};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(PoolOut<U7, U2, U2, PoolWidth>, U3); // the last column is left out
/// let message = <<PoolWidth as ConvAxis>::KernelRule as Rule>::MESSAGE;
/// assert_eq!(message, "pool window width {Found} is larger than the input width {Expected}");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolWidth;

/// An axis of a sliding window (convolution or pooling), and the rules that name it.
///
/// The `A` of [`ConvOut`] and the pools' output sizes; its rules are the errors a window that
/// does not fit, or a zero stride, reports:
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, Height, PoolWidth, Width};
///
/// fn kernel_rule<A: ConvAxis>() -> &'static str {
///     <A::KernelRule as Rule>::MESSAGE
/// }
/// assert!(kernel_rule::<Height>().starts_with("kernel height"));
/// assert!(kernel_rule::<Width>().starts_with("kernel width"));
/// assert!(kernel_rule::<PoolWidth>().starts_with("pool window width"));
/// let stride = <<Width as ConvAxis>::StrideRule as Rule>::MESSAGE;
/// assert_eq!(stride, "stride must be non-zero in Conv: found S = {Found}");
/// ```
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
///
/// ```
/// use shaped::{PoolOut, PoolWidth, U2, U3, U7, U8, U14, U28};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(PoolOut<U28, U2, U2>, U14); // LeNet's 2 × 2 pool
/// assert_type_eq_all!(PoolOut<U8, U3, U2, PoolWidth>, U3); // ⌊(8 − 3) / 2⌋ + 1
/// assert_type_eq_all!(PoolOut<U7, U2, U2>, U3); // the last row is left out
/// ```
pub type PoolOut<X, K, S, A = PoolHeight> = ConvOut<X, K, S, typenum::U0, A>;

/// The height axis of a padded pooling window (errors say "padded input height").
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, PaddedPoolHeight};
/// let message = <<PaddedPoolHeight as ConvAxis>::KernelRule as Rule>::MESSAGE;
/// assert_eq!(
///     message,
///     "pool window height {Found} is larger than the padded input height {Expected} (H + 2P)"
/// );
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PaddedPoolHeight;
/// The width axis of a padded pooling window (errors say "padded input width").
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, PaddedPoolOut, PaddedPoolWidth, U1, U2, U3, U4, U8};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(PaddedPoolOut<U8, U3, U2, U1, PaddedPoolWidth>, U4);
/// let message = <<PaddedPoolWidth as ConvAxis>::KernelRule as Rule>::MESSAGE;
/// assert!(message.ends_with("is larger than the padded input width {Expected} (W + 2P)"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PaddedPoolWidth;
impl ConvAxis for PaddedPoolHeight {
    type KernelRule = PaddedPoolWindowHeight;
    type StrideRule = PoolStride;
}
impl ConvAxis for PaddedPoolWidth {
    type KernelRule = PaddedPoolWindowWidth;
    type StrideRule = PoolStride;
}

/// The output size of a pooling window `K` with stride `S` and padding `P` along one axis:
/// `⌊(X + 2P − K) / S⌋ + 1`, that is [`ConvOut`]`<X, K, S, P, A>`, with errors that speak of the
/// pool window and the padded input. `A` is [`PaddedPoolHeight`] (the default) or
/// [`PaddedPoolWidth`].
///
/// ```
/// use shaped::{PaddedPoolOut, U1, U2, U3, U16, U32};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(PaddedPoolOut<U32, U3, U2, U1>, U16); // ResNet's stem pool
/// ```
pub type PaddedPoolOut<X, K, S, P, A = PaddedPoolHeight> = ConvOut<X, K, S, P, A>;

/// An axis of a dilated convolution kernel (`D > 1`): its errors say "dilated kernel".
///
/// ```
/// use shaped::{rules::Rule, ConvAxis, ConvOut, Dilated, Height, Width, U1, U2, U3, U6, U8};
/// use static_assertions::assert_type_eq_all;
/// // Dilation 2 gives a 3-tap kernel a span of 5: ⌊(8 + 2 − 5) / 1⌋ + 1 = 6.
/// assert_type_eq_all!(ConvOut<U8, U3, U1, U1, Height, U2>, U6);
/// let message = <<Dilated<Width> as ConvAxis>::KernelRule as Rule>::MESSAGE;
/// assert!(message.starts_with("dilated kernel width {Found} (D·(WF − 1) + 1) is larger"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Dilated<A>(PhantomData<A>);
impl ConvAxis for Dilated<Height> {
    type KernelRule = ConvDilatedKernelHeight;
    type StrideRule = ConvStride;
}
impl ConvAxis for Dilated<Width> {
    type KernelRule = ConvDilatedKernelWidth;
    type StrideRule = ConvStride;
}

/// A kernel `F` dilated by `Self`: the span `D·(F − 1) + 1` it covers, and the axis whose
/// rules name its errors.
///
/// Dilation 1 is the dense kernel: its span is `F` itself and its axis `A`, so a convolution
/// without dilation goes through exactly the rules (and error messages) it always had.
/// Dilation 0 is [`ConvDilationNonZero`]'s error.
#[doc(hidden)]
pub trait Dilation<F, A> {
    /// The span `D·(F − 1) + 1` (`F` when `D = 1`, 0 for an empty kernel).
    type Span;
    /// `A` when `D = 1`, [`Dilated<A>`] otherwise.
    type Axis;
}
impl<D, F, A> Dilation<F, A> for D
where
    D: IsGreater<U0> + IsEqual<typenum::U1>,
    (Gr<D, U0>, typenum::Eq<D, typenum::U1>): DilationBranch<D, F, A>,
{
    type Span = <(Gr<D, U0>, typenum::Eq<D, typenum::U1>) as DilationBranch<D, F, A>>::Span;
    type Axis = <(Gr<D, U0>, typenum::Eq<D, typenum::U1>) as DilationBranch<D, F, A>>::Axis;
}

/// Branch on (`D > 0`, `D = 1`).
#[doc(hidden)]
pub trait DilationBranch<D, F, A> {
    /// The span.
    type Span;
    /// The axis that names the errors.
    type Axis;
}
impl<D, F, A> DilationBranch<D, F, A> for (B1, B1) {
    type Span = F;
    type Axis = A;
}
impl<D, F, A> DilationBranch<D, F, A> for (B1, B0)
where
    F: DilatedSpan<D>,
{
    type Span = F::Out;
    type Axis = Dilated<A>;
}
impl<D, F, A, AnyOne> DilationBranch<D, F, A> for (B0, AnyOne)
where
    B0: Verdict<ConvDilationNonZero, D, D>,
{
    type Span = F;
    type Axis = A;
}

/// The span `D·(Self − 1) + 1` of a kernel of `Self` taps dilated by `D` (0 for no taps).
#[doc(hidden)]
pub trait DilatedSpan<D> {
    /// The span.
    type Out;
}
impl<D> DilatedSpan<D> for UTerm {
    type Out = UTerm;
}
impl<U, B, D> DilatedSpan<D> for UInt<U, B>
where
    UInt<U, B>: Sub<B1>,
    Sub1<UInt<U, B>>: Mul<D>,
    Prod<Sub1<UInt<U, B>>, D>: Add<B1>,
{
    type Out = Add1<Prod<Sub1<UInt<U, B>>, D>>;
}

/// The input channels each filter of a grouped convolution sees: `C / G`, for `C` channels in
/// `G` groups (the second dim of `Conv2d`'s weight `(K, C/G, HF, WF)`, as in PyTorch).
///
/// It exists when `G` divides both `C` and `K` (the filters); otherwise the error names the
/// rule: `groups must divide the channels in Conv: _3 groups do not divide _8 input channels
/// (C)`, `groups must divide the filters in Conv: …`, or `groups must be non-zero in Conv: …`.
///
/// ```
/// use shaped::{PerGroup, U1, U2, U4, U8, U32};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(PerGroup<U8, U4, U2>, U4); // 8 channels, 4 filters, 2 groups
/// assert_type_eq_all!(PerGroup<U32, U32, U32>, U1); // depthwise
/// ```
pub type PerGroup<C, K, G> = <C as ConvGroups<K, G>>::PerGroup;

/// Computes [`PerGroup`]: implemented for every typenum `C`, checked on use.
///
/// Code generic over a grouped convolution's sizes states it as a bound, as [`Conv2d`]
/// does, to name the weight's shape:
///
/// ```
/// use shaped::{ConstDim, ConvGroups, PerGroup, Tensor, U1, U3, U6};
///
/// /// The weight of a grouped 1 × 1 convolution, `(K, C/G, 1, 1)`.
/// fn pointwise_weight<C, K, G>() -> Tensor<(K, PerGroup<C, K, G>, U1, U1)>
/// where
///     C: ConvGroups<K, G>,
///     K: ConstDim,
/// {
///     Tensor::zeros()
/// }
/// assert_eq!(pointwise_weight::<U6, U6, U3>().dims(), [6, 2, 1, 1]);
/// ```
///
/// [`Conv2d`]: crate::Conv2d
pub trait ConvGroups<K, G> {
    /// `C / G`, or a placeholder beside the rule's error.
    type PerGroup: ConstDim;
}
impl<C, K, G> ConvGroups<K, G> for C
where
    C: Unsigned,
    G: IsGreater<U0>,
    Gr<G, U0>: GroupsBranch<C, K, G>,
{
    type PerGroup = <Gr<G, U0> as GroupsBranch<C, K, G>>::Out;
}

/// Branch on `G > 0`.
#[doc(hidden)]
pub trait GroupsBranch<C, K, G> {
    /// `C / G`, or a placeholder beside the rule's error.
    type Out: ConstDim;
}
impl<C, K, G> GroupsBranch<C, K, G> for B0
where
    B0: Verdict<ConvGroupsNonZero, G, G>,
{
    type Out = typenum::U1;
}
// The remainders are taken only once `G > 0` is known: typenum has no division by 0.
impl<C, K, G> GroupsBranch<C, K, G> for B1
where
    C: Rem<G>,
    K: Rem<G>,
    Mod<C, G>: IsEqual<U0>,
    Mod<K, G>: IsEqual<U0>,
    (typenum::Eq<Mod<C, G>, U0>, typenum::Eq<Mod<K, G>, U0>): DivideBranch<C, K, G>,
{
    type Out =
        <(typenum::Eq<Mod<C, G>, U0>, typenum::Eq<Mod<K, G>, U0>) as DivideBranch<C, K, G>>::Out;
}

/// Branch on (`G` divides `C`, `G` divides `K`).
#[doc(hidden)]
pub trait DivideBranch<C, K, G> {
    /// `C / G`, or a placeholder beside the rule's error.
    type Out: ConstDim;
}
impl<C, K, G> DivideBranch<C, K, G> for (B1, B1)
where
    C: Div<G>,
    Quot<C, G>: ConstDim,
{
    type Out = Quot<C, G>;
}
impl<C, K, G, AnyK> DivideBranch<C, K, G> for (B0, AnyK)
where
    B0: Verdict<ConvGroupsChannels, C, G>,
{
    type Out = typenum::U1;
}
impl<C, K, G> DivideBranch<C, K, G> for (B1, B0)
where
    B0: Verdict<ConvGroupsFilters, K, G>,
{
    type Out = typenum::U1;
}

/// The flattened size `C·H·W` of one `(C, H, W)` sample ([`Dyn`] if one of them is).
///
/// ```
/// use shaped::{Dyn, Flat, U4, U16, U256};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(Flat<U16, U4, U4>, U256);
/// assert_type_eq_all!(Flat<U16, Dyn, U4>, Dyn);
/// ```
pub type Flat<C, H, W> = <<C as DimMul<H>>::Out as DimMul<W>>::Out;

/// Computes [`ConvOut`]; implemented for every input size, checked on use.
///
/// Code generic over an input size states it as a bound (as the convolutions' `forward`
/// does) and gets the output size, a type for a static input and a value for a [`Dyn`] one:
///
/// ```
/// use shaped::{ConvOutput, Dyn, Height, U1, U2, U3, U16, U32};
///
/// /// The output height of a 3 × 3 convolution with stride 2 and padding 1.
/// fn out_height<H: ConvOutput<U3, U2, U1, Height>>(h: H) -> H::Out {
///     h.conv_out()
/// }
/// let ho: U16 = out_height(U32::default());
/// assert_eq!(ho, U16::default());
/// assert_eq!(out_height(Dyn(32)), Dyn(16));
/// assert_eq!(out_height(Dyn(7)), Dyn(4)); // ⌊(7 + 2 − 3) / 2⌋ + 1
/// ```
pub trait ConvOutput<F, S, P, A, D = typenum::U1> {
    /// The output size.
    type Out: Dim;
    /// The output size's value.
    ///
    /// # Panics
    ///
    /// For a [`Dyn`] input, if the (dilated) kernel does not fit the padded input or the
    /// stride is 0, with the rule's message (a static input is checked by the compiler
    /// instead).
    fn conv_out(self) -> Self::Out;
}
/// The span of kernel `F` dilated by `D`, and the axis that names its errors.
type Span<F, D, A> = <D as Dilation<F, A>>::Span;
type SpanAxis<F, D, A> = <D as Dilation<F, A>>::Axis;

// With `D = 1` the span is `F` and the axis `A`: the branch below is the one every dense
// convolution and pool always went through, with the same types and so the same errors.
impl<X, F, S, P, A, D> ConvOutput<F, S, P, A, D> for X
where
    X: Unsigned,
    P: Mul<U2>,
    X: Add<Prod<P, U2>>,
    D: Dilation<F, A>,
    Span<F, D, A>: IsLessOrEqual<Padded<X, P>>,
    S: IsGreater<U0>,
    (LeEq<Span<F, D, A>, Padded<X, P>>, Gr<S, U0>):
        ConvOutBranch<Padded<X, P>, Span<F, D, A>, S, SpanAxis<F, D, A>>,
{
    type Out = <(LeEq<Span<F, D, A>, Padded<X, P>>, Gr<S, U0>) as ConvOutBranch<
        Padded<X, P>,
        Span<F, D, A>,
        S,
        SpanAxis<F, D, A>,
    >>::Out;
    fn conv_out(self) -> Self::Out {
        Default::default()
    }
}
impl<F, S, P, A, D> ConvOutput<F, S, P, A, D> for Dyn
where
    F: ConstDim,
    S: ConstDim,
    P: ConstDim,
    D: ConstDim + Dilation<F, A>,
    // The rules that name the errors: the dense ones for `D = 1`, the dilated ones otherwise.
    SpanAxis<F, D, A>: ConvAxis,
{
    type Out = Dyn;
    fn conv_out(self) -> Dyn {
        let padded = self.0 + 2 * P::SIZE;
        let span = match F::SIZE {
            0 => 0,
            f => D::SIZE * (f - 1) + 1,
        };
        if span > padded {
            mismatch::<<SpanAxis<F, D, A> as ConvAxis>::KernelRule>(padded, span);
        }
        if S::SIZE == 0 {
            mismatch::<<SpanAxis<F, D, A> as ConvAxis>::StrideRule>(0, 0);
        }
        Dyn((padded - span) / S::SIZE + 1)
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
