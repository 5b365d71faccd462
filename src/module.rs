//! Models as compositions of layers: a tuple of layers is a layer.
//!
//! `(Conv<..>, ReLU, MaxPool2d<U2>, Flatten, Affine<..>, ReLU, Affine<..>)` is a model. Its
//! forward pass checks every junction with the rule of the layer on the receiving side, so a
//! mis-wired model does not compile: the error's first line names the rule and both dims, and a
//! note names the layer by its index in the tuple, counted from 0 as PyTorch's `nn.Sequential`
//! counts (`model.4`, saved as `4.weight`):
//!
//! ```text
//! error[E0277]: shape mismatch in Affine input: expected _256 features (DI), found _1<_024>
//!   …
//!   = note: required for `Affine<…>` to implement `Layer4<f32, Tensor<…>>`
//! ```
//!
//! ([`Layer4`]: the layer at index 4 does not accept the output of layer 3.)
//!
//! A tuple of 1 to 12 layers is a model, and a model is a layer: nest tuples for longer models,
//! `((conv, relu, pool), (flatten, affine))`, whose parameters are named as in PyTorch's nested
//! `nn.Sequential` (`"0.0.weight"`, `"1.1.bias"`).
//!
//! A training step owns no memory of its own: everything it needs lives in values the caller
//! keeps across steps, so after the first step of a given batch size a step makes no heap
//! allocation:
//!
//! - the model (its parameters, and state that training changes);
//! - its [`Module::Work`]: the outputs of every layer, what the backward pass needs (pooling
//!   indices, the lowered convolution input, dropout masks) and the gradients flowing down,
//!   grown on first use and reused;
//! - its gradients ([`Params::zero_grads`]), a value shaped like the parameters that every
//!   backward pass adds into, as PyTorch's `.grad` does;
//! - the optimizer's state, typed the same way;
//! - a [`Context`]: the seeded random generator of layers such as [`Dropout`](crate::Dropout).
//!
//! ```
//! use shaped::{softmax_cross_entropy_into, typenum::*, Adam, Affine, Context, Dyn, Gradients};
//! use shaped::{Init, Module, Params, ReLU, Tensor};
//! use shaped::rand::{rngs::StdRng, SeedableRng};
//!
//! type Mlp = (Affine<U4, U8>, ReLU, Affine<U8, U3>);
//! let mut model = Mlp::init(&mut StdRng::seed_from_u64(0));
//! let mut work = Default::default(); // the step's buffers, grown on first use
//! let mut grads = model.zero_grads(); // shaped like the parameters
//! let mut dlogits = Tensor::default(); // the loss gradient, reused
//! let mut opt = Adam::new(1e-2)?;
//! let mut ctx = Context::new(0);
//! let x = Tensor::<(Dyn, U4)>::from_vec(vec![0.5; 2 * 4])?;
//! for _ in 0..3 {
//!     let logits = model.forward_train(&x, &mut work, &mut ctx);
//!     let loss = softmax_cross_entropy_into(logits, &[0, 2], &mut dlogits)?;
//!     grads.zero();
//!     model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
//!     opt.step(&mut model, &grads);
//!     assert!(loss.is_finite());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand::{rngs::StdRng, SeedableRng};

use crate::rules::GradOf;
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// A value made of tensors of `E`, visited in a fixed order under PyTorch's names: a layer's
/// parameters, its gradients, an optimizer's moments.
///
/// Optimizers step through the tensors by index, [`io`](crate::io) saves them by name; code of
/// your own can do either:
///
/// ```
/// use shaped::{typenum::*, Affine, BatchNorm1d, Buffer, BufferMut, Seeded, Tensors};
/// let mut model = <(Affine<U2, U3>, BatchNorm1d<U3>)>::seeded(0);
/// assert_eq!(model.count(), 4); // 0.weight, 0.bias, 1.weight, 1.bias
/// assert_eq!(model.tensor(2), &[1.0; 3]); // BatchNorm's γ starts at 1
/// model.tensor_mut(1).fill(0.5);
/// assert_eq!(model.0.bias.as_slice(), &[0.5; 3]);
///
/// let mut names = Vec::new();
/// model.visit("", &mut |name, dims, _| names.push(format!("{name} {dims:?}")));
/// assert_eq!(names, ["0.weight [3, 2]", "0.bias [3]", "1.weight [3]", "1.bias [3]"]);
/// // Doubles every parameter; an error would stop the walk and be returned.
/// model.visit_mut("", &mut |_, _, values| {
///     values.iter_mut().for_each(|v| *v *= 2.0);
///     Ok::<(), String>(())
/// })?;
/// assert_eq!(model.tensor(2), &[2.0; 3]);
///
/// // Buffers: saved with the parameters, never trained.
/// let mut buffers = Vec::new();
/// model.visit_buffers("", &mut |name, _, values| {
///     buffers.push(format!("{name}{}", if let Buffer::Int64(_) = values { " (i64)" } else { "" }))
/// });
/// assert_eq!(buffers, ["1.running_mean", "1.running_var", "1.num_batches_tracked (i64)"]);
/// model.visit_buffers_mut("", &mut |_, _, values| {
///     if let BufferMut::Int64(count) = values {
///         count[0] = 7;
///     }
///     Ok::<(), String>(())
/// })?;
/// assert_eq!(model.1.num_batches_tracked, 7);
/// # Ok::<(), String>(())
/// ```
pub trait Tensors<E: Element> {
    /// The number of tensors.
    fn count(&self) -> usize;

    /// The elements of tensor `i` (in [`Tensors::visit`] order).
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Tensors::count`].
    fn tensor(&self, i: usize) -> &[E];

    /// The elements of tensor `i`, mutable.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Tensors::count`].
    fn tensor_mut(&mut self, i: usize) -> &mut [E];

    /// Calls `f(name, dims, values)` for every tensor, in order, with PyTorch's names
    /// (`"weight"`, `"bias"`; `"3.weight"` for the fourth layer of a model, as in
    /// `nn.Sequential`).
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E]));

    /// Calls `f(name, dims, values)` for every tensor, mutably, in the order of
    /// [`Tensors::visit`]; stops at the first error.
    fn visit_mut<Err>(
        &mut self,
        prefix: &str,
        f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
    ) -> Result<(), Err>;

    /// Calls `f(name, dims, values)` for every buffer: state that is saved and loaded with the
    /// parameters but never trained, such as [`BatchNorm2d`](crate::BatchNorm2d)'s
    /// `running_mean`, `running_var` and `num_batches_tracked` (PyTorch's buffers, under
    /// PyTorch's names). Buffers are not among the [`Tensors::count`] tensors that gradients
    /// and optimizers step through by index. None by default.
    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], Buffer<'_, E>)) {
        let _ = (prefix, f);
    }

    /// Calls `f(name, dims, values)` for every buffer, mutably, in the order of
    /// [`Tensors::visit_buffers`]; stops at the first error. None by default.
    fn visit_buffers_mut<Err>(
        &mut self,
        prefix: &str,
        f: &mut dyn FnMut(&str, &[usize], BufferMut<'_, E>) -> Result<(), Err>,
    ) -> Result<(), Err> {
        let _ = (prefix, f);
        Ok(())
    }
}

/// The values of one buffer ([`Tensors::visit_buffers`]): of the model's element type, or
/// 64-bit integers (PyTorch's `int64` counters such as `num_batches_tracked`).
///
/// ```
/// use shaped::{typenum::*, BatchNorm2d, Buffer, Tensors};
/// let bn = BatchNorm2d::<U2>::new();
/// let mut seen = Vec::new();
/// bn.visit_buffers("", &mut |name, dims, values| match values {
///     Buffer::Float(v) => seen.push(format!("{name}: {v:?}")),
///     Buffer::Int64(v) => seen.push(format!("{name}: {v:?} of dims {dims:?}")),
/// });
/// assert_eq!(
///     seen,
///     [
///         "running_mean: [0.0, 0.0]",
///         "running_var: [1.0, 1.0]",
///         "num_batches_tracked: [0] of dims []",
///     ]
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Buffer<'a, E> {
    /// Values of the model's element type (`running_mean`, `running_var`).
    Float(&'a [E]),
    /// 64-bit integers, saved as safetensors' `I64` (`num_batches_tracked`).
    Int64(&'a [i64]),
}

/// The values of one buffer, mutable ([`Tensors::visit_buffers_mut`]).
///
/// ```
/// use shaped::{typenum::*, BatchNorm1d, BufferMut, Tensor, Tensors};
/// let mut bn = BatchNorm1d::<U2>::new();
/// bn.running_mean = Tensor::full(3.0);
/// bn.num_batches_tracked = 40;
/// // Resets the running statistics, as PyTorch's `reset_running_stats`.
/// bn.visit_buffers_mut("", &mut |name, _, values| {
///     match values {
///         BufferMut::Float(v) => v.fill(if name == "running_var" { 1.0 } else { 0.0 }),
///         BufferMut::Int64(v) => v.fill(0),
///     }
///     Ok::<(), String>(())
/// })?;
/// assert_eq!(bn, BatchNorm1d::<U2>::new());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, PartialEq)]
pub enum BufferMut<'a, E> {
    /// Values of the model's element type.
    Float(&'a mut [E]),
    /// 64-bit integers.
    Int64(&'a mut [i64]),
}

/// Something with parameters (possibly none): a layer, or a tuple of layers.
///
/// ```
/// use shaped::{typenum::*, Affine, AffineGrads, Params, ReLU, Seeded, Tensors};
/// let model = <(Affine<U4, U3>, ReLU)>::seeded(0);
/// let grads: (AffineGrads<U4, U3>, ()) = model.zero_grads(); // ReLU has none: `()`
/// assert_eq!(grads.0.weight.dims(), [3, 4]);
/// assert_eq!(grads.count(), model.count()); // a gradient per parameter tensor, in order
/// assert!(grads.0.weight.as_slice().iter().all(|&g| g == 0.0));
///
/// /// The number of parameters of any model.
/// fn num_params<M: Params<f32>>(model: &M) -> usize {
///     (0..model.count()).map(|i| model.tensor(i).len()).sum()
/// }
/// assert_eq!(num_params(&model), 4 * 3 + 3);
/// ```
pub trait Params<E: Element>: Tensors<E> {
    /// The gradients of every parameter, in a value shaped like the parameters: `()` for a
    /// layer without parameters, a tuple of the layers' gradients for a model.
    type Grads: Gradients<E> + Clone + core::fmt::Debug + PartialEq + Send + Sync;

    /// Gradients of zero, shaped like the parameters: allocate once, then let every backward
    /// pass add into them.
    fn zero_grads(&self) -> Self::Grads;
}

/// Operations on a value of gradients (or any [`Tensors`]): zeroing, scaling, clipping.
///
/// ```
/// use shaped::{typenum::*, Affine, Gradients, Params, Tensor};
/// let layer = Affine::<U2, U1>::new(Tensor::zeros(), Tensor::zeros());
/// let mut g = layer.zero_grads();
/// g.weight.as_mut_slice().copy_from_slice(&[3.0, 0.0]);
/// g.bias.as_mut_slice()[0] = 4.0;
/// assert_eq!(g.global_norm(), 5.0);
/// assert_eq!(g.clip_global_norm(1.0), 5.0); // returns the norm before clipping
/// assert!((g.weight.as_slice()[0] - 0.6).abs() < 1e-6); // 3 · 1 / (5 + 1e-6)
/// g.scale(10.0);
/// assert!((g.bias.as_slice()[0] - 8.0).abs() < 1e-5);
/// g.zero();
/// assert_eq!(g.global_norm(), 0.0);
/// ```
pub trait Gradients<E: Element>: Tensors<E> {
    /// Sets every element to zero (PyTorch's `zero_grad`).
    fn zero(&mut self) {
        for i in 0..self.count() {
            crate::par::fill(self.tensor_mut(i), E::zero());
        }
    }

    /// Multiplies every element by `factor` (for example `1 / batches` after accumulating).
    fn scale(&mut self, factor: E) {
        for i in 0..self.count() {
            self.tensor_mut(i).iter_mut().for_each(|v| *v *= factor);
        }
    }

    /// The L2 norm of all elements together.
    fn global_norm(&self) -> E {
        let mut sum = E::zero();
        for i in 0..self.count() {
            sum += self.tensor(i).iter().map(|&v| v * v).sum::<E>();
        }
        sum.sqrt()
    }

    /// Scales every element so that the global norm is at most `max_norm` (PyTorch's
    /// `clip_grad_norm_`, with its `1e-6` guard), and returns the norm before clipping.
    fn clip_global_norm(&mut self, max_norm: E) -> E {
        let norm = self.global_norm();
        let guard = E::from_f64(1e-6).unwrap_or_else(E::epsilon);
        let factor = max_norm / (norm + guard);
        if factor < E::one() {
            self.scale(factor);
        }
        norm
    }
}
impl<E: Element, T: Tensors<E> + ?Sized> Gradients<E> for T {}

/// What a training pass draws on besides its input: a seeded random generator (dropout
/// masks), so that the same seed gives the same step.
///
/// ```
/// use shaped::{typenum::*, Context, Dropout, Module, Tensor};
/// let x = Tensor::<(U2, U8)>::full(1.0);
/// let mut layer = Dropout::new(0.5)?;
/// let (mut a, mut b) = (Default::default(), Default::default());
/// let ya = layer.forward_train(&x, &mut a, &mut Context::new(3)).clone();
/// let yb = layer.forward_train(&x, &mut b, &mut Context::new(3));
/// assert_eq!(&ya, yb); // the same seed, the same mask
/// # Ok::<(), shaped::SettingError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    rng: StdRng,
}

impl Context {
    /// A context whose random generator is seeded with `seed`.
    ///
    /// ```
    /// use shaped::{rand::Rng, Context};
    /// let (mut a, mut b) = (Context::new(42), Context::new(42));
    /// assert_eq!(a.rng().random::<u64>(), b.rng().random::<u64>());
    /// assert_ne!(a.rng().random::<u64>(), Context::new(43).rng().random::<u64>());
    /// ```
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The context of step `step` of a run seeded with `seed`: its generator is keyed by both
    /// (the two as the 32-byte seed of the generator, the rest zero), so step `step` draws the
    /// same dropout masks whether or not the run was saved and resumed before it.
    ///
    /// A context kept across steps cannot be saved (its generator's state is not readable), so
    /// a run that resumes from a save with a fresh [`Context::new`] draws the first steps'
    /// masks again, and differs from one that never stopped. A run that makes its context
    /// with `for_step` every step, and saves the step number beside the model and optimizer
    /// (`Adam::steps` counts them), resumes bit for bit. Making one costs no allocation.
    ///
    /// ```
    /// use shaped::{rand::Rng, Context};
    /// let draw = |seed, step| Context::for_step(seed, step).rng().random::<u64>();
    /// assert_eq!(draw(7, 3), draw(7, 3)); // the same step of the same run
    /// assert_ne!(draw(7, 3), draw(7, 4)); // another step
    /// assert_ne!(draw(7, 3), draw(8, 3)); // another run
    /// ```
    pub fn for_step(seed: u64, step: u64) -> Self {
        let mut key = [0; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&step.to_le_bytes());
        Self {
            rng: StdRng::from_seed(key),
        }
    }

    /// The random generator.
    ///
    /// For a layer of your own that draws in training, as [`Dropout`](crate::Dropout) does:
    ///
    /// ```
    /// use shaped::{rand::Rng, Context};
    /// let mut ctx = Context::new(0);
    /// let noise: Vec<f32> = (0..4).map(|_| ctx.rng().random_range(-0.1..0.1)).collect();
    /// assert!(noise.iter().all(|v| v.abs() < 0.1));
    /// ```
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

/// The buffers of one layer's training step: its output (shape `Y`), the gradient it passes
/// down (shape `X`, the input's), and what its backward pass keeps (`Keep`: pooling indices, a
/// dropout mask, a ReLU's bits of where the gradient passes, a convolution's lowered input).
/// Grown on first use, then reused.
///
/// The `Work` of most layers; a layer of your own uses it so (see the
/// [guide](crate::guide#write-a-layer-of-your-own)):
///
/// ```
/// use shaped::{typenum::*, Context, LayerWork, Module, ReLU, Tensor};
/// let x = Tensor::<(U2, U3)>::from_vec(vec![-1.0, 2.0, -3.0, 4.0, -5.0, 6.0])?;
/// // A ReLU keeps one bit per element (64 to a word): where its gradient passes.
/// let mut work: LayerWork<(U2, U3), (U2, U3), f32, Vec<u64>> = LayerWork::default();
/// ReLU.forward_train(&x, &mut work, &mut Context::new(0));
/// assert_eq!(work.out.as_slice(), &[0.0, 2.0, 0.0, 4.0, 0.0, 6.0]); // the output, kept
/// assert_eq!(work.keep, vec![0b101010]); // elements 1, 3 and 5 pass the gradient
/// ReLU.backward_train(&x, &Tensor::<(U2, U3)>::full(1.0), &mut work, &mut (), true);
/// assert_eq!(work.dx.as_slice(), &[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]); // the gradient passed down
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub struct LayerWork<X, Y, E, Keep = ()> {
    /// The output of the last forward pass.
    pub out: Tensor<Y, E>,
    /// The gradient passed down by the last backward pass.
    pub dx: Tensor<X, E>,
    /// What the backward pass needs from the forward pass.
    pub keep: Keep,
}
impl<X: Shape, Y: Shape, E: Element, Keep: Default> Default for LayerWork<X, Y, E, Keep> {
    fn default() -> Self {
        Self {
            out: Tensor::default(),
            dx: Tensor::default(),
            keep: Keep::default(),
        }
    }
}

/// A layer or model from `In` to [`Module::Out`].
///
/// A model (a tuple of layers) is used through it: evaluated with [`Module::infer`], trained
/// with [`Module::forward_train`] and [`Module::backward_train`] in buffers kept across steps.
/// A layer of your own implements it: see the
/// [guide](crate::guide#write-a-layer-of-your-own).
///
/// ```
/// use shaped::{typenum::*, Affine, Context, Module, Params, ReLU, Seeded, Tensor};
/// type Mlp = (Affine<U3, U4>, ReLU, Affine<U4, U2>);
/// let mut model = Mlp::seeded(0);
/// let x = Tensor::<(U2, U3)>::full(1.0);
/// let y: Tensor<(U2, U2)> = model.infer(&x); // a new tensor
///
/// let mut work = Default::default(); // every layer's buffers
/// let mut grads = model.zero_grads();
/// let out: &Tensor<(U2, U2)> = model.forward_train(&x, &mut work, &mut Context::new(0));
/// assert_eq!(out, &y); // no dropout, no batch norm: the same values
/// let dy = Tensor::<(U2, U2)>::full(1.0);
/// let dx: Option<&Tensor<(U2, U3)>> = model.backward_train(&x, &dy, &mut work, &mut grads, true);
/// assert_eq!(dx.map(|d| d.dims()), Some([2, 3]));
/// assert_eq!(grads.2.bias.as_slice(), &[2.0, 2.0]); // Σ over the batch of dy
/// assert_eq!(<Mlp as Module<f32, Tensor<(U2, U3)>>>::output(&work), &y);
/// ```
pub trait Module<E: Element, In>: Params<E> {
    /// The output tensor type.
    type Out;
    /// The buffers of a training step: this layer's output, what its backward pass needs and
    /// the gradient it passes down, grown on first use (static shapes: at once) and reused.
    type Work: Default + Send;

    /// The forward pass alone, for evaluation: dropout is the identity, running statistics
    /// are used and left as they are. Returns a new tensor.
    fn infer(&self, x: &In) -> Self::Out;

    /// The training forward pass: may update the layer's state, draws randomness from `ctx`,
    /// and writes its output (and what the backward pass needs) into `work`, returning the
    /// output.
    fn forward_train<'w>(
        &mut self,
        x: &In,
        work: &'w mut Self::Work,
        ctx: &mut Context,
    ) -> &'w Self::Out;

    /// The backward pass after [`Module::forward_train`] on the same `x` and `work`: adds
    /// `∂L/∂params` into `grads` (as PyTorch accumulates `.grad`) and, when `input_grad`,
    /// writes `∂L/∂x` into `work` and returns it (a first layer, whose input is data, skips it).
    ///
    /// `dy` is a tensor of the output's type (`How` is inferred: nothing to write). A tensor of
    /// another shape does not compile, with an error that names both shapes:
    ///
    /// ```text
    /// error[E0277]: shape mismatch in backward_train grad_output: expected (_32, _10) (the output's shape), found (_32, _2)
    /// ```
    ///
    /// ([`ModelGradOutput`](crate::rules::ModelGradOutput); a [`Dyn`](crate::Dyn) dim where the
    /// output's is static is [`ModelGradOutputType`](crate::rules::ModelGradOutputType).) Give
    /// `dy` a type when nothing else fixes it (`Tensor::<(U2, U3)>::full(1.0)`, not
    /// `Tensor::full(1.0)`): a loss such as
    /// [`softmax_cross_entropy_into`](crate::softmax_cross_entropy_into) fixes it.
    ///
    /// Provided: it calls [`Module::backward_exact`], which is what a layer implements.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of `dy` differs from the output's (a gradient of another
    /// batch), with the rule's message: `shape mismatch in … grad_output: expected …, found …`.
    #[track_caller]
    fn backward_train<'w, D, How>(
        &self,
        x: &In,
        dy: &D,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w In>
    where
        D: GradOf<Self::Out, How>,
    {
        self.backward_exact(x, dy.grad(), work, grads, input_grad)
    }

    /// What a layer implements for [`Module::backward_train`]: the same pass, with `dy` of
    /// exactly the output's type. Call [`Module::backward_train`], which checks the gradient's
    /// shape with a named rule and calls this.
    ///
    /// # Panics
    ///
    /// As [`Module::backward_train`].
    fn backward_exact<'w>(
        &self,
        x: &In,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w In>;

    /// The output the last [`Module::forward_train`] left in `work`.
    fn output(work: &Self::Work) -> &Self::Out;
}

/// Implements [`Tensors`] and [`Params`] for a layer without parameters: no tensors, and `()`
/// for its gradients. A generic layer lists its type parameters after a `;`.
///
/// Then write its [`Module`] impl (see the [guide](crate::guide#write-a-layer-of-your-own)), and
/// an [`Init`](crate::Init) impl if models holding it are to be built by
/// [`Seeded::seeded`](crate::Seeded::seeded). An element-wise layer needs none of that: see
/// [`Elementwise`](crate::Elementwise) and [`elementwise!`](crate::elementwise).
///
/// ```
/// use shaped::{Params, Tensors};
/// use std::marker::PhantomData;
///
/// struct Shuffle;
/// shaped::no_params!(Shuffle);
///
/// struct Window<K>(PhantomData<K>);
/// shaped::no_params!(Window<K>; K);
///
/// assert_eq!(Tensors::<f32>::count(&Shuffle), 0);
/// let () = Params::<f64>::zero_grads(&Window::<u8>(PhantomData));
/// ```
#[macro_export]
macro_rules! no_params {
    ($ty:ty $(; $($g:ident),*)?) => {
        impl<E: $crate::Element $($(, $g)*)?> $crate::Tensors<E> for $ty {
            fn count(&self) -> usize {
                0
            }
            fn tensor(&self, i: usize) -> &[E] {
                panic!("tensor {i} of a layer without parameters")
            }
            fn tensor_mut(&mut self, i: usize) -> &mut [E] {
                panic!("tensor {i} of a layer without parameters")
            }
            fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &[usize], &[E])) {}
            fn visit_mut<Err>(
                &mut self,
                _: &str,
                _: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
            ) -> Result<(), Err> {
                Ok(())
            }
        }
        impl<E: $crate::Element $($(, $g)*)?> $crate::Params<E> for $ty {
            type Grads = ();
            fn zero_grads(&self) {}
        }
    };
}
pub(crate) use crate::no_params;

/// Makes a type that implements [`Elementwise`](crate::Elementwise) a layer: its
/// [`Tensors`] and [`Params`] (none), its [`Module`] impl on tensors of any shape (its output
/// and input gradient kept in a [`LayerWork`], so a training step allocates nothing once
/// sized) and its [`Init`](crate::Init) impl (the type's `Default`, for a type that has
/// one: without it, a model holding the layer is built by hand). A generic layer lists
/// its type parameters after a `;`, as in [`no_params!`](crate::no_params).
///
/// The crate's own activations ([`Sigmoid`](crate::Sigmoid), [`GELU`](crate::GELU), …) are
/// made this way; [`Elementwise`](crate::Elementwise) shows a layer of your own.
///
/// ```
/// use shaped::prelude::*;
/// use shaped::Element;
///
/// /// `y = x³`; `dy/dx = 3x²`.
/// #[derive(Clone, Copy, Debug, Default)]
/// struct Cube;
/// impl Elementwise for Cube {
///     fn value<E: Element>(&self, x: E) -> E {
///         x * x * x
///     }
///     fn derivative<E: Element>(&self, x: E, _y: E) -> E {
///         (x + x + x) * x
///     }
/// }
/// shaped::elementwise!(Cube);
///
/// let model = <(Affine<U2, U2>, Cube)>::seeded(0); // `Init` comes with the macro
/// let y: Tensor<(U1, U2)> = model.infer(&Tensor::<(U1, U2)>::full(1.0));
/// assert_eq!(y.dims(), [1, 2]);
/// ```
#[macro_export]
macro_rules! elementwise {
    ($ty:ty $(; $($g:ident),*)?) => {
        $crate::no_params!($ty $(; $($g),*)?);

        impl<S: $crate::Shape, E: $crate::Element $($(, $g)*)?>
            $crate::Module<E, $crate::Tensor<S, E>> for $ty
        where
            $ty: $crate::Elementwise,
        {
            type Out = $crate::Tensor<S, E>;
            type Work = $crate::LayerWork<S, S, E>;

            fn infer(&self, x: &$crate::Tensor<S, E>) -> $crate::Tensor<S, E> {
                $crate::Elementwise::forward(self, x)
            }

            fn forward_train<'w>(
                &mut self,
                x: &$crate::Tensor<S, E>,
                work: &'w mut Self::Work,
                _: &mut $crate::Context,
            ) -> &'w $crate::Tensor<S, E> {
                $crate::Elementwise::forward_into(self, x, &mut work.out);
                &work.out
            }

            fn backward_exact<'w>(
                &self,
                x: &$crate::Tensor<S, E>,
                dy: &$crate::Tensor<S, E>,
                work: &'w mut Self::Work,
                _: &mut (),
                input_grad: bool,
            ) -> ::core::option::Option<&'w $crate::Tensor<S, E>> {
                $crate::layers::activation::backward_train(self, x, dy, &mut work.dx, input_grad)
            }

            fn output(work: &Self::Work) -> &$crate::Tensor<S, E> {
                &work.out
            }
        }

        impl<R: $crate::rand::Rng + ?Sized $($(, $g)*)?> $crate::Init<R> for $ty
        where
            // Higher-ranked, so that a layer without `Default` still compiles (and cannot be
            // built by `Init`) rather than failing at this impl.
            for<'a> $ty: ::core::default::Default,
        {
            fn init(_: &mut R) -> Self {
                ::core::default::Default::default()
            }
        }
    };
}

/// Implements [`Tensors`] for a layer whose parameters are named tensor fields, the same for
/// its gradients type (a struct with the same fields), and [`Params`] (gradients of zero,
/// shaped like each field). The fields are visited in the order given, under their own
/// names, as PyTorch's `state_dict` names them (`"weight"`, `"bias"`; `"0.weight"` in a model).
///
/// The header is the impl's: its generics (one bound each, or none), the element type, the
/// layer; then the fields, and `=> GradsType` (or `=> Self` for a layer that holds nothing
/// but its parameters and serves as its own gradients type).
///
/// ```
/// use shaped::{Dim, Element, Params, Tensor, Tensors, typenum::*};
///
/// /// `y = x ∘ weight + bias`, per feature.
/// #[derive(Clone, Debug, PartialEq)]
/// struct Diagonal<D: Dim, E> {
///     weight: Tensor<(D,), E>,
///     bias: Tensor<(D,), E>,
/// }
///
/// shaped::params! {
///     impl<D: Dim, E: Element> Params<E> for Diagonal<D, E> { weight, bias } => Self
/// }
///
/// let layer = Diagonal::<U3, f32> { weight: Tensor::full(2.0), bias: Tensor::zeros() };
/// let mut names = Vec::new();
/// layer.visit("0.", &mut |name, dims, _| names.push(format!("{name} {dims:?}")));
/// assert_eq!(names, ["0.weight [3]", "0.bias [3]"]);
/// let grads: Diagonal<U3, f32> = layer.zero_grads();
/// assert_eq!(grads.weight.as_slice(), &[0.0; 3]);
/// ```
///
/// With a gradients type of its own, as the crate's [`Affine`](crate::Affine) has
/// ([`AffineGrads`](crate::AffineGrads)):
///
/// ```
/// # use shaped::{Dim, Element, Params, Tensor, Tensors, typenum::*};
/// #[derive(Clone, Debug, PartialEq)]
/// struct Scale<E> {
///     weight: Tensor<(U1,), E>,
///     frozen: bool, // not a parameter
/// }
/// #[derive(Clone, Debug, PartialEq)]
/// struct ScaleGrads<E> {
///     weight: Tensor<(U1,), E>,
/// }
/// shaped::params! {
///     impl<E: Element> Params<E> for Scale<E> { weight } => ScaleGrads<E>
/// }
/// let layer = Scale { weight: Tensor::<(U1,), f64>::full(3.0), frozen: false };
/// assert_eq!(layer.count(), 1);
/// assert_eq!(layer.zero_grads().tensor(0), &[0.0]);
/// ```
#[macro_export]
macro_rules! params {
    (
        impl $(<$($g:ident $(: $b:path)?),* $(,)?>)? Params<$e:ty> for $ty:ty
        { $($f:ident),* $(,)? } => Self
    ) => {
        impl $(<$($g $(: $b)?),*>)? $crate::Tensors<$e> for $ty {
            $crate::__tensors!($e; $($f),*);
        }
        impl $(<$($g $(: $b)?),*>)? $crate::Params<$e> for $ty {
            type Grads = Self;
            fn zero_grads(&self) -> Self {
                Self { $($f: $crate::Tensor::zeros_with(self.$f.shape())),* }
            }
        }
    };
    (
        impl $(<$($g:ident $(: $b:path)?),* $(,)?>)? Params<$e:ty> for $ty:ty
        { $($f:ident),* $(,)? } => $grads:ident $(<$($ga:ty),* $(,)?>)?
    ) => {
        impl $(<$($g $(: $b)?),*>)? $crate::Tensors<$e> for $ty {
            $crate::__tensors!($e; $($f),*);
        }
        impl $(<$($g $(: $b)?),*>)? $crate::Tensors<$e> for $grads $(<$($ga),*>)? {
            $crate::__tensors!($e; $($f),*);
        }
        impl $(<$($g $(: $b)?),*>)? $crate::Params<$e> for $ty {
            type Grads = $grads $(<$($ga),*>)?;
            fn zero_grads(&self) -> Self::Grads {
                $grads { $($f: $crate::Tensor::zeros_with(self.$f.shape())),* }
            }
        }
    };
}

/// The [`Tensors`] methods of a value whose tensors are the named fields (see
/// [`params!`](crate::params)).
#[doc(hidden)]
#[macro_export]
macro_rules! __tensors {
    ($e:ty; $($f:ident),*) => {
        fn count(&self) -> usize {
            <[&str]>::len(&[$(stringify!($f)),*])
        }

        fn tensor(&self, i: usize) -> &[$e] {
            $crate::__tensors!(@pick self, i, 0usize, as_slice; $($f)*)
        }

        fn tensor_mut(&mut self, i: usize) -> &mut [$e] {
            $crate::__tensors!(@pick self, i, 0usize, as_mut_slice; $($f)*)
        }

        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[$e])) {
            let _ = (&prefix, &f);
            $(
                f(
                    &format!("{prefix}{}", stringify!($f)),
                    self.$f.dims().as_ref(),
                    self.$f.as_slice(),
                );
            )*
        }

        fn visit_mut<Err>(
            &mut self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &[usize], &mut [$e]) -> Result<(), Err>,
        ) -> Result<(), Err> {
            let _ = (&prefix, &f);
            $(
                let dims = self.$f.dims();
                f(
                    &format!("{prefix}{}", stringify!($f)),
                    dims.as_ref(),
                    self.$f.as_mut_slice(),
                )?;
            )*
            Ok(())
        }
    };
    (@pick $s:ident, $i:ident, $n:expr, $as:ident; $f:ident $($rest:ident)*) => {
        if $i == $n {
            $s.$f.$as()
        } else {
            $crate::__tensors!(@pick $s, $i, $n + 1usize, $as; $($rest)*)
        }
    };
    (@pick $s:ident, $i:ident, $n:expr, $as:ident;) => {
        panic!("tensor {} of {} tensors", $i, $n)
    };
}

impl<E: Element> Tensors<E> for () {
    fn count(&self) -> usize {
        0
    }
    fn tensor(&self, i: usize) -> &[E] {
        panic!("tensor {i} of no tensors")
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [E] {
        panic!("tensor {i} of no tensors")
    }
    fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &[usize], &[E])) {}
    fn visit_mut<Err>(
        &mut self,
        _: &str,
        _: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
    ) -> Result<(), Err> {
        Ok(())
    }
}

/// The [`Tensors`] methods of a value whose tensors are `self.weight` and `self.bias`
/// (PyTorch's names).
macro_rules! weight_bias_tensors {
    () => {
        fn count(&self) -> usize {
            2
        }

        fn tensor(&self, i: usize) -> &[E] {
            match i {
                0 => self.weight.as_slice(),
                1 => self.bias.as_slice(),
                _ => panic!("tensor {i} of weight and bias"),
            }
        }

        fn tensor_mut(&mut self, i: usize) -> &mut [E] {
            match i {
                0 => self.weight.as_mut_slice(),
                1 => self.bias.as_mut_slice(),
                _ => panic!("tensor {i} of weight and bias"),
            }
        }

        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E])) {
            f(
                &format!("{prefix}weight"),
                self.weight.dims().as_ref(),
                self.weight.as_slice(),
            );
            f(
                &format!("{prefix}bias"),
                self.bias.dims().as_ref(),
                self.bias.as_slice(),
            );
        }

        fn visit_mut<Err>(
            &mut self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
        ) -> Result<(), Err> {
            let dims = self.weight.dims();
            f(
                &format!("{prefix}weight"),
                dims.as_ref(),
                self.weight.as_mut_slice(),
            )?;
            let dims = self.bias.dims();
            f(
                &format!("{prefix}bias"),
                dims.as_ref(),
                self.bias.as_mut_slice(),
            )
        }
    };
}
pub(crate) use weight_bias_tensors;

// Why a trait per index, and why its associated types are the impl's parameters:
//
// A tuple model requires each layer through the trait of its index (`L2: Layer2<E, M2, Next =
// M3>`), so a layer that does not accept its input fails with the chain note "required for
// `Affine<…>` to implement `Layer2<f32, Tensor<…>>`" under the layer's own rule, and the first
// line stays that rule's. rustc reaches the failing rule by trait selection (`L2: Layer2<…>` ->
// the blanket impl -> `L2: Module<…>`) and by normalizing the layer's `Out` and `Work` (in the
// next junction's input, the model's `Out` and `Work`), and reports whichever fails first, so
// every path must pass through the index. Written as projections in the associated types
// (`type Next = L::Out`), they would be normalized under the caller's cause and their failure
// reported without the index (measured: `forward_train` on a mis-wired `Conv` or `Residual`
// then lost it); bound as the impl's parameters by its where-clause (`L: Module<E, X, Out = Y,
// Work = W>`), they are normalized as obligations of this impl, under the index. The price is
// type-checking time where models are used: 80 nested 12-layer models, each trained and
// evaluated, about 1.0 s before, 2.4 s after; the crate's `cargo check --tests`, 9.0 s -> 9.5 s
// of CPU.
// One trait per index rather than one trait with a const index: rustc hides a chain note whose
// trait it has already shown, so in a nested model the inner `Layer2` and the outer `Layer1`
// are both shown.
macro_rules! layer_index {
    ($($t:ident $i:literal $prev:literal),+) => {$(
        #[doc = concat!(
            "The layer at index ", $i, " of a tuple model, taking `X`: PyTorch's `model.", $i,
            "` in an `nn.Sequential`, whose parameters save as `\"", $i, ".weight\"`.\n\n",
            "A tuple model requires its layers through these traits, so that a layer which does ",
            "not accept its input is named by its index. Under the first line of the error (the ",
            "layer's own shape rule) a note says which layer it is:\n\n",
            "```text\n",
            "error[E0277]: shape mismatch in Affine input: expected _100 features (DI), found _128\n",
            "  …\n",
            "  = note: required for `Affine<…>` to implement `Layer", $i, "<f32, Tensor<…>>`\n",
            "```\n\n",
            "reads: the layer at index ", $i, " of the model (`model.", $i, "`) does not accept ",
            $prev, ". In a nested model the tuple that holds the layer follows with its own index ",
            "(`Layer2`, then `Layer1`, is `model.1.2`).\n\n",
            "Implemented for every [`Module`] of `X`: nothing to implement.",
        )]
        pub trait $t<E: Element, X>: Module<E, X, Out = Self::Next, Work = Self::WorkAt> {
            /// The layer's output, [`Module::Out`].
            type Next;
            /// The layer's buffers, [`Module::Work`].
            type WorkAt: Default + Send;
        }
        impl<E, X, Y, W, L> $t<E, X> for L
        where
            E: Element,
            L: Module<E, X, Out = Y, Work = W>,
            W: Default + Send,
        {
            type Next = Y;
            type WorkAt = W;
        }
    )+};
}
layer_index!(
    Layer0 0 "the model's input",
    Layer1 1 "the output of layer 0",
    Layer2 2 "the output of layer 1",
    Layer3 3 "the output of layer 2",
    Layer4 4 "the output of layer 3",
    Layer5 5 "the output of layer 4",
    Layer6 6 "the output of layer 5",
    Layer7 7 "the output of layer 6",
    Layer8 8 "the output of layer 7",
    Layer9 9 "the output of layer 8",
    Layer10 10 "the output of layer 9",
    Layer11 11 "the output of layer 10"
);

macro_rules! tuple_model {
    ($($l:ident $i:tt $w:ident $a:ident $b:ident $t:ident),+ ; $last:ident) => {
        impl<E: Element, $($l: Tensors<E>),+> Tensors<E> for ($($l,)+) {
            fn count(&self) -> usize {
                0 $(+ self.$i.count())+
            }
            fn tensor(&self, i: usize) -> &[E] {
                let mut i = i;
                $(
                    if i < self.$i.count() {
                        return self.$i.tensor(i);
                    }
                    i -= self.$i.count();
                )+
                panic!("tensor {i} past the last tensor")
            }
            fn tensor_mut(&mut self, i: usize) -> &mut [E] {
                let mut i = i;
                $(
                    if i < self.$i.count() {
                        return self.$i.tensor_mut(i);
                    }
                    i -= self.$i.count();
                )+
                panic!("tensor {i} past the last tensor")
            }
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E])) {
                $( self.$i.visit(&format!("{prefix}{}.", $i), f); )+
            }
            fn visit_mut<Err>(
                &mut self,
                prefix: &str,
                f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
            ) -> Result<(), Err> {
                $( self.$i.visit_mut(&format!("{prefix}{}.", $i), f)?; )+
                Ok(())
            }
            fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], Buffer<'_, E>)) {
                $( self.$i.visit_buffers(&format!("{prefix}{}.", $i), f); )+
            }
            fn visit_buffers_mut<Err>(
                &mut self,
                prefix: &str,
                f: &mut dyn FnMut(&str, &[usize], BufferMut<'_, E>) -> Result<(), Err>,
            ) -> Result<(), Err> {
                $( self.$i.visit_buffers_mut(&format!("{prefix}{}.", $i), f)?; )+
                Ok(())
            }
        }

        impl<E: Element, $($l: Params<E>),+> Params<E> for ($($l,)+) {
            type Grads = ($($l::Grads,)+);
            fn zero_grads(&self) -> Self::Grads {
                ($(self.$i.zero_grads(),)+)
            }
        }

        // Each junction's intermediate type is named (`M1`, `M2`, …) through the previous
        // layer's output, so the next layer's own input rule checks it; each layer is required
        // through the trait of its index (`Layer2`), so that an error names it.
        impl<E: Element, $($l,)+ In, $($b),+> Module<E, In> for ($($l,)+)
        where
            $($l: $t<E, $a, Next = $b>,)+
        {
            type Out = $last;
            type Work = ($(<$l as $t<E, $a>>::WorkAt,)+);

            fn infer(&self, x: &In) -> $last {
                tuple_model!(@infer self, x ; $($i),+)
            }

            fn forward_train<'w>(
                &mut self,
                x: &In,
                work: &'w mut Self::Work,
                ctx: &mut Context,
            ) -> &'w $last {
                let ($($w,)+) = work;
                let a = x;
                $( let a = self.$i.forward_train(a, $w, ctx); )+
                a
            }

            fn backward_exact<'w>(
                &self,
                x: &In,
                dy: &$last,
                work: &'w mut Self::Work,
                grads: &mut Self::Grads,
                input_grad: bool,
            ) -> Option<&'w In> {
                tuple_model!(@back self, x, dy, work, grads, input_grad; [$($l $i $a)+] [])
            }

            fn output(work: &Self::Work) -> &$last {
                tuple_model!(@last work; $($l $i $a)+)
            }
        }
    };
    (@infer $s:ident, $x:ident ; $i0:tt $(, $i:tt)*) => {{
        let a = $s.$i0.infer($x);
        $( let a = $s.$i.infer(&a); )*
        a
    }};
    (@last $work:ident; $l:ident $i:tt $a:ident) => {
        <$l as Module<E, $a>>::output(&$work.$i)
    };
    (@last $work:ident; $l:ident $i:tt $a:ident $($rest:tt)+) => {
        tuple_model!(@last $work; $($rest)+)
    };
    // Reverse the layers, then walk them from the last down.
    (@back $s:ident, $x:ident, $dy:ident, $work:ident, $grads:ident, $ig:ident; [$l:ident $i:tt $a:ident $($rest:tt)*] [$($rev:tt)*]) => {
        tuple_model!(@back $s, $x, $dy, $work, $grads, $ig; [$($rest)*] [$l $i $a $($rev)*])
    };
    (@back $s:ident, $x:ident, $dy:ident, $work:ident, $grads:ident, $ig:ident; [] [$($rev:tt)+]) => {{
        let d = $dy;
        tuple_model!(@down $s, $x, d, $work, $grads, $ig; $($rev)+)
    }};
    // The first layer: its input is the model's, and its input gradient is asked for only if
    // the caller asks.
    (@down $s:ident, $x:ident, $d:ident, $work:ident, $grads:ident, $ig:ident; $l:ident $i:tt $a:ident) => {
        $s.$i.backward_exact($x, $d, &mut $work.$i, &mut $grads.$i, $ig)
    };
    // Any later layer: its input is the output the layer before it left in its work, and its
    // input gradient is the next `dy` down.
    (@down $s:ident, $x:ident, $d:ident, $work:ident, $grads:ident, $ig:ident; $l:ident $i:tt $a:ident $lp:ident $ip:tt $ap:ident $($rest:tt)*) => {{
        let input = <$lp as Module<E, $ap>>::output(&$work.$ip);
        let $d = $s
            .$i
            .backward_exact(input, $d, &mut $work.$i, &mut $grads.$i, true)
            .unwrap_or_else(|| unreachable!("the input gradient was asked for"));
        tuple_model!(@down $s, $x, $d, $work, $grads, $ig; $lp $ip $ap $($rest)*)
    }};
}

tuple_model!(L0 0 w0 In Last Layer0 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 Last Layer1 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 Last Layer2 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 Last Layer3 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 Last Layer4 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 M5 Layer4, L5 5 w5 M5 Last Layer5 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 M5 Layer4, L5 5 w5 M5 M6 Layer5, L6 6 w6 M6 Last Layer6 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 M5 Layer4, L5 5 w5 M5 M6 Layer5, L6 6 w6 M6 M7 Layer6, L7 7 w7 M7 Last Layer7 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 M5 Layer4, L5 5 w5 M5 M6 Layer5, L6 6 w6 M6 M7 Layer6, L7 7 w7 M7 M8 Layer7, L8 8 w8 M8 Last Layer8 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 M5 Layer4, L5 5 w5 M5 M6 Layer5, L6 6 w6 M6 M7 Layer6, L7 7 w7 M7 M8 Layer7, L8 8 w8 M8 M9 Layer8, L9 9 w9 M9 Last Layer9 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 M5 Layer4, L5 5 w5 M5 M6 Layer5, L6 6 w6 M6 M7 Layer6, L7 7 w7 M7 M8 Layer7, L8 8 w8 M8 M9 Layer8, L9 9 w9 M9 M10 Layer9, L10 10 w10 M10 Last Layer10 ; Last);
tuple_model!(L0 0 w0 In M1 Layer0, L1 1 w1 M1 M2 Layer1, L2 2 w2 M2 M3 Layer2, L3 3 w3 M3 M4 Layer3, L4 4 w4 M4 M5 Layer4, L5 5 w5 M5 M6 Layer5, L6 6 w6 M6 M7 Layer6, L7 7 w7 M7 M8 Layer7, L8 8 w8 M8 M9 Layer8, L9 9 w9 M9 M10 Layer9, L10 10 w10 M10 M11 Layer10, L11 11 w11 M11 Last Layer11 ; Last);
