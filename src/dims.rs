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
