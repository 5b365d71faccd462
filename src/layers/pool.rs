//! Max and average pooling over square windows, with window and stride in the types.

use core::marker::PhantomData;

use crate::dims::{ConstDim, ConvOutput, Dim, PoolHeight, PoolOut, PoolWidth};
use crate::module::{no_params, Context, LayerWork, Module};
use crate::rules::{check_dims, NonZero, PoolGradOutput, PoolNonZero};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// The sizes of one pooling, read off the types.
#[derive(Clone, Copy)]
struct Window {
    planes: usize,
    h: usize,
    w: usize,
    k: usize,
    s: usize,
    ho: usize,
    wo: usize,
}

impl Window {
    /// The pooling from `input` `(N, C, H, W)` to `output` `(N, C, HO, WO)` dims (both read off
    /// the tensor types) with window `k` and stride `s`.
    fn between(input: &[usize], output: &[usize], k: usize, s: usize) -> Self {
        Self {
            planes: input[0] * input[1],
            h: input[2],
            w: input[3],
            k,
            s,
            ho: output[2],
            wo: output[3],
        }
    }

    /// Calls `f(output index, input indices of its window)` for every output element.
    fn each(&self, mut f: impl FnMut(usize, &mut dyn Iterator<Item = usize>)) {
        for plane in 0..self.planes {
            for oh in 0..self.ho {
                for ow in 0..self.wo {
                    let out = (plane * self.ho + oh) * self.wo + ow;
                    let (h0, w0) = (oh * self.s, ow * self.s);
                    let base = plane * self.h * self.w;
                    let mut cells = (h0..h0 + self.k)
                        .flat_map(move |h| (w0..w0 + self.k).map(move |w| base + h * self.w + w));
                    f(out, &mut cells);
                }
            }
        }
    }
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
    pub fn new() -> Self
    where
        K: NonZero<PoolNonZero>,
    {
        Self(PhantomData)
    }
}
impl<K, S> AvgPool2d<K, S> {
    /// The layer (it has no parameters).
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
    let window = Window::between(x.dims().as_ref(), out.dims().as_ref(), K::SIZE, S::SIZE);
    (out, window)
}

impl<MaxK, MaxS> MaxPool2d<MaxK, MaxS> {
    fn run<E: Element>(w: &Window, x: &[E], y: &mut [E], mut argmax: Option<&mut Vec<usize>>) {
        w.each(|out, cells| {
            // A window has K² ≥ 1 cells (a window of 0 does not compile).
            let Some(first) = cells.next() else { return };
            let (mut best, mut at) = (x[first], first);
            for i in cells {
                // `>` keeps the first maximum on ties; NaN propagates like PyTorch's.
                if x[i] > best || x[i].is_nan() && !best.is_nan() {
                    best = x[i];
                    at = i;
                }
            }
            y[out] = best;
            if let Some(a) = argmax.as_deref_mut() {
                a.push(at);
            }
        });
    }
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
        Self::run(&w, x.as_slice(), y.as_mut_slice(), None);
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
        Self::run(&w, x.as_slice(), y.as_mut_slice(), Some(&mut work.keep));
        &work.out
    }

    fn backward_train<'w>(
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
        let d = work.dx.reset(x.shape()).as_mut_slice();
        d.fill(E::zero());
        for (&at, &g) in work.keep.iter().zip(dy.as_slice()) {
            d[at] += g;
        }
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}

impl<K: ConstDim, S: ConstDim> AvgPool2d<K, S> {
    fn mean<E: Element>(w: &Window, x: &[E], y: &mut [E]) {
        let scale = E::one() / E::from_usize(K::SIZE * K::SIZE).unwrap_or_else(E::one);
        w.each(|out, cells| y[out] = cells.map(|i| x[i]).sum::<E>() * scale);
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
        Self::mean(&w, x.as_slice(), y.as_mut_slice());
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, C, H, W), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Self::Out {
        let (out, w) = pooled::<_, _, _, _, K, S>(x.shape());
        Self::mean(&w, x.as_slice(), work.out.reset(out).as_mut_slice());
        &work.out
    }

    fn backward_train<'w>(
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
        let scale = E::one() / E::from_usize(K::SIZE * K::SIZE).unwrap_or_else(E::one);
        let d = work.dx.reset(x.shape()).as_mut_slice();
        d.fill(E::zero());
        let g = dy.as_slice();
        w.each(|out, cells| cells.for_each(|i| d[i] += g[out] * scale));
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Self::Out {
        &work.out
    }
}
