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
use crate::tensor::{fmt_dims, Tensor};

/// Decimal display types for shape errors. Internal: the names appear in error messages only.
///
/// A number is spelled in groups of three digits, the lower groups nested as a type argument:
///
/// ```
/// use shaped::rules::decimal::{Decimal, _1, _5, _024, _784};
/// use shaped::typenum::{U5, U784, U1024};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(Decimal<U5>, _5);
/// assert_type_eq_all!(Decimal<U784>, _784);
/// assert_type_eq_all!(Decimal<U1024>, _1<_024>); // printed `_1<_024>` in an error
/// ```
pub mod decimal {
    use core::marker::PhantomData;
    use typenum::consts::*;
    use typenum::{Bit, IsLess, Le, Mod, Quot};

    /// The display type of one digit.
    ///
    /// ```
    /// use shaped::rules::decimal::{Digit, _7};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<shaped::typenum::U7 as Digit>::Out, _7);
    /// ```
    pub trait Digit {
        /// `_0` .. `_9`.
        type Out;
    }
    /// Spelling one more digit onto a display type: `_78` + 4 = `_784`.
    ///
    /// ```
    /// use shaped::rules::decimal::{Append, _78, _784};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<_78 as Append<shaped::typenum::U4>>::Out, _784);
    /// ```
    pub trait Append<D> {
        /// The longer display type.
        type Out;
    }
    /// Attaching the lower three-digit groups: `_1` with `_024` = `_1<_024>`.
    ///
    /// ```
    /// use shaped::rules::decimal::{WithRest, _1, _024};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<_1 as WithRest<_024>>::Out, _1<_024>);
    /// ```
    pub trait WithRest<R> {
        /// The display type with its lower groups.
        type Out;
    }

    include!(concat!(env!("OUT_DIR"), "/decimal.rs"));

    /// The display type of `Self` followed by lower groups `Rest`.
    ///
    /// ```
    /// use shaped::rules::decimal::{Spell, _2, _048, _500};
    /// use shaped::typenum::{U2, U2048};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<U2048 as Spell<()>>::Out, _2<_048>);
    /// assert_type_eq_all!(<U2 as Spell<_500>>::Out, _2<_500>); // 2 before the group 500
    /// ```
    pub trait Spell<Rest> {
        /// The display type.
        type Out;
    }
    /// The display type of a number, e.g. `_784` for `U784`.
    ///
    /// ```
    /// use shaped::rules::decimal::{Decimal, _0, _1, _10, _000, _784};
    /// use shaped::typenum::{U1, U10, U784, U1000000};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(Decimal<U1>, _1);
    /// assert_type_eq_all!(Decimal<U10>, _10);
    /// assert_type_eq_all!(Decimal<U784>, _784);
    /// assert_type_eq_all!(Decimal<U1000000>, _1<_000<_000>>); // a million
    /// # let _: Option<_0> = None;
    /// ```
    pub type Decimal<N> = <N as Spell<()>>::Out;

    impl<N, Rest> Spell<Rest> for N
    where
        N: IsLess<U1000>,
        Le<N, U1000>: SpellGroups<N, Rest>,
    {
        type Out = <Le<N, U1000> as SpellGroups<N, Rest>>::Out;
    }

    /// Branch on `N < 1000`.
    ///
    /// ```
    /// use shaped::rules::decimal::{SpellGroups, _1, _024, _784};
    /// use shaped::typenum::{B0, B1, U784, U1024};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<B1 as SpellGroups<U784, ()>>::Out, _784); // one group
    /// assert_type_eq_all!(<B0 as SpellGroups<U1024, ()>>::Out, _1<_024>); // more
    /// ```
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
    ///
    /// ```
    /// use shaped::rules::decimal::{Padded, _024, _100};
    /// use shaped::typenum::{U24, U100};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<U24 as Padded>::Out, _024);
    /// assert_type_eq_all!(<U100 as Padded>::Out, _100);
    /// ```
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
    ///
    /// ```
    /// use shaped::rules::decimal::{Unpadded, _24, _5};
    /// use shaped::typenum::{U5, U24};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<U24 as Unpadded>::Out, _24);
    /// assert_type_eq_all!(<U5 as Unpadded>::Out, _5);
    /// ```
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
    ///
    /// `(N < 10, N < 100)`: one digit, two, or three.
    ///
    /// ```
    /// use shaped::rules::decimal::{UnpaddedBranch, _24, _5, _999};
    /// use shaped::typenum::{B0, B1, U5, U24, U999};
    /// use static_assertions::assert_type_eq_all;
    /// assert_type_eq_all!(<(B1, B1) as UnpaddedBranch<U5>>::Out, _5);
    /// assert_type_eq_all!(<(B0, B1) as UnpaddedBranch<U24>>::Out, _24);
    /// assert_type_eq_all!(<(B0, B0) as UnpaddedBranch<U999>>::Out, _999);
    /// ```
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
///
/// A rule of your own, for a runtime check of your own, reads as the crate's do:
///
/// ```
/// use shaped::rules::{message, ConvChannels, Rule};
/// assert_eq!(
///     ConvChannels::MESSAGE,
///     "shape mismatch in Conv input channels: expected {Expected} channels (C), found {Found}"
/// );
///
/// struct LabelsPerRow;
/// impl Rule for LabelsPerRow {
///     const MESSAGE: &'static str = "expected {Expected} labels, one a row, found {Found}";
/// }
/// assert_eq!(message::<LabelsPerRow>(4, 3), "expected 4 labels, one a row, found 3");
/// ```
pub trait Rule {
    /// The message.
    const MESSAGE: &'static str;
}

/// The message of rule `R` with both sizes filled in.
///
/// ```
/// use shaped::rules::{message, ReluGradOutput};
/// // As a `Dyn` batch reports it at run time: sizes in plain decimal.
/// assert_eq!(
///     message::<ReluGradOutput>("(32, 10)", "(16, 10)"),
///     "shape mismatch in ReLU grad_output: expected (32, 10) (the input's shape), found (16, 10)"
/// );
/// ```
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
///
/// A function of your own that takes what `Affine<U3, _>` takes states the rule as a bound:
/// a static mismatch is then the rule's own error, a [`Dyn`] is left to run time.
///
/// ```
/// use shaped::rules::{AffineInput, DimEq};
/// use shaped::{Dim, Dyn, Tensor, U2, U3, U4};
/// use static_assertions::{assert_impl_all, assert_not_impl_any};
///
/// fn rows<N: Dim, D: Dim + DimEq<U3, AffineInput>>(x: &Tensor<(N, D)>) -> usize {
///     x.dims()[0]
/// }
/// assert_eq!(rows(&Tensor::<(U2, U3)>::zeros()), 2);
/// assert_eq!(rows(&Tensor::<(Dyn, Dyn)>::zeros_with((Dyn(5), Dyn(3)))), 5);
/// assert_impl_all!(U3: DimEq<U3, AffineInput>);
/// assert_impl_all!(Dyn: DimEq<U3, AffineInput>); // checked at run time
/// assert_not_impl_any!(U4: DimEq<U3, AffineInput>); // `rows` of `(U2, U4)` does not compile
/// ```
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
///
/// ```
/// use shaped::rules::ShapeCmp;
/// use shaped::typenum::{B0, B1, U2, U3, U4};
/// use shaped::Dyn;
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U4, U3)>>::Same, B1);
/// assert_type_eq_all!(<(U4, U3) as ShapeCmp<(U4, U2)>>::Same, B0);
/// assert_type_eq_all!(<(Dyn, U3) as ShapeCmp<(U4, U3)>>::Same, B1); // left to run time
/// ```
#[diagnostic::on_unimplemented(
    message = "rank mismatch: a tensor of another rank than expected",
    label = "this tensor has another number of dims than the rule expects"
)]
pub trait ShapeCmp<Other> {
    /// `B1` if the shapes are equal, `B0` otherwise.
    type Same: Bit;
}
/// Implements the shape comparison `$shape` for tuples of ranks 1 to 6 from the dim
/// comparison `$dim`: `Same` is the `And` of the dims' (used for [`ShapeCmp`] and
/// `ShapeIdentical`).
macro_rules! shape_cmp {
    ($shape:ident, $dim:ident) => {
        impl<A: $dim<B>, B> $shape<(B,)> for (A,) {
            type Same = A::Same;
        }
        shape_cmp!(@ $shape $dim; A0 B0_, A1 B1_);
        shape_cmp!(@ $shape $dim; A0 B0_, A1 B1_, A2 B2_);
        shape_cmp!(@ $shape $dim; A0 B0_, A1 B1_, A2 B2_, A3 B3_);
        shape_cmp!(@ $shape $dim; A0 B0_, A1 B1_, A2 B2_, A3 B3_, A4 B4_);
        shape_cmp!(@ $shape $dim; A0 B0_, A1 B1_, A2 B2_, A3 B3_, A4 B4_, A5 B5_);
    };
    (@ $shape:ident $dim:ident; $a0:ident $b0:ident, $($a:ident $b:ident),+) => {
        impl<$a0, $b0, $($a, $b),+> $shape<($b0, $($b,)+)> for ($a0, $($a,)+)
        where
            $a0: $dim<$b0>,
            ($($a,)+): $shape<($($b,)+)>,
            <$a0 as $dim<$b0>>::Same: BitAnd<<($($a,)+) as $shape<($($b,)+)>>::Same>,
            And<<$a0 as $dim<$b0>>::Same, <($($a,)+) as $shape<($($b,)+)>>::Same>: Bit,
        {
            type Same = And<<$a0 as $dim<$b0>>::Same, <($($a,)+) as $shape<($($b,)+)>>::Same>;
        }
    };
}
shape_cmp!(ShapeCmp, DimCmp);

/// The shape `Self` (found) equals `Expected`; otherwise `Rule`'s error, both shapes in decimal.
///
/// The rule every gradient argument is checked with: `dy` of the output's shape.
///
/// ```
/// use shaped::rules::{ReluGradOutput, ShapeEq};
/// use shaped::{Dyn, U2, U3, U4};
/// use static_assertions::{assert_impl_all, assert_not_impl_any};
/// assert_impl_all!((U4, U3): ShapeEq<(U4, U3), ReluGradOutput>);
/// assert_impl_all!((Dyn, U3): ShapeEq<(U4, U3), ReluGradOutput>); // the batch checked at run time
/// assert_not_impl_any!((U4, U2): ShapeEq<(U4, U3), ReluGradOutput>);
/// ```
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

/// Type-level identity of two dims: `Same` is `B1` only for the same type (`Dyn` equals only
/// `Dyn`), where [`DimCmp`] lets a `Dyn` meet any size.
#[doc(hidden)]
pub trait DimIdentical<Other> {
    /// `B1` if both are the same type.
    type Same: Bit;
}
impl<A, B> DimIdentical<B> for A
where
    A: Unsigned + IsEqual<B>,
    B: Unsigned,
    Eq<A, B>: Bit,
{
    type Same = Eq<A, B>;
}
impl DimIdentical<Dyn> for Dyn {
    type Same = B1;
}
impl<A: Unsigned> DimIdentical<Dyn> for A {
    type Same = B0;
}
impl<U, B> DimIdentical<UInt<U, B>> for Dyn {
    type Same = B0;
}
impl DimIdentical<UTerm> for Dyn {
    type Same = B0;
}

/// Type-level identity of two shapes of the same rank: `Same` is `B1` only when every dim is
/// the same type.
#[doc(hidden)]
pub trait ShapeIdentical<Other> {
    /// `B1` if both are the same type.
    type Same: Bit;
}
shape_cmp!(ShapeIdentical, DimIdentical);

/// How a gradient `Self` reaches a pass whose output is `Out`: the gradient [`Module::
/// backward_train`](crate::Module::backward_train) takes, `dy`, must be a tensor of the output's
/// type, and a gradient of any other shape is an error that names both shapes in decimal.
///
/// Nothing to implement or to name: every type is the gradient of itself (`How` is [`Exact`]),
/// which holds in generic code too. The second impl ([`Mismatched`]) never holds: it exists so
/// that a tensor of another shape fails with a named rule, [`ModelGradOutput`] (a size differs)
/// or [`ModelGradOutputType`] (a [`Dyn`] dim where the output's is static, or the other way),
/// rather than with rustc's `E0308` in typenum binary.
///
/// ```
/// use shaped::rules::{Exact, GradOf};
/// use shaped::{typenum::*, Tensor};
/// use static_assertions::{assert_impl_all, assert_not_impl_any};
/// assert_impl_all!(Tensor<(U4, U3)>: GradOf<Tensor<(U4, U3)>, Exact>);
/// assert_not_impl_any!(Tensor<(U4, U2)>: GradOf<Tensor<(U4, U3)>, Exact>);
/// ```
#[diagnostic::on_unimplemented(
    message = "the gradient given to backward_train is not a tensor of the output's shape and element type",
    label = "dy must be of the type forward_train returned"
)]
pub trait GradOf<Out, How> {
    /// The gradient, as the output's type.
    fn grad(&self) -> &Out;
}
/// The [`GradOf`] impl of a gradient of the output's own type.
#[derive(Debug, Clone, Copy)]
pub struct Exact;
/// The [`GradOf`] impl of a tensor of another shape: never satisfied, its bounds are the error.
#[derive(Debug, Clone, Copy)]
pub struct Mismatched;
impl<T> GradOf<T, Exact> for T {
    fn grad(&self) -> &T {
        self
    }
}
// Chosen only when the two shapes are different types (a tensor of the output's own type
// matches both impls, and this one is dropped because `ShapeIdentical` is `B1`), and then never
// satisfied: a rank or a size that differs fails `ModelGradOutput`, and sizes that agree (one
// of them `Dyn`) fail `ModelGradOutputType`, one error either way. The ranks are compared
// first, so that shapes of two ranks fail with the rule, not with the rank-wise traits.
impl<S, G, E> GradOf<Tensor<S, E>, Mismatched> for Tensor<G, E>
where
    S: RankOf,
    G: RankOf,
    G::Rank: IsEqual<S::Rank>,
    Eq<G::Rank, S::Rank>: GradVerdict<S, G>,
{
    fn grad(&self) -> &Tensor<S, E> {
        unreachable!("the bounds of this impl never hold")
    }
}

/// The verdict on a gradient of shape `Found` for an output of shape `Expected`, given whether
/// their ranks agree (`B1`) or not (`B0`, the [`ModelGradOutput`] error).
#[doc(hidden)]
pub trait GradVerdict<Expected, Found> {}
impl<Expected: Show, Found: Show> GradVerdict<Expected, Found> for B0 where
    ModelGradOutput: ModelGradOutputMismatch<Expected::Out, Found::Out>
{
}
impl<Expected, Found> GradVerdict<Expected, Found> for B1
where
    Found: ShapeIdentical<Expected, Same = B0> + ShapeCmp<Expected>,
    <Found as ShapeCmp<Expected>>::Same:
        Verdict<ModelGradOutput, Expected, Found> + SameTypeVerdict<Expected, Found>,
{
}

/// When the sizes agree but the types do not (`B1`), the [`ModelGradOutputType`] error.
#[doc(hidden)]
pub trait SameTypeVerdict<Expected, Found> {}
impl<Expected, Found> SameTypeVerdict<Expected, Found> for B0 {}
impl<Expected: Show, Found: Show> SameTypeVerdict<Expected, Found> for B1 where
    ModelGradOutputType: ModelGradOutputTypeMismatch<Expected::Out, Found::Out>
{
}

shape_rule!(
    /// The gradient given to a model's (or a layer's) [`Module::backward_train`](
    /// crate::Module::backward_train) must have the shape of the output its `forward_train`
    /// returned.
    ///
    /// ```
    /// use shaped::rules::{message, ModelGradOutput};
    /// // A model ending in `Affine<_, U10>`, on a batch of 32, given a gradient of 2 classes:
    /// assert_eq!(
    ///     message::<ModelGradOutput>("(_32, _10)", "(_32, _2)"),
    ///     "shape mismatch in backward_train grad_output: expected (_32, _10) (the output's shape), found (_32, _2)"
    /// );
    /// ```
    ModelGradOutput,
    ModelGradOutputMismatch,
    "shape mismatch in backward_train grad_output: expected {Expected} (the output's shape), found {Found}",
    "dy must have the shape of the output forward_train returned"
);
shape_rule!(
    /// The gradient given to [`Module::backward_train`](crate::Module::backward_train) must
    /// have the output's dims as types too: a [`Dyn`] batch where the output's batch is static
    /// (or the other way) is another type, even when the sizes agree.
    ///
    /// ```
    /// use shaped::rules::{message, ModelGradOutputType};
    /// assert_eq!(
    ///     message::<ModelGradOutputType>("(_32, _10)", "(Dyn, _10)"),
    ///     "backward_train grad_output has dims of other types: expected (_32, _10) (the output's), found (Dyn, _10): dy needs Dyn exactly where the output has Dyn, and the same static sizes elsewhere"
    /// );
    /// ```
    ModelGradOutputType,
    ModelGradOutputTypeMismatch,
    "backward_train grad_output has dims of other types: expected {Expected} (the output's), found {Found}: dy needs Dyn exactly where the output has Dyn, and the same static sizes elsewhere",
    "a Dyn dim where the output's is static, or a static dim where it is Dyn"
);

shape_rule!(
    /// The input features of `x` in `Affine::forward`/`backward` must be the layer's `DI`.
    ///
    /// ```
    /// use shaped::rules::{message, AffineInput};
    /// // `Affine<U784, U10>` given rows of 100 features:
    /// assert_eq!(
    ///     message::<AffineInput>("_784", "_100"),
    ///     "shape mismatch in Affine input: expected _784 features (DI), found _100"
    /// );
    /// ```
    AffineInput,
    AffineInputMismatch,
    "shape mismatch in Affine input: expected {Expected} features (DI), found {Found}",
    "the input's last dim must be the layer's DI"
);
shape_rule!(
    /// An `Affine` layer in a model takes a batch of vectors `(N, DI)`; a tensor of another rank
    /// (an image batch `(N, C, H, W)` straight from a convolution) needs `Flatten` first.
    ///
    /// ```
    /// use shaped::rules::{message, AffineRank};
    /// // An image batch reaching `Affine<U512, U10>` without `Flatten`:
    /// assert_eq!(
    ///     message::<AffineRank>("_512", "(_2, _32, _4, _4)"),
    ///     "Affine takes a batch of vectors (N, DI) with DI = _512, found a tensor of shape (_2, _32, _4, _4): add Flatten before it"
    /// );
    /// ```
    AffineRank,
    AffineRankMismatch,
    "Affine takes a batch of vectors (N, DI) with DI = {Expected}, found a tensor of shape {Found}: add Flatten before it",
    "a tensor of another rank than (N, DI) reaches this Affine layer"
);
shape_rule!(
    /// `grad_output` of `Affine::backward` must have the forward output's shape `(N, DO)`.
    ///
    /// ```
    /// use shaped::rules::{message, AffineGradOutput};
    /// // `Affine<U8, U2>::backward` on a batch of 32 given a `dy` of 3 outputs:
    /// assert_eq!(
    ///     message::<AffineGradOutput>("(_32, _2)", "(_32, _3)"),
    ///     "shape mismatch in Affine grad_output: expected (_32, _2) (N, DO), found (_32, _3)"
    /// );
    /// ```
    AffineGradOutput,
    AffineGradOutputMismatch,
    "shape mismatch in Affine grad_output: expected {Expected} (N, DO), found {Found}",
    "grad_output must have the shape of the forward output (N, DO)"
);
shape_rule!(
    /// The gradient given to a pooling layer's backward pass has its output's shape.
    ///
    /// ```
    /// use shaped::rules::{message, PoolGradOutput};
    /// // A 2 × 2 pool's backward given a gradient of its input's size:
    /// assert_eq!(
    ///     message::<PoolGradOutput>("(_1, _8, _4, _4)", "(_1, _8, _8, _8)"),
    ///     "shape mismatch in pool grad_output: expected (_1, _8, _4, _4) (N, C, HO, WO), found (_1, _8, _8, _8)"
    /// );
    /// ```
    PoolGradOutput,
    PoolGradOutputMismatch,
    "shape mismatch in pool grad_output: expected {Expected} (N, C, HO, WO), found {Found}",
    "grad_output must have the shape of the pooled output"
);
shape_rule!(
    /// The gradient given to `Dropout`'s or `Flatten`'s backward pass has its output's shape.
    ///
    /// ```
    /// use shaped::rules::{message, GradOutput};
    /// // `GlobalAvgPool::backward` on 4 channels given a gradient of 3:
    /// assert_eq!(
    ///     message::<GradOutput>("(_2, _4)", "(_2, _3)"),
    ///     "shape mismatch in grad_output: expected (_2, _4) (the layer's output shape), found (_2, _3)"
    /// );
    /// ```
    GradOutput,
    GradOutputMismatch,
    "shape mismatch in grad_output: expected {Expected} (the layer's output shape), found {Found}",
    "grad_output must have the shape of the layer's output"
);
shape_rule!(
    /// `grad_output` of `ReLU::backward` must have the input's shape.
    ///
    /// ```
    /// use shaped::rules::{message, ReluGradOutput};
    /// // `ReLU::backward` on `(U4, U3)` given a `dy` of `(U4, U2)`:
    /// assert_eq!(
    ///     message::<ReluGradOutput>("(_4, _3)", "(_4, _2)"),
    ///     "shape mismatch in ReLU grad_output: expected (_4, _3) (the input's shape), found (_4, _2)"
    /// );
    /// ```
    ReluGradOutput,
    ReluGradOutputMismatch,
    "shape mismatch in ReLU grad_output: expected {Expected} (the input's shape), found {Found}",
    "grad_output must have the shape of the input"
);
shape_rule!(
    /// `Tensor::reshape` keeps the number of elements.
    ///
    /// ```
    /// use shaped::rules::{message, ReshapeCount};
    /// // A `(U4, U3)` tensor reshaped to `(U2, U5)`:
    /// assert_eq!(
    ///     message::<ReshapeCount>("_12", "_10"),
    ///     "reshape changes the element count: the tensor has _12 elements, the new shape _10"
    /// );
    /// ```
    ReshapeCount,
    ReshapeCountMismatch,
    "reshape changes the element count: the tensor has {Expected} elements, the new shape {Found}",
    "the new shape must hold the same number of elements"
);
shape_rule!(
    /// The input channels of `x` in `Conv::forward`/`backward` must be the layer's `C`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvChannels};
    /// // A convolution of RGB images (`C = U3`) given grey ones:
    /// assert_eq!(
    ///     message::<ConvChannels>("_3", "_1"),
    ///     "shape mismatch in Conv input channels: expected _3 channels (C), found _1"
    /// );
    /// ```
    ConvChannels,
    ConvChannelsMismatch,
    "shape mismatch in Conv input channels: expected {Expected} channels (C), found {Found}",
    "the input's channel dim (axis 1 of N, C, H, W) must be the layer's C"
);
shape_rule!(
    /// A convolution kernel's height must fit the padded input height `H + 2P`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvKernelHeight};
    /// // A 7 × 7 kernel on 5 × 5 images without padding:
    /// assert_eq!(
    ///     message::<ConvKernelHeight>("_5", "_7"),
    ///     "kernel height _7 is larger than the padded input height _5 (H + 2P) in Conv"
    /// );
    /// ```
    ConvKernelHeight,
    ConvKernelHeightTooLarge,
    "kernel height {Found} is larger than the padded input height {Expected} (H + 2P) in Conv",
    "the kernel does not fit the padded input"
);
shape_rule!(
    /// A convolution kernel's width must fit the padded input width `W + 2P`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvKernelWidth};
    /// // A 1 × 3 kernel on inputs 2 wide without padding:
    /// assert_eq!(
    ///     message::<ConvKernelWidth>("_2", "_3"),
    ///     "kernel width _3 is larger than the padded input width _2 (W + 2P) in Conv"
    /// );
    /// ```
    ConvKernelWidth,
    ConvKernelWidthTooLarge,
    "kernel width {Found} is larger than the padded input width {Expected} (W + 2P) in Conv",
    "the kernel does not fit the padded input"
);
shape_rule!(
    /// A convolution's stride must be at least 1.
    ///
    /// ```
    /// use shaped::rules::{message, ConvStride};
    /// // `Conv<U1, U4, U3, U3, U0>`: the stride `S` is 0:
    /// assert_eq!(
    ///     message::<ConvStride>("_0", "_0"),
    ///     "stride must be non-zero in Conv: found S = _0"
    /// );
    /// ```
    ConvStride,
    ConvStrideZero,
    "stride must be non-zero in Conv: found S = {Found}",
    "a convolution with stride 0 has no output size"
);
shape_rule!(
    /// `grad_output` of `Conv::backward` must have the forward output's shape `(N, K, HO, WO)`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvGradOutput};
    /// // A stride-2 convolution's backward given a `dy` of the un-strided size:
    /// assert_eq!(
    ///     message::<ConvGradOutput>("(_8, _16, _16, _16)", "(_8, _16, _32, _32)"),
    ///     "shape mismatch in Conv grad_output: expected (_8, _16, _16, _16) (N, K, HO, WO), found (_8, _16, _32, _32)"
    /// );
    /// ```
    ConvGradOutput,
    ConvGradOutputMismatch,
    "shape mismatch in Conv grad_output: expected {Expected} (N, K, HO, WO), found {Found}",
    "grad_output must have the shape of the forward output (N, K, HO, WO)"
);
shape_rule!(
    /// A pooling window's height must fit the input height.
    ///
    /// ```
    /// use shaped::rules::{message, PoolWindowHeight};
    /// // `MaxPool2d<U3>` on inputs 2 high:
    /// assert_eq!(
    ///     message::<PoolWindowHeight>("_2", "_3"),
    ///     "pool window height _3 is larger than the input height _2"
    /// );
    /// ```
    PoolWindowHeight,
    PoolWindowHeightTooLarge,
    "pool window height {Found} is larger than the input height {Expected}",
    "the pool window does not fit the input"
);
shape_rule!(
    /// A pooling window's width must fit the input width.
    ///
    /// ```
    /// use shaped::rules::{message, PoolWindowWidth};
    /// // `MaxPool2d<U4>` on inputs 3 wide:
    /// assert_eq!(
    ///     message::<PoolWindowWidth>("_3", "_4"),
    ///     "pool window width _4 is larger than the input width _3"
    /// );
    /// ```
    PoolWindowWidth,
    PoolWindowWidthTooLarge,
    "pool window width {Found} is larger than the input width {Expected}",
    "the pool window does not fit the input"
);
shape_rule!(
    /// A pooling stride must be at least 1.
    ///
    /// ```
    /// use shaped::rules::{message, PoolStride};
    /// // `MaxPool2d<U2, U0>`: the stride is 0:
    /// assert_eq!(
    ///     message::<PoolStride>("_0", "_0"),
    ///     "stride must be non-zero in a pool: found S = _0"
    /// );
    /// ```
    PoolStride,
    PoolStrideZero,
    "stride must be non-zero in a pool: found S = {Found}",
    "a pool with stride 0 has no output size"
);
shape_rule!(
    /// The target of `mse` must have the prediction's shape.
    ///
    /// ```
    /// use shaped::rules::{message, MseTarget};
    /// // `mse` of a `(U4, U1)` prediction and a `(U4, U2)` target:
    /// assert_eq!(
    ///     message::<MseTarget>("(_4, _1)", "(_4, _2)"),
    ///     "shape mismatch in mse target: expected (_4, _1) (the prediction's shape), found (_4, _2)"
    /// );
    /// ```
    MseTarget,
    MseTargetMismatch,
    "shape mismatch in mse target: expected {Expected} (the prediction's shape), found {Found}",
    "the target must have the prediction's shape"
);
shape_rule!(
    /// An `Affine` layer has at least one input feature and one output.
    ///
    /// ```
    /// use shaped::rules::{message, AffineNonZero};
    /// // `Affine<U0, U10>` built by `Init`:
    /// assert_eq!(
    ///     message::<AffineNonZero>("_0", "_0"),
    ///     "zero-sized Affine layer: DI and DO must be at least 1, found _0"
    /// );
    /// ```
    AffineNonZero,
    AffineZeroSized,
    "zero-sized Affine layer: DI and DO must be at least 1, found {Found}",
    "a layer with no inputs or no outputs computes nothing"
);
shape_rule!(
    /// A `Conv` layer has at least one channel, one filter and a kernel of at least 1 × 1.
    ///
    /// ```
    /// use shaped::rules::{message, ConvNonZero};
    /// // A `Conv` of no filters built by `Init`:
    /// assert_eq!(
    ///     message::<ConvNonZero>("_0", "_0"),
    ///     "zero-sized Conv layer: C, K, HF and WF must be at least 1, found _0"
    /// );
    /// ```
    ConvNonZero,
    ConvZeroSized,
    "zero-sized Conv layer: C, K, HF and WF must be at least 1, found {Found}",
    "a convolution with no channels, no filters or an empty kernel computes nothing"
);
shape_rule!(
    /// A pooling window is at least 1 × 1.
    ///
    /// ```
    /// use shaped::rules::{message, PoolNonZero};
    /// // `MaxPool2d<U0>::new()`:
    /// assert_eq!(
    ///     message::<PoolNonZero>("_0", "_0"),
    ///     "zero-sized pool window: K must be at least 1, found _0"
    /// );
    /// ```
    PoolNonZero,
    PoolZeroSized,
    "zero-sized pool window: K must be at least 1, found {Found}",
    "an empty window has no maximum and no mean"
);

shape_rule!(
    /// The groups of a grouped convolution (`Conv2d`'s `G`) divide its input channels `C`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvGroupsChannels};
    /// // 3 groups of 8 input channels:
    /// assert_eq!(
    ///     message::<ConvGroupsChannels>("_8", "_3"),
    ///     "groups must divide the channels in Conv: _3 groups do not divide _8 input channels (C)"
    /// );
    /// ```
    ConvGroupsChannels,
    ConvGroupsChannelsIndivisible,
    "groups must divide the channels in Conv: {Found} groups do not divide {Expected} input channels (C)",
    "each group convolves C / G of the input channels: G must divide C"
);
shape_rule!(
    /// The groups of a grouped convolution (`Conv2d`'s `G`) divide its filters `K`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvGroupsFilters};
    /// // 4 groups of 6 filters:
    /// assert_eq!(
    ///     message::<ConvGroupsFilters>("_6", "_4"),
    ///     "groups must divide the filters in Conv: _4 groups do not divide _6 filters (K)"
    /// );
    /// ```
    ConvGroupsFilters,
    ConvGroupsFiltersIndivisible,
    "groups must divide the filters in Conv: {Found} groups do not divide {Expected} filters (K)",
    "each group has K / G of the filters: G must divide K"
);
shape_rule!(
    /// A convolution has at least one group.
    ///
    /// ```
    /// use shaped::rules::{message, ConvGroupsNonZero};
    /// // A `Conv2d` of `G = U0` groups:
    /// assert_eq!(
    ///     message::<ConvGroupsNonZero>("_0", "_0"),
    ///     "groups must be non-zero in Conv: found G = _0"
    /// );
    /// ```
    ConvGroupsNonZero,
    ConvGroupsZero,
    "groups must be non-zero in Conv: found G = {Found}",
    "a convolution of 0 groups has no filters"
);
shape_rule!(
    /// A convolution's dilation is at least 1 (1 is the dense kernel).
    ///
    /// ```
    /// use shaped::rules::{message, ConvDilationNonZero};
    /// // A `Conv2d` of dilation `D = U0`:
    /// assert_eq!(
    ///     message::<ConvDilationNonZero>("_0", "_0"),
    ///     "dilation must be non-zero in Conv: found D = _0"
    /// );
    /// ```
    ConvDilationNonZero,
    ConvDilationZero,
    "dilation must be non-zero in Conv: found D = {Found}",
    "dilation 1 is the dense kernel; 0 has no meaning"
);
shape_rule!(
    /// A dilated kernel's height `D·(HF − 1) + 1` must fit the padded input height `H + 2P`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvDilatedKernelHeight};
    /// // 3 taps dilated by 4 (a span of 9) on an unpadded height of 8:
    /// assert_eq!(
    ///     message::<ConvDilatedKernelHeight>("_8", "_9"),
    ///     "dilated kernel height _9 (D·(HF − 1) + 1) is larger than the padded input height _8 (H + 2P) in Conv"
    /// );
    /// ```
    ConvDilatedKernelHeight,
    ConvDilatedKernelHeightTooLarge,
    "dilated kernel height {Found} (D·(HF − 1) + 1) is larger than the padded input height {Expected} (H + 2P) in Conv",
    "the dilated kernel does not fit the padded input"
);
shape_rule!(
    /// A dilated kernel's width `D·(WF − 1) + 1` must fit the padded input width `W + 2P`.
    ///
    /// ```
    /// use shaped::rules::{message, ConvDilatedKernelWidth};
    /// // 3 taps dilated by 2 (a span of 5) on a width of 2 padded by 1:
    /// assert_eq!(
    ///     message::<ConvDilatedKernelWidth>("_4", "_5"),
    ///     "dilated kernel width _5 (D·(WF − 1) + 1) is larger than the padded input width _4 (W + 2P) in Conv"
    /// );
    /// ```
    ConvDilatedKernelWidth,
    ConvDilatedKernelWidthTooLarge,
    "dilated kernel width {Found} (D·(WF − 1) + 1) is larger than the padded input width {Expected} (W + 2P) in Conv",
    "the dilated kernel does not fit the padded input"
);
shape_rule!(
    /// A padded pooling window's height must fit the padded input height `H + 2P`.
    ///
    /// ```
    /// use shaped::rules::{message, PaddedPoolWindowHeight};
    /// // A `MaxPool2dHW` window 5 high, padded by 1, on inputs 2 high:
    /// assert_eq!(
    ///     message::<PaddedPoolWindowHeight>("_4", "_5"),
    ///     "pool window height _5 is larger than the padded input height _4 (H + 2P)"
    /// );
    /// ```
    PaddedPoolWindowHeight,
    PaddedPoolWindowHeightTooLarge,
    "pool window height {Found} is larger than the padded input height {Expected} (H + 2P)",
    "the pool window does not fit the padded input"
);
shape_rule!(
    /// A padded pooling window's width must fit the padded input width `W + 2P`.
    ///
    /// ```
    /// use shaped::rules::{message, PaddedPoolWindowWidth};
    /// // A `MaxPool2dHW` window 3 wide, unpadded, on inputs 2 wide:
    /// assert_eq!(
    ///     message::<PaddedPoolWindowWidth>("_2", "_3"),
    ///     "pool window width _3 is larger than the padded input width _2 (W + 2P)"
    /// );
    /// ```
    PaddedPoolWindowWidth,
    PaddedPoolWindowWidthTooLarge,
    "pool window width {Found} is larger than the padded input width {Expected} (W + 2P)",
    "the pool window does not fit the padded input"
);
shape_rule!(
    /// A pool's padding is at most half its window on each axis (PyTorch's rule: every window
    /// then holds at least one input element).
    ///
    /// ```
    /// use shaped::rules::{message, PoolPadding};
    /// // A 3 × 3 window padded by 2:
    /// assert_eq!(
    ///     message::<PoolPadding>("_3", "_2"),
    ///     "pool padding _2 is more than half the pool window _3: P must be at most K / 2, as in PyTorch"
    /// );
    /// ```
    PoolPadding,
    PoolPaddingTooLarge,
    "pool padding {Found} is more than half the pool window {Expected}: P must be at most K / 2, as in PyTorch",
    "a window could lie wholly in the padding"
);
shape_rule!(
    /// The channels of the input of `BatchNorm1d`/`BatchNorm2d` must be the layer's `C`
    /// (axis 1: `C` of `(N, C)`, `(N, C, L)` or `(N, C, H, W)`).
    ///
    /// ```
    /// use shaped::rules::{message, BatchNormChannels};
    /// // `BatchNorm2d<U16>` after a convolution of 8 filters:
    /// assert_eq!(
    ///     message::<BatchNormChannels>("_16", "_8"),
    ///     "shape mismatch in BatchNorm channels: expected _16 channels (C), found _8"
    /// );
    /// ```
    BatchNormChannels,
    BatchNormChannelsMismatch,
    "shape mismatch in BatchNorm channels: expected {Expected} channels (C), found {Found}",
    "the input's channel dim (axis 1) must be the layer's C"
);
shape_rule!(
    /// A `BatchNorm1d` takes a batch of vectors `(N, C)` (or PyTorch's `(N, C, L)`).
    ///
    /// ```
    /// use shaped::rules::{message, BatchNorm1dRank};
    /// // `BatchNorm1d<U16>` given a batch of images:
    /// assert_eq!(
    ///     message::<BatchNorm1dRank>("_16", "(_2, _16, _8, _8)"),
    ///     "BatchNorm1d takes a batch of vectors (N, C) or (N, C, L) with C = _16, found a tensor of shape (_2, _16, _8, _8): use BatchNorm2d for images (N, C, H, W)"
    /// );
    /// ```
    BatchNorm1dRank,
    BatchNorm1dRankMismatch,
    "BatchNorm1d takes a batch of vectors (N, C) or (N, C, L) with C = {Expected}, found a tensor of shape {Found}: use BatchNorm2d for images (N, C, H, W)",
    "a tensor of another rank than (N, C) or (N, C, L) reaches this BatchNorm1d layer"
);
shape_rule!(
    /// A `BatchNorm2d` takes a batch of images `(N, C, H, W)`.
    ///
    /// ```
    /// use shaped::rules::{message, BatchNorm2dRank};
    /// // `BatchNorm2d<U16>` given a batch of vectors:
    /// assert_eq!(
    ///     message::<BatchNorm2dRank>("_16", "(_2, _64)"),
    ///     "BatchNorm2d takes a batch of images (N, C, H, W) with C = _16, found a tensor of shape (_2, _64): use BatchNorm1d for vectors (N, C)"
    /// );
    /// ```
    BatchNorm2dRank,
    BatchNorm2dRankMismatch,
    "BatchNorm2d takes a batch of images (N, C, H, W) with C = {Expected}, found a tensor of shape {Found}: use BatchNorm1d for vectors (N, C)",
    "a tensor of another rank than (N, C, H, W) reaches this BatchNorm2d layer"
);
shape_rule!(
    /// `grad_output` of `BatchNorm1d::backward`/`BatchNorm2d::backward` has the input's shape.
    ///
    /// ```
    /// use shaped::rules::{message, BatchNormGradOutput};
    /// // `BatchNorm1d<U2>::backward` at `(U4, U2)` given a `dy` of `(U4, U3)`:
    /// assert_eq!(
    ///     message::<BatchNormGradOutput>("(_4, _2)", "(_4, _3)"),
    ///     "shape mismatch in BatchNorm grad_output: expected (_4, _2) (the input's shape), found (_4, _3)"
    /// );
    /// ```
    BatchNormGradOutput,
    BatchNormGradOutputMismatch,
    "shape mismatch in BatchNorm grad_output: expected {Expected} (the input's shape), found {Found}",
    "grad_output must have the shape of the input"
);
shape_rule!(
    /// The block of a `Residual` maps its input's shape to itself, so that `x + block(x)` adds
    /// two tensors of one shape.
    ///
    /// ```
    /// use shaped::rules::{message, ResidualShape};
    /// // A `Residual` whose block has stride 2 and twice the filters:
    /// assert_eq!(
    ///     message::<ResidualShape>("(_8, _16, _14, _14)", "(_8, _32, _7, _7)"),
    ///     "shape mismatch in Residual: the block maps (_8, _16, _14, _14) to (_8, _32, _7, _7); x + block(x) needs the same shape"
    /// );
    /// ```
    ResidualShape,
    ResidualShapeMismatch,
    "shape mismatch in Residual: the block maps {Expected} to {Found}; x + block(x) needs the same shape",
    "the block of a Residual must give its input's shape back"
);
shape_rule!(
    /// The shortcut and the block of a `Projected` residual give one shape, so that
    /// `shortcut(x) + block(x)` adds two tensors of one shape.
    ///
    /// ```
    /// use shaped::rules::{message, ProjectedShape};
    /// // A `Projected` whose shortcut has stride 2 and whose block has not:
    /// assert_eq!(
    ///     message::<ProjectedShape>("(_8, _32, _7, _7)", "(_8, _32, _14, _14)"),
    ///     "shape mismatch in Projected: the shortcut gives (_8, _32, _7, _7), the block (_8, _32, _14, _14); shortcut(x) + block(x) needs the same shape"
    /// );
    /// ```
    ProjectedShape,
    ProjectedShapeMismatch,
    "shape mismatch in Projected: the shortcut gives {Expected}, the block {Found}; shortcut(x) + block(x) needs the same shape",
    "the shortcut and the block of a Projected residual must give the same shape"
);

shape_rule!(
    /// The two tensors of `Tensor::add` (and `add_assign`, `&a + &b`, `a += &b`) have one shape.
    ///
    /// ```
    /// use shaped::rules::{message, TensorAdd};
    /// // `(U4, U3)` plus `(U4, U2)`:
    /// assert_eq!(
    ///     message::<TensorAdd>("(_4, _3)", "(_4, _2)"),
    ///     "shape mismatch in tensor add: expected (_4, _3), found (_4, _2)"
    /// );
    /// ```
    TensorAdd,
    TensorAddMismatch,
    "shape mismatch in tensor add: expected {Expected}, found {Found}",
    "the tensor added must have the shape of the tensor it is added to"
);
shape_rule!(
    /// The two tensors of `Tensor::sub` (and `sub_assign`, `&a - &b`, `a -= &b`) have one shape.
    ///
    /// ```
    /// use shaped::rules::{message, TensorSub};
    /// // `(U2, U2)` minus `(U2, U3)`:
    /// assert_eq!(
    ///     message::<TensorSub>("(_2, _2)", "(_2, _3)"),
    ///     "shape mismatch in tensor sub: expected (_2, _2), found (_2, _3)"
    /// );
    /// ```
    TensorSub,
    TensorSubMismatch,
    "shape mismatch in tensor sub: expected {Expected}, found {Found}",
    "the tensor subtracted must have the shape of the tensor it is subtracted from"
);
shape_rule!(
    /// The two tensors of `Tensor::mul` (and `mul_assign`, `&a * &b`, `a *= &b`), an
    /// element-wise product, have one shape.
    ///
    /// ```
    /// use shaped::rules::{message, TensorMul};
    /// // `(U3,)` times `(U4,)`, element-wise:
    /// assert_eq!(
    ///     message::<TensorMul>("(_3,)", "(_4,)"),
    ///     "shape mismatch in tensor mul: expected (_3,), found (_4,)"
    /// );
    /// ```
    TensorMul,
    TensorMulMismatch,
    "shape mismatch in tensor mul: expected {Expected}, found {Found}",
    "an element-wise product needs two tensors of one shape"
);

/// The argument `Self` given to a layer's constructor is the parameter `Expected`: a tensor of
/// the shape and element type the layer's type fixes (or `()` for the bias of a layer without
/// one); otherwise `Rule`'s error, both shapes in decimal, instead of the compiler's "mismatched
/// types" with both shapes in typenum's binary:
///
/// ```text
/// error[E0277]: shape mismatch in Affine weight: expected (_4, _3) (DO, DI), found (_3, _4): the weight is (out, in), as PyTorch's Linear.weight
/// ```
///
/// The constructors ([`Affine::new`](crate::Affine::new), [`Conv::new`](crate::Conv::new),
/// [`Conv2d::new`](crate::Conv2d::new)) take each parameter as a type parameter bound by this
/// trait, and the compiler still infers in both directions: the shape of a `Tensor::zeros()`
/// from the layer's type, and the layer's dims from tensors whose shapes are known.
///
/// How: the blanket impl is selected only once the argument's type is known to be a tensor (the
/// compiler selects no impl for a type it knows nothing of yet, not even a blanket one), which
/// is after the call's arguments are checked. Then `PinParam` makes the argument's type the
/// expected one (that is the inference), and `ParamCheck` compares the two and fails with the
/// rule's message where they differ. The rule's message trait has `PinParam` as a supertrait,
/// so its error implies the other's and the compiler reports the rule alone. A bound that
/// pinned the argument's type any earlier (an exact parameter type, or a projection on the
/// layer's dims) would be applied before the argument is checked, and the mismatch would be the
/// compiler's E0308 again.
///
/// ```
/// use shaped::{typenum::*, Affine, Dim, Element, Tensor};
/// // Inferred from the layer's type: the weight is (U2, U3).
/// let layer = Affine::<U3, U2>::new(Tensor::full(0.5), Tensor::zeros());
/// assert_eq!(layer.weight.dims(), [2, 3]);
/// // The layer's dims inferred from the tensors: Affine<U4, U5>.
/// let layer = Affine::new(Tensor::<(U5, U4)>::zeros(), Tensor::<(U5,)>::zeros());
/// let y: Tensor<(U1, U5)> = layer.forward(&Tensor::<(U1, U4)>::zeros());
/// # let _ = y;
///
/// // Generic code needs no bound for the rule: the dims and the element type it is generic
/// // over compare equal to themselves.
/// fn affine<DI: Dim, DO: Dim, E: Element>(w: Tensor<(DO, DI), E>, b: Tensor<(DO,), E>) -> Affine<DI, DO, E> {
///     Affine::new(w, b)
/// }
/// let l: Affine<U2, U1, f64> = affine(Tensor::full(1.0), Tensor::zeros());
/// assert_eq!(l.weight.dims(), [1, 2]);
/// ```
#[diagnostic::on_unimplemented(
    message = "a layer's constructor takes tensors, found `{Self}` ({Rule})",
    label = "a layer's parameters are tensors (the bias of a layer without one is `()`)"
)]
pub trait ParamIs<Expected, Rule>: Sized {
    /// The argument, as the parameter's type (it is that type).
    #[doc(hidden)]
    fn into_param(self) -> Expected;
}
impl<W, T, R> ParamIs<T, R> for W
where
    // The rule's error where the argument is not the parameter.
    W: ParamCheck<T, R>,
    // The argument is the parameter: infers whichever side is not known yet.
    R: PinParam<W, T>,
{
    fn into_param(self) -> T {
        R::pin(self)
    }
}

/// `Found` is `Expected` (one impl, so the compiler infers either side from the other). Failing
/// alone, it means an argument whose sizes fit but whose type does not: a `Dyn` dim against a
/// static one.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the argument is not of the parameter's type ({Self}): a layer's constructor takes a `Tensor` of the layer's shape, with `Dyn` exactly where the layer's dims are `Dyn`",
    label = "this argument's type differs from the parameter's"
)]
pub trait PinParam<Found, Expected> {
    /// The argument, which is the parameter.
    fn pin(found: Found) -> Expected;
}
impl<R, T> PinParam<T, T> for R {
    fn pin(found: T) -> T {
        found
    }
}

/// The check of [`ParamIs`]: the shapes (of any ranks) and the element types compared, each
/// with the rule's error where they differ.
#[doc(hidden)]
pub trait ParamCheck<Expected, Rule> {}
impl<S, E, X, E2, R> ParamCheck<Tensor<X, E2>, R> for Tensor<S, E>
where
    S: ParamShapeCmp<X>,
    S::Same: ParamVerdict<R, Tensor<S, E>, Tensor<X, E2>>,
    E: ElementCmp<E2>,
    E::Same: ElementVerdict<R, Tensor<S, E>, Tensor<X, E2>>,
{
}
impl<R> ParamCheck<(), R> for () {}
impl<S, E, R> ParamCheck<(), R> for Tensor<S, E> where R: BiasGivenToNoBias<Tensor<S, E>, ()> {}
impl<X, E, R> ParamCheck<Tensor<X, E>, R> for () where R: BiasMissing<(), Tensor<X, E>> {}

/// The shape verdict of [`ParamCheck`]: `B1` always holds; `B0` is the rule's error.
#[doc(hidden)]
pub trait ParamVerdict<Rule, Found, Expected> {}
impl<R, W, T> ParamVerdict<R, W, T> for B1 {}
/// The element-type verdict of [`ParamCheck`]: `B1` always holds; `B0` is the rule's error.
#[doc(hidden)]
pub trait ElementVerdict<Rule, Found, Expected> {}
impl<R, W, T> ElementVerdict<R, W, T> for B1 {}

#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a layer without bias (`NoBias`) takes `()` for its bias, found a tensor",
    label = "pass `()`, or name `Bias` in the layer's type for a layer with a bias"
)]
pub trait BiasGivenToNoBias<W, T>: PinParam<W, T> {}
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a layer with a bias (`Bias`, the default) takes a tensor (K,) for its bias, found `()`",
    label = "pass the bias, or name `NoBias` in the layer's type for a layer without one"
)]
pub trait BiasMissing<W, T>: PinParam<W, T> {}

/// Type-level comparison of two element types: `Same` is `B1` when they are one type. Every
/// [`Element`](crate::Element) compares equal to itself (a supertrait), so generic code passes.
#[doc(hidden)]
pub trait ElementCmp<Other> {
    /// `B1` if the element types are one type, `B0` otherwise.
    type Same: Bit;
}
impl ElementCmp<f32> for f32 {
    type Same = B1;
}
impl ElementCmp<f64> for f64 {
    type Same = B1;
}
impl ElementCmp<f64> for f32 {
    type Same = B0;
}
impl ElementCmp<f32> for f64 {
    type Same = B0;
}

/// The number of dims of a shape, as a typenum number.
#[doc(hidden)]
pub trait RankOf {
    /// The rank.
    type Rank: Unsigned;
}
macro_rules! rank_of {
    ($rank:ident: $($d:ident),+) => {
        impl<$($d),+> RankOf for ($($d,)+) {
            type Rank = typenum::$rank;
        }
    };
}
rank_of!(U1: A);
rank_of!(U2: A, B);
rank_of!(U3: A, B, C);
rank_of!(U4: A, B, C, D);
rank_of!(U5: A, B, C, D, F);
rank_of!(U6: A, B, C, D, F, G);

/// Type-level comparison of two shapes of any ranks: `B0` for two ranks, else [`ShapeCmp`].
#[doc(hidden)]
pub trait ParamShapeCmp<Other> {
    /// `B1` if the shapes are equal (a [`Dyn`] dim equal to any), `B0` otherwise.
    type Same: Bit;
}
impl<S, X> ParamShapeCmp<X> for S
where
    S: RankOf,
    X: RankOf,
    S::Rank: IsEqual<X::Rank>,
    Eq<S::Rank, X::Rank>: RankBranch<S, X>,
{
    type Same = <Eq<S::Rank, X::Rank> as RankBranch<S, X>>::Same;
}
/// Branch on "the ranks are equal".
#[doc(hidden)]
pub trait RankBranch<S, X> {
    /// The verdict.
    type Same: Bit;
}
impl<S: ShapeCmp<X>, X> RankBranch<S, X> for B1 {
    type Same = S::Same;
}
impl<S, X> RankBranch<S, X> for B0 {
    type Same = B0;
}

/// Declares a rule on a constructor's parameter ([`ParamIs`]): a marker type, the message of a
/// shape that differs, and that of an element type that differs. Each message trait has
/// `PinParam` as a supertrait, so its error stands for that of the failed inference too.
macro_rules! param_rule {
    (
        $(#[$doc:meta])* $rule:ident,
        $fails:ident, $msg:literal, $label:literal,
        $elem_fails:ident, $elem_msg:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $rule;

        #[doc(hidden)]
        #[diagnostic::on_unimplemented(message = $msg, label = $label)]
        pub trait $fails<Expected, Found, W, T>: PinParam<W, T> {}

        #[doc(hidden)]
        #[diagnostic::on_unimplemented(
            message = $elem_msg,
            label = "a layer's parameters have its element type E"
        )]
        pub trait $elem_fails<Expected, Found, W, T>: PinParam<W, T> {}

        impl<S: Show, E, X: Show, E2> ParamVerdict<$rule, Tensor<S, E>, Tensor<X, E2>> for B0 where
            $rule: $fails<X::Out, S::Out, Tensor<S, E>, Tensor<X, E2>>
        {
        }
        impl<S, E, X, E2> ElementVerdict<$rule, Tensor<S, E>, Tensor<X, E2>> for B0 where
            $rule: $elem_fails<E2, E, Tensor<S, E>, Tensor<X, E2>>
        {
        }

        impl Rule for $rule {
            const MESSAGE: &'static str = $msg;
        }
    };
}

param_rule!(
    /// The weight given to `Affine::new` is `(DO, DI)`, PyTorch's `Linear.weight` layout.
    ///
    /// ```
    /// use shaped::rules::{message, AffineWeightShape};
    /// // `Affine::<U3, U4>::new` given its weight as (in, out):
    /// assert_eq!(
    ///     message::<AffineWeightShape>("(_4, _3)", "(_3, _4)"),
    ///     "shape mismatch in Affine weight: expected (_4, _3) (DO, DI), found (_3, _4): the weight is (out, in), as PyTorch's Linear.weight"
    /// );
    /// ```
    AffineWeightShape,
    AffineWeightShapeMismatch,
    "shape mismatch in Affine weight: expected {Expected} (DO, DI), found {Found}: the weight is (out, in), as PyTorch's Linear.weight",
    "the weight of Affine<DI, DO> must be (DO, DI)",
    AffineWeightElementMismatch,
    "element type mismatch in Affine weight: expected {Expected}, found {Found}"
);
param_rule!(
    /// The bias given to `Affine::new` is `(DO,)`: one value per output.
    ///
    /// ```
    /// use shaped::rules::{message, AffineBiasShape};
    /// // `Affine::<U3, U4>::new` given a bias of its inputs' size:
    /// assert_eq!(
    ///     message::<AffineBiasShape>("(_4,)", "(_3,)"),
    ///     "shape mismatch in Affine bias: expected (_4,) (DO,), found (_3,)"
    /// );
    /// ```
    AffineBiasShape,
    AffineBiasShapeMismatch,
    "shape mismatch in Affine bias: expected {Expected} (DO,), found {Found}",
    "the bias of Affine<DI, DO> has one value per output: (DO,)",
    AffineBiasElementMismatch,
    "element type mismatch in Affine bias: expected {Expected}, found {Found}"
);
param_rule!(
    /// The weight given to `Conv::new` is `(K, C, HF, WF)`, PyTorch's `Conv2d.weight` layout.
    ///
    /// ```
    /// use shaped::rules::{message, ConvWeightShape};
    /// // `Conv::<U3, U8, U3, U3>::new` given a weight of one channel:
    /// assert_eq!(
    ///     message::<ConvWeightShape>("(_8, _3, _3, _3)", "(_8, _1, _3, _3)"),
    ///     "shape mismatch in Conv weight: expected (_8, _3, _3, _3) (K, C, HF, WF), found (_8, _1, _3, _3): the weight is (filters, channels, height, width), as PyTorch's Conv2d.weight"
    /// );
    /// ```
    ConvWeightShape,
    ConvWeightShapeMismatch,
    "shape mismatch in Conv weight: expected {Expected} (K, C, HF, WF), found {Found}: the weight is (filters, channels, height, width), as PyTorch's Conv2d.weight",
    "the weight of Conv<C, K, HF, WF> must be (K, C, HF, WF)",
    ConvWeightElementMismatch,
    "element type mismatch in Conv weight: expected {Expected}, found {Found}"
);
param_rule!(
    /// The weight given to `Conv2d::new` is `(K, C/G, HF, WF)`, PyTorch's `Conv2d.weight`
    /// layout: each filter sees the channels of its group only.
    ///
    /// ```
    /// use shaped::rules::{message, Conv2dWeightShape};
    /// // 8 channels in 2 groups, given a weight that sees all 8:
    /// assert_eq!(
    ///     message::<Conv2dWeightShape>("(_6, _4, _3, _3)", "(_6, _8, _3, _3)"),
    ///     "shape mismatch in Conv2d weight: expected (_6, _4, _3, _3) (K, C/G, HF, WF), found (_6, _8, _3, _3): the weight is (filters, channels per group, height, width), as PyTorch's Conv2d.weight"
    /// );
    /// ```
    Conv2dWeightShape,
    Conv2dWeightShapeMismatch,
    "shape mismatch in Conv2d weight: expected {Expected} (K, C/G, HF, WF), found {Found}: the weight is (filters, channels per group, height, width), as PyTorch's Conv2d.weight",
    "the weight of Conv2d<C, K, HF, WF, S, P, D, G> must be (K, C/G, HF, WF)",
    Conv2dWeightElementMismatch,
    "element type mismatch in Conv2d weight: expected {Expected}, found {Found}"
);
param_rule!(
    /// The bias given to `Conv::new` or `Conv2d::new` is `(K,)`: one value per filter.
    ///
    /// ```
    /// use shaped::rules::{message, ConvBiasShape};
    /// // `Conv::<U3, U8, U3, U3>::new` given a bias of its channels' size:
    /// assert_eq!(
    ///     message::<ConvBiasShape>("(_8,)", "(_3,)"),
    ///     "shape mismatch in Conv bias: expected (_8,) (K,), found (_3,)"
    /// );
    /// ```
    ConvBiasShape,
    ConvBiasShapeMismatch,
    "shape mismatch in Conv bias: expected {Expected} (K,), found {Found}",
    "the bias has one value per filter: (K,)",
    ConvBiasElementMismatch,
    "element type mismatch in Conv bias: expected {Expected}, found {Found}"
);

/// `grad_output` of the backward pass of an element-wise layer `L` (an
/// [`Elementwise`](crate::Elementwise) layer such as [`Sigmoid`](crate::Sigmoid), or one of
/// your own) must have the input's shape. The message names the layer:
///
/// ```text
/// error[E0277]: shape mismatch in Sigmoid grad_output: expected (_4, _3) (the input's shape), found (_4, _2)
/// ```
///
/// With a [`Dyn`] batch the rule is checked at run time, and the panic names the layer too:
///
/// ```
/// use shaped::{Dyn, Elementwise, Sigmoid, Tensor, U3};
/// let x = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 6])?; // 2 rows
/// let dy = Tensor::<(Dyn, U3)>::from_vec(vec![1.0; 3])?; // 1 row
/// let panic = std::panic::catch_unwind(|| Sigmoid.backward(&x, &dy)).unwrap_err();
/// assert_eq!(
///     panic.downcast_ref::<String>().map(String::as_str),
///     Some("shape mismatch in Sigmoid grad_output: expected (2, 3) (the input's shape), found (1, 3)")
/// );
/// # Ok::<(), shaped::ShapeError>(())
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
///
/// A type of your own whose size parameter must not be 0 states it on its constructor, as the
/// pools do:
///
/// ```
/// use shaped::rules::{NonZero, PoolNonZero};
/// use shaped::{ConstDim, U0, U3};
/// use static_assertions::{assert_impl_all, assert_not_impl_any};
///
/// fn window<K: ConstDim + NonZero<PoolNonZero>>() -> usize {
///     K::SIZE * K::SIZE
/// }
/// assert_eq!(window::<U3>(), 9);
/// assert_not_impl_any!(U0: NonZero<PoolNonZero>); // `window::<U0>()` does not compile
/// assert_impl_all!(shaped::Dyn: NonZero<PoolNonZero>);
/// ```
pub trait NonZero<Rule> {}
impl<D: DimPositive, Rule> NonZero<Rule> for D where D::Positive: Verdict<Rule, D, D> {}

/// The pool padding `Self` is at most half the window `K` (`P ≤ ⌊K / 2⌋`, PyTorch's rule);
/// otherwise [`PoolPadding`]'s error, in decimal.
///
/// ```
/// use shaped::rules::PoolPad;
/// use shaped::{U0, U1, U2, U3, U5};
/// use static_assertions::{assert_impl_all, assert_not_impl_any};
/// assert_impl_all!(U1: PoolPad<U3>); // a 3 × 3 window takes a padding of 1
/// assert_impl_all!(U2: PoolPad<U5>);
/// assert_impl_all!(U0: PoolPad<U1>);
/// assert_not_impl_any!(U2: PoolPad<U3>); // a window could lie wholly in the padding
/// ```
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
///
/// ```
/// use shaped::rules::{Anchor, AffineInput, AtBatch, DimEq};
/// use shaped::{Dim, Dyn, Tensor, U3, U8};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(<U8 as Anchor<U3>>::Out, U3);
/// assert_type_eq_all!(<Dyn as Anchor<U3>>::Out, U3);
///
/// // A rule stated on `AtBatch<N, D>` is decided once `N` is known, as the layers state theirs.
/// fn features<N: Dim, D: Dim>(x: &Tensor<(N, D)>) -> usize
/// where
///     AtBatch<N, D>: DimEq<U3, AffineInput>,
/// {
///     x.dims()[1]
/// }
/// assert_eq!(features(&Tensor::<(U8, U3)>::zeros()), 3);
/// ```
pub trait Anchor<T> {
    /// `T`.
    type Out;
}
impl<N: crate::dims::Dim, T> Anchor<T> for N {
    type Out = T;
}
/// `T`, known once the batch `N` is (see [`Anchor`]).
///
/// ```
/// use shaped::rules::AtBatch;
/// use shaped::{Dyn, U4, U784};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(AtBatch<U4, U784>, U784);
/// assert_type_eq_all!(AtBatch<Dyn, U784>, U784);
/// ```
pub type AtBatch<N, T> = <N as Anchor<T>>::Out;

/// `T`, as seen from any type `X` (a random generator, say): the same deferral as [`Anchor`]
/// for rules that have no batch at hand, such as the non-zero sizes checked by `Init`.
///
/// ```
/// use shaped::rand::rngs::StdRng;
/// use shaped::rules::AnchorAny;
/// use shaped::U16;
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(<StdRng as AnchorAny<U16>>::Out, U16);
/// assert_type_eq_all!(<str as AnchorAny<U16>>::Out, U16); // any type, sized or not
/// ```
pub trait AnchorAny<T> {
    /// `T`.
    type Out;
}
impl<X: ?Sized, T> AnchorAny<T> for X {
    type Out = T;
}
/// `T`, known once `X` is (see [`AnchorAny`]).
///
/// ```
/// use shaped::rand::{rngs::StdRng, Rng};
/// use shaped::rules::{AffineNonZero, NonZero, Via};
/// use shaped::{ConstDim, U4};
/// use static_assertions::assert_type_eq_all;
/// assert_type_eq_all!(Via<StdRng, U4>, U4);
///
/// // Checked once the generator's type is known, as `Init` checks a layer's sizes.
/// fn draws<D: ConstDim, R: Rng>(rng: &mut R) -> Vec<f32>
/// where
///     Via<R, D>: NonZero<AffineNonZero>,
/// {
///     (0..D::SIZE).map(|_| rng.random()).collect()
/// }
/// let mut rng = shaped::rand::SeedableRng::seed_from_u64(0);
/// assert_eq!(draws::<U4, StdRng>(&mut rng).len(), 4);
/// ```
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
