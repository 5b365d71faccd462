//! The strided, zero-padded 2-D convolution (NCHW), lowered to matrix products: [`Conv`], and
//! [`Conv2d`] with PyTorch's other options (dilation, groups, no bias).
//!
//! Both run on the same lowering and the same products, one per group. With stride 1 the
//! lowering is im2col (taps `D` apart; the forward pass of a layer with at most 16 filters a
//! group reads its padded input in place instead, see `Geom::phased`). A strided convolution
//! (`S ≥ 2`) instead splits each
//! input into its `S × S` phase planes, in which every row of the lowering is one contiguous
//! run: the products read the lowering in place through a table of where each row starts, and
//! nothing is gathered per output row (the strided gathers of im2col cost as much as half the
//! product: measured on `(32, 16, 32, 32)`, 32 filters 3 × 3, stride 2, one thread, the forward
//! pass went from 1240 to 1060 µs).
//!
//! The forward pass of the commonest strided convolution, 3 wide with stride 2 (`f32` on a CPU
//! with AVX-512, filters in pairs of 16-lane vectors), reads its input in place instead
//! (`crate::direct`): a vector holds 16 filters of one output position and each input element
//! is broadcast from where it lies, so a stride changes only which elements are read and there
//! are no planes to make. On the benchmark's strided convolution it took 0.74–0.78× the time of
//! the planes' path on two threads and 0.75–0.84× on one (three A/B runs in one process, 1,500
//! pairs each; 0.95–1.01× for a batch of one, where the weight is packed for each sample). An
//! earlier direct kernel the other way round (output columns in the vectors, the even lanes of
//! two loads taken by a permute, below) had not gained. The backward pass of those convolutions
//! computes its weight gradient the same way (`Geom::direct_dw`: 16 filters of one tap in each
//! vector, the input copied once with its padding). What follows is the planes' path, which
//! still runs their input gradient and every other strided pass.
//!
//! A run of a plane covers whole plane rows, which are wider than the output's (by the kernel's
//! reach): the product computes those junk columns too and the output is copied out without
//! them, unless an output row is a whole number of the matrix kernel's vectors long (16 f32 on
//! AVX-512): then the product reads each output row's columns from its own plane row
//! (`View::wrapped`) and writes the output in place. On the benchmark's strided convolution
//! (output rows of 16) the forward pass took 0.87–0.94× the time (A/B, 9–11 rounds, 2
//! threads).
//!
//! Splitting into the planes is about a sixth of that forward pass. A direct stride-2 kernel
//! that makes no planes was measured against it on the Zen 5 VM (AVX-512; in one process,
//! alternating, 1,000–1,500 pairs; the time over the planes' path; not kept). It ran 16 output
//! columns a vector and took the even lanes of two loads of an input row with one permute.
//! - 12 filters × 2 output rows of accumulators, each weight broadcast once for both rows: 1.00×
//!   on one thread and 0.98× on two with masked loads; 1.04× and 1.04× with plain loads and the
//!   permute zeroing the lanes outside the row (0.96× with the input already in cache).
//! - A branch choosing a masked or a plain load for each load: 1.12×.
//! - 16 filters × 1 row, weights broadcast from memory: 1.25–1.39×, 1.12× with the weights
//!   transposed so that a filter's taps were adjacent.
//! - 14 × 2: 1.01–1.07×; 8 × 2: 1.12×; 8 × 3: 1.12–1.31×; 6 × 4: 1.49–1.92×.
//!
//! Skipping the split (planes left as the last sample made them) takes 0.81× the time, but the
//! split's own instructions are not that cost: on one thread, with its loads and vector stores
//! sent to a 256-byte scratch instead (the plane rows still touched by their padding), the
//! pass took 1.00×; a split on raw pointers 1.01×, with aligned stores 1.00×, without the
//! next channel's prefetch 0.985×, with the next channel's plane rows prefetched for writing
//! 1.035×. Splitting and multiplying a band of output rows at a time, so that the planes stay
//! in L1, took 1.07× (bands of 8 rows), 1.14× (4) and 1.34× (2): the smaller products cost more.
//!
//! What the split did cost was its bookkeeping around each short row (slicing, the zeroing of
//! the edges by calls of their own, a loop for one or two vectors): with rows and plane rows
//! of at most 32 elements, each plane row is now written whole, edges included, by masked
//! shuffles of the input row's two vectors, in a loop whose only branch per row is whether
//! there is a next channel to prefetch (`rows.rs`). On the Zen 5 VM the forward pass took
//! 0.92–0.94× the time on two threads, 0.93–0.95× on one (A/B, 1,500 pairs, six runs). The
//! same loop then zeroes the plane rows no input row reaches with vector stores (they were
//! eight calls to fill a row, per channel, on the benchmark): 0.99× again, 0.96× in one of
//! four runs.
//!
//! What is left of the split is about an eighth of the pass: on the Zen 5 VM (batch 32, medians of
//! 10,000 calls, a quiet host) the pass took 402 µs on one thread and 206 µs on two, 0.88× and
//! 0.87× that with the split skipped (the planes left as the last sample made them; the product
//! alone, at 213 and 211 GFLOP/s a core), and the split alone 48 µs and 27 µs. Its floor is the
//! memory path, not the shuffles or the input's loads: taking every sample's planes from the same
//! (cached) input saved 1.5–2 %; plain loads and stores instead of masked ones, or no prefetch,
//! changed nothing; an idle core splits a row in 10–13 cycles, and a plain copy of the row's two
//! vectors to the two plane rows took 9–10 (a sample's planes, 76.5 KiB here, are more than L1).
//! Prefetching the next sample's whole input before a sample's product (to L1, L2 or L3) took
//! 1.02×; 8, 16 or 32 forward tasks instead of 4 (the scratch per task, or per thread) were within
//! the host's noise (0.88–1.01×). The product itself runs near the core's peak: an unrolled loop of
//! multiply-adds ran at 228 GFLOP/s a core on that VM, and the product alone at 213 (above):
//! 11.1 µs of a sample's 12.6 on one thread, where its 2.36 MFLOP take 10.4 µs at 228. Splitting
//! the next sample into a second set of planes between the product's tiles (2, 4, 8, 16, 32 or 64
//! input rows after each of a sample's 32 tiles of 8 filters × 32 columns, the input rows after
//! them prefetched), so that the out-of-order core might overlap the split with the multiply-adds,
//! took 0.99–1.09× the time on two threads and 1.07× on one (A/B, 1,500 pairs; same results): the
//! split's traffic slowed the product's reads more than it hid.
//!
//! With the product at the core's peak, fewer multiplications were tried: a minimal filtering
//! algorithm (Winograd's `F(2, 2)` along the rows) for the 3 × 3, stride 2, padding 1 case, whose
//! output pairs `y[2t] = w0·a + w1·b + w2·c`, `y[2t+1] = w0·c + w1·d + w2·e` share
//! `m1 = (w0 + w2)·c`: 7.5 multiply-adds per output and channel instead of 9. The input was
//! transformed per sample into the rows `a − c`, `c`, `e − c`, `b`, `d` of every input row
//! (2.2–2.5 µs a sample, timed alone), the weight into `(w0, w0 + w2, w2, w1)` once a call (1 µs),
//! and a kernel of 4 filters × 32 tiles (24 accumulators; written in assembly, since with
//! intrinsics the compiler hoisted the ten loads of a step and spilled accumulators: 11.1 µs) took
//! 8.6 µs for a sample's product (8 filters × 16 tiles with intrinsics, 37 loads for 40
//! multiply-adds: 9.7 µs), where the planes' product takes about 11 µs of a sample's 12.4–12.9 on
//! one thread. In the pass (A/B, 1,500 pairs, batch 32, outputs within 2.4e-6 of the planes') it
//! took 0.95–0.98× the time on two threads in the 7 of 15 runs where the host was quiet, 1.01–1.20×
//! in the others, 0.95–1.03× on one thread, and 1.07× for a batch of one (the weight's transform
//! each call).
//!
//! Not kept: a few percent on a quiet host, a loss on a busy one, for some 450 lines of unsafe
//! code, rounding that differs from the direct sum, and NaN where an infinite input makes the
//! direct sum infinite (`∞ − ∞`), which needed a second path for such samples.

use core::marker::PhantomData;
use core::ops::Range;
use rand::Rng;

use crate::dims::{ConstDim, ConvGroups, ConvOut, ConvOutput, Dim, Height, PerGroup, Width};
use crate::direct::Direct;
use crate::gemm::{lanes, matmul, matmul_bias, View};
use crate::init::{uniform, Init};
use crate::module::{weight_bias_tensors, Context, LayerWork, Module, Params, Tensors};
use crate::par::{self, Buf};
use crate::rows::{merge_rows2, split_rows2, unwiden, widen};
use crate::rules::{check_dim, check_dims, check_non_zero, AtBatch, ConvChannels};
use crate::rules::{Conv2dWeightShape, ConvBiasShape, ConvWeightShape, ParamIs};
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
///
/// ```
/// use shaped::{typenum::*, Conv, ConvGrads, Params, Seeded, Tensors};
/// let conv = Conv::<U3, U8, U3, U3, U1, U1>::seeded(0);
/// let grads: ConvGrads<U3, U8, U3, U3> = conv.zero_grads(); // stride and padding play no part
/// assert_eq!((grads.weight.dims(), grads.bias.dims()), ([8, 3, 3, 3], [8]));
/// assert_eq!(grads.count(), conv.count());
/// ```
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
/// Every size, the stride and the padding included, is a type: `Conv<U3, U16, U3, U3, U2,
/// U1>`, not `…, 2, 1>` (a number there is rustc's `E0747: constant provided when a type was
/// expected`).
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
/// let mut b = b;
/// if let Some(t) = <Bias as ConvBias<U2, f32>>::tensor_mut(&mut b) {
///     t.as_mut_slice()[0] = 1.0;
/// }
/// assert_eq!(b.as_slice(), &[1.0, 0.5]);
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
    /// The backward pass's geometry ([`Geom::for_backward`]): a stride-1 convolution lowers
    /// by im2col there.
    backward: bool,
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
    #[inline]
    fn valid(&self, j: usize, out: usize, size: usize) -> (usize, usize) {
        // A division by a stride known only at run time is a `div` instruction (~30 cycles):
        // strides 1 and 2, the common ones, divide without it (the lowering asks this for
        // every channel and tap; it was 5 % of a ResNet training step).
        let div_ceil = |a: usize| match self.s {
            1 => a,
            2 => a.div_ceil(2),
            s => a.div_ceil(s),
        };
        // o·S + j ≥ P  ⇔  o ≥ ⌈(P − j) / S⌉
        let lo = if j >= self.p { 0 } else { div_ceil(self.p - j) };
        // o·S + j − P < size  ⇔  o < ⌈(size + P − j) / S⌉
        let hi = div_ceil((size + self.p).saturating_sub(j)).min(out);
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

    /// A strided convolution (`S ≥ 2`) is lowered from its phase planes rather than from the
    /// input: the strided gathers of [`Geom::im2col`] (one short gather per output row and
    /// tap) cost as much as half the product. See [`Geom::phases`].
    ///
    /// A stride-1 convolution with few filters per group is read from its (single, padded)
    /// plane too in the forward pass: im2col writes `C·HF·WF × HO·WO` elements for a product of
    /// `K` times as many multiply-adds, so with few filters the lowering outweighs the junk
    /// columns the plane's width adds. Measured (forward against PyTorch, 2 threads, two runs):
    /// 6 filters of 5 × 5 on 28 × 28 0.57× → 0.42–0.43×, 16 of 3 × 3 on 32 × 32 0.63× →
    /// 0.53–0.54×, the ResNet of the examples (8 and 16 filters on 8 × 8) 0.95× → 0.83–0.84×;
    /// with 32 filters on 8 × 8 (the digits CNN) no gain (0.73× → 0.75×). Its backward pass
    /// stays on im2col (forward+backward unchanged: 0.47× → 0.48×, 0.22× → 0.23×): read from
    /// the plane it measured slower (0.52×, 0.27×).
    fn phased(&self) -> bool {
        self.s > 1 || (!self.backward && !self.is_pointwise() && self.group_k() <= 16)
    }
    /// Whether the forward pass reads the input in place with the direct stride-2 kernel
    /// (`crate::direct`: `f32` on AVX-512, 3 wide, dilation 1, filters in pairs of vectors)
    /// instead of splitting it into phase planes. The backward pass: see [`Geom::direct_dw`].
    fn direct<E: Element>(&self) -> bool {
        !self.backward && Direct::runs::<E>(self.s, self.d, self.wf, self.group_k())
    }
    /// Whether the backward pass computes the weight gradient with the direct stride-2 kernel
    /// (`crate::direct`: `f32` on AVX-512, 3 wide, dilation 1, any number of filters), reading
    /// the input where it lies (copied once with its padding around it when padded), instead
    /// of as a product over the phase planes. The input gradient
    /// keeps to the planes.
    ///
    /// Measured on the benchmark's strided convolution (`(32, 16, 32, 32)`, 32 filters 3 × 3,
    /// padding 1; Zen 5 VM): see `crate::direct`.
    fn direct_dw<E: Element>(&self) -> bool {
        self.phased() && Direct::runs_weight_grad::<E>(self.s, self.d, self.wf, self.group_k())
    }
    /// One group of one sample, for the direct kernel.
    fn direct_group(&self) -> Direct {
        Direct {
            c: self.c / self.groups,
            h: self.h,
            w: self.w,
            k: self.group_k(),
            hf: self.hf,
            wf: self.wf,
            p: self.p,
            ho: self.ho,
            wo: self.wo,
        }
    }
    /// The geometry the backward pass lowers with (see [`Geom::phased`]).
    fn for_backward(self) -> Self {
        Self {
            backward: true,
            ..self
        }
    }
    /// Columns of a phase plane: `⌈(W + 2P) / S⌉`.
    fn plane_w(&self) -> usize {
        (self.w + 2 * self.p).div_ceil(self.s)
    }
    /// Rows of a phase plane: the `HO` output rows, the rows the kernel's reach adds, and one
    /// spare row that the junk columns of the last rows read.
    fn plane_h(&self) -> usize {
        self.ho + (self.hf - 1) * self.d / self.s + 1
    }
    /// Whether a training step keeps the lowered input from the forward to the backward pass.
    /// Not when phased: making the phase planes again in the backward pass costs about what
    /// writing them out for every sample and reading them back does, and keeps no memory
    /// (measured on the benchmark's strided convolution at batch 32, one thread, fastest of 200
    /// calls: forward 993 µs against 1005 µs kept, a whole step 3.61 ms against 3.53 ms; the
    /// planes would be 2.5 MiB). With the direct weight gradient ([`Geom::direct_dw`]) the
    /// backward pass makes no planes at all.
    fn keeps(&self) -> bool {
        !self.phased()
    }
    /// Elements of one sample's phase planes (none when not phased).
    fn phases_len(&self) -> usize {
        if self.phased() {
            self.c * self.s * self.s * self.plane_h() * self.plane_w()
        } else {
            0
        }
    }
    /// Columns of the lowered input: the output positions, or when phased, `HO` rows of
    /// `plane_w` columns whose last `plane_w − WO` are junk (dropped from the forward output,
    /// given zero gradient in the backward pass).
    fn cols_positions(&self) -> usize {
        if self.phased() {
            self.ho * self.plane_w()
        } else {
            self.positions()
        }
    }
    /// Elements of one sample's wide output (or output gradient) when phased, else none.
    fn wide_len(&self) -> usize {
        if self.phased() {
            self.k * self.cols_positions()
        } else {
            0
        }
    }
    /// Where the lowered row of channel `c` and tap `(i, j)` starts in the phase planes.
    fn tap(&self, c: usize, i: usize, j: usize) -> usize {
        let ((a, b), at) = self.tap_in_plane(i, j);
        ((c * self.s + a) * self.s + b) * self.plane_h() * self.plane_w() + at
    }
    /// The phase `(a, b)` of the planes tap `(i, j)` reads, and where its lowered row starts
    /// in such a plane.
    fn tap_in_plane(&self, i: usize, j: usize) -> ((usize, usize), usize) {
        let (s, pw) = (self.s, self.plane_w());
        let (ti, tj) = (i * self.d, j * self.d);
        ((ti % s, tj % s), (ti / s) * pw + tj / s)
    }
    /// The taps that read the planes of phase `(a, b)`, in the lowering's order, each with
    /// where its row starts in the plane.
    fn phase_taps(&self, (a, b): (usize, usize)) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..self.hf)
            .flat_map(move |i| (0..self.wf).map(move |j| (i, j)))
            .filter_map(move |(i, j)| {
                let (phase, at) = self.tap_in_plane(i, j);
                (phase == (a, b)).then_some((i, j, at))
            })
    }
    /// The rows of a plane of phase `(a, _)` that hold input rows (the others hold padding,
    /// whose gradient [`Geom::unphase`] never reads): `r` with `0 ≤ r·S + a − P < H`.
    fn phase_rows(&self, a: usize) -> Range<usize> {
        let lo = self.p.saturating_sub(a).div_ceil(self.s);
        let end = (self.h + self.p).saturating_sub(a).div_ceil(self.s);
        lo..end.max(lo)
    }
    /// The phases `(a, b)` of a channel's planes, in the planes' order.
    fn phase_list(&self) -> impl Iterator<Item = (usize, usize)> {
        let s = self.s;
        (0..s).flat_map(move |a| (0..s).map(move |b| (a, b)))
    }
    /// Whether the backward pass computes a phased `dx` plane by plane ([`Geom::phased_dx`]),
    /// rather than as the lowered input's gradient added onto the planes row by row.
    fn direct_dx(&self) -> bool {
        self.s > 1 && self.cols_positions() >= PHASED_DX_MIN_POSITIONS
    }
    /// The zeros before each filter's row of the backward pass's wide output gradient: with
    /// [`Geom::direct_dx`], as far into its plane as a tap's lowered row starts (the last
    /// tap's start).
    fn dy_front(&self) -> usize {
        if self.direct_dx() {
            self.tap_in_plane(self.hf - 1, self.wf - 1).1
        } else {
            0
        }
    }
    /// One filter's row of the backward pass's wide output gradient (phased): the
    /// [`Geom::dy_front`] zeros, the `HO · plane_w` wide positions, then with
    /// [`Geom::direct_dx`] zeros up to a plane's length past them, so that the row read from
    /// `front − start` on, a plane long, is the gradient a tap starting at `start` gives the
    /// plane ([`Geom::phased_dx`]).
    fn dy_pitch(&self) -> usize {
        if self.direct_dx() {
            self.dy_front() + self.plane_h() * self.plane_w()
        } else {
            self.cols_positions()
        }
    }
    /// Elements of the backward pass's wide output gradient of one sample (phased).
    fn dy_wide_len(&self) -> usize {
        if self.phased() {
            self.k * self.dy_pitch()
        } else {
            0
        }
    }
    /// The row table of [`Geom::phased_dx`]'s products, appended to `table`: per group, per
    /// phase, per tap of that phase ([`Geom::phase_taps`]) and filter of the group, where the
    /// filter's padded output gradient row read by that tap starts.
    fn dx_taps(&self, table: &mut Vec<usize>) {
        let (kg, pitch, front) = (self.group_k(), self.dy_pitch(), self.dy_front());
        for group in 0..self.groups {
            for phase in self.phase_list() {
                let first = self.phase_rows(phase.0).start * self.plane_w();
                for (_, _, at) in self.phase_taps(phase) {
                    table.extend((0..kg).map(|k| (group * kg + k) * pitch + front - at + first));
                }
            }
        }
    }
    /// The weight in the order of [`Geom::phased_dx`]'s products: per group and phase, a
    /// matrix of the group's channels by (tap of the phase, filter of the group).
    fn phase_weights<E: Element>(&self, weight: &[E], out: &mut [E]) {
        let (cg, kg, taps) = (self.c / self.groups, self.group_k(), self.hf * self.wf);
        let mut at = 0;
        for group in 0..self.groups {
            for phase in self.phase_list() {
                for c in 0..cg {
                    for (i, j, _) in self.phase_taps(phase) {
                        for k in group * kg..(group + 1) * kg {
                            out[at] = weight[(k * cg + c) * taps + i * self.wf + j];
                            at += 1;
                        }
                    }
                }
            }
        }
        debug_assert_eq!(
            at,
            out.len(),
            "conv: the weight in phase order fills its room"
        );
    }

    /// One sample's `dx` from its padded wide output gradient `wide` ([`Geom::dy_pitch`]),
    /// through the phase planes' gradient `dq`. Per group and phase `(a, b)`, the planes of the
    /// group's channels in one product that writes them (no zeroing, no adding):
    /// `dQ_ab (C/G × plane) = W_ab (C/G × T·K/G) · D_ab (T·K/G × plane)`, where row `(t, k)` of
    /// `D_ab` is filter `k`'s gradient row read from tap `t`'s start on (in place, through
    /// `table`, [`Geom::dx_taps`]) and `W_ab` is `wp` ([`Geom::phase_weights`]); only over the
    /// plane rows that hold input ([`Geom::phase_rows`], the rows [`Geom::unphase`] reads).
    /// Then the planes onto `dx`. This replaces a product into the lowered input's gradient and
    /// adding its `C·HF·WF` rows onto the planes, which on the benchmark's strided convolution
    /// cost a third as much as the product (the rows overlap: each add reads what the last
    /// wrote).
    fn phased_dx<E: Element>(
        &self,
        (wp, table): (&[E], &[usize]),
        wide: &[E],
        dq: &mut [E],
        dx: &mut [E],
    ) {
        let (s, cg, kg, pw) = (self.s, self.c / self.groups, self.group_k(), self.plane_w());
        let plane = self.plane_h() * pw;
        let (mut w_at, mut t_at) = (0, 0);
        for group in 0..self.groups {
            for (a, b) in self.phase_list() {
                let depth = self.phase_taps((a, b)).count() * kg;
                // Only the rows that hold input, the rows `unphase` reads.
                let rows = self.phase_rows(a);
                let first = ((group * cg * s + a) * s + b) * plane + rows.start * pw;
                let len = rows.len() * pw;
                if depth == 0 {
                    // No tap reads these planes: no input they hold reaches the output.
                    for c in 0..cg {
                        dq[first + c * s * s * plane..][..len].fill(E::zero());
                    }
                    continue;
                }
                if len > 0 {
                    matmul(
                        [cg, len, depth],
                        &mut dq[first..],
                        s * s * plane,
                        false,
                        View::rows(&wp[w_at..w_at + cg * depth], depth),
                        View::table(wide, &table[t_at..t_at + depth]),
                    );
                }
                (w_at, t_at) = (w_at + cg * depth, t_at + depth);
            }
        }
        self.unphase(dq, dx);
    }

    /// Splits one sample `x (C, H, W)` of the zero-padded input `Xp` into its `S × S` phase
    /// planes: plane `(c, a, b)` holds `Xp[c, r·S + a, q·S + b]` at `(r, q)`, zero outside the
    /// input. Output position `(oh, ow)` of tap `(i, j)` then reads plane
    /// `(c, i mod S, j mod S)` at `(oh + ⌊i/S⌋, ow + ⌊j/S⌋)`: for the `HO · plane_w`
    /// positions `oh · plane_w + ow` one contiguous run, so each row of the lowering is a run
    /// of a plane ([`Geom::taps`]).
    fn phases<E: Element>(&self, x: &[E], q: &mut [E]) {
        let (s, p, pw, ph) = (self.s, self.p, self.plane_w(), self.plane_h());
        let (plane_len, channel_len) = (ph * pw, self.h * self.w);
        for c in 0..self.c {
            let channel = &x[c * channel_len..(c + 1) * channel_len];
            let planes = &mut q[c * s * s * plane_len..(c + 1) * s * s * plane_len];
            if self.w == 0 {
                // No input column: the planes are all padding.
                planes.fill(E::zero());
                continue;
            }
            if s == 2 {
                // The input's rows in order, each split into the rows of its two planes
                // (asking for the next channel's rows meanwhile: a quarter of the strided
                // convolution's forward pass on one thread was this split, its loads stalling
                // on the first lines of every 4 KiB page; with the prefetch the forward pass
                // took 0.97–0.98× the time on two threads in two A/B runs, within noise in a
                // third); it zeroes the plane rows no input row reaches too. Stride 1 (the
                // loop below) measured no gain from a prefetch (`conv_small` 1.03×): not there.
                let next = x.get((c + 1) * channel_len..(c + 2) * channel_len);
                split_rows2(channel, self.w, planes, plane_len, pw, p, next);
                continue;
            }
            for a in 0..s {
                let (r_lo, r_hi) = self.valid(a, ph, self.h);
                for r in 0..ph {
                    let row = |b: usize| (a * s + b) * plane_len + r * pw;
                    if r < r_lo || r >= r_hi {
                        for b in 0..s {
                            planes[row(b)..row(b) + pw].fill(E::zero());
                        }
                        continue;
                    }
                    let src = &channel[(r * s + a - p) * self.w..][..self.w];
                    for b in 0..s {
                        let dst = &mut planes[row(b)..row(b) + pw];
                        let (q_lo, q_hi) = self.valid(b, pw, self.w);
                        dst[..q_lo].fill(E::zero());
                        dst[q_hi..].fill(E::zero());
                        if q_lo < q_hi {
                            gather(s, &mut dst[q_lo..q_hi], &src[q_lo * s + b - p..]);
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`Geom::phases`] on the input's elements: `dx (C, H, W)` from the phase
    /// planes' gradient `dq` (every input element lies in exactly one plane; the padding's
    /// entries are dropped).
    fn unphase<E: Element>(&self, dq: &[E], dx: &mut [E]) {
        let (s, p, pw, ph) = (self.s, self.p, self.plane_w(), self.plane_h());
        let plane_len = ph * pw;
        for c in 0..self.c {
            let channel = &mut dx[c * self.h * self.w..(c + 1) * self.h * self.w];
            let planes = &dq[c * s * s * plane_len..(c + 1) * s * s * plane_len];
            // (A channel without columns is empty: no row to write.)
            if s == 2 {
                merge_rows2(channel, self.w, planes, plane_len, pw, p);
                continue;
            }
            for (ih, dst) in channel.chunks_exact_mut(self.w.max(1)).enumerate() {
                let (r, a) = ((ih + p) / s, (ih + p) % s);
                let row = |b: usize| (a * s + b) * plane_len + r * pw;
                for (iw, d) in dst.iter_mut().enumerate() {
                    let (qq, b) = ((iw + p) / s, (iw + p) % s);
                    *d = planes[row(b) + qq];
                }
            }
        }
    }

    /// Where each row of the lowered input (`C·HF·WF × HO·plane_w`) starts in the phase
    /// planes, in the lowering's row order `(c, i, j)`: the products read the lowering in
    /// place through this table ([`View::table`]), never copying it.
    fn taps(&self, table: &mut Vec<usize>) {
        table.clear();
        for c in 0..self.c {
            for i in 0..self.hf {
                for j in 0..self.wf {
                    table.push(self.tap(c, i, j));
                }
            }
        }
    }

    /// The adjoint of reading the lowering from the phase planes: the planes' gradient `dq`
    /// (overwritten) from the lowered input's (when not [`Geom::direct_dx`]).
    fn raise_phased<E: Element>(&self, dcols: &[E], dq: &mut [E]) {
        let cp = self.cols_positions();
        dq.fill(E::zero());
        let mut rows = dcols.chunks_exact(cp);
        for c in 0..self.c {
            for i in 0..self.hf {
                for j in 0..self.wf {
                    let Some(row) = rows.next() else { return };
                    let dst = &mut dq[self.tap(c, i, j)..][..cp];
                    dst.iter_mut().zip(row).for_each(|(d, v)| *d += *v);
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

/// A strided convolution's backward pass computes `dx` plane by plane ([`Geom::phased_dx`])
/// from this many wide positions (`HO · plane_w`) on; below, the lowered input's gradient is
/// added onto the planes. Measured on the 2-core Intel VM (16 → 32 channels, 3 × 3, stride 2,
/// padding 1, batch 32, training backward with `dx`, two threads, medians of 11 × 60 calls,
/// three runs), input side 8, 12, 16, 20, 24, 32 (positions 20, 42, 72, 110, 156, 272):
/// plane by plane 1.22×, 1.06×, 1.00×, 0.93×, 0.91×, 0.84× the time. Small planes lose: each
/// phase is a product of its own, whose last panel of columns is packed.
const PHASED_DX_MIN_POSITIONS: usize = 96;

/// Below this many flops a pass runs on the calling thread. Measured on the 2-core Intel VM
/// (`Conv::forward_train`, 3 → 16 channels, 3 × 3, 32², back to back so that the helper is
/// looking for work; time on two threads over one, medians of 9 interleaved rounds): batch 2
/// (1.8 MFLOP) 0.55×, 4 (3.5 MFLOP) 0.60×, 8 0.55×. (A batch of one is one task.) On the 2-core
/// Zen 5 VM (`set_num_threads` alternated in one process): batch 2 0.53×, 4 0.51×, 8 0.50×.
const PARALLEL_MIN_FLOPS: usize = 1_500_000;

/// How a batch of `n` samples is split: `(tasks, samples per task)`.
fn tasks(n: usize) -> (usize, usize) {
    let per_task = n.div_ceil(MAX_TASKS).max(1);
    (n.div_ceil(per_task), per_task)
}

/// Runs `f(task, scratch, a, b)` over the tasks' chunks of `scratch` (`s_len` each), `a`
/// (`a_len`) and, when given, `b` (`b_len`), in parallel or in order on this thread, and
/// returns `scratch` as the tasks left it. Every chunk length is at least 1 element (a task
/// with nothing to keep still gets its turn).
#[allow(clippy::too_many_arguments)]
fn run_tasks<'s, E: Element>(
    parallel: bool,
    scratch: Buf<'s, E>,
    s_len: usize,
    a: &[E],
    a_len: usize,
    b: Option<Buf<'s, E>>,
    b_len: usize,
    f: impl Fn(usize, &mut [E], &[E], Option<&mut [E]>) + Sync,
) -> &'s mut [E] {
    let (s_len, a_len, b_len) = (s_len.max(1), a_len.max(1), b_len.max(1));
    let tasks = scratch.len().div_ceil(s_len).min(a.len().div_ceil(a_len));
    let a_chunk = |t: usize| &a[t * a_len..((t + 1) * a_len).min(a.len())];
    match b {
        Some(b) => {
            // An empty `b` (the gradient of an input without columns) limits nothing: each
            // task gets an empty chunk of it.
            let tasks = if b.len() == 0 {
                tasks
            } else {
                tasks.min(b.len().div_ceil(b_len))
            };
            let bufs = [(scratch, s_len), (b, b_len)];
            let [s, _] = par::for_task_bufs(parallel, tasks, bufs, |t, [s, b]| {
                f(t, s, a_chunk(t), Some(b))
            });
            s
        }
        None => {
            let [s] = par::for_task_bufs(parallel, tasks, [(scratch, s_len)], |t, [s]| {
                f(t, s, a_chunk(t), None)
            });
            s
        }
    }
}

impl Geom {
    /// Elements of one sample's lowered input, what the forward pass keeps for the backward:
    /// the phase planes when phased, none when pointwise (the input is its own).
    fn lowered_len(&self) -> usize {
        if self.is_pointwise() {
            0
        } else if self.phased() {
            self.phases_len()
        } else {
            self.patch() * self.positions()
        }
    }
    /// The backward pass's room for one sample's lowered input when the forward pass kept
    /// none, or with the direct weight gradient ([`Geom::direct_dw`], which lowers nothing)
    /// that kernel's scratch in its place.
    fn lowered_room<E: Element>(&self) -> usize {
        if self.direct_dw::<E>() {
            self.direct_group().weight_grad_scratch()
        } else {
            self.lowered_len()
        }
    }
    /// Flops of the forward pass over `n` samples.
    fn flops(&self, n: usize) -> usize {
        2 * n * self.k * self.group_patch() * self.positions()
    }
    /// The scratch one forward task needs: the lowered input (or phase planes) unless they
    /// are kept, and the wide output when the product does not write `y` in place.
    fn forward_scratch<E: Element>(&self, keep: bool) -> usize {
        if self.direct::<E>() {
            return 0;
        }
        (if keep { 0 } else { self.lowered_len() }) + self.forward_wide_len::<E>()
    }
    /// Whether the phased forward product writes `y` in place: output rows a whole number of
    /// the kernel's vectors long (see `forward_one`).
    fn in_place<E: Element>(&self) -> bool {
        let lanes = lanes::<E>();
        self.phased() && lanes > 0 && self.wo.is_multiple_of(lanes)
    }
    /// The wide output of the forward pass: none when the product writes `y` in place.
    fn forward_wide_len<E: Element>(&self) -> usize {
        if self.in_place::<E>() {
            0
        } else {
            self.wide_len()
        }
    }
    /// The scratch one backward task needs: `dWᵀ` (one block per group) and `db`
    /// accumulators, the lowered input's gradient ([`Geom::dcols_len`]), the lowered input (or
    /// phase planes, or with [`Geom::direct_dw`] that kernel's scratch: [`Geom::lowered_room`])
    /// when the forward pass did not keep them, and when phased, the planes'
    /// gradient, the wide output gradient and (with [`Geom::direct_dx`]) the weight in phase
    /// order; in the backward pass's geometry.
    fn task_scratch<E: Element>(&self, kept: bool) -> usize {
        let g = self.for_backward();
        g.k * g.group_patch()
            + g.k
            + g.dcols_len()
            + if kept { 0 } else { g.lowered_room::<E>() }
            + g.phases_len()
            + g.dy_wide_len()
            + g.phase_weights_len()
    }
    /// The lowered input's gradient of one sample: none when pointwise (the product writes
    /// `dx`) or with [`Geom::direct_dx`] (the products write the planes' gradient).
    fn dcols_len(&self) -> usize {
        if self.is_pointwise() || self.direct_dx() {
            0
        } else {
            self.patch() * self.cols_positions()
        }
    }
    /// The weight in phase order ([`Geom::phase_weights`]), with [`Geom::direct_dx`].
    fn phase_weights_len(&self) -> usize {
        if self.direct_dx() {
            self.k * self.group_patch()
        } else {
            0
        }
    }
}

/// A convolution's parameters as slices: `W (K, C/G, HF, WF)` and, if the layer has one, `b`.
#[derive(Clone, Copy)]
struct Kernel<'a, E> {
    weight: &'a [E],
    bias: Option<&'a [E]>,
}

/// The forward pass over a batch. The lowered input (the phase planes when phased) goes to `kept`
/// (one per sample, kept for the backward pass) when given, else to each task's part of `scratch`,
/// which also holds the wide output when phased, unless the product writes `y` in place
/// ([`Geom::forward_scratch`] per task). `y` and `scratch` are the caller's ([`Buf::Slice`], a
/// training step) or fresh ([`Buf::Fresh`], the allocating API). `taps` is the phased lowering's
/// row table and `packed` the direct kernel's weight ([`Geom::direct`]), filled here.
#[allow(clippy::too_many_arguments)]
fn forward_slices<E: Element>(
    g: &Geom,
    kernel: Kernel<'_, E>,
    x: &[E],
    y: Buf<'_, E>,
    kept: Option<&mut [E]>,
    scratch: Buf<'_, E>,
    taps: &mut Vec<usize>,
    packed: &mut Vec<E>,
) {
    let (in_len, out_len, cols_len) = (g.c * g.h * g.w, g.k * g.positions(), g.lowered_len());
    let n = y.len() / out_len.max(1);
    let (tasks, per_task) = tasks(n);
    let keep = kept.is_some();
    let task_len = g.forward_scratch::<E>(keep).max(1);
    let flops = g.flops(n);
    let parallel = par::share(
        tasks > 1 && flops >= PARALLEL_MIN_FLOPS,
        flops >= par::WAKE_MIN_FLOPS,
    );
    let direct = g.direct::<E>();
    // A strided convolution keeps no lowering for the backward pass (`Geom::keeps`), and the
    // direct kernel makes none to keep.
    debug_assert!(!(direct && keep), "the direct kernel keeps nothing");
    if direct {
        // The weight packed once a call for every task: `(C/G, HF, WF, K/G)` per group, the
        // filters rounded up to whole vectors.
        let d = g.direct_group();
        let len = d.packed_len();
        if packed.len() < g.groups * len {
            packed.resize(g.groups * len, E::zero());
        }
        let filter = (g.c / g.groups) * g.hf * g.wf;
        for (wg, pg) in kernel
            .weight
            .chunks_exact(g.group_k() * filter)
            .zip(packed.chunks_mut(len))
        {
            d.pack(wg, pg);
        }
    } else if g.phased() {
        g.taps(taps);
    }
    let (taps, packed) = (&taps[..], &packed[..]);
    let run = |task: usize, scratch: &mut [E], ys: &mut [E], kept: Option<&mut [E]>| {
        // The direct kernel lowers nothing (its scratch is the one element every task gets).
        let (own, wide) = scratch.split_at_mut(if keep || direct { 0 } else { cols_len });
        let wide = &mut wide[..if direct { 0 } else { g.forward_wide_len::<E>() }];
        let xs = &x[(task * per_task * in_len).min(x.len())..];
        // Pointwise, nothing is kept or lowered: `own` is empty too.
        let mut kept = kept.map(|k| k.chunks_exact_mut(cols_len.max(1)));
        // Sample by sample (by index, not `chunks_exact`: an input without columns has
        // `in_len` 0, and its output is still the bias over every window of padding).
        for (i, yn) in ys.chunks_exact_mut(out_len).enumerate() {
            let xn = &xs[i * in_len..(i + 1) * in_len];
            let cols = match kept.as_mut().and_then(Iterator::next) {
                Some(cols) => cols,
                None => &mut *own,
            };
            if direct {
                forward_direct(g, kernel, packed, xn, yn);
            } else {
                forward_one(g, kernel, taps, xn, yn, cols, wide);
            }
        }
    };
    let [s, ys] = [
        (scratch.prefix(tasks * task_len), task_len),
        (y, per_task * out_len),
    ];
    match kept {
        Some(kept) => {
            let bufs = [s, ys, (Buf::Slice(kept), per_task * cols_len)];
            par::for_task_bufs(parallel, tasks, bufs, |t, [s, ys, k]| {
                run(t, s, ys, Some(k))
            });
        }
        None => {
            par::for_task_bufs(parallel, tasks, [s, ys], |t, [s, ys]| run(t, s, ys, None));
        }
    }
}

/// One sample by the direct kernel ([`Geom::direct`]), group by group, the weight `packed` by
/// [`forward_slices`].
fn forward_direct<E: Element>(g: &Geom, kernel: Kernel<'_, E>, packed: &[E], x: &[E], y: &mut [E]) {
    let d = g.direct_group();
    let (x_len, y_len, w_len) = (d.c * d.h * d.w, d.k * d.ho * d.wo, d.packed_len());
    for group in 0..g.groups {
        let bias = kernel.bias.map(|b| &b[group * d.k..(group + 1) * d.k]);
        let done = d.forward(
            &x[group * x_len..(group + 1) * x_len],
            &packed[group * w_len..(group + 1) * w_len],
            bias,
            &mut y[group * y_len..(group + 1) * y_len],
        );
        assert!(done, "`Geom::direct` chose a kernel that does not run here");
    }
}

/// One sample: lowers `x` into `cols` (its phase planes when phased) and computes `y`.
fn forward_one<E: Element>(
    g: &Geom,
    kernel: Kernel<'_, E>,
    taps: &[usize],
    x: &[E],
    y: &mut [E],
    cols: &mut [E],
    wide: &mut [E],
) {
    let positions = g.positions();
    let (kg, patch) = (g.group_k(), g.group_patch());
    if g.phased() {
        g.phases(x, cols);
        let (cp, pw, wo) = (g.cols_positions(), g.plane_w(), g.wo);
        if g.in_place::<E>() {
            // Output rows a multiple of the kernel's vectors long: the product reads the
            // lowering's columns wrapped onto the plane rows and writes `y` in place, with no
            // junk columns to compute or drop, adding the bias as it stores each tile (a pass
            // of its own filling `y` with the bias first was 8 % of the benchmark's strided
            // forward pass).
            for (group, (yg, wg)) in y
                .chunks_exact_mut(kg * positions)
                .zip(kernel.weight.chunks_exact(kg * patch))
                .enumerate()
            {
                let rows = View::wrapped(cols, &taps[group * patch..(group + 1) * patch], wo, pw);
                let (mnk, a) = ([kg, positions, patch], View::rows(wg, patch));
                match kernel.bias {
                    Some(b) => matmul_bias(mnk, yg, positions, &b[group * kg..], a, rows),
                    None => matmul(mnk, yg, positions, false, a, rows),
                }
            }
            return;
        }
        // The product reads the lowering in place from the phase planes into the wide
        // output, which goes to `y` without its junk columns and with the bias.
        for (group, (yg, wg)) in wide
            .chunks_exact_mut(kg * cp)
            .zip(kernel.weight.chunks_exact(kg * patch))
            .enumerate()
        {
            let rows = View::table(cols, &taps[group * patch..(group + 1) * patch]);
            matmul([kg, cp, patch], yg, cp, false, View::rows(wg, patch), rows);
        }
        unwiden(y, wide, (positions, cp), (wo, pw), kernel.bias);
        return;
    }
    let lowered: &[E] = if g.is_pointwise() {
        x
    } else {
        g.im2col(x, cols);
        cols
    };
    if let Some(bias) = kernel.bias {
        for (row, &b) in y.chunks_exact_mut(positions).zip(bias) {
            row.fill(b);
        }
    }
    // Per group: Y_g (K/G × HO·WO) += W_g (K/G × C/G·HF·WF) · cols_g (C/G·HF·WF × HO·WO), the
    // blocks of rows of Y, W and the lowering that belong to the group (one product when G = 1).
    // (The bias filled first, not added by the product as it stores its tiles as the wrapped
    // path above does: on the digits CNN, whose convolution with 32 filters comes here, that
    // made the max pool after it 20 % slower and the step's forward pass 1.10×.)
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
/// (one per sample, kept by the forward pass) or lowered again from `x`, or with
/// [`Geom::direct_dw`] not lowered at all (the weight gradient is read from `x`); `scratch` holds
/// [`Geom::task_scratch`] per task. `dx` and `scratch` are the caller's or fresh ([`Buf`]).
#[allow(clippy::too_many_arguments)]
fn backward_slices<E: Element>(
    g: &Geom,
    weight: &[E],
    x: &[E],
    kept: Option<&[E]>,
    dy: &[E],
    dx: Option<Buf<'_, E>>,
    (gw, mut gb): (&mut [E], Option<&mut [E]>),
    scratch: Buf<'_, E>,
    taps: &mut Vec<usize>,
) {
    let g = &g.for_backward();
    let (in_len, out_len) = (g.c * g.h * g.w, g.k * g.positions());
    let (dw_len, positions, patch) = (g.k * g.group_patch(), g.positions(), g.group_patch());
    let (cols_len, dcols_len) = (g.lowered_len(), g.dcols_len());
    if g.phased() {
        g.taps(taps);
    }
    if g.direct_dx() {
        g.dx_taps(taps);
    }
    let (taps, dx_taps) = taps.split_at(if g.phased() { g.patch() } else { 0 });
    let n = dy.len() / out_len.max(1);
    let (tasks, per_task) = tasks(n);
    let task_len = g.task_scratch::<E>(kept.is_some());
    let flops = 2 * g.flops(n);
    let parallel = par::share(
        tasks > 1 && flops >= PARALLEL_MIN_FLOPS,
        flops >= par::WAKE_MIN_FLOPS,
    );
    let with_bias = gb.is_some();
    // The direct weight gradient (`Geom::direct_dw`), per group of each sample, in `cols`.
    let direct = g.direct_dw::<E>().then(|| g.direct_group());
    debug_assert!(
        direct.is_none() || kept.is_none(),
        "conv: phased, nothing is kept"
    );
    let room = g.lowered_room::<E>();
    let (cg_len, kg) = (g.c / g.groups * g.h * g.w, g.group_k());
    let scratch = run_tasks(
        parallel,
        scratch.prefix(tasks * task_len),
        task_len,
        dy,
        per_task * out_len,
        dx,
        per_task * in_len,
        |task, acc, dys, dxs| {
            let (dw, rest) = acc.split_at_mut(dw_len);
            let (db, rest) = rest.split_at_mut(g.k);
            let (dcols, rest) = rest.split_at_mut(dcols_len);
            let (cols, rest) = rest.split_at_mut(if kept.is_some() { 0 } else { room });
            let (dq, rest) = rest.split_at_mut(g.phases_len());
            let (wide, wp) = rest.split_at_mut(g.dy_wide_len());
            let wp = &mut wp[..g.phase_weights_len()];
            if g.direct_dx() {
                g.phase_weights(weight, wp);
            }
            dw.fill(E::zero());
            db.fill(E::zero());
            // (An input without columns has no gradient to write: `dx` is empty.)
            let mut dxs = dxs.map(|d| d.chunks_exact_mut(in_len.max(1)));
            for (j, dyn_) in dys.chunks_exact(out_len).enumerate() {
                let sample = task * per_task + j;
                let xn = &x[sample * in_len..][..in_len];
                // With the direct weight gradient, dW is done here and the products below see
                // no room for it (an empty `dw`), nor a lowered input.
                let (lowered, dw): (&[E], &mut [E]) = if let Some(d) = &direct {
                    for (group, dwg) in dw.chunks_exact_mut(patch * kg).enumerate() {
                        let xg = &xn[group * cg_len..][..cg_len];
                        let dyg = &dyn_[group * kg * positions..][..kg * positions];
                        let ran = d.weight_grad(xg, dyg, dwg, cols);
                        assert!(ran, "conv: `direct_dw` said the kernel runs");
                    }
                    (&[], &mut [])
                } else if g.is_pointwise() {
                    (xn, dw)
                } else if let Some(kept) = kept {
                    (&kept[sample * cols_len..][..cols_len], dw)
                } else if g.phased() {
                    g.phases(xn, cols);
                    (cols, dw)
                } else {
                    g.im2col(xn, cols);
                    (cols, dw)
                };
                // Phased, the products run on the wide gradient (`Geom::dy_pitch`): zero on the
                // junk columns, so they add nothing to dW and give the lowered input zero
                // gradient there (and with `direct_dx`, zero around each filter's row).
                let dxn = dxs.as_mut().and_then(|d| d.next());
                if g.phased() && direct.is_some() && dxn.is_none() {
                    // dW done, no dX asked for: the wide gradient would go unread.
                } else if g.phased() {
                    let (pw, wo, front) = (g.plane_w(), g.wo, g.dy_front());
                    for (wk, dk) in wide
                        .chunks_exact_mut(g.dy_pitch())
                        .zip(dyn_.chunks_exact(positions))
                    {
                        let (pad, rest) = wk.split_at_mut(front);
                        let (body, back) = rest.split_at_mut(g.cols_positions());
                        pad.fill(E::zero());
                        back.fill(E::zero());
                        widen(body, dk, wo, pw);
                    }
                    let dy = (&wide[front..], g.dy_pitch());
                    if g.direct_dx() {
                        backward_one(g, weight, taps, lowered, dy, None, dw, (dcols, dq));
                        if let Some(dxn) = dxn {
                            g.phased_dx((wp, dx_taps), wide, dq, dxn);
                        }
                    } else {
                        backward_one(g, weight, taps, lowered, dy, dxn, dw, (dcols, dq));
                    }
                } else {
                    let dy = (dyn_, positions);
                    backward_one(g, weight, taps, lowered, dy, dxn, dw, (dcols, dq));
                }
                if with_bias {
                    for (b, row) in db.iter_mut().zip(dyn_.chunks_exact(positions)) {
                        *b += crate::ops::sum_by(row, |v| v);
                    }
                }
            }
        },
    );
    // The tasks' sums, added in task order (the same order whatever ran them), with each
    // group's dW_gᵀ (C/G·HF·WF × K/G) transposed back into its filters' rows of (K, C/G, HF, WF).
    let kg = g.group_k();
    for acc in scratch.chunks_exact(task_len) {
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

/// One sample: adds `dWᵀ` into `dw` and, when `dx` is given (never with
/// [`Geom::direct_dx`]: see [`Geom::phased_dx`]), writes `dX` there, through `dcols` (and
/// `dq`, the phase planes' gradient, when phased). `lowered` is the sample's lowered input, or
/// its phase planes read through `taps` when phased; `dy` its output gradient, a row per filter
/// `pitch` apart (when phased: wide, zero on the junk columns, [`Geom::dy_pitch`]). With
/// [`Geom::direct_dw`], `dw` and `lowered` are empty: the weight gradient was computed before,
/// and this writes `dX` only.
#[allow(clippy::too_many_arguments)]
fn backward_one<E: Element>(
    g: &Geom,
    weight: &[E],
    taps: &[usize],
    lowered: &[E],
    (dy, pitch): (&[E], usize),
    dx: Option<&mut [E]>,
    dw: &mut [E],
    (dcols, dq): (&mut [E], &mut [E]),
) {
    let (positions, patch, kg) = (g.cols_positions(), g.group_patch(), g.group_k());
    // A group's rows of `dy`: the last may end short of a whole `pitch` past its last row.
    let dy_groups = || dy.chunks((kg * pitch).max(1));
    // Per group, dW_gᵀ (C/G·HF·WF × K/G) += cols_g (C/G·HF·WF × HO·WO) · dY_gᵀ (HO·WO × K/G);
    // this orientation packs the small dY instead of the large lowered input (measured faster).
    for (group, (dwg, dyg)) in dw.chunks_exact_mut(patch * kg).zip(dy_groups()).enumerate() {
        let cols = if g.phased() {
            View::table(lowered, &taps[group * patch..(group + 1) * patch])
        } else {
            View::rows(&lowered[group * patch * positions..], positions)
        };
        matmul(
            [patch, kg, positions],
            dwg,
            kg,
            true,
            cols,
            View::transposed(dyg, pitch),
        );
    }
    let Some(dx) = dx else { return };
    debug_assert!(
        !g.direct_dx(),
        "conv: this dX goes through `Geom::phased_dx`"
    );
    // Per group, dcols_g (C/G·HF·WF × HO·WO) = W_gᵀ (C/G·HF·WF × K/G) · dY_g (K/G × HO·WO),
    // then the whole lowering back onto dX.
    let pointwise = g.is_pointwise();
    let target: &mut [E] = if pointwise { &mut *dx } else { &mut *dcols };
    for ((tg, wg), dyg) in target
        .chunks_exact_mut(patch * positions)
        .zip(weight.chunks_exact(kg * patch))
        .zip(dy_groups())
    {
        matmul(
            [patch, positions, kg],
            tg,
            positions,
            false,
            View::transposed(wg, patch),
            View::rows(dyg, pitch),
        );
    }
    if g.phased() {
        g.raise_phased(dcols, dq);
        g.unphase(dq, dx);
    } else if !pointwise {
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
    /// A layer with the given weight `(K, C, HF, WF)` and bias `(K,)`: a
    /// `Tensor<(K, C, HF, WF), E>` and a `Tensor<(K,), E>`.
    ///
    /// The compiler infers the tensors' shapes from the layer's type, or the layer's dims from
    /// the tensors'. A tensor of another shape than the layer's type says does not compile,
    /// with the rule's error (see [`ParamIs`]), here 1 channel where the layer has 3:
    ///
    /// ```text
    /// error[E0277]: shape mismatch in Conv weight: expected (_8, _3, _3, _3) (K, C, HF, WF), found (_8, _1, _3, _3): the weight is (filters, channels, height, width), as PyTorch's Conv2d.weight
    /// ```
    ///
    /// That is the error where the layer's type is written on the call
    /// (`Conv::<U3, U8, U3, U3>::new`) or known before it; where it is only the type the result
    /// is given to, the compiler takes the layer's dims from the tensors first and reports the
    /// two layer types as "mismatched types".
    ///
    /// ```
    /// use shaped::{typenum::*, Conv, Tensor};
    /// let conv = Conv::<U3, U8, U3, U3, U1, U1>::new(Tensor::full(0.1), Tensor::zeros());
    /// assert_eq!(conv.weight.dims(), [8, 3, 3, 3]); // (K, C, HF, WF), inferred
    /// let y: Tensor<(U2, U8, U5, U5)> = conv.forward(&Tensor::<(U2, U3, U5, U5)>::zeros());
    /// # let _ = y;
    /// ```
    ///
    /// # Panics
    ///
    /// If `K` is a [`Dyn`](crate::Dyn) dim and the two tensors disagree on its size, or if `C`,
    /// `K`, `HF` or `WF` is 0 (`zero-sized Conv layer: …`; [`Init`] refuses a
    /// static 0 at compile time).
    #[track_caller]
    pub fn new<W, B>(weight: W, bias: B) -> Self
    where
        W: ParamIs<Tensor<(K, C, HF, WF), E>, ConvWeightShape>,
        B: ParamIs<Tensor<(K,), E>, ConvBiasShape>,
    {
        let (weight, bias) = (weight.into_param(), bias.into_param());
        for d in weight.dims() {
            check_non_zero::<ConvNonZero>(d);
        }
        check_dims::<ConvBiasShape>(&weight.dims()[..1], &bias.dims());
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
            backward: false,
        };
        (g, (n, k, ho, wo))
    }

    /// `(N, C, H, W) -> (N, K, HO, WO)`.
    ///
    /// ```
    /// use shaped::{Conv, Dyn, Tensor, typenum::*};
    /// // One 2 × 2 filter of ones, bias 0.5, stride 1, no padding: each output is a window's sum.
    /// let conv = Conv::<U1, U1, U2, U2>::new(Tensor::full(1.0), Tensor::full(0.5));
    /// let x = Tensor::<(U1, U1, U3, U3)>::from_fn(|i| (3 * i[2] + i[3]) as f32); // 0 … 8
    /// let y: Tensor<(U1, U1, U2, U2)> = conv.forward(&x);
    /// assert_eq!(y.as_slice(), &[8.5, 12.5, 20.5, 24.5]);
    /// // A runtime image size gives a runtime output size, computed by the same rule.
    /// let shape = (U1::default(), U1::default(), Dyn(5), Dyn(4));
    /// let x = Tensor::<(U1, U1, Dyn, Dyn)>::zeros_with(shape);
    /// let y: Tensor<(U1, U1, Dyn, Dyn)> = conv.forward(&x);
    /// assert_eq!(y.dims(), [1, 1, 4, 3]);
    /// ```
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
        g.forward_alone(self.kernel(), x.as_slice(), out)
    }

    /// The gradients of a loss through the layer: given `x` `(N, C, H, W)` and `dy = ∂L/∂Y`
    /// `(N, K, HO, WO)`, returns `dX` `(N, C, H, W)` and [`ConvGrads`] `dW` `(K, C, HF, WF)`,
    /// `db` `(K,)` (formulas on [`Conv`]).
    ///
    /// ```
    /// use shaped::{Conv, ConvGrads, Tensor, typenum::*};
    /// let conv = Conv::<U1, U1, U2, U2>::new(Tensor::full(1.0), Tensor::zeros());
    /// let x = Tensor::<(U1, U1, U3, U3)>::from_fn(|i| (3 * i[2] + i[3]) as f32); // 0 … 8
    /// let dy = Tensor::<(U1, U1, U2, U2)>::full(1.0);
    /// let (dx, grads): (Tensor<(U1, U1, U3, U3)>, ConvGrads<U1, U1, U2, U2>) =
    ///     conv.backward(&x, &dy);
    /// assert_eq!(grads.weight.as_slice(), &[8.0, 12.0, 20.0, 24.0]); // each tap's input, summed
    /// assert_eq!(grads.bias.as_slice(), &[4.0]); // Σ dy
    /// // Each input counts once per window it lies in: corners 1, edges 2, the centre 4.
    /// assert_eq!(dx.as_slice(), &[1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    /// ```
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
        let dx_shape = (n, self.weight.shape().1, h, w);
        let mut grads = self.zero_grads();
        let grads_slices = (grads.weight.as_mut_slice(), Some(grads.bias.as_mut_slice()));
        let weight = self.weight.as_slice();
        let dx = g.backward_alone(weight, x.as_slice(), dy.as_slice(), dx_shape, grads_slices);
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
/// for a pointwise convolution, whose input is its own lowering, nor for a strided one, whose
/// phase planes are cheaper to make again), the tasks' scratch, and the row table of a strided
/// lowering. All grow to the largest batch seen and never shrink.
///
/// ```
/// use shaped::layers::conv::ConvKeep;
/// use shaped::{typenum::*, Conv, LayerWork, Module, Tensor};
/// use static_assertions::assert_type_eq_all;
/// type Layer = Conv<U1, U2, U3, U3>;
/// assert_type_eq_all!(
///     <Layer as Module<f32, Tensor<(U4, U1, U5, U5)>>>::Work,
///     LayerWork<(U4, U1, U5, U5), (U4, U2, U3, U3), f32, ConvKeep<f32>>
/// );
/// ```
#[derive(Debug, Default)]
pub struct ConvKeep<E> {
    lowered: Vec<E>,
    scratch: Vec<E>,
    taps: Vec<usize>,
    /// The direct kernel's packed weight, grown once.
    packed: Vec<E>,
}

impl Geom {
    /// The forward pass of the allocating API (`forward`, `infer`) into `y`, with scratch of
    /// its own.
    /// Returns the output, of shape `out`; it and the scratch are fresh buffers
    /// ([`Buf::Fresh`]), zeroed by the tasks that write them.
    fn forward_alone<S: Shape, E: Element>(
        &self,
        kernel: Kernel<'_, E>,
        x: &[E],
        out: S,
    ) -> Tensor<S, E> {
        let (mut y, mut scratch, len) = (Vec::new(), Vec::new(), out.num_elements());
        let scratch_len = MAX_TASKS * self.forward_scratch::<E>(false).max(1);
        let (y_buf, scratch) = (
            Buf::Fresh(&mut y, len),
            Buf::Fresh(&mut scratch, scratch_len),
        );
        forward_slices(
            self,
            kernel,
            x,
            y_buf,
            None,
            scratch,
            &mut Vec::new(),
            &mut Vec::new(),
        );
        Tensor::from_raw(out, y)
    }

    /// The backward pass of the allocating API (`backward`): `dX` into `dx`, the parameter
    /// gradients added into `grads`, with scratch of its own.
    fn backward_alone<S: Shape, E: Element>(
        &self,
        weight: &[E],
        x: &[E],
        dy: &[E],
        dx_shape: S,
        grads: (&mut [E], Option<&mut [E]>),
    ) -> Tensor<S, E> {
        let (mut dx, mut scratch, dx_len) = (Vec::new(), Vec::new(), dx_shape.num_elements());
        let scratch_len = MAX_TASKS * self.task_scratch::<E>(false);
        let (dx_buf, scratch) = (
            Buf::Fresh(&mut dx, dx_len),
            Buf::Fresh(&mut scratch, scratch_len),
        );
        let none = &mut Vec::new();
        backward_slices(
            self,
            weight,
            x,
            None,
            dy,
            Some(dx_buf),
            grads,
            scratch,
            none,
        );
        Tensor::from_raw(dx_shape, dx)
    }
}

impl<E: Element> ConvKeep<E> {
    /// A training step's forward pass into `y`: the lowered input kept for the backward pass
    /// (where [`Geom::keeps`]), the buffers grown to the largest batch seen, never shrunk, so
    /// alternating batch sizes reuse them.
    fn forward(&mut self, g: &Geom, kernel: Kernel<'_, E>, x: &[E], y: &mut [E]) {
        let n = y.len() / (g.k * g.positions()).max(1);
        let keeps = g.keeps();
        let lowered = if keeps { n * g.lowered_len() } else { 0 };
        if self.lowered.len() < lowered {
            self.lowered.resize(lowered, E::zero());
        }
        let scratch = tasks(n).0 * g.forward_scratch::<E>(keeps).max(1);
        if self.scratch.len() < scratch {
            self.scratch.resize(scratch, E::zero());
        }
        let kept = keeps.then_some(&mut self.lowered[..lowered]);
        let scratch = Buf::Slice(&mut self.scratch[..]);
        let (taps, packed) = (&mut self.taps, &mut self.packed);
        forward_slices(g, kernel, x, Buf::Slice(y), kept, scratch, taps, packed);
    }

    /// A training step's backward pass: reads what [`ConvKeep::forward`] kept, writes `dX`
    /// into `dx` when given and adds the parameter gradients into `grads`.
    fn backward(
        &mut self,
        g: &Geom,
        weight: &[E],
        x: &[E],
        dy: &[E],
        dx: Option<&mut [E]>,
        grads: (&mut [E], Option<&mut [E]>),
    ) {
        let n = dy.len() / (g.k * g.positions()).max(1);
        let keeps = g.keeps();
        let scratch = tasks(n).0 * g.task_scratch::<E>(keeps);
        if self.scratch.len() < scratch {
            self.scratch.resize(scratch, E::zero());
        }
        let kept = keeps.then_some(&self.lowered[..if keeps { n * g.lowered_len() } else { 0 }]);
        let (scratch, taps) = (Buf::Slice(&mut self.scratch[..]), &mut self.taps);
        backward_slices(
            g,
            weight,
            x,
            kept,
            dy,
            dx.map(Buf::Slice),
            grads,
            scratch,
            taps,
        );
    }
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
        g.forward_alone(self.kernel(), x.as_slice(), out)
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C2, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (g, out) = self.geom(x.shape());
        let y = work.out.reset(out);
        work.keep
            .forward(&g, self.kernel(), x.as_slice(), y.as_mut_slice());
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C2, H, W), E>> {
        let (g, out) = self.geom(x.shape());
        check_dims::<ConvGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        let dx = input_grad.then(|| work.dx.reset(x.shape()).as_mut_slice());
        let grads_slices = (grads.weight.as_mut_slice(), Some(grads.bias.as_mut_slice()));
        work.keep.backward(
            &g,
            self.weight.as_slice(),
            x.as_slice(),
            dy.as_slice(),
            dx,
            grads_slices,
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
    /// A layer with the given weight `(K, C/G, HF, WF)` and bias: a
    /// `Tensor<(K, C/G, HF, WF), E>`, and a `Tensor<(K,), E>` for [`Bias`] or `()` for
    /// [`NoBias`].
    ///
    /// The compiler infers the tensors' shapes from the layer's type. A tensor of another shape
    /// does not compile, with the rule's error (see [`ParamIs`]); the mistake it is made for is
    /// a grouped layer's weight given all the channels, `(K, C, HF, WF)`:
    ///
    /// ```text
    /// error[E0277]: shape mismatch in Conv2d weight: expected (_6, _4, _3, _3) (K, C/G, HF, WF), found (_6, _8, _3, _3): the weight is (filters, channels per group, height, width), as PyTorch's Conv2d.weight
    /// ```
    ///
    /// A tensor for the bias of a [`NoBias`] layer, or `()` for a [`Bias`] one, is an error in
    /// words of its own: ``a layer without bias (`NoBias`) takes `()` for its bias, found a
    /// tensor``.
    ///
    /// ```
    /// use shaped::{typenum::*, Conv2d, NoBias, Tensor};
    /// // 8 channels in 2 groups: each of the 6 filters sees 4 channels.
    /// let conv = Conv2d::<U8, U6, U3, U3, U1, U1, U1, U2, NoBias>::new(Tensor::full(0.1), ());
    /// assert_eq!(conv.weight.dims(), [6, 4, 3, 3]); // (K, C/G, HF, WF), inferred
    /// ```
    ///
    /// # Panics
    ///
    /// If `HF` or `WF` is 0 (`zero-sized Conv layer: …`; [`Init`] refuses a static 0, and a
    /// `C` or `K` of 0, at compile time).
    #[track_caller]
    pub fn new<W, BP>(weight: W, bias: BP) -> Self
    where
        W: ParamIs<Tensor<(K, PerGroup<C, K, G>, HF, WF), E>, Conv2dWeightShape>,
        BP: ParamIs<B::Param, ConvBiasShape>,
    {
        let (weight, bias) = (weight.into_param(), bias.into_param());
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
            backward: false,
        };
        (g, (n, k, ho, wo))
    }

    /// `(N, C, H, W) -> (N, K, HO, WO)`.
    ///
    /// ```
    /// use shaped::{Conv2d, NoBias, Tensor, typenum::*};
    /// // Depthwise 1 × 1 (G = C = K = 2), no bias: scales channel 0 by 2, channel 1 by 3.
    /// let conv = Conv2d::<U2, U2, U1, U1, U1, U0, U1, U2, NoBias>::new(
    ///     Tensor::from_vec(vec![2.0, 3.0])?,
    ///     (),
    /// );
    /// let x = Tensor::<(U1, U2, U1, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0])?;
    /// let y: Tensor<(U1, U2, U1, U2)> = conv.forward(&x);
    /// assert_eq!(y.as_slice(), &[2.0, 4.0, 9.0, 12.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
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
        g.forward_alone(self.kernel(), x.as_slice(), out)
    }

    /// The gradients of a loss through the layer: given `x` `(N, C, H, W)` and `dy = ∂L/∂Y`
    /// `(N, K, HO, WO)`, returns `dX` `(N, C, H, W)` and [`Conv2dGrads`] `dW`
    /// `(K, C/G, HF, WF)`, `db` `(K,)` (formulas on [`Conv2d`]).
    ///
    /// ```
    /// use shaped::{Conv2d, Conv2dGrads, NoBias, Tensor, typenum::*};
    /// let conv = Conv2d::<U2, U2, U1, U1, U1, U0, U1, U2, NoBias>::new(
    ///     Tensor::from_vec(vec![2.0, 3.0])?,
    ///     (),
    /// );
    /// let x = Tensor::<(U1, U2, U1, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0])?;
    /// let dy = Tensor::<(U1, U2, U1, U2)>::full(1.0);
    /// let (dx, grads): (Tensor<(U1, U2, U1, U2)>, Conv2dGrads<U1, U2, U1, U1, NoBias>) =
    ///     conv.backward(&x, &dy);
    /// assert_eq!(dx.as_slice(), &[2.0, 2.0, 3.0, 3.0]); // each channel through its own filter
    /// assert_eq!(grads.weight.as_slice(), &[3.0, 7.0]); // filter k sees channel k only
    /// assert_eq!(grads.bias, ()); // no bias, no gradient
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
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
        let dx_shape = (n, C::default(), h, w);
        let mut grads = self.zero_grads();
        let grads_slices = grads.slices();
        let weight = self.weight.as_slice();
        let dx = g.backward_alone(weight, x.as_slice(), dy.as_slice(), dx_shape, grads_slices);
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
        g.forward_alone(self.kernel(), x.as_slice(), out)
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C2, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (g, out) = self.geom(x.shape());
        let y = work.out.reset(out);
        work.keep
            .forward(&g, self.kernel(), x.as_slice(), y.as_mut_slice());
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C2, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        grads: &mut Self::Grads,
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C2, H, W), E>> {
        let (g, out) = self.geom(x.shape());
        check_dims::<ConvGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        let dx = input_grad.then(|| work.dx.reset(x.shape()).as_mut_slice());
        let grads_slices = grads.slices();
        work.keep.backward(
            &g,
            self.weight.as_slice(),
            x.as_slice(),
            dy.as_slice(),
            dx,
            grads_slices,
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

    /// Calls `f(out, xi, wi)` for every output element `out` (an index of `Y`) and every tap
    /// inside the input: `X[xi]` meets `W[wi]` there, with the taps `D` apart and each filter
    /// seeing its group's channels. The definition, walked directly: the reference the
    /// lowerings are checked against.
    fn each_tap(g: &Geom, mut f: impl FnMut(usize, usize, usize)) {
        let (cg, kg) = (g.c / g.groups, g.k / g.groups);
        for k in 0..g.k {
            for oh in 0..g.ho {
                for ow in 0..g.wo {
                    let out = (k * g.ho + oh) * g.wo + ow;
                    for ci in 0..cg {
                        let c = k / kg * cg + ci;
                        for i in 0..g.hf {
                            for j in 0..g.wf {
                                let (h, wi) = (
                                    (oh * g.s + i * g.d) as isize - g.p as isize,
                                    (ow * g.s + j * g.d) as isize - g.p as isize,
                                );
                                if h >= 0 && wi >= 0 && (h as usize) < g.h && (wi as usize) < g.w {
                                    let xi = (c * g.h + h as usize) * g.w + wi as usize;
                                    f(out, xi, ((k * cg + ci) * g.hf + i) * g.wf + j);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `Y` of one sample by the definition (no bias).
    fn direct(g: &Geom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; g.k * g.ho * g.wo];
        each_tap(g, |out, xi, wi| y[out] += x[xi] * w[wi]);
        y
    }

    /// `dX`, `dW`, `db` of one sample by the definition (the reference of the backward pass).
    fn direct_backward(g: &Geom, x: &[f64], w: &[f64], dy: &[f64]) -> [Vec<f64>; 3] {
        let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
        each_tap(g, |out, xi, wi| {
            dx[xi] += dy[out] * w[wi];
            dw[wi] += dy[out] * x[xi];
        });
        let db = dy
            .chunks_exact(g.ho * g.wo)
            .map(|row| row.iter().sum())
            .collect();
        [dx, dw, db]
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

    fn close(what: &str, g: &Geom, got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: length, {g:?}");
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() < 1e-10, "{what}[{i}]: {a} vs {b}, {g:?}");
        }
    }

    /// The stride-2 forward pass read in place (`crate::direct`, `f32` on AVX-512) through the
    /// layer's paths: groups (each its block of the input, the packed weight, the bias and the
    /// output), several tasks sharing one packed weight, a training buffer reused for a second
    /// call with other weights, and the allocating call, against the definition in f64.
    /// The geometry of a stride-2, 3-wide, dilation-1 convolution
    /// `(C, H, W, K, HF, P, groups)`, as the forward pass sees it.
    fn stride_2_geom(
        (c, h, w, k, hf, p, groups): (usize, usize, usize, usize, usize, usize, usize),
    ) -> Geom {
        let (s, d, wf) = (2, 1, 3);
        Geom {
            c,
            h,
            w,
            k,
            hf,
            wf,
            s,
            p,
            d,
            groups,
            ho: (h + 2 * p - hf) / s + 1,
            wo: (w + 2 * p - wf) / s + 1,
            backward: false,
        }
    }

    #[test]
    fn the_direct_stride_2_forward_pass_matches_the_definition() {
        // (c, h, w, k, hf, p, groups)
        let cases = [
            (16, 32, 32, 32, 3, 1, 1),
            (6, 17, 20, 64, 3, 1, 2),
            (3, 9, 11, 20, 5, 2, 1),
            (4, 12, 16, 96, 3, 0, 4),
        ];
        for case in cases {
            let g = stride_2_geom(case);
            let (c, h, w, k) = (g.c, g.h, g.w, g.k);
            // Every case is one the kernel runs, where the CPU has AVX-512 (elsewhere there is
            // nothing here to test).
            if !Direct::runs::<f32>(2, 1, 3, 32) {
                return;
            }
            assert!(g.direct::<f32>(), "{g:?} goes to the planes");
            let n = 7;
            let wave = |len: usize, f: f64| -> Vec<f64> {
                (0..len).map(|i| (i as f64 * f + 0.3).sin()).collect()
            };
            let (in_len, out_len) = (c * h * w, k * g.positions());
            let x = wave(n * in_len, 0.71);
            let bias = wave(k, 1.3);
            let to32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let (x32, b32) = (to32(&x), to32(&bias));
            let mut keep = ConvKeep::<f32>::default();
            for round in 0..2 {
                let weight = wave(k * g.group_patch(), 0.37 + 0.1 * f64::from(round));
                let w32 = to32(&weight);
                let mut want = Vec::new();
                for i in 0..n {
                    // The definition on the values the f32 pass sees.
                    let xn: Vec<f64> = x32[i * in_len..][..in_len]
                        .iter()
                        .map(|&a| a.into())
                        .collect();
                    let wn: Vec<f64> = w32.iter().map(|&a| a.into()).collect();
                    let yn = direct(&g, &xn, &wn);
                    want.extend((0..out_len).map(|j| yn[j] + f64::from(b32[j / g.positions()])));
                }
                let kernel = Kernel {
                    weight: &w32,
                    bias: Some(&b32),
                };
                let check = |what: &str, got: &[f32]| {
                    assert_eq!(got.len(), want.len(), "{what}: length, {g:?}");
                    for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
                        let tol = 1e-5 * (1.0 + b.abs()) * (g.group_patch() as f64).sqrt();
                        assert!(
                            (f64::from(a) - b).abs() <= tol,
                            "{what}[{i}]: {a} vs {b}, {g:?}"
                        );
                    }
                };
                let mut y = vec![f32::NAN; n * out_len];
                keep.forward(&g, kernel, &x32, &mut y);
                check("y (training buffers)", &y);
                let fresh = g.forward_alone(kernel, &x32, (crate::Dyn(n * out_len),));
                check("y (fresh)", fresh.as_slice());
            }
        }
    }

    /// The backward pass with the direct weight gradient (`Geom::direct_dw`), in f32 against
    /// the definition: groups, filters not a multiple of a vector, kernels 1 to 5 rows high,
    /// planes large and small (`dx` plane by plane or through the lowered gradient), with
    /// `dx` and without (a first layer), 7 samples over several tasks, in the training
    /// buffers (NaN scratch) and the allocating call.
    #[test]
    fn the_direct_stride_2_weight_gradient_matches_the_definition() {
        if !Direct::runs_weight_grad::<f32>(2, 1, 3, 1) {
            return;
        }
        // (c, h, w, k, hf, p, groups)
        let cases = [
            (16, 32, 32, 32, 3, 1, 1),
            (6, 17, 20, 20, 3, 1, 2),
            (3, 9, 11, 5, 5, 2, 1),
            (4, 12, 16, 96, 1, 0, 4),
            (16, 8, 8, 32, 3, 1, 1),
            (2, 5, 6, 3, 2, 1, 1),
        ];
        let mut direct_dx = [0, 0];
        for case in cases {
            let g = stride_2_geom(case);
            let (c, h, w, k) = (g.c, g.h, g.w, g.k);
            let gb = g.for_backward();
            assert!(gb.direct_dw::<f32>(), "{g:?} goes to the planes");
            direct_dx[usize::from(gb.direct_dx())] += 1;
            let n = 7;
            let wave = |len: usize, f: f64| -> Vec<f32> {
                (0..len)
                    .map(|i| (i as f64 * f + 0.3).sin() as f32)
                    .collect()
            };
            let (in_len, out_len) = (c * h * w, k * g.positions());
            let (x, weight, dy) = (
                wave(n * in_len, 0.71),
                wave(k * g.group_patch(), 0.37),
                wave(n * out_len, 0.53),
            );
            let to64 = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
            let (x64, w64, dy64) = (to64(&x), to64(&weight), to64(&dy));
            let (mut want_dx, mut want_dw, mut want_db) =
                (Vec::new(), vec![0.0; weight.len()], vec![0.0; k]);
            for i in 0..n {
                let xn = &x64[i * in_len..][..in_len];
                let [dx, dw, db] = direct_backward(&g, xn, &w64, &dy64[i * out_len..][..out_len]);
                want_dx.extend(dx);
                want_dw.iter_mut().zip(&dw).for_each(|(a, b)| *a += b);
                want_db.iter_mut().zip(&db).for_each(|(a, b)| *a += b);
            }
            let check = |what: &str, got: &[f32], want: &[f64]| {
                assert_eq!(got.len(), want.len(), "{what}: length, {g:?}");
                let depth = (n * g.positions()).max(g.group_patch()) as f64;
                for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
                    let tol = 1e-5 * (1.0 + b.abs()) * depth.sqrt();
                    assert!(
                        (f64::from(a) - b).abs() <= tol,
                        "{what}[{i}]: {a} vs {b}, {g:?}"
                    );
                }
            };
            for with_dx in [true, false] {
                let (mut dx, mut dw, mut db) =
                    (vec![1.0; x.len()], vec![0.0; weight.len()], vec![0.0; k]);
                let len = MAX_TASKS * g.task_scratch::<f32>(false);
                let mut scratch = vec![f32::NAN; len];
                backward_slices(
                    &g,
                    &weight,
                    &x,
                    None,
                    &dy,
                    with_dx.then(|| Buf::Slice(&mut dx[..])),
                    (&mut dw, Some(&mut db)),
                    Buf::Slice(&mut scratch[..]),
                    &mut Vec::new(),
                );
                if with_dx {
                    check("dx", &dx, &want_dx);
                } else {
                    assert!(dx.iter().all(|&v| v == 1.0), "dx written, {g:?}");
                }
                check("dw", &dw, &want_dw);
                check("db", &db, &want_db);
            }
            let (mut dw, mut db) = (vec![0.0; weight.len()], vec![0.0; k]);
            let dx_shape = (crate::Dyn(x.len()),);
            let dx = g.backward_alone(&weight, &x, &dy, dx_shape, (&mut dw, Some(&mut db)));
            check("dx (fresh)", dx.as_slice(), &want_dx);
            check("dw (fresh)", &dw, &want_dw);
        }
        // Both ways of a strided dX around the direct weight gradient.
        assert!(direct_dx.iter().all(|&cases| cases >= 2), "{direct_dx:?}");
    }

    #[test]
    fn phased_and_direct_lowerings_match_the_definition_forward_and_backward() {
        // (c, h, w, k, hf, wf, s, p, d, groups): strides 2 to 4 with odd and even sizes,
        // paddings 0 to 2, dilation, groups, rows and columns no window reaches; stride 1 with
        // few filters (read from the plane forward, im2col backward) and with 20 (im2col).
        let cases = [
            (2, 5, 6, 3, 3, 2, 2, 1, 1, 1),
            (3, 9, 7, 2, 3, 3, 2, 0, 1, 1),
            (2, 8, 9, 4, 3, 3, 2, 2, 2, 2),
            (2, 7, 8, 3, 2, 3, 3, 1, 1, 1),
            (1, 8, 10, 2, 3, 2, 3, 0, 1, 1),
            (2, 9, 9, 2, 1, 1, 4, 0, 1, 1),
            (4, 6, 5, 4, 3, 3, 2, 1, 1, 4),
            (2, 6, 5, 3, 3, 3, 1, 1, 1, 1),
            (2, 6, 5, 20, 3, 2, 1, 1, 1, 1),
            (2, 7, 6, 4, 2, 3, 1, 0, 2, 2),
            // Output rows a multiple of the kernel's vectors long (8 f64 lanes on AVX-512, 4 on
            // AVX2): the forward pass writes `y` in place through wrapped rows.
            (2, 32, 32, 3, 3, 3, 2, 1, 1, 1),
            (2, 9, 32, 2, 3, 3, 2, 1, 1, 1),
            (3, 10, 16, 4, 3, 3, 1, 1, 1, 1),
            (4, 12, 16, 4, 3, 3, 2, 2, 2, 2),
            // Strided, with enough positions that the backward pass computes `dx` plane by
            // plane (`Geom::direct_dx`): odd and even sizes, paddings 0 to 2, dilation and
            // groups (phases no tap reads), stride 3 and 4, a tall kernel on wide rows.
            (2, 20, 24, 3, 3, 3, 2, 1, 1, 1),
            (3, 27, 21, 2, 3, 3, 2, 0, 1, 1),
            (2, 24, 27, 4, 3, 3, 2, 2, 2, 2),
            (2, 28, 32, 3, 2, 3, 3, 1, 1, 1),
            (2, 44, 44, 2, 1, 1, 4, 0, 1, 1),
            (4, 20, 21, 4, 3, 3, 2, 1, 1, 4),
            (2, 9, 200, 3, 3, 1, 2, 1, 1, 1),
            // An input without columns: every output column reads padding only.
            (2, 5, 0, 3, 3, 1, 2, 1, 1, 1),
            (2, 4, 0, 3, 3, 1, 1, 1, 1, 1),
            (2, 4, 0, 20, 3, 1, 1, 1, 1, 1),
        ];
        let mut direct_dx = [0, 0];
        for (c, h, w, k, hf, wf, s, p, d, groups) in cases {
            let out = |size: usize, f: usize| (size + 2 * p - d * (f - 1) - 1) / s + 1;
            let g = Geom {
                c,
                h,
                w,
                k,
                hf,
                wf,
                s,
                p,
                d,
                groups,
                ho: out(h, hf),
                wo: out(w, wf),
                backward: false,
            };
            assert_eq!(g.phased(), s > 1 || k / groups <= 16);
            assert_eq!(g.for_backward().phased(), s > 1);
            if s > 1 {
                direct_dx[usize::from(g.for_backward().direct_dx())] += 1;
            }
            // 7 samples: 4 tasks of 2 (the last of 1), so a task's scratch serves several.
            let n = 7;
            let wave = |len: usize, f: f64| -> Vec<f64> {
                (0..len).map(|i| (i as f64 * f + 0.3).sin()).collect()
            };
            let (in_len, out_len) = (c * h * w, k * g.positions());
            let x = wave(n * in_len, 0.71);
            let weight = wave(k * g.group_patch(), 0.37);
            let bias = wave(k, 1.3);
            let dy = wave(n * out_len, 0.53);
            let kernel = Kernel {
                weight: &weight,
                bias: Some(&bias),
            };
            let mut want_y = Vec::new();
            let (mut want_dx, mut want_dw, mut want_db) =
                (Vec::new(), vec![0.0; weight.len()], vec![0.0; k]);
            for i in 0..n {
                let xn = &x[i * in_len..][..in_len];
                let yn = direct(&g, xn, &weight);
                want_y.extend((0..out_len).map(|j| yn[j] + bias[j / g.positions()]));
                let [dx, dw, db] = direct_backward(&g, xn, &weight, &dy[i * out_len..][..out_len]);
                want_dx.extend(dx);
                want_dw.iter_mut().zip(&dw).for_each(|(a, b)| *a += b);
                want_db.iter_mut().zip(&db).for_each(|(a, b)| *a += b);
            }
            // Stateless (lowered per task, into fresh buffers and into the caller's) and
            // training (lowered per sample, kept).
            close(
                "y (fresh)",
                &g,
                g.forward_alone(kernel, &x, (crate::Dyn(n * out_len),))
                    .as_slice(),
                &want_y,
            );
            let mut y = vec![7.0; n * out_len];
            let mut scratch = vec![7.0; MAX_TASKS * g.forward_scratch::<f64>(false).max(1)];
            let (out, s) = (Buf::Slice(&mut y[..]), Buf::Slice(&mut scratch[..]));
            forward_slices(
                &g,
                kernel,
                &x,
                out,
                None,
                s,
                &mut Vec::new(),
                &mut Vec::new(),
            );
            close("y", &g, &y, &want_y);
            let mut kept = vec![0.0; n * g.lowered_len()];
            let mut scratch = vec![0.0; MAX_TASKS * g.forward_scratch::<f64>(true).max(1)];
            let mut y = vec![0.0; n * out_len];
            let (out, s) = (Buf::Slice(&mut y[..]), Buf::Slice(&mut scratch[..]));
            forward_slices(
                &g,
                kernel,
                &x,
                out,
                Some(&mut kept),
                s,
                &mut Vec::new(),
                &mut Vec::new(),
            );
            close("y (kept)", &g, &y, &want_y);
            // The backward pass reads what the forward kept only where a training step keeps it.
            let kept_or_not = if g.keeps() {
                vec![None, Some(&kept[..])]
            } else {
                vec![None]
            };
            for kept in kept_or_not {
                let (mut dx, mut dw, mut db) =
                    (vec![1.0; x.len()], vec![0.0; weight.len()], vec![0.0; k]);
                // NaN scratch: a stale element read anywhere would show.
                let len = MAX_TASKS * g.task_scratch::<f64>(kept.is_some());
                let mut scratch = vec![f64::NAN; len];
                backward_slices(
                    &g,
                    &weight,
                    &x,
                    kept,
                    &dy,
                    Some(Buf::Slice(&mut dx[..])),
                    (&mut dw, Some(&mut db)),
                    Buf::Slice(&mut scratch[..]),
                    &mut Vec::new(),
                );
                close("dx", &g, &dx, &want_dx);
                close("dw", &g, &dw, &want_dw);
                close("db", &g, &db, &want_db);
            }
            // The allocating API's backward pass: fresh dX and scratch.
            let (mut dw, mut db) = (vec![0.0; weight.len()], vec![0.0; k]);
            let dx_shape = (crate::Dyn(x.len()),);
            let dx = g.backward_alone(&weight, &x, &dy, dx_shape, (&mut dw, Some(&mut db)));
            close("dx (fresh)", &g, dx.as_slice(), &want_dx);
            close("dw (fresh)", &g, &dw, &want_dw);
            close("db (fresh)", &g, &db, &want_db);
        }
        // Both ways of a strided dX are checked.
        assert!(direct_dx.iter().all(|&cases| cases >= 5), "{direct_dx:?}");
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
