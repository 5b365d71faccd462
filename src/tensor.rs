//! The tensor type and its constructors.

use core::fmt;
use generic_array::GenericArray;

use crate::rules::{DimEq, ReshapeCount};
use crate::shape::Shape;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An element type: `f32` or `f64`.
///
/// One bound, built on [`num_traits::Float`], so layers are written once for both.
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
{
    /// The type's name, for messages: `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Runs `f` on two scratch buffers of this thread, of lengths `a` and `b`, reused across
    /// calls (the lowering buffers of convolution). Their contents are unspecified (left from
    /// the last use): `f` must write before it reads. Reentrant: a nested call gets fresh
    /// buffers.
    #[doc(hidden)]
    fn with_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [Self], &mut [Self]) -> R) -> R;

    /// A buffer of `len` elements (contents unspecified), reusing one given back with
    /// [`Element::give_back`] on this thread if there is one: the lowering a convolution keeps
    /// from its forward to its backward pass is megabytes, and a fresh allocation of that size
    /// costs page faults every step.
    #[doc(hidden)]
    fn take_buffer(len: usize) -> Vec<Self>;

    /// Returns a buffer for [`Element::take_buffer`] to reuse.
    #[doc(hidden)]
    fn give_back(buffer: Vec<Self>);
}

macro_rules! element {
    ($t:ty, $name:literal, $stash:ident) => {
        thread_local! {
            static $stash: core::cell::Cell<Vec<Vec<$t>>> = const { core::cell::Cell::new(Vec::new()) };
        }
        impl Element for $t {
            const NAME: &'static str = $name;

            fn with_scratch<R>(
                a: usize,
                b: usize,
                f: impl FnOnce(&mut [Self], &mut [Self]) -> R,
            ) -> R {
                thread_local! {
                    static SCRATCH: core::cell::Cell<(Vec<$t>, Vec<$t>)> =
                        const { core::cell::Cell::new((Vec::new(), Vec::new())) };
                }
                let (mut va, mut vb) = SCRATCH.with(|s| s.take());
                // Only growth is zero-filled (and buffers never shrink, so calls of alternating
                // sizes do not refill); the lowering overwrites every element it reads.
                if va.len() < a {
                    va.resize(a, 0.0);
                }
                if vb.len() < b {
                    vb.resize(b, 0.0);
                }
                let r = f(&mut va[..a], &mut vb[..b]);
                SCRATCH.with(|s| s.set((va, vb)));
                r
            }

            fn take_buffer(len: usize) -> Vec<Self> {
                let mut v = $stash.with(|s| {
                    let mut stash = s.take();
                    let pick = stash.iter().position(|b| b.capacity() >= len);
                    let v = pick.map(|i| stash.swap_remove(i)).unwrap_or_default();
                    s.set(stash);
                    v
                });
                v.resize(len, 0.0);
                v.truncate(len);
                v
            }

            fn give_back(buffer: Vec<Self>) {
                $stash.with(|s| {
                    let mut stash = s.take();
                    // A few buffers at most: enough for the convolutions of one model.
                    if stash.len() < 8 {
                        stash.push(buffer);
                    }
                    s.set(stash);
                });
            }
        }
    };
}
element!(f32, "f32", STASH_F32);
element!(f64, "f64", STASH_F64);

/// Runtime data that does not fit a tensor's type: a wrong element count, a wrong shape in a
/// file. It says what was expected and what came.
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

/// A tensor of shape `S` (a tuple of typenum dims) and element type `E`, stored row-major on
/// the heap in an array whose length is fixed by the type.
///
/// ```
/// use shaped::{Tensor, typenum::{U2, U3}};
/// let t = Tensor::<(U2, U3)>::from_fn(|i| (i[0] * 10 + i[1]) as f32);
/// assert_eq!(t.as_slice(), &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
/// assert_eq!(format!("{t:?}"), "Tensor<(2, 3), f32> [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]");
/// let wrong = Tensor::<(U2, U3)>::from_vec(vec![0.0; 5]);
/// assert_eq!(
///     wrong.unwrap_err().to_string(),
///     "shape error: expected 6 elements for shape (2, 3), found 5 elements"
/// );
/// ```
pub struct Tensor<S: Shape, E = f32> {
    data: Box<GenericArray<E, S::Size>>,
}

impl<S: Shape, E: Element> Tensor<S, E> {
    /// A tensor of zeros, allocated on the heap directly (no stack copy, whatever the size).
    pub fn zeros() -> Self {
        Self {
            data: GenericArray::default_boxed(),
        }
    }

    /// A tensor with every element `value`.
    pub fn full(value: E) -> Self {
        let mut t = Self::zeros();
        t.as_mut_slice().fill(value);
        t
    }

    /// Takes a row-major `Vec` of exactly `S`'s element count, without copying.
    ///
    /// A wrong length is an error naming the expected and the given count.
    pub fn from_vec(data: Vec<E>) -> Result<Self, ShapeError> {
        let len = data.len();
        GenericArray::try_from_vec(data)
            .map(|data| Self { data })
            .map_err(|_| ShapeError {
                expected: format!(
                    "{} elements for shape {}",
                    S::NUM_ELEMENTS,
                    fmt_dims(S::DIMS)
                ),
                found: format!("{len} elements"),
            })
    }

    /// Builds each element from its multi-index (outermost dim first).
    pub fn from_fn(mut f: impl FnMut(&[usize]) -> E) -> Self {
        let mut t = Self::zeros();
        let mut index = vec![0usize; S::RANK];
        for v in t.as_mut_slice() {
            *v = f(&index);
            for axis in (0..S::RANK).rev() {
                index[axis] += 1;
                if index[axis] < S::DIMS[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        t
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl FnMut(E) -> E) -> Self {
        Self::from_vec_exact(self.as_slice().iter().copied().map(f).collect())
    }

    /// The same elements under another shape of the same element count, without copying.
    /// A shape of another count does not compile:
    ///
    /// ```
    /// use shaped::{Tensor, typenum::{U2, U3, U6}};
    /// let t: Tensor<(U6,)> = Tensor::<(U2, U3)>::zeros().reshape();
    /// ```
    pub fn reshape<S2: Shape>(self) -> Tensor<S2, E>
    where
        // The rule that names the two counts in decimal when they differ.
        S2::Size: DimEq<S::Size, ReshapeCount>,
    {
        Tensor::from_vec(self.into_vec()).expect("equal element counts, checked by the type")
    }

    /// Builds a tensor from a `Vec` whose length the caller computed from the same shape.
    pub(crate) fn from_vec_exact(data: Vec<E>) -> Self {
        Self::from_vec(data).expect("internal length computed from the shape")
    }
}

impl<S: Shape, E> Tensor<S, E> {
    /// The elements, row-major.
    pub fn as_slice(&self) -> &[E] {
        self.data.as_slice()
    }

    /// The elements, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [E] {
        self.data.as_mut_slice()
    }

    /// The elements as a `Vec`, without copying.
    pub fn into_vec(self) -> Vec<E> {
        GenericArray::into_vec(self.data)
    }

    /// The dims, outermost first: `[4, 3]` for `(U4, U3)`.
    pub fn dims(&self) -> &'static [usize] {
        S::DIMS
    }
}

impl<S: Shape, E: Clone> Clone for Tensor<S, E> {
    fn clone(&self) -> Self {
        // Through a Vec: cloning the boxed array itself may build it on the stack first.
        let data = GenericArray::try_from_vec(self.as_slice().to_vec());
        Self {
            data: data.unwrap_or_else(|_| unreachable!("a clone has the original's length")),
        }
    }
}

impl<S: Shape, E: PartialEq> PartialEq for Tensor<S, E> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<S: Shape, E: Element> Default for Tensor<S, E> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<S: Shape, E: fmt::Debug> fmt::Debug for Tensor<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor<{}, {}> ",
            fmt_dims(S::DIMS),
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
