//! Residual blocks as types: [`Residual`] computes `x + block(x)`, [`Projected`] computes
//! `shortcut(x) + block(x)`.
//!
//! The sum needs two tensors of one shape, and the types say whether they are: a block that
//! changes the shape (a stride of 2, more filters) in a `Residual` does not compile, and the
//! error names both shapes in decimal:
//!
//! ```text
//! error[E0277]: shape mismatch in Residual: the block maps (_8, _16, _14, _14) to (_8, _32, _7, _7); x + block(x) needs the same shape
//! ```
//!
//! Such a block takes a shortcut that changes the shape the same way (ResNet's projection: a
//! 1 × 1 convolution with the block's stride and filters), in a [`Projected`]; a shortcut and a
//! block that disagree are the rule [`ProjectedShape`]'s error.
//!
//! Parameters are named as a PyTorch user writes the same module,
//!
//! ```python
//! class Residual(nn.Module):
//!     def __init__(self, block, shortcut=None):
//!         super().__init__()
//!         self.block = block                # nn.Sequential(...)
//!         if shortcut is not None:
//!             self.shortcut = shortcut      # nn.Sequential(...)
//!     def forward(self, x):
//!         s = x if not hasattr(self, "shortcut") else self.shortcut(x)
//!         return s + self.block(x)
//! ```
//!
//! so the block's tensors are `block.0.weight`, `block.1.running_mean`, … and the shortcut's
//! `shortcut.0.weight`, …; in a model, `3.block.0.weight`.

use rand::Rng;

use crate::init::Init;
use crate::module::{Buffer, BufferMut, Context, LayerWork, Module, Params, Tensors};
use crate::rules::{check_dims, AtBatch, GradOutput, ProjectedShape, ResidualShape, ShapeEq};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// `y = x + block(x)`: a block whose output has its input's shape, with the identity beside it
/// (ResNet's identity shortcut). `block` is any layer or model (a tuple of layers) that maps
/// its input's shape to itself; one that does not is the compile error
/// `shape mismatch in Residual: the block maps … to …; x + block(x) needs the same shape`.
///
/// `backward_train` returns `dx = dy + ∂block/∂x ᵀ·dy`, of `x`'s shape: the gradient along the
/// identity and the gradient through the block, added; the block's parameter gradients are in
/// [`ResidualGrads`] (`block`), shaped like the block's.
///
/// ```
/// use shaped::{typenum::*, Conv, Module, ReLU, Residual, Seeded, Tensor};
/// type Block = (Conv<U4, U4, U3, U3, U1, U1>, ReLU, Conv<U4, U4, U3, U3, U1, U1>);
/// let res = Residual::<Block>::seeded(0);
/// let x = Tensor::<(U2, U4, U8, U8)>::full(1.0);
/// let y: Tensor<(U2, U4, U8, U8)> = res.infer(&x);
/// let block = res.block.infer(&x);
/// assert_eq!(y.as_slice()[0], 1.0 + block.as_slice()[0]);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Residual<M> {
    /// The block, `block.*` in PyTorch's names.
    pub block: M,
}

/// `y = shortcut(x) + block(x)`: a residual block whose shortcut changes the shape as the block
/// does (ResNet's projection shortcut: a strided 1 × 1 convolution to more channels), for
/// blocks that downsample. Both must give one shape; a shortcut and a block that disagree are
/// the compile error `shape mismatch in Projected: the shortcut gives …, the block …;
/// shortcut(x) + block(x) needs the same shape`.
///
/// `backward_train` returns `dx = ∂shortcut/∂x ᵀ·dy + ∂block/∂x ᵀ·dy`, of `x`'s shape: the
/// gradients through both paths, added; the parameter gradients are in [`ProjectedGrads`]
/// (`block`, `shortcut`), shaped like the two modules'.
///
/// ```
/// use shaped::{typenum::*, BatchNorm2d, Conv, Module, Projected, ReLU, Seeded, Tensor};
/// // ResNet's downsampling block: 16 channels of 8 x 8 to 32 channels of 4 x 4.
/// type Block = (
///     Conv<U16, U32, U3, U3, U2, U1>,
///     BatchNorm2d<U32>,
///     ReLU,
///     Conv<U32, U32, U3, U3, U1, U1>,
///     BatchNorm2d<U32>,
/// );
/// type Shortcut = (Conv<U16, U32, U1, U1, U2, U0>, BatchNorm2d<U32>);
/// let down = Projected::<Block, Shortcut>::seeded(0);
/// let y: Tensor<(U2, U32, U4, U4)> = down.infer(&Tensor::<(U2, U16, U8, U8)>::full(1.0));
/// # let _ = y;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Projected<M, S> {
    /// The block, `block.*` in PyTorch's names.
    pub block: M,
    /// The shortcut, `shortcut.*` in PyTorch's names.
    pub shortcut: S,
}

/// The parameter gradients of a [`Residual`]: the block's, named `block.*`.
///
/// ```
/// use shaped::{typenum::*, Affine, AffineGrads, Params, ReLU, Residual, ResidualGrads, Seeded};
/// use shaped::Tensors;
/// let res = Residual::<(Affine<U4, U4>, ReLU)>::seeded(0);
/// let grads: ResidualGrads<(AffineGrads<U4, U4>, ())> = res.zero_grads();
/// let mut names = Vec::new();
/// grads.visit("", &mut |name, _, _| names.push(name.to_string()));
/// assert_eq!(names, ["block.0.weight", "block.0.bias"]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ResidualGrads<G> {
    /// The block's gradients.
    pub block: G,
}

/// The parameter gradients of a [`Projected`] residual: the block's and the shortcut's, named
/// `block.*` and `shortcut.*`.
///
/// ```
/// use shaped::{typenum::*, Affine, AffineGrads, Params, Projected, ProjectedGrads, Seeded};
/// let down = Projected::<(Affine<U8, U4>,), Affine<U8, U4>>::seeded(0);
/// let grads: ProjectedGrads<(AffineGrads<U8, U4>,), AffineGrads<U8, U4>> = down.zero_grads();
/// assert_eq!(grads.block.0.weight.dims(), [4, 8]);
/// assert_eq!(grads.shortcut.bias.dims(), [4]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectedGrads<G, H> {
    /// The block's gradients.
    pub block: G,
    /// The shortcut's gradients.
    pub shortcut: H,
}

impl<M> Residual<M> {
    /// `x + block(x)`.
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Module, Residual, Tensor};
    /// // A block that doubles its input: y = x + 2x.
    /// let weight = Tensor::from_vec(vec![2.0, 0.0, 0.0, 2.0])?;
    /// let double = Affine::<U2, U2>::new(weight, Tensor::zeros());
    /// let res = Residual::new(double);
    /// let y: Tensor<(U1, U2)> = res.infer(&Tensor::<(U1, U2)>::from_vec(vec![1.0, -1.0])?);
    /// assert_eq!(y.as_slice(), &[3.0, -3.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn new(block: M) -> Self {
        Self { block }
    }
}

impl<M, S> Projected<M, S> {
    /// `shortcut(x) + block(x)`.
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Module, Projected, Tensor};
    /// // From 2 features to 1: the block sums them, the shortcut takes the first.
    /// let block = Affine::<U2, U1>::new(Tensor::full(1.0), Tensor::zeros());
    /// let shortcut = Affine::<U2, U1>::new(Tensor::from_vec(vec![1.0, 0.0])?, Tensor::zeros());
    /// let down = Projected::new(block, shortcut);
    /// let y: Tensor<(U1, U1)> = down.infer(&Tensor::<(U1, U2)>::from_vec(vec![3.0, 4.0])?);
    /// assert_eq!(y.as_slice(), &[10.0]); // 3 + (3 + 4)
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn new(block: M, shortcut: S) -> Self {
        Self { block, shortcut }
    }
}

impl<M: Init<R>, R: Rng + ?Sized> Init<R> for Residual<M> {
    fn init(rng: &mut R) -> Self {
        Self::new(M::init(rng))
    }
}

/// The block is drawn first, then the shortcut (the order of their attributes in the PyTorch
/// module above).
impl<M: Init<R>, S: Init<R>, R: Rng + ?Sized> Init<R> for Projected<M, S> {
    fn init(rng: &mut R) -> Self {
        let block = M::init(rng);
        Self::new(block, S::init(rng))
    }
}

/// The [`Tensors`] methods of a value of named parts (`self.block`, `self.shortcut`), each
/// visited under its name, in order.
macro_rules! named_parts {
    ($($part:ident),+) => {
        fn count(&self) -> usize {
            0 $(+ self.$part.count())+
        }

        fn tensor(&self, i: usize) -> &[E] {
            let mut i = i;
            $(
                if i < self.$part.count() {
                    return self.$part.tensor(i);
                }
                i -= self.$part.count();
            )+
            panic!("tensor {i} past the last tensor")
        }

        fn tensor_mut(&mut self, i: usize) -> &mut [E] {
            let mut i = i;
            $(
                if i < self.$part.count() {
                    return self.$part.tensor_mut(i);
                }
                i -= self.$part.count();
            )+
            panic!("tensor {i} past the last tensor")
        }

        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E])) {
            $( self.$part.visit(&format!("{prefix}{}.", stringify!($part)), f); )+
        }

        fn visit_mut<Err>(
            &mut self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
        ) -> Result<(), Err> {
            $( self.$part.visit_mut(&format!("{prefix}{}.", stringify!($part)), f)?; )+
            Ok(())
        }

        fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], Buffer<'_, E>)) {
            $( self.$part.visit_buffers(&format!("{prefix}{}.", stringify!($part)), f); )+
        }

        fn visit_buffers_mut<Err>(
            &mut self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &[usize], BufferMut<'_, E>) -> Result<(), Err>,
        ) -> Result<(), Err> {
            $( self.$part.visit_buffers_mut(&format!("{prefix}{}.", stringify!($part)), f)?; )+
            Ok(())
        }
    };
}

impl<E: Element, M: Tensors<E>> Tensors<E> for Residual<M> {
    named_parts!(block);
}
impl<E: Element, G: Tensors<E>> Tensors<E> for ResidualGrads<G> {
    named_parts!(block);
}
impl<E: Element, M: Tensors<E>, S: Tensors<E>> Tensors<E> for Projected<M, S> {
    named_parts!(block, shortcut);
}
impl<E: Element, G: Tensors<E>, H: Tensors<E>> Tensors<E> for ProjectedGrads<G, H> {
    named_parts!(block, shortcut);
}

impl<E: Element, M: Params<E>> Params<E> for Residual<M> {
    type Grads = ResidualGrads<M::Grads>;

    fn zero_grads(&self) -> Self::Grads {
        ResidualGrads {
            block: self.block.zero_grads(),
        }
    }
}

impl<E: Element, M: Params<E>, S: Params<E>> Params<E> for Projected<M, S> {
    type Grads = ProjectedGrads<M::Grads, S::Grads>;

    fn zero_grads(&self) -> Self::Grads {
        ProjectedGrads {
            block: self.block.zero_grads(),
            shortcut: self.shortcut.zero_grads(),
        }
    }
}

/// `out = a + b`, element-wise.
fn add<E: Element>(out: &mut [E], a: &[E], b: &[E]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a + b;
    }
}

/// `acc += b`, element-wise.
fn add_assign<E: Element>(acc: &mut [E], b: &[E]) {
    for (o, &b) in acc.iter_mut().zip(b) {
        *o += b;
    }
}

impl<E, X, Y, M> Module<E, Tensor<X, E>> for Residual<M>
where
    E: Element,
    X: Shape,
    Y: Shape,
    M: Module<E, Tensor<X, E>, Out = Tensor<Y, E>>,
    // `x + block(x)`: the block gives its input's shape back (`Y` is `X`, up to `Dyn` dims,
    // checked at run time), decided once the batch is known (see `rules::Anchor`), so that a
    // block that changes the shape reports this rule rather than a missing method.
    AtBatch<X::Batch, Y>: ShapeEq<X, ResidualShape>,
{
    /// The block's output type, which is the input's shape.
    type Out = Tensor<Y, E>;
    /// The sum, the input gradient, and the block's work.
    type Work = LayerWork<X, Y, E, M::Work>;

    fn infer(&self, x: &Tensor<X, E>) -> Tensor<Y, E> {
        let mut y = self.block.infer(x);
        check_dims::<ResidualShape>(x.dims().as_ref(), y.dims().as_ref());
        add_assign(y.as_mut_slice(), x.as_slice());
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<X, E>,
        work: &'w mut Self::Work,
        ctx: &mut Context,
    ) -> &'w Tensor<Y, E> {
        let a = self.block.forward_train(x, &mut work.keep, ctx);
        check_dims::<ResidualShape>(x.dims().as_ref(), a.dims().as_ref());
        let out = work.out.reset(a.shape());
        add(out.as_mut_slice(), a.as_slice(), x.as_slice());
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<X, E>,
        dy: &Tensor<Y, E>,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<X, E>> {
        check_dims::<GradOutput>(x.dims().as_ref(), dy.dims().as_ref());
        // With `input_grad` false the block adds its parameter gradients and returns nothing.
        let through_block =
            self.block
                .backward_exact(x, dy, &mut work.keep, &mut grads.block, input_grad)?;
        let dx = work.dx.reset(x.shape());
        add(dx.as_mut_slice(), through_block.as_slice(), dy.as_slice());
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Tensor<Y, E> {
        &work.out
    }
}

/// What a [`Projected`] training step keeps: the block's work, the shortcut's, and the output
/// gradient as the shortcut's output type (the same values as the block's; the two types are
/// equal up to `Dyn` dims).
type ProjectedKeep<WM, WS, Z, E> = (WM, WS, Tensor<Z, E>);

impl<E, X, Y, Z, M, S> Module<E, Tensor<X, E>> for Projected<M, S>
where
    E: Element,
    X: Shape,
    Y: Shape,
    Z: Shape,
    M: Module<E, Tensor<X, E>, Out = Tensor<Y, E>>,
    S: Module<E, Tensor<X, E>, Out = Tensor<Z, E>>,
    // `shortcut(x) + block(x)`: both give one shape, decided once the batch is known (see
    // `rules::Anchor`).
    AtBatch<X::Batch, Y>: ShapeEq<Z, ProjectedShape>,
{
    /// The block's output type.
    type Out = Tensor<Y, E>;
    /// The sum, the input gradient, and the work of both paths.
    type Work = LayerWork<X, Y, E, ProjectedKeep<M::Work, S::Work, Z, E>>;

    fn infer(&self, x: &Tensor<X, E>) -> Tensor<Y, E> {
        let mut y = self.block.infer(x);
        let s = self.shortcut.infer(x);
        check_dims::<ProjectedShape>(s.dims().as_ref(), y.dims().as_ref());
        add_assign(y.as_mut_slice(), s.as_slice());
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<X, E>,
        work: &'w mut Self::Work,
        ctx: &mut Context,
    ) -> &'w Tensor<Y, E> {
        let (block_work, shortcut_work, _) = &mut work.keep;
        let a = self.block.forward_train(x, block_work, ctx);
        let s = self.shortcut.forward_train(x, shortcut_work, ctx);
        check_dims::<ProjectedShape>(s.dims().as_ref(), a.dims().as_ref());
        let out = work.out.reset(a.shape());
        add(out.as_mut_slice(), a.as_slice(), s.as_slice());
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<X, E>,
        dy: &Tensor<Y, E>,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<X, E>> {
        let (block_work, shortcut_work, dz) = &mut work.keep;
        // The shortcut's output shape, as the last forward pass left it.
        let z = S::output(shortcut_work).shape();
        check_dims::<GradOutput>(z.dims().as_ref(), dy.dims().as_ref());
        dz.reset(z).as_mut_slice().copy_from_slice(dy.as_slice());
        let through_block =
            self.block
                .backward_exact(x, dy, block_work, &mut grads.block, input_grad);
        let through_shortcut =
            self.shortcut
                .backward_exact(x, dz, shortcut_work, &mut grads.shortcut, input_grad);
        let (Some(b), Some(s)) = (through_block, through_shortcut) else {
            return None;
        };
        let dx = work.dx.reset(x.shape());
        add(dx.as_mut_slice(), b.as_slice(), s.as_slice());
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Tensor<Y, E> {
        &work.out
    }
}
