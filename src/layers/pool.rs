//! Max and average pooling with window and stride in the types: square windows without
//! padding ([`MaxPool2d`], [`AvgPool2d`]), a window, stride and padding per axis
//! ([`MaxPool2dHW`], [`AvgPool2dHW`]), and the mean over each whole plane ([`GlobalAvgPool`]).

use core::marker::PhantomData;
use rand::Rng;

use crate::dims::{ConstDim, ConvOut, ConvOutput, Dim, PaddedPoolHeight, PaddedPoolWidth};
use crate::dims::{PoolHeight, PoolOut, PoolWidth};
use crate::init::Init;
use crate::module::{no_params, Context, LayerWork, Module};
use crate::par;
use crate::rules::{check_dims, GradOutput, NonZero, PoolGradOutput, PoolNonZero, PoolPad};
use crate::rules::{ShapeEq, Via};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// The sizes of one pooling, read off the types: window `kh × kw`, strides `sh`, `sw`, and
/// `ph`, `pw` rows and columns of padding on each side.
#[derive(Clone, Copy)]
struct Window {
    planes: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    ho: usize,
    wo: usize,
}

impl Window {
    /// The pooling from `input` `(N, C, H, W)` to `output` `(N, C, HO, WO)` dims (both read off
    /// the tensor types) with window `[kh, kw]`, strides `[sh, sw]` and padding `[ph, pw]`.
    fn between(
        input: &[usize],
        output: &[usize],
        k: [usize; 2],
        s: [usize; 2],
        p: [usize; 2],
    ) -> Self {
        Self {
            planes: input[0] * input[1],
            h: input[2],
            w: input[3],
            kh: k[0],
            kw: k[1],
            sh: s[0],
            sw: s[1],
            ph: p[0],
            pw: p[1],
            ho: output[2],
            wo: output[3],
        }
    }

    /// `1 / (KH·KW)`: the padding counts in every window's mean (PyTorch's default,
    /// `count_include_pad=True`; the windows never reach past the padding).
    fn inverse_area<E: Element>(&self) -> E {
        E::one() / E::from_usize(self.kh * self.kw).unwrap_or_else(E::one)
    }

    /// The same pooling on `planes` of its planes.
    fn planes(&self, planes: usize) -> Self {
        Self { planes, ..*self }
    }

    /// Planes per task, and tasks, when the pooling is shared out by planes: in parallel from
    /// [`POOL_PARALLEL_MIN`] input elements (a window's maximum costs ~1 ns an input element,
    /// mostly mispredicted branches: 350 µs for LeNet's first pool, 64 × 6 × 28² inputs).
    fn tasks(&self) -> (bool, usize, usize) {
        let elems = self.planes * self.h * self.w;
        let large = self.planes > 1 && elems >= POOL_PARALLEL_MIN;
        let parallel = par::share(large, elems >= POOL_WAKE_MIN);
        let per = if parallel {
            self.planes.div_ceil(8)
        } else {
            self.planes
        }
        .max(1);
        (parallel, per, self.planes.div_ceil(per))
    }

    /// Calls `f(output index, its window's input elements)` for every output element, in
    /// row-major order; the padding holds no element and is left out.
    fn each(&self, mut f: impl FnMut(usize, Cells)) {
        // The input rows `lo..hi` of the window starting at padded row `start`.
        let clip = |start: usize, k: usize, p: usize, size: usize| {
            (
                start.saturating_sub(p),
                (start + k).saturating_sub(p).min(size),
            )
        };
        for plane in 0..self.planes {
            let base = plane * self.h * self.w;
            for oh in 0..self.ho {
                let rows = clip(oh * self.sh, self.kh, self.ph, self.h);
                for ow in 0..self.wo {
                    let out = (plane * self.ho + oh) * self.wo + ow;
                    let cols = clip(ow * self.sw, self.kw, self.pw, self.w);
                    f(
                        out,
                        Cells {
                            base,
                            rows,
                            cols,
                            w: self.w,
                        },
                    );
                }
            }
        }
    }
}

/// The input elements of one window: rows `rows.0..rows.1` and columns `cols.0..cols.1` of the
/// plane that starts at `base`, `w` elements a row. (Handed out by value: a `dyn Iterator` over
/// single indices made pooling cost ~1 ns an input element, several times a copy.)
#[derive(Clone, Copy)]
struct Cells {
    base: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    w: usize,
}

impl Cells {
    /// The window's part of each of its input rows, as a range of input indices.
    fn spans(self) -> impl Iterator<Item = core::ops::Range<usize>> {
        (self.rows.0..self.rows.1).map(move |h| {
            let row = self.base + h * self.w;
            row + self.cols.0..row + self.cols.1
        })
    }
}

/// Input elements from which pooling shares its planes with the helper threads. Measured on
/// the 2-core Intel VM (`MaxPool2d<U2>::forward_train` on random values, back to back so that
/// the helper is looking for work; time on two threads over one, medians of 9 interleaved
/// rounds): 4 Ki input elements 0.89×, 16 Ki 0.87×, 64 Ki 0.97×, 256 Ki 0.61×. (With the
/// general loop, ~4 times slower, 4 Ki was 0.62×.) On the 2-core Zen 5 VM (`set_num_threads`
/// alternated in one process, 300 pairs of 200 calls, the cutoff lowered to 1 Ki to measure
/// below it): 2 Ki 0.85×, 4 Ki 0.67×, 16 Ki 0.60×, 64 Ki 0.55×, 256 Ki 0.58×. 4 Ki stays:
/// below it the gain is a fraction of a µs (2 Ki of input is a pass of about 2 µs).
const POOL_PARALLEL_MIN: usize = 1 << 12;
/// Input elements from which pooling wakes a parked helper on its own (see `par::share`).
const POOL_WAKE_MIN: usize = 1 << 19;

/// The maximum of every window into `y`, and where it was into `argmax` when given; by blocks
/// of planes, in parallel when large.
fn max_pool<E: Element>(w: &Window, x: &[E], y: &mut [E], argmax: Option<&mut Vec<usize>>) {
    let (parallel, per, tasks) = w.tasks();
    let (plane_in, plane_out) = (w.h * w.w, w.ho * w.wo);
    let block = w.planes(per);
    let x_of = |t: usize| &x[(t * per * plane_in).min(x.len())..];
    match argmax {
        Some(a) => {
            // Every entry is written below: resizing keeps the memory and fills nothing then.
            a.resize(y.len(), 0);
            let bufs = ((y, per * plane_out), (&mut a[..], per * plane_out));
            par::for_task_chunks2(parallel, tasks, bufs.0, bufs.1, |t, y, a| {
                let block = block.planes(y.len() / plane_out.max(1));
                max_pool_block(&block, x_of(t), y, Some((a, t * per * plane_in)));
            });
        }
        None => par::for_task_chunks(parallel, tasks, [(y, per * plane_out)], |t, [y]| {
            let block = block.planes(y.len() / plane_out.max(1));
            max_pool_block(&block, x_of(t), y, None);
        }),
    }
}

/// [`max_pool`] on one block of planes, on this thread; `argmax` gets each maximum's index into
/// `x` plus the offset given with it (where `x` starts in the whole input).
fn max_pool_block<E: Element>(
    w: &Window,
    x: &[E],
    y: &mut [E],
    argmax: Option<(&mut [usize], usize)>,
) {
    if [w.kh, w.kw, w.sh, w.sw, w.ph, w.pw] == [2, 2, 2, 2, 0, 0] {
        max_pool_block_2x2(w, x, y, argmax);
    } else {
        max_pool_block_general(w, x, y, argmax);
    }
}

/// [`max_pool_block`] for any window, stride and padding.
fn max_pool_block_general<E: Element>(
    w: &Window,
    x: &[E],
    y: &mut [E],
    argmax: Option<(&mut [usize], usize)>,
) {
    let mut at_of = |out: usize, cells: Cells| {
        // A window holds at least one input element (a window of 0 does not compile, and
        // the padding is at most half a window).
        let mut at = cells.base + cells.rows.0 * cells.w + cells.cols.0;
        let mut best = x[at];
        for span in cells.spans() {
            let start = span.start;
            for (k, &v) in x[span].iter().enumerate() {
                // `>` keeps the first maximum on ties; NaN propagates like PyTorch's.
                if v > best || v.is_nan() && !best.is_nan() {
                    best = v;
                    at = start + k;
                }
            }
        }
        y[out] = best;
        at
    };
    match argmax {
        Some((a, offset)) => w.each(|out, cells| a[out] = offset + at_of(out, cells)),
        None => w.each(|out, cells| {
            at_of(out, cells);
        }),
    }
}

/// [`max_pool_block`] for the most common pooling, 2 × 2 windows with stride 2 and no padding
/// (`MaxPool2d<U2>`): each output row from two input rows read side by side, the four
/// candidates compared in the general loop's order with selects rather than branches. The
/// general loop (clipping every window, iterating its rows) cost ~8 ns a window on the Intel
/// VM, whatever the data.
fn max_pool_block_2x2<E: Element>(
    w: &Window,
    x: &[E],
    y: &mut [E],
    mut argmax: Option<(&mut [usize], usize)>,
) {
    let (plane_in, plane_out) = (w.h * w.w, w.ho * w.wo);
    // `v` replaces `best` when larger, or NaN over a number (NaN propagates; ties keep the
    // first), as in the general loop.
    let wins = |v: E, best: E| (v > best) | (v.is_nan() & !best.is_nan());
    for plane in 0..w.planes {
        for oh in 0..w.ho {
            let top = plane * plane_in + 2 * oh * w.w;
            let (r0, r1) = (&x[top..top + 2 * w.wo], &x[top + w.w..top + w.w + 2 * w.wo]);
            let out = plane * plane_out + oh * w.wo;
            let ys = &mut y[out..out + w.wo];
            let pairs = r0.chunks_exact(2).zip(r1.chunks_exact(2));
            match argmax.as_mut() {
                Some((a, offset)) => {
                    let start = *offset + top;
                    let a = &mut a[out..out + w.wo];
                    for (ow, ((y, a), (p, q))) in ys.iter_mut().zip(a).zip(pairs).enumerate() {
                        let at = start + 2 * ow;
                        let (mut best, mut pos) = (p[0], at);
                        for (v, i) in [(p[1], at + 1), (q[0], at + w.w), (q[1], at + w.w + 1)] {
                            let take = wins(v, best);
                            best = if take { v } else { best };
                            pos = if take { i } else { pos };
                        }
                        *y = best;
                        *a = pos;
                    }
                }
                None => {
                    for (y, (p, q)) in ys.iter_mut().zip(pairs) {
                        let mut best = p[0];
                        for v in [p[1], q[0], q[1]] {
                            best = if wins(v, best) { v } else { best };
                        }
                        *y = best;
                    }
                }
            }
        }
    }
}

/// `dx`, zeroed, then each `dy` added at its window's maximum; by blocks of planes, in
/// parallel when large (a window's maximum lies in its own plane).
fn max_pool_backward<E: Element>(w: &Window, argmax: &[usize], dy: &[E], dx: &mut [E]) {
    let (parallel, per, tasks) = w.tasks();
    let (plane_in, plane_out) = (w.h * w.w, w.ho * w.wo);
    par::for_task_chunks(parallel, tasks, [(dx, per * plane_in)], |t, [dx]| {
        dx.fill(E::zero());
        let outs = (t * per * plane_out).min(dy.len())..((t + 1) * per * plane_out).min(dy.len());
        let offset = t * per * plane_in;
        for (&at, &g) in argmax[outs.clone()].iter().zip(&dy[outs]) {
            dx[at - offset] += g;
        }
    });
}

/// The mean of every window (the padding counting as zeros) into `y`.
fn avg_pool<E: Element>(w: &Window, x: &[E], y: &mut [E]) {
    let scale = w.inverse_area::<E>();
    w.each(|out, cells| {
        y[out] = cells.spans().flat_map(|r| x[r].iter().copied()).sum::<E>() * scale;
    });
}

/// `dx`, zeroed, then each `dy` spread evenly over its window.
fn avg_pool_backward<E: Element>(w: &Window, dy: &[E], dx: &mut [E]) {
    let scale = w.inverse_area::<E>();
    dx.fill(E::zero());
    w.each(|out, cells| {
        let g = dy[out] * scale;
        for span in cells.spans() {
            dx[span].iter_mut().for_each(|d| *d += g);
        }
    });
}

/// `y[n, c, oh, ow] = max` over the `K × K` window at `(oh·S, ow·S)`, no padding;
/// `HO = ⌊(H − K) / S⌋ + 1` ([`PoolOut`]), likewise `WO`.
///
/// `backward_train` routes each `dy` element to the input element that was the maximum of its
/// window (the first one on ties, as PyTorch does); every other input gets zero. A NaN in a
/// window is its maximum, as in PyTorch: the output is NaN and the gradient goes to the NaN.
///
/// ```
/// use shaped::{MaxPool2d, Module, Tensor, typenum::*};
/// let x = Tensor::<(U1, U1, U4, U4)>::from_fn(|i| (i[2] * 4 + i[3]) as f32);
/// let y: Tensor<(U1, U1, U2, U2)> = MaxPool2d::<U2>::new().infer(&x);
/// assert_eq!(y.as_slice(), &[5.0, 7.0, 13.0, 15.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d<K, S = K>(PhantomData<(K, S)>);

/// `y[n, c, oh, ow] = mean` over the `K × K` window at `(oh·S, ow·S)`, no padding.
///
/// `backward_train` spreads each `dy` element evenly, `dy / K²`, over its window. A NaN in a
/// window makes its mean NaN; the gradient does not depend on the input.
///
/// ```
/// use shaped::{AvgPool2d, Module, Tensor, typenum::*};
/// let x = Tensor::<(U1, U1, U2, U4)>::from_fn(|i| (i[2] * 4 + i[3]) as f32);
/// let y: Tensor<(U1, U1, U1, U2)> = AvgPool2d::<U2>::new().infer(&x);
/// assert_eq!(y.as_slice(), &[2.5, 4.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d<K, S = K>(PhantomData<(K, S)>);

// A window of 0 does not compile: `zero-sized pool window: K must be at least 1, found _0`
// (the rule on the method, not the impl, so that the error is the rule's and not a missing
// `new`).
impl<K, S> MaxPool2d<K, S> {
    /// The layer (it has no parameters).
    ///
    /// ```
    /// use shaped::{MaxPool2d, Module, Tensor, typenum::*};
    /// let x = Tensor::<(U1, U1, U2, U4)>::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 6.0])?;
    /// let y: Tensor<(U1, U1, U1, U2)> = MaxPool2d::<U2>::new().infer(&x); // stride 2: K
    /// assert_eq!(y.as_slice(), &[5.0, 8.0]);
    /// let y: Tensor<(U1, U1, U1, U3)> = MaxPool2d::<U2, U1>::new().infer(&x); // stride 1
    /// assert_eq!(y.as_slice(), &[5.0, 8.0, 8.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn new() -> Self
    where
        K: NonZero<PoolNonZero>,
    {
        Self(PhantomData)
    }
}
impl<K, S> AvgPool2d<K, S> {
    /// The layer (it has no parameters).
    ///
    /// ```
    /// use shaped::{AvgPool2d, Module, Tensor, typenum::*};
    /// let x = Tensor::<(U1, U1, U2, U4)>::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 6.0])?;
    /// let y: Tensor<(U1, U1, U1, U2)> = AvgPool2d::<U2>::new().infer(&x);
    /// assert_eq!(y.as_slice(), &[3.25, 4.0]); // (1 + 5 + 3 + 4) / 4, (2 + 0 + 8 + 6) / 4
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn new() -> Self
    where
        K: NonZero<PoolNonZero>,
    {
        Self(PhantomData)
    }
}
impl<K: NonZero<PoolNonZero>, S> Default for MaxPool2d<K, S> {
    fn default() -> Self {
        Self::new()
    }
}
impl<K: NonZero<PoolNonZero>, S> Default for AvgPool2d<K, S> {
    fn default() -> Self {
        Self::new()
    }
}

no_params!(MaxPool2d<K, S>; K, S);
no_params!(AvgPool2d<K, S>; K, S);

/// The pooled output type.
type Pooled<N, C, H, W, K, S, E> = Tensor<(N, C, PoolOut<H, K, S>, PoolOut<W, K, S, PoolWidth>), E>;

/// The pooled output shape of an input `(N, C, H, W)`, and the window geometry.
#[allow(clippy::type_complexity)]
#[track_caller]
fn pooled<N, C, H, W, K, S>(
    x: (N, C, H, W),
) -> (
    (N, C, PoolOut<H, K, S>, PoolOut<W, K, S, PoolWidth>),
    Window,
)
where
    N: Dim,
    C: Dim,
    H: Dim + ConvOutput<K, S, typenum::U0, PoolHeight>,
    W: Dim + ConvOutput<K, S, typenum::U0, PoolWidth>,
    K: ConstDim,
    S: ConstDim,
{
    let (n, c, h, w) = x;
    let out = (n, c, h.conv_out(), w.conv_out());
    let (k, s) = ([K::SIZE; 2], [S::SIZE; 2]);
    let window = Window::between(x.dims().as_ref(), out.dims().as_ref(), k, s, [0, 0]);
    (out, window)
}

/// The pooled shape.
type PooledShape<N, C, H, W, K, S> = (N, C, PoolOut<H, K, S>, PoolOut<W, K, S, PoolWidth>);

impl<N, C, H, W, K, S, E> Module<E, Tensor<(N, C, H, W), E>> for MaxPool2d<K, S>
where
    N: Dim,
    C: Dim,
    H: Dim + ConvOutput<K, S, typenum::U0, PoolHeight>,
    W: Dim + ConvOutput<K, S, typenum::U0, PoolWidth>,
    K: ConstDim,
    S: ConstDim,
    E: Element,
{
    type Out = Pooled<N, C, H, W, K, S, E>;
    /// The input index of each window's maximum is kept for the backward pass.
    type Work = LayerWork<(N, C, H, W), PooledShape<N, C, H, W, K, S>, E, Vec<usize>>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (out, w) = pooled::<_, _, _, _, K, S>(x.shape());
        let mut y = Tensor::zeros_with(out);
        max_pool(&w, x.as_slice(), y.as_mut_slice(), None);
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (out, w) = pooled::<_, _, _, _, K, S>(x.shape());
        let y = work.out.reset(out);
        work.keep.clear();
        max_pool(&w, x.as_slice(), y.as_mut_slice(), Some(&mut work.keep));
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        _: &mut (),
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C, H, W), E>> {
        let (out, pool_window) = pooled::<_, _, _, _, K, S>(x.shape());
        check_dims::<PoolGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        if !input_grad {
            return None;
        }
        let d = work.dx.reset(x.shape()).as_mut_slice();
        max_pool_backward(&pool_window, &work.keep, dy.as_slice(), d);
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

impl<N, C, H, W, K, S, E> Module<E, Tensor<(N, C, H, W), E>> for AvgPool2d<K, S>
where
    N: Dim,
    C: Dim,
    H: Dim + ConvOutput<K, S, typenum::U0, PoolHeight>,
    W: Dim + ConvOutput<K, S, typenum::U0, PoolWidth>,
    K: ConstDim,
    S: ConstDim,
    E: Element,
{
    type Out = Pooled<N, C, H, W, K, S, E>;
    type Work = LayerWork<(N, C, H, W), PooledShape<N, C, H, W, K, S>, E>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (out, w) = pooled::<_, _, _, _, K, S>(x.shape());
        let mut y = Tensor::zeros_with(out);
        avg_pool(&w, x.as_slice(), y.as_mut_slice());
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (out, w) = pooled::<_, _, _, _, K, S>(x.shape());
        avg_pool(&w, x.as_slice(), work.out.reset(out).as_mut_slice());
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        _: &mut (),
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C, H, W), E>> {
        let (out, _) = pooled::<_, _, _, _, K, S>(x.shape());
        check_dims::<PoolGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        if !input_grad {
            return None;
        }
        let (_, w) = pooled::<_, _, _, _, K, S>(x.shape());
        avg_pool_backward(&w, dy.as_slice(), work.dx.reset(x.shape()).as_mut_slice());
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

/// `y[n, c, oh, ow] = max` over the `KH × KW` window at `(oh·SH − PH, ow·SW − PW)` of the input
/// padded with `PH` rows and `PW` columns of −∞ on each side (PyTorch's `nn.MaxPool2d` with
/// `kernel_size=(KH, KW)`, `stride=(SH, SW)`, `padding=(PH, PW)`); the stride defaults to the
/// window. `HO = ⌊(H + 2·PH − KH) / SH⌋ + 1` ([`PaddedPoolOut`](crate::PaddedPoolOut)),
/// likewise `WO`.
///
/// `backward_train` routes each `dy` element to the input element that was the maximum of its
/// window (the first one on ties, as PyTorch does; the padding is never one); every other input
/// gets zero. NaN is a window's maximum, as in [`MaxPool2d`].
///
/// The padding is at most half the window on each axis (`PH ≤ KH / 2`, PyTorch's rule), so every
/// window holds an input element; more does not compile: `pool padding _2 is more than half the
/// pool window _3: P must be at most K / 2, as in PyTorch`. `MaxPool2dHW<K, K, S, S>` is
/// [`MaxPool2d<K, S>`].
///
/// ```
/// use shaped::{MaxPool2dHW, Module, Tensor, typenum::*};
/// // ResNet's stem pool: 3 × 3, stride 2, padding 1, halves 8 × 8.
/// let x = Tensor::<(U1, U1, U8, U8)>::from_fn(|i| (i[2] * 8 + i[3]) as f32);
/// let y: Tensor<(U1, U1, U4, U4)> = MaxPool2dHW::<U3, U3, U2, U2, U1, U1>::new().infer(&x);
/// assert_eq!(&y.as_slice()[..4], &[9.0, 11.0, 13.0, 15.0]);
/// // A 2 × 1 window: pools rows only.
/// let y: Tensor<(U1, U1, U4, U8)> = MaxPool2dHW::<U2, U1>::new().infer(&x);
/// assert_eq!(y.as_slice()[0], 8.0);
/// ```
// Types of their own rather than more parameters on `MaxPool2d<K, S = K>`: compile errors
// print that type's impls (`MaxPool2d::<K, S>::new`), which stay as users know them, and
// PyTorch's default stride is the window *per axis*, which one `S = K` cannot express for a
// non-square window. Both kinds share the window loops below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2dHW<KH, KW, SH = KH, SW = KW, PH = typenum::U0, PW = typenum::U0>(
    PhantomData<(KH, KW, SH, SW, PH, PW)>,
);

/// `y[n, c, oh, ow] = mean` over the `KH × KW` window at `(oh·SH − PH, ow·SW − PW)` of the input
/// padded with zeros, the padding counted in the mean (PyTorch's `nn.AvgPool2d` with
/// `kernel_size=(KH, KW)`, `stride=(SH, SW)`, `padding=(PH, PW)` and its default
/// `count_include_pad=True`): every window's sum is divided by `KH·KW`.
///
/// `backward_train` spreads each `dy` element evenly, `dy / (KH·KW)`, over the input elements of
/// its window (the share of the padding goes nowhere).
///
/// The padding is at most half the window on each axis, as for [`MaxPool2dHW`].
/// `AvgPool2dHW<K, K, S, S>` is [`AvgPool2d<K, S>`].
///
/// ```
/// use shaped::{AvgPool2dHW, Module, Tensor, typenum::*};
/// let x = Tensor::<(U1, U1, U2, U2)>::full(1.0);
/// // 3 × 3 windows, stride 1, padding 1: a corner window holds 4 ones and 5 zeros of padding.
/// let y: Tensor<(U1, U1, U2, U2)> = AvgPool2dHW::<U3, U3, U1, U1, U1, U1>::new().infer(&x);
/// assert_eq!(y.as_slice(), &[4.0 / 9.0; 4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2dHW<KH, KW, SH = KH, SW = KW, PH = typenum::U0, PW = typenum::U0>(
    PhantomData<(KH, KW, SH, SW, PH, PW)>,
);

// An empty window, or a padding of more than half a window, does not compile (the rules on
// the method, so that the error is the rule's and not a missing `new`).
impl<KH, KW, SH, SW, PH, PW> MaxPool2dHW<KH, KW, SH, SW, PH, PW> {
    /// The layer (it has no parameters).
    ///
    /// ```
    /// use shaped::{MaxPool2dHW, Module, Tensor, typenum::*};
    /// let x = Tensor::<(U1, U1, U2, U4)>::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 6.0])?;
    /// // A 1 × 2 window, stride (1, 2): pools within each row.
    /// let y: Tensor<(U1, U1, U2, U2)> = MaxPool2dHW::<U1, U2>::new().infer(&x);
    /// assert_eq!(y.as_slice(), &[5.0, 2.0, 4.0, 8.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn new() -> Self
    where
        KH: NonZero<PoolNonZero>,
        KW: NonZero<PoolNonZero>,
        PH: PoolPad<KH>,
        PW: PoolPad<KW>,
    {
        Self(PhantomData)
    }
}
impl<KH, KW, SH, SW, PH, PW> AvgPool2dHW<KH, KW, SH, SW, PH, PW> {
    /// The layer (it has no parameters).
    ///
    /// ```
    /// use shaped::{AvgPool2dHW, Module, Tensor, typenum::*};
    /// let x = Tensor::<(U1, U1, U2, U4)>::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 6.0])?;
    /// // A 2 × 1 window, stride (2, 1): the mean of each column.
    /// let y: Tensor<(U1, U1, U1, U4)> = AvgPool2dHW::<U2, U1>::new().infer(&x);
    /// assert_eq!(y.as_slice(), &[2.0, 4.5, 5.0, 3.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn new() -> Self
    where
        KH: NonZero<PoolNonZero>,
        KW: NonZero<PoolNonZero>,
        PH: PoolPad<KH>,
        PW: PoolPad<KW>,
    {
        Self(PhantomData)
    }
}
impl<KH, KW, SH, SW, PH, PW> Default for MaxPool2dHW<KH, KW, SH, SW, PH, PW>
where
    KH: NonZero<PoolNonZero>,
    KW: NonZero<PoolNonZero>,
    PH: PoolPad<KH>,
    PW: PoolPad<KW>,
{
    fn default() -> Self {
        Self::new()
    }
}
impl<KH, KW, SH, SW, PH, PW> Default for AvgPool2dHW<KH, KW, SH, SW, PH, PW>
where
    KH: NonZero<PoolNonZero>,
    KW: NonZero<PoolNonZero>,
    PH: PoolPad<KH>,
    PW: PoolPad<KW>,
{
    fn default() -> Self {
        Self::new()
    }
}
impl<KH, KW, SH, SW, PH, PW, R: Rng + ?Sized> Init<R> for MaxPool2dHW<KH, KW, SH, SW, PH, PW>
where
    Via<R, KH>: NonZero<PoolNonZero>,
    Via<R, KW>: NonZero<PoolNonZero>,
    Via<R, PH>: PoolPad<KH>,
    Via<R, PW>: PoolPad<KW>,
{
    fn init(_: &mut R) -> Self {
        Self(PhantomData)
    }
}
impl<KH, KW, SH, SW, PH, PW, R: Rng + ?Sized> Init<R> for AvgPool2dHW<KH, KW, SH, SW, PH, PW>
where
    Via<R, KH>: NonZero<PoolNonZero>,
    Via<R, KW>: NonZero<PoolNonZero>,
    Via<R, PH>: PoolPad<KH>,
    Via<R, PW>: PoolPad<KW>,
{
    fn init(_: &mut R) -> Self {
        Self(PhantomData)
    }
}

no_params!(MaxPool2dHW<KH, KW, SH, SW, PH, PW>; KH, KW, SH, SW, PH, PW);
no_params!(AvgPool2dHW<KH, KW, SH, SW, PH, PW>; KH, KW, SH, SW, PH, PW);

/// The output shape of a per-axis padded pooling.
type PaddedPooled<N, C, H, W, KH, KW, SH, SW, PH, PW> = (
    N,
    C,
    ConvOut<H, KH, SH, PH, PaddedPoolHeight>,
    ConvOut<W, KW, SW, PW, PaddedPoolWidth>,
);

/// The output shape of a per-axis padded pooling of an input `(N, C, H, W)`, and its window.
#[track_caller]
fn padded_pooled<N, C, H, W, KH, KW, SH, SW, PH, PW>(
    x: (N, C, H, W),
) -> (PaddedPooled<N, C, H, W, KH, KW, SH, SW, PH, PW>, Window)
where
    N: Dim,
    C: Dim,
    H: Dim + ConvOutput<KH, SH, PH, PaddedPoolHeight>,
    W: Dim + ConvOutput<KW, SW, PW, PaddedPoolWidth>,
    KH: ConstDim,
    KW: ConstDim,
    SH: ConstDim,
    SW: ConstDim,
    PH: ConstDim,
    PW: ConstDim,
{
    let (n, c, h, w) = x;
    let out = (n, c, h.conv_out(), w.conv_out());
    let window = Window::between(
        x.dims().as_ref(),
        out.dims().as_ref(),
        [KH::SIZE, KW::SIZE],
        [SH::SIZE, SW::SIZE],
        [PH::SIZE, PW::SIZE],
    );
    (out, window)
}

impl<N, C, H, W, KH, KW, SH, SW, PH, PW, E> Module<E, Tensor<(N, C, H, W), E>>
    for MaxPool2dHW<KH, KW, SH, SW, PH, PW>
where
    N: Dim,
    C: Dim,
    H: Dim + ConvOutput<KH, SH, PH, PaddedPoolHeight>,
    W: Dim + ConvOutput<KW, SW, PW, PaddedPoolWidth>,
    KH: ConstDim,
    KW: ConstDim,
    SH: ConstDim,
    SW: ConstDim,
    PH: ConstDim,
    PW: ConstDim,
    E: Element,
{
    type Out = Tensor<PaddedPooled<N, C, H, W, KH, KW, SH, SW, PH, PW>, E>;
    /// The input index of each window's maximum is kept for the backward pass.
    type Work =
        LayerWork<(N, C, H, W), PaddedPooled<N, C, H, W, KH, KW, SH, SW, PH, PW>, E, Vec<usize>>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (out, w) = padded_pooled::<_, _, _, _, KH, KW, SH, SW, PH, PW>(x.shape());
        let mut y = Tensor::zeros_with(out);
        max_pool(&w, x.as_slice(), y.as_mut_slice(), None);
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (out, w) = padded_pooled::<_, _, _, _, KH, KW, SH, SW, PH, PW>(x.shape());
        let y = work.out.reset(out);
        work.keep.clear();
        max_pool(&w, x.as_slice(), y.as_mut_slice(), Some(&mut work.keep));
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        _: &mut (),
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C, H, W), E>> {
        let (out, pool_window) = padded_pooled::<_, _, _, _, KH, KW, SH, SW, PH, PW>(x.shape());
        check_dims::<PoolGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        if !input_grad {
            return None;
        }
        let d = work.dx.reset(x.shape()).as_mut_slice();
        max_pool_backward(&pool_window, &work.keep, dy.as_slice(), d);
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

impl<N, C, H, W, KH, KW, SH, SW, PH, PW, E> Module<E, Tensor<(N, C, H, W), E>>
    for AvgPool2dHW<KH, KW, SH, SW, PH, PW>
where
    N: Dim,
    C: Dim,
    H: Dim + ConvOutput<KH, SH, PH, PaddedPoolHeight>,
    W: Dim + ConvOutput<KW, SW, PW, PaddedPoolWidth>,
    KH: ConstDim,
    KW: ConstDim,
    SH: ConstDim,
    SW: ConstDim,
    PH: ConstDim,
    PW: ConstDim,
    E: Element,
{
    type Out = Tensor<PaddedPooled<N, C, H, W, KH, KW, SH, SW, PH, PW>, E>;
    type Work = LayerWork<(N, C, H, W), PaddedPooled<N, C, H, W, KH, KW, SH, SW, PH, PW>, E>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (out, w) = padded_pooled::<_, _, _, _, KH, KW, SH, SW, PH, PW>(x.shape());
        let mut y = Tensor::zeros_with(out);
        avg_pool(&w, x.as_slice(), y.as_mut_slice());
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (out, w) = padded_pooled::<_, _, _, _, KH, KW, SH, SW, PH, PW>(x.shape());
        avg_pool(&w, x.as_slice(), work.out.reset(out).as_mut_slice());
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        _: &mut (),
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C, H, W), E>> {
        let (out, w) = padded_pooled::<_, _, _, _, KH, KW, SH, SW, PH, PW>(x.shape());
        check_dims::<PoolGradOutput>(out.dims().as_ref(), dy.dims().as_ref());
        if !input_grad {
            return None;
        }
        avg_pool_backward(&w, dy.as_slice(), work.dx.reset(x.shape()).as_mut_slice());
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

/// `y[n, c] = mean over h, w of x[n, c, h, w]`: global average pooling, `(N, C, H, W) ->
/// (N, C)` (PyTorch's `nn.AdaptiveAvgPool2d(1)` followed by `nn.Flatten()`), the head of most
/// modern CNNs.
///
/// `backward` returns `dX[n, c, h, w] = dY[n, c] / (H·W)`, shape `(N, C, H, W)`.
///
/// ```
/// use shaped::{GlobalAvgPool, Tensor, typenum::*};
/// let x = Tensor::<(U2, U3, U2, U2)>::from_fn(|i| (i[1] * 4 + i[2] * 2 + i[3]) as f32);
/// let y: Tensor<(U2, U3)> = GlobalAvgPool.forward(&x);
/// assert_eq!(&y.as_slice()[..3], &[1.5, 5.5, 9.5]);
/// let dx: Tensor<(U2, U3, U2, U2)> = GlobalAvgPool.backward(&x, &Tensor::<(U2, U3)>::full(1.0));
/// assert_eq!(dx.as_slice(), &[0.25; 24]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobalAvgPool;

no_params!(GlobalAvgPool);

impl<R: Rng + ?Sized> Init<R> for GlobalAvgPool {
    fn init(_: &mut R) -> Self {
        Self
    }
}

impl GlobalAvgPool {
    /// `(N, C, H, W) -> (N, C)`, the mean of each plane.
    ///
    /// ```
    /// use shaped::{Dyn, GlobalAvgPool, Tensor, typenum::*};
    /// let x = Tensor::<(U1, U2, U2, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 8.0])?;
    /// let y: Tensor<(U1, U2)> = GlobalAvgPool.forward(&x);
    /// assert_eq!(y.as_slice(), &[2.5, 2.0]);
    /// let shape = (U1::default(), U2::default(), Dyn(5), Dyn(7));
    /// let images = Tensor::<(U1, U2, Dyn, Dyn)>::zeros_with(shape);
    /// let y: Tensor<(U1, U2)> = GlobalAvgPool.forward(&images); // any image size
    /// assert_eq!(y.as_slice(), &[0.0, 0.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn forward<N, C, H, W, E>(&self, x: &Tensor<(N, C, H, W), E>) -> Tensor<(N, C), E>
    where
        N: Dim,
        C: Dim,
        H: Dim,
        W: Dim,
        E: Element,
    {
        let mut y = Tensor::default();
        self.forward_into(x, &mut y);
        y
    }

    /// [`GlobalAvgPool::forward`] into `y`, which takes the shape `(N, C)` and keeps its memory
    /// when it already has room: no allocation in a loop.
    ///
    /// ```
    /// use shaped::{Dyn, GlobalAvgPool, Tensor, typenum::*};
    /// let mut y = Tensor::default();
    /// for rows in [2, 1] {
    ///     let x = Tensor::<(Dyn, U3, U2, U2)>::from_vec(vec![1.0; rows * 12])?;
    ///     GlobalAvgPool.forward_into(&x, &mut y);
    ///     assert_eq!(y.dims(), [rows, 3]);
    ///     assert_eq!(y.as_slice(), vec![1.0; rows * 3]);
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn forward_into<N, C, H, W, E>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        y: &mut Tensor<(N, C), E>,
    ) where
        N: Dim,
        C: Dim,
        H: Dim,
        W: Dim,
        E: Element,
    {
        let (n, c, h, w) = x.shape();
        let area = h.size() * w.size();
        let scale = E::one() / E::from_usize(area).unwrap_or_else(E::one);
        let y = y.reset((n, c));
        // By index, not by chunks: an empty plane (H·W = 0) has the mean 0 / 0 = NaN, as in
        // PyTorch.
        for (i, v) in y.as_mut_slice().iter_mut().enumerate() {
            *v = crate::ops::sum_by(&x.as_slice()[i * area..][..area], |v| v) * scale;
        }
    }

    /// `dX[n, c, h, w] = dY[n, c] / (H·W)`: given `x` `(N, C, H, W)` and `dy = ∂L/∂Y` `(N, C)`,
    /// returns `dX` `(N, C, H, W)`.
    ///
    /// A `dy` of another shape than `(N, C)` does not compile: `shape mismatch in grad_output:
    /// expected (_2, _3) (the layer's output shape), found …`.
    ///
    /// ```
    /// use shaped::{GlobalAvgPool, Tensor, typenum::*};
    /// let x = Tensor::<(U1, U2, U2, U2)>::zeros();
    /// let dy = Tensor::<(U1, U2)>::from_vec(vec![4.0, 8.0])?;
    /// let dx: Tensor<(U1, U2, U2, U2)> = GlobalAvgPool.backward(&x, &dy);
    /// assert_eq!(dx.as_slice(), &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]); // dY / (H·W)
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim hides a mismatch from the compiler (a `dy` of another
    /// runtime batch than `x`), with the rule's message in plain decimal.
    #[track_caller]
    pub fn backward<N, C, H, W, GY, E>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Tensor<GY, E>,
    ) -> Tensor<(N, C, H, W), E>
    where
        N: Dim,
        C: Dim,
        H: Dim,
        W: Dim,
        GY: Shape + ShapeEq<(N, C), GradOutput>,
        E: Element,
    {
        let mut dx = Tensor::default();
        self.backward_into(x, dy, &mut dx);
        dx
    }

    /// [`GlobalAvgPool::backward`] into `dx`, which takes `x`'s shape and keeps its memory when
    /// it already has room.
    ///
    /// ```
    /// use shaped::{Dyn, GlobalAvgPool, Tensor, typenum::*};
    /// let mut dx = Tensor::default();
    /// for rows in [2, 1] {
    ///     let x = Tensor::<(Dyn, U1, U2, U2)>::from_vec(vec![0.0; rows * 4])?;
    ///     let dy = Tensor::<(Dyn, U1)>::from_vec(vec![2.0; rows])?;
    ///     GlobalAvgPool.backward_into(&x, &dy, &mut dx);
    ///     assert_eq!(dx.as_slice(), vec![0.5; rows * 4]);
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`GlobalAvgPool::backward`].
    #[track_caller]
    pub fn backward_into<N, C, H, W, GY, E>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Tensor<GY, E>,
        dx: &mut Tensor<(N, C, H, W), E>,
    ) where
        N: Dim,
        C: Dim,
        H: Dim,
        W: Dim,
        GY: Shape + ShapeEq<(N, C), GradOutput>,
        E: Element,
    {
        let (n, c, h, w) = x.shape();
        check_dims::<GradOutput>(&[n.size(), c.size()], dy.dims().as_ref());
        let area = h.size() * w.size();
        let scale = E::one() / E::from_usize(area).unwrap_or_else(E::one);
        let dx = dx.reset(x.shape());
        for (plane, &g) in dx
            .as_mut_slice()
            .chunks_exact_mut(area.max(1))
            .zip(dy.as_slice())
        {
            plane.fill(g * scale);
        }
    }
}

impl<N, C, H, W, E> Module<E, Tensor<(N, C, H, W), E>> for GlobalAvgPool
where
    N: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    E: Element,
{
    type Out = Tensor<(N, C), E>;
    type Work = LayerWork<(N, C, H, W), (N, C), E>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        self.forward(x)
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        self.forward_into(x, &mut work.out);
        &work.out
    }

    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, C, H, W), E>,
        dy: &Self::Out,
        work: &'w mut Self::Work,
        _: &mut (),
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, C, H, W), E>> {
        if !input_grad {
            let (n, c, _, _) = x.shape();
            check_dims::<GradOutput>(&[n.size(), c.size()], dy.dims().as_ref());
            return None;
        }
        self.backward_into(x, dy, &mut work.dx);
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2x2_path_equals_the_general_loop_with_ties_and_nan() {
        // Planes of odd and even sizes (the last row and column of an odd plane left out),
        // values with many ties and some NaN.
        let mut nan_out = false;
        for (planes, h, wd) in [(3, 4, 4), (2, 5, 7), (1, 2, 2), (4, 6, 3)] {
            let w = Window::between(
                &[1, planes, h, wd],
                &[1, planes, h / 2, wd / 2],
                [2; 2],
                [2; 2],
                [0; 2],
            );
            let x: Vec<f64> = (0..planes * h * wd)
                .map(|i| match (i * 7919) % 13 {
                    0 => f64::NAN,
                    v => (v % 4) as f64,
                })
                .collect();
            let outs = planes * w.ho * w.wo;
            let (mut y, mut a) = (vec![0.0; outs], vec![0; outs]);
            let (mut y2, mut a2) = (vec![0.0; outs], vec![0; outs]);
            max_pool_block_2x2(&w, &x, &mut y, Some((&mut a, 100)));
            max_pool_block_general(&w, &x, &mut y2, Some((&mut a2, 100)));
            assert_eq!(a, a2, "{planes} × {h} × {wd}");
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&y2));
            let mut y3 = vec![0.0; outs];
            max_pool_block_2x2(&w, &x, &mut y3, None);
            assert_eq!(bits(&y3), bits(&y2));
            nan_out |= y.iter().any(|v| v.is_nan());
        }
        assert!(nan_out, "a NaN reached an output");
    }
}
