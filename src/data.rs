//! Labelled data of any length, walked in batches with a [`Dyn`] batch dim.
//!
//! ```
//! use shaped::rand::{rngs::StdRng, SeedableRng};
//! use shaped::{data::Dataset, Dyn, Tensor, U2};
//! let x = Tensor::<(Dyn, U2)>::from_vec((0..10).map(|v| v as f32).collect())?; // 5 rows
//! let mut data = Dataset::new(x, vec![0, 1, 0, 1, 1])?;
//! data.shuffle(&mut StdRng::seed_from_u64(0));
//! let sizes: Vec<usize> = data
//!     .batches(2)
//!     .map(|(x, labels)| {
//!         assert_eq!(x.dims()[0], labels.len());
//!         labels.len()
//!     })
//!     .collect();
//! assert_eq!(sizes, [2, 2, 1]); // the last, partial batch is included
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand::seq::SliceRandom;

use crate::dims::{Dim, Dyn};
use crate::init::Generator;
use crate::loss::LabelError;
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// Samples (the rows of a tensor whose outermost dim is a [`Dyn`] batch, such as
/// `(Dyn, U1, U8, U8)`) and one class label each.
///
/// ```
/// use shaped::{data::Dataset, loss::LabelError, Dyn, Tensor, U2};
/// let x = Tensor::<(Dyn, U2)>::from_vec(vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0])?; // 3 samples
/// let data: Dataset<(Dyn, U2)> = Dataset::new(x.clone(), vec![0, 1, 1])?;
/// assert_eq!(data.len(), 3);
/// let err = Dataset::new(x, vec![0, 1]).unwrap_err(); // a label short
/// assert_eq!(err, LabelError::Count { expected: 3, found: 2 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<S: Shape, E = f32> {
    inputs: Tensor<S, E>,
    labels: Vec<usize>,
}

impl<S: Shape<Batch = Dyn>, E: Element> Dataset<S, E> {
    /// Pairs each row of `inputs` with its label; another number of labels than rows is an
    /// error naming both. (A tensor with a static batch converts with
    /// [`Tensor::into_dyn_batch`].)
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U2, U4};
    /// let images = Tensor::<(U4, U2)>::zeros().into_dyn_batch(); // 4 samples
    /// let data = Dataset::new(images, vec![3, 1, 4, 1])?;
    /// assert_eq!(data.labels(), &[3, 1, 4, 1]);
    /// let four = Tensor::<(Dyn, U2)>::zeros_with((Dyn(4), U2::default()));
    /// assert!(Dataset::new(four, vec![0; 5]).is_err()); // 5 labels for 4 samples
    /// # Ok::<(), shaped::LabelError>(())
    /// ```
    pub fn new(inputs: Tensor<S, E>, labels: Vec<usize>) -> Result<Self, LabelError> {
        let rows = inputs.shape().batch().size();
        if labels.len() != rows {
            return Err(LabelError::Count {
                expected: rows,
                found: labels.len(),
            });
        }
        Ok(Self { inputs, labels })
    }

    /// The number of samples.
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U3};
    /// let data = Dataset::new(Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 15])?, vec![0; 5])?;
    /// assert_eq!(data.len(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U3};
    /// let mut data = Dataset::new(Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 6])?, vec![0, 1])?;
    /// assert!(!data.is_empty());
    /// let all = data.split_off(2);
    /// assert!(data.is_empty() && all.len() == 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// All inputs, one row per sample.
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U2};
    /// let x = Tensor::<(Dyn, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0])?;
    /// let data = Dataset::new(x.clone(), vec![0, 1])?;
    /// let inputs: &Tensor<(Dyn, U2)> = data.inputs();
    /// assert_eq!(inputs, &x);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inputs(&self) -> &Tensor<S, E> {
        &self.inputs
    }

    /// All labels, one per sample.
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U2};
    /// let data = Dataset::new(Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 6])?, vec![2, 0, 1])?;
    /// assert_eq!(data.labels(), &[2, 0, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Puts the samples in a random order drawn from `rng` (each row keeps its label), a
    /// generator of the crate's `rand` ([`Generator`]).
    ///
    /// ```
    /// use shaped::rand::{rngs::StdRng, SeedableRng};
    /// use shaped::{data::Dataset, Dyn, Tensor, U2};
    /// // Sample i is (i, i) with label i, so a shuffled row still names its label.
    /// let x = Tensor::<(Dyn, U2)>::from_vec((0..8).map(|v| (v / 2) as f32).collect())?;
    /// let mut data = Dataset::new(x, vec![0, 1, 2, 3])?;
    /// data.shuffle(&mut StdRng::seed_from_u64(3));
    /// for (row, &label) in data.inputs().as_slice().chunks(2).zip(data.labels()) {
    ///     assert_eq!(row, &[label as f32; 2]);
    /// }
    /// let mut labels = data.labels().to_vec();
    /// labels.sort();
    /// assert_eq!(labels, [0, 1, 2, 3]); // the same samples, in another order
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shuffle<R: Generator + ?Sized>(&mut self, rng: &mut R) {
        let n = self.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        let row = self.inputs.as_slice().len().checked_div(n).unwrap_or(0);
        let old = self.inputs.as_slice().to_vec();
        let data = self.inputs.as_mut_slice();
        for (to, &from) in order.iter().enumerate() {
            data[to * row..(to + 1) * row].copy_from_slice(&old[from * row..(from + 1) * row]);
        }
        self.labels = order.iter().map(|&i| self.labels[i]).collect();
    }

    /// Samples `start..end` copied into `x` (which takes their shape), and their labels.
    fn rows_into(&self, start: usize, end: usize, x: &mut Tensor<S, E>) -> &[usize] {
        let shape = self.inputs.shape().with_batch_size(end - start);
        // A `Dyn` batch takes any size.
        let shape = shape.unwrap_or_else(|| unreachable!("a Dyn batch dim"));
        let row = self
            .inputs
            .as_slice()
            .len()
            .checked_div(self.len())
            .unwrap_or(0);
        x.reset(shape)
            .as_mut_slice()
            .copy_from_slice(&self.inputs.as_slice()[start * row..end * row]);
        &self.labels[start..end]
    }

    /// Samples `start..end` in a new tensor, and their labels.
    fn range(&self, start: usize, end: usize) -> (Tensor<S, E>, &[usize]) {
        let mut x = Tensor::default();
        let labels = self.rows_into(start, end, &mut x);
        (x, labels)
    }

    /// The samples in order, `size` at a time, the last batch partial: each batch's inputs
    /// (copied) and its labels, as many as the batch's rows.
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U2};
    /// let x = Tensor::<(Dyn, U2)>::from_vec((0..10).map(|v| v as f32).collect())?;
    /// let data = Dataset::new(x, vec![0, 1, 0, 1, 1])?;
    /// let batches: Vec<(Tensor<(Dyn, U2)>, &[usize])> = data.batches(2).collect();
    /// assert_eq!(batches.len(), 3);
    /// assert_eq!(batches[2].0.as_slice(), &[8.0, 9.0]); // the last, partial batch
    /// assert_eq!(batches[2].1, &[1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `size` is 0.
    #[track_caller]
    pub fn batches(&self, size: usize) -> impl Iterator<Item = (Tensor<S, E>, &[usize])> + '_ {
        assert!(size > 0, "batch size must be at least 1");
        let n = self.len();
        (0..n.div_ceil(size)).map(move |b| self.range(b * size, ((b + 1) * size).min(n)))
    }

    /// The number of batches of `size` samples (the last one partial).
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U2};
    /// let data = Dataset::new(Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 14])?, vec![0; 7])?;
    /// assert_eq!(data.num_batches(3), 3); // 3 + 3 + 1
    /// assert_eq!(data.num_batches(7), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `size` is 0.
    #[track_caller]
    pub fn num_batches(&self, size: usize) -> usize {
        assert!(size > 0, "batch size must be at least 1");
        self.len().div_ceil(size)
    }

    /// Batch `index` of `size` samples (the last one partial) copied into `x`, which takes its
    /// shape and keeps its memory when it already has room (no allocation in a training loop);
    /// returns its labels, as many as the batch's rows.
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U2};
    /// let data = Dataset::new(Tensor::<(Dyn, U2)>::from_vec(vec![1.0; 10])?, vec![0, 1, 0, 1, 1])?;
    /// let mut x = Tensor::default();
    /// for b in 0..data.num_batches(2) {
    ///     let labels = data.batch_into(b, 2, &mut x);
    ///     assert_eq!(x.dims(), [labels.len(), 2]);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `size` is 0 or `index` is not below [`Dataset::num_batches`].
    #[track_caller]
    pub fn batch_into(&self, index: usize, size: usize, x: &mut Tensor<S, E>) -> &[usize] {
        assert!(
            index < self.num_batches(size),
            "batch {index} of {} batches of {size}",
            self.num_batches(size)
        );
        let (start, end) = (index * size, ((index + 1) * size).min(self.len()));
        self.rows_into(start, end, x)
    }

    /// Splits off the last `count` samples (for example a held-out test set): returns them,
    /// and `self` keeps the rest.
    ///
    /// ```
    /// use shaped::{data::Dataset, Dyn, Tensor, U2};
    /// let x = Tensor::<(Dyn, U2)>::from_vec((0..10).map(|v| v as f32).collect())?;
    /// let mut train = Dataset::new(x, vec![0, 1, 2, 3, 4])?;
    /// let test = train.split_off(2);
    /// assert_eq!((train.len(), test.len()), (3, 2));
    /// assert_eq!(test.labels(), &[3, 4]);
    /// assert_eq!(test.inputs().as_slice(), &[6.0, 7.0, 8.0, 9.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `count` is larger than the number of samples.
    #[track_caller]
    pub fn split_off(&mut self, count: usize) -> Self {
        let n = self.len();
        assert!(
            count <= n,
            "cannot split off {count} samples from a dataset of {n}"
        );
        let (tail, _) = self.range(n - count, n);
        let (head, _) = self.range(0, n - count);
        self.inputs = head;
        let labels = self.labels.split_off(n - count);
        Self {
            inputs: tail,
            labels,
        }
    }
}
