//! The tensor type and its constructors.

use core::fmt;
use generic_array::{ArrayLength, GenericArray};

use crate::dims::{Dim, Dyn};
use crate::rules::{mismatch, DimEq, ReshapeCount};
use crate::shape::{describe, ConstShape, Count, ProdDims, Shape};

pub(crate) mod sealed {
    pub trait Sealed {
        /// Whether the type is `f32` (else `f64`), as a constant: a branch on it is decided
        /// when generic code is compiled for the type, so the other type's code is not
        /// compiled at all (the matrix kernels, see `gemm::small::matmul`).
        const IS_F32: bool;
    }
    impl Sealed for f32 {
        const IS_F32: bool = true;
    }
    impl Sealed for f64 {
        const IS_F32: bool = false;
    }
}

/// An element type: `f32` or `f64`.
///
/// One bound, built on [`num_traits::Float`], so layers are written once for both.
///
/// ```
/// use shaped::{Element, Tensor, typenum::U3};
///
/// /// The mean of a tensor of either element type, written once.
/// fn mean<E: Element>(t: &Tensor<(U3,), E>) -> E {
///     t.as_slice().iter().copied().sum::<E>() / E::from_usize(3).unwrap()
/// }
/// assert_eq!(mean(&Tensor::<(U3,), f32>::from_vec(vec![1.0, 2.0, 6.0])?), 3.0);
/// assert_eq!(mean(&Tensor::<(U3,), f64>::full(0.5)), 0.5);
/// assert_eq!(<f64 as Element>::NAME, "f64");
/// # Ok::<(), shaped::ShapeError>(())
/// ```
pub trait Element:
    num_traits::Float
    + num_traits::FromPrimitive
    + Default
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + core::iter::Sum
    + core::ops::AddAssign
    + core::ops::MulAssign
    + 'static
    + sealed::Sealed
    // Compares equal to itself, so that generic code passes the constructors' parameter rules
    // (`rules::ParamIs`) as `Dim`'s `DimCmp` lets it pass the shape rules.
    + crate::rules::ElementCmp<Self, Same = typenum::B1>
{
    /// The type's name, for messages: `"f32"` or `"f64"`.
    const NAME: &'static str;
}

macro_rules! element {
    ($t:ty, $name:literal) => {
        impl Element for $t {
            const NAME: &'static str = $name;
        }
    };
}
element!(f32, "f32");
element!(f64, "f64");

/// Runtime data that does not fit a tensor's type: a wrong element count, a wrong shape in a
/// file. It says what was expected and what came.
///
/// ```
/// use shaped::{ShapeError, Tensor, typenum::U4};
/// let err: ShapeError = Tensor::<(U4,)>::from_vec(vec![1.0; 3]).unwrap_err();
/// assert_eq!(err.expected, "4 elements for shape (4,)");
/// assert_eq!(err.found, "3 elements");
/// assert_eq!(err.to_string(), "shape error: expected 4 elements for shape (4,), found 3 elements");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// What the type requires, e.g. `"12 elements for shape (4, 3)"`.
    pub expected: String,
    /// What was given, e.g. `"10 elements"`.
    pub found: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shape error: expected {}, found {}",
            self.expected, self.found
        )
    }
}
impl std::error::Error for ShapeError {}

/// Formats dims as `(4, 3)`.
pub(crate) fn fmt_dims(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    if dims.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

/// A tensor of shape `S` (a tuple of dims) and element type `E`, stored row-major on the heap
/// in a buffer whose length is fixed at construction (only [`Tensor::reset`] gives a tensor
/// another runtime shape, reusing its memory: the `_into` functions and training buffers do so).
///
/// A static shape such as `(U2, U3)` stores no sizes; a shape with a [`Dyn`] dim, such as a
/// batch `(Dyn, U784)`, stores its runtime sizes.
///
/// ```
/// use shaped::{Dyn, Tensor, typenum::{U2, U3}};
/// let t = Tensor::<(U2, U3)>::from_fn(|i| (i[0] * 10 + i[1]) as f32);
/// assert_eq!(t.as_slice(), &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
/// assert_eq!(format!("{t:?}"), "Tensor<(2, 3), f32> [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]");
/// let wrong = Tensor::<(U2, U3)>::from_vec(vec![0.0; 5]);
/// assert_eq!(
///     wrong.unwrap_err().to_string(),
///     "shape error: expected 6 elements for shape (2, 3), found 5 elements"
/// );
/// let rows = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 5]);
/// assert_eq!(
///     rows.unwrap_err().to_string(),
///     "shape error: expected a multiple of 3 elements for shape (Dyn, 3), found 5 elements"
/// );
/// ```
pub struct Tensor<S, E = f32> {
    // A `Vec` rather than a boxed slice so that a buffer given a smaller, then a larger batch
    // again keeps its capacity: a training step reuses its buffers without allocating.
    data: Vec<E>,
    shape: S,
}

impl<S: Shape, E: Element> Tensor<S, E> {
    /// A tensor of zeros (for a shape with a [`Dyn`] dim: [`Tensor::zeros_with`]).
    ///
    /// ```
    /// use shaped::{Tensor, typenum::{U2, U3}};
    /// let t: Tensor<(U2, U3)> = Tensor::zeros();
    /// assert_eq!(t.dims(), [2, 3]);
    /// assert_eq!(t.as_slice(), &[0.0; 6]);
    /// ```
    pub fn zeros() -> Self
    where
        S: ConstShape,
    {
        Self::zeros_with(S::default())
    }

    /// A tensor with every element `value`.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::U3};
    /// let t = Tensor::<(U3,), f64>::full(2.5);
    /// assert_eq!(t.as_slice(), &[2.5; 3]);
    /// ```
    pub fn full(value: E) -> Self
    where
        S: ConstShape,
    {
        Self::full_with(S::default(), value)
    }

    /// Builds each element from its multi-index (outermost dim first).
    ///
    /// ```
    /// use shaped::{Tensor, typenum::U3};
    /// let eye: Tensor<(U3, U3)> = Tensor::from_fn(|i| if i[0] == i[1] { 1.0 } else { 0.0 });
    /// assert_eq!(eye.as_slice(), &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn from_fn(f: impl FnMut(&[usize]) -> E) -> Self
    where
        S: ConstShape,
    {
        Self::from_fn_with(S::default(), f)
    }

    /// Takes exactly `S`'s element count as a `GenericArray` (for example from its `arr!`
    /// macro): the length is checked by the compiler, not at run time.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::{U2, U3}};
    /// use generic_array::arr;
    /// let t = Tensor::<(U2, U3)>::from_array(arr![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// assert_eq!(t.as_slice()[5], 6.0);
    /// ```
    pub fn from_array(data: GenericArray<E, Count<S>>) -> Self
    where
        S: ConstShape + ProdDims,
        // The element count as a type, to size the array.
        Count<S>: ArrayLength,
    {
        Self::from_raw(S::default(), Vec::from_iter(data))
    }

    /// A tensor of zeros of the given shape (a shape with a [`Dyn`] dim carries its size):
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U3};
    /// let t = Tensor::<(Dyn, U3), f64>::zeros_with((Dyn(4), U3::default()));
    /// assert_eq!(t.dims(), [4, 3]);
    /// ```
    pub fn zeros_with(shape: S) -> Self {
        Self::from_raw(shape, vec![E::zero(); shape.num_elements()])
    }

    /// A tensor of the given shape with every element `value`.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U2};
    /// let t = Tensor::<(Dyn, U2)>::full_with((Dyn(3), U2::default()), -1.0);
    /// assert_eq!(t.dims(), [3, 2]);
    /// assert_eq!(t.as_slice(), &[-1.0; 6]);
    /// ```
    pub fn full_with(shape: S, value: E) -> Self {
        Self::from_raw(shape, vec![value; shape.num_elements()])
    }

    /// Builds each element of a tensor of the given shape from its multi-index.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U2};
    /// let shape = (Dyn(2), U2::default());
    /// let t = Tensor::<(Dyn, U2)>::from_fn_with(shape, |i| (10 * i[0] + i[1]) as f32);
    /// assert_eq!(t.as_slice(), &[0.0, 1.0, 10.0, 11.0]);
    /// ```
    pub fn from_fn_with(shape: S, mut f: impl FnMut(&[usize]) -> E) -> Self {
        let dims = shape.dims();
        let dims = dims.as_ref();
        let mut index = vec![0usize; dims.len()];
        let mut data = Vec::with_capacity(shape.num_elements());
        for _ in 0..shape.num_elements() {
            data.push(f(&index));
            for axis in (0..dims.len()).rev() {
                index[axis] += 1;
                if index[axis] < dims[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Self::from_raw(shape, data)
    }

    /// Takes a row-major `Vec` without copying. For a static shape its length must be the
    /// shape's element count; a single [`Dyn`] dim is inferred from the length, which must then
    /// be a multiple of the other dims' product (whole rows, for a `Dyn` batch).
    ///
    /// A length that does not fit is an error naming the expected and the given count.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, typenum::{U2, U3}};
    /// let t = Tensor::<(U2, U3)>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// assert_eq!(t.as_slice()[3], 4.0); // row 1, column 0
    /// let rows = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 9])?; // 3 rows, inferred
    /// assert_eq!(rows.dims(), [3, 3]);
    /// let err = Tensor::<(U2, U3)>::from_vec(vec![0.0; 7]).unwrap_err();
    /// assert_eq!(err.expected, "6 elements for shape (2, 3)");
    /// assert_eq!(err.found, "7 elements");
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn from_vec(data: Vec<E>) -> Result<Self, ShapeError> {
        let shape = S::for_len(data.len())?;
        Ok(Self::from_raw(shape, data))
    }

    /// Takes a row-major `Vec` of the given shape's element count, without copying.
    ///
    /// For a shape with more than one [`Dyn`] dim, which [`Tensor::from_vec`] cannot infer:
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U2};
    /// let shape = (Dyn(2), Dyn(3), U2::default());
    /// let t = Tensor::<(Dyn, Dyn, U2)>::from_shape_vec(shape, vec![0.0; 12])?;
    /// assert_eq!(t.dims(), [2, 3, 2]);
    /// let err = Tensor::<(Dyn, Dyn, U2)>::from_shape_vec(shape, vec![0.0; 10]).unwrap_err();
    /// assert_eq!(err.to_string(), "shape error: expected 12 elements for shape (2, 3, 2), found 10 elements");
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn from_shape_vec(shape: S, data: Vec<E>) -> Result<Self, ShapeError> {
        if data.len() != shape.num_elements() {
            return Err(ShapeError {
                expected: format!(
                    "{} elements for shape {}",
                    shape.num_elements(),
                    fmt_dims(shape.dims().as_ref())
                ),
                found: format!("{} elements", data.len()),
            });
        }
        Ok(Self::from_raw(shape, data))
    }

    /// Applies `f` to every element.
    ///
    /// ```
    /// use shaped::{Tensor, typenum::U3};
    /// let t = Tensor::<(U3,)>::from_vec(vec![1.0, -2.0, 3.0])?;
    /// let squared: Tensor<(U3,)> = t.map(|v| v * v);
    /// assert_eq!(squared.as_slice(), &[1.0, 4.0, 9.0]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn map(&self, f: impl FnMut(E) -> E) -> Self {
        Self::from_raw(self.shape, self.as_slice().iter().copied().map(f).collect())
    }

    /// The same elements under another shape of the same element count, without copying.
    /// A static shape of another count does not compile:
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, typenum::{U2, U3, U6}};
    /// let t: Tensor<(U6,)> = Tensor::<(U2, U3)>::zeros().reshape();
    /// let rows: Tensor<(Dyn, U2)> = t.reshape(); // 3 rows, inferred
    /// assert_eq!(rows.dims(), [3, 2]);
    /// ```
    ///
    /// # Panics
    ///
    /// When a [`Dyn`] dim is involved and the counts differ at run time (or the new shape has
    /// more than one `Dyn` dim), with the rule's message:
    /// `reshape changes the element count: …`. [`Tensor::try_reshape`] returns an `Err` instead.
    #[track_caller]
    pub fn reshape<S2>(self) -> Tensor<S2, E>
    where
        // The element counts as dims, compared by the rule that names both when they differ.
        S: ProdDims,
        S2: Shape + ProdDims,
        Count<S2>: DimEq<Count<S>, ReshapeCount>,
    {
        let len = self.data.len();
        match S2::for_len(len) {
            Ok(shape) => Tensor::from_raw(shape, self.into_vec()),
            Err(e) => mismatch::<ReshapeCount>(len, e.expected),
        }
    }

    /// The same elements under another shape, without copying, or an error naming both when
    /// the element counts differ at run time.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, typenum::{U2, U3, U4}};
    /// let rows = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 12])?; // 4 rows
    /// let t: Tensor<(U4, U3)> = rows.clone().try_reshape()?;
    /// assert_eq!(t.dims(), [4, 3]);
    /// let err = rows.try_reshape::<(Dyn, U2, U4)>().unwrap_err(); // 12 is no multiple of 8
    /// assert_eq!(err.expected, "a multiple of 8 elements for shape (Dyn, 2, 4)");
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn try_reshape<S2: Shape>(self) -> Result<Tensor<S2, E>, ShapeError> {
        let shape = S2::for_len(self.data.len())?;
        Ok(Tensor::from_raw(shape, self.into_vec()))
    }

    /// The same tensor with a [`Dyn`] batch (outermost dim), without copying.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U3, U4};
    /// let x: Tensor<(Dyn, U3)> = Tensor::<(U4, U3)>::zeros().into_dyn_batch();
    /// let back: Tensor<(U4, U3)> = x.try_into_batch::<U4>()?;
    /// # let _ = back;
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn into_dyn_batch(self) -> Tensor<S::WithBatch<Dyn>, E> {
        let n = Dyn(self.shape.batch().size());
        Tensor::from_raw(self.shape.with_batch(n), self.into_vec())
    }

    /// The same tensor with the batch dim `M`, without copying, or an error naming both
    /// sizes when the batch is not `M`'s size.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U3, U4, U8};
    /// let x = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 12])?; // 4 rows
    /// let fixed: Tensor<(U4, U3)> = x.clone().try_into_batch::<U4>()?;
    /// assert_eq!(fixed.dims(), [4, 3]);
    /// let err = x.try_into_batch::<U8>().unwrap_err();
    /// assert_eq!(err.found, "a batch of 4 in shape (4, 3)");
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    pub fn try_into_batch<M: Dim>(self) -> Result<Tensor<S::WithBatch<M>, E>, ShapeError> {
        let n = self.shape.batch().size();
        let Some(m) = M::from_size(n) else {
            return Err(ShapeError {
                expected: format!("a batch of {}", describe(&[M::STATIC])),
                found: format!(
                    "a batch of {n} in shape {}",
                    fmt_dims(self.shape.dims().as_ref())
                ),
            });
        };
        Ok(Tensor::from_raw(self.shape.with_batch(m), self.into_vec()))
    }

    /// The rows `start..end` of the batch (outermost dim), copied into a tensor with a [`Dyn`]
    /// batch.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, typenum::{U2, U4}};
    /// let x = Tensor::<(U4, U2)>::from_fn(|i| i[0] as f32); // row r holds r
    /// let middle: Tensor<(Dyn, U2)> = x.rows(1, 3);
    /// assert_eq!(middle.as_slice(), &[1.0, 1.0, 2.0, 2.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `start > end` or `end` is past the batch.
    #[track_caller]
    pub fn rows(&self, start: usize, end: usize) -> Tensor<S::WithBatch<Dyn>, E> {
        // Checked (with its message) before `end - start` is taken.
        let data = self.row_data(start, end);
        Tensor::from_raw(self.shape.with_batch(Dyn(end - start)), data)
    }

    /// The elements of rows `start..end`.
    #[track_caller]
    fn row_data(&self, start: usize, end: usize) -> Vec<E> {
        let n = self.shape.batch().size();
        assert!(
            start <= end && end <= n,
            "rows {start}..{end} out of range for a batch of {n}"
        );
        let row = self.data.len().checked_div(n).unwrap_or(0);
        self.data[start * row..end * row].to_vec()
    }

    /// The batch in chunks of `size` rows, the last one partial: each a copy with a [`Dyn`]
    /// batch (for inference over data of any length; training data goes through
    /// [`Dataset`](crate::data::Dataset), which carries labels).
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U2};
    /// let x = Tensor::<(Dyn, U2)>::from_vec((0..10).map(|v| v as f32).collect())?;
    /// let sizes: Vec<usize> = x.batches(2).map(|b| b.dims()[0]).collect();
    /// assert_eq!(sizes, [2, 2, 1]);
    /// # Ok::<(), shaped::ShapeError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `size` is 0.
    #[track_caller]
    pub fn batches(&self, size: usize) -> impl Iterator<Item = Tensor<S::WithBatch<Dyn>, E>> + '_ {
        assert!(size > 0, "batch size must be at least 1");
        let n = self.shape.batch().size();
        (0..n.div_ceil(size)).map(move |b| self.rows(b * size, ((b + 1) * size).min(n)))
    }

    /// Builds a tensor from a `Vec` whose length the caller computed from `shape`.
    pub(crate) fn from_raw(shape: S, data: Vec<E>) -> Self {
        debug_assert_eq!(data.len(), shape.num_elements(), "internal length");
        Self { data, shape }
    }

    /// Gives this tensor the shape `shape` (another size of its [`Dyn`] dims), reusing its
    /// memory: it allocates only to grow past the largest size it has had. The elements are
    /// unspecified afterwards; write them all. This is how a training buffer or an `_into`
    /// destination takes the batch it is given.
    ///
    /// ```
    /// use shaped::{Dyn, Tensor, U3};
    /// let mut t = Tensor::<(Dyn, U3)>::default(); // an empty batch
    /// t.reset((Dyn(4), U3::default())).as_mut_slice().fill(1.0);
    /// assert_eq!(t.dims(), [4, 3]);
    /// ```
    pub fn reset(&mut self, shape: S) -> &mut Self {
        self.data.resize(shape.num_elements(), E::zero());
        self.shape = shape;
        self
    }
}

/// The elements and the shape.
///
/// ```
/// use shaped::{Dyn, Tensor, U3};
/// let mut t = Tensor::<(Dyn, U3)>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(t.dims(), [2, 3]);
/// assert_eq!(t.shape(), (Dyn(2), U3::default()));
/// t.as_mut_slice()[0] = 10.0;
/// assert_eq!(t.as_slice()[..2], [10.0, 2.0]);
/// let v: Vec<f32> = t.into_vec(); // the buffer itself, row-major
/// assert_eq!(v, [10.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
impl<S: Shape, E> Tensor<S, E> {
    /// The elements, row-major.
    pub fn as_slice(&self) -> &[E] {
        &self.data
    }

    /// The elements, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [E] {
        &mut self.data
    }

    /// The elements as a `Vec`, without copying.
    pub fn into_vec(self) -> Vec<E> {
        self.data
    }

    /// The dims, outermost first: `[4, 3]` for `(U4, U3)`.
    pub fn dims(&self) -> S::Dims {
        self.shape.dims()
    }

    /// The shape as a value (the tuple of its dims).
    pub fn shape(&self) -> S {
        self.shape
    }
}

impl<S: Shape, E: Clone> Clone for Tensor<S, E> {
    fn clone(&self) -> Self {
        Self {
            data: self.data.clone(),
            shape: self.shape,
        }
    }
}

impl<S: Shape, E: PartialEq> PartialEq for Tensor<S, E> {
    fn eq(&self, other: &Self) -> bool {
        self.dims() == other.dims() && self.as_slice() == other.as_slice()
    }
}

/// Zeros of the shape's static sizes, with every [`Dyn`] dim 0: for an all-static shape this is
/// [`Tensor::zeros`]; for a `Dyn` batch it is an empty batch, a destination that `_into`
/// functions and training buffers give its runtime shape.
impl<S: Shape, E: Element> Default for Tensor<S, E> {
    fn default() -> Self {
        let dims: Vec<usize> = S::STATIC.iter().map(|d| d.unwrap_or(0)).collect();
        // Static dims get their own size and `Dyn` dims accept any: always a shape.
        let shape = S::from_dims(&dims).unwrap_or_else(|| unreachable!("the static sizes"));
        Self::zeros_with(shape)
    }
}

impl<S: Shape, E: fmt::Debug> fmt::Debug for Tensor<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor<{}, {}> ",
            fmt_dims(self.dims().as_ref()),
            core::any::type_name::<E>()
        )?;
        const SHOWN: usize = 16;
        let s = self.as_slice();
        if s.len() <= SHOWN {
            f.debug_list().entries(s).finish()
        } else {
            write!(f, "{:?} … ({} elements)", &s[..SHOWN], s.len())
        }
    }
}
