//! The one place matrix products are computed, on a kernel of our own that allocates nothing
//! ([`small`]), shared between the cores in blocks for large products.
#![allow(unsafe_code)]

mod small;

use small::Init;
pub(crate) use small::{cast, cast_mut, lanes};

use core::mem::MaybeUninit;
use core::ops::Range;

use crate::tensor::Element;

/// A read-only strided matrix view: element `(r, c)` is `data[r * rs + c * cs]`, or with a
/// row table, `data[rows[r] + c]` (with a wrap, `data[rows[r] + (c / width) · pitch + c mod
/// width]`).
#[derive(Clone, Copy)]
pub(crate) struct View<'a, E> {
    pub data: &'a [E],
    pub rs: usize,
    pub cs: usize,
    /// Where each row starts, for a matrix whose rows lie anywhere in `data` (contiguous
    /// columns unless they wrap, `rs` unused): a strided convolution's lowered input read in
    /// place from its phase planes, never copied. Only the kernel of [`small`] reads such a
    /// view.
    pub rows: Option<&'a [usize]>,
    /// With a row table: the columns wrap every `width` onto a line `pitch` further on
    /// ([`View::wrapped`], which checks `pitch ≥ width`; only B may wrap).
    pub wrap: Option<Wrap>,
}

/// Columns that wrap: column `j` of a row lies `(j / width) · pitch + j mod width` past the
/// row's start (`pitch ≥ width`). A strided convolution's output rows are `width = WO`
/// positions, read from phase-plane rows `pitch` apart: the product writes the output in
/// place, with no junk columns between its rows.
#[derive(Clone, Copy)]
pub(crate) struct Wrap {
    pub width: usize,
    pub pitch: usize,
}

impl Wrap {
    /// Where the column `by` columns past `at` lies, both as `(line, column in the line)`,
    /// without a division (one by a width known at run time is ~30 cycles, a fifth of a
    /// tile's work at the depth of a 3-channel 3 × 3 convolution).
    #[inline(always)]
    fn advance(self, (mut line, mut col): (usize, usize), by: usize) -> (usize, usize) {
        col += by;
        while col >= self.width {
            col -= self.width;
            line += 1;
        }
        (line, col)
    }
}

impl<'a, E> View<'a, E> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [E], cols: usize) -> Self {
        Self {
            data,
            rs: cols,
            cs: 1,
            rows: None,
            wrap: None,
        }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [E], cols: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: cols,
            rows: None,
            wrap: None,
        }
    }
    /// A matrix whose row `r` is `data[rows[r]..]`.
    pub fn table(data: &'a [E], rows: &'a [usize]) -> Self {
        Self {
            data,
            rs: 0,
            cs: 1,
            rows: Some(rows),
            wrap: None,
        }
    }
    /// A matrix whose row `r` starts at `data[rows[r]..]` and whose columns wrap every `width`
    /// onto a line `pitch` further on ([`Wrap`]).
    pub fn wrapped(data: &'a [E], rows: &'a [usize], width: usize, pitch: usize) -> Self {
        assert!(
            width > 0 && pitch >= width,
            "gemm: a wrap narrower than its lines"
        );
        Self {
            wrap: Some(Wrap { width, pitch }),
            ..Self::table(data, rows)
        }
    }
    /// Where column `c` lies from the start of its row.
    #[inline(always)]
    fn col_offset(&self, c: usize) -> usize {
        match self.wrap {
            Some(Wrap { width, pitch }) => (c / width) * pitch + c % width,
            None => c * self.cs,
        }
    }
    /// Where row `r` starts in `data`.
    #[inline(always)]
    fn row_start(&self, r: usize) -> usize {
        match self.rows {
            Some(rows) => rows[r],
            None => r * self.rs,
        }
    }
    /// Whether `rows x cols` of the view lie in its slice.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        match self.rows {
            _ if rows == 0 || cols == 0 => true,
            // A wrap whose lines overlap would put columns before the last one further on.
            Some(_) if self.wrap.is_some_and(|w| w.width == 0 || w.pitch < w.width) => false,
            Some(table) => {
                // The last column lies furthest on (`pitch ≥ width`).
                let last = self.col_offset(cols - 1);
                table.len() >= rows && table[..rows].iter().all(|&r| r + last < self.data.len())
            }
            None => fits(rows, cols, self.rs, self.cs, self.data.len()),
        }
    }
}

/// Products below this many flops run on one thread: sharing them costs more than it saves,
/// and on a shared machine a descheduled worker stalls the whole product. Measured on the
/// 2-core Intel VM (`Affine::forward_train`, back to back so that the helper is looking for
/// work; time on two threads over one): (32, 128, 128) 0.81×, (64, 128, 128) 1.03×,
/// (64, 256, 128) 0.75×, (64, 256, 256) 0.64×: shared from 4 MFLOP on. On the 2-core Zen 5
/// VM (`set_num_threads` alternated in one process) the products alone gained below it too,
/// (32, 128, 128) 0.70× and (64, 128, 128) 0.68× with the cutoff at 0.5 MFLOP, but whole
/// training steps did not: with 1 MFLOP the digits CNN's step took 1.10× the time (its 32 ×
/// 512 → 64 layer shared) and LeNet-5's 1.01× (runs of a training step alternated in one
/// process, medians of 700–6,700 pairs). So 4 MFLOP on both.
const PARALLEL_MIN_FLOPS: usize = 4_000_000;

/// A parallel product is split into column blocks of `dst`, each computed on one thread (by
/// the gemm crate when this was measured; by [`small`] since), shared with the idle core
/// through `crate::par` (which never waits for a helper to wake, unlike entering rayon's pool
/// from outside it). Measured (f32, 2-core Zen 4
/// VM, other work paused, medians of 200 calls of `Affine::forward_train`):
///
/// | `X·Wᵀ` (m, n, k)   | one thread | gemm crate on rayon | 2 row blocks | 4 column blocks | 8 column blocks |
/// |--------------------|-----------:|--------------------:|-------------:|----------------:|----------------:|
/// | (64, 256, 784)     | 286 µs     | 307 µs              | 196 µs       | 155–182 µs      | 143–170 µs      |
/// | (256, 1024, 1024)  | 5.56 ms    | 3.13–3.23 ms        |              | 2.84 ms         | 2.79–2.85 ms    |
///
/// The gemm crate's own threading kept the first product on one core; column blocks read a
/// slice of `b` each (row blocks re-read all of it).
///
/// Every block reads all of `a` again (and sets up a product of its own). On a 2-core Intel VM
/// (AVX-512, two FMA units; `benches/vs_pytorch.py`, 2 threads, medians over 5 rounds, two
/// runs each) 4 blocks against 8: `(64, 256, 784)` + ReLU forward 103–108 µs against 126 µs,
/// `(256, 1024, 1024)` forward 2.02–2.07 ms against 2.09–2.12 ms (2 blocks: 102–109 µs and
/// 1.98 ms, but no slack for a helper that wakes late).
/// Blocks are at least this wide or tall (a few micro-kernel tiles)…
const SPLIT_MIN: usize = 32;
/// …and there are at most this many, so a helper that wakes late still finds blocks to take.
const SPLIT_TASKS: usize = 4;

// Every product runs on [`small`], which allocates nothing: the gemm crate, which ran the
// products of 4 MFLOP and more before, allocates a packing buffer and a vector of flags on
// every call (gemm-common 0.19, `src/gemm.rs` lines 437 and 490) and takes no memory from its
// caller, so a training step of the digits CNN at a batch of 64 or more made 10 allocations
// (about 300 KB) where the allocation guarantee says none. Measured on the 2-core Zen 5 VM
// (f32, medians of 5–1,000 interleaved calls, time of `small` over the gemm crate's with
// its allocations):
//
// - one thread, the whole product on each: `X·Wᵀ` (64..256, 64, 512) 0.57–0.88, (64, 256,
//   784) 1.11, (256, 1024, 1024) 0.66; `A·B` (64..256, 512, 64) 0.93–1.09, (256, 1024, 1024)
//   1.14; `Aᵀ·B` (64, 512, 64..256) 0.90–1.00, (1024, 1024, 256) 1.15;
// - two threads, in the column blocks below (the gemm crate's blocks as before): `X·Wᵀ`
//   0.50–1.18, `A·B` 0.94–1.25, `Aᵀ·B` with a short depth 1.05–1.54 (its transposed `A` read
//   again by every block).
//
// In `benches/vs_pytorch.py` (2 threads, 9 rounds, two runs of each build alternated in one
// hour) the affine layers of 64 × 784 → 256 and 256 × 1024 → 1024 took 1.15–1.31× the time
// (ratios to PyTorch 0.42–0.49 → 0.47–0.60); every other workload, whose products were
// already on `small`, moved within the noise. Blocks of rows instead of columns (each block
// packing all of `B` again) took those layers 0.56–0.80 of PyTorch's time.

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
    mnk: [usize; 3],
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    a: View<'_, E>,
    b: View<'_, E>,
) {
    matmul_init(mnk, dst, dst_rs, accumulate.into(), a, b);
}

/// `dst (m x n) = bias · 1ᵀ + a (m x k) · b (k x n)`: `bias[i]` added to row `i` of the
/// product. A product on one thread adds it as it stores each tile; a split one fills `dst`
/// with it first and its blocks add to it. Either way each element is `bias + (partial sums
/// in order)`, bit for bit what a fill and an accumulating product give.
///
/// # Panics
///
/// As [`matmul`], or if `bias` is shorter than `m`.
pub(crate) fn matmul_bias<E: Element>(
    mnk: [usize; 3],
    dst: &mut [E],
    dst_rs: usize,
    bias: &[E],
    a: View<'_, E>,
    b: View<'_, E>,
) {
    assert!(bias.len() >= mnk[0], "gemm: bias too short");
    matmul_init(mnk, dst, dst_rs, Init::Bias(bias), a, b);
}

/// [`matmul`] and [`matmul_bias`]: `dst` written, added to, or set to the bias plus the product.
fn matmul_init<E: Element>(
    mnk: [usize; 3],
    dst: &mut [E],
    dst_rs: usize,
    init: Init<'_, E>,
    a: View<'_, E>,
    b: View<'_, E>,
) {
    if let Some(p) = start(mnk, dst, dst_rs, init, a, b) {
        p.run();
    }
}

/// Where a product of [`matmul_two`] goes.
pub(crate) enum Out<'a, E> {
    /// The caller's `dst`, rows `dst_rs` apart, written or (`true`) added to.
    Slice(&'a mut [E], usize, bool),
    /// A new `m × n` result in this `Vec` (cleared, then `m · n` zeros, rows `n` apart),
    /// written by the product. Written rather than added to the zeros, an element whose sum
    /// is −0.0 stays −0.0 (added to +0.0 it is +0.0): equal as numbers, as PyTorch's first
    /// backward pass writes a fresh `.grad`.
    Fresh(&'a mut Vec<E>),
}

/// Two independent products, each `a·b` into an [`Out`] (their destinations are distinct
/// `&mut` borrows), their blocks shared out in one parallel pass when both are split: the
/// caller starts on the first one's blocks and a helper on the second's, and neither waits at
/// the end of the first product for the other to finish a block. The affine layer's backward
/// pass (`dX` and `dW`) runs through here.
pub(crate) fn matmul_two<E: Element>(
    first: ([usize; 3], Out<'_, E>, View<'_, E>, View<'_, E>),
    second: ([usize; 3], Out<'_, E>, View<'_, E>, View<'_, E>),
) {
    matmul_two_with(first, second, |mnk| {
        split(mnk).map(|s| Split {
            tasks: s.tasks.min(TWO_SPLIT_TASKS),
            ..s
        })
    });
}

/// The most blocks each product of [`matmul_two`] is cut in: two products of two blocks are
/// four tasks, as many as one product has (`SPLIT_TASKS`), so a helper that wakes late still
/// finds work. Measured on the 2-core Intel VM (interleaved A/B of the benchmark binary, 2
/// threads): the affine layer 64 × 784 → 256 + ReLU forward+backward 0.96× the time (0.90–1.05,
/// 15 rounds) with 2 blocks each against 4; with 1 each 1.04× against 2; 256 × 1024 → 1024
/// unchanged (0.99×, 1.00×).
const TWO_SPLIT_TASKS: usize = 2;

/// [`matmul_two`] with the splits chosen by `choose` (the tests split products of any size).
fn matmul_two_with<E: Element>(
    first: ([usize; 3], Out<'_, E>, View<'_, E>, View<'_, E>),
    second: ([usize; 3], Out<'_, E>, View<'_, E>, View<'_, E>),
    choose: impl Fn([usize; 3]) -> Option<Split>,
) {
    let (mnk, out, a, b) = first;
    let first = start_out(mnk, out, a, b, &choose);
    let (mnk, out, a, b) = second;
    let second = start_out(mnk, out, a, b, &choose);
    match (first, second) {
        (Some(p), Some(q)) => {
            let tasks = p.split.tasks;
            // SAFETY: `for_tasks` runs each task below `tasks + q.split.tasks` once: each block
            // of either product once.
            crate::par::for_tasks(tasks + q.split.tasks, |t| unsafe {
                if t < tasks {
                    p.block(t)
                } else {
                    q.block(t - tasks)
                }
            });
        }
        (Some(p), None) | (None, Some(p)) => p.run(),
        (None, None) => {}
    }
}

/// [`start`] for an [`Out`]: a fresh product writes a zero-filled `Vec`. (Zeroing each split
/// block's part on the core that then writes it, as `par::Buf::Fresh` does, measured slower:
/// the 256 × 1024 → 1024 layer's allocating forward+backward took 5.34–5.56 ms against
/// 4.86–5.02 ms, 2 threads, three runs of each build alternated.)
fn start_out<'a, E: Element>(
    [m, n, k]: [usize; 3],
    out: Out<'a, E>,
    a: View<'a, E>,
    b: View<'a, E>,
    choose: impl FnOnce([usize; 3]) -> Option<Split>,
) -> Option<SplitProduct<'a, E>> {
    match out {
        Out::Slice(dst, dst_rs, accumulate) => {
            start_with([m, n, k], dst, dst_rs, accumulate.into(), a, b, choose)
        }
        Out::Fresh(v) => {
            // `m · n` fits: the lhs holds `m` rows and the rhs `n` columns of one depth, and
            // the callers' products are the size of tensors that exist (`dX` is `X`'s, `dW`
            // is `W`'s).
            v.clear();
            v.resize(m * n, E::zero());
            start_with([m, n, k], v, n, Init::Write, a, b, choose)
        }
    }
}

/// Checks a product and runs it now when it is not split (on this thread); a split product is
/// returned with `dst` prepared (filled with the bias when it has one), for its blocks to run.
fn start<'a, E: Element>(
    mnk: [usize; 3],
    dst: &'a mut [E],
    dst_rs: usize,
    init: Init<'_, E>,
    a: View<'a, E>,
    b: View<'a, E>,
) -> Option<SplitProduct<'a, E>> {
    start_with(mnk, dst, dst_rs, init, a, b, split)
}

/// [`start`] with the split chosen by `choose` (the tests split products of any size).
fn start_with<'a, E: Element>(
    [m, n, k]: [usize; 3],
    dst: &'a mut [E],
    dst_rs: usize,
    init: Init<'_, E>,
    a: View<'a, E>,
    b: View<'a, E>,
    choose: impl FnOnce([usize; 3]) -> Option<Split>,
) -> Option<SplitProduct<'a, E>> {
    assert!(fits(m, n, dst_rs, 1, dst.len()), "gemm: dst out of bounds");
    // Rows that overlap would be written by two blocks at once (see `on_this_thread`).
    assert!(m < 2 || dst_rs >= n, "gemm: dst rows overlap");
    assert!(a.fits(m, k), "gemm: lhs out of bounds");
    assert!(b.fits(k, n), "gemm: rhs out of bounds");
    assert!(a.wrap.is_none(), "gemm: only B may wrap");
    if m == 0 || n == 0 {
        return None;
    }
    if a.rows.is_some() || b.rows.is_some() {
        // Only the small kernel reads row tables; such products run inside a batch-parallel
        // pass, on one thread each.
        small::matmul([m, n, k], dst, dst_rs, init, a, b);
        return None;
    }
    let Some(split) = choose([m, n, k]) else {
        small::matmul([m, n, k], dst, dst_rs, init, a, b);
        return None;
    };
    let accumulate = init.fill([m, n], dst, dst_rs);
    Some(SplitProduct {
        split,
        mnk: [m, n, k],
        out: SharedDst(dst.as_mut_ptr()),
        dst_rs,
        accumulate,
        a,
        b,
    })
}

/// A product split in blocks (see [`start`]), its destination borrowed for `'a` (through `out`,
/// a pointer into a `&'a mut [E]`).
struct SplitProduct<'a, E> {
    split: Split,
    mnk: [usize; 3],
    out: SharedDst<E>,
    dst_rs: usize,
    accumulate: bool,
    a: View<'a, E>,
    b: View<'a, E>,
}

impl<E: Element> SplitProduct<'_, E> {
    /// Every block, on this thread and the helpers.
    fn run(self) {
        // SAFETY: `for_tasks` runs each task below `tasks` once.
        crate::par::for_tasks(self.split.tasks, |t| unsafe { self.block(t) });
    }

    /// Block `t` of the product, on this thread.
    ///
    /// # Safety
    ///
    /// `t < self.split.tasks`, and each `t` runs once (blocks write disjoint parts of `dst`
    /// through a shared pointer).
    unsafe fn block(&self, t: usize) {
        let (
            Split {
                by_rows,
                len,
                tasks,
                ..
            },
            [m, n, k],
        ) = (&self.split, self.mnk);
        let Range { start, end } = block(*len, *tasks, t);
        let size = end - start;
        let (a, b, dst_rs) = (self.a, self.b, self.dst_rs);
        // (With a depth of 0 the operands are empty: a block's slice of them too.)
        let (mnk, offset, a, b) = if *by_rows {
            let a = View {
                data: a.data.get(start * a.rs..).unwrap_or_default(),
                ..a
            };
            ([size, n, k], start * dst_rs, a, b)
        } else {
            let b = View {
                data: b.data.get(start * b.cs..).unwrap_or_default(),
                ..b
            };
            ([m, size, k], start, a, b)
        };
        // SAFETY: block `t` writes rows (or columns) `start..start + size` of the `m × n`
        // product in `dst`, which all lie in `dst` (asserted in `start_with`); no other block
        // writes them (each `t` runs once), and `dst` is borrowed mutably for `'a`.
        unsafe { on_this_thread(mnk, self.out.at(offset), dst_rs, self.accumulate, a, b) };
    }
}

/// How a product is shared between the cores: `tasks` blocks (see [`block`]) of the `len` rows
/// (`by_rows`) or columns of `dst`, each a one-thread product, shared with the idle core through
/// `par` (which never waits for a helper to wake). Blocks of columns each read a slice of `b`;
/// blocks of rows are for products with too few columns. Results do not depend on who runs a
/// block: each is the same product either way.
struct Split {
    by_rows: bool,
    len: usize,
    tasks: usize,
}

/// The split of an `m × n × k` product, or `None` to run it on this thread: below
/// [`PARALLEL_MIN_FLOPS`], inside a parallel pass already (a batch-parallel layer: the helpers
/// are taken), on one thread, or too narrow and too short to split.
fn split([m, n, k]: [usize; 3]) -> Option<Split> {
    let flops = 2 * m * n * k;
    let (by_rows, len) = if flops < PARALLEL_MIN_FLOPS || crate::par::busy() {
        return None;
    } else if n >= 2 * SPLIT_MIN {
        (false, n)
    } else if m >= 2 * SPLIT_MIN {
        (true, m)
    } else {
        return None;
    };
    let tasks = tasks(len);
    // `share` is asked last, for a product that can be split: it starts the helpers (small
    // products never ask; nor does anything under a cap of one thread) and notes a pass that
    // ran alone.
    if !crate::par::share(true, flops >= crate::par::WAKE_MIN_FLOPS) {
        return None;
    }
    Some(Split {
        by_rows,
        len,
        tasks,
    })
}

/// How many blocks `len` rows or columns are split in: blocks of about [`SPLIT_MIN`] or more,
/// at most [`SPLIT_TASKS`] of them.
fn tasks(len: usize) -> usize {
    (len / SPLIT_MIN).clamp(1, SPLIT_TASKS)
}

/// Rows or columns are given to blocks in whole units of this many: [`small`] covers `dst`'s
/// columns in panels of 32 f32 on AVX-512 (16 on a narrow last panel: a vector), and a block
/// whose width is not a multiple of 16 ends in a panel computed at full cost for a few columns.
/// The affine layer's backward products split 784 columns in 4 blocks of 196 (the last 4
/// columns a 16-wide panel); in units of 16 they are 192, 192, 192 and 208.
const BLOCK_UNIT: usize = 16;

/// Block `t` of `tasks` over `0..len`: whole [`BLOCK_UNIT`]s shared out as evenly as they go
/// (the last block ends at `len`). The blocks cover `0..len` once, in order; none is empty when
/// `len` holds at least `tasks` units.
fn block(len: usize, tasks: usize, t: usize) -> Range<usize> {
    let units = len.div_ceil(BLOCK_UNIT);
    let at = |t: usize| (units * t / tasks.max(1) * BLOCK_UNIT).min(len);
    at(t)..at(t + 1)
}

/// `dst (m x n) = a (m x k) · wᵀ` (plus `bias` on every row when given, or plus the old `dst`
/// when `accumulate`) for a row-major `w` (`n x k`), read through a copy in `pad`
/// (cleared, then `n` rows `stride ≥ k` apart, zero past each row's `k`; its capacity is kept,
/// so a kept `pad` allocates only the first time). The product of a transposed `w` whose rows
/// are a multiple of 4 KiB long runs far slower than on a padded copy (see `Affine`'s
/// `padded_rows`), but the copy costs too: 0.28 ms for 1024 × 1024 f32 on one core of a 2-core
/// Intel VM, against 3.2 ms for the 256 × 1024 × 1024 product. When the product is split in
/// column blocks, each task copies its own rows of `w` just before it multiplies them (the copy
/// spread over the cores, and in the cache the product packs from), instead of the calling
/// thread copying all of `w` first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_padded<E: Element>(
    [m, n, k]: [usize; 3],
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    a: View<'_, E>,
    w: &[E],
    bias: Option<&[E]>,
    pad: &mut Vec<E>,
    stride: usize,
) {
    assert!(stride >= k && w.len() >= n * k, "gemm: bad padded copy");
    assert!(bias.is_none_or(|b| b.len() >= n), "gemm: bias too short");
    // With a bias, each block writes it into its columns first (on its own core, in cache).
    let accumulate = accumulate || bias.is_some();
    assert!(fits(m, n, dst_rs, 1, dst.len()), "gemm: dst out of bounds");
    assert!(m < 2 || dst_rs >= n, "gemm: dst rows overlap");
    assert!(a.fits(m, k), "gemm: lhs out of bounds");
    let len = n * stride;
    pad.clear();
    pad.reserve(len);
    let rows = SharedDst(pad.as_mut_ptr());
    // Writes rows `r` of the copy, every element of them (row `i` at `i · stride`).
    let copy = |r: Range<usize>| {
        // SAFETY: rows `r` lie below `n`, inside the `n · stride` elements reserved above;
        // each row range is given to one caller only (the blocks are disjoint), and nothing
        // reads the copy until every row is written.
        let out = unsafe {
            core::slice::from_raw_parts_mut(
                rows.at(r.start * stride).cast::<MaybeUninit<E>>(),
                r.len() * stride,
            )
        };
        let src = &w[r.start * k..r.end * k];
        for (dst, src) in out.chunks_exact_mut(stride).zip(src.chunks_exact(k.max(1))) {
            let (row, tail) = dst.split_at_mut(k);
            // A `memcpy` (an element loop compiled to 16-byte moves). SAFETY: `row` and `src`
            // are both `k` elements long (`MaybeUninit<E>` has the layout of `E`), and `src`
            // lies in `w`, which the copy does not overlap (`pad` is borrowed mutably).
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), row.as_mut_ptr().cast(), k) };
            for d in tail {
                d.write(E::zero());
            }
        }
        if k == 0 {
            for d in out {
                d.write(E::zero());
            }
        }
    };
    // Column blocks, on both cores when the product is split, else one after the other on
    // this thread: a block's rows are still in cache when the product packs them (on one core
    // of the Intel VM, copy and product of 256 × 1024 × 1024 in 4 blocks took 3.89–3.93 ms, in
    // one 4.25–5.36 ms, the product alone 3.89–4.05 ms). Too few columns: one block.
    let (tasks, parallel) = match split([m, n, k]) {
        Some(s) if !s.by_rows && k > 0 => (s.tasks, true),
        _ if n >= 2 * SPLIT_MIN && k > 0 => (tasks(n), false),
        _ => (1, false),
    };
    if tasks > 1 {
        let out = SharedDst(dst.as_mut_ptr());
        let task = |t: usize| {
            let Range { start, end } = block(n, tasks, t);
            let size = end - start;
            if size == 0 {
                return;
            }
            if let Some(bias) = bias {
                for r in 0..m {
                    // SAFETY: columns `start..start + size` of row `r < m` lie in `dst`
                    // (asserted above) and belong to this block alone; `dst` is borrowed
                    // mutably for the whole call.
                    let row = unsafe {
                        core::slice::from_raw_parts_mut(out.at(r * dst_rs + start), size)
                    };
                    row.copy_from_slice(&bias[start..start + size]);
                }
            }
            copy(start..start + size);
            // SAFETY: this task wrote every element of its rows just above, and no other task
            // writes them; the `size` rows lie inside the reserved `n · stride`.
            let p = unsafe { core::slice::from_raw_parts(rows.at(start * stride), size * stride) };
            let b = View::transposed(&p[..(size - 1) * stride + k], stride);
            // SAFETY: block `t` writes columns `start..start + size` of the `m × n` product in
            // `dst`, which all lie in `dst` (asserted above); no other block writes them, and
            // `dst` is borrowed mutably for the whole call. `b` is the `k × size` transpose of
            // the block's rows.
            unsafe { on_this_thread([m, size, k], out.at(start), dst_rs, accumulate, a, b) };
        };
        if parallel {
            crate::par::for_tasks(tasks, task);
        } else {
            (0..tasks).for_each(task);
        }
    } else {
        copy(0..n);
    }
    // SAFETY: every row `0..n` was written whole: by the blocks (which cover `0..n`, see
    // `block`), or all at once above.
    unsafe { pad.set_len(len) };
    if tasks <= 1 {
        if let Some(bias) = bias {
            for row in dst.chunks_mut(dst_rs.max(1)).take(m) {
                row[..n].copy_from_slice(&bias[..n]);
            }
        }
        let b = View::transposed(pad, stride);
        matmul([m, n, k], dst, dst_rs, accumulate, a, b);
    }
}

/// The destination of a product split in blocks (or the padded copy of `matmul_padded`),
/// shared by the blocks' tasks.
struct SharedDst<E>(*mut E);
// SAFETY: the tasks write disjoint blocks (see `SplitProduct::block`, `matmul_padded`).
unsafe impl<E: Send> Sync for SharedDst<E> {}

impl<E> SharedDst<E> {
    /// The pointer `offset` elements in.
    fn at(&self, offset: usize) -> *mut E {
        self.0.wrapping_add(offset)
    }
}

/// A block of a product, on this thread.
///
/// # Safety
///
/// `dst[r * dst_rs + c]` for `r < m`, `c < n` is initialised memory the caller may write, that
/// nothing else reads or writes during the call (rows do not overlap: `dst_rs ≥ n`).
unsafe fn on_this_thread<E: Element>(
    [m, n, k]: [usize; 3],
    dst: *mut E,
    dst_rs: usize,
    accumulate: bool,
    a: View<'_, E>,
    b: View<'_, E>,
) {
    if m > 0 && n > 0 {
        // SAFETY: the caller's contract.
        let dst = unsafe { small::Dst::from_raw(dst, dst_rs, m, n) };
        small::matmul_dst([m, n, k], dst, accumulate.into(), a, b);
    }
}

/// Asks the CPU to bring the cache line holding `x` towards the caches (a hint: nothing on
/// targets without one). For reads that cross into a new 4 KiB page, where the hardware
/// prefetcher stops.
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory; `x` is a live reference anyway.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast::<i8>(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
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
    fn padded_products_match_the_definition() {
        // In column blocks on both cores (each copying its rows of `w`) when large enough and
        // the machine has two threads; in blocks on this thread inside a parallel pass (the
        // helpers are taken); in one block when narrow. A kept `pad` is reused.
        let pad = std::sync::Mutex::new(vec![f64::NAN; 3]);
        for (m, n, k) in [(64, 256, 512), (3, 5, 4), (2, 3, 0), (1, 300, 64)] {
            let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
            let w: Vec<f64> = (0..n * k).map(|i| ((i * 5) % 13) as f64 * 0.25).collect();
            let want = naive(m, n, k, View::rows(&a, k), View::transposed(&w, k));
            let bias: Vec<f64> = (0..n).map(|j| j as f64 - 0.5).collect();
            let cases = [
                (false, None, false),
                (true, None, false),
                (true, None, true),
                (false, Some(&bias[..]), false),
                (false, Some(&bias[..]), true),
            ];
            for (accumulate, bias, inside_a_pass) in cases {
                let stride = k + 8;
                let run = || {
                    let mut dst = vec![1.0; m * n];
                    let pad = &mut *pad.lock().unwrap();
                    let a = View::rows(&a, k);
                    matmul_padded([m, n, k], &mut dst, n, accumulate, a, &w, bias, pad, stride);
                    assert_eq!(pad.len(), n * stride);
                    dst
                };
                let dst = if inside_a_pass {
                    let out = std::sync::Mutex::new(Vec::new());
                    crate::par::for_tasks(2, |t| {
                        if t == 0 {
                            *out.lock().unwrap() = run();
                        }
                    });
                    out.into_inner().unwrap()
                } else {
                    run()
                };
                for (i, (d, w)) in dst.iter().zip(&want).enumerate() {
                    let start = match bias {
                        Some(b) => b[i % n],
                        None if accumulate => 1.0,
                        None => 0.0,
                    };
                    let w = w + start;
                    assert!((d - w).abs() < 1e-9, "{m}x{n}x{k}: {d} vs {w}");
                }
            }
        }
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

    /// `matmul` against the definition in all four orientations, with and without accumulation,
    /// with padding between the rows of `dst` that must stay untouched.
    fn check_orientations<E: Element>([m, n, k]: [usize; 3], orientations: &[(bool, bool)]) {
        let a: Vec<E> = (0..m * k)
            .map(|i| E::from_usize(i % 13).unwrap() - E::from_f64(6.5).unwrap())
            .collect();
        let b: Vec<E> = (0..k * n)
            .map(|i| E::from_usize(i % 7).unwrap() * E::from_f64(0.25).unwrap())
            .collect();
        let dst_rs = n + 3;
        for &(at, bt) in orientations {
            let av = if at {
                View::transposed(&a, m)
            } else {
                View::rows(&a, k)
            };
            let bv = if bt {
                View::transposed(&b, k)
            } else {
                View::rows(&b, n)
            };
            let (a64, b64): (Vec<f64>, Vec<f64>) = (
                a.iter().map(|x| x.to_f64().unwrap()).collect(),
                b.iter().map(|x| x.to_f64().unwrap()).collect(),
            );
            let want = naive(
                m,
                n,
                k,
                View {
                    data: &a64,
                    rs: av.rs,
                    cs: av.cs,
                    rows: None,
                    wrap: None,
                },
                View {
                    data: &b64,
                    rs: bv.rs,
                    cs: bv.cs,
                    rows: None,
                    wrap: None,
                },
            );
            for accumulate in [false, true] {
                let mut dst = vec![E::one(); m * dst_rs];
                matmul([m, n, k], &mut dst, dst_rs, accumulate, av, bv);
                for (r, row) in dst.chunks(dst_rs).enumerate() {
                    for (c, d) in row.iter().enumerate() {
                        let d = d.to_f64().unwrap();
                        let w = if c >= n {
                            1.0
                        } else {
                            want[r * n + c] + if accumulate { 1.0 } else { 0.0 }
                        };
                        let tol = if E::NAME == "f32" { 1e-5 } else { 1e-12 };
                        assert!(
                            (d - w).abs() <= tol * (1.0 + w.abs()),
                            "{} [{m}, {n}, {k}] a transposed {at}, b transposed {bt}, \
                             accumulate {accumulate}: ({r}, {c}) is {d}, expected {w}",
                            E::NAME
                        );
                    }
                }
            }
        }
    }

    const ALL: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

    #[test]
    fn row_table_products_match_the_definition() {
        // Rows scattered through one buffer, out of order and overlapping (as a strided
        // convolution's lowering reads its phase planes), as A, as B, and as both; sizes with
        // narrow last panels, short tiles and several depth blocks.
        fn run<E: Element>([m, n, k]: [usize; 3]) {
            let data: Vec<E> = (0..3 * (m + k) * (n + k) + 64)
                .map(|i| E::from_usize(i % 11).unwrap() - E::from_f64(5.0).unwrap())
                .collect();
            let data64: Vec<f64> = data.iter().map(|x| x.to_f64().unwrap()).collect();
            let starts = |rows: usize, len: usize| -> Vec<usize> {
                (0..rows).map(|r| (r * 7919) % (data.len() - len)).collect()
            };
            let (ta, tb) = (starts(m, k), starts(k, n));
            let plain_a: Vec<E> = (0..m * k).map(|i| E::from_usize(i % 5).unwrap()).collect();
            let plain_b: Vec<E> = (0..k * n).map(|i| E::from_usize(i % 3).unwrap()).collect();
            let to64 = |v: &[E]| -> Vec<f64> { v.iter().map(|x| x.to_f64().unwrap()).collect() };
            let (pa64, pb64) = (to64(&plain_a), to64(&plain_b));
            let at = |t: &[usize], d: &[f64], cols: usize| -> Vec<f64> {
                t.iter().flat_map(|&s| d[s..s + cols].to_vec()).collect()
            };
            let cases = [
                (
                    View::table(&data, &ta),
                    View::rows(&plain_b, n),
                    at(&ta, &data64, k),
                    pb64.clone(),
                ),
                (
                    View::rows(&plain_a, k),
                    View::table(&data, &tb),
                    pa64.clone(),
                    at(&tb, &data64, n),
                ),
                (
                    View::table(&data, &ta),
                    View::table(&data, &tb),
                    at(&ta, &data64, k),
                    at(&tb, &data64, n),
                ),
            ];
            for (a, b, a64, b64) in cases {
                let want = naive(m, n, k, View::rows(&a64, k), View::rows(&b64, n));
                let mut dst = vec![E::one(); m * n];
                matmul([m, n, k], &mut dst, n, true, a, b);
                for (i, (d, w)) in dst.iter().zip(&want).enumerate() {
                    let d = d.to_f64().unwrap();
                    assert!(
                        (d - 1.0 - w).abs() < 1e-9 * (1.0 + w.abs()),
                        "{m}x{n}x{k} [{i}]: {d} vs 1 + {w}"
                    );
                }
            }
        }
        for mnk in [[3, 5, 2], [32, 272, 144], [9, 48, 300], [17, 33, 129]] {
            run::<f32>(mnk);
            run::<f64>(mnk);
        }
    }

    #[test]
    fn wrapped_row_table_products_match_the_definition() {
        // B's rows from a table, their columns wrapping every `width` onto lines `pitch`
        // apart (a strided convolution's output rows read from its phase planes): widths that
        // are a multiple of every kernel's vector (read in place by vectors), and widths that
        // are not (packed), with narrow last panels and several depth blocks.
        fn run<E: Element>([m, n, k]: [usize; 3], width: usize, pitch: usize) {
            let span = ((n - 1) / width) * pitch + (n - 1) % width + 1;
            let data: Vec<E> = (0..3 * k * span + 64)
                .map(|i| E::from_usize(i % 13).unwrap() - E::from_f64(6.0).unwrap())
                .collect();
            let starts: Vec<usize> = (0..k).map(|r| (r * 7919) % (data.len() - span)).collect();
            let plain_a: Vec<E> = (0..m * k).map(|i| E::from_usize(i % 7).unwrap()).collect();
            let a64: Vec<f64> = plain_a.iter().map(|x| x.to_f64().unwrap()).collect();
            let b64: Vec<f64> = starts
                .iter()
                .flat_map(|&s| {
                    let data = &data;
                    (0..n).map(move |j| data[s + (j / width) * pitch + j % width].to_f64().unwrap())
                })
                .collect();
            let want = naive(m, n, k, View::rows(&a64, k), View::rows(&b64, n));
            let b = View::wrapped(&data, &starts, width, pitch);
            // The bias added as the tiles are stored (a row table), and the same product of a
            // plain B (split in blocks when large: a fill first).
            let bias: Vec<E> = (0..m).map(|i| E::from_usize(3 * i + 1).unwrap()).collect();
            let plain_b: Vec<E> = b64.iter().map(|&x| E::from_f64(x).unwrap()).collect();
            for bv in [b, View::rows(&plain_b, n)] {
                let mut dst = vec![E::nan(); m * n];
                matmul_bias([m, n, k], &mut dst, n, &bias, View::rows(&plain_a, k), bv);
                for (i, (d, w)) in dst.iter().zip(&want).enumerate() {
                    let (d, w) = (d.to_f64().unwrap(), w + bias[i / n].to_f64().unwrap());
                    assert!(
                        (d - w).abs() < 1e-9 * (1.0 + w.abs()),
                        "bias [{i}]: {d} vs {w}"
                    );
                }
            }
            for accumulate in [false, true] {
                let mut dst = vec![E::one(); m * n];
                matmul(
                    [m, n, k],
                    &mut dst,
                    n,
                    accumulate,
                    View::rows(&plain_a, k),
                    b,
                );
                let old = if accumulate { 1.0 } else { 0.0 };
                for (i, (d, w)) in dst.iter().zip(&want).enumerate() {
                    let d = d.to_f64().unwrap();
                    assert!(
                        (d - old - w).abs() < 1e-9 * (1.0 + w.abs()),
                        "{m}x{n}x{k} wrap {width}/{pitch} [{i}]: {d} vs {old} + {w}"
                    );
                }
            }
        }
        for (mnk, width, pitch) in [
            ([32, 256, 144], 16, 17),
            ([9, 272, 145], 16, 17),
            ([8, 64, 27], 32, 35),
            ([5, 48, 300], 16, 19),
            ([17, 40, 20], 8, 9),
            ([7, 35, 9], 5, 6),
            ([2, 3, 2], 3, 3),
        ] {
            run::<f32>(mnk, width, pitch);
            run::<f64>(mnk, width, pitch);
        }
    }

    #[test]
    fn small_products_match_the_definition_in_every_orientation() {
        for mnk in [
            [1, 1, 1],
            [4, 3, 2],
            [33, 65, 130],
            [9, 64, 32],
            [32, 10, 128],
        ] {
            check_orientations::<f32>(mnk, &ALL);
            check_orientations::<f64>(mnk, &ALL);
        }
    }

    #[test]
    fn large_products_split_in_column_blocks_match_the_definition() {
        // 34 MFLOP: in column blocks, on two threads where the pool has them.
        check_orientations::<f32>([128, 256, 520], &[(false, true), (true, false)]);
    }

    #[test]
    fn split_products_match_the_definition_whatever_order_the_blocks_run_in() {
        // Products split by columns and by rows into 1 to 5 blocks, the blocks run in reverse
        // on this thread, with a bias and adding to `dst`: equal to the definition. (Whether a
        // product is split at all depends on its size and on the helpers; here it always is.)
        for ([m, n, k], by_rows) in [
            ([8, 250, 33], false),
            ([250, 7, 20], true),
            ([3, 40, 5], false),
        ] {
            for tasks in 1..=5 {
                let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
                let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
                let bias: Vec<f64> = (0..m).map(|i| i as f64 * 0.5).collect();
                let (av, bv) = (View::rows(&a, k), View::transposed(&b, k));
                let want = naive(m, n, k, av, View::transposed(&b, k));
                let len = if by_rows { m } else { n };
                for init in [Init::Write, Init::Add, Init::Bias(&bias)] {
                    let mut dst: Vec<f64> = (0..m * n).map(|i| i as f64).collect();
                    let old = dst.clone();
                    let split = Split {
                        by_rows,
                        len,
                        tasks,
                    };
                    let p = start_with([m, n, k], &mut dst, n, init, av, bv, |_| Some(split));
                    let p = p.expect("split as chosen");
                    // SAFETY: each block once, on this thread.
                    (0..tasks).rev().for_each(|t| unsafe { p.block(t) });
                    for (i, (&got, &w)) in dst.iter().zip(&want).enumerate() {
                        let expected = match init {
                            Init::Write => w,
                            Init::Add => w + old[i],
                            Init::Bias(bias) => w + bias[i / n],
                        };
                        assert_eq!(
                            got, expected,
                            "{m}x{n}x{k} in {tasks} blocks, by rows {by_rows}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fresh_products_write_every_element_split_or_not() {
        // A fresh destination (its old contents and spare capacity NaN, overwritten with zeros
        // before the product): split by columns or rows into 1 to 5 blocks run in reverse, or
        // not split; every element equals the definition. One row or column, depths of 0, 1
        // and 2 and over one depth block, tiny blocks.
        for ([m, n, k], by_rows) in [
            ([8, 250, 33], false),
            ([250, 7, 20], true),
            ([4, 40, 0], false),
            ([1, 300, 33], false),
            ([300, 1, 33], true),
            ([8, 250, 1], false),
            ([8, 250, 2], false),
            ([8, 250, 1100], false),
            ([2, 64, 40], false),
        ] {
            let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
            let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
            let (av, bv) = (View::transposed(&a, m), View::rows(&b, n));
            let want = naive(m, n, k, av, bv);
            let len = if by_rows { m } else { n };
            for tasks in 0..=5 {
                let mut v = vec![f64::NAN; m * n + 9];
                v.truncate(3);
                let choose = |_: [usize; 3]| {
                    (tasks > 0).then_some(Split {
                        by_rows,
                        len,
                        tasks,
                    })
                };
                if let Some(p) = start_out([m, n, k], Out::Fresh(&mut v), av, bv, choose) {
                    // SAFETY: each block once, on this thread.
                    (0..tasks).rev().for_each(|t| unsafe { p.block(t) });
                }
                assert_eq!(v, want, "{m}x{n}x{k} in {tasks} blocks, by rows {by_rows}");
            }
        }
    }

    #[test]
    fn two_products_in_one_pass_match_the_definition() {
        // Both split (the affine layer's dX and dW at 64 × 784 → 256), one split and one on
        // this thread, both on this thread; the second accumulating into what `dst` held.
        for (p, q) in [
            ([64, 784, 256], [256, 784, 64]),
            ([64, 784, 256], [3, 5, 4]),
            ([2, 3, 4], [128, 256, 520]),
            ([5, 7, 3], [4, 6, 2]),
        ] {
            let data = |len: usize, salt: usize| -> Vec<f64> {
                (0..len)
                    .map(|i| ((i * 7 + salt) % 13) as f64 - 6.0)
                    .collect()
            };
            let ([m1, n1, k1], [m2, n2, k2]) = (p, q);
            let (a1, b1) = (data(m1 * k1, 1), data(k1 * n1, 2));
            let (a2, b2) = (data(k2 * m2, 3), data(k2 * n2, 4));
            let (a1v, b1v) = (View::rows(&a1, k1), View::rows(&b1, n1));
            // The second's lhs transposed, as dYᵀ is in dW.
            let (a2v, b2v) = (View::transposed(&a2, m2), View::rows(&b2, n2));
            let mut dst1 = vec![f64::NAN; m1 * n1];
            let mut dst2: Vec<f64> = (0..m2 * n2).map(|i| i as f64).collect();
            let mut want2 = naive(m2, n2, k2, a2v, b2v);
            want2.iter_mut().zip(&dst2).for_each(|(w, d)| *w += d);
            matmul_two(
                (p, Out::Slice(&mut dst1, n1, false), a1v, b1v),
                (q, Out::Slice(&mut dst2, n2, true), a2v, b2v),
            );
            assert_eq!(dst1, naive(m1, n1, k1, a1v, b1v), "{p:?}");
            assert_eq!(dst2, want2, "{q:?}");
            // The same into fresh buffers (spare capacity NaN), split as `split` chooses and
            // split into 3 column blocks whatever the size (the helpers may run some).
            let by_columns = |[_, n, _]: [usize; 3]| {
                let tasks = 3.min(n.div_ceil(BLOCK_UNIT));
                (n > 1).then_some(Split {
                    by_rows: false,
                    len: n,
                    tasks,
                })
            };
            for forced in [false, true] {
                let (mut fresh1, mut fresh2) = (vec![f64::NAN; m1 * n1], vec![f64::NAN; m2 * n2]);
                fresh1.clear();
                fresh2.clear();
                let first = (p, Out::Fresh(&mut fresh1), a1v, b1v);
                let second = (q, Out::Fresh(&mut fresh2), a2v, b2v);
                if forced {
                    matmul_two_with(first, second, by_columns);
                } else {
                    matmul_two(first, second);
                }
                assert_eq!(fresh1, dst1, "{p:?} fresh");
                assert_eq!(fresh2, naive(m2, n2, k2, a2v, b2v), "{q:?} fresh");
            }
        }
    }

    #[test]
    fn a_products_bits_do_not_depend_on_how_it_is_split() {
        // On values whose sums round (f64 and f32), in every orientation, with a bias or added
        // to the old `dst`: on this thread, and in 1 to 5 blocks of columns or of rows run in
        // reverse. Each element is the same sum whoever computes it, so the result of a step is
        // the same bits on any number of threads. (m, n, k): the affine layers' products, odd
        // sizes, one over two depth blocks.
        fn check<E: Element + core::fmt::Debug>(mnk: [usize; 3]) {
            let [m, n, k] = mnk;
            let wave = |len: usize, f: f64| -> Vec<E> {
                (0..len)
                    .map(|i| E::from((i as f64 * f + 0.3).sin()).unwrap())
                    .collect()
            };
            let (a, b, bias) = (wave(m * k, 0.37), wave(k * n, 0.71), wave(m, 1.3));
            for (av, bv) in [
                (View::rows(&a, k), View::rows(&b, n)),
                (View::rows(&a, k), View::transposed(&b, k)),
                (View::transposed(&a, m), View::rows(&b, n)),
            ] {
                // With a bias, and added to what `dst` held.
                for bias_or_add in [true, false] {
                    let init = || {
                        if bias_or_add {
                            Init::Bias(&bias)
                        } else {
                            Init::Add
                        }
                    };
                    let old = wave(m * n, 0.53);
                    let mut whole = old.clone();
                    let p = start_with(mnk, &mut whole, n, init(), av, bv, |_| None);
                    assert!(p.is_none());
                    for (by_rows, len) in [(false, n), (true, m)] {
                        for tasks in 1..=5 {
                            let mut dst = old.clone();
                            let split = Split {
                                by_rows,
                                len,
                                tasks,
                            };
                            let p = start_with(mnk, &mut dst, n, init(), av, bv, |_| Some(split));
                            let p = p.expect("split as chosen");
                            // SAFETY: each block once, on this thread.
                            (0..tasks).rev().for_each(|t| unsafe { p.block(t) });
                            let at = format!("{mnk:?} in {tasks} blocks, by rows {by_rows}");
                            assert!(dst == whole, "{at}, bias {bias_or_add}");
                        }
                    }
                }
            }
        }
        for mnk in [[64, 256, 784], [256, 64, 64], [5, 500, 1000], [33, 130, 45]] {
            check::<f64>(mnk);
            check::<f32>(mnk);
        }
    }

    #[test]
    fn blocks_cover_every_row_once_in_whole_units_shared_evenly() {
        for len in [1, 15, 16, 17, 64, 100, 250, 256, 784, 1000, 1024, 4097] {
            for tasks in 1..=8 {
                let blocks: Vec<_> = (0..tasks).map(|t| block(len, tasks, t)).collect();
                assert_eq!(blocks[0].start, 0);
                assert_eq!(blocks[tasks - 1].end, len, "{len} in {tasks}: {blocks:?}");
                for w in blocks.windows(2) {
                    assert_eq!(w[0].end, w[1].start, "{len} in {tasks}: {blocks:?}");
                }
                let units = len.div_ceil(BLOCK_UNIT);
                let sizes: Vec<usize> = blocks
                    .iter()
                    .map(|b| b.len().div_ceil(BLOCK_UNIT))
                    .collect();
                for (b, r) in blocks.iter().enumerate() {
                    // Every block but the last starts and ends on a unit.
                    assert_eq!(r.start % BLOCK_UNIT, 0, "{len} in {tasks}: {blocks:?}");
                    if b + 1 < tasks {
                        assert_eq!(r.end % BLOCK_UNIT, 0, "{len} in {tasks}: {blocks:?}");
                    }
                    if units >= tasks {
                        assert!(!r.is_empty(), "{len} in {tasks}: {blocks:?}");
                    }
                }
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{len} in {tasks}: {blocks:?}");
            }
        }
        assert_eq!(block(784, 4, 3), 576..784); // 192, 192, 192 and 208 columns
    }

    #[test]
    fn products_split_in_uneven_column_blocks_match_the_definition() {
        // 4.2 MFLOP, n = 250: 4 column blocks of 64 columns, the last of 58.
        check_orientations::<f64>([40, 250, 210], &ALL);
        // Too few columns to split (n = 40): 4 row blocks of 128 rows.
        check_orientations::<f64>([512, 40, 128], &ALL);
    }

    #[test]
    fn products_inside_a_parallel_pass_match_the_definition() {
        // 5 MFLOP inside a pass (as in a batch-parallel layer): one thread, whichever kernel.
        crate::par::for_tasks(2, |_| check_orientations::<f64>([64, 256, 160], &ALL));
    }

    #[test]
    #[should_panic(expected = "dst rows overlap")]
    fn a_destination_whose_rows_overlap_is_refused() {
        // 4 rows of 128, 100 apart: split in column blocks, two threads would write the same
        // elements; on one thread the product would be wrong. Refused before either.
        let (a, b) = ([1.0f32; 4 * 8], [1.0f32; 8 * 128]);
        let mut dst = [0.0f32; 3 * 100 + 128];
        let split = Split {
            by_rows: false,
            len: 128,
            tasks: 2,
        };
        let (av, bv) = (View::rows(&a, 8), View::rows(&b, 128));
        let _ = start_with([4, 128, 8], &mut dst, 100, Init::Write, av, bv, |_| {
            Some(split)
        });
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
