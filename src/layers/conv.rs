//! The strided, zero-padded 2-D convolution (NCHW), lowered to matrix products: [`Conv`], and
//! [`Conv2d`] with PyTorch's other options (dilation, groups, no bias).
//!
//! Both run on the same lowering (im2col, with the taps `D` apart) and the same products, one
//! per group: the dense case (`D = 1`, `G = 1`) issues exactly the products it always did.

use core::marker::PhantomData;
use rand::Rng;

use crate::dims::{ConstDim, ConvGroups, ConvOut, ConvOutput, Dim, Height, PerGroup, Width};
use crate::gemm::{matmul, View};
use crate::init::{uniform, Init};
use crate::module::{weight_bias_tensors, Context, LayerWork, Module, Params, Tensors};
use crate::par;
use crate::rules::{check_dim, check_dims, check_non_zero, AtBatch, ConvChannels};
use crate::rules::{ConvGradOutput, ConvNonZero, DimEq, NonZero, ShapeEq, Via};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// `Y[n, k] = b[k] + Σ_c X[n, c] ⋆ W[k, c]`: `K` filters of `C × HF × WF` slide over the
/// zero-padded input with stride `S`, as a cross-correlation (PyTorch's `conv2d`, caffe's
/// convolution). `X: (N, C, H, W)`, `W: (K, C, HF, WF)`, `b: (K,)`,
/// `Y: (N, K, HO, WO)` with `HO = ⌊(H + 2P − HF) / S⌋ + 1` ([`ConvOut`]), likewise `WO`.
///
/// With `Xp` the input padded by `P` zeros on each side, `backward` returns
///
/// - `dX[n, c] = (dilate_S(dY[n]) ⋆full rot180(W)) [c]`, shape `(N, C, H, W)`: the full
///   correlation of `dY`, dilated by `S − 1` zeros between elements, with the filters rotated
///   by 180° and their `K`/`C` roles swapped, cropped by `P` on each side; rows and columns of
///   `X` that no window reaches (when `S` leaves a remainder) get zero. Element-wise,
///   `dX[n,c,h,w] = Σ_k Σ_{i,j} dY[n,k,oh,ow] · W[k,c,i,j]` over `oh·S + i = h + P`,
///   `ow·S + j = w + P`.
/// - `dW[k, c, i, j] = Σ_n Σ_{oh,ow} dY[n,k,oh,ow] · Xp[n, c, oh·S + i, ow·S + j]`: the
///   correlation of `Xp` with the dilated `dY`, shape `(K, C, HF, WF)` in [`ConvGrads`].
/// - `db[k] = Σ_{n,oh,ow} dY[n, k, oh, ow]`, shape `(K,)`.
///
/// ```
/// use shaped::{Conv, ConvGrads, Tensor, typenum::*};
/// let conv = Conv::<U3, U16, U3, U3, U2, U1>::new(Tensor::full(0.1), Tensor::zeros());
/// let x = Tensor::<(U8, U3, U32, U32)>::full(1.0);
/// let y: Tensor<(U8, U16, U16, U16)> = conv.forward(&x);
/// let dy = Tensor::<(U8, U16, U16, U16)>::full(1.0);
/// let (dx, grads): (Tensor<(U8, U3, U32, U32)>, ConvGrads<U3, U16, U3, U3>) =
///     conv.backward(&x, &dy);
/// assert!((y.as_slice()[17] - 2.7).abs() < 1e-6); // an interior 3 x 3 x 3 window
/// assert_eq!(grads.bias.as_slice()[0], 8.0 * 16.0 * 16.0);
/// # let _ = dx;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Conv<C: Dim, K: Dim, HF: Dim, WF: Dim, S = typenum::U1, P = typenum::U0, E = f32> {
    /// `W`, shape `(K, C, HF, WF)` (PyTorch's `Conv2d.weight` layout).
    pub weight: Tensor<(K, C, HF, WF), E>,
    /// `b`, shape `(K,)`.
    pub bias: Tensor<(K,), E>,
    stride_padding: PhantomData<(S, P)>,
}

/// The parameter gradients of a [`Conv`] layer, shaped like its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGrads<C: Dim, K: Dim, HF: Dim, WF: Dim, E = f32> {
    /// `dW`, shape `(K, C, HF, WF)`.
    pub weight: Tensor<(K, C, HF, WF), E>,
    /// `db`, shape `(K,)`.
    pub bias: Tensor<(K,), E>,
}

/// A 2-D convolution with every option of PyTorch's `nn.Conv2d`: `K` filters of
/// `C/G × HF × WF`, stride `S`, zero padding `P`, dilation `D`, `G` groups, with a bias
/// ([`Bias`], the default) or without ([`NoBias`]). `Y[n, k] = b[k] + Σ_{c in k's group}
/// X[n, c] ⋆_D W[k, c]`, where `⋆_D` correlates with the kernel's taps `D` apart; `X: (N, C, H,
/// W)`, `W: (K, C/G, HF, WF)` (PyTorch's layout), `b: (K,)`, `Y: (N, K, HO, WO)` with
/// `HO = ⌊(H + 2P − D·(HF − 1) − 1) / S⌋ + 1` ([`ConvOut`]`<H, HF, S, P, Height, D>`), likewise
/// `WO`. Filter `k` belongs to group `g = k / (K/G)` and sees input channels
/// `g·C/G .. (g + 1)·C/G` only; `G = C = K` is a depthwise convolution.
///
/// `backward` returns, with `Xp` the padded input and `c' = c − g·C/G` the channel's index in
/// its group,
///
/// - `dX[n,c,h,w] = Σ_{k in c's group} Σ_{i,j} dY[n,k,oh,ow] · W[k,c',i,j]` over
///   `oh·S + i·D = h + P`, `ow·S + j·D = w + P`, shape `(N, C, H, W)`;
/// - `dW[k,c',i,j] = Σ_n Σ_{oh,ow} dY[n,k,oh,ow] · Xp[n, g·C/G + c', oh·S + i·D, ow·S + j·D]`,
///   shape `(K, C/G, HF, WF)` in [`Conv2dGrads`];
/// - `db[k] = Σ_{n,oh,ow} dY[n, k, oh, ow]`, shape `(K,)`, when the layer has a bias.
///
/// Why a type of its own rather than more parameters on [`Conv`]: `Conv<C, K, HF, WF, S, P, E>`
/// is the crate's everyday convolution, and its compile errors (which print its impls) and
/// its meaning stay exactly as they are; `Conv2d` mirrors `nn.Conv2d`'s arguments in its
/// order (in, out, kernel, stride, padding, dilation, groups, bias), then the element type.
/// With the defaults (`D = 1`, `G = 1`, a bias) it computes what `Conv` does, on the same
/// kernels.
///
/// `G` must divide both `C` and `K`, which the type checks (the weight's shape needs
/// `C/G`): `Conv2d<U8, U6, U3, U3, U1, U1, U1, U3>` does not compile, with `groups must
/// divide the channels in Conv: _3 groups do not divide _8 input channels (C)`. `C`, `K` and
/// `G` are typenum numbers.
///
/// ```
/// use shaped::{Bias, Conv2d, Conv2dGrads, NoBias, Tensor, typenum::*};
/// // Depthwise 3 × 3, dilation 2, padding 2 (keeps 16 × 16), no bias: G = C = K = 4.
/// let conv = Conv2d::<U4, U4, U3, U3, U1, U2, U2, U4, NoBias>::new(Tensor::full(0.5), ());
/// let x = Tensor::<(U2, U4, U16, U16)>::full(1.0);
/// let y: Tensor<(U2, U4, U16, U16)> = conv.forward(&x);
/// assert_eq!(y.as_slice()[8 * 16 + 8], 4.5); // an interior window: 9 taps of 0.5
/// let (dx, grads): (Tensor<(U2, U4, U16, U16)>, Conv2dGrads<U1, U4, U3, U3, NoBias>) =
///     conv.backward(&x, &y);
/// assert_eq!(grads.weight.dims(), [4, 1, 3, 3]); // (K, C/G, HF, WF)
///
/// // Grouped: 8 channels in 2 groups, 6 filters (3 a group), stride 2, with a bias.
/// let conv = Conv2d::<U8, U6, U3, U3, U2, U1, U1, U2>::new(Tensor::full(0.1), Tensor::zeros());
/// let y: Tensor<(U2, U6, U8, U8)> = conv.forward(&Tensor::<(U2, U8, U16, U16)>::full(1.0));
/// assert!((y.as_slice()[9] - 3.6).abs() < 1e-5); // 4 channels × 9 taps × 0.1
/// # let _ = (dx, Bias);
/// ```
pub struct Conv2d<
    C,
    K,
    HF,
    WF,
    S = typenum::U1,
    P = typenum::U0,
    D = typenum::U1,
    G = typenum::U1,
    B = Bias,
    E = f32,
> where
    // The weight's second dim is `C/G`: the type can name it only where `G` divides `C`
    // (and `K`), which is the rule's own error otherwise.
    C: ConvGroups<K, G>,
    B: ConvBias<K, E>,
{
    /// `W`, shape `(K, C/G, HF, WF)` (PyTorch's `Conv2d.weight` layout).
    pub weight: Tensor<(K, PerGroup<C, K, G>, HF, WF), E>,
    /// `b`, shape `(K,)` ([`Bias`]), or `()` ([`NoBias`]: no `bias` tensor, as PyTorch's
    /// `bias=False`).
    pub bias: B::Param,
    options: PhantomData<(S, P, D)>,
}

/// The parameter gradients of a [`Conv2d`] layer, shaped like its parameters: `CG = C/G` is
/// the weight's second dim ([`PerGroup`]).
///
/// ```
/// use shaped::{typenum::*, Conv2d, Conv2dGrads, Params, PerGroup, Seeded};
/// type Grouped = Conv2d<U8, U6, U3, U3, U1, U1, U1, U2>; // 2 groups of 4 channels
/// let grads: Conv2dGrads<PerGroup<U8, U6, U2>, U6, U3, U3> = Grouped::seeded(0).zero_grads();
/// assert_eq!(grads.weight.dims(), [6, 4, 3, 3]);
/// assert_eq!(grads.bias.dims(), [6]);
/// ```
pub struct Conv2dGrads<CG, K, HF, WF, B = Bias, E = f32>
where
    B: ConvBias<K, E>,
{
    /// `dW`, shape `(K, C/G, HF, WF)`.
    pub weight: Tensor<(K, CG, HF, WF), E>,
    /// `db`, shape `(K,)`, or `()` for a layer without bias.
    pub bias: B::Param,
}

// Written out rather than derived: a derive would ask `Clone`, `Debug` and `PartialEq` of every
// type parameter (the typenum options, the bias kind) instead of the fields.
impl<C, K, HF, WF, S, P, D, G, B, E> Clone for Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    C: ConvGroups<K, G>,
    B: ConvBias<K, E>,
    Tensor<(K, PerGroup<C, K, G>, HF, WF), E>: Clone,
{
    fn clone(&self) -> Self {
        Self {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            options: PhantomData,
        }
    }
}
impl<C, K, HF, WF, S, P, D, G, B, E> core::fmt::Debug for Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    C: ConvGroups<K, G>,
    B: ConvBias<K, E>,
    Tensor<(K, PerGroup<C, K, G>, HF, WF), E>: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Conv2d")
            .field("weight", &self.weight)
            .field("bias", &self.bias)
            .finish()
    }
}
impl<C, K, HF, WF, S, P, D, G, B, E> PartialEq for Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    C: ConvGroups<K, G>,
    B: ConvBias<K, E>,
    Tensor<(K, PerGroup<C, K, G>, HF, WF), E>: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        self.weight == other.weight && self.bias == other.bias
    }
}
impl<CG, K, HF, WF, B, E> Clone for Conv2dGrads<CG, K, HF, WF, B, E>
where
    B: ConvBias<K, E>,
    Tensor<(K, CG, HF, WF), E>: Clone,
{
    fn clone(&self) -> Self {
        Self {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
        }
    }
}
impl<CG, K, HF, WF, B, E> core::fmt::Debug for Conv2dGrads<CG, K, HF, WF, B, E>
where
    B: ConvBias<K, E>,
    Tensor<(K, CG, HF, WF), E>: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Conv2dGrads")
            .field("weight", &self.weight)
            .field("bias", &self.bias)
            .finish()
    }
}
impl<CG, K, HF, WF, B, E> PartialEq for Conv2dGrads<CG, K, HF, WF, B, E>
where
    B: ConvBias<K, E>,
    Tensor<(K, CG, HF, WF), E>: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        self.weight == other.weight && self.bias == other.bias
    }
}

/// A [`Conv2d`] with a bias `(K,)` (PyTorch's default): its parameter `bias` is a
/// `Tensor<(K,)>`.
///
/// ```
/// use shaped::{typenum::*, Bias, Conv2d, Tensor};
/// let conv = Conv2d::<U1, U2, U1, U1, U1, U0, U1, U1, Bias>::new(Tensor::full(2.0), Tensor::full(1.0));
/// let y = conv.forward(&Tensor::<(U1, U1, U1, U1)>::full(3.0)); // Tensor<(U1, U2, U1, U1)>
/// assert_eq!(y.as_slice(), &[7.0, 7.0]); // 2 · 3 + 1
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bias;
/// A [`Conv2d`] without bias (PyTorch's `bias=False`, the convolution before a batch norm):
/// its only parameter is `weight`, and so are its saved names; its `bias` field is `()`.
///
/// ```
/// use shaped::{typenum::*, Conv2d, NoBias, Seeded, Tensors};
/// let conv = Conv2d::<U3, U8, U3, U3, U1, U1, U1, U1, NoBias>::seeded(0);
/// let mut names = Vec::new();
/// conv.visit("", &mut |name, _, _| names.push(name.to_string()));
/// assert_eq!(names, ["weight"]); // as PyTorch's state_dict of Conv2d(3, 8, 3, bias=False)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoBias;

/// Whether a [`Conv2d`] has a bias: [`Bias`] or [`NoBias`]. Code generic over both reaches the
/// bias through it.
///
/// A type parameter of `Conv2d` rather than a layer of its own, because a missing bias goes
/// with the other options: the convolutions before a batch norm (ResNet's, MobileNet's
/// depthwise ones) are grouped or strided *and* bias-free, and one type covers every
/// `nn.Conv2d`.
///
/// ```
/// use shaped::{typenum::*, Bias, ConvBias, NoBias, Tensor};
/// let b = <Bias as ConvBias<U2, f32>>::make(|| Tensor::full(0.5));
/// assert_eq!(<Bias as ConvBias<U2, f32>>::tensor(&b).map(|t| t.as_slice()), Some(&[0.5, 0.5][..]));
/// let none = <NoBias as ConvBias<U2, f32>>::make(|| unreachable!("no bias to make"));
/// assert!(<NoBias as ConvBias<U2, f32>>::tensor(&none).is_none());
/// ```
pub trait ConvBias<K, E> {
    /// The bias parameter: `Tensor<(K,), E>`, or `()`.
    type Param: Clone + core::fmt::Debug + PartialEq + Send + Sync;
    /// The bias tensor, if there is one.
    fn tensor(bias: &Self::Param) -> Option<&Tensor<(K,), E>>;
    /// The bias tensor, mutable, if there is one.
    fn tensor_mut(bias: &mut Self::Param) -> Option<&mut Tensor<(K,), E>>;
    /// The parameter, built by `make` if there is one (`make` is not called otherwise).
    fn make(make: impl FnOnce() -> Tensor<(K,), E>) -> Self::Param;
}
impl<K: Dim, E: Element> ConvBias<K, E> for Bias {
    type Param = Tensor<(K,), E>;
    fn tensor(bias: &Self::Param) -> Option<&Tensor<(K,), E>> {
        Some(bias)
    }
    fn tensor_mut(bias: &mut Self::Param) -> Option<&mut Tensor<(K,), E>> {
        Some(bias)
    }
    fn make(make: impl FnOnce() -> Tensor<(K,), E>) -> Self::Param {
        make()
    }
}
impl<K, E> ConvBias<K, E> for NoBias {
    type Param = ();
    fn tensor(_: &()) -> Option<&Tensor<(K,), E>> {
        None
    }
    fn tensor_mut(_: &mut ()) -> Option<&mut Tensor<(K,), E>> {
        None
    }
    fn make(_: impl FnOnce() -> Tensor<(K,), E>) {}
}

/// The sizes of one convolution, read off the types.
#[derive(Clone, Copy, Debug)]
struct Geom {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    hf: usize,
    wf: usize,
    s: usize,
    p: usize,
    /// The dilation: kernel taps `d` apart (1: the dense kernel).
    d: usize,
    /// The groups: filters `k / groups · g ..` see channels `c / groups · g ..` only.
    groups: usize,
    ho: usize,
    wo: usize,
}

impl Geom {
    /// Rows of the lowered input: one per (channel, kernel row, kernel column).
    fn patch(&self) -> usize {
        self.c * self.hf * self.wf
    }
    /// Rows of one group's block of the lowered input, and the length of a filter: one per
    /// (channel of the group, kernel row, kernel column).
    fn group_patch(&self) -> usize {
        self.patch() / self.groups
    }
    /// Filters per group.
    fn group_k(&self) -> usize {
        self.k / self.groups
    }
    /// Columns of the lowered input: one per output position.
    fn positions(&self) -> usize {
        self.ho * self.wo
    }
    /// A 1×1 kernel, stride 1, no padding: the input is its own lowering.
    fn is_pointwise(&self) -> bool {
        self.hf == 1 && self.wf == 1 && self.s == 1 && self.p == 0
    }
    /// For kernel offset `j` (a tap's index times the dilation), the output columns `lo..hi`
    /// whose input column `o·S + j − P` lies inside `0..size`.
    fn valid(&self, j: usize, out: usize, size: usize) -> (usize, usize) {
        // o·S + j ≥ P  ⇔  o ≥ ⌈(P − j) / S⌉
        let lo = if j >= self.p {
            0
        } else {
            (self.p - j).div_ceil(self.s)
        };
        // o·S + j − P < size  ⇔  o < ⌈(size + P − j) / S⌉
        let hi = (size + self.p).saturating_sub(j).div_ceil(self.s).min(out);
        (lo.min(hi), hi)
    }

    /// Lowers one sample `x (C, H, W)` into `cols (C·HF·WF, HO·WO)`, zeros for the padding:
    /// row `(c, i, j)` holds the input at `(oh·S + i·D − P, ow·S + j·D − P)`. The rows of a
    /// group's channels are one block, which is all a grouped convolution needs.
    fn im2col<E: Element>(&self, x: &[E], cols: &mut [E]) {
        let (ho, wo, s, p) = (self.ho, self.wo, self.s, self.p);
        let mut rows = cols.chunks_exact_mut(self.positions());
        for c in 0..self.c {
            let plane = &x[c * self.h * self.w..(c + 1) * self.h * self.w];
            for i in (0..self.hf).map(|i| i * self.d) {
                let (oh_lo, oh_hi) = self.valid(i, ho, self.h);
                for j in (0..self.wf).map(|j| j * self.d) {
                    // `cols` holds exactly one row per (c, i, j).
                    let Some(row) = rows.next() else { return };
                    let (ow_lo, ow_hi) = self.valid(j, wo, self.w);
                    if ow_lo > 0 || ow_hi < wo || oh_lo > 0 || oh_hi < ho {
                        // One fill for the whole row: per-segment fills of one or two
                        // elements cost a call each and dominated the lowering.
                        row.fill(E::zero());
                    }
                    if ow_lo == ow_hi {
                        continue; // this kernel column only ever sees padding
                    }
                    for oh in oh_lo..oh_hi {
                        let src = &plane[(oh * s + i - p) * self.w..][..self.w];
                        let dst = &mut row[oh * wo..(oh + 1) * wo];
                        let first = ow_lo * s + j - p;
                        gather(s, &mut dst[ow_lo..ow_hi], &src[first..]);
                    }
                }
            }
        }
    }

    /// The adjoint of [`Geom::im2col`]: adds `cols` onto one sample `dx (C, H, W)` (which
    /// the caller zeroed).
    fn col2im<E: Element>(&self, cols: &[E], dx: &mut [E]) {
        let (ho, wo, s, p) = (self.ho, self.wo, self.s, self.p);
        let mut rows = cols.chunks_exact(self.positions());
        for c in 0..self.c {
            let plane = &mut dx[c * self.h * self.w..(c + 1) * self.h * self.w];
            for i in (0..self.hf).map(|i| i * self.d) {
                let (oh_lo, oh_hi) = self.valid(i, ho, self.h);
                for j in (0..self.wf).map(|j| j * self.d) {
                    // `cols` holds exactly one row per (c, i, j).
                    let Some(row) = rows.next() else { return };
                    let (ow_lo, ow_hi) = self.valid(j, wo, self.w);
                    if ow_lo == ow_hi {
                        continue;
                    }
                    for oh in oh_lo..oh_hi {
                        let dst = &mut plane[(oh * s + i - p) * self.w..][..self.w];
                        let src = &row[oh * wo + ow_lo..oh * wo + ow_hi];
                        let first = ow_lo * s + j - p;
                        scatter_add(s, &mut dst[first..], src);
                    }
                }
            }
        }
    }
}

/// `dst[o] = src[o·s]`, with the common strides as constants so the loop vectorises.
#[inline]
fn gather<E: Copy>(s: usize, dst: &mut [E], src: &[E]) {
    #[inline(always)]
    fn fixed<E: Copy, const S: usize>(dst: &mut [E], src: &[E]) {
        let Some(last) = dst.len().checked_sub(1) else {
            return;
        };
        // Exact chunks need no bounds checks; the last element's chunk may pass the row's end.
        let (body, tail) = dst.split_at_mut(last);
        for (d, c) in body.iter_mut().zip(src.chunks_exact(S)) {
            *d = c[0];
        }
        tail[0] = src[last * S];
    }
    match s {
        1 => dst.copy_from_slice(&src[..dst.len()]),
        2 => fixed::<E, 2>(dst, src),
        3 => fixed::<E, 3>(dst, src),
        _ => {
            for (d, v) in dst.iter_mut().zip(src.iter().step_by(s)) {
                *d = *v;
            }
        }
    }
}

/// `dst[o·s] += src[o]`, the adjoint of [`gather`].
#[inline]
fn scatter_add<E: Element>(s: usize, dst: &mut [E], src: &[E]) {
    #[inline(always)]
    fn fixed<E: Element, const S: usize>(dst: &mut [E], src: &[E]) {
        // Whole groups of S first, written back in full (the other lanes gain +0), so the
        // loop vectorises; then the tail.
        let whole = src.len().min(dst.len() / S);
        for (c, v) in dst[..whole * S].chunks_exact_mut(S).zip(&src[..whole]) {
            c[0] += *v;
            for other in &mut c[1..] {
                *other += E::zero();
            }
        }
        for (o, v) in src.iter().enumerate().skip(whole) {
            dst[o * S] += *v;
        }
    }
    match s {
        1 => dst.iter_mut().zip(src).for_each(|(d, v)| *d += *v),
        2 => fixed::<E, 2>(dst, src),
        3 => fixed::<E, 3>(dst, src),
        _ => {
            for (d, v) in dst.iter_mut().step_by(s).zip(src) {
                *d += *v;
            }
        }
    }
}

/// The batch is split into at most this many tasks, a number that depends on the batch alone:
/// the gradient of the weights is summed task by task in a fixed order, so results do not depend
/// on the number of threads. Four keep both cores of a 2-core machine busy with slack for uneven
/// tasks, and bound the per-task copies of `dW` to four.
const MAX_TASKS: usize = 4;

/// Below this many flops a pass runs on the calling thread: waking a second thread costs more
/// than it saves (the same cutoff as the matrix products' own).
const PARALLEL_MIN_FLOPS: usize = 4_000_000;

/// How a batch of `n` samples is split: `(tasks, samples per task)`.
fn tasks(n: usize) -> (usize, usize) {
    let per_task = n.div_ceil(MAX_TASKS).max(1);
    (n.div_ceil(per_task), per_task)
}

/// Runs `f(task, scratch, a, b)` over the tasks' chunks of `scratch` (`s_len` each), `a`
/// (`a_len`) and, when given, `b` (`b_len`), in parallel or in order on this thread. Every
/// chunk length is at least 1 element (a task with nothing to keep still gets its turn).
#[allow(clippy::too_many_arguments)]
fn run_tasks<E: Element>(
    parallel: bool,
    scratch: &mut [E],
    s_len: usize,
    a: &[E],
    a_len: usize,
    b: Option<&mut [E]>,
    b_len: usize,
    f: impl Fn(usize, &mut [E], &[E], Option<&mut [E]>) + Sync,
) {
    let (s_len, a_len, b_len) = (s_len.max(1), a_len.max(1), b_len.max(1));
    let tasks = scratch.len().div_ceil(s_len).min(a.len().div_ceil(a_len));
    let a_chunk = |t: usize| &a[t * a_len..((t + 1) * a_len).min(a.len())];
    match b {
        Some(b) => {
            let tasks = tasks.min(b.len().div_ceil(b_len));
            let bufs = [(scratch, s_len), (b, b_len)];
            par::for_task_chunks(parallel, tasks, bufs, |t, [s, b]| {
                f(t, s, a_chunk(t), Some(b))
            });
        }
        None => par::for_task_chunks(parallel, tasks, [(scratch, s_len)], |t, [s]| {
            f(t, s, a_chunk(t), None)
        }),
    }
}

impl Geom {
    /// Elements of one sample's lowered input (none when pointwise: the input is its own).
    fn lowered_len(&self) -> usize {
        if self.is_pointwise() {
            0
        } else {
            self.patch() * self.positions()
        }
    }
    /// Flops of the forward pass over `n` samples.
    fn flops(&self, n: usize) -> usize {
        2 * n * self.k * self.group_patch() * self.positions()
    }
    /// The scratch one backward task needs: `dWᵀ` (one block per group) and `db`
    /// accumulators, the lowered input's gradient, and the lowered input itself when the
    /// forward pass did not keep it.
    fn task_scratch(&self, kept: bool) -> usize {
        let cols = self.lowered_len();
        self.k * self.group_patch() + self.k + cols + if kept { 0 } else { cols }
    }
}

/// A convolution's parameters as slices: `W (K, C/G, HF, WF)` and, if the layer has one, `b`.
#[derive(Clone, Copy)]
struct Kernel<'a, E> {
    weight: &'a [E],
    bias: Option<&'a [E]>,
}

/// The forward pass over a batch. `cols` holds one lowered input per sample when `keep`
/// (kept for the backward pass), else one per task (scratch); unused when pointwise.
fn forward_slices<E: Element>(
    g: &Geom,
    kernel: Kernel<'_, E>,
    x: &[E],
    y: &mut [E],
    cols: &mut [E],
    keep: bool,
) {
    let (in_len, out_len, cols_len) = (g.c * g.h * g.w, g.k * g.positions(), g.lowered_len());
    let n = y.len() / out_len.max(1);
    let (_, per_task) = tasks(n);
    let cols_per_task = if keep { per_task * cols_len } else { cols_len };
    let parallel = g.flops(n) >= PARALLEL_MIN_FLOPS && par::threads() > 1;
    // A pointwise convolution lowers nothing, but each task still takes its (empty) turn.
    let mut nothing = [E::zero(); MAX_TASKS];
    let cols = if cols_len == 0 {
        &mut nothing[..]
    } else {
        cols
    };
    run_tasks(
        parallel,
        cols,
        cols_per_task,
        x,
        per_task * in_len,
        Some(y),
        per_task * out_len,
        |_, cols, xs, ys| {
            let ys = ys.unwrap_or_else(|| unreachable!("the output is given"));
            for (j, (yn, xn)) in ys
                .chunks_exact_mut(out_len)
                .zip(xs.chunks_exact(in_len))
                .enumerate()
            {
                let at = if keep { j * cols_len } else { 0 };
                forward_one(g, kernel, xn, yn, &mut cols[at..at + cols_len]);
            }
        },
    );
}

fn forward_one<E: Element>(g: &Geom, kernel: Kernel<'_, E>, x: &[E], y: &mut [E], cols: &mut [E]) {
    let positions = g.positions();
    if let Some(bias) = kernel.bias {
        for (row, &b) in y.chunks_exact_mut(positions).zip(bias) {
            row.fill(b);
        }
    }
    let lowered: &[E] = if g.is_pointwise() {
        x
    } else {
        g.im2col(x, cols);
        cols
    };
    // Per group: Y_g (K/G × HO·WO) += W_g (K/G × C/G·HF·WF) · cols_g (C/G·HF·WF × HO·WO), the
    // blocks of rows of Y, W and the lowering that belong to the group (one product when G = 1).
    let (kg, patch) = (g.group_k(), g.group_patch());
    for ((yg, wg), cg) in y
        .chunks_exact_mut(kg * positions)
        .zip(kernel.weight.chunks_exact(kg * patch))
        .zip(lowered.chunks_exact(patch * positions))
    {
        matmul(
            [kg, positions, patch],
            yg,
            positions,
            kernel.bias.is_some(),
            View::rows(wg, patch),
            View::rows(cg, positions),
        );
    }
}

/// The backward pass over a batch: adds `dW` into `dw` and `db` into `db` (when the layer has
/// a bias) and, when `dx` is given, writes `dX` there. The lowered input is read from `kept`
/// (one per sample, kept by the forward pass) or lowered again from `x`; `scratch` holds
/// [`Geom::task_scratch`] per task.
#[allow(clippy::too_many_arguments)]
fn backward_slices<E: Element>(
    g: &Geom,
    weight: &[E],
    x: &[E],
    kept: Option<&[E]>,
    dy: &[E],
    dx: Option<&mut [E]>,
    (gw, mut gb): (&mut [E], Option<&mut [E]>),
    scratch: &mut [E],
) {
    let (in_len, out_len) = (g.c * g.h * g.w, g.k * g.positions());
    let (dw_len, positions, patch) = (g.k * g.group_patch(), g.positions(), g.group_patch());
    let cols_len = g.lowered_len();
    let n = dy.len() / out_len.max(1);
    let (tasks, per_task) = tasks(n);
    let task_len = g.task_scratch(kept.is_some());
    let parallel = 2 * g.flops(n) >= PARALLEL_MIN_FLOPS && par::threads() > 1;
    let with_bias = gb.is_some();
    run_tasks(
        parallel,
        &mut scratch[..tasks * task_len],
        task_len,
        dy,
        per_task * out_len,
        dx,
        per_task * in_len,
        |task, acc, dys, dxs| {
            let (dw, rest) = acc.split_at_mut(dw_len);
            let (db, rest) = rest.split_at_mut(g.k);
            let (dcols, cols) = rest.split_at_mut(cols_len);
            dw.fill(E::zero());
            db.fill(E::zero());
            let mut dxs = dxs.map(|d| d.chunks_exact_mut(in_len));
            for (j, dyn_) in dys.chunks_exact(out_len).enumerate() {
                let sample = task * per_task + j;
                let xn = &x[sample * in_len..][..in_len];
                let lowered: &[E] = if g.is_pointwise() {
                    xn
                } else if let Some(kept) = kept {
                    &kept[sample * cols_len..][..cols_len]
                } else {
                    g.im2col(xn, cols);
                    cols
                };
                let dxn = dxs.as_mut().and_then(|d| d.next());
                backward_one(g, weight, lowered, dyn_, dxn, dw, dcols);
                if with_bias {
                    for (b, row) in db.iter_mut().zip(dyn_.chunks_exact(positions)) {
                        *b += row.iter().copied().sum::<E>();
                    }
                }
            }
        },
    );
    // The tasks' sums, added in task order (the same order whatever ran them), with each
    // group's dW_gᵀ (C/G·HF·WF × K/G) transposed back into its filters' rows of (K, C/G, HF, WF).
    let kg = g.group_k();
    for acc in scratch[..tasks * task_len].chunks_exact(task_len) {
        for (wg, accg) in gw
            .chunks_exact_mut(kg * patch)
            .zip(acc[..dw_len].chunks_exact(patch * kg))
        {
            for (idx, w) in wg.iter_mut().enumerate() {
                *w += accg[(idx % patch) * kg + idx / patch];
            }
        }
        if let Some(gb) = gb.as_deref_mut() {
            for (b, &a) in gb.iter_mut().zip(&acc[dw_len..dw_len + g.k]) {
                *b += a;
            }
        }
    }
}

fn backward_one<E: Element>(
    g: &Geom,
    weight: &[E],
    lowered: &[E],
    dy: &[E],
    dx: Option<&mut [E]>,
    dw: &mut [E],
    dcols: &mut [E],
) {
    let (positions, patch, kg) = (g.positions(), g.group_patch(), g.group_k());
    // Per group, dW_gᵀ (C/G·HF·WF × K/G) += cols_g (C/G·HF·WF × HO·WO) · dY_gᵀ (HO·WO × K/G);
    // this orientation packs the small dY instead of the large lowered input (measured faster).
    for ((dwg, cg), dyg) in dw
        .chunks_exact_mut(patch * kg)
        .zip(lowered.chunks_exact(patch * positions))
        .zip(dy.chunks_exact(kg * positions))
    {
        matmul(
            [patch, kg, positions],
            dwg,
            kg,
            true,
            View::rows(cg, positions),
            View::transposed(dyg, positions),
        );
    }
    let Some(dx) = dx else { return };
    // Per group, dcols_g (C/G·HF·WF × HO·WO) = W_gᵀ (C/G·HF·WF × K/G) · dY_g (K/G × HO·WO),
    // then the whole lowering back onto dX.
    let pointwise = g.is_pointwise();
    let target: &mut [E] = if pointwise { &mut *dx } else { &mut *dcols };
    for ((tg, wg), dyg) in target
        .chunks_exact_mut(patch * positions)
        .zip(weight.chunks_exact(kg * patch))
        .zip(dy.chunks_exact(kg * positions))
    {
        matmul(
            [patch, positions, kg],
            tg,
            positions,
            false,
            View::transposed(wg, patch),
            View::rows(dyg, positions),
        );
    }
    if !pointwise {
        dx.fill(E::zero());
        g.col2im(dcols, dx);
    }
}

impl<C, K, HF, WF, S, P, E> Conv<C, K, HF, WF, S, P, E>
where
    C: Dim,
    K: Dim,
    HF: Dim,
    WF: Dim,
    // Stride and padding have no tensor to be read from: they are compile-time sizes.
    S: ConstDim,
    P: ConstDim,
    E: Element,
{
    /// A layer with the given weight `(K, C, HF, WF)` and bias `(K,)`.
    ///
    /// # Panics
    ///
    /// If `K` is a [`Dyn`](crate::Dyn) dim and the two tensors disagree on its size, or if `C`,
    /// `K`, `HF` or `WF` is 0 (`zero-sized Conv layer: …`; [`Init`] refuses a
    /// static 0 at compile time).
    #[track_caller]
    pub fn new(weight: Tensor<(K, C, HF, WF), E>, bias: Tensor<(K,), E>) -> Self {
        for d in weight.dims() {
            check_non_zero::<ConvNonZero>(d);
        }
        assert_eq!(
            weight.dims()[0],
            bias.dims()[0],
            "Conv: the weight has {} filters (K), the bias {}",
            weight.dims()[0],
            bias.dims()[0]
        );
        Self {
            weight,
            bias,
            stride_padding: PhantomData,
        }
    }

    /// The sizes of a convolution of an input `(C2, H, W)`, its output size, and the output
    /// shape for a batch `n`.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of the input breaks a rule the compiler could not check.
    #[allow(clippy::type_complexity)]
    #[track_caller]
    fn geom<N, C2, H, W>(
        &self,
        (n, c2, h, w): (N, C2, H, W),
    ) -> (
        Geom,
        (N, K, ConvOut<H, HF, S, P>, ConvOut<W, WF, S, P, Width>),
    )
    where
        N: Dim,
        C2: Dim,
        H: Dim + ConvOutput<HF, S, P, Height>,
        W: Dim + ConvOutput<WF, S, P, Width>,
    {
        let (k, c, hf, wf) = self.weight.shape();
        check_dim::<ConvChannels>(c.size(), c2.size());
        let (ho, wo) = (h.conv_out(), w.conv_out());
        let g = Geom {
            c: c.size(),
            h: h.size(),
            w: w.size(),
            k: k.size(),
            hf: hf.size(),
            wf: wf.size(),
            s: S::SIZE,
            p: P::SIZE,
            d: 1,
            groups: 1,
            ho: ho.size(),
            wo: wo.size(),
        };
        (g, (n, k, ho, wo))
    }

    /// `(N, C, H, W) -> (N, K, HO, WO)`.
    ///
    /// Another channel count, a kernel larger than the padded input, or a zero stride does not
    /// compile; the error names the rule and both numbers.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of the input breaks one of these rules, with the same
    /// message in plain decimal.
    #[allow(clippy::type_complexity)]
    #[track_caller]
    pub fn forward<N, C2, H, W>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
    ) -> Tensor<(N, K, ConvOut<H, HF, S, P>, ConvOut<W, WF, S, P, Width>), E>
    where
        N: Dim,
        C2: Dim + DimEq<C, ConvChannels>,
        H: Dim + ConvOutput<HF, S, P, Height>,
        W: Dim + ConvOutput<WF, S, P, Width>,
    {
        let (g, out) = self.geom(x.shape());
        let mut y = Tensor::zeros_with(out);
        let mut cols = vec![E::zero(); MAX_TASKS * g.lowered_len()];
        forward_slices(
            &g,
            self.kernel(),
            x.as_slice(),
            y.as_mut_slice(),
            &mut cols,
            false,
        );
        y
    }

    /// The gradients of a loss through the layer: given `x` `(N, C, H, W)` and `dy = ∂L/∂Y`
    /// `(N, K, HO, WO)`, returns `dX` `(N, C, H, W)` and [`ConvGrads`] `dW` `(K, C, HF, WF)`,
    /// `db` `(K,)` (formulas on [`Conv`]).
    ///
    /// `dy` must have exactly the forward output's shape: a `dy` of the un-strided size, or of
    /// another batch, does not compile, and the error prints both shapes.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim hides a mismatch from the compiler (a `dy` of another
    /// runtime batch than `x`, say), with the rule's message in plain decimal.
    #[allow(clippy::type_complexity)]
    #[track_caller]
    pub fn backward<N, C2, H, W, G>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
        dy: &Tensor<G, E>,
    ) -> (Tensor<(N, C, H, W), E>, ConvGrads<C, K, HF, WF, E>)
    where
        N: Dim,
        C2: Dim + DimEq<C, ConvChannels>,
        H: Dim + ConvOutput<HF, S, P, Height>,
        W: Dim + ConvOutput<WF, S, P, Width>,
        G: Shape
            + ShapeEq<(N, K, ConvOut<H, HF, S, P>, ConvOut<W, WF, S, P, Width>), ConvGradOutput>,
    {
        let (n, _, h, w) = x.shape();
        let (g, out) = self.geom(x.shape());
        check_dims::<ConvGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        let mut dx = Tensor::zeros_with((n, self.weight.shape().1, h, w));
        let mut grads = self.zero_grads();
        let mut scratch = vec![E::zero(); MAX_TASKS * g.task_scratch(false)];
        backward_slices(
            &g,
            self.weight.as_slice(),
            x.as_slice(),
            None,
            dy.as_slice(),
            Some(dx.as_mut_slice()),
            (grads.weight.as_mut_slice(), Some(grads.bias.as_mut_slice())),
            &mut scratch,
        );
        (dx, grads)
    }

    /// The parameters as slices.
    fn kernel(&self) -> Kernel<'_, E> {
        Kernel {
            weight: self.weight.as_slice(),
            bias: Some(self.bias.as_slice()),
        }
    }
}

impl<C: Dim, K: Dim, HF: Dim, WF: Dim, S, P, E: Element> Tensors<E>
    for Conv<C, K, HF, WF, S, P, E>
{
    weight_bias_tensors!();
}
impl<C: Dim, K: Dim, HF: Dim, WF: Dim, E: Element> Tensors<E> for ConvGrads<C, K, HF, WF, E> {
    weight_bias_tensors!();
}

impl<C: Dim, K: Dim, HF: Dim, WF: Dim, S, P, E: Element> Params<E> for Conv<C, K, HF, WF, S, P, E> {
    type Grads = ConvGrads<C, K, HF, WF, E>;

    fn zero_grads(&self) -> Self::Grads {
        ConvGrads {
            weight: Tensor::zeros_with(self.weight.shape()),
            bias: Tensor::zeros_with(self.bias.shape()),
        }
    }
}

/// What a [`Conv`] training step keeps: the lowered input (one `C·HF·WF × HO·WO` matrix per
/// sample, kept from the forward to the backward pass so the input is not lowered twice; none
/// for a pointwise convolution, whose input is its own lowering) and the backward tasks'
/// scratch. Both grow to the largest batch seen and never shrink.
#[derive(Debug, Default)]
pub struct ConvKeep<E> {
    lowered: Vec<E>,
    scratch: Vec<E>,
}

/// The output shape of a convolution.
type ConvShape<N, K, H, W, HF, WF, S, P> =
    (N, K, ConvOut<H, HF, S, P>, ConvOut<W, WF, S, P, Width>);

impl<N, C2, H, W, C, K, HF, WF, S, P, E> Module<E, Tensor<(N, C2, H, W), E>>
    for Conv<C, K, HF, WF, S, P, E>
where
    N: Dim,
    C: Dim,
    K: Dim,
    HF: Dim,
    WF: Dim,
    S: ConstDim,
    P: ConstDim,
    E: Element,
    C2: Dim,
    H: Dim + ConvOutput<HF, S, P, Height>,
    W: Dim + ConvOutput<WF, S, P, Width>,
    // The junction rule, undecided until the batch is known (see `rules::Anchor`).
    AtBatch<N, C2>: DimEq<C, ConvChannels>,
{
    type Out = Tensor<ConvShape<N, K, H, W, HF, WF, S, P>, E>;
    type Work = LayerWork<(N, C2, H, W), ConvShape<N, K, H, W, HF, WF, S, P>, E, ConvKeep<E>>;

    fn infer(&self, x: &Tensor<(N, C2, H, W), E>) -> Self::Out {
        let (g, out) = self.geom(x.shape());
        let mut y = Tensor::zeros_with(out);
        let mut cols = vec![E::zero(); MAX_TASKS * g.lowered_len()];
        forward_slices(
            &g,
            self.kernel(),
            x.as_slice(),
            y.as_mut_slice(),
            &mut cols,
            false,
        );
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C2, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (g, out) = self.geom(x.shape());
        let n = out.0.size();
        // Grown to the largest batch seen, never shrunk: alternating batch sizes reuse it.
        let lowered = n * g.lowered_len();
        if work.keep.lowered.len() < lowered {
            work.keep.lowered.resize(lowered, E::zero());
        }
        let y = work.out.reset(out);
        forward_slices(
            &g,
            self.kernel(),
            x.as_slice(),
            y.as_mut_slice(),
            &mut work.keep.lowered[..lowered],
            true,
        );
        &work.out
    }

    fn backward_train<'w>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C2, H, W), E>> {
        let (g, out) = self.geom(x.shape());
        check_dims::<ConvGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        let scratch = tasks(out.0.size()).0 * g.task_scratch(true);
        if work.keep.scratch.len() < scratch {
            work.keep.scratch.resize(scratch, E::zero());
        }
        let lowered = out.0.size() * g.lowered_len();
        let dx = input_grad.then(|| work.dx.reset(x.shape()).as_mut_slice());
        backward_slices(
            &g,
            self.weight.as_slice(),
            x.as_slice(),
            Some(&work.keep.lowered[..lowered]),
            dy.as_slice(),
            dx,
            (grads.weight.as_mut_slice(), Some(grads.bias.as_mut_slice())),
            &mut work.keep.scratch,
        );
        input_grad.then_some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

/// The output shape of a dilated convolution.
type Conv2dShape<N, K, H, W, HF, WF, S, P, D> = (
    N,
    K,
    ConvOut<H, HF, S, P, Height, D>,
    ConvOut<W, WF, S, P, Width, D>,
);

impl<C, K, HF, WF, S, P, D, G, B, E> Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    C: ConstDim + ConvGroups<K, G>,
    K: ConstDim,
    HF: Dim,
    WF: Dim,
    // Stride, padding, dilation and groups have no tensor to be read from.
    S: ConstDim,
    P: ConstDim,
    D: ConstDim,
    G: ConstDim,
    B: ConvBias<K, E>,
    E: Element,
{
    /// A layer with the given weight `(K, C/G, HF, WF)` and bias: a `Tensor<(K,)>` for
    /// [`Bias`], `()` for [`NoBias`].
    ///
    /// # Panics
    ///
    /// If `HF` or `WF` is 0 (`zero-sized Conv layer: …`; [`Init`] refuses a static 0, and a
    /// `C` or `K` of 0, at compile time).
    #[track_caller]
    pub fn new(weight: Tensor<(K, PerGroup<C, K, G>, HF, WF), E>, bias: B::Param) -> Self {
        for d in weight.dims() {
            check_non_zero::<ConvNonZero>(d);
        }
        Self {
            weight,
            bias,
            options: PhantomData,
        }
    }

    /// The parameters as slices.
    fn kernel(&self) -> Kernel<'_, E> {
        Kernel {
            weight: self.weight.as_slice(),
            bias: B::tensor(&self.bias).map(Tensor::as_slice),
        }
    }

    /// The sizes of a convolution of an input `(C2, H, W)`, and the output shape for a batch.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of the input breaks a rule the compiler could not check.
    #[track_caller]
    fn geom<N, C2, H, W>(
        &self,
        (n, c2, h, w): (N, C2, H, W),
    ) -> (Geom, Conv2dShape<N, K, H, W, HF, WF, S, P, D>)
    where
        N: Dim,
        C2: Dim,
        H: Dim + ConvOutput<HF, S, P, Height, D>,
        W: Dim + ConvOutput<WF, S, P, Width, D>,
    {
        let (k, _, hf, wf) = self.weight.shape();
        check_dim::<ConvChannels>(C::SIZE, c2.size());
        let (ho, wo) = (h.conv_out(), w.conv_out());
        let g = Geom {
            c: C::SIZE,
            h: h.size(),
            w: w.size(),
            k: k.size(),
            hf: hf.size(),
            wf: wf.size(),
            s: S::SIZE,
            p: P::SIZE,
            d: D::SIZE,
            groups: G::SIZE,
            ho: ho.size(),
            wo: wo.size(),
        };
        (g, (n, k, ho, wo))
    }

    /// `(N, C, H, W) -> (N, K, HO, WO)`.
    ///
    /// Another channel count, a (dilated) kernel larger than the padded input, or a zero
    /// stride or dilation does not compile; the error names the rule and both numbers.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of the input breaks one of these rules, with the same
    /// message in plain decimal.
    #[track_caller]
    pub fn forward<N, C2, H, W>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
    ) -> Tensor<Conv2dShape<N, K, H, W, HF, WF, S, P, D>, E>
    where
        N: Dim,
        C2: Dim + DimEq<C, ConvChannels>,
        H: Dim + ConvOutput<HF, S, P, Height, D>,
        W: Dim + ConvOutput<WF, S, P, Width, D>,
    {
        let (g, out) = self.geom(x.shape());
        let mut y = Tensor::zeros_with(out);
        let mut cols = vec![E::zero(); MAX_TASKS * g.lowered_len()];
        forward_slices(
            &g,
            self.kernel(),
            x.as_slice(),
            y.as_mut_slice(),
            &mut cols,
            false,
        );
        y
    }

    /// The gradients of a loss through the layer: given `x` `(N, C, H, W)` and `dy = ∂L/∂Y`
    /// `(N, K, HO, WO)`, returns `dX` `(N, C, H, W)` and [`Conv2dGrads`] `dW`
    /// `(K, C/G, HF, WF)`, `db` `(K,)` (formulas on [`Conv2d`]).
    ///
    /// `dy` must have exactly the forward output's shape, or the call does not compile.
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim hides a mismatch from the compiler (a `dy` of another
    /// runtime batch than `x`, say), with the rule's message in plain decimal.
    #[track_caller]
    pub fn backward<N, C2, H, W, GY>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
        dy: &Tensor<GY, E>,
    ) -> (
        Tensor<(N, C, H, W), E>,
        Conv2dGrads<PerGroup<C, K, G>, K, HF, WF, B, E>,
    )
    where
        N: Dim,
        C2: Dim + DimEq<C, ConvChannels>,
        H: Dim + ConvOutput<HF, S, P, Height, D>,
        W: Dim + ConvOutput<WF, S, P, Width, D>,
        GY: Shape + ShapeEq<Conv2dShape<N, K, H, W, HF, WF, S, P, D>, ConvGradOutput>,
    {
        let (n, _, h, w) = x.shape();
        let (g, out) = self.geom(x.shape());
        check_dims::<ConvGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        let mut dx = Tensor::zeros_with((n, C::default(), h, w));
        let mut grads = self.zero_grads();
        let mut scratch = vec![E::zero(); MAX_TASKS * g.task_scratch(false)];
        backward_slices(
            &g,
            self.weight.as_slice(),
            x.as_slice(),
            None,
            dy.as_slice(),
            Some(dx.as_mut_slice()),
            grads.slices(),
            &mut scratch,
        );
        (dx, grads)
    }
}

impl<CG: Dim, K: Dim, HF: Dim, WF: Dim, B: ConvBias<K, E>, E: Element>
    Conv2dGrads<CG, K, HF, WF, B, E>
{
    /// `dW` and, if there is one, `db`, as slices to add into.
    fn slices(&mut self) -> (&mut [E], Option<&mut [E]>) {
        (
            self.weight.as_mut_slice(),
            B::tensor_mut(&mut self.bias).map(Tensor::as_mut_slice),
        )
    }
}

/// The [`Tensors`] methods of a value whose tensors are `self.weight` and, when its bias kind
/// `$b` has one, `self.bias` (PyTorch's names).
macro_rules! weight_opt_bias_tensors {
    ($b:ty, $k:ty) => {
        fn count(&self) -> usize {
            1 + usize::from(<$b as ConvBias<$k, E>>::tensor(&self.bias).is_some())
        }

        fn tensor(&self, i: usize) -> &[E] {
            match (i, <$b as ConvBias<$k, E>>::tensor(&self.bias)) {
                (0, _) => self.weight.as_slice(),
                (1, Some(b)) => b.as_slice(),
                _ => panic!("tensor {i} of a convolution with {} tensors", self.count()),
            }
        }

        fn tensor_mut(&mut self, i: usize) -> &mut [E] {
            let count = self.count();
            match (i, <$b as ConvBias<$k, E>>::tensor_mut(&mut self.bias)) {
                (0, _) => self.weight.as_mut_slice(),
                (1, Some(b)) => b.as_mut_slice(),
                _ => panic!("tensor {i} of a convolution with {count} tensors"),
            }
        }

        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E])) {
            f(
                &format!("{prefix}weight"),
                self.weight.dims().as_ref(),
                self.weight.as_slice(),
            );
            if let Some(b) = <$b as ConvBias<$k, E>>::tensor(&self.bias) {
                f(&format!("{prefix}bias"), b.dims().as_ref(), b.as_slice());
            }
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
            if let Some(b) = <$b as ConvBias<$k, E>>::tensor_mut(&mut self.bias) {
                let dims = b.dims();
                f(&format!("{prefix}bias"), dims.as_ref(), b.as_mut_slice())?;
            }
            Ok(())
        }
    };
}

impl<C, K, HF, WF, S, P, D, G, B, E> Tensors<E> for Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    C: ConvGroups<K, G>,
    K: Dim,
    HF: Dim,
    WF: Dim,
    B: ConvBias<K, E>,
    E: Element,
{
    weight_opt_bias_tensors!(B, K);
}
impl<CG, K, HF, WF, B, E> Tensors<E> for Conv2dGrads<CG, K, HF, WF, B, E>
where
    CG: Dim,
    K: Dim,
    HF: Dim,
    WF: Dim,
    B: ConvBias<K, E>,
    E: Element,
{
    weight_opt_bias_tensors!(B, K);
}

impl<C, K, HF, WF, S, P, D, G, B, E> Params<E> for Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    C: ConvGroups<K, G>,
    K: Dim,
    HF: Dim,
    WF: Dim,
    B: ConvBias<K, E>,
    E: Element,
{
    type Grads = Conv2dGrads<PerGroup<C, K, G>, K, HF, WF, B, E>;

    fn zero_grads(&self) -> Self::Grads {
        Conv2dGrads {
            weight: Tensor::zeros_with(self.weight.shape()),
            bias: B::make(|| Tensor::zeros_with((self.weight.shape().0,))),
        }
    }
}

impl<N, C2, H, W, C, K, HF, WF, S, P, D, G, B, E> Module<E, Tensor<(N, C2, H, W), E>>
    for Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    N: Dim,
    C: ConstDim + ConvGroups<K, G>,
    K: ConstDim,
    HF: Dim,
    WF: Dim,
    S: ConstDim,
    P: ConstDim,
    D: ConstDim,
    G: ConstDim,
    B: ConvBias<K, E>,
    E: Element,
    C2: Dim,
    H: Dim + ConvOutput<HF, S, P, Height, D>,
    W: Dim + ConvOutput<WF, S, P, Width, D>,
    // The junction rule, undecided until the batch is known (see `rules::Anchor`).
    AtBatch<N, C2>: DimEq<C, ConvChannels>,
{
    type Out = Tensor<Conv2dShape<N, K, H, W, HF, WF, S, P, D>, E>;
    type Work = LayerWork<(N, C2, H, W), Conv2dShape<N, K, H, W, HF, WF, S, P, D>, E, ConvKeep<E>>;

    fn infer(&self, x: &Tensor<(N, C2, H, W), E>) -> Self::Out {
        let (g, out) = self.geom(x.shape());
        let mut y = Tensor::zeros_with(out);
        let mut cols = vec![E::zero(); MAX_TASKS * g.lowered_len()];
        forward_slices(
            &g,
            self.kernel(),
            x.as_slice(),
            y.as_mut_slice(),
            &mut cols,
            false,
        );
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C2, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (g, out) = self.geom(x.shape());
        let n = out.0.size();
        // Grown to the largest batch seen, never shrunk: alternating batch sizes reuse it.
        let lowered = n * g.lowered_len();
        if work.keep.lowered.len() < lowered {
            work.keep.lowered.resize(lowered, E::zero());
        }
        let y = work.out.reset(out);
        forward_slices(
            &g,
            self.kernel(),
            x.as_slice(),
            y.as_mut_slice(),
            &mut work.keep.lowered[..lowered],
            true,
        );
        &work.out
    }

    fn backward_train<'w>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C2, H, W), E>> {
        let (g, out) = self.geom(x.shape());
        check_dims::<ConvGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        let scratch = tasks(out.0.size()).0 * g.task_scratch(true);
        if work.keep.scratch.len() < scratch {
            work.keep.scratch.resize(scratch, E::zero());
        }
        let lowered = out.0.size() * g.lowered_len();
        let dx = input_grad.then(|| work.dx.reset(x.shape()).as_mut_slice());
        backward_slices(
            &g,
            self.weight.as_slice(),
            x.as_slice(),
            Some(&work.keep.lowered[..lowered]),
            dy.as_slice(),
            dx,
            grads.slices(),
            &mut work.keep.scratch,
        );
        input_grad.then_some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

// PyTorch's default initialisation: `fan_in = C/G·HF·WF` (the weight's last three dims), the
// weight and the bias drawn from `U(−1/√fan_in, 1/√fan_in)`; no draw for a missing bias.
impl<C, K, HF, WF, S, P, D, G, B, E, R> Init<R> for Conv2d<C, K, HF, WF, S, P, D, G, B, E>
where
    C: ConstDim + ConvGroups<K, G>,
    K: ConstDim,
    HF: ConstDim,
    WF: ConstDim,
    G: ConstDim,
    B: ConvBias<K, E>,
    E: Element,
    R: Rng + ?Sized,
    // The options are typenum numbers (the element type comes after all of them).
    Via<R, S>: ConstDim,
    Via<R, P>: ConstDim,
    Via<R, D>: ConstDim,
    // No channel, no filter or an empty kernel does not compile (`zero-sized Conv layer`).
    Via<R, C>: NonZero<ConvNonZero>,
    Via<R, K>: NonZero<ConvNonZero>,
    Via<R, HF>: NonZero<ConvNonZero>,
    Via<R, WF>: NonZero<ConvNonZero>,
{
    fn init(rng: &mut R) -> Self {
        let fan_in = PerGroup::<C, K, G>::SIZE * HF::SIZE * WF::SIZE;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let weight = uniform(rng, bound);
        let bias = B::make(|| uniform(rng, bound));
        Self {
            weight,
            bias,
            options: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::consts::*;

    /// The definition, summed directly: the reference the lowering is checked against, with
    /// the taps `D` apart and each filter seeing its group's channels.
    fn direct(g: &Geom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let (cg, kg) = (g.c / g.groups, g.k / g.groups);
        let mut y = vec![0.0; g.k * g.ho * g.wo];
        for k in 0..g.k {
            for oh in 0..g.ho {
                for ow in 0..g.wo {
                    let mut acc = 0.0;
                    for ci in 0..cg {
                        let c = k / kg * cg + ci;
                        for i in 0..g.hf {
                            for j in 0..g.wf {
                                let (h, wi) = (
                                    (oh * g.s + i * g.d) as isize - g.p as isize,
                                    (ow * g.s + j * g.d) as isize - g.p as isize,
                                );
                                if h >= 0 && wi >= 0 && (h as usize) < g.h && (wi as usize) < g.w {
                                    acc += x[(c * g.h + h as usize) * g.w + wi as usize]
                                        * w[((k * cg + ci) * g.hf + i) * g.wf + j];
                                }
                            }
                        }
                    }
                    y[(k * g.ho + oh) * g.wo + ow] = acc;
                }
            }
        }
        y
    }

    #[test]
    fn lowering_matches_the_definition_with_stride_and_padding() {
        let conv = Conv::<U2, U3, U3, U2, U2, U1, f64>::new(
            Tensor::from_fn(|i| (i[0] * 7 + i[1] * 3 + i[2] * 2 + i[3]) as f64 * 0.1 - 1.0),
            Tensor::zeros(),
        );
        let x = Tensor::<(U1, U2, U5, U6), f64>::from_fn(|i| {
            ((i[1] * 30 + i[2] * 6 + i[3]) as f64).sin()
        });
        let y = conv.forward(&x);
        let (g, _) = conv.geom(x.shape());
        assert_eq!(y.dims(), [1, 3, 3, 4]);
        let want = direct(&g, x.as_slice(), conv.weight.as_slice());
        for (a, b) in y.as_slice().iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn grouped_dilated_lowering_matches_the_definition() {
        // 6 channels in 3 groups, 9 filters, a 3 × 2 kernel dilated by 2, stride 2, padding 1.
        type L = Conv2d<U6, U9, U3, U2, U2, U1, U2, U3, NoBias, f64>;
        let conv = L::new(
            Tensor::from_fn(|i| ((i[0] * 7 + i[1] * 3 + i[2] * 2 + i[3]) as f64 * 0.3).cos()),
            (),
        );
        let x = Tensor::<(U1, U6, U7, U6), f64>::from_fn(|i| {
            ((i[1] * 42 + i[2] * 6 + i[3]) as f64).sin()
        });
        let y = conv.forward(&x);
        let (g, _) = conv.geom(x.shape());
        // ⌊(7 + 2 − 5) / 2⌋ + 1 = 3 rows, ⌊(6 + 2 − 3) / 2⌋ + 1 = 3 columns
        assert_eq!(y.dims(), [1, 9, 3, 3]);
        let want = direct(&g, x.as_slice(), conv.weight.as_slice());
        for (a, b) in y.as_slice().iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // The check can fail: the dense reading of the same weight differs.
        let dense = Geom { d: 1, ..g };
        let off = direct(&dense, x.as_slice(), conv.weight.as_slice());
        assert!(y
            .as_slice()
            .iter()
            .zip(&off)
            .any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for any x, c, with and without dilation.
        let conv = Conv::<U2, U1, U3, U2, U2, U1, f64>::new(Tensor::zeros(), Tensor::zeros());
        let (g, _) = conv.geom((U1::default(), U2::default(), U5::default(), U4::default()));
        for g in [
            g,
            Geom {
                d: 2,
                ho: 2,
                wo: 2,
                ..g
            },
            Geom {
                d: 3,
                s: 1,
                ho: 1,
                wo: 3,
                ..g
            },
        ] {
            let x: Vec<f64> = (0..2 * 5 * 4).map(|i| (i as f64 * 0.7).cos()).collect();
            let c: Vec<f64> = (0..g.patch() * g.positions())
                .map(|i| (i as f64 * 0.3).sin())
                .collect();
            let mut cols = vec![0.0; c.len()];
            g.im2col(&x, &mut cols);
            let mut back = vec![0.0; x.len()];
            g.col2im(&c, &mut back);
            let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-12, "{g:?}: {lhs} vs {rhs}");
        }
    }
}
