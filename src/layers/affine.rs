//! The fully connected layer.

use crate::dims::Dim;

use crate::gemm::{matmul, matmul_padded, matmul_two, Out, View};
use crate::module::{weight_bias_tensors, Context, LayerWork, Module, Params, Tensors};
use crate::rules::{check_dim, check_dims, check_non_zero, AffineGradOutput, AffineInput};
use crate::rules::{AffineBiasShape, AffineWeightShape, ParamIs};
use crate::rules::{AffineNonZero, AffineRank, AtBatch, DimEq, ShapeEq, Verdict};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use typenum::B0;

/// `Y = X·Wᵀ + b`: a fully connected layer from `DI` input features to `DO` outputs, with
/// `X: (N, DI)`, `W: (DO, DI)`, `b: (DO,)`, `Y: (N, DO)`.
///
/// `backward` returns `dX = dY·W` of shape `(N, DI)`, and in [`AffineGrads`]
/// `dW = dYᵀ·X` of shape `(DO, DI)` and `db = Σₙ dY` of shape `(DO,)`.
///
/// ```
/// use shaped::{Affine, AffineGrads, Tensor, typenum::{U2, U3, U4}};
/// let layer = Affine::<U3, U2>::new(
///     Tensor::from_vec(vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5])?,
///     Tensor::from_vec(vec![0.0, 1.0])?,
/// );
/// let x = Tensor::<(U4, U3)>::full(1.0);
/// let y: Tensor<(U4, U2)> = layer.forward(&x);
/// assert_eq!(&y.as_slice()[..2], &[0.0, 2.5]);
/// let dy = Tensor::<(U4, U2)>::full(1.0);
/// let (dx, grads): (Tensor<(U4, U3)>, AffineGrads<U3, U2>) = layer.backward(&x, &dy);
/// assert_eq!(grads.bias.as_slice(), &[4.0, 4.0]);
/// assert_eq!(&dx.as_slice()[..3], &[1.5, 0.5, -0.5]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Affine<DI: Dim, DO: Dim, E = f32> {
    /// `W`, shape `(DO, DI)` (PyTorch's `Linear.weight` layout).
    pub weight: Tensor<(DO, DI), E>,
    /// `b`, shape `(DO,)`.
    pub bias: Tensor<(DO,), E>,
}

/// The parameter gradients of an [`Affine`] layer, shaped like its parameters.
///
/// ```
/// use shaped::{typenum::*, Affine, AffineGrads, Params, Seeded, Tensors};
/// let layer = Affine::<U3, U2>::seeded(0);
/// let mut grads: AffineGrads<U3, U2> = layer.zero_grads();
/// assert_eq!((grads.weight.dims(), grads.bias.dims()), ([2, 3], [2]));
/// grads.bias.as_mut_slice()[1] = 1.0;
/// let mut names = Vec::new();
/// grads.visit("0.", &mut |name, _, values| names.push(format!("{name} {values:?}")));
/// assert_eq!(names, ["0.weight [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]", "0.bias [0.0, 1.0]"]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AffineGrads<DI: Dim, DO: Dim, E = f32> {
    /// `dW = dYᵀ·X`, shape `(DO, DI)`.
    pub weight: Tensor<(DO, DI), E>,
    /// `db = Σₙ dY`, shape `(DO,)`.
    pub bias: Tensor<(DO,), E>,
}

impl<DI: Dim, DO: Dim, E: Element> Affine<DI, DO, E> {
    /// A layer with the given weight `(DO, DI)` and bias `(DO,)`: each a
    /// `Tensor<(DO, DI), E>` and a `Tensor<(DO,), E>`.
    ///
    /// The compiler infers whichever side is not written: the tensors' shapes from the layer's
    /// type (`Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros())`), or the layer's dims
    /// from the tensors' (`Affine::new(w, b)`). A tensor of another shape than the layer's type
    /// says does not compile, and the error is the rule's (see [`ParamIs`]):
    ///
    /// ```text
    /// error[E0277]: shape mismatch in Affine weight: expected (_2, _3) (DO, DI), found (_3, _2): the weight is (out, in), as PyTorch's Linear.weight
    /// ```
    ///
    /// That is the error where the layer's type is written on the call
    /// (`Affine::<U3, U2>::new`) or known before it. Where it is only the type the result is
    /// given to (`let l: Affine<U3, U2> = Affine::new(w, b)`), the compiler takes the layer's
    /// dims from the tensors first, and reports the two layer types as "mismatched types".
    ///
    /// ```
    /// use shaped::{typenum::*, Affine, Tensor};
    /// let w = Tensor::<(U2, U3)>::from_vec(vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5])?;
    /// let layer = Affine::<U3, U2>::new(w, Tensor::zeros()); // the bias is (U2,), inferred
    /// let y: Tensor<(U1, U2)> = layer.forward(&Tensor::<(U1, U3)>::full(1.0));
    /// assert_eq!(y.as_slice(), &[0.0, 1.5]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `DO` is a [`Dyn`](crate::Dyn) dim and the two tensors disagree on its size, or if `DI`
    /// or `DO` is 0 (`zero-sized Affine layer: …`; [`Init`](crate::Init) refuses a static 0 at
    /// compile time).
    #[track_caller]
    pub fn new<W, B>(weight: W, bias: B) -> Self
    where
        W: ParamIs<Tensor<(DO, DI), E>, AffineWeightShape>,
        B: ParamIs<Tensor<(DO,), E>, AffineBiasShape>,
    {
        let (weight, bias) = (weight.into_param(), bias.into_param());
        let [d_o, di] = weight.dims();
        check_non_zero::<AffineNonZero>(d_o);
        check_non_zero::<AffineNonZero>(di);
        check_dims::<AffineBiasShape>(&[d_o], &bias.dims());
        Self { weight, bias }
    }

    /// `Y = X·Wᵀ + b`, `(N, DI) -> (N, DO)`.
    ///
    /// An input whose last dim is not `DI` does not compile:
    /// `shape mismatch in Affine input: expected _784 features (DI), found _100`.
    ///
    /// ```
    /// use shaped::{Affine, Dyn, Tensor, typenum::*};
    /// let layer = Affine::<U2, U3>::new(
    ///     Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 0.0, -1.0])?, // W: (DO, DI) = (3, 2)
    ///     Tensor::from_vec(vec![0.5, 0.0, 1.0])?,
    /// );
    /// let x = Tensor::<(U1, U2)>::from_vec(vec![1.0, 1.0])?;
    /// let y: Tensor<(U1, U3)> = layer.forward(&x);
    /// assert_eq!(y.as_slice(), &[3.5, 7.0, 0.0]); // (1 + 2 + 0.5, 3 + 4, 0 − 1 + 1)
    /// let batch: Tensor<(Dyn, U3)> = layer.forward(&Tensor::<(Dyn, U2)>::from_vec(vec![1.0; 8])?);
    /// assert_eq!(batch.dims(), [4, 3]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If the input's features are a [`Dyn`](crate::Dyn) dim of another size than `DI`, with
    /// the same message.
    #[track_caller]
    pub fn forward<N, D>(&self, x: &Tensor<(N, D), E>) -> Tensor<(N, DO), E>
    where
        N: Dim,
        D: Dim + DimEq<DI, AffineInput>,
    {
        let mut y = Tensor::default();
        self.forward_rows(x, &mut y, Some(&mut Vec::new()));
        y
    }

    /// [`Affine::forward`] into `y`, which takes the shape `(N, DO)` and keeps its memory when
    /// it already has room: no allocation in a loop. (A large product of a batch a quarter of
    /// the outputs or fewer, which `forward` multiplies transposed through memory of its own,
    /// is multiplied directly here: the same to rounding, not always bit for bit.)
    ///
    /// ```
    /// use shaped::{Affine, Dyn, Tensor, typenum::*};
    /// let layer = Affine::<U2, U1>::new(Tensor::full(1.0), Tensor::full(0.5));
    /// let mut y = Tensor::default();
    /// for rows in [4, 2, 4] {
    ///     let x = Tensor::<(Dyn, U2)>::from_vec(vec![1.0; 2 * rows])?;
    ///     layer.forward_into(&x, &mut y); // no allocation after the first batch of 4
    ///     assert_eq!(y.as_slice(), vec![2.5; rows]);
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Affine::forward`].
    #[track_caller]
    pub fn forward_into<N, D>(&self, x: &Tensor<(N, D), E>, y: &mut Tensor<(N, DO), E>)
    where
        N: Dim,
        D: Dim + DimEq<DI, AffineInput>,
    {
        // A padded copy of `W` (see `padded_rows`) would need memory this call does not own:
        // `forward_into` never allocates, and multiplies `W` where it is (the same sums); the
        // training path keeps that memory in its work.
        self.forward_rows(x, y, None);
    }

    /// The forward pass of a batch of rows `x` (a shape `(N, D)`, checked by the callers'
    /// rules) into `y`.
    #[track_caller]
    fn forward_rows<S: Shape>(
        &self,
        x: &Tensor<S, E>,
        y: &mut Tensor<(S::Batch, DO), E>,
        pad: Option<&mut Vec<E>>,
    ) {
        let n = x.shape().batch();
        let d_o = self.weight.shape().0;
        self.check_features(x);
        let y = y.reset((n, d_o));
        self.forward_slices(n.size(), x.as_slice(), y.as_mut_slice(), pad);
    }

    /// The runtime check of the junction rule (free for static dims: both are constants).
    #[track_caller]
    fn check_features<S: Shape>(&self, x: &Tensor<S, E>) {
        let dims = x.dims();
        let features = dims.as_ref().last().copied().unwrap_or(0);
        check_dim::<AffineInput>(self.weight.dims()[1], features);
    }

    /// `Y = X·Wᵀ + b` on slices. `pad`, when given, is room for a copy of `W` with padded rows,
    /// used when `W`'s rows are a multiple of 4 KiB long (see [`padded_rows`]); it only grows.
    fn forward_slices(&self, n: usize, x: &[E], y: &mut [E], pad: Option<&mut Vec<E>>) {
        let [d_o, di] = self.weight.dims();
        let (x, w, bias) = (
            View::rows(x, di),
            self.weight.as_slice(),
            self.bias.as_slice(),
        );
        match (padded_rows::<E>(n, d_o, di), pad) {
            // Each block of the product copies its rows of `W` and writes its columns of the
            // bias (see `matmul_padded`); a kept `pad` keeps its capacity, a fresh one (the
            // allocating `forward`) is written once.
            (Some(stride), Some(pad)) => {
                let bias = Some(bias);
                matmul_padded([n, d_o, di], y, d_o, false, x, w, bias, pad, stride);
            }
            _ => {
                for row in y.chunks_exact_mut(d_o.max(1)) {
                    row.copy_from_slice(bias);
                }
                matmul([n, d_o, di], y, d_o, true, x, View::transposed(w, di));
            }
        }
    }

    /// The gradients of a loss through the layer: given `x` `(N, DI)` and `dy = ∂L/∂Y`
    /// `(N, DO)`, returns `dX = dY·W` `(N, DI)` and the parameter gradients
    /// `dW = dYᵀ·X` `(DO, DI)`, `db = Σₙ dY` `(DO,)`.
    ///
    /// `dy` must have exactly the forward output's shape `(N, DO)`: another batch or another
    /// `DO` does not compile, and the error prints both shapes.
    ///
    /// The gradients are written into new tensors, as PyTorch's first backward pass writes a
    /// fresh `.grad`; [`Affine::backward_into`] adds them to gradients kept across calls. The
    /// two are equal as numbers; where a sum is −0.0, this call keeps −0.0 and one added to
    /// zeroed gradients gives +0.0.
    ///
    /// ```
    /// use shaped::{Affine, AffineGrads, Tensor, typenum::*};
    /// let layer = Affine::<U2, U3>::new(
    ///     Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 0.0, -1.0])?,
    ///     Tensor::zeros(),
    /// );
    /// let x = Tensor::<(U2, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0])?;
    /// let dy = Tensor::<(U2, U3)>::full(1.0);
    /// let (dx, grads): (Tensor<(U2, U2)>, AffineGrads<U2, U3>) = layer.backward(&x, &dy);
    /// assert_eq!(dx.as_slice(), &[4.0, 5.0, 4.0, 5.0]); // dY·W: the columns of W summed
    /// assert_eq!(grads.weight.as_slice(), &[4.0, 6.0, 4.0, 6.0, 4.0, 6.0]); // dYᵀ·X
    /// assert_eq!(grads.bias.as_slice(), &[2.0, 2.0, 2.0]); // Σₙ dY
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// Where a [`Dyn`](crate::Dyn) dim hides a mismatch from the compiler (a `dy` of another
    /// runtime batch than `x`, say), with the rule's message in plain decimal:
    /// `shape mismatch in Affine grad_output: expected (32, 2) (N, DO), found (16, 2)`.
    #[track_caller]
    pub fn backward<N, D, G>(
        &self,
        x: &Tensor<(N, D), E>,
        dy: &Tensor<G, E>,
    ) -> (Tensor<(N, DI), E>, AffineGrads<DI, DO, E>)
    where
        N: Dim,
        D: Dim + DimEq<DI, AffineInput>,
        G: Shape + ShapeEq<(N, DO), AffineGradOutput>,
    {
        let n = self.check_rows(x, dy);
        let [d_o, di] = self.weight.dims();
        let (x, dy) = (x.as_slice(), dy.as_slice());
        // dX = dY·W and dW = dYᵀ·X written into new buffers (not zeroed and added to, as
        // `backward_into` adds into kept gradients), in one parallel pass.
        let (mut dx, mut dw) = (Vec::new(), Vec::new());
        matmul_two(
            (
                [n.size(), di, d_o],
                Out::Fresh(&mut dx),
                View::rows(dy, d_o),
                View::rows(self.weight.as_slice(), di),
            ),
            (
                [d_o, di, n.size()],
                Out::Fresh(&mut dw),
                View::transposed(dy, d_o),
                View::rows(x, di),
            ),
        );
        let mut db = vec![E::zero(); d_o];
        add_bias_grad(dy, &mut db);
        let grads = AffineGrads {
            weight: Tensor::from_raw(self.weight.shape(), dw),
            bias: Tensor::from_raw(self.bias.shape(), db),
        };
        (Tensor::from_raw((n, self.weight.shape().1), dx), grads)
    }

    /// [`Affine::backward`] into buffers the caller keeps: `dx` takes the shape `(N, DI)` and
    /// is overwritten; `dW` and `db` are **added** into `grads` (PyTorch's `.grad`
    /// accumulation: zero them first for one pass alone).
    ///
    /// ```
    /// use shaped::{Affine, Params, Tensor, typenum::*};
    /// let layer = Affine::<U2, U1>::new(Tensor::full(1.0), Tensor::zeros());
    /// let x = Tensor::<(U1, U2)>::from_vec(vec![1.0, 2.0])?;
    /// let dy = Tensor::<(U1, U1)>::full(1.0);
    /// let (mut dx, mut grads) = (Tensor::default(), layer.zero_grads());
    /// layer.backward_into(&x, &dy, &mut dx, &mut grads);
    /// layer.backward_into(&x, &dy, &mut dx, &mut grads); // a second batch, accumulated
    /// assert_eq!(grads.weight.as_slice(), &[2.0, 4.0]); // 2 · x
    /// assert_eq!(dx.as_slice(), &[1.0, 1.0]); // overwritten, not added
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Affine::backward`].
    #[track_caller]
    pub fn backward_into<N, D, G>(
        &self,
        x: &Tensor<(N, D), E>,
        dy: &Tensor<G, E>,
        dx: &mut Tensor<(N, DI), E>,
        grads: &mut AffineGrads<DI, DO, E>,
    ) where
        N: Dim,
        D: Dim + DimEq<DI, AffineInput>,
        G: Shape + ShapeEq<(N, DO), AffineGradOutput>,
    {
        let n = self.check_rows(x, dy);
        let dx = dx.reset((n, self.weight.shape().1));
        self.backward_slices(
            x.as_slice(),
            dy.as_slice(),
            Some(dx.as_mut_slice()),
            grads,
            None,
        );
    }

    /// The runtime checks of a backward pass; the batch.
    #[track_caller]
    fn check_rows<S: Shape, G: Shape>(&self, x: &Tensor<S, E>, dy: &Tensor<G, E>) -> S::Batch {
        let n = x.shape().batch();
        self.check_features(x);
        check_dims::<AffineGradOutput>(&[n.size(), self.weight.dims()[0]], dy.dims().as_ref());
        n
    }

    /// The backward pass on slices. `padded`, when given, is the padded copy of `W` the
    /// training forward pass made (`(copy, row stride)`, see [`padded_rows`]): `dX = dY·W` reads
    /// it instead of `W`, whose rows a multiple of 4 KiB apart share cache sets (measured with
    /// the gemm crate on the Intel VM, one core, 256 × 1024 × 1024: 3.71–3.86 ms against
    /// 3.90–4.12 ms; a whole forward+backward of that layer moved within the noise, 0.985× on
    /// one thread). It is the `W` of that forward pass, as PyTorch's backward uses the tensors
    /// its forward pass saved.
    fn backward_slices(
        &self,
        x: &[E],
        dy: &[E],
        dx: Option<&mut [E]>,
        grads: &mut AffineGrads<DI, DO, E>,
        padded: Option<(&[E], usize)>,
    ) {
        let [d_o, di] = self.weight.dims();
        let n = dy.len() / d_o.max(1);
        // dW (DO × DI) += dYᵀ (DO × N) · X (N × DI)
        let dw = grads.weight.as_mut_slice();
        let (dy_t, xs) = (View::transposed(dy, d_o), View::rows(x, di));
        match dx {
            Some(dx) => {
                // dX (N × DI) = dY (N × DO) · W (DO × DI), in one parallel pass with dW.
                let (w, stride) = padded.unwrap_or((self.weight.as_slice(), di));
                let (dy_r, w) = (View::rows(dy, d_o), View::rows(w, stride));
                matmul_two(
                    ([n, di, d_o], Out::Slice(dx, di, false), dy_r, w),
                    ([d_o, di, n], Out::Slice(dw, di, true), dy_t, xs),
                );
            }
            None => matmul([d_o, di, n], dw, di, true, dy_t, xs),
        }
        add_bias_grad(dy, grads.bias.as_mut_slice());
    }
}

impl<DI: Dim, DO: Dim, E: Element> Tensors<E> for Affine<DI, DO, E> {
    weight_bias_tensors!();
}
impl<DI: Dim, DO: Dim, E: Element> Tensors<E> for AffineGrads<DI, DO, E> {
    weight_bias_tensors!();
}

impl<DI: Dim, DO: Dim, E: Element> Params<E> for Affine<DI, DO, E> {
    type Grads = AffineGrads<DI, DO, E>;

    fn zero_grads(&self) -> Self::Grads {
        AffineGrads {
            weight: Tensor::zeros_with(self.weight.shape()),
            bias: Tensor::zeros_with(self.bias.shape()),
        }
    }
}

/// `db += Σₙ dY`: each row of `dy` (as long as `db`) added into `db`.
fn add_bias_grad<E: Element>(dy: &[E], db: &mut [E]) {
    for row in dy.chunks_exact(db.len().max(1)) {
        for (b, g) in db.iter_mut().zip(row) {
            *b += *g;
        }
    }
}

/// The row stride to copy `W` to before `X·Wᵀ`, when that pays: the product reads `W`'s rows
/// side by side, and rows a multiple of 4 KiB apart fall on the same cache sets. Measured with
/// the gemm crate on this machine (one core): 256 × 1024 → 1024 at 59 GFLOP/s with `DI = 1024`,
/// 88 GFLOP/s with the rows 16 elements longer (on a 2-core Intel VM 145–154 against 167–173);
/// the copy (4 MiB at 1024 × 1024) costs 0.28 ms there, ~9 % of that product on one core, which
/// `matmul_padded` spreads over the blocks of a split product. Small products (under 4 MFLOP)
/// are not worth the copy.
fn padded_rows<E>(n: usize, d_o: usize, di: usize) -> Option<usize> {
    let row_bytes = di * core::mem::size_of::<E>();
    let large = 2 * n * d_o * di >= 4_000_000;
    (large && row_bytes.is_multiple_of(4096)).then_some(di + 64 / core::mem::size_of::<E>())
}

/// The inputs an [`Affine`] layer takes in a model: a batch of vectors `(N, D)`, whose `D` is
/// checked against `DI` by the junction rule. A tensor of any other rank is the rule
/// `AffineRank`'s error, `Affine takes a batch of vectors (N, DI) with DI = _512, found a
/// tensor of shape (_2, _32, _4, _4): add Flatten before it`, rather than a missing method.
///
/// A function generic over what an `Affine` layer takes states it as the bound:
///
/// ```
/// use shaped::{typenum::*, Affine, AffineRows, Module, Tensor};
/// use static_assertions::{assert_impl_all, assert_not_impl_any};
///
/// fn logits<S: AffineRows<U4>>(layer: &Affine<U4, U2>, x: &Tensor<S>) -> Vec<f32> {
///     layer.infer(x).into_vec()
/// }
/// let layer = Affine::<U4, U2>::new(Tensor::full(1.0), Tensor::zeros());
/// assert_eq!(logits(&layer, &Tensor::<(U3, U4)>::full(0.5)), vec![2.0; 6]);
/// assert_impl_all!((shaped::Dyn, U4): AffineRows<U4>);
/// assert_not_impl_any!((U3, U4, U1, U1): AffineRows<U4>); // images need Flatten first
/// ```
pub trait AffineRows<DI>: Shape {}

// The junction rule, undecided until the batch is known (see `rules::Anchor`).
impl<N: Dim, D: Dim, DI> AffineRows<DI> for (N, D) where AtBatch<N, D>: DimEq<DI, AffineInput> {}

macro_rules! affine_wrong_rank {
    ($($d:ident),*) => {
        impl<N: Dim, $($d: Dim,)* DI> AffineRows<DI> for (N, $($d,)*)
        where
            // Always the rule's error, reported once the batch is known (`rules::Anchor`).
            AtBatch<N, B0>: Verdict<AffineRank, DI, (N, $($d,)*)>,
        {
        }
    };
}
affine_wrong_rank!();
affine_wrong_rank!(C, H);
affine_wrong_rank!(C, H, W);
affine_wrong_rank!(C, H, W, F);
affine_wrong_rank!(C, H, W, F, G);

impl<S, DI, DO, E> Module<E, Tensor<S, E>> for Affine<DI, DO, E>
where
    S: AffineRows<DI>,
    DI: Dim,
    DO: Dim,
    E: Element,
{
    type Out = Tensor<(S::Batch, DO), E>;
    /// Room for a padded copy of `W` (see `padded_rows`) is kept.
    type Work = LayerWork<S, (S::Batch, DO), E, Vec<E>>;

    fn infer(&self, x: &Tensor<S, E>) -> Self::Out {
        let mut y = Tensor::default();
        self.forward_rows(x, &mut y, Some(&mut Vec::new()));
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<S, E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        self.forward_rows(x, &mut work.out, Some(&mut work.keep));
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<S, E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<S, E>> {
        self.check_rows(x, dy);
        // The input is `(N, D)` with `D` equal to `DI` (the rules above): `dX` goes straight
        // into the input's type.
        let dx = input_grad.then(|| work.dx.reset(x.shape()).as_mut_slice());
        // The padded copy of `W` the forward pass on this `x` made, when it made one.
        let [d_o, di] = self.weight.dims();
        let padded = padded_rows::<E>(x.shape().batch().size(), d_o, di)
            .filter(|&stride| work.keep.len() == d_o * stride)
            .map(|stride| (&work.keep[..], stride));
        self.backward_slices(x.as_slice(), dy.as_slice(), dx, grads, padded);
        input_grad.then_some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::consts::*;

    // Hand-computed: W = [[1, 2], [3, 4], [5, 6]], b = [1, 0, -1], x = [[1, -1]].
    fn layer() -> Affine<U2, U3, f64> {
        Affine::new(
            Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap(),
            Tensor::from_vec(vec![1.0, 0.0, -1.0]).unwrap(),
        )
    }

    #[test]
    fn forward_is_x_times_w_transposed_plus_b() {
        let x = Tensor::<(U1, U2), f64>::from_vec(vec![1.0, -1.0]).unwrap();
        let y = layer().forward(&x);
        assert_eq!(y.as_slice(), &[1.0 - 2.0 + 1.0, 3.0 - 4.0, 5.0 - 6.0 - 1.0]);
    }

    #[test]
    fn a_batch_short_against_the_outputs_is_the_same_product_on_every_path() {
        // 16 rows against 256 outputs of 784 (6.4 MFLOP; computed transposed until the gemm
        // crate left the library): `forward`, `infer`, the training pass and `forward_into`
        // agree bit for bit, and with the definition to rounding.
        let mut layer = Affine::<U784, U256, f64>::new(
            Tensor::from_fn(|i| ((i[0] * 784 + i[1]) as f64 * 0.37).sin()),
            Tensor::from_fn(|i| (i[0] as f64).cos()),
        );
        let x = Tensor::<(U16, U784), f64>::from_fn(|i| ((i[0] * 784 + i[1]) as f64 * 0.71).sin());
        let y = layer.forward(&x);
        assert_eq!(Module::infer(&layer, &x), y);
        let mut work = Default::default();
        let trained = layer
            .forward_train(&x, &mut work, &mut Context::new(0))
            .clone();
        assert_eq!(trained, y);
        let mut direct = Tensor::default();
        layer.forward_into(&x, &mut direct);
        assert_eq!(direct, y);
        let (w, b, xs) = (layer.weight.as_slice(), layer.bias.as_slice(), x.as_slice());
        for (r, row) in y.as_slice().chunks(256).enumerate() {
            for (o, &v) in row.iter().enumerate() {
                let want: f64 = b[o]
                    + (0..784)
                        .map(|i| xs[r * 784 + i] * w[o * 784 + i])
                        .sum::<f64>();
                assert!(
                    (v - want).abs() < 1e-12 * (1.0 + want.abs()),
                    "[{r}, {o}] {v} {want}"
                );
            }
        }
    }

    #[test]
    fn rows_of_4_kib_are_read_from_a_padded_copy_with_the_same_result() {
        // DI = 512 f64 values: 4 KiB rows; 2·8·512·512 flops is above the copy's cutoff.
        assert_eq!(padded_rows::<f64>(8, 512, 512), Some(520));
        let layer = Affine::<U512, U512, f64>::new(
            Tensor::from_fn(|i| ((i[0] * 7 + i[1] * 3) % 11) as f64 - 5.0),
            Tensor::from_fn(|i| i[0] as f64),
        );
        let x = Tensor::<(U8, U512), f64>::from_fn(|i| ((i[0] + i[1]) % 5) as f64 - 2.0);
        let padded = layer.forward(&x);
        let mut in_place = Tensor::default();
        layer.forward_into(&x, &mut in_place);
        assert_eq!(padded, in_place);
        let (w, b) = (layer.weight.as_slice(), layer.bias.as_slice());
        for (r, row) in padded.as_slice().chunks(512).enumerate() {
            for (o, &v) in row.iter().enumerate() {
                let want: f64 = b[o]
                    + (0..512)
                        .map(|i| x.as_slice()[r * 512 + i] * w[o * 512 + i])
                        .sum::<f64>();
                assert_eq!(v, want);
            }
        }
    }

    #[test]
    fn the_training_backward_reads_the_forward_pass_padded_copy_with_the_same_result() {
        // 4 KiB rows (DI = 512 f64 values) and a product above the copy's cutoff: the training
        // forward pass leaves a padded copy of `W` in its work, and dX = dY·W reads it.
        let mut layer = Affine::<U512, U512, f64>::new(
            Tensor::from_fn(|i| ((i[0] * 7 + i[1] * 3) % 11) as f64 - 5.0),
            Tensor::from_fn(|i| i[0] as f64),
        );
        let x = Tensor::<(U8, U512), f64>::from_fn(|i| ((i[0] + i[1]) % 5) as f64 - 2.0);
        let dy = Tensor::<(U8, U512), f64>::from_fn(|i| ((i[0] * 3 + i[1]) % 7) as f64 - 3.0);
        let mut work = Default::default();
        layer.forward_train(&x, &mut work, &mut Context::new(0));
        assert_eq!(
            work.keep.len(),
            512 * 520,
            "the forward pass made the padded copy"
        );
        let mut grads = layer.zero_grads();
        let dx = layer
            .backward_train(&x, &dy, &mut work, &mut grads, true)
            .cloned();
        let (want_dx, want_grads) = layer.backward(&x, &dy); // reads `W` itself
        assert_eq!(dx, Some(want_dx));
        assert_eq!(grads, want_grads);
        // The definition, for one element: dX[r, i] = Σ_o dY[r, o] · W[o, i].
        let (w, d) = (layer.weight.as_slice(), dy.as_slice());
        let want: f64 = (0..512).map(|o| d[3 * 512 + o] * w[o * 512 + 5]).sum();
        assert_eq!(work.dx.as_slice()[3 * 512 + 5], want);
    }

    #[test]
    fn the_allocating_backward_equals_one_added_to_zeroed_gradients() {
        // Products split across the cores (when the helpers take part) and on one thread:
        // batches of 1 (a matrix-vector product, a depth of 1 for dW), 3 and 64, half the
        // inputs 0 (as after a ReLU) and dY of both signs.
        fn check<N: crate::ConstDim>() {
            let layer = Affine::<U512, U256, f32>::new(
                Tensor::from_fn(|i| ((i[0] * 7 + i[1] * 3) % 11) as f32 * 0.25 - 1.0),
                Tensor::from_fn(|i| i[0] as f32),
            );
            let x = Tensor::<(N, U512), f32>::from_fn(|i| {
                if i[1] % 2 == 0 {
                    0.0
                } else {
                    ((i[0] + i[1]) % 5) as f32 - 2.0
                }
            });
            let dy = Tensor::<(N, U256), f32>::from_fn(|i| ((i[0] * 3 + i[1]) % 7) as f32 - 3.0);
            let (dx, grads) = layer.backward(&x, &dy);
            let (mut want_dx, mut want) = (Tensor::default(), layer.zero_grads());
            layer.backward_into(&x, &dy, &mut want_dx, &mut want);
            assert_eq!(dx, want_dx);
            assert_eq!(grads, want);
        }
        check::<U1>();
        check::<U3>();
        check::<U64>();
    }

    #[test]
    fn backward_matches_hand_computed_products() {
        let x = Tensor::<(U1, U2), f64>::from_vec(vec![1.0, -1.0]).unwrap();
        let dy = Tensor::<(U1, U3), f64>::from_vec(vec![1.0, 2.0, 3.0]).unwrap();
        let (dx, g) = layer().backward(&x, &dy);
        // dX = dY·W = [1+6+15, 2+8+18]
        assert_eq!(dx.as_slice(), &[22.0, 28.0]);
        // dW = dYᵀ·X = [[1, -1], [2, -2], [3, -3]]
        assert_eq!(g.weight.as_slice(), &[1.0, -1.0, 2.0, -2.0, 3.0, -3.0]);
        assert_eq!(g.bias.as_slice(), &[1.0, 2.0, 3.0]);
    }
}
