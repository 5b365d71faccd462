//! Element-wise kernels and the tensor arithmetic a model needs: `add`, `sub`, `mul` of two
//! tensors of one shape (and their in-place forms), `scale`, `sum`, `mean`, `argmax` over the
//! last dim, and borrowed rows of a batch.
//!
//! Every element-wise pass of the crate's activations goes through [`map_into`] or
//! [`zip_into`], which run on the memory-bound helpers of `par` (every core when the pass is
//! long, without waiting for a thread to wake), so that how such a loop runs is decided in one
//! place.

use core::ops::{Add, AddAssign, Mul, MulAssign, Sub, SubAssign};

use crate::dims::Dim;
use crate::par;
use crate::rules::{check_dims, ShapeEq, TensorAdd, TensorMul, TensorSub};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// `y[i] = f(x[i])` for every `i`. `x` and `y` have one length (the callers size `y` first).
pub(crate) fn map_into<E: Element>(x: &[E], y: &mut [E], f: impl Fn(E) -> E + Sync) {
    par::map(x, y, f);
}

/// `out[i] = f(a[i], b[i])` for every `i`. The three slices have one length.
pub(crate) fn zip_into<E: Element>(a: &[E], b: &[E], out: &mut [E], f: impl Fn(E, E) -> E + Sync) {
    par::zip_map(a, b, out, f);
}

/// The sum of `v`, added pairwise (blocks of 128 summed in order, then halves added), so the
/// rounding error grows with `log n` rather than `n`.
fn pairwise_sum<E: Element>(v: &[E]) -> E {
    const BLOCK: usize = 128;
    if v.len() <= BLOCK {
        return sum_by(v, |x| x);
    }
    let (a, b) = v.split_at(v.len() / 2);
    pairwise_sum(a) + pairwise_sum(b)
}

/// Two sums over two slices of one length, `Σ f(a, b)[0]` and `Σ f(a, b)[1]`, in 8
/// interleaved partial sums each: one running sum waits for each addition (4 cycles an
/// element), which made BatchNorm's statistics ~14 % of a ResNet training step. The order of
/// the additions is fixed by the length alone, so results do not depend on threads.
#[inline]
pub(crate) fn lanes<E: Element>(a: &[E], b: &[E], f: impl Fn(E, E) -> [E; 2]) -> [E; 2] {
    debug_assert_eq!(a.len(), b.len(), "lanes: two slices of one length");
    const L: usize = 8;
    let mut acc = [[E::zero(); L]; 2];
    let (a_chunks, b_chunks) = (a.chunks_exact(L), b.chunks_exact(L));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (xs, ys) in a_chunks.zip(b_chunks) {
        for i in 0..L {
            let [p, q] = f(xs[i], ys[i]);
            acc[0][i] += p;
            acc[1][i] += q;
        }
    }
    let mut out = [E::zero(); 2];
    for (&x, &y) in a_rest.iter().zip(b_rest) {
        let [p, q] = f(x, y);
        out[0] += p;
        out[1] += q;
    }
    for (o, acc) in out.iter_mut().zip(acc) {
        let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
        *o += ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7));
    }
    out
}

/// `Σ f(v)` over `xs`, in 8 interleaved partial sums (see [`lanes`]).
#[inline]
pub(crate) fn sum_by<E: Element>(xs: &[E], f: impl Fn(E) -> E) -> E {
    lanes(xs, xs, |v, _| [f(v), E::zero()])[0]
}

/// The index of the first maximum of `row` (a NaN counts as the maximum, as in PyTorch's
/// `argmax`: the first NaN wins). `row` is not empty.
fn argmax_of<E: Element>(row: &[E]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if row[best].is_nan() {
            break;
        }
        if v > row[best] || v.is_nan() {
            best = i;
        }
    }
    best
}

impl<S: Shape, E: Element> Tensor<S, E> {
    /// `self + other`, element by element, into a new tensor. `other` must have this tensor's
    /// shape; another static shape does not compile:
    /// `shape mismatch in tensor add: expected (_4, _3), found (_4, _2)`.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let a = Tensor::<(U2, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0])?;
    /// let b = Tensor::<(U2, U2)>::full(0.5);
    /// let c: Tensor<(U2, U2)> = a.add(&b);
    /// assert_eq!(c.as_slice(), &[1.5, 2.5, 3.5, 4.5]);
    /// assert_eq!(&a + &b, c); // the same, as an operator
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of `other` has another size than this tensor's, with the
    /// rule's message in plain decimal: `shape mismatch in tensor add: expected (4, 3), found
    /// (2, 3)`.
    #[track_caller]
    pub fn add<G>(&self, other: &Tensor<G, E>) -> Tensor<S, E>
    where
        G: Shape + ShapeEq<S, TensorAdd>,
    {
        check_dims::<TensorAdd>(self.dims().as_ref(), other.dims().as_ref());
        self.zip_new(other, |a, b| a + b)
    }

    /// `self - other`, element by element, into a new tensor; shapes as [`Tensor::add`]
    /// (`shape mismatch in tensor sub: …`).
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let a = Tensor::<(U3,)>::from_vec(vec![1.0, 2.0, 3.0])?;
    /// let d: Tensor<(U3,)> = a.sub(&Tensor::<(U3,)>::full(1.0));
    /// assert_eq!(d.as_slice(), &[0.0, 1.0, 2.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of `other` has another size than this tensor's, with the
    /// rule's message.
    #[track_caller]
    pub fn sub<G>(&self, other: &Tensor<G, E>) -> Tensor<S, E>
    where
        G: Shape + ShapeEq<S, TensorSub>,
    {
        check_dims::<TensorSub>(self.dims().as_ref(), other.dims().as_ref());
        self.zip_new(other, |a, b| a - b)
    }

    /// `self ∘ other`, the element-wise (Hadamard) product, into a new tensor; shapes as
    /// [`Tensor::add`] (`shape mismatch in tensor mul: …`).
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let a = Tensor::<(U3,)>::from_vec(vec![1.0, 2.0, 3.0])?;
    /// let p: Tensor<(U3,)> = a.mul(&a);
    /// assert_eq!(p.as_slice(), &[1.0, 4.0, 9.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If a [`Dyn`](crate::Dyn) dim of `other` has another size than this tensor's, with the
    /// rule's message.
    #[track_caller]
    pub fn mul<G>(&self, other: &Tensor<G, E>) -> Tensor<S, E>
    where
        G: Shape + ShapeEq<S, TensorMul>,
    {
        check_dims::<TensorMul>(self.dims().as_ref(), other.dims().as_ref());
        self.zip_new(other, |a, b| a * b)
    }

    /// `self += other`, element by element, in place: no allocation. Shapes as
    /// [`Tensor::add`].
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let mut total = Tensor::<(U2,)>::zeros();
    /// for step in [1.0, 2.0] {
    ///     total.add_assign(&Tensor::<(U2,)>::full(step));
    /// }
    /// total += &Tensor::<(U2,)>::full(0.5); // the same, as an operator
    /// assert_eq!(total.as_slice(), &[3.5, 3.5]);
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Tensor::add`].
    #[track_caller]
    pub fn add_assign<G>(&mut self, other: &Tensor<G, E>)
    where
        G: Shape + ShapeEq<S, TensorAdd>,
    {
        check_dims::<TensorAdd>(self.dims().as_ref(), other.dims().as_ref());
        for (a, &b) in self.as_mut_slice().iter_mut().zip(other.as_slice()) {
            *a += b;
        }
    }

    /// `self -= other`, element by element, in place. Shapes as [`Tensor::sub`].
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let mut a = Tensor::<(U2,)>::full(3.0);
    /// let one = Tensor::<(U2,)>::full(1.0);
    /// a.sub_assign(&one);
    /// a -= &one;
    /// assert_eq!(a.as_slice(), &[1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Tensor::sub`].
    #[track_caller]
    pub fn sub_assign<G>(&mut self, other: &Tensor<G, E>)
    where
        G: Shape + ShapeEq<S, TensorSub>,
    {
        check_dims::<TensorSub>(self.dims().as_ref(), other.dims().as_ref());
        for (a, &b) in self.as_mut_slice().iter_mut().zip(other.as_slice()) {
            *a = *a - b;
        }
    }

    /// `self ∘= other`, the element-wise product, in place. Shapes as [`Tensor::mul`].
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let mut a = Tensor::<(U2,)>::from_vec(vec![2.0, 3.0])?;
    /// a.mul_assign(&Tensor::<(U2,)>::full(2.0));
    /// a *= &Tensor::<(U2,)>::full(0.5);
    /// assert_eq!(a.as_slice(), &[2.0, 3.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Tensor::mul`].
    #[track_caller]
    pub fn mul_assign<G>(&mut self, other: &Tensor<G, E>)
    where
        G: Shape + ShapeEq<S, TensorMul>,
    {
        check_dims::<TensorMul>(self.dims().as_ref(), other.dims().as_ref());
        for (a, &b) in self.as_mut_slice().iter_mut().zip(other.as_slice()) {
            *a *= b;
        }
    }

    /// Every element times `factor`, into a new tensor.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let t: Tensor<(U2,)> = Tensor::<(U2,)>::full(3.0).scale(0.5);
    /// assert_eq!(t.as_slice(), &[1.5, 1.5]);
    /// ```
    pub fn scale(&self, factor: E) -> Tensor<S, E> {
        let mut out = Tensor::default();
        map_into(
            self.as_slice(),
            out.reset(self.shape()).as_mut_slice(),
            |v| v * factor,
        );
        out
    }

    /// Every element times `factor`, in place: no allocation.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let mut t = Tensor::<(U2,)>::full(3.0);
    /// t.scale_assign(2.0);
    /// assert_eq!(t.as_slice(), &[6.0, 6.0]);
    /// ```
    pub fn scale_assign(&mut self, factor: E) {
        for v in self.as_mut_slice() {
            *v *= factor;
        }
    }

    /// The sum of every element (0 for an empty tensor), added pairwise so the rounding error
    /// grows with the logarithm of the count.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let t = Tensor::<(U2, U3)>::from_fn(|i| (i[0] * 3 + i[1]) as f32);
    /// assert_eq!(t.sum(), 15.0);
    /// ```
    pub fn sum(&self) -> E {
        pairwise_sum(self.as_slice())
    }

    /// The mean of every element: NaN for an empty tensor (a batch of 0), as in PyTorch.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, typenum::*};
    /// let t = Tensor::<(U2, U3)>::from_fn(|i| (i[0] * 3 + i[1]) as f32);
    /// assert_eq!(t.mean(), 2.5);
    /// assert!(Tensor::<(Dyn, U3)>::default().mean().is_nan());
    /// ```
    pub fn mean(&self) -> E {
        let n = E::from_usize(self.as_slice().len()).unwrap_or_else(E::max_value);
        self.sum() / n
    }

    /// The index of the largest element of every row of the last dim (one index for each
    /// position of the other dims, in row-major order): the predicted class of each sample of
    /// a batch of logits `(N, C)`. The first maximum wins a tie and a NaN counts as the
    /// largest, as in PyTorch's `argmax(dim=-1)`.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let logits = Tensor::<(U3, U4)>::from_vec(vec![
    ///     0.1, 0.7, 0.2, 0.0, //
    ///     3.0, 1.0, 3.0, 2.0, // a tie: the first
    ///     -1.0, -2.0, -0.5, -3.0,
    /// ])?;
    /// let classes: Vec<usize> = logits.argmax();
    /// assert_eq!(classes, [1, 0, 2]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If the last dim is a [`Dyn`](crate::Dyn) dim of size 0 and there is a row (an empty
    /// row has no maximum).
    #[track_caller]
    pub fn argmax(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.argmax_into(&mut out);
        out
    }

    /// [`Tensor::argmax`] into `out`, which is cleared first and keeps its memory: no
    /// allocation once it has room for every row.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, typenum::*};
    /// let mut classes = Vec::new();
    /// for n in [3, 2] {
    ///     let logits = Tensor::<(Dyn, U2)>::from_vec(vec![0.0, 1.0].repeat(n))?;
    ///     logits.argmax_into(&mut classes);
    ///     assert_eq!(classes, vec![1; n]);
    /// }
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Tensor::argmax`].
    #[track_caller]
    pub fn argmax_into(&self, out: &mut Vec<usize>) {
        out.clear();
        let dims = self.dims();
        let last = dims.as_ref().last().copied().unwrap_or(1);
        let rows: usize = dims.as_ref().iter().rev().skip(1).product();
        assert!(
            last > 0 || rows == 0,
            "argmax over an empty last dim: {rows} rows of 0 elements have no maximum"
        );
        out.extend(self.as_slice().chunks_exact(last.max(1)).map(argmax_of));
    }

    /// The elements of row `i` of the batch (the outermost dim), borrowed: one sample.
    /// ([`Tensor::rows`] copies a range of rows into a tensor.)
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let x = Tensor::<(U3, U2)>::from_fn(|i| (i[0] * 2 + i[1]) as f32);
    /// assert_eq!(x.row(1), &[2.0, 3.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `i` is not below the batch size.
    #[track_caller]
    pub fn row(&self, i: usize) -> &[E] {
        let (start, end) = self.row_range(i);
        &self.as_slice()[start..end]
    }

    /// The elements of row `i` of the batch, mutable.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::*};
    /// let mut x = Tensor::<(U2, U2)>::zeros();
    /// x.row_mut(1).fill(1.0);
    /// assert_eq!(x.as_slice(), &[0.0, 0.0, 1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `i` is not below the batch size.
    #[track_caller]
    pub fn row_mut(&mut self, i: usize) -> &mut [E] {
        let (start, end) = self.row_range(i);
        &mut self.as_mut_slice()[start..end]
    }

    /// Where row `i` lies in the elements.
    #[track_caller]
    fn row_range(&self, i: usize) -> (usize, usize) {
        let n = self.shape().batch().size();
        assert!(i < n, "row {i} out of range for a batch of {n}");
        let row = self.as_slice().len() / n;
        (i * row, (i + 1) * row)
    }

    /// `f(self[i], other[i])` into a new tensor of this shape (shapes already checked).
    fn zip_new(&self, other: &Tensor<impl Shape, E>, f: impl Fn(E, E) -> E + Sync) -> Self {
        let mut out = Tensor::default();
        zip_into(
            self.as_slice(),
            other.as_slice(),
            out.reset(self.shape()).as_mut_slice(),
            f,
        );
        out
    }
}

/// `&a + &b`: [`Tensor::add`].
impl<S, G, E> Add<&Tensor<G, E>> for &Tensor<S, E>
where
    S: Shape,
    G: Shape + ShapeEq<S, TensorAdd>,
    E: Element,
{
    type Output = Tensor<S, E>;

    #[track_caller]
    fn add(self, other: &Tensor<G, E>) -> Tensor<S, E> {
        Tensor::add(self, other)
    }
}

/// `&a - &b`: [`Tensor::sub`].
impl<S, G, E> Sub<&Tensor<G, E>> for &Tensor<S, E>
where
    S: Shape,
    G: Shape + ShapeEq<S, TensorSub>,
    E: Element,
{
    type Output = Tensor<S, E>;

    #[track_caller]
    fn sub(self, other: &Tensor<G, E>) -> Tensor<S, E> {
        Tensor::sub(self, other)
    }
}

/// `&a * &b`, the element-wise product: [`Tensor::mul`].
impl<S, G, E> Mul<&Tensor<G, E>> for &Tensor<S, E>
where
    S: Shape,
    G: Shape + ShapeEq<S, TensorMul>,
    E: Element,
{
    type Output = Tensor<S, E>;

    #[track_caller]
    fn mul(self, other: &Tensor<G, E>) -> Tensor<S, E> {
        Tensor::mul(self, other)
    }
}

/// `a += &b`: [`Tensor::add_assign`].
impl<S, G, E> AddAssign<&Tensor<G, E>> for Tensor<S, E>
where
    S: Shape,
    G: Shape + ShapeEq<S, TensorAdd>,
    E: Element,
{
    #[track_caller]
    fn add_assign(&mut self, other: &Tensor<G, E>) {
        Tensor::add_assign(self, other);
    }
}

/// `a -= &b`: [`Tensor::sub_assign`].
impl<S, G, E> SubAssign<&Tensor<G, E>> for Tensor<S, E>
where
    S: Shape,
    G: Shape + ShapeEq<S, TensorSub>,
    E: Element,
{
    #[track_caller]
    fn sub_assign(&mut self, other: &Tensor<G, E>) {
        Tensor::sub_assign(self, other);
    }
}

/// `a *= &b`, the element-wise product: [`Tensor::mul_assign`].
impl<S, G, E> MulAssign<&Tensor<G, E>> for Tensor<S, E>
where
    S: Shape,
    G: Shape + ShapeEq<S, TensorMul>,
    E: Element,
{
    #[track_caller]
    fn mul_assign(&mut self, other: &Tensor<G, E>) {
        Tensor::mul_assign(self, other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::consts::*;

    #[test]
    fn pairwise_sum_of_many_small_terms_is_closer_than_a_running_sum() {
        // 2^24 + 1024 ones in f32: a running sum stops at 2^24 (2^24 + 1 rounds back down);
        // the pairwise sum adds two exact halves of 2^23 + 512.
        let v = vec![1.0f32; (1 << 24) + 1024];
        let running = v.iter().fold(0.0f32, |a, &b| a + b);
        assert_eq!(running, 16_777_216.0);
        assert_eq!(pairwise_sum(&v), 16_778_240.0);
    }

    #[test]
    fn argmax_takes_the_first_nan_as_pytorch_does() {
        assert_eq!(argmax_of(&[1.0, f64::NAN, 3.0, f64::NAN]), 1);
        assert_eq!(argmax_of(&[f64::NEG_INFINITY, f64::NEG_INFINITY]), 0);
        assert_eq!(argmax_of(&[-0.0, 0.0]), 0);
        assert_eq!(argmax_of(&[2.0]), 0);
    }

    #[test]
    fn argmax_of_a_rank_one_tensor_is_one_index() {
        let t = Tensor::<(U4,)>::from_vec(vec![0.0, 5.0, 1.0, 5.0]).unwrap();
        assert_eq!(t.argmax(), [1]);
    }
}
