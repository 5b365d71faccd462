//! The forward pass and the weight gradient of a stride-2 convolution read straight from its
//! input, for `f32` on a CPU with AVX-512: no phase planes, no lowering.
//!
//! The product of the planes' path (`layers/conv.rs`) holds output columns in its vectors, so it
//! needs the input's even and odd columns apart: splitting every sample into its phase planes
//! was an eighth of the benchmark's strided forward pass, at the speed of the memory path. This
//! kernel turns the product around: a vector holds 16 *filters* of one output position, and
//! each input element is broadcast from where it lies in `x`, so a stride only changes which
//! elements are read. Its forward pass runs the 3 × 3 (any height, 3 wide) kernels of stride 2,
//! the common strided convolution, with filters in whole pairs of vectors (`K` a multiple of 32
//! or with more than 16 over one); the others keep to the planes.
//!
//! A tile is 32 filters (two vectors) × 8 output columns of one output row: 16 accumulators. A
//! kernel row of a tile reads 17 elements of an input row (`y[t]` reads `x[2t + j − P]`): tap
//! by tap, the two filter vectors of the tap (the weight packed once a call as
//! `(C, HF, 3, K)`) are multiplied by 8 broadcast elements, 16 independent multiply-adds one
//! after the other, and the even elements are broadcast once for taps 0 and 2: 17 broadcasts
//! and 6 loads for 48 multiply-adds. At the end of a tile the 8 × 16 accumulators of each
//! vector are transposed in registers and stored as 8-column pieces of 16 output rows.
//!
//! Padding: rows outside the input are left out per output row; a tile whose first elements
//! lie left of the row (the left padding, at most two elements) leaves out their multiply-adds
//! (a constant of the tile's kind); any other tile that reaches past the row (the right edge, a
//! last tile of fewer than 8 columns, wider padding) reads each row's segment from a copy in
//! which the elements outside the row are zero. So a padding element is multiplied by the
//! weight in the last kind of tile only: with an infinite or NaN weight, an output at the border
//! may be finite here where the planes' path, which multiplies every padding zero, gives NaN.
//!
//! The multiply-adds are written in assembly, and each kind of tile is a function of its own:
//! written with intrinsics and inlined into one function, the same loop ran between 0.80× and
//! 1.2× the time of the planes' path from one build to the next, after unrelated changes around
//! it (a different formula for the same range of rows was enough), as the compiler chose where
//! to keep the 27 vectors and in which order to issue the multiply-adds.
//!
//! Each kernel row is one block of assembly called from a loop over channels and rows; the whole
//! loop over a channel's three rows in assembly as well took 0.997–0.999× the time (two A/B runs
//! on one and two threads) and was not kept.
//!
//! Measured on the benchmark's strided convolution (`(32, 16, 32, 32)`, 32 filters 3 × 3,
//! stride 2, padding 1; Zen 5 VM, 1,500 calls alternated in one process with the planes' path,
//! three runs): the forward pass took 0.74–0.78× the time on two threads (about 195 µs against
//! 255–270 µs) and 0.75–0.84× on one; a batch of one, where the weight is packed for every
//! sample, 0.95–1.01×. Before the assembly and the functions per kind, the same kernel had
//! measured 0.85–1.0× in the crate and 0.80× in a program of its own.
//!
//! The backward pass's weight gradient ([`Direct::weight_grad`]) turns the same way: a vector holds
//! 16 filters of one tap, `dW[k, c, i, j] = Σ dy[k, oh, ow] · x[c, 2·oh + i − P, 2·ow + j − P]`
//! summed over the output positions, with the output gradient transposed into rows of filters and
//! the input copied with its padding around it (read in place without padding), once per group of
//! each sample. Per channel and block of three kernel rows, the 9 taps of 2 filter vectors are 18
//! accumulators held over every position: 2 loads and 9 broadcasts for 18 multiply-adds, at the
//! machine's peak of multiply-adds (written with intrinsics: one function per shape of block, which
//! the compiler kept in registers with no spill). The phase planes and their product for `dW` go;
//! the input gradient keeps to the planes. Measured in one process against the planes' path (Zen 5
//! VM, calls alternated): the backward pass of the benchmark's strided convolution took 0.94–0.95×
//! the time on two threads (1,500 pairs, two runs) and 0.94× on one; that of the ResNet example's
//! (16 → 32 filters on 8 × 8, batch 32) 0.92× and 0.89×; without the input gradient (a first layer)
//! 0.70× on the small one. The padded copy (first a `copy_from_slice` and two fills per row) and
//! the transposition (first with no prefetch) took as much as the kernel saved, their loads
//! stalling on lines not yet in the cache: the copy now moves whole vectors, and both ask for the
//! next lines ahead.
#![allow(unsafe_code)]

use crate::gemm::{cast, cast_mut};
use crate::tensor::Element;

/// The stride this kernel is written for: the offsets of a tile's elements are constants.
const S: usize = 2;

/// One group of one sample of a stride-2, dilation-1 convolution: `x (C, H, W)`,
/// `w (K, C, HF, WF)`, `y (K, HO, WO)`, padding `p` on each side. `C` and `K` are the group's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Direct {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub hf: usize,
    pub wf: usize,
    pub p: usize,
    pub ho: usize,
    pub wo: usize,
}

impl Direct {
    /// Whether this kernel runs a convolution of stride `s`, dilation `d`, kernel width `wf`
    /// and `k` filters a group on elements `E` on this CPU: `f32`, AVX-512F, stride 2,
    /// dilation 1, 3 wide, and the filters in whole pairs of vectors (`k mod 32` 0 or above 16,
    /// the last pair partly masked; at least one).
    pub(crate) fn runs<E: Element>(s: usize, d: usize, wf: usize, k: usize) -> bool {
        Self::runs_weight_grad::<E>(s, d, wf, k) && (k.is_multiple_of(32) || k % 32 > 16)
    }

    /// Filters per packed tap: `k` rounded up to whole vectors (16 f32), the rest zero.
    fn kpad(&self) -> usize {
        self.k.next_multiple_of(16)
    }

    /// Elements of the packed weight ([`Direct::pack`]).
    pub(crate) fn packed_len(&self) -> usize {
        self.c * self.hf * self.wf * self.kpad()
    }

    /// Packs the group's weight `w (K, C, HF, WF)` as `(C, HF, WF, kpad)` into `out`, zeros
    /// past `K`: the filters of one tap are one or two vectors.
    pub(crate) fn pack<E: Element>(&self, w: &[E], out: &mut [E]) {
        let (taps, kpad) = (self.c * self.hf * self.wf, self.kpad());
        for (q, row) in out[..taps * kpad].chunks_exact_mut(kpad).enumerate() {
            for (k, o) in row.iter_mut().enumerate() {
                *o = if k < self.k {
                    w[k * taps + q]
                } else {
                    E::zero()
                };
            }
        }
    }

    /// `y = w ⋆ x + bias` for one group of one sample, `packed` from [`Direct::pack`]. Returns
    /// `false` (and writes nothing) unless [`Direct::runs`] says yes for `E` and this geometry.
    ///
    /// # Panics
    ///
    /// If a slice is shorter than the geometry says, or the geometry is not one of a stride-2
    /// convolution (`HO`, `WO` more than the padded input holds).
    pub(crate) fn forward<E: Element>(
        &self,
        x: &[E],
        packed: &[E],
        bias: Option<&[E]>,
        y: &mut [E],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let (Some(x), Some(packed), Some(y)) = (cast(x), cast(packed), cast_mut(&mut *y))
            && let Some(bias) = bias.map_or(Some(None), |b| cast::<E, f32>(b).map(Some))
            && Self::runs::<f32>(S, 1, self.wf, self.k)
        {
            assert!(x.len() >= self.c * self.h * self.w);
            assert!(packed.len() >= self.packed_len());
            assert!(y.len() >= self.k * self.ho * self.wo);
            assert!(bias.is_none_or(|b| b.len() >= self.k));
            assert!(self.ho == 0 || (self.ho - 1) * S + self.hf <= self.h + 2 * self.p);
            assert!(self.wo == 0 || (self.wo - 1) * S + self.wf <= self.w + 2 * self.p);
            // SAFETY: the CPU has AVX-512F (`runs`); the lengths and the geometry are as
            // asserted, which is what `sample` reads and writes by.
            unsafe {
                x86::sample(
                    self,
                    x.as_ptr(),
                    packed.as_ptr(),
                    bias.map(<[f32]>::as_ptr),
                    y.as_mut_ptr(),
                )
            };
            return true;
        }
        let _ = (x, packed, bias, y);
        false
    }

    /// Whether [`Direct::weight_grad`] runs a convolution of stride `s`, dilation `d`, kernel
    /// width `wf` and `k` filters a group on elements `E` on this CPU: `f32`, AVX-512F, stride
    /// 2, dilation 1, 3 wide, at least one filter (any number: the output gradient is
    /// transposed into rows of whole vectors, zero past `K`).
    pub(crate) fn runs_weight_grad<E: Element>(s: usize, d: usize, wf: usize, k: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            s == S
                && d == 1
                && wf == 3
                && k > 0
                && cast::<E, f32>(&[]).is_some()
                && is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (s, d, wf, k);
            false
        }
    }

    /// Elements of the zero-padded input [`Direct::weight_grad`] reads: `C·(H + 2P)·(W + 2P)`
    /// with padding, none without (the input is read in place).
    fn padded_len(&self) -> usize {
        if self.p == 0 {
            0
        } else {
            self.c * (self.h + 2 * self.p) * (self.w + 2 * self.p)
        }
    }

    /// The scratch [`Direct::weight_grad`] needs: the zero-padded input and the output gradient
    /// transposed, `HO·WO` rows of [`Direct::kpad`] filters.
    pub(crate) fn weight_grad_scratch(&self) -> usize {
        self.padded_len() + self.ho * self.wo * self.kpad()
    }

    /// Adds the weight gradient of one group of one sample into `dwt`, as the planes' path
    /// lays it out: row `(c·HF + i)·3 + j` holds the `K` filters' gradients at channel `c`, tap
    /// `(i, j)`. `x (C, H, W)` is the input, `dy (K, HO, WO)` the output gradient, `scratch`
    /// at least [`Direct::weight_grad_scratch`] long (its contents are overwritten). Returns
    /// `false` (and writes nothing) unless [`Direct::runs_weight_grad`] says yes for `E`.
    ///
    /// A vector holds 16 filters, as in the forward pass: `dW[k, c, i, j] = Σ dy[k, oh, ow] ·
    /// xp[c, 2·oh + i, 2·ow + j]` over the output positions, with `xp` the zero-padded input;
    /// per channel and block of three kernel rows, the 9 taps × 2 filter vectors are 18
    /// accumulators held over every output position: at each, 2 loads of the transposed output
    /// gradient and 9 broadcasts of input elements for 18 multiply-adds.
    ///
    /// # Panics
    ///
    /// If a slice is shorter than the geometry says, or the geometry is not one of a stride-2
    /// convolution (`HO`, `WO` more than the padded input holds).
    pub(crate) fn weight_grad<E: Element>(
        &self,
        x: &[E],
        dy: &[E],
        dwt: &mut [E],
        scratch: &mut [E],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let (Some(x), Some(dy), Some(dwt), Some(scratch)) = (
            cast(x),
            cast(dy),
            cast_mut(&mut *dwt),
            cast_mut(&mut *scratch),
        ) && Self::runs_weight_grad::<f32>(S, 1, self.wf, self.k)
        {
            let (hp, wp) = (self.h + 2 * self.p, self.w + 2 * self.p);
            assert!(x.len() >= self.c * self.h * self.w);
            assert!(dy.len() >= self.k * self.ho * self.wo);
            assert!(dwt.len() >= self.c * self.hf * 3 * self.k);
            assert!(scratch.len() >= self.weight_grad_scratch());
            assert!(self.ho == 0 || (self.ho - 1) * S + self.hf <= hp);
            assert!(self.wo == 0 || (self.wo - 1) * S + self.wf <= wp);
            let (padded, dyt) = scratch.split_at_mut(self.padded_len());
            let dyt = &mut dyt[..self.ho * self.wo * self.kpad()];
            // SAFETY: the CPU has AVX-512F (`runs_weight_grad`); the lengths and the geometry
            // are as asserted, which is what `pad`, `transpose` and `weight_grad` read and
            // write by.
            unsafe {
                let xp: &[f32] = if self.p == 0 {
                    x
                } else {
                    x86::pad(self, x.as_ptr(), padded.as_mut_ptr());
                    padded
                };
                let q = self.ho * self.wo;
                x86::transpose(dy.as_ptr(), self.k, q, dyt.as_mut_ptr(), self.kpad());
                x86::weight_grad(self, xp.as_ptr(), wp, dyt.as_ptr(), dwt.as_mut_ptr());
            }
            return true;
        }
        let _ = (x, dy, dwt, scratch);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;
    use core::ops::Range;

    use super::{Direct, S};
    use crate::rows::x86::first;

    /// Output columns of a tile.
    const T: usize = 8;
    /// Elements of an input row a tile reads: `(T − 1)·S + 3`.
    const SPAN: usize = (T - 1) * S + 3;

    /// One tile: the geometry, `x`, the packed weight, the bias, `y`, the output row, the
    /// kernel rows inside the input at that row, the first filter, the first column, and how
    /// many of the tile's columns are inside the output.
    type Tile<'a> = (
        &'a Direct,
        *const f32,
        *const f32,
        Option<*const f32>,
        *mut f32,
        usize,
        Range<usize>,
        usize,
        usize,
        usize,
    );

    /// Every output of one group of one sample.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `x`, `wt`, `bias` and `y` point to the `C·H·W`,
    /// [`Direct::packed_len`], `K` and `K·HO·WO` elements `g` says, `g` is the geometry of a
    /// stride-2 convolution (`(HO − 1)·2 + HF ≤ H + 2P`, likewise the columns) with `WF = 3`,
    /// and its filters come in whole pairs of vectors ([`Direct::runs`]).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sample(
        g: &Direct,
        x: *const f32,
        wt: *const f32,
        bias: Option<*const f32>,
        y: *mut f32,
    ) {
        for oh in 0..g.ho {
            // The kernel rows `i` whose input row `oh·S + i − P` lies inside `0..H`.
            let top = oh * S;
            let i_hi = (g.h + g.p).saturating_sub(top).min(g.hf);
            let i_lo = g.p.saturating_sub(top).min(i_hi);
            for kb in (0..g.k).step_by(32) {
                for ow0 in (0..g.wo).step_by(T) {
                    let cols = (g.wo - ow0).min(T);
                    let left = (ow0 * S) as isize - g.p as isize;
                    let right_in = left + SPAN as isize <= g.w as isize;
                    let a: Tile<'_> = (g, x, wt, bias, y, oh, i_lo..i_hi, kb, ow0, cols);
                    // SAFETY: as this function's; the kind is the one `tile` needs: every
                    // element inside the row, all but the first one or two, or any other.
                    unsafe {
                        match (cols == T && right_in, left) {
                            (true, 0..) => tile::<0>(a),
                            (true, -1) => tile::<1>(a),
                            (true, -2) => tile::<2>(a),
                            _ => tile::<3>(a),
                        }
                    }
                }
            }
        }
    }

    /// One tile: filters `kb .. kb + 32` (those below `K`) at output row `oh`, columns
    /// `ow0 .. ow0 + cols`. `EDGE` 0: every element read lies inside its row; 1 or 2: all but
    /// the first `EDGE` of the tile's elements, which are left out; 3: the elements are read
    /// from a copy of the row's segment with zeros outside the row. A function of its own for
    /// each kind (see the module docs).
    ///
    /// # Safety
    ///
    /// As [`sample`]'s, with `EDGE` as described.
    #[inline(never)]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const EDGE: usize>((g, x, wt, bias, y, oh, rows, kb, ow0, cols): Tile<'_>) {
        let kpad = g.kpad();
        let mut acc = [[_mm512_setzero_ps(); T]; 2];
        if let Some(b) = bias {
            for (f, a) in acc.iter_mut().enumerate() {
                let at = kb + 16 * f;
                // SAFETY: the lanes loaded are the filters below `K`, inside `bias`.
                let v = unsafe {
                    _mm512_maskz_loadu_ps(first(g.k.saturating_sub(at).min(16)), b.wrapping_add(at))
                };
                *a = [v; T];
            }
        }
        // The tile reads elements `left + e` of an input row, `e < SPAN`.
        let left = (ow0 * S) as isize - g.p as isize;
        let (hw, n_rows) = (g.h * g.w, rows.len());
        let (w_step, w_chan) = (3 * kpad, g.hf * 3 * kpad);
        if n_rows > 0 && g.c > 0 {
            let x_c = x
                .wrapping_add((oh * S + rows.start - g.p) * g.w)
                .wrapping_offset(left);
            let w_c = wt.wrapping_add(rows.start * w_step + kb);
            let (mut m0, mut m1) = (0u16, 0u16);
            if EDGE == 3 {
                let mut inside = 0u32;
                for e in 0..SPAN {
                    let col = left + e as isize;
                    if col >= 0 && (col as usize) < g.w {
                        inside |= 1 << e;
                    }
                }
                (m0, m1) = (inside as u16, (inside >> 16) as u16);
            }
            const { assert!(SPAN <= 32) };
            let mut seg = [0f32; 32];
            for c in 0..g.c {
                for r in 0..n_rows {
                    let row = x_c.wrapping_add(c * hw + r * g.w);
                    let wp = w_c.wrapping_add(c * w_chan + r * w_step);
                    // SAFETY: kinds 0–2: elements `EDGE ..= 16` of the row lie inside it
                    // (the caller). Kind 3: the masks keep the lanes inside the row (a
                    // masked load touches no other), and `seg` holds the 17 elements.
                    unsafe {
                        if EDGE == 3 {
                            let s = seg.as_mut_ptr();
                            _mm512_storeu_ps(s, _mm512_maskz_loadu_ps(m0, row));
                            let rest = _mm512_maskz_loadu_ps(m1, row.wrapping_add(16));
                            _mm512_storeu_ps(s.add(16), rest);
                            row3::<0>(&mut acc, s, wp, kpad);
                        } else {
                            row3::<EDGE>(&mut acc, row, wp, kpad);
                        }
                    }
                }
            }
        }
        let plane = g.ho * g.wo;
        for (f, a) in acc.iter().enumerate() {
            // SAFETY: as this function's: `store` writes rows below `K`, columns below `cols`.
            unsafe {
                store(
                    a,
                    y.wrapping_add(oh * g.wo + ow0),
                    plane,
                    kb + 16 * f,
                    g.k,
                    cols,
                )
            };
        }
    }

    /// One kernel row of a 3-tap tile of two filter vectors: the multiply-adds of the tile's
    /// elements `SKIP ..= 16` of the row at `src` by the taps at `w` (filters `kpad` apart).
    /// Tap by tap, each accumulator once per tap, so that 16 independent multiply-adds follow
    /// one another; the even elements are broadcast once for taps 0 and 2 (column `t` reads
    /// element `2t + j`). Written out in assembly: with intrinsics, the order of the
    /// multiply-adds and where the 27 vectors live were the compiler's, and the same loop ran
    /// between 0.80× and 1.0× the time of the planes' path from one build to the next.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; elements `SKIP ..= 16` of `src` are readable, and the 3 taps of
    /// `2·16` filters at `w`.
    ///
    /// The three blocks are one text less the first one or two broadcasts and their
    /// multiply-adds: those come first in taps 0 and 1, so a block of their own would load the
    /// taps' filters twice.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn row3<const SKIP: usize>(
        acc: &mut [[__m512; T]; 2],
        src: *const f32,
        w: *const f32,
        kpad: usize,
    ) {
        const { assert!(T == 8 && S == 2) };
        // The scratch vectors, typed: an `out(zmm_reg) _` is a scalar to the compiler, which an
        // unoptimised build then keeps in the first 16 registers only.
        let (_wa, _wc, _x): (__m512, __m512, __m512);
        let (_b0, _b1, _b2, _b3, _b4, _b5, _b6, _b7): (
            __m512,
            __m512,
            __m512,
            __m512,
            __m512,
            __m512,
            __m512,
            __m512,
        );
        // The accumulators as values of their own: an operand that is a place in `acc` keeps
        // its address in a register across the block in an unoptimised build, and 16 of them
        // are more than there are.
        let [a, c] = *acc;
        let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6, mut a7] = a;
        let [mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7] = c;
        // SAFETY: as this function's; the block reads what it says and writes no memory.
        unsafe {
            match SKIP {
                0 => core::arch::asm!(
                    "vmovups {wa}, zmmword ptr [{wr}]",
                    "vmovups {wc}, zmmword ptr [{wr} + 64]",
                    "vbroadcastss {b0}, dword ptr [{src} + 0]",
                    "vfmadd231ps {a0}, {wa}, {b0}",
                    "vfmadd231ps {c0}, {wc}, {b0}",
                    "vbroadcastss {b1}, dword ptr [{src} + 8]",
                    "vfmadd231ps {a1}, {wa}, {b1}",
                    "vfmadd231ps {c1}, {wc}, {b1}",
                    "vbroadcastss {b2}, dword ptr [{src} + 16]",
                    "vfmadd231ps {a2}, {wa}, {b2}",
                    "vfmadd231ps {c2}, {wc}, {b2}",
                    "vbroadcastss {b3}, dword ptr [{src} + 24]",
                    "vfmadd231ps {a3}, {wa}, {b3}",
                    "vfmadd231ps {c3}, {wc}, {b3}",
                    "vbroadcastss {b4}, dword ptr [{src} + 32]",
                    "vfmadd231ps {a4}, {wa}, {b4}",
                    "vfmadd231ps {c4}, {wc}, {b4}",
                    "vbroadcastss {b5}, dword ptr [{src} + 40]",
                    "vfmadd231ps {a5}, {wa}, {b5}",
                    "vfmadd231ps {c5}, {wc}, {b5}",
                    "vbroadcastss {b6}, dword ptr [{src} + 48]",
                    "vfmadd231ps {a6}, {wa}, {b6}",
                    "vfmadd231ps {c6}, {wc}, {b6}",
                    "vbroadcastss {b7}, dword ptr [{src} + 56]",
                    "vfmadd231ps {a7}, {wa}, {b7}",
                    "vfmadd231ps {c7}, {wc}, {b7}",
                    "vmovups {wa}, zmmword ptr [{wr} + {kp}]",
                    "vmovups {wc}, zmmword ptr [{wr} + {kp} + 64]",
                    "vbroadcastss {x}, dword ptr [{src} + 4]",
                    "vfmadd231ps {a0}, {wa}, {x}",
                    "vfmadd231ps {c0}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 12]",
                    "vfmadd231ps {a1}, {wa}, {x}",
                    "vfmadd231ps {c1}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 20]",
                    "vfmadd231ps {a2}, {wa}, {x}",
                    "vfmadd231ps {c2}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 28]",
                    "vfmadd231ps {a3}, {wa}, {x}",
                    "vfmadd231ps {c3}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 36]",
                    "vfmadd231ps {a4}, {wa}, {x}",
                    "vfmadd231ps {c4}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 44]",
                    "vfmadd231ps {a5}, {wa}, {x}",
                    "vfmadd231ps {c5}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 52]",
                    "vfmadd231ps {a6}, {wa}, {x}",
                    "vfmadd231ps {c6}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 60]",
                    "vfmadd231ps {a7}, {wa}, {x}",
                    "vfmadd231ps {c7}, {wc}, {x}",
                    "vmovups {wa}, zmmword ptr [{wr} + {kp}*2]",
                    "vmovups {wc}, zmmword ptr [{wr} + {kp}*2 + 64]",
                    "vfmadd231ps {a0}, {wa}, {b1}",
                    "vfmadd231ps {c0}, {wc}, {b1}",
                    "vfmadd231ps {a1}, {wa}, {b2}",
                    "vfmadd231ps {c1}, {wc}, {b2}",
                    "vfmadd231ps {a2}, {wa}, {b3}",
                    "vfmadd231ps {c2}, {wc}, {b3}",
                    "vfmadd231ps {a3}, {wa}, {b4}",
                    "vfmadd231ps {c3}, {wc}, {b4}",
                    "vfmadd231ps {a4}, {wa}, {b5}",
                    "vfmadd231ps {c4}, {wc}, {b5}",
                    "vfmadd231ps {a5}, {wa}, {b6}",
                    "vfmadd231ps {c5}, {wc}, {b6}",
                    "vfmadd231ps {a6}, {wa}, {b7}",
                    "vfmadd231ps {c6}, {wc}, {b7}",
                    "vbroadcastss {x}, dword ptr [{src} + 64]",
                    "vfmadd231ps {a7}, {wa}, {x}",
                    "vfmadd231ps {c7}, {wc}, {x}",
                    src = in(reg) src,
                    wr = in(reg) w,
                    kp = in(reg) kpad * 4,
                    a0 = inout(zmm_reg) a0, c0 = inout(zmm_reg) c0,
                    a1 = inout(zmm_reg) a1, c1 = inout(zmm_reg) c1,
                    a2 = inout(zmm_reg) a2, c2 = inout(zmm_reg) c2,
                    a3 = inout(zmm_reg) a3, c3 = inout(zmm_reg) c3,
                    a4 = inout(zmm_reg) a4, c4 = inout(zmm_reg) c4,
                    a5 = inout(zmm_reg) a5, c5 = inout(zmm_reg) c5,
                    a6 = inout(zmm_reg) a6, c6 = inout(zmm_reg) c6,
                    a7 = inout(zmm_reg) a7, c7 = inout(zmm_reg) c7,
                    wa = out(zmm_reg) _wa, wc = out(zmm_reg) _wc, x = out(zmm_reg) _x,
                    b0 = out(zmm_reg) _b0,
                    b1 = out(zmm_reg) _b1,
                    b2 = out(zmm_reg) _b2,
                    b3 = out(zmm_reg) _b3,
                    b4 = out(zmm_reg) _b4,
                    b5 = out(zmm_reg) _b5,
                    b6 = out(zmm_reg) _b6,
                    b7 = out(zmm_reg) _b7,
                    options(nostack, readonly, preserves_flags),
                ),
                1 => core::arch::asm!(
                    "vmovups {wa}, zmmword ptr [{wr}]",
                    "vmovups {wc}, zmmword ptr [{wr} + 64]",
                    "vbroadcastss {b1}, dword ptr [{src} + 8]",
                    "vfmadd231ps {a1}, {wa}, {b1}",
                    "vfmadd231ps {c1}, {wc}, {b1}",
                    "vbroadcastss {b2}, dword ptr [{src} + 16]",
                    "vfmadd231ps {a2}, {wa}, {b2}",
                    "vfmadd231ps {c2}, {wc}, {b2}",
                    "vbroadcastss {b3}, dword ptr [{src} + 24]",
                    "vfmadd231ps {a3}, {wa}, {b3}",
                    "vfmadd231ps {c3}, {wc}, {b3}",
                    "vbroadcastss {b4}, dword ptr [{src} + 32]",
                    "vfmadd231ps {a4}, {wa}, {b4}",
                    "vfmadd231ps {c4}, {wc}, {b4}",
                    "vbroadcastss {b5}, dword ptr [{src} + 40]",
                    "vfmadd231ps {a5}, {wa}, {b5}",
                    "vfmadd231ps {c5}, {wc}, {b5}",
                    "vbroadcastss {b6}, dword ptr [{src} + 48]",
                    "vfmadd231ps {a6}, {wa}, {b6}",
                    "vfmadd231ps {c6}, {wc}, {b6}",
                    "vbroadcastss {b7}, dword ptr [{src} + 56]",
                    "vfmadd231ps {a7}, {wa}, {b7}",
                    "vfmadd231ps {c7}, {wc}, {b7}",
                    "vmovups {wa}, zmmword ptr [{wr} + {kp}]",
                    "vmovups {wc}, zmmword ptr [{wr} + {kp} + 64]",
                    "vbroadcastss {x}, dword ptr [{src} + 4]",
                    "vfmadd231ps {a0}, {wa}, {x}",
                    "vfmadd231ps {c0}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 12]",
                    "vfmadd231ps {a1}, {wa}, {x}",
                    "vfmadd231ps {c1}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 20]",
                    "vfmadd231ps {a2}, {wa}, {x}",
                    "vfmadd231ps {c2}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 28]",
                    "vfmadd231ps {a3}, {wa}, {x}",
                    "vfmadd231ps {c3}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 36]",
                    "vfmadd231ps {a4}, {wa}, {x}",
                    "vfmadd231ps {c4}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 44]",
                    "vfmadd231ps {a5}, {wa}, {x}",
                    "vfmadd231ps {c5}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 52]",
                    "vfmadd231ps {a6}, {wa}, {x}",
                    "vfmadd231ps {c6}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 60]",
                    "vfmadd231ps {a7}, {wa}, {x}",
                    "vfmadd231ps {c7}, {wc}, {x}",
                    "vmovups {wa}, zmmword ptr [{wr} + {kp}*2]",
                    "vmovups {wc}, zmmword ptr [{wr} + {kp}*2 + 64]",
                    "vfmadd231ps {a0}, {wa}, {b1}",
                    "vfmadd231ps {c0}, {wc}, {b1}",
                    "vfmadd231ps {a1}, {wa}, {b2}",
                    "vfmadd231ps {c1}, {wc}, {b2}",
                    "vfmadd231ps {a2}, {wa}, {b3}",
                    "vfmadd231ps {c2}, {wc}, {b3}",
                    "vfmadd231ps {a3}, {wa}, {b4}",
                    "vfmadd231ps {c3}, {wc}, {b4}",
                    "vfmadd231ps {a4}, {wa}, {b5}",
                    "vfmadd231ps {c4}, {wc}, {b5}",
                    "vfmadd231ps {a5}, {wa}, {b6}",
                    "vfmadd231ps {c5}, {wc}, {b6}",
                    "vfmadd231ps {a6}, {wa}, {b7}",
                    "vfmadd231ps {c6}, {wc}, {b7}",
                    "vbroadcastss {x}, dword ptr [{src} + 64]",
                    "vfmadd231ps {a7}, {wa}, {x}",
                    "vfmadd231ps {c7}, {wc}, {x}",
                    src = in(reg) src,
                    wr = in(reg) w,
                    kp = in(reg) kpad * 4,
                    a0 = inout(zmm_reg) a0, c0 = inout(zmm_reg) c0,
                    a1 = inout(zmm_reg) a1, c1 = inout(zmm_reg) c1,
                    a2 = inout(zmm_reg) a2, c2 = inout(zmm_reg) c2,
                    a3 = inout(zmm_reg) a3, c3 = inout(zmm_reg) c3,
                    a4 = inout(zmm_reg) a4, c4 = inout(zmm_reg) c4,
                    a5 = inout(zmm_reg) a5, c5 = inout(zmm_reg) c5,
                    a6 = inout(zmm_reg) a6, c6 = inout(zmm_reg) c6,
                    a7 = inout(zmm_reg) a7, c7 = inout(zmm_reg) c7,
                    wa = out(zmm_reg) _wa, wc = out(zmm_reg) _wc, x = out(zmm_reg) _x,
                    b1 = out(zmm_reg) _b1,
                    b2 = out(zmm_reg) _b2,
                    b3 = out(zmm_reg) _b3,
                    b4 = out(zmm_reg) _b4,
                    b5 = out(zmm_reg) _b5,
                    b6 = out(zmm_reg) _b6,
                    b7 = out(zmm_reg) _b7,
                    options(nostack, readonly, preserves_flags),
                ),
                2 => core::arch::asm!(
                    "vmovups {wa}, zmmword ptr [{wr}]",
                    "vmovups {wc}, zmmword ptr [{wr} + 64]",
                    "vbroadcastss {b1}, dword ptr [{src} + 8]",
                    "vfmadd231ps {a1}, {wa}, {b1}",
                    "vfmadd231ps {c1}, {wc}, {b1}",
                    "vbroadcastss {b2}, dword ptr [{src} + 16]",
                    "vfmadd231ps {a2}, {wa}, {b2}",
                    "vfmadd231ps {c2}, {wc}, {b2}",
                    "vbroadcastss {b3}, dword ptr [{src} + 24]",
                    "vfmadd231ps {a3}, {wa}, {b3}",
                    "vfmadd231ps {c3}, {wc}, {b3}",
                    "vbroadcastss {b4}, dword ptr [{src} + 32]",
                    "vfmadd231ps {a4}, {wa}, {b4}",
                    "vfmadd231ps {c4}, {wc}, {b4}",
                    "vbroadcastss {b5}, dword ptr [{src} + 40]",
                    "vfmadd231ps {a5}, {wa}, {b5}",
                    "vfmadd231ps {c5}, {wc}, {b5}",
                    "vbroadcastss {b6}, dword ptr [{src} + 48]",
                    "vfmadd231ps {a6}, {wa}, {b6}",
                    "vfmadd231ps {c6}, {wc}, {b6}",
                    "vbroadcastss {b7}, dword ptr [{src} + 56]",
                    "vfmadd231ps {a7}, {wa}, {b7}",
                    "vfmadd231ps {c7}, {wc}, {b7}",
                    "vmovups {wa}, zmmword ptr [{wr} + {kp}]",
                    "vmovups {wc}, zmmword ptr [{wr} + {kp} + 64]",
                    "vbroadcastss {x}, dword ptr [{src} + 12]",
                    "vfmadd231ps {a1}, {wa}, {x}",
                    "vfmadd231ps {c1}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 20]",
                    "vfmadd231ps {a2}, {wa}, {x}",
                    "vfmadd231ps {c2}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 28]",
                    "vfmadd231ps {a3}, {wa}, {x}",
                    "vfmadd231ps {c3}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 36]",
                    "vfmadd231ps {a4}, {wa}, {x}",
                    "vfmadd231ps {c4}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 44]",
                    "vfmadd231ps {a5}, {wa}, {x}",
                    "vfmadd231ps {c5}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 52]",
                    "vfmadd231ps {a6}, {wa}, {x}",
                    "vfmadd231ps {c6}, {wc}, {x}",
                    "vbroadcastss {x}, dword ptr [{src} + 60]",
                    "vfmadd231ps {a7}, {wa}, {x}",
                    "vfmadd231ps {c7}, {wc}, {x}",
                    "vmovups {wa}, zmmword ptr [{wr} + {kp}*2]",
                    "vmovups {wc}, zmmword ptr [{wr} + {kp}*2 + 64]",
                    "vfmadd231ps {a0}, {wa}, {b1}",
                    "vfmadd231ps {c0}, {wc}, {b1}",
                    "vfmadd231ps {a1}, {wa}, {b2}",
                    "vfmadd231ps {c1}, {wc}, {b2}",
                    "vfmadd231ps {a2}, {wa}, {b3}",
                    "vfmadd231ps {c2}, {wc}, {b3}",
                    "vfmadd231ps {a3}, {wa}, {b4}",
                    "vfmadd231ps {c3}, {wc}, {b4}",
                    "vfmadd231ps {a4}, {wa}, {b5}",
                    "vfmadd231ps {c4}, {wc}, {b5}",
                    "vfmadd231ps {a5}, {wa}, {b6}",
                    "vfmadd231ps {c5}, {wc}, {b6}",
                    "vfmadd231ps {a6}, {wa}, {b7}",
                    "vfmadd231ps {c6}, {wc}, {b7}",
                    "vbroadcastss {x}, dword ptr [{src} + 64]",
                    "vfmadd231ps {a7}, {wa}, {x}",
                    "vfmadd231ps {c7}, {wc}, {x}",
                    src = in(reg) src,
                    wr = in(reg) w,
                    kp = in(reg) kpad * 4,
                    a0 = inout(zmm_reg) a0, c0 = inout(zmm_reg) c0,
                    a1 = inout(zmm_reg) a1, c1 = inout(zmm_reg) c1,
                    a2 = inout(zmm_reg) a2, c2 = inout(zmm_reg) c2,
                    a3 = inout(zmm_reg) a3, c3 = inout(zmm_reg) c3,
                    a4 = inout(zmm_reg) a4, c4 = inout(zmm_reg) c4,
                    a5 = inout(zmm_reg) a5, c5 = inout(zmm_reg) c5,
                    a6 = inout(zmm_reg) a6, c6 = inout(zmm_reg) c6,
                    a7 = inout(zmm_reg) a7, c7 = inout(zmm_reg) c7,
                    wa = out(zmm_reg) _wa, wc = out(zmm_reg) _wc, x = out(zmm_reg) _x,
                    b1 = out(zmm_reg) _b1,
                    b2 = out(zmm_reg) _b2,
                    b3 = out(zmm_reg) _b3,
                    b4 = out(zmm_reg) _b4,
                    b5 = out(zmm_reg) _b5,
                    b6 = out(zmm_reg) _b6,
                    b7 = out(zmm_reg) _b7,
                    options(nostack, readonly, preserves_flags),
                ),
                _ => unreachable!(),
            }
        }
        *acc = [
            [a0, a1, a2, a3, a4, a5, a6, a7],
            [c0, c1, c2, c3, c4, c5, c6, c7],
        ];
    }

    /// Writes the 8 columns × 16 filters of `r` (a vector per column) as the first `cols`
    /// columns of rows `k0 ..` of `y`, `plane` apart, the rows below `k` only.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; those elements of `y` are writable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(r: &[__m512; T], y: *mut f32, plane: usize, k0: usize, k: usize, cols: usize) {
        // An 8 × 8 transposition in each half of the vectors: lanes `l` and `l + 8` of `o[l]`
        // are filters `l` and `l + 8` at the 8 columns.
        let t0 = _mm512_unpacklo_ps(r[0], r[1]);
        let t1 = _mm512_unpackhi_ps(r[0], r[1]);
        let t2 = _mm512_unpacklo_ps(r[2], r[3]);
        let t3 = _mm512_unpackhi_ps(r[2], r[3]);
        let t4 = _mm512_unpacklo_ps(r[4], r[5]);
        let t5 = _mm512_unpackhi_ps(r[4], r[5]);
        let t6 = _mm512_unpacklo_ps(r[6], r[7]);
        let t7 = _mm512_unpackhi_ps(r[6], r[7]);
        let u0 = _mm512_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm512_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm512_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm512_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm512_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm512_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm512_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm512_shuffle_ps::<0xEE>(t5, t7);
        let lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
        let hi = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
        let o = [
            _mm512_permutex2var_ps(u0, lo, u4),
            _mm512_permutex2var_ps(u1, lo, u5),
            _mm512_permutex2var_ps(u2, lo, u6),
            _mm512_permutex2var_ps(u3, lo, u7),
            _mm512_permutex2var_ps(u0, hi, u4),
            _mm512_permutex2var_ps(u1, hi, u5),
            _mm512_permutex2var_ps(u2, hi, u6),
            _mm512_permutex2var_ps(u3, hi, u7),
        ];
        let m = first(cols) & 0xff;
        for (l, v) in o.iter().enumerate() {
            let high = _mm512_castpd_ps(_mm512_shuffle_f64x2::<0b11_10_11_10>(
                _mm512_castps_pd(*v),
                _mm512_castps_pd(*v),
            ));
            for (row, half) in [(k0 + l, *v), (k0 + l + 8, high)] {
                if row < k {
                    let p = y.wrapping_add(row * plane);
                    // SAFETY: the first `cols` elements of row `row` are `y`'s (the caller).
                    unsafe {
                        if cols == T {
                            _mm256_storeu_ps(p, _mm512_castps512_ps256(half));
                        } else {
                            _mm512_mask_storeu_ps(p, m, half);
                        }
                    }
                }
            }
        }
    }

    /// Writes `x (C, H, W)` into `out (C, H + 2P, W + 2P)` with zeros around each channel,
    /// asking for the next channel's rows meanwhile (as `rows::split_rows2` does: a load
    /// otherwise stalls on the first lines of every 4 KiB page).
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `x` holds `C·H·W` elements and `out` `C·(H + 2P)·(W + 2P)`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pad(g: &Direct, x: *const f32, out: *mut f32) {
        let (p, w, wp, hp) = (g.p, g.w, g.w + 2 * g.p, g.h + 2 * g.p);
        let zero = _mm512_setzero_ps();
        for c in 0..g.c {
            for r in 0..hp {
                let dst = out.wrapping_add((c * hp + r) * wp);
                if r < p || r >= g.h + p {
                    for t in (0..wp).step_by(16) {
                        // SAFETY: the lanes stored lie in the padded row.
                        unsafe { _mm512_mask_storeu_ps(dst.add(t), first((wp - t).min(16)), zero) };
                    }
                    continue;
                }
                let src = x.wrapping_add((c * g.h + r - p) * w);
                if c + 1 < g.c {
                    for t in (0..w).step_by(16) {
                        // A hint: it reads nothing and cannot fault.
                        _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(g.h * w + t).cast());
                    }
                }
                // SAFETY: the row's `P` zeros on each side and its `W` elements lie in the
                // padded row; the elements loaded, in row `r − P` of channel `c`.
                unsafe {
                    for t in 0..p {
                        *dst.add(t) = 0.0;
                        *dst.add(p + w + t) = 0.0;
                    }
                    for t in (0..w).step_by(16) {
                        let n = (w - t).min(16);
                        if n == 16 {
                            _mm512_storeu_ps(dst.add(p + t), _mm512_loadu_ps(src.add(t)));
                        } else {
                            let v = _mm512_maskz_loadu_ps(first(n), src.add(t));
                            _mm512_mask_storeu_ps(dst.add(p + t), first(n), v);
                        }
                    }
                }
            }
        }
    }

    /// Writes `src (k, q)` transposed into `dst (q, kpad)`: row `t` of `dst` holds element `t`
    /// of each row of `src`, zeros past `k`. In blocks of 16 × 16, transposed in registers.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `src` holds `k·q` elements and `dst` `q·kpad`, with `k ≤ kpad`
    /// and `kpad` a multiple of 16.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose(
        src: *const f32,
        k: usize,
        q: usize,
        dst: *mut f32,
        kpad: usize,
    ) {
        for kb in (0..kpad).step_by(16) {
            for q0 in (0..q).step_by(16) {
                let n = (q - q0).min(16);
                let mut r = [_mm512_setzero_ps(); 16];
                for (l, v) in r.iter_mut().enumerate() {
                    // Rows past `k` are zero: a load of no lane reads nothing.
                    let m = if kb + l < k { first(n) } else { 0 };
                    let at = src.wrapping_add((kb + l) * q + q0);
                    // SAFETY: the lanes below `n` of row `kb + l < k` are inside `src`.
                    *v = unsafe { _mm512_maskz_loadu_ps(m, at) };
                    // Two blocks ahead along the row (a hint: reads nothing, cannot fault).
                    _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(32).cast());
                }
                let t = transpose16(&r);
                if n == 16 {
                    for (l, v) in t.iter().enumerate() {
                        // SAFETY: row `q0 + l < q` of `dst`, filters `kb .. kb + 16 ≤ kpad`.
                        unsafe { _mm512_storeu_ps(dst.add((q0 + l) * kpad + kb), *v) };
                    }
                } else {
                    for (l, v) in t.iter().enumerate().take(n) {
                        // SAFETY: as above.
                        unsafe { _mm512_storeu_ps(dst.add((q0 + l) * kpad + kb), *v) };
                    }
                }
            }
        }
    }

    /// The 16 × 16 transposition: lane `l` of output `c` is lane `c` of input `l`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose16(r: &[__m512; 16]) -> [__m512; 16] {
        // In each 128-bit lane `L`: `t[4a]`, `t[4a + 1]` interleave rows `4a` and `4a + 1`,
        // `t[4a + 2]`, `t[4a + 3]` rows `4a + 2` and `4a + 3` (low and high pairs).
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // `u[4a + c]`, 128-bit lane `L`: rows `4a .. 4a + 4` of column `4L + c`.
        let mut u = [_mm512_setzero_ps(); 16];
        for a in (0..16).step_by(4) {
            u[a] = _mm512_shuffle_ps::<0x44>(t[a], t[a + 2]);
            u[a + 1] = _mm512_shuffle_ps::<0xEE>(t[a], t[a + 2]);
            u[a + 2] = _mm512_shuffle_ps::<0x44>(t[a + 1], t[a + 3]);
            u[a + 3] = _mm512_shuffle_ps::<0xEE>(t[a + 1], t[a + 3]);
        }
        // Column `4L + c` gathers lane `L` of `u[c]`, `u[4 + c]`, `u[8 + c]`, `u[12 + c]`.
        let mut o = [_mm512_setzero_ps(); 16];
        for c in 0..4 {
            let v0 = _mm512_shuffle_f32x4::<0x88>(u[c], u[4 + c]);
            let v1 = _mm512_shuffle_f32x4::<0xDD>(u[c], u[4 + c]);
            let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + c], u[12 + c]);
            let v3 = _mm512_shuffle_f32x4::<0xDD>(u[8 + c], u[12 + c]);
            o[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
            o[4 + c] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
            o[8 + c] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
            o[12 + c] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
        }
        o
    }

    /// Adds the weight gradient of one group of one sample into `dwt`
    /// ([`Direct::weight_grad`]), from the padded input `xp` (rows `wp` apart) and the
    /// transposed output gradient `dyt`: per channel, block of up to three kernel rows and pair
    /// of filter vectors, one call of [`rows_grad`].
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `xp` holds `C` channels of `(H + 2P) × wp` elements, `dyt`
    /// `HO·WO` rows of [`Direct::kpad`] filters, `dwt` `C·HF·3` rows of `K`; the geometry is
    /// one of a stride-2 convolution 3 wide (`(HO − 1)·2 + HF ≤ H + 2P`, `(WO − 1)·2 + 3 ≤
    /// wp`).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weight_grad(
        g: &Direct,
        xp: *const f32,
        wp: usize,
        dyt: *const f32,
        dwt: *mut f32,
    ) {
        let (kpad, plane) = (g.kpad(), (g.h + 2 * g.p) * wp);
        for c in 0..g.c {
            for i0 in (0..g.hf).step_by(3) {
                let x = xp.wrapping_add(c * plane + i0 * wp);
                let dw = dwt.wrapping_add((c * g.hf + i0) * 3 * g.k);
                for kb in (0..kpad).step_by(32) {
                    let a: Rows<'_> = (g, x, wp, dyt.wrapping_add(kb), dw, kb);
                    // SAFETY: as this function's: kernel rows `i0 .. i0 + R ≤ HF`, filter
                    // vectors `kb / 16 .. kb / 16 + V` of the `kpad / 16`.
                    unsafe {
                        match ((g.hf - i0).min(3), kpad - kb >= 32) {
                            (3, true) => rows_grad::<3, 2>(a),
                            (2, true) => rows_grad::<2, 2>(a),
                            (_, true) => rows_grad::<1, 2>(a),
                            (3, false) => rows_grad::<3, 1>(a),
                            (2, false) => rows_grad::<2, 1>(a),
                            (_, false) => rows_grad::<1, 1>(a),
                        }
                    }
                }
            }
        }
    }

    /// The arguments of [`rows_grad`]: the geometry, the padded channel at the block's first
    /// kernel row, its row length, the transposed output gradient at the first filter, `dwt` at
    /// the block's first row, and the first filter.
    type Rows<'a> = (&'a Direct, *const f32, usize, *const f32, *mut f32, usize);

    /// The gradient of kernel rows `0 .. R` (from `x`), 3 taps each, for filters
    /// `kb .. kb + 16·V`, summed over every output position in `R · 3 · V` accumulators, then
    /// added into `dwt` (row `r·3 + j`, the filters below `K`). A function of its own for each
    /// shape, so that the accumulators are registers.
    ///
    /// # Safety
    ///
    /// As [`weight_grad`]'s, for this block.
    #[inline(never)]
    #[target_feature(enable = "avx512f")]
    unsafe fn rows_grad<const R: usize, const V: usize>((g, x, wp, dyt, dwt, kb): Rows<'_>) {
        let kpad = g.kpad();
        let mut acc = [[[_mm512_setzero_ps(); V]; 3]; R];
        for oh in 0..g.ho {
            let x_row = x.wrapping_add(oh * S * wp);
            let d_row = dyt.wrapping_add(oh * g.wo * kpad);
            for ow in 0..g.wo {
                let xs = x_row.wrapping_add(ow * S);
                let mut d = [_mm512_setzero_ps(); V];
                for (f, v) in d.iter_mut().enumerate() {
                    // SAFETY: filters `kb + 16·f ..` of position `(oh, ow)`, below `kpad`.
                    *v = unsafe { _mm512_loadu_ps(d_row.add(ow * kpad + 16 * f)) };
                }
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    for (j, acc_rj) in acc_r.iter_mut().enumerate() {
                        // SAFETY: padded row `2·oh + i0 + r`, column `2·ow + j`, inside the
                        // channel (the geometry).
                        let b = _mm512_set1_ps(unsafe { *xs.add(r * wp + j) });
                        for (a, &dv) in acc_rj.iter_mut().zip(&d) {
                            *a = _mm512_fmadd_ps(b, dv, *a);
                        }
                    }
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (j, acc_rj) in acc_r.iter().enumerate() {
                let row = dwt.wrapping_add((r * 3 + j) * g.k);
                for (f, a) in acc_rj.iter().enumerate() {
                    let at = kb + 16 * f;
                    if at < g.k {
                        let m = first((g.k - at).min(16));
                        // SAFETY: the filters `at ..` below `K` of a row of `dwt`.
                        unsafe {
                            let p = row.add(at);
                            _mm512_mask_storeu_ps(
                                p,
                                m,
                                _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), *a),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NaN elements on each side of a guarded slice.
    const GUARD: usize = 64;

    /// `n` values in `[−0.5, 0.5)` from a xorshift generator whose state is `seed`.
    fn draw(seed: &mut u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                *seed as f32 / u32::MAX as f32 - 0.5
            })
            .collect()
    }

    /// `v` with [`GUARD`] NaN on each side: an element read from outside `v` would show.
    fn guarded(v: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NAN; GUARD];
        out.extend(v);
        out.extend(vec![f32::NAN; GUARD]);
        out
    }

    /// The geometry of a stride-2, 3-wide convolution `(C, H, W, K, HF, P)`.
    fn geom((c, h, w, k, hf, p): (usize, usize, usize, usize, usize, usize)) -> Direct {
        let wf = 3;
        let (ho, wo) = ((h + 2 * p - hf) / 2 + 1, (w + 2 * p - wf) / 2 + 1);
        Direct {
            c,
            h,
            w,
            k,
            hf,
            wf,
            p,
            ho,
            wo,
        }
    }

    /// The convolution by its definition, in f64.
    fn definition(g: &Direct, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
        let mut y = vec![0f64; g.k * g.ho * g.wo];
        for k in 0..g.k {
            for oh in 0..g.ho {
                for ow in 0..g.wo {
                    let mut s = b.map_or(0.0, |b| f64::from(b[k]));
                    for c in 0..g.c {
                        for i in 0..g.hf {
                            for j in 0..g.wf {
                                let r = (oh * S + i) as isize - g.p as isize;
                                let q = (ow * S + j) as isize - g.p as isize;
                                if (0..g.h as isize).contains(&r) && (0..g.w as isize).contains(&q)
                                {
                                    let xv = x[(c * g.h + r as usize) * g.w + q as usize];
                                    let wv = w[((k * g.c + c) * g.hf + i) * g.wf + j];
                                    s += f64::from(xv) * f64::from(wv);
                                }
                            }
                        }
                    }
                    y[(k * g.ho + oh) * g.wo + ow] = s;
                }
            }
        }
        y
    }

    /// Every kind of tile (inside, left padding of 1 and 2, the zero-padded copy for right
    /// edges, short last tiles and padding of 3), kernels 1 to 5 rows high, filters in one pair
    /// of vectors and several, with a partial last pair, inputs down to one element, with and
    /// without bias, against the definition; nothing written past `y`.
    #[test]
    fn matches_the_definition() {
        if !Direct::runs::<f32>(2, 1, 3, 32) {
            return;
        }
        let mut seed = 12345u32;
        // (C, H, W, K, HF, P)
        let geoms = [
            (16, 32, 32, 32, 3, 1),
            (16, 32, 32, 64, 3, 1),
            (16, 31, 31, 32, 3, 1),
            (3, 13, 11, 20, 3, 1),
            (5, 17, 19, 57, 5, 2),
            (4, 16, 16, 32, 1, 0),
            (2, 9, 9, 31, 3, 3),
            (1, 4, 4, 17, 3, 1),
            (2, 3, 3, 32, 3, 0),
            (6, 40, 70, 96, 3, 1),
            (3, 7, 9, 32, 2, 2),
            (1, 1, 1, 20, 3, 1),
            (2, 18, 40, 24, 4, 0),
            (7, 33, 35, 32, 3, 2),
        ];
        for shape in geoms {
            let g = geom(shape);
            let (c, k, hf, wf, ho, wo) = (g.c, g.k, g.hf, g.wf, g.ho, g.wo);
            assert!(Direct::runs::<f32>(2, 1, wf, k));
            let s = &mut seed;
            let (x, wt, b) = (draw(s, c * g.h * g.w), draw(s, k * c * hf * wf), draw(s, k));
            let mut packed = vec![0.0; g.packed_len()];
            g.pack(&wt, &mut packed);
            // NaN around the input: an element read from outside it would show in `y`.
            let padded = guarded(&x);
            let x_in = &padded[GUARD..GUARD + x.len()];
            for bias in [Some(&b[..]), None] {
                // NaN past the output, a plane and more: a write past `y` would be seen.
                let len = k * ho * wo;
                let mut y = vec![f32::NAN; len + ho * wo + GUARD];
                assert!(g.forward(x_in, &packed, bias, &mut y[..len]));
                let want = definition(&g, &x, &wt, bias);
                for (i, (&got, &want)) in y.iter().zip(&want).enumerate() {
                    let tol = 1e-5 * (1.0 + want.abs());
                    let close = (f64::from(got) - want).abs() <= tol;
                    assert!(close, "{g:?} y[{i}] {got} {want}");
                }
                assert!(y[len..].iter().all(|v| v.is_nan()), "{g:?}: wrote past y");
            }
        }
    }

    /// The weight gradient by its definition, in f64, laid out as [`Direct::weight_grad`]
    /// adds it: row `(c·HF + i)·3 + j`, `K` filters.
    fn weight_grad_definition(g: &Direct, x: &[f32], dy: &[f32]) -> Vec<f64> {
        let mut dwt = vec![0f64; g.c * g.hf * 3 * g.k];
        for c in 0..g.c {
            for i in 0..g.hf {
                for j in 0..3 {
                    for k in 0..g.k {
                        let mut s = 0.0;
                        for oh in 0..g.ho {
                            for ow in 0..g.wo {
                                let r = (oh * S + i) as isize - g.p as isize;
                                let q = (ow * S + j) as isize - g.p as isize;
                                if (0..g.h as isize).contains(&r) && (0..g.w as isize).contains(&q)
                                {
                                    let xv = x[(c * g.h + r as usize) * g.w + q as usize];
                                    let dv = dy[(k * g.ho + oh) * g.wo + ow];
                                    s += f64::from(xv) * f64::from(dv);
                                }
                            }
                        }
                        dwt[((c * g.hf + i) * 3 + j) * g.k + k] = s;
                    }
                }
            }
        }
        dwt
    }

    /// The weight gradient against its definition: kernels 1 to 7 rows high (blocks of three
    /// rows and the shorter last ones), filters from 1 to 96 (one vector, pairs, partial last
    /// vectors: every shape of block), paddings 0 to 3, output positions not a multiple of 16,
    /// a 1 × 1 input; it adds to what `dwt` holds, reads nothing outside `x` and `dy` (NaN
    /// around them; the transposed gradient past `K` is zero) and writes nothing past `dwt`.
    #[test]
    fn weight_grad_matches_the_definition() {
        if !Direct::runs_weight_grad::<f32>(2, 1, 3, 1) {
            return;
        }
        let mut seed = 777u32;
        // (C, H, W, K, HF, P)
        let geoms = [
            (16, 32, 32, 32, 3, 1),
            (3, 13, 11, 20, 3, 1),
            (5, 17, 19, 57, 5, 2),
            (4, 16, 16, 32, 1, 0),
            (2, 9, 9, 31, 3, 3),
            (1, 4, 4, 1, 3, 1),
            (2, 8, 8, 16, 3, 1),
            (3, 7, 9, 48, 2, 2),
            (1, 1, 1, 20, 3, 1),
            (2, 18, 40, 24, 4, 0),
            (2, 21, 23, 96, 7, 1),
            (7, 33, 35, 8, 3, 2),
            // A last block of one kernel row with a last single filter vector.
            (3, 11, 13, 16, 1, 0),
            (2, 15, 17, 40, 4, 1),
        ];
        for shape in geoms {
            let g = geom(shape);
            let (c, k, hf) = (g.c, g.k, g.hf);
            assert!(Direct::runs_weight_grad::<f32>(2, 1, 3, k));
            let s = &mut seed;
            let (x, dy) = (draw(s, c * g.h * g.w), draw(s, k * g.ho * g.wo));
            let before = draw(s, c * hf * 3 * k);
            // NaN around the input and the output gradient: an element read from outside
            // them would show in the gradient.
            let (xg, dyg) = (guarded(&x), guarded(&dy));
            let len = before.len();
            let mut dwt = before.clone();
            dwt.extend(vec![f32::NAN; GUARD]);
            let mut scratch = vec![f32::NAN; g.weight_grad_scratch()];
            let (x_in, dy_in) = (&xg[GUARD..GUARD + x.len()], &dyg[GUARD..GUARD + dy.len()]);
            assert!(g.weight_grad(x_in, dy_in, &mut dwt[..len], &mut scratch));
            let want = weight_grad_definition(&g, &x, &dy);
            for (i, ((&got, &want), &b)) in dwt.iter().zip(&want).zip(&before).enumerate() {
                let want = want + f64::from(b);
                let tol = 1e-5 * (1.0 + want.abs());
                let close = (f64::from(got) - want).abs() <= tol;
                assert!(close, "{g:?} dwt[{i}] {got} {want}");
            }
            assert!(
                dwt[len..].iter().all(|v| v.is_nan()),
                "{g:?}: wrote past dwt"
            );
            // The transposed output gradient is zero past `K` (its rows past `K` were read from
            // no memory: NaN around `dy` would show here).
            let dyt = &scratch[g.padded_len()..][..g.ho * g.wo * g.kpad()];
            for row in dyt.chunks_exact(g.kpad()) {
                assert!(row[k..].iter().all(|&v| v == 0.0), "{g:?}: filters past K");
            }
        }
    }

    /// The geometries it leaves to the planes: other strides, dilations, widths, filters that
    /// end in a lone vector (the forward pass), `f64`; `forward` and `weight_grad` then write
    /// nothing.
    #[test]
    fn declines_what_it_does_not_run() {
        for (s, d, wf, k) in [(1, 1, 3, 32), (3, 1, 3, 32), (2, 2, 3, 32), (2, 1, 5, 32)] {
            assert!(!Direct::runs::<f32>(s, d, wf, k));
        }
        for k in [8, 16, 48] {
            assert!(!Direct::runs::<f32>(2, 1, 3, k));
        }
        assert!(!Direct::runs::<f64>(2, 1, 3, 32));
        let g = Direct {
            c: 1,
            h: 4,
            w: 4,
            k: 16,
            hf: 3,
            wf: 3,
            p: 1,
            ho: 2,
            wo: 2,
        };
        let mut y = [7.0f32; 64];
        assert!(!g.forward(&[0.0; 16], &[0.0; 9 * 16], None, &mut y));
        assert!(y.iter().all(|&v| v == 7.0));
        // The weight gradient: any number of filters, the rest as the forward pass.
        for (s, d, wf, k) in [(1, 1, 3, 32), (3, 1, 3, 32), (2, 2, 3, 32), (2, 1, 5, 32)] {
            assert!(!Direct::runs_weight_grad::<f32>(s, d, wf, k));
        }
        assert!(!Direct::runs_weight_grad::<f32>(2, 1, 3, 0));
        assert!(!Direct::runs_weight_grad::<f64>(2, 1, 3, 32));
        let g = Direct { w: 5, ..g };
        let mut dwt = [7.0f64; 9 * 16];
        let mut scratch = vec![7.0f64; g.weight_grad_scratch()];
        assert!(!g.weight_grad(&[0.0; 20], &[0.0; 64], &mut dwt, &mut scratch));
        assert!(dwt.iter().chain(&scratch).all(|&v| v == 7.0));
    }
}
