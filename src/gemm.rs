//! The one place matrix products are computed: a safe wrapper over the `gemm` crate.
#![allow(unsafe_code)]

use crate::tensor::Element;

/// A read-only strided matrix view: element `(r, c)` is `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a, E> {
    pub data: &'a [E],
    pub rs: usize,
    pub cs: usize,
}

impl<'a, E> View<'a, E> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [E], cols: usize) -> Self {
        Self {
            data,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [E], cols: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: cols,
        }
    }
}

/// Products below this many flops run on one thread: waking a second one costs more than it
/// saves, and on a shared machine a descheduled worker stalls the whole product.
const PARALLEL_MIN_FLOPS: usize = 4_000_000;

/// Whether `r x c` with strides `rs`, `cs` fits in a slice of `len`.
fn fits(rows: usize, cols: usize, rs: usize, cs: usize, len: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < len
}

/// `dst (m x n) = a (m x k) · b (k x n)`, with `[m, n, k]` given first, plus the old `dst` when `accumulate`.
/// `dst` is row-major with `dst_rs` elements between rows.
///
/// # Panics
///
/// If a view does not fit its slice (an internal error: shapes come from the types).
pub(crate) fn matmul<E: Element>(
    [m, n, k]: [usize; 3],
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    a: View<'_, E>,
    b: View<'_, E>,
) {
    assert!(fits(m, n, dst_rs, 1, dst.len()), "gemm: dst out of bounds");
    assert!(
        fits(m, k, a.rs, a.cs, a.data.len()),
        "gemm: lhs out of bounds"
    );
    assert!(
        fits(k, n, b.rs, b.cs, b.data.len()),
        "gemm: rhs out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    let flops = 2 * m * n * k;
    // Already on a worker of the pool (a batch-parallel layer): the other workers are busy.
    let on_worker = rayon::current_thread_index().is_some();
    let parallelism =
        if flops >= PARALLEL_MIN_FLOPS && !on_worker && rayon::current_num_threads() > 1 {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
    // SAFETY: every index the product touches is inside its slice (asserted above); `dst` is
    // borrowed mutably, so it aliases neither input; `E` is f32 or f64 (sealed), both of which
    // the gemm crate supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            E::one(),
            E::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: View<'_, f64>, b: View<'_, f64>) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for r in 0..m {
            for c in 0..n {
                out[r * n + c] = (0..k)
                    .map(|i| a.data[r * a.rs + i * a.cs] * b.data[i * b.rs + c * b.cs])
                    .sum();
            }
        }
        out
    }

    #[test]
    fn strided_products_match_the_definition() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| i as f64 * 0.5 - 3.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64).sin()).collect();
        for (av, bv) in [
            (View::rows(&a, k), View::rows(&b, n)),
            (View::transposed(&a, m), View::transposed(&b, k)),
        ] {
            let mut dst = vec![1.0; m * n];
            matmul([m, n, k], &mut dst, n, true, av, bv);
            let want = naive(m, n, k, av, bv);
            for (d, w) in dst.iter().zip(&want) {
                assert!((d - (w + 1.0)).abs() < 1e-12, "{d} vs {w} + 1");
            }
        }
    }

    #[test]
    #[should_panic(expected = "lhs out of bounds")]
    fn a_view_past_its_slice_is_refused() {
        let a = [0.0f32; 5];
        let b = [0.0f32; 6];
        let mut dst = [0.0f32; 4];
        matmul(
            [2, 2, 3],
            &mut dst,
            2,
            false,
            View::rows(&a, 3),
            View::rows(&b, 2),
        );
    }
}
