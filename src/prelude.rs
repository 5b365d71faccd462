//! The traits a model's methods come from, and the sizes: `use shaped::prelude::*;` and
//! `model.infer(&x)`, `Cnn::seeded(0)`, `grads.zero()` and `U784` are all in scope.
//!
//! ```
//! use shaped::prelude::*;
//! let model = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::seeded(0);
//! let y = model.infer(&Tensor::<(Dyn, U4)>::from_vec(vec![1.0; 8])?);
//! assert_eq!(y.dims(), [2, 2]);
//!
//! // A size without a name: a product, or what `Flatten` makes of a convolution's output.
//! type Head = Affine<Flat<U2, U7, U7>, Prod<U2, U5>>;
//! assert_eq!(Head::seeded(0).weight.dims(), [10, 98]);
//! # Ok::<(), shaped::ShapeError>(())
//! ```

#[doc(no_inline)]
pub use crate::typenum::consts::*;
/// Sizes without a name: `Prod<U32, U49>`, `Flat<U32, U7, U7>` (a convolution's output,
/// flattened).
#[doc(no_inline)]
pub use crate::{typenum::Prod, Flat};
#[doc(no_inline)]
pub use crate::{
    Affine, AvgPool2d, BatchNorm1d, BatchNorm2d, Context, Conv, Dim, Dropout, Dyn, Flatten,
    Gradients, Init, MaxPool2d, Module, Params, Projected, ReLU, Residual, Seeded, Tensor, Tensors,
};
#[doc(no_inline)]
pub use crate::{AvgPool2dHW, Bias, Conv2d, GlobalAvgPool, MaxPool2dHW, NoBias};
pub use crate::{Elementwise, LeakyReLU, SiLU, Sigmoid, Tanh, GELU};
