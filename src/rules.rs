//! Shape rules, checked by the compiler, with errors that print dims in decimal.
//!
//! Every rule a user can break has a name (a marker type such as [`AffineInput`]) and a message.
//! A rule is checked as a type-level bool (`IsEqual`, `IsLessOrEqual`): when it holds (`B1`)
//! the check costs nothing; when it fails (`B0`) the two numbers are spelled as decimal display
//! types (`_784`, or `_1<_024>` for 1024: groups of three digits) and a never-implemented trait
//! carrying the rule's message is required, so the first line of the error reads, for example,
//!
//! ```text
//! error[E0277]: shape mismatch in Affine input: expected _784 features, found _100
//! ```
//!
//! typenum's own numbers print as nested `UInt<UInt<…, B1>, B0>` in any error; this module
//! exists so users never have to read them.

use core::ops::BitAnd;
use typenum::{And, Bit, Eq, IsEqual, UInt, UTerm, Unsigned, B0, B1};

use crate::dims::Dyn;
use crate::tensor::fmt_dims;

/// Decimal display types for shape errors. Internal: the names appear in error messages only.
pub mod decimal {
    use core::marker::PhantomData;
    use typenum::consts::*;
    use typenum::{Bit, IsLess, Le, Mod, Quot};

    /// The display type of one digit.
    pub trait Digit {
        /// `_0` .. `_9`.
        type Out;
    }
    /// Spelling one more digit onto a display type: `_78` + 4 = `_784`.
    pub trait Append<D> {
        /// The longer display type.
        type Out;
    }
    /// Attaching the lower three-digit groups: `_1` with `_024` = `_1<_024>`.
    pub trait WithRest<R> {
        /// The display type with its lower groups.
        type Out;
    }

    include!(concat!(env!("OUT_DIR"), "/decimal.rs"));

    /// The display type of `Self` followed by lower groups `Rest`.
    pub trait Spell<Rest> {
        /// The display type.
        type Out;
    }
    /// The display type of a number, e.g. `_784` for `U784`.
    pub type Decimal<N> = <N as Spell<()>>::Out;

    impl<N, Rest> Spell<Rest> for N
    where
        N: IsLess<U1000>,
        Le<N, U1000>: SpellGroups<N, Rest>,
    {
        type Out = <Le<N, U1000> as SpellGroups<N, Rest>>::Out;
    }

    /// Branch on `N < 1000`.
    pub trait SpellGroups<N, Rest> {
        /// The display type.
        type Out;
    }
    impl<N: Unpadded, Rest> SpellGroups<N, Rest> for B1
    where
        N::Out: WithRest<Rest>,
    {
        type Out = <N::Out as WithRest<Rest>>::Out;
    }
    impl<N, Rest> SpellGroups<N, Rest> for B0
    where
        N: core::ops::Div<U1000> + core::ops::Rem<U1000>,
        Mod<N, U1000>: Padded,
        <Mod<N, U1000> as Padded>::Out: WithRest<Rest>,
        Quot<N, U1000>: Spell<<<Mod<N, U1000> as Padded>::Out as WithRest<Rest>>::Out>,
    {
        type Out =
            <Quot<N, U1000> as Spell<<<Mod<N, U1000> as Padded>::Out as WithRest<Rest>>::Out>>::Out;
    }

    /// Three digits, zero-padded: `U24` -> `_024`.
    pub trait Padded {
        /// The display type.
        type Out;
    }
    impl<N> Padded for N
    where
        N: core::ops::Div<U100> + core::ops::Div<U10> + core::ops::Rem<U10>,
        Quot<N, U10>: core::ops::Rem<U10>,
        Quot<N, U100>: Digit,
        <Quot<N, U100> as Digit>::Out: Append<Mod<Quot<N, U10>, U10>>,
        <<Quot<N, U100> as Digit>::Out as Append<Mod<Quot<N, U10>, U10>>>::Out: Append<Mod<N, U10>>,
    {
        type Out =
            <<<Quot<N, U100> as Digit>::Out as Append<Mod<Quot<N, U10>, U10>>>::Out as Append<
                Mod<N, U10>,
            >>::Out;
    }

    /// Up to three digits without leading zeros: `U24` -> `_24`.
    pub trait Unpadded {
        /// The display type.
        type Out;
    }
    impl<N> Unpadded for N
    where
        N: IsLess<U10> + IsLess<U100>,
        (Le<N, U10>, Le<N, U100>): UnpaddedBranch<N>,
    {
        type Out = <(Le<N, U10>, Le<N, U100>) as UnpaddedBranch<N>>::Out;
    }
    /// Branch on the number of digits.
    pub trait UnpaddedBranch<N> {
        /// The display type.
        type Out;
    }
    impl<N: Digit, Any: Bit> UnpaddedBranch<N> for (B1, Any) {
        type Out = N::Out;
    }
    impl<N> UnpaddedBranch<N> for (B0, B1)
    where
        N: core::ops::Div<U10> + core::ops::Rem<U10>,
        Quot<N, U10>: Digit,
        <Quot<N, U10> as Digit>::Out: Append<Mod<N, U10>>,
    {
        type Out = <<Quot<N, U10> as Digit>::Out as Append<Mod<N, U10>>>::Out;
    }
    impl<N: Padded> UnpaddedBranch<N> for (B0, B0) {
        type Out = N::Out;
    }
}

/// How a number or a shape is shown in a shape error: `_784`, or `(_4, _3)` for a shape.
#[doc(hidden)]
pub trait Show {
    /// The display type.
    type Out;
}
impl Show for UTerm {
    type Out = decimal::_0;
}
impl<U, B> Show for UInt<U, B>
where
    UInt<U, B>: decimal::Spell<()>,
{
    type Out = decimal::Decimal<UInt<U, B>>;
}
impl Show for Dyn {
    type Out = Dyn;
}
macro_rules! show_tuple {
    ($($d:ident),+) => {
        impl<$($d: Show),+> Show for ($($d,)+) {
            type Out = ($($d::Out,)+);
        }
    };
}
show_tuple!(A);
show_tuple!(A, B);
show_tuple!(A, B, C);
show_tuple!(A, B, C, D);
show_tuple!(A, B, C, D, F);
show_tuple!(A, B, C, D, F, G);

/// The verdict of one rule on two values: `B1` (the rule holds) always satisfies it; `B0`
/// satisfies it only if the rule's never-implemented message trait does, which is the error
/// the user reads.
#[doc(hidden)]
pub trait Verdict<Rule, Expected, Found> {}
impl<Rule, Expected, Found> Verdict<Rule, Expected, Found> for B1 {}

/// Declares a named shape rule: a marker type, and the message its violation prints.
macro_rules! shape_rule {
    ($(#[$doc:meta])* $rule:ident, $fails:ident, $msg:literal, $label:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $rule;

        #[doc(hidden)]
        #[diagnostic::on_unimplemented(message = $msg, label = $label)]
        pub trait $fails<Expected, Found> {}

        impl<Expected: Show, Found: Show> Verdict<$rule, Expected, Found> for B0 where
            $rule: $fails<Expected::Out, Found::Out>
        {
        }

        impl Rule for $rule {
            const MESSAGE: &'static str = $msg;
        }
    };
}

/// A named shape rule and its message, with `{Expected}` and `{Found}` where the two sizes go.
///
/// The compiler prints the message when two static sizes disagree; when a [`Dyn`] size is
/// involved the same rule is checked at run time, and a violation panics with the same words
/// (sizes in plain decimal): `shape mismatch in Affine grad_output: expected (32, 2) (N, DO),
/// found (16, 2)`.
pub trait Rule {
    /// The message.
    const MESSAGE: &'static str;
}

/// The message of rule `R` with both sizes filled in.
pub fn message<R: Rule>(
    expected: impl core::fmt::Display,
    found: impl core::fmt::Display,
) -> String {
    R::MESSAGE
        .replace("{Expected}", &expected.to_string())
        .replace("{Found}", &found.to_string())
}

/// Panics with the message of rule `R`.
#[track_caller]
pub(crate) fn mismatch<R: Rule>(
    expected: impl core::fmt::Display,
    found: impl core::fmt::Display,
) -> ! {
    panic!("{}", message::<R>(expected, found))
}

/// Checks at run time that a dim is `expected` (free for two static dims: both are constants).
#[track_caller]
pub(crate) fn check_dim<R: Rule>(expected: usize, found: usize) {
    if expected != found {
        mismatch::<R>(expected, found);
    }
}

/// Checks at run time that a shape's dims are `expected`.
#[track_caller]
pub(crate) fn check_dims<R: Rule>(expected: &[usize], found: &[usize]) {
    if expected != found {
        mismatch::<R>(fmt_dims(expected), fmt_dims(found));
    }
}

/// Compile-time comparison of two dims: `Same` is `B0` only when both are static and differ.
///
/// Two typenum numbers compare by value; a [`Dyn`] on either side compares `B1` here (the
/// compiler cannot tell) and the rule is checked again at run time.
#[doc(hidden)]
pub trait DimCmp<Other> {
    /// `B1` if the dims are equal or one of them is `Dyn`, `B0` otherwise.
    type Same: Bit;
}
impl<A, B> DimCmp<B> for A
where
    A: Unsigned + IsEqual<B>,
    B: Unsigned,
    Eq<A, B>: Bit,
{
    type Same = Eq<A, B>;
}
impl<B> DimCmp<B> for Dyn {
    type Same = B1;
}
impl<A: Unsigned> DimCmp<Dyn> for A {
    type Same = B1;
}

/// The dim `Self` (found) equals `Expected`; otherwise `Rule`'s error, in decimal. With a
/// [`Dyn`] on either side it holds here, and the layer checks the sizes at run time.
pub trait DimEq<Expected, Rule> {}
impl<Found, Expected, Rule> DimEq<Expected, Rule> for Found
where
    Found: DimCmp<Expected>,
    <Found as DimCmp<Expected>>::Same: Verdict<Rule, Expected, Found>,
{
}

/// Type-level comparison of two shapes of the same rank: `Same` is `B1` when every dim agrees.
///
/// Every [`Shape`](crate::Shape) compares equal to itself (a supertrait), which is what lets a
/// function generic over the batch `N` pass a rule that compares a shape with itself.
#[diagnostic::on_unimplemented(
    message = "rank mismatch: a tensor of another rank than expected",
    label = "this tensor has another number of dims than the rule expects"
)]
pub trait ShapeCmp<Other> {
    /// `B1` if the shapes are equal, `B0` otherwise.
    type Same: Bit;
}
impl<A: DimCmp<B>, B> ShapeCmp<(B,)> for (A,) {
    type Same = A::Same;
}
macro_rules! shape_cmp {
    ($a0:ident $b0:ident, $($a:ident $b:ident),+) => {
        impl<$a0, $b0, $($a, $b),+> ShapeCmp<($b0, $($b,)+)> for ($a0, $($a,)+)
        where
            $a0: DimCmp<$b0>,
            ($($a,)+): ShapeCmp<($($b,)+)>,
            <$a0 as DimCmp<$b0>>::Same: BitAnd<<($($a,)+) as ShapeCmp<($($b,)+)>>::Same>,
            And<<$a0 as DimCmp<$b0>>::Same, <($($a,)+) as ShapeCmp<($($b,)+)>>::Same>: Bit,
        {
            type Same = And<<$a0 as DimCmp<$b0>>::Same, <($($a,)+) as ShapeCmp<($($b,)+)>>::Same>;
        }
    };
}
shape_cmp!(A0 B0_, A1 B1_);
shape_cmp!(A0 B0_, A1 B1_, A2 B2_);
shape_cmp!(A0 B0_, A1 B1_, A2 B2_, A3 B3_);
shape_cmp!(A0 B0_, A1 B1_, A2 B2_, A3 B3_, A4 B4_);
shape_cmp!(A0 B0_, A1 B1_, A2 B2_, A3 B3_, A4 B4_, A5 B5_);

/// The shape `Self` (found) equals `Expected`; otherwise `Rule`'s error, both shapes in decimal.
#[diagnostic::on_unimplemented(
    message = "rank mismatch in {Rule}: the tensor has another number of dims than expected",
    label = "this tensor's rank differs from the expected shape's"
)]
pub trait ShapeEq<Expected, Rule> {}
impl<Found, Expected, Rule> ShapeEq<Expected, Rule> for Found
where
    Found: ShapeCmp<Expected>,
    <Found as ShapeCmp<Expected>>::Same: Verdict<Rule, Expected, Found>,
{
}

shape_rule!(
    /// The input features of `x` in `Affine::forward`/`backward` must be the layer's `DI`.
    AffineInput,
    AffineInputMismatch,
    "shape mismatch in Affine input: expected {Expected} features (DI), found {Found}",
    "the input's last dim must be the layer's DI"
);
shape_rule!(
    /// An `Affine` layer in a model takes a batch of vectors `(N, DI)`; a tensor of another rank
    /// (an image batch `(N, C, H, W)` straight from a convolution) needs `Flatten` first.
    AffineRank,
    AffineRankMismatch,
    "Affine takes a batch of vectors (N, DI) with DI = {Expected}, found a tensor of shape {Found}: add Flatten before it",
    "a tensor of another rank than (N, DI) reaches this Affine layer"
);
shape_rule!(
    /// `grad_output` of `Affine::backward` must have the forward output's shape `(N, DO)`.
    AffineGradOutput,
    AffineGradOutputMismatch,
    "shape mismatch in Affine grad_output: expected {Expected} (N, DO), found {Found}",
    "grad_output must have the shape of the forward output (N, DO)"
);
shape_rule!(
    /// The gradient given to a pooling layer's backward pass has its output's shape.
    PoolGradOutput,
    PoolGradOutputMismatch,
    "shape mismatch in pool grad_output: expected {Expected} (N, C, HO, WO), found {Found}",
    "grad_output must have the shape of the pooled output"
);
shape_rule!(
    /// The gradient given to `Dropout`'s or `Flatten`'s backward pass has its output's shape.
    GradOutput,
    GradOutputMismatch,
    "shape mismatch in grad_output: expected {Expected} (the layer's output shape), found {Found}",
    "grad_output must have the shape of the layer's output"
);
shape_rule!(
    /// `grad_output` of `ReLU::backward` must have the input's shape.
    ReluGradOutput,
    ReluGradOutputMismatch,
    "shape mismatch in ReLU grad_output: expected {Expected} (the input's shape), found {Found}",
    "grad_output must have the shape of the input"
);
shape_rule!(
    /// `Tensor::reshape` keeps the number of elements.
    ReshapeCount,
    ReshapeCountMismatch,
    "reshape changes the element count: the tensor has {Expected} elements, the new shape {Found}",
    "the new shape must hold the same number of elements"
);
shape_rule!(
    /// The input channels of `x` in `Conv::forward`/`backward` must be the layer's `C`.
    ConvChannels,
    ConvChannelsMismatch,
    "shape mismatch in Conv input channels: expected {Expected} channels (C), found {Found}",
    "the input's channel dim (axis 1 of N, C, H, W) must be the layer's C"
);
shape_rule!(
    /// A convolution kernel's height must fit the padded input height `H + 2P`.
    ConvKernelHeight,
    ConvKernelHeightTooLarge,
    "kernel height {Found} is larger than the padded input height {Expected} (H + 2P) in Conv",
    "the kernel does not fit the padded input"
);
shape_rule!(
    /// A convolution kernel's width must fit the padded input width `W + 2P`.
    ConvKernelWidth,
    ConvKernelWidthTooLarge,
    "kernel width {Found} is larger than the padded input width {Expected} (W + 2P) in Conv",
    "the kernel does not fit the padded input"
);
shape_rule!(
    /// A convolution's stride must be at least 1.
    ConvStride,
    ConvStrideZero,
    "stride must be non-zero in Conv: found S = {Found}",
    "a convolution with stride 0 has no output size"
);
shape_rule!(
    /// `grad_output` of `Conv::backward` must have the forward output's shape `(N, K, HO, WO)`.
    ConvGradOutput,
    ConvGradOutputMismatch,
    "shape mismatch in Conv grad_output: expected {Expected} (N, K, HO, WO), found {Found}",
    "grad_output must have the shape of the forward output (N, K, HO, WO)"
);
shape_rule!(
    /// A pooling window's height must fit the input height.
    PoolWindowHeight,
    PoolWindowHeightTooLarge,
    "pool window height {Found} is larger than the input height {Expected}",
    "the pool window does not fit the input"
);
shape_rule!(
    /// A pooling window's width must fit the input width.
    PoolWindowWidth,
    PoolWindowWidthTooLarge,
    "pool window width {Found} is larger than the input width {Expected}",
    "the pool window does not fit the input"
);
shape_rule!(
    /// A pooling stride must be at least 1.
    PoolStride,
    PoolStrideZero,
    "stride must be non-zero in a pool: found S = {Found}",
    "a pool with stride 0 has no output size"
);
shape_rule!(
    /// The target of `mse` must have the prediction's shape.
    MseTarget,
    MseTargetMismatch,
    "shape mismatch in mse target: expected {Expected} (the prediction's shape), found {Found}",
    "the target must have the prediction's shape"
);
shape_rule!(
    /// An `Affine` layer has at least one input feature and one output.
    AffineNonZero,
    AffineZeroSized,
    "zero-sized Affine layer: DI and DO must be at least 1, found {Found}",
    "a layer with no inputs or no outputs computes nothing"
);
shape_rule!(
    /// A `Conv` layer has at least one channel, one filter and a kernel of at least 1 × 1.
    ConvNonZero,
    ConvZeroSized,
    "zero-sized Conv layer: C, K, HF and WF must be at least 1, found {Found}",
    "a convolution with no channels, no filters or an empty kernel computes nothing"
);
shape_rule!(
    /// A pooling window is at least 1 × 1.
    PoolNonZero,
    PoolZeroSized,
    "zero-sized pool window: K must be at least 1, found {Found}",
    "an empty window has no maximum and no mean"
);

shape_rule!(
    /// The groups of a grouped convolution (`Conv2d`'s `G`) divide its input channels `C`.
    ConvGroupsChannels,
    ConvGroupsChannelsIndivisible,
    "groups must divide the channels in Conv: {Found} groups do not divide {Expected} input channels (C)",
    "each group convolves C / G of the input channels: G must divide C"
);
shape_rule!(
    /// The groups of a grouped convolution (`Conv2d`'s `G`) divide its filters `K`.
    ConvGroupsFilters,
    ConvGroupsFiltersIndivisible,
    "groups must divide the filters in Conv: {Found} groups do not divide {Expected} filters (K)",
    "each group has K / G of the filters: G must divide K"
);
shape_rule!(
    /// A convolution has at least one group.
    ConvGroupsNonZero,
    ConvGroupsZero,
    "groups must be non-zero in Conv: found G = {Found}",
    "a convolution of 0 groups has no filters"
);
shape_rule!(
    /// A convolution's dilation is at least 1 (1 is the dense kernel).
    ConvDilationNonZero,
    ConvDilationZero,
    "dilation must be non-zero in Conv: found D = {Found}",
    "dilation 1 is the dense kernel; 0 has no meaning"
);
shape_rule!(
    /// A dilated kernel's height `D·(HF − 1) + 1` must fit the padded input height `H + 2P`.
    ConvDilatedKernelHeight,
    ConvDilatedKernelHeightTooLarge,
    "dilated kernel height {Found} (D·(HF − 1) + 1) is larger than the padded input height {Expected} (H + 2P) in Conv",
    "the dilated kernel does not fit the padded input"
);
shape_rule!(
    /// A dilated kernel's width `D·(WF − 1) + 1` must fit the padded input width `W + 2P`.
    ConvDilatedKernelWidth,
    ConvDilatedKernelWidthTooLarge,
    "dilated kernel width {Found} (D·(WF − 1) + 1) is larger than the padded input width {Expected} (W + 2P) in Conv",
    "the dilated kernel does not fit the padded input"
);
shape_rule!(
    /// A padded pooling window's height must fit the padded input height `H + 2P`.
    PaddedPoolWindowHeight,
    PaddedPoolWindowHeightTooLarge,
    "pool window height {Found} is larger than the padded input height {Expected} (H + 2P)",
    "the pool window does not fit the padded input"
);
shape_rule!(
    /// A padded pooling window's width must fit the padded input width `W + 2P`.
    PaddedPoolWindowWidth,
    PaddedPoolWindowWidthTooLarge,
    "pool window width {Found} is larger than the padded input width {Expected} (W + 2P)",
    "the pool window does not fit the padded input"
);
shape_rule!(
    /// A pool's padding is at most half its window on each axis (PyTorch's rule: every window
    /// then holds at least one input element).
    PoolPadding,
    PoolPaddingTooLarge,
    "pool padding {Found} is more than half the pool window {Expected}: P must be at most K / 2, as in PyTorch",
    "a window could lie wholly in the padding"
);
shape_rule!(
    /// The channels of the input of `BatchNorm1d`/`BatchNorm2d` must be the layer's `C`
    /// (axis 1: `C` of `(N, C)`, `(N, C, L)` or `(N, C, H, W)`).
    BatchNormChannels,
    BatchNormChannelsMismatch,
    "shape mismatch in BatchNorm channels: expected {Expected} channels (C), found {Found}",
    "the input's channel dim (axis 1) must be the layer's C"
);
shape_rule!(
    /// A `BatchNorm1d` takes a batch of vectors `(N, C)` (or PyTorch's `(N, C, L)`).
    BatchNorm1dRank,
    BatchNorm1dRankMismatch,
    "BatchNorm1d takes a batch of vectors (N, C) or (N, C, L) with C = {Expected}, found a tensor of shape {Found}: use BatchNorm2d for images (N, C, H, W)",
    "a tensor of another rank than (N, C) or (N, C, L) reaches this BatchNorm1d layer"
);
shape_rule!(
    /// A `BatchNorm2d` takes a batch of images `(N, C, H, W)`.
    BatchNorm2dRank,
    BatchNorm2dRankMismatch,
    "BatchNorm2d takes a batch of images (N, C, H, W) with C = {Expected}, found a tensor of shape {Found}: use BatchNorm1d for vectors (N, C)",
    "a tensor of another rank than (N, C, H, W) reaches this BatchNorm2d layer"
);
shape_rule!(
    /// `grad_output` of `BatchNorm1d::backward`/`BatchNorm2d::backward` has the input's shape.
    BatchNormGradOutput,
    BatchNormGradOutputMismatch,
    "shape mismatch in BatchNorm grad_output: expected {Expected} (the input's shape), found {Found}",
    "grad_output must have the shape of the input"
);
shape_rule!(
    /// The block of a `Residual` maps its input's shape to itself, so that `x + block(x)` adds
    /// two tensors of one shape.
    ResidualShape,
    ResidualShapeMismatch,
    "shape mismatch in Residual: the block maps {Expected} to {Found}; x + block(x) needs the same shape",
    "the block of a Residual must give its input's shape back"
);
shape_rule!(
    /// The shortcut and the block of a `Projected` residual give one shape, so that
    /// `shortcut(x) + block(x)` adds two tensors of one shape.
    ProjectedShape,
    ProjectedShapeMismatch,
    "shape mismatch in Projected: the shortcut gives {Expected}, the block {Found}; shortcut(x) + block(x) needs the same shape",
    "the shortcut and the block of a Projected residual must give the same shape"
);

shape_rule!(
    /// The two tensors of `Tensor::add` (and `add_assign`, `&a + &b`, `a += &b`) have one shape.
    TensorAdd,
    TensorAddMismatch,
    "shape mismatch in tensor add: expected {Expected}, found {Found}",
    "the tensor added must have the shape of the tensor it is added to"
);
shape_rule!(
    /// The two tensors of `Tensor::sub` (and `sub_assign`, `&a - &b`, `a -= &b`) have one shape.
    TensorSub,
    TensorSubMismatch,
    "shape mismatch in tensor sub: expected {Expected}, found {Found}",
    "the tensor subtracted must have the shape of the tensor it is subtracted from"
);
shape_rule!(
    /// The two tensors of `Tensor::mul` (and `mul_assign`, `&a * &b`, `a *= &b`), an
    /// element-wise product, have one shape.
    TensorMul,
    TensorMulMismatch,
    "shape mismatch in tensor mul: expected {Expected}, found {Found}",
    "an element-wise product needs two tensors of one shape"
);

/// `grad_output` of the backward pass of an element-wise layer `L` (an
/// [`Elementwise`](crate::Elementwise) layer such as [`Sigmoid`](crate::Sigmoid), or one of
/// your own) must have the input's shape. The message names the layer:
///
/// ```text
/// error[E0277]: shape mismatch in Sigmoid grad_output: expected (_4, _3) (the input's shape), found (_4, _2)
/// ```
pub struct ElementwiseGradOutput<L: ?Sized>(core::marker::PhantomData<L>);

macro_rules! elementwise_rule {
    ($msg:literal, $label:literal) => {
        #[doc(hidden)]
        #[diagnostic::on_unimplemented(message = $msg, label = $label)]
        pub trait ElementwiseGradOutputMismatch<L: ?Sized, Expected, Found> {}

        impl<L: ?Sized, Expected: Show, Found: Show>
            Verdict<ElementwiseGradOutput<L>, Expected, Found> for B0
        where
            ElementwiseGradOutput<L>: ElementwiseGradOutputMismatch<L, Expected::Out, Found::Out>,
        {
        }

        impl<L: ?Sized> ElementwiseGradOutput<L> {
            /// The message, with `{L}` where the layer's name goes.
            const MESSAGE: &'static str = $msg;
        }
    };
}
elementwise_rule!(
    "shape mismatch in {L} grad_output: expected {Expected} (the input's shape), found {Found}",
    "grad_output must have the shape of the input"
);

/// Checks at run time that `grad_output`'s dims are the input's, for the element-wise layer
/// `L`, with the rule's message naming `L`.
#[track_caller]
pub(crate) fn check_elementwise_grad<L: ?Sized>(expected: &[usize], found: &[usize]) {
    if expected != found {
        panic!(
            "{}",
            ElementwiseGradOutput::<L>::MESSAGE
                .replace("{L}", &short_type_name(core::any::type_name::<L>()))
                .replace("{Expected}", &fmt_dims(expected))
                .replace("{Found}", &fmt_dims(found))
        );
    }
}

/// A type's name as the compiler prints it in an error: every path shortened to its last
/// segment (`shaped::layers::activation::Sigmoid` -> `Sigmoid`, `my::Scale<f32>` ->
/// `Scale<f32>`).
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear();
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(&segment);
    out
}

/// Whether a dim is non-zero, as a type-level bool: `B1` for a [`Dyn`] (checked at run time).
#[doc(hidden)]
pub trait DimPositive {
    /// `B1` if the dim is at least 1.
    type Positive: Bit;
}
impl<A: Unsigned + typenum::IsGreater<typenum::U0>> DimPositive for A
where
    typenum::Gr<A, typenum::U0>: Bit,
{
    type Positive = typenum::Gr<A, typenum::U0>;
}
impl DimPositive for Dyn {
    type Positive = B1;
}

/// The dim `Self` is at least 1; otherwise `Rule`'s error. A [`Dyn`] is checked at run time.
pub trait NonZero<Rule> {}
impl<D: DimPositive, Rule> NonZero<Rule> for D where D::Positive: Verdict<Rule, D, D> {}

/// The pool padding `Self` is at most half the window `K` (`P ≤ ⌊K / 2⌋`, PyTorch's rule);
/// otherwise [`PoolPadding`]'s error, in decimal.
pub trait PoolPad<K> {}
impl<P, K> PoolPad<K> for P
where
    K: core::ops::Div<typenum::U2>,
    P: typenum::IsLessOrEqual<typenum::Quot<K, typenum::U2>>,
    typenum::LeEq<P, typenum::Quot<K, typenum::U2>>: Verdict<PoolPadding, K, P>,
{
}

/// Checks at run time that a dim is at least 1.
#[track_caller]
pub(crate) fn check_non_zero<R: Rule>(size: usize) {
    if size == 0 {
        mismatch::<R>(1, 0);
    }
}

/// `T`, as seen from the batch dim `N`: [`AtBatch<N, T>`](AtBatch) is `T` once `N` is known.
///
/// Method lookup on a model (`model.forward_train(x)`) happens before the argument's type is
/// known, with the batch still open. A junction rule stated on `AtBatch<N, D>` instead of `D`
/// is therefore undecided during lookup, so a mis-wired model reaches the rule's own error
/// (`shape mismatch in Affine input: …`) instead of failing lookup with a "no method named
/// `forward_train`" error that prints the whole model in typenum's binary.
pub trait Anchor<T> {
    /// `T`.
    type Out;
}
impl<N: crate::dims::Dim, T> Anchor<T> for N {
    type Out = T;
}
/// `T`, known once the batch `N` is (see [`Anchor`]).
pub type AtBatch<N, T> = <N as Anchor<T>>::Out;

/// `T`, as seen from any type `X` (a random generator, say): the same deferral as [`Anchor`]
/// for rules that have no batch at hand, such as the non-zero sizes checked by `Init`.
pub trait AnchorAny<T> {
    /// `T`.
    type Out;
}
impl<X: ?Sized, T> AnchorAny<T> for X {
    type Out = T;
}
/// `T`, known once `X` is (see [`AnchorAny`]).
pub type Via<X, T> = <X as AnchorAny<T>>::Out;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names_keep_the_last_segment_of_every_path() {
        assert_eq!(
            short_type_name("shaped::layers::activation::Sigmoid"),
            "Sigmoid"
        );
        assert_eq!(short_type_name("my::Scale<f32>"), "Scale<f32>");
        assert_eq!(
            short_type_name("a::Pair<b::C, core::option::Option<d::E>>"),
            "Pair<C, Option<E>>"
        );
    }
}
