//! Losses: each returns the loss and its gradient with respect to the prediction.

use core::fmt;

use crate::dims::Dim;
use crate::rules::{check_dims, MseTarget, ShapeEq};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// Labels that do not fit the logits: another count than the batch, or a class out of range.
///
/// ```
/// use shaped::{softmax_cross_entropy, LabelError, Tensor, typenum::*};
/// let logits = Tensor::<(U2, U3)>::zeros();
/// let err = softmax_cross_entropy(&logits, &[0]).unwrap_err();
/// assert_eq!(err, LabelError::Count { expected: 2, found: 1 });
/// let err = softmax_cross_entropy(&logits, &[0, 3]).unwrap_err();
/// assert_eq!(err, LabelError::OutOfRange { index: 1, label: 3, classes: 3 });
/// assert_eq!(err.to_string(), "label 3 at position 1 is out of range: expected a class in 0..3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelError {
    /// `labels.len()` is not the batch size.
    Count {
        /// The batch size `N`.
        expected: usize,
        /// The number of labels given.
        found: usize,
    },
    /// A label is not below the number of classes.
    OutOfRange {
        /// The position of the label in the batch.
        index: usize,
        /// The label.
        label: usize,
        /// The number of classes `C`.
        classes: usize,
    },
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count { expected, found } => {
                write!(f, "expected {expected} labels (the batch size), found {found}")
            }
            Self::OutOfRange {
                index,
                label,
                classes,
            } => write!(
                f,
                "label {label} at position {index} is out of range: expected a class in 0..{classes}"
            ),
        }
    }
}
impl std::error::Error for LabelError {}

/// Softmax cross-entropy on integer labels, averaged over the batch (PyTorch's
/// `cross_entropy` with `reduction="mean"`): `L = −(1/N) Σₙ log softmax(zₙ)[yₙ]`, computed as
/// `logsumexp(zₙ) − zₙ[yₙ]` with `z − max` first, so it is finite for logits of any finite
/// magnitude. A NaN logit makes its row's loss and gradient NaN, as in PyTorch. The batch may be
/// [`Dyn`](crate::Dyn): the labels' count is checked against it.
///
/// Returns `L` and `∂L/∂z = (softmax(z) − onehot(y)) / N`, of the logits' shape `(N, C)`.
///
/// ```
/// use shaped::{softmax_cross_entropy, Tensor, typenum::*};
/// let logits = Tensor::<(U2, U3), f64>::from_vec(vec![0.0, 0.0, 0.0, 10.0, 0.0, 0.0])?;
/// let (loss, grad) = softmax_cross_entropy(&logits, &[1, 0])?;
/// assert!((loss - (3f64.ln() + (1.0 + 2.0 * (-10f64).exp()).ln()) / 2.0).abs() < 1e-12);
/// assert_eq!(grad.dims(), [2, 3]);
/// assert!(softmax_cross_entropy(&logits, &[1, 3]).is_err()); // class 3 of 3
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn softmax_cross_entropy<N: Dim, C: Dim, E: Element>(
    logits: &Tensor<(N, C), E>,
    labels: &[usize],
) -> Result<(E, Tensor<(N, C), E>), LabelError> {
    let mut grad = Tensor::default();
    let loss = softmax_cross_entropy_into(logits, labels, &mut grad)?;
    Ok((loss, grad))
}

/// [`softmax_cross_entropy`] with the gradient written into `grad`, which takes the logits'
/// shape and keeps its memory when it already has room: no allocation in a training loop.
///
/// ```
/// use shaped::{softmax_cross_entropy_into, Dyn, Tensor, typenum::*};
/// let mut grad = Tensor::default();
/// for batch in [3, 2, 3] {
///     let logits = Tensor::<(Dyn, U4)>::from_vec(vec![0.0; batch * 4])?;
///     let loss = softmax_cross_entropy_into(&logits, &vec![1; batch], &mut grad)?;
///     assert!((loss - 4f32.ln()).abs() < 1e-6);
///     assert_eq!(grad.dims(), [batch, 4]);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn softmax_cross_entropy_into<N: Dim, C: Dim, E: Element>(
    logits: &Tensor<(N, C), E>,
    labels: &[usize],
    grad: &mut Tensor<(N, C), E>,
) -> Result<E, LabelError> {
    let [batch, classes] = logits.dims();
    if labels.len() != batch {
        return Err(LabelError::Count {
            expected: batch,
            found: labels.len(),
        });
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
        return Err(LabelError::OutOfRange {
            index,
            label,
            classes,
        });
    }
    let n = E::from_usize(batch).unwrap_or_else(E::max_value);
    let grad = grad.reset(logits.shape()).as_mut_slice();
    grad.copy_from_slice(logits.as_slice());
    let mut loss = E::zero();
    for (row, &label) in grad.chunks_exact_mut(classes.max(1)).zip(labels) {
        let max = row.iter().copied().fold(E::neg_infinity(), E::max);
        // −log softmax[label] = ln Σ exp(z − max) − (z[label] − max): the label's own
        // exponential may underflow to 0 where this difference is finite.
        let shifted = row[label] - max;
        let mut sum = E::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        loss += sum.ln() - shifted;
        for v in row.iter_mut() {
            *v = *v / sum / n;
        }
        row[label] = row[label] - E::one() / n;
    }
    Ok(loss / n)
}

/// Mean squared error, averaged over every element (PyTorch's `mse_loss`):
/// `L = (1/|S|) Σ (p − t)²`, and `∂L/∂p = 2 (p − t) / |S|`, of the prediction's shape.
///
/// A target of another shape does not compile.
///
/// ```
/// use shaped::{mse, Tensor, typenum::*};
/// let p = Tensor::<(U2,)>::from_vec(vec![1.0, 3.0])?;
/// let t = Tensor::<(U2,)>::from_vec(vec![0.0, 1.0])?;
/// let (loss, grad) = mse(&p, &t);
/// assert_eq!(loss, 2.5);
/// assert_eq!(grad.as_slice(), &[1.0, 2.0]);
/// # Ok::<(), shaped::ShapeError>(())
/// ```
///
/// # Panics
///
/// If a [`Dyn`](crate::Dyn) dim hides a shape mismatch from the compiler, with the same
/// message in plain decimal.
#[track_caller]
pub fn mse<S, G, E>(pred: &Tensor<S, E>, target: &Tensor<G, E>) -> (E, Tensor<S, E>)
where
    S: Shape,
    G: Shape + ShapeEq<S, MseTarget>,
    E: Element,
{
    let mut grad = Tensor::default();
    let loss = mse_into(pred, target, &mut grad);
    (loss, grad)
}

/// [`mse`] with the gradient written into `grad`, which takes the prediction's shape and keeps
/// its memory when it already has room.
///
/// ```
/// use shaped::{mse_into, Dyn, Tensor, U2};
/// let mut grad = Tensor::default();
/// for rows in [2, 1, 2] {
///     let pred = Tensor::<(Dyn, U2)>::from_vec(vec![1.0; 2 * rows])?;
///     let target = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 2 * rows])?;
///     let loss = mse_into(&pred, &target, &mut grad);
///     assert_eq!(loss, 1.0);
///     assert_eq!(grad.as_slice(), vec![1.0 / rows as f32; 2 * rows]); // 2 (p − t) / |S|
/// }
/// # Ok::<(), shaped::ShapeError>(())
/// ```
///
/// # Panics
///
/// As [`mse`].
#[track_caller]
pub fn mse_into<S, G, E>(pred: &Tensor<S, E>, target: &Tensor<G, E>, grad: &mut Tensor<S, E>) -> E
where
    S: Shape,
    G: Shape + ShapeEq<S, MseTarget>,
    E: Element,
{
    check_dims::<MseTarget>(pred.dims().as_ref(), target.dims().as_ref());
    let count = E::from_usize(pred.as_slice().len()).unwrap_or_else(E::max_value);
    let grad = grad.reset(pred.shape()).as_mut_slice();
    let mut loss = E::zero();
    for ((g, &p), &t) in grad.iter_mut().zip(pred.as_slice()).zip(target.as_slice()) {
        let d = p - t;
        loss += d * d;
        *g = (d + d) / count;
    }
    loss / count
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::consts::*;

    #[test]
    fn cross_entropy_is_finite_where_the_labels_probability_underflows() {
        // exp(−110) underflows in f32 (and exp(−800) in f64); the loss is still 110 (800).
        let z = Tensor::<(U1, U2)>::from_vec(vec![0.0, 110.0]).unwrap();
        let (loss, grad) = softmax_cross_entropy(&z, &[0]).unwrap();
        assert_eq!(loss, 110.0);
        assert_eq!(grad.as_slice(), &[-1.0, 1.0]);
        let z = Tensor::<(U1, U3), f64>::from_vec(vec![-400.0, 400.0, 0.0]).unwrap();
        let (loss, _) = softmax_cross_entropy(&z, &[0]).unwrap();
        assert_eq!(loss, 800.0);
    }
}
