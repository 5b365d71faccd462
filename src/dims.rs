//! Dimensions as types: typenum's unsigned numbers, and the named shape arithmetic.
//!
//! `U1`, `U784`, … are re-exported from [`typenum::consts`], so `use shaped::dims::*` (or
//! `use shaped::*`) brings them into scope.

pub use typenum::consts::*;
pub use typenum::Unsigned;
