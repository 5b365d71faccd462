//! Tensors whose dimensions are types, and layers whose forward and backward passes only
//! compile when the shapes match.
//!
//! New here? The [`guide`] walks through defining a model, training it, saving it for PyTorch,
//! writing a layer of your own and reading a shape error; `use shaped::prelude::*` brings in
//! what it uses.
//!
//! A map of the crate, bottom up:
//!
//! - **dims** ([`dims`]): every dimension is a `typenum` unsigned (`U4`, `U784`), re-exported
//!   here, or [`Dyn`], a size known at run time (a batch of any size), with the named shape
//!   arithmetic.
//! - **shapes** ([`Shape`]): tuples of dims, rank 1 to 6, row-major; every tuple of dims is a
//!   shape, so generic code needs `N: Dim` and no bound per tensor.
//! - **tensors** ([`Tensor`]): heap storage whose length is fixed at construction; static
//!   shapes store no sizes.
//! - **rules** ([`rules`]): every shape rule a user can break has a name and a readable error,
//!   for example `shape mismatch in Affine input: expected _784 features (DI), found _100`, and
//!   so has a parameter of the wrong shape given to a layer's constructor ([`rules::ParamIs`]):
//!   `shape mismatch in Affine weight: expected (_4, _3) (DO, DI), found (_3, _4): …`.
//! - **tensor arithmetic**: [`Tensor::add`], [`Tensor::sub`], [`Tensor::mul`] (and `&a + &b`,
//!   `a += &b`, …) between tensors of one shape, [`Tensor::scale`], [`Tensor::sum`],
//!   [`Tensor::mean`], [`Tensor::argmax`] over the last dim, [`Tensor::row`].
//! - **layers**: [`Affine`] (`Y = X·Wᵀ + b`), [`ReLU`], [`Conv`] (strided, padded, NCHW, its
//!   output size computed by the compiler: [`ConvOut`]), [`Conv2d`] (PyTorch's other options:
//!   dilation, groups and depthwise, [`NoBias`]), [`MaxPool2d`], [`AvgPool2d`], their per-axis
//!   padded forms [`MaxPool2dHW`] and [`AvgPool2dHW`], [`GlobalAvgPool`], [`Flatten`],
//!   [`BatchNorm2d`] and [`BatchNorm1d`] (batch statistics in training, running statistics in
//!   evaluation), each with a typed `backward`; residual blocks [`Residual`] (`x + block(x)`, the
//!   block's shape checked by the compiler) and [`Projected`] (`shortcut(x) + block(x)`); the
//!   activations [`LeakyReLU`], [`Sigmoid`], [`Tanh`], [`GELU`], [`SiLU`], and [`softmax`] /
//!   [`log_softmax`] over the last dim.
//! - **layers of your own**: [`Elementwise`] and [`elementwise!`] make an activation from its
//!   scalar function and derivative; [`params!`] writes the parameter plumbing of a layer
//!   whose parameters are named fields (see the [`guide`]).
//! - **models** ([`module`]): a tuple of layers is a model. [`Module::forward_train`] and
//!   [`Module::backward_train`] work in buffers the caller keeps ([`Module::Work`]) and add into
//!   gradients shaped like the model ([`Params::zero_grads`]), so a training step allocates
//!   nothing once its buffers exist; [`Dropout`] draws its masks from a seeded [`Context`].
//!   State that is saved but not trained (running statistics) is visited apart, by
//!   [`Tensors::visit_buffers`].
//! - **data** ([`data`]): labelled data of any length, in batches with a `Dyn` batch dim.
//! - **training**: losses ([`softmax_cross_entropy`], [`mse`]), optimizers ([`Sgd`],
//!   [`Adam`]), PyTorch's initialisation ([`Init`]), safetensors with PyTorch's names ([`io`]).
//! - **threads**: large passes run on every core through the crate's own helper threads, which
//!   a pass never waits for; [`set_num_threads`] caps them (results do not depend on it).
//!
//! ```
//! use shaped::{Affine, ReLU, Tensor, typenum::{U2, U3, U4}};
//! let layer = Affine::<U3, U2>::new(Tensor::full(0.5), Tensor::zeros());
//! let x = Tensor::<(U4, U3)>::full(1.0);
//! let y = ReLU.forward(&layer.forward(&x)); // Tensor<(U4, U2)>, inferred
//! let dy = Tensor::<(U4, U2)>::full(1.0);
//! let (dx, grads) = layer.backward(&x, &ReLU.backward(&layer.forward(&x), &dy));
//! assert_eq!(y.as_slice(), &[1.5; 8]);
//! assert_eq!(grads.weight.as_slice(), &[4.0; 6]);
//! assert_eq!(dx.as_slice(), &[1.0; 12]);
//! ```
//!
//! A training step generic over the model and the batch needs one bound on the model and
//! `N: Dim`, nothing per tensor:
//!
//! ```
//! use shaped::rand::{rngs::StdRng, SeedableRng};
//! use shaped::{softmax_cross_entropy_into, typenum::*, Adam, Affine, Context, Dim, Dyn};
//! use shaped::{Gradients, Init, Module, Params, ReLU, Tensor};
//!
//! /// What a step keeps across steps.
//! struct Trainer<M: Module<f32, Tensor<(N, U4)>>, N: Dim> {
//!     work: M::Work,
//!     grads: M::Grads,
//!     dlogits: M::Out,
//!     /// Kept, not made anew each step: its generator moves on, so dropout masks differ
//!     /// from step to step and a run is fixed by the one seed.
//!     ctx: Context,
//! }
//!
//! fn step<M, N>(
//!     model: &mut M,
//!     t: &mut Trainer<M, N>,
//!     opt: &mut Adam<M>,
//!     x: &Tensor<(N, U4)>,
//!     labels: &[usize],
//! ) -> f32
//! where
//!     M: Module<f32, Tensor<(N, U4)>, Out = Tensor<(N, U3)>>,
//!     N: Dim,
//! {
//!     let logits = model.forward_train(x, &mut t.work, &mut t.ctx);
//!     let loss = softmax_cross_entropy_into(logits, labels, &mut t.dlogits).expect("labels");
//!     t.grads.zero();
//!     model.backward_train(x, &t.dlogits, &mut t.work, &mut t.grads, false);
//!     opt.step(model, &t.grads);
//!     loss
//! }
//!
//! type Mlp = (Affine<U4, U8>, ReLU, Affine<U8, U3>);
//! let mut model = Mlp::init(&mut StdRng::seed_from_u64(0));
//! let mut opt = Adam::new(1e-2)?;
//! let rows = Tensor::<(Dyn, U4)>::from_vec(vec![0.5; 3 * 4])?; // 3 rows, counted at run time
//! let mut t = Trainer {
//!     work: Default::default(),
//!     grads: model.zero_grads(),
//!     dlogits: Tensor::default(),
//!     ctx: Context::new(0),
//! };
//! for _ in 0..3 {
//!     step(&mut model, &mut t, &mut opt, &rows, &[1, 1, 0]);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod data;
pub mod dims;
mod direct;
mod gemm;
pub mod guide;
pub mod init;
pub mod io;
pub mod layers;
pub mod loss;
pub mod module;
mod ops;
pub mod optim;
mod par;
pub mod prelude;
mod rows;
pub mod rules;
mod shape;
mod tensor;

pub use dims::*;
pub use init::{Generator, Init, Seeded};
pub use layers::activation::{
    log_softmax, log_softmax_into, softmax, softmax_into, Elementwise, LeakyReLU, SiLU, Sigmoid,
    Tanh, GELU,
};
pub use layers::affine::{Affine, AffineGrads, AffineRows};
pub use layers::batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d, BatchNormGrads, BatchNormInput};
pub use layers::conv::{Bias, Conv, Conv2d, Conv2dGrads, ConvBias, ConvGrads, NoBias};
pub use layers::dropout::Dropout;
pub use layers::flatten::Flatten;
pub use layers::pool::{AvgPool2d, AvgPool2dHW, GlobalAvgPool, MaxPool2d, MaxPool2dHW};
pub use layers::relu::ReLU;
pub use layers::residual::{Projected, ProjectedGrads, Residual, ResidualGrads};
pub use loss::{mse, mse_into, softmax_cross_entropy, softmax_cross_entropy_into, LabelError};
pub use module::{Buffer, BufferMut, Context, Gradients, LayerWork, Module, Params, Tensors};
pub use optim::{Adam, OptimizerState, SettingError, Sgd};
pub use par::{num_threads, set_num_threads};
/// The `rand` the crate draws with ([`Init`], [`Context`], [`data::Dataset::shuffle`]): use it
/// for your own generators so that both agree on the version.
pub use rand;
pub use shape::{ConstShape, Count, Shape};
pub use tensor::{Element, ShapeError, Tensor};
pub use typenum;
