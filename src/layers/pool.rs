//! Max and average pooling over square windows, with window and stride in the types.

use core::marker::PhantomData;

use crate::dims::{ConstDim, ConvOutput, Dim, PoolHeight, PoolOut, PoolWidth};
use crate::module::{no_params, Module};
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
/// window (the first one on ties, as PyTorch does); every other input gets zero.
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
/// `backward_train` spreads each `dy` element evenly, `dy / K²`, over its window.
///
/// ```
/// use shaped::{AvgPool2d, Module, Tensor, typenum::*};
/// let x = Tensor::<(U1, U1, U2, U4)>::from_fn(|i| (i[2] * 4 + i[3]) as f32);
/// let y: Tensor<(U1, U1, U1, U2)> = AvgPool2d::<U2>::new().infer(&x);
/// assert_eq!(y.as_slice(), &[2.5, 4.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d<K, S = K>(PhantomData<(K, S)>);

impl<K, S> MaxPool2d<K, S> {
    /// The layer (it has no parameters).
    pub fn new() -> Self {
        Self(PhantomData)
    }
}
impl<K, S> AvgPool2d<K, S> {
    /// The layer (it has no parameters).
    pub fn new() -> Self {
        Self(PhantomData)
    }
}
impl<K, S> Default for MaxPool2d<K, S> {
    fn default() -> Self {
        Self::new()
    }
}
impl<K, S> Default for AvgPool2d<K, S> {
    fn default() -> Self {
        Self::new()
    }
}

no_params!(MaxPool2d<K, S>; K, S);
no_params!(AvgPool2d<K, S>; K, S);

/// What [`MaxPool2d`]'s backward pass needs: the flat input index of each window's maximum.
/// `X` is the input type.
pub struct MaxPoolCache<X> {
    argmax: Vec<usize>,
    /// The input's shape.
    input: X,
}

/// The pooled output type.
type Pooled<N, C, H, W, K, S, E> = Tensor<(N, C, PoolOut<H, K, S>, PoolOut<W, K, S, PoolWidth>), E>;

/// The pooled output of an input `(N, C, H, W)`, zeroed, and its window geometry.
#[track_caller]
fn pooled<N, C, H, W, K, S, E>(x: (N, C, H, W)) -> (Pooled<N, C, H, W, K, S, E>, Window)
where
    N: Dim,
    C: Dim,
    H: Dim + ConvOutput<K, S, typenum::U0, PoolHeight>,
    W: Dim + ConvOutput<K, S, typenum::U0, PoolWidth>,
    K: ConstDim,
    S: ConstDim,
    E: Element,
{
    let (n, c, h, w) = x;
    let y = Tensor::zeros_with((n, c, h.conv_out(), w.conv_out()));
    let window = Window::between(x.dims().as_ref(), y.dims().as_ref(), K::SIZE, S::SIZE);
    (y, window)
}

impl<MaxK, MaxS> MaxPool2d<MaxK, MaxS> {
    fn run<E: Element>(w: &Window, x: &[E], y: &mut [E], mut argmax: Option<&mut Vec<usize>>) {
        w.each(|out, cells| {
            let first = cells.next().expect("a window has at least one cell");
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
    type Cache = MaxPoolCache<(N, C, H, W)>;

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (mut y, w) = pooled::<_, _, _, _, K, S, E>(x.shape());
        Self::run(&w, x.as_slice(), y.as_mut_slice(), None);
        y
    }

    fn forward_train(&self, x: Tensor<(N, C, H, W), E>) -> (Self::Out, Self::Cache) {
        let input = x.shape();
        let (mut y, w) = pooled::<_, _, _, _, K, S, E>(input);
        let mut argmax = Vec::with_capacity(y.as_slice().len());
        Self::run(&w, x.as_slice(), y.as_mut_slice(), Some(&mut argmax));
        (y, MaxPoolCache { argmax, input })
    }

    fn backward_train(&self, cache: Self::Cache, dy: &Self::Out) -> (Tensor<(N, C, H, W), E>, ()) {
        let mut dx = Tensor::zeros_with(cache.input);
        let d = dx.as_mut_slice();
        for (&at, &g) in cache.argmax.iter().zip(dy.as_slice()) {
            d[at] += g;
        }
        (dx, ())
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
    /// The input's shape.
    type Cache = (N, C, H, W);

    fn infer(&self, x: &Tensor<(N, C, H, W), E>) -> Self::Out {
        let (mut y, w) = pooled::<_, _, _, _, K, S, E>(x.shape());
        let scale = E::one() / E::from_usize(K::SIZE * K::SIZE).expect("a small count");
        let (xs, ys) = (x.as_slice(), y.as_mut_slice());
        w.each(|out, cells| ys[out] = cells.map(|i| xs[i]).sum::<E>() * scale);
        y
    }

    fn forward_train(&self, x: Tensor<(N, C, H, W), E>) -> (Self::Out, Self::Cache) {
        (self.infer(&x), x.shape())
    }

    fn backward_train(&self, input: Self::Cache, dy: &Self::Out) -> (Tensor<(N, C, H, W), E>, ()) {
        let mut dx = Tensor::zeros_with(input);
        let w = Window::between(dx.dims().as_ref(), dy.dims().as_ref(), K::SIZE, S::SIZE);
        let scale = E::one() / E::from_usize(K::SIZE * K::SIZE).expect("a small count");
        let (d, g) = (dx.as_mut_slice(), dy.as_slice());
        w.each(|out, cells| cells.for_each(|i| d[i] += g[out] * scale));
        (dx, ())
    }
}
