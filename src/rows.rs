//! Short row passes of the strided convolution's phase planes, on AVX-512 where the CPU has it.
//!
//! The crate is compiled for the baseline x86-64 (SSE2), so a generic loop over a 16- or
//! 32-element row ran 4 elements at a time with its bookkeeping around every row: on the
//! benchmark's strided convolution (`(32, 16, 32, 32)`, 32 filters 3 × 3, stride 2, one
//! thread) splitting the input into its phase planes and copying the wide output back were a
//! quarter of the forward pass. For `f32` on a CPU with AVX-512 a row is one or two vector
//! shuffles instead, and a channel whose rows and plane rows are at most 32 elements long is
//! split by one loop that writes each plane row whole, its zero edges included, and merged
//! back by another (`Short`). As the matrix kernels (`gemm::small::matmul`), the branch is on a
//! constant of the element type, so the `f32` kernels are compiled once, here, and a crate
//! never compiles code for the other type.
#![allow(unsafe_code)]

use crate::gemm::{cast, cast_mut};
use crate::tensor::Element;

/// Splits the rows of one channel (`rows` of `w` elements) of a stride-2 convolution's input
/// into its phase planes: input row `ih` is row `r = (ih + p) / 2` of plane pair
/// `a = (ih + p) mod 2`, input column `iw` goes to phase `(iw + p) mod 2`, column
/// `(iw + p) / 2`; plane `(a, b)` starts at `(2a + b) · plane_len` in `planes`, its rows `pw`
/// apart (`plane_len / pw` rows), and every element of a plane that no input element reaches is
/// zeroed: the columns outside the input in each row, and the rows no input row reaches (all of
/// them when `w = 0`). While it splits row `ih` it asks for row `ih` of
/// `next` (the next channel): a channel of 32 × 32 f32 is one 4 KiB page, where the hardware
/// prefetcher stops, and the split waited on the first lines of every page.
///
/// # Panics
///
/// If a row does not fit its plane (`pw < ⌈(w + p) / 2⌉`, or `planes` too short).
#[allow(clippy::too_many_arguments)]
pub(crate) fn split_rows2<E: Element>(
    channel: &[E],
    w: usize,
    planes: &mut [E],
    plane_len: usize,
    pw: usize,
    p: usize,
    next: Option<&[E]>,
) {
    let geom = Rows2 {
        w,
        plane_len,
        pw,
        p,
    };
    if <E as crate::tensor::sealed::Sealed>::IS_F32
        && let (Some(c), Some(q)) = (cast(channel), cast_mut(&mut *planes))
    {
        return split_rows2_f32(geom, c, q, next.and_then(cast));
    }
    geom.split(channel, planes, next, split2_portable);
}

/// The inverse of [`split_rows2`] on the input's elements: the rows of one channel of `dx`
/// from its phase planes' gradient `planes` (the padding's entries are dropped).
///
/// # Panics
///
/// As [`split_rows2`].
pub(crate) fn merge_rows2<E: Element>(
    channel: &mut [E],
    w: usize,
    planes: &[E],
    plane_len: usize,
    pw: usize,
    p: usize,
) {
    let geom = Rows2 {
        w,
        plane_len,
        pw,
        p,
    };
    if <E as crate::tensor::sealed::Sealed>::IS_F32
        && let (Some(c), Some(q)) = (cast_mut(&mut *channel), cast(planes))
    {
        return merge_rows2_f32(geom, c, q);
    }
    geom.merge(channel, planes, merge2_portable);
}

/// `y[k][oh · wo + ow] = wide[k][oh · pw + ow] + bias[k]` (or `+ 0` without a bias): the
/// output of one sample from its wide rows (`pw ≥ wo` columns, the last `pw − wo` junk), `k`
/// planes of `positions` in `y`, of `cp` in `wide`; as many planes and rows as both have.
///
/// # Panics
///
/// If `bias` is shorter than the planes.
pub(crate) fn unwiden<E: Element>(
    y: &mut [E],
    wide: &[E],
    (positions, cp): (usize, usize),
    (wo, pw): (usize, usize),
    bias: Option<&[E]>,
) {
    let geom = Unwiden {
        positions,
        cp,
        wo,
        pw,
    };
    // (The bias is `E` too: its cast succeeds where the others do.)
    if <E as crate::tensor::sealed::Sealed>::IS_F32
        && let (Some(y32), Some(w32)) = (cast_mut(&mut *y), cast(wide))
        && let Some(b32) = bias.map_or(Some(None), |b| cast(b).map(Some))
    {
        return unwiden_f32(geom, y32, w32, b32);
    }
    geom.run(y, wide, bias, add_scalar_portable);
}

/// `wide[r][..wo] = y[r]` and `wide[r][wo..pw] = 0` for the rows `r` of `pw` elements of
/// `wide` and of `wo` of `y`, as many as both have (with `wo = 0`, every row of `wide` is
/// zeroed: all its columns are junk): an output gradient laid out on the wide
/// rows of the phase planes, its junk columns zero (the inverse of [`unwiden`] without a
/// bias). A copy of 16 elements and a fill of one, row by row, were calls of their own; with
/// this and the merge of short rows by `Short`, the benchmark's strided convolution took
/// 0.98–0.99× the time forward+backward on the Zen 5 VM (A/B, 1,500 pairs, five of seven runs;
/// the other two within noise).
pub(crate) fn widen<E: Element>(wide: &mut [E], y: &[E], wo: usize, pw: usize) {
    assert!(wo <= pw, "a row wider than its wide row");
    if wo == 0 {
        // Every column is junk.
        let rows = wide.len() / pw.max(1);
        wide[..rows * pw].fill(E::zero());
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if pw <= 32
        && let (Some(w32), Some(y32)) = (cast_mut::<E, f32>(&mut *wide), cast::<E, f32>(y))
        && let Some(isa) = x86::Avx512::detect()
    {
        return isa.widen(w32, y32, wo, pw);
    }
    for (wr, dr) in wide.chunks_exact_mut(pw).zip(y.chunks_exact(wo)) {
        wr[..wo].copy_from_slice(dr);
        wr[wo..].fill(E::zero());
    }
}

/// The geometry of [`split_rows2`] and [`merge_rows2`].
#[derive(Clone, Copy)]
struct Rows2 {
    w: usize,
    plane_len: usize,
    pw: usize,
    p: usize,
}

impl Rows2 {
    /// Plane row pair `(even, odd)` of input row `ih`: the even input columns go to `even`
    /// from column `p / 2`, the odd ones to `odd` from column `⌈p/2⌉`.
    #[inline(always)]
    fn at(&self, ih: usize) -> (usize, usize) {
        let (a, r) = ((ih + self.p) % 2, (ih + self.p) / 2);
        // Always inside its plane for a convolution's geometry: with `e = (HF − 1)·D`, a
        // plane has `HO + ⌊e/2⌋ + 1 ≥ ⌊(H + 2P − 1)/2⌋ + 1` rows, more than the last input
        // row's `⌊(H − 1 + P)/2⌋` (and the slicing checks that the row lies in `planes`).
        debug_assert!(
            (r + 1) * self.pw <= self.plane_len,
            "an input row past its plane"
        );
        let b0 = (a * 2) * self.plane_len + r * self.pw;
        let b1 = b0 + self.plane_len;
        if self.p.is_multiple_of(2) {
            (b0, b1)
        } else {
            (b1, b0)
        }
    }

    /// Calls `zero(at)` with the start of each plane row that none of `rows` input rows
    /// reaches: in the plane pair `a`, the rows `r` but those with `0 ≤ 2r + a − p < rows`,
    /// of the `plane_len / pw` rows of a plane (the complement of `Geom::phase_rows` in
    /// `layers/conv.rs` at stride 2, computed here from this function's own arguments, which
    /// are what the unsafe loops check their bounds against).
    #[inline(always)]
    fn for_unreached(&self, rows: usize, mut zero: impl FnMut(usize)) {
        let ph = self.plane_len.checked_div(self.pw).unwrap_or(0);
        for a in 0..2 {
            let lo = self.p.saturating_sub(a).div_ceil(2).min(ph);
            let hi = (rows + self.p).saturating_sub(a).div_ceil(2).clamp(lo, ph);
            for r in (0..lo).chain(hi..ph) {
                for b in 0..2 {
                    zero((2 * a + b) * self.plane_len + r * self.pw);
                }
            }
        }
    }

    /// Where a row's halves lie in their plane rows and how long they are: `(e0, o0, ne,
    /// no)`, the even input columns at `e0..e0 + ne`, the odd ones at `o0..o0 + no`.
    #[inline(always)]
    fn halves(&self) -> (usize, usize, usize, usize) {
        let (w, p) = (self.w, self.p);
        let (e0, o0, ne, no) = (p / 2, p.div_ceil(2), w.div_ceil(2), w / 2);
        assert!(
            e0 + ne <= self.pw && o0 + no <= self.pw,
            "a row past its phase plane"
        );
        (e0, o0, ne, no)
    }

    #[inline(always)]
    fn split<E: Element>(
        self,
        channel: &[E],
        planes: &mut [E],
        next: Option<&[E]>,
        split: impl Fn(&[E], &mut [E], &mut [E]),
    ) {
        let (w, pw) = (self.w, self.pw);
        if w == 0 {
            let len = self.plane_len.saturating_mul(4).min(planes.len());
            planes[..len].fill(E::zero());
            return;
        }
        let (e0, o0, ne, no) = self.halves();
        let rows = channel.len() / w;
        self.for_unreached(rows, |at| planes[at..at + pw].fill(E::zero()));
        // One element of each 64-byte line of a row, and the row's last one (a row need not
        // start on a line).
        let step = (64 / size_of::<E>()).max(1);
        for (ih, src) in channel.chunks_exact(w).enumerate() {
            if let Some(row) = next.and_then(|n| n.get(ih * w..(ih + 1) * w)) {
                let mut i = 0;
                while i < row.len() {
                    crate::gemm::prefetch(&row[i]);
                    i += step;
                }
                crate::gemm::prefetch(&row[row.len() - 1]);
            }
            let (ev, od) = self.at(ih);
            let (even, odd) = if ev < od {
                let (lo, hi) = planes.split_at_mut(od);
                (&mut lo[ev..ev + pw], &mut hi[..pw])
            } else {
                let (lo, hi) = planes.split_at_mut(ev);
                (&mut hi[..pw], &mut lo[od..od + pw])
            };
            zero_short(&mut even[..e0]);
            zero_short(&mut even[e0 + ne..]);
            zero_short(&mut odd[..o0]);
            zero_short(&mut odd[o0 + no..]);
            split(src, &mut even[e0..e0 + ne], &mut odd[o0..o0 + no]);
        }
    }

    #[inline(always)]
    fn merge<E: Element>(
        self,
        channel: &mut [E],
        planes: &[E],
        merge: impl Fn(&mut [E], &[E], &[E]),
    ) {
        let w = self.w;
        if w == 0 {
            return;
        }
        let (e0, o0, ne, no) = self.halves();
        for (ih, dst) in channel.chunks_exact_mut(w).enumerate() {
            let (ev, od) = self.at(ih);
            merge(dst, &planes[ev + e0..][..ne], &planes[od + o0..][..no]);
        }
    }
}

/// The geometry of [`unwiden`].
#[derive(Clone, Copy)]
struct Unwiden {
    positions: usize,
    cp: usize,
    wo: usize,
    pw: usize,
}

impl Unwiden {
    #[inline(always)]
    fn run<E: Element>(
        self,
        y: &mut [E],
        wide: &[E],
        bias: Option<&[E]>,
        add: impl Fn(&mut [E], &[E], E),
    ) {
        if self.wo == 0 {
            return;
        }
        for (k, (yk, wk)) in y
            .chunks_exact_mut(self.positions)
            .zip(wide.chunks_exact(self.cp))
            .enumerate()
        {
            let b = bias.map_or(E::zero(), |b| b[k]);
            for (yr, wr) in yk.chunks_exact_mut(self.wo).zip(wk.chunks_exact(self.pw)) {
                add(yr, &wr[..self.wo], b);
            }
        }
    }
}

/// Zeros a slice that is usually one or two elements long (a row's padding) without a call.
#[inline(always)]
fn zero_short<E: Element>(x: &mut [E]) {
    match x {
        [] => {}
        [a] => *a = E::zero(),
        [a, b] => (*a, *b) = (E::zero(), E::zero()),
        _ => x.fill(E::zero()),
    }
}

/// `even[m] = src[2m]`, `odd[m] = src[2m + 1]`, for slices of `⌈len/2⌉` and `⌊len/2⌋`.
#[inline(always)]
fn split2_portable<E: Copy>(src: &[E], even: &mut [E], odd: &mut [E]) {
    for ((pair, e), o) in src.chunks_exact(2).zip(&mut *even).zip(&mut *odd) {
        *e = pair[0];
        *o = pair[1];
    }
    if src.len() % 2 == 1 {
        even[src.len() / 2] = src[src.len() - 1];
    }
}

/// The inverse of [`split2_portable`].
#[inline(always)]
fn merge2_portable<E: Copy>(dst: &mut [E], even: &[E], odd: &[E]) {
    let no = dst.len() / 2;
    for ((pair, &e), &o) in dst.chunks_exact_mut(2).zip(even).zip(odd) {
        pair[0] = e;
        pair[1] = o;
    }
    if dst.len() % 2 == 1 {
        dst[2 * no] = even[no];
    }
}

#[inline(always)]
fn add_scalar_portable<E: Element>(dst: &mut [E], src: &[E], b: E) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s + b);
}

fn split_rows2_f32(geom: Rows2, channel: &[f32], planes: &mut [f32], next: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(isa) = x86::Avx512::detect() {
        return isa.split_rows2(geom, channel, planes, next);
    }
    geom.split(channel, planes, next, split2_portable);
}

fn merge_rows2_f32(geom: Rows2, channel: &mut [f32], planes: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(isa) = x86::Avx512::detect() {
        return isa.merge_rows2(geom, channel, planes);
    }
    geom.merge(channel, planes, merge2_portable);
}

fn unwiden_f32(geom: Unwiden, y: &mut [f32], wide: &[f32], bias: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(isa) = x86::Avx512::detect() {
        return isa.unwiden(geom, y, wide, bias);
    }
    geom.run(y, wide, bias, add_scalar_portable);
}

/// `y = relu(x)`, and in `mask` bit `i % 64` of word `i / 64` set where the gradient passes
/// (`!(x ≤ 0)`, NaN included, as the ReLU's gradient), the bits past `x.len()` clear: one word
/// per 64 elements, `⌈len/64⌉` of them.
///
/// It runs at the speed of a copy. On the Zen 5 VM (256 × 4096 `f32`, two threads, A/B of
/// 3,000 pairs) a copy of `x` to `y` by the CPU's string move (`rep movsb`, 16 KiB at a time,
/// no ReLU) took 0.91× its time (1 KiB at a time 0.99×, 256 bytes 1.08×), and that copy then
/// the ReLU in place on each block 1.32–1.44×; software prefetches of `x` 1–4 KiB ahead, or of
/// `y` for writing, took 1.01–1.14×. A third of the pass's traffic is reading `y`'s lines before
/// they are written; the two ways found to skip it did not pay: streaming stores send `y` to
/// memory instead of the L3 (1.5× on one thread, in a loop of its own, alternated 1,500 times),
/// and the AMD instruction that zeroes a line without reading it (`clzero`) before each line's
/// store took 170× the time on that VM (26 ms a pass).
pub(crate) fn relu_masked<E: Element>(x: &[E], y: &mut [E], mask: &mut [u64]) {
    debug_assert!(x.len() == y.len() && mask.len() == x.len().div_ceil(64));
    #[cfg(target_arch = "x86_64")]
    if let Some(isa) = x86::Avx512::detect()
        && let (Some(x), Some(y)) = (cast::<E, f32>(x), cast_mut::<E, f32>(&mut *y))
    {
        return isa.relu_masked(x, y, mask);
    }
    relu_masked_portable(x, y, mask);
}

fn relu_masked_portable<E: Element>(x: &[E], y: &mut [E], mask: &mut [u64]) {
    for ((x, y), word) in x.chunks(64).zip(y.chunks_mut(64)).zip(mask) {
        let mut bits = 0;
        for (j, (&v, y)) in x.iter().zip(y).enumerate() {
            // Stopped where `v ≤ 0`: NaN passes (and is kept), as in the ReLU.
            let stops = v <= E::zero();
            *y = if stops { E::zero() } else { v };
            bits |= u64::from(!stops) << j;
        }
        *word = bits;
    }
}

/// `dx = dy` where `mask` (as [`relu_masked`] wrote it) has the element's bit, else 0: the
/// gradient of the forward pass that wrote the mask, bit for bit the one computed from `x`.
pub(crate) fn relu_grad_masked<E: Element>(dy: &[E], mask: &[u64], dx: &mut [E]) {
    debug_assert!(dy.len() == dx.len() && mask.len() >= dx.len().div_ceil(64));
    #[cfg(target_arch = "x86_64")]
    if let Some(isa) = x86::Avx512::detect()
        && let (Some(dy), Some(dx)) = (cast::<E, f32>(dy), cast_mut::<E, f32>(&mut *dx))
    {
        return isa.relu_grad_masked(dy, mask, dx);
    }
    relu_grad_masked_portable(dy, mask, dx);
}

fn relu_grad_masked_portable<E: Element>(dy: &[E], mask: &[u64], dx: &mut [E]) {
    for ((dy, dx), &bits) in dy.chunks(64).zip(dx.chunks_mut(64)).zip(mask) {
        for (j, (&g, d)) in dy.iter().zip(dx).enumerate() {
            *d = if bits >> j & 1 == 1 { g } else { E::zero() };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86_bits {
    use core::arch::x86_64::*;

    use super::x86::Avx512;

    impl Avx512 {
        /// [`super::relu_masked`] on `f32`, 16 lanes at a time: the compare that makes the
        /// mask also selects the output (`x` where the bit is set, else 0, so NaN is kept).
        pub(super) fn relu_masked(self, x: &[f32], y: &mut [f32], mask: &mut [u64]) {
            #[target_feature(enable = "avx512f")]
            fn run(x: &[f32], y: &mut [f32], mask: &mut [u64]) {
                assert!(x.len() == y.len() && mask.len() == x.len().div_ceil(64));
                let whole = x.len() / 64;
                let zero = _mm512_setzero_ps();
                for (w, word) in mask[..whole].iter_mut().enumerate() {
                    let mut bits = 0u64;
                    for q in 0..4 {
                        let i = w * 64 + q * 16;
                        // SAFETY: `i + 16 ≤ whole · 64 ≤ len` of `x` and of `y` (asserted
                        // equal above).
                        unsafe {
                            let v = _mm512_loadu_ps(x.as_ptr().add(i));
                            let k = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(v, zero);
                            _mm512_storeu_ps(y.as_mut_ptr().add(i), _mm512_maskz_mov_ps(k, v));
                            bits |= u64::from(k) << (q * 16);
                        }
                    }
                    *word = bits;
                }
                let tail = whole * 64;
                super::relu_masked_portable(&x[tail..], &mut y[tail..], &mut mask[whole..]);
            }
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { run(x, y, mask) }
        }

        /// [`super::relu_grad_masked`] on `f32`, 16 lanes at a time.
        pub(super) fn relu_grad_masked(self, dy: &[f32], mask: &[u64], dx: &mut [f32]) {
            #[target_feature(enable = "avx512f")]
            fn run(dy: &[f32], mask: &[u64], dx: &mut [f32]) {
                assert!(dy.len() == dx.len() && mask.len() >= dx.len().div_ceil(64));
                let whole = dx.len() / 64;
                for (w, &bits) in mask[..whole].iter().enumerate() {
                    for q in 0..4 {
                        let i = w * 64 + q * 16;
                        let k = (bits >> (q * 16)) as __mmask16;
                        // SAFETY: `i + 16 ≤ whole · 64 ≤ len` of `dy` and of `dx` (asserted
                        // equal above).
                        unsafe {
                            let g = _mm512_loadu_ps(dy.as_ptr().add(i));
                            _mm512_storeu_ps(dx.as_mut_ptr().add(i), _mm512_maskz_mov_ps(k, g));
                        }
                    }
                }
                let tail = whole * 64;
                super::relu_grad_masked_portable(&dy[tail..], &mask[whole..], &mut dx[tail..]);
            }
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { run(dy, mask, dx) }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use core::arch::x86_64::*;

    use super::{Rows2, Unwiden};

    /// Proof that the running CPU has AVX-512F: only `detect` makes one.
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(());

    /// The mask of the first `n ≤ 16` lanes (the direct convolution's too).
    #[inline(always)]
    pub(crate) fn first(n: usize) -> __mmask16 {
        debug_assert!(n <= 16);
        ((1u32 << n) - 1) as __mmask16
    }

    impl Avx512 {
        pub(super) fn detect() -> Option<Self> {
            is_x86_feature_detected!("avx512f").then_some(Self(()))
        }

        /// [`Rows2::split`] with the rows split by vector shuffles.
        pub(super) fn split_rows2(
            self,
            geom: Rows2,
            channel: &[f32],
            planes: &mut [f32],
            next: Option<&[f32]>,
        ) {
            #[target_feature(enable = "avx512f")]
            fn run(geom: Rows2, channel: &[f32], planes: &mut [f32], next: Option<&[f32]>) {
                geom.split(channel, planes, next, |src, even, odd| {
                    assert!(even.len() == src.len().div_ceil(2) && odd.len() == src.len() / 2);
                    // SAFETY: the CPU has AVX-512F (this function's feature); the lengths are
                    // as asserted.
                    unsafe { split2(src, even, odd) }
                })
            }
            if let Some(short) = Short::new(geom, channel, planes) {
                // SAFETY: `self` exists, so the CPU has AVX-512F; `short` checked the lengths.
                return unsafe { short.split(channel, planes, next) };
            }
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { run(geom, channel, planes, next) }
        }

        /// [`Rows2::merge`] with the rows merged by vector shuffles.
        pub(super) fn merge_rows2(self, geom: Rows2, channel: &mut [f32], planes: &[f32]) {
            #[target_feature(enable = "avx512f")]
            fn run(geom: Rows2, channel: &mut [f32], planes: &[f32]) {
                geom.merge(channel, planes, |dst, even, odd| {
                    assert!(even.len() == dst.len().div_ceil(2) && odd.len() == dst.len() / 2);
                    // SAFETY: as in `split_rows2`.
                    unsafe { merge2(dst, even, odd) }
                })
            }
            if let Some(short) = Short::new(geom, channel, planes) {
                // SAFETY: `self` exists, so the CPU has AVX-512F; `short` checked the lengths.
                return unsafe { short.merge(channel, planes) };
            }
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { run(geom, channel, planes) }
        }

        /// [`super::widen`] on rows of at most 32 elements: two masked loads and stores a
        /// row, the lanes past `wo` loaded as zeros.
        pub(super) fn widen(self, wide: &mut [f32], y: &[f32], wo: usize, pw: usize) {
            #[target_feature(enable = "avx512f")]
            fn run(wide: &mut [f32], y: &[f32], wo: usize, pw: usize) {
                assert!(0 < wo && wo <= pw && pw <= 32);
                let rows = (wide.len() / pw).min(y.len() / wo);
                let (l0, l1) = (first(wo.min(16)), first(wo.saturating_sub(16)));
                let (s0, s1) = (first(pw.min(16)), first(pw.saturating_sub(16)));
                let (src, dst) = (y.as_ptr(), wide.as_mut_ptr());
                for r in 0..rows {
                    // SAFETY: row `r` of `y` (`wo` elements) and of `wide` (`pw`) lie in them
                    // (`rows` is what both hold); masked lanes are neither read nor written,
                    // and an address with no lane is made with `wrapping_add`.
                    unsafe {
                        let (s, d) = (src.add(r * wo), dst.add(r * pw));
                        let a = _mm512_maskz_loadu_ps(l0, s);
                        let b = _mm512_maskz_loadu_ps(l1, s.wrapping_add(16));
                        _mm512_mask_storeu_ps(d, s0, a);
                        _mm512_mask_storeu_ps(d.wrapping_add(16), s1, b);
                    }
                }
            }
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { run(wide, y, wo, pw) }
        }

        /// [`Unwiden::run`] a vector at a time.
        pub(super) fn unwiden(self, geom: Unwiden, y: &mut [f32], wide: &[f32], b: Option<&[f32]>) {
            #[target_feature(enable = "avx512f")]
            fn run(geom: Unwiden, y: &mut [f32], wide: &[f32], bias: Option<&[f32]>) {
                geom.run(y, wide, bias, |dst, src, b| {
                    assert_eq!(dst.len(), src.len());
                    // SAFETY: as in `split_rows2`.
                    unsafe { add_scalar(dst, src, b) }
                })
            }
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { run(geom, y, wide, b) }
        }
    }

    /// A channel whose rows and plane rows are at most two vectors long (`w ≤ 32`,
    /// `pw ≤ 32`), checked to fit `planes`. `split` writes each plane row whole, its zero edges
    /// included, from two (masked) loads of the input row, and zeroes the plane rows no input
    /// row reaches; `merge` makes each input row from its two plane rows. No branch per row.
    struct Short {
        geom: Rows2,
        rows: usize,
    }

    impl Short {
        fn new(geom: Rows2, channel: &[f32], planes: &[f32]) -> Option<Self> {
            let (w, pw) = (geom.w, geom.pw);
            if w == 0 || w > 32 || pw > 32 || !channel.len().is_multiple_of(w) {
                return None;
            }
            let (e0, o0, ne, no) = geom.halves();
            let rows = channel.len() / w;
            // The four planes lie in `planes`, and every input row's plane row `r` in its
            // plane: `r` grows with the input row, so the last row is the farthest. (Checked
            // without overflow, so that `at` cannot wrap for any row.)
            let planes_fit = geom
                .plane_len
                .checked_mul(4)
                .is_some_and(|len| len <= planes.len());
            let rows_fit = rows == 0
                || (rows - 1)
                    .checked_add(geom.p)
                    .and_then(|last| (last / 2 + 1).checked_mul(pw))
                    .is_some_and(|end| end <= geom.plane_len);
            (planes_fit && rows_fit && e0 + ne <= pw && o0 + no <= pw)
                .then_some(Self { geom, rows })
        }

        /// # Safety
        ///
        /// The CPU has AVX-512F; `channel` and `planes` are those `new` checked.
        #[target_feature(enable = "avx512f")]
        unsafe fn split(&self, channel: &[f32], planes: &mut [f32], next: Option<&[f32]>) {
            let Rows2 { w, pw, .. } = self.geom;
            let (e0, o0, ne, no) = self.geom.halves();
            let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let sixteen = _mm512_set1_epi32(16);
            // Plane row lane `j` takes input column `2 (j − start) + odd` where `start ≤ j <
            // start + len`, zero elsewhere: an index into the row's two vectors and a mask.
            let select = |lanes: __m512i, start: usize, len: usize, odd: i32| {
                let (lo, hi) = (
                    _mm512_set1_epi32(start as i32),
                    _mm512_set1_epi32((start + len) as i32),
                );
                let idx = _mm512_add_epi32(
                    _mm512_slli_epi32::<1>(_mm512_sub_epi32(lanes, lo)),
                    _mm512_set1_epi32(odd),
                );
                let k = _mm512_cmpge_epi32_mask(lanes, lo) & _mm512_cmplt_epi32_mask(lanes, hi);
                (idx, k)
            };
            let upper = _mm512_add_epi32(lane, sixteen);
            let (ie0, ke0) = select(lane, e0, ne, 0);
            let (ie1, ke1) = select(upper, e0, ne, 0);
            let (io0, ko0) = select(lane, o0, no, 1);
            let (io1, ko1) = select(upper, o0, no, 1);
            let (la, lb) = (first(w.min(16)), first(w.saturating_sub(16)));
            let (s0, s1) = (first(pw.min(16)), first(pw.saturating_sub(16)));
            let next = next.filter(|n| n.len() >= channel.len());
            let (src, dst) = (channel.as_ptr(), planes.as_mut_ptr());
            let zero = _mm512_setzero_ps();
            self.geom.for_unreached(self.rows, |at| {
                // SAFETY: a plane row lies in its plane (`for_unreached` stops at the plane's
                // last row), and the planes in `planes` (checked by `new`); masked lanes are
                // not written, and an address with no lane is made with `wrapping_add`.
                unsafe {
                    _mm512_mask_storeu_ps(dst.add(at), s0, zero);
                    _mm512_mask_storeu_ps(dst.add(at).wrapping_add(16), s1, zero);
                }
            });
            for ih in 0..self.rows {
                let (ev, od) = self.geom.at(ih);
                // SAFETY: row `ih` lies in `channel` (`rows · w` long); plane rows `ev` and
                // `od` with `pw` elements lie in their planes, which lie in `planes` (checked
                // by `new`); masked lanes are neither read nor written, and an address with no
                // lane is made with `wrapping_add`; a prefetch never faults.
                unsafe {
                    if let Some(n) = next {
                        let row = n.as_ptr().add(ih * w);
                        // A row of at most 32 elements spans at most three lines.
                        _mm_prefetch::<_MM_HINT_T0>(row.cast());
                        _mm_prefetch::<_MM_HINT_T0>(row.add(w / 2).cast());
                        _mm_prefetch::<_MM_HINT_T0>(row.add(w - 1).cast());
                    }
                    let s = src.add(ih * w);
                    let a = _mm512_maskz_loadu_ps(la, s);
                    let b = _mm512_maskz_loadu_ps(lb, s.wrapping_add(16));
                    let (e, o) = (dst.add(ev), dst.add(od));
                    _mm512_mask_storeu_ps(e, s0, _mm512_maskz_permutex2var_ps(ke0, a, ie0, b));
                    _mm512_mask_storeu_ps(o, s0, _mm512_maskz_permutex2var_ps(ko0, a, io0, b));
                    _mm512_mask_storeu_ps(
                        e.wrapping_add(16),
                        s1,
                        _mm512_maskz_permutex2var_ps(ke1, a, ie1, b),
                    );
                    _mm512_mask_storeu_ps(
                        o.wrapping_add(16),
                        s1,
                        _mm512_maskz_permutex2var_ps(ko1, a, io1, b),
                    );
                }
            }
        }

        /// The inverse of [`Short::split`] on the input's elements: each row of `channel` from
        /// the even and odd halves of its plane rows, two masked loads and two shuffles.
        ///
        /// # Safety
        ///
        /// The CPU has AVX-512F; `channel` and `planes` are those `new` checked.
        #[target_feature(enable = "avx512f")]
        unsafe fn merge(&self, channel: &mut [f32], planes: &[f32]) {
            let Rows2 { w, .. } = self.geom;
            let (e0, o0, ne, no) = self.geom.halves();
            let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let hi =
                _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            // `w ≤ 32`: each half is at most 16 long.
            let (ke, ko) = (first(ne), first(no));
            let (s0, s1) = (first(w.min(16)), first(w.saturating_sub(16)));
            let (src, dst) = (planes.as_ptr(), channel.as_mut_ptr());
            for ih in 0..self.rows {
                let (ev, od) = self.geom.at(ih);
                // SAFETY: the halves lie in plane rows `ev` and `od` (`e0 + ne ≤ pw`,
                // `o0 + no ≤ pw`), which lie in `planes` (checked by `new`); row `ih` lies in
                // `channel`; masked lanes are neither read nor written, and an address with no
                // lane is made with `wrapping_add`.
                unsafe {
                    let even = _mm512_maskz_loadu_ps(ke, src.add(ev + e0));
                    let odd = _mm512_maskz_loadu_ps(ko, src.add(od + o0));
                    let d = dst.add(ih * w);
                    _mm512_mask_storeu_ps(d, s0, _mm512_permutex2var_ps(even, lo, odd));
                    _mm512_mask_storeu_ps(
                        d.wrapping_add(16),
                        s1,
                        _mm512_permutex2var_ps(even, hi, odd),
                    );
                }
            }
        }
    }

    /// # Safety
    ///
    /// The CPU has AVX-512F; `even` is `⌈len/2⌉` long and `odd` `⌊len/2⌋`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn split2(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
        let ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let (s, e, o) = (src.as_ptr(), even.as_mut_ptr(), odd.as_mut_ptr());
        let mut i = 0;
        // SAFETY (all the pointer reads and writes below): source elements `i..i + 32` (or the
        // `r` left) lie in `src`; the 16 (or `⌈r/2⌉`, `⌊r/2⌋`) written from `i/2` on lie in
        // `even` and `odd`, whose lengths are as the contract says. Masked lanes are neither
        // read nor written (AVX-512 suppresses their faults); a second half with no lane is
        // addressed with `wrapping_add`, as it may lie past the slice.
        while i + 32 <= src.len() {
            unsafe {
                let a = _mm512_loadu_ps(s.add(i));
                let b = _mm512_loadu_ps(s.add(i + 16));
                _mm512_storeu_ps(e.add(i / 2), _mm512_permutex2var_ps(a, ie, b));
                _mm512_storeu_ps(o.add(i / 2), _mm512_permutex2var_ps(a, io, b));
            }
            i += 32;
        }
        let r = src.len() - i;
        if r > 0 {
            unsafe {
                let a = _mm512_maskz_loadu_ps(first(r.min(16)), s.add(i));
                let b = _mm512_maskz_loadu_ps(first(r.saturating_sub(16)), s.wrapping_add(i + 16));
                let (ne, no) = (r.div_ceil(2), r / 2);
                _mm512_mask_storeu_ps(e.add(i / 2), first(ne), _mm512_permutex2var_ps(a, ie, b));
                _mm512_mask_storeu_ps(o.add(i / 2), first(no), _mm512_permutex2var_ps(a, io, b));
            }
        }
    }

    /// # Safety
    ///
    /// The CPU has AVX-512F; `even` is `⌈len/2⌉` long and `odd` `⌊len/2⌋`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn merge2(dst: &mut [f32], even: &[f32], odd: &[f32]) {
        let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let (d, e, o) = (dst.as_mut_ptr(), even.as_ptr(), odd.as_ptr());
        let mut i = 0;
        // SAFETY: as in `split2`, with the roles of the source and the halves swapped.
        while i + 32 <= dst.len() {
            unsafe {
                let a = _mm512_loadu_ps(e.add(i / 2));
                let b = _mm512_loadu_ps(o.add(i / 2));
                _mm512_storeu_ps(d.add(i), _mm512_permutex2var_ps(a, lo, b));
                _mm512_storeu_ps(d.add(i + 16), _mm512_permutex2var_ps(a, hi, b));
            }
            i += 32;
        }
        let r = dst.len() - i;
        if r > 0 {
            unsafe {
                let a = _mm512_maskz_loadu_ps(first(r.div_ceil(2)), e.add(i / 2));
                let b = _mm512_maskz_loadu_ps(first(r / 2), o.add(i / 2));
                let lo_v = _mm512_permutex2var_ps(a, lo, b);
                let hi_v = _mm512_permutex2var_ps(a, hi, b);
                _mm512_mask_storeu_ps(d.add(i), first(r.min(16)), lo_v);
                _mm512_mask_storeu_ps(d.wrapping_add(i + 16), first(r.saturating_sub(16)), hi_v);
            }
        }
    }

    /// # Safety
    ///
    /// The CPU has AVX-512F; `src` is as long as `dst`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn add_scalar(dst: &mut [f32], src: &[f32], b: f32) {
        let bv = _mm512_set1_ps(b);
        let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
        let mut i = 0;
        // SAFETY: elements `i..i + 16` (or the `r` left, masked) lie in both slices.
        while i + 16 <= dst.len() {
            unsafe { _mm512_storeu_ps(d.add(i), _mm512_add_ps(_mm512_loadu_ps(s.add(i)), bv)) };
            i += 16;
        }
        let r = dst.len() - i;
        if r > 0 {
            unsafe {
                let v = _mm512_maskz_loadu_ps(first(r), s.add(i));
                _mm512_mask_storeu_ps(d.add(i), first(r), _mm512_add_ps(v, bv));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths around the 16-lane vectors and 64-bit words, every sign, zeros of both signs,
    /// NaN and infinities, in both element types (f32 runs the AVX-512 kernels where the CPU
    /// has them): the output is `max(0, x)` with NaN kept, the mask has bit `i` set exactly
    /// where `!(x ≤ 0)` and none past the end, and the gradient read through the mask is the
    /// one computed from `x`, bit for bit (a NaN `dy` where `x ≤ 0` gives 0).
    #[test]
    fn the_relu_mask_holds_where_the_gradient_passes() {
        fn run<E: Element>() {
            let specials = [
                E::zero(),
                -E::zero(),
                E::nan(),
                E::infinity(),
                E::neg_infinity(),
            ];
            // The same value, sign of zero included, or both NaN.
            let same = |a: E, b: E| {
                a == b && a.is_sign_negative() == b.is_sign_negative() || a.is_nan() && b.is_nan()
            };
            for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 200, 1000] {
                let x: Vec<E> = (0..len)
                    .map(|i| match i % 7 {
                        0..=4 if i % 3 == 0 => specials[i % 5],
                        _ => E::from(((i * 37) % 19) as f64 - 9.0).unwrap(),
                    })
                    .collect();
                let dy: Vec<E> = (0..len)
                    .map(|i| match i % 11 {
                        0 => E::nan(),
                        1 => -E::zero(),
                        2 => E::neg_infinity(),
                        _ => E::from(i as f64 - 100.5).unwrap(),
                    })
                    .collect();
                let mut y = vec![E::from(7.0).unwrap(); len];
                let mut mask = vec![u64::MAX; len.div_ceil(64)];
                relu_masked(&x, &mut y, &mut mask);
                for i in 0..len {
                    use core::cmp::Ordering::{Equal, Less};
                    let passes = !matches!(x[i].partial_cmp(&E::zero()), Some(Less | Equal));
                    assert_eq!(
                        mask[i / 64] >> (i % 64) & 1 == 1,
                        passes,
                        "bit {i} of {len}"
                    );
                    let want = if passes { x[i] } else { E::zero() };
                    assert!(same(y[i], want), "y[{i}] of {len}");
                }
                if len % 64 != 0 {
                    assert_eq!(
                        mask[len / 64] >> (len % 64),
                        0,
                        "bits past the end of {len}"
                    );
                }
                let mut dx = vec![E::from(7.0).unwrap(); len];
                relu_grad_masked(&dy, &mask, &mut dx);
                for i in 0..len {
                    let want = if x[i] <= E::zero() { E::zero() } else { dy[i] };
                    assert!(same(dx[i], want), "dx[{i}] of {len}");
                }
            }
        }
        run::<f32>();
        run::<f64>();
    }

    /// Every row length from 0 to 40, paddings 0 to 3 and a few larger ones (plane rows up to
    /// 51 long: the short-row loop takes those of at most 32, with edges in either vector),
    /// a few row counts, with and without a next channel, both element types (f32 runs the
    /// AVX-512 kernels where the CPU has them), against the definition: plane `(a, b)` holds
    /// `Xp[2r + a, 2q + b]` at `(r, q)`, `Xp` the input padded by `p` zeros (every element no
    /// input element reaches is zero); nothing is written past the planes.
    #[test]
    fn phase_rows_match_the_definition() {
        fn run<E: Element>() {
            for (h, w, p) in (0..4usize)
                .chain([8, 15, 16, 31])
                .flat_map(|p| [0, 1, 2, 5].map(|h| (h, p)))
                .flat_map(|(h, p)| (0..41usize).map(move |w| (h, w, p)))
            {
                let (pw, ph) = ((w + 2 * p).div_ceil(2), (h + 2 * p).div_ceil(2) + 1);
                let plane_len = ph * pw;
                let x: Vec<E> = (0..h * w).map(|i| E::from(i + 1).unwrap()).collect();
                let next: Vec<E> = x.clone();
                let guard = 40;
                let mut planes = vec![E::nan(); 4 * plane_len + guard];
                let next = (w % 2 == 0).then_some(&next[..]);
                split_rows2(&x, w, &mut planes, plane_len, pw, p, next);
                assert!(
                    planes[4 * plane_len..].iter().all(|v| v.is_nan()),
                    "{h}x{w} p {p}: wrote past the planes"
                );
                planes.truncate(4 * plane_len);
                let at = |r: usize, c: usize| -> E {
                    let (r, c) = (r.wrapping_sub(p), c.wrapping_sub(p));
                    if r < h && c < w {
                        x[r * w + c]
                    } else {
                        E::zero()
                    }
                };
                for (a, b, r, q) in
                    (0..2)
                        .flat_map(|a| (0..2).map(move |b| (a, b)))
                        .flat_map(|(a, b)| {
                            (0..ph).flat_map(move |r| (0..pw).map(move |q| (a, b, r, q)))
                        })
                {
                    // Zero outside the input, rows no input row reaches included.
                    let got = planes[(2 * a + b) * plane_len + r * pw + q];
                    assert_eq!(
                        got,
                        at(2 * r + a, 2 * q + b),
                        "{h}x{w} p {p} plane ({a},{b}) at ({r},{q})"
                    );
                }
                // With a guard after the rows: a lane written past the last row shows there.
                let mut back = vec![E::nan(); h * w + 32];
                merge_rows2(&mut back[..h * w], w, &planes, plane_len, pw, p);
                assert_eq!(back[..h * w], x[..], "{h}x{w} p {p}: merge");
                assert!(
                    back[h * w..].iter().all(|v| v.is_nan()),
                    "{h}x{w} p {p}: merged past the rows"
                );
            }
        }
        run::<f32>();
        run::<f64>();
    }

    /// Row lengths and widths around the two vectors of the AVX-512 path (and past them, where
    /// the loop of copies runs), both element types, against the definition: each wide row is
    /// its row of `y` and then zeros; rows past those both hold, and anything past the wide
    /// rows, are untouched.
    #[test]
    fn widened_rows_match_the_definition() {
        fn run<E: Element>() {
            for (wo, pw) in (0..=40usize).flat_map(|pw| (0..=pw).map(move |wo| (wo, pw))) {
                for (rows, extra, more) in [(0, 0, 0), (1, 0, 0), (3, 1, 0), (5, 0, 0), (2, 0, 1)] {
                    // `y` one row longer than `wide` when `more`; `wide` one row longer than
                    // `y` when `extra`, and a guard after it.
                    let y: Vec<E> = (0..(rows + more) * wo)
                        .map(|i| E::from(i + 1).unwrap())
                        .collect();
                    let len = (rows + extra) * pw;
                    let mut wide = vec![E::nan(); len + 32];
                    widen(&mut wide[..len], &y, wo, pw);
                    for r in 0..rows + extra {
                        for q in 0..pw {
                            let got = wide[r * pw + q];
                            if r < rows || wo == 0 {
                                let want = if q < wo { y[r * wo + q] } else { E::zero() };
                                assert_eq!(got, want, "wo {wo} pw {pw} rows {rows}: ({r}, {q})");
                            } else {
                                assert!(got.is_nan(), "wo {wo} pw {pw}: wrote row {r}");
                            }
                        }
                    }
                    assert!(
                        wide[len..].iter().all(|v| v.is_nan()),
                        "wo {wo} pw {pw}: past"
                    );
                }
            }
        }
        run::<f32>();
        run::<f64>();
    }

    #[test]
    fn unwidened_rows_match_the_definition() {
        fn run<E: Element>() {
            for (wo, junk, rows, k) in [(16, 1, 16, 3), (5, 2, 3, 2), (33, 1, 2, 1), (1, 0, 4, 2)] {
                let (pw, positions) = (wo + junk, rows * wo);
                let cp = rows * pw;
                let wide: Vec<E> = (0..k * cp).map(|i| E::from(i).unwrap()).collect();
                let bias: Vec<E> = (0..k).map(|i| E::from(10 * i + 1).unwrap()).collect();
                for with_bias in [false, true] {
                    let mut y = vec![E::nan(); k * positions + 1];
                    let b = with_bias.then_some(&bias[..]);
                    unwiden(&mut y[..k * positions], &wide, (positions, cp), (wo, pw), b);
                    for (kk, r, c) in (0..k).flat_map(|kk| {
                        (0..rows).flat_map(move |r| (0..wo).map(move |c| (kk, r, c)))
                    }) {
                        let want = wide[kk * cp + r * pw + c] + b.map_or(E::zero(), |b| b[kk]);
                        assert_eq!(y[kk * positions + r * wo + c], want);
                    }
                    assert!(y[k * positions].is_nan(), "wrote past the output");
                }
            }
        }
        run::<f32>();
        run::<f64>();
    }
}
