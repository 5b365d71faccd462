//! Every matrix product of the crate (a training step must not allocate, and the gemm crate
//! allocates on every call): a register-tiled kernel that packs into stack arrays only and
//! allocates nothing.
//!
//! The tile is `MR × NR` accumulators held in vector registers: each step of the depth loop
//! broadcasts `MR` elements of a column of A and multiplies them by one row of `NR` elements of
//! B, read in place when its rows are contiguous and otherwise packed into a panel on the
//! stack (a transposed B by squares transposed in registers). Blocking, packing and the
//! reading of A are generic over the element; the tile and the transposition are written in
//! `std::arch` intrinsics per instruction set, chosen at run time, with a portable fallback
//! (the compiler's own vectorisation made gathers and kept the tile in memory: 2.6 GFLOP/s).

use core::any::TypeId;
use core::mem::MaybeUninit;

use super::View;
use crate::tensor::Element;

/// Depth of one block: a packed `KC × NR` panel of B (24 KiB of f32 on AVX-512) stays in the L1
/// data cache (48 KiB on the Intel VM) while every tile of its columns reads it. Each block
/// stores its tiles and the next reloads them: against 128, this depth took the strided
/// convolution of the benchmark (depth 144: one block instead of two) 0.96× the time forward
/// and 0.97× forward+backward, LeNet's first convolution (its `dW` of depth 576 in 3 blocks
/// instead of 5) 0.96× and 0.97× (A/B, 9 rounds); 256 gave no more (LeNet-5's step forward
/// 1.05×).
const KC: usize = 192;
/// Depth of one step of the blocked transposition of B (`KC` is a multiple of it).
const KT: usize = 16;

/// What a product does with `dst`: `dst = a · b`, `dst += a · b`, or `dst = bias + a · b`
/// with one bias per row of `dst` (a layer's output written whole by the product, the bias
/// added where each tile is stored rather than in a pass of its own over `dst` first).
#[derive(Clone, Copy)]
pub(crate) enum Init<'a, E> {
    Write,
    Add,
    Bias(&'a [E]),
}

impl<E> From<bool> for Init<'_, E> {
    /// `Add` when accumulating, else `Write`.
    fn from(accumulate: bool) -> Self {
        if accumulate {
            Init::Add
        } else {
            Init::Write
        }
    }
}

impl<E: Element> Init<'_, E> {
    /// For a product that writes or adds (one split in blocks): fills the
    /// first `m` rows of `dst` with the bias if there is one, and says whether the product
    /// adds to `dst`.
    pub(super) fn fill(self, [m, n]: [usize; 2], dst: &mut [E], dst_rs: usize) -> bool {
        match self {
            Init::Write => false,
            Init::Add => true,
            Init::Bias(bias) => {
                for (row, &v) in dst.chunks_mut(dst_rs.max(1)).take(m).zip(bias) {
                    row[..n].fill(v);
                }
                true
            }
        }
    }
}

impl<'a, E: 'static> Init<'a, E> {
    /// The same from row `i0` of `dst` on.
    #[inline(always)]
    fn past_rows(self, i0: usize) -> Self {
        match self {
            Init::Bias(b) => Init::Bias(&b[i0..]),
            other => other,
        }
    }
    /// The same with element type `T`, when `E` is `T`.
    fn cast<T: 'static>(self) -> Option<Init<'a, T>> {
        Some(match self {
            Init::Write => Init::Write,
            Init::Add => Init::Add,
            Init::Bias(b) => Init::Bias(cast(b)?),
        })
    }
}

/// Where a product writes: `rows` rows of `cols` elements, `rs ≥ cols` apart, borrowed
/// mutably for `'a`. Only those elements are ever made into slices (a row at a time), so a
/// column block of a product split between threads writes its columns while other blocks
/// write theirs between them: a `&mut [E]` over the block's span would overlap theirs.
pub(crate) struct Dst<'a, E> {
    ptr: *mut E,
    rs: usize,
    rows: usize,
    cols: usize,
    life: core::marker::PhantomData<&'a mut [E]>,
}

impl<'a, E> Dst<'a, E> {
    /// The first `rows` rows of `cols` elements of `dst`, `rs` apart.
    ///
    /// # Panics
    ///
    /// If they do not lie in `dst`, or rows would overlap (`rs < cols` with two or more).
    pub(crate) fn new(dst: &'a mut [E], rs: usize, rows: usize, cols: usize) -> Self {
        // Every row's start lies in `dst` or at its end (`row` offsets the pointer to it, even
        // for rows of no columns), and its `cols` elements in `dst`.
        let end = (rows.saturating_sub(1))
            .checked_mul(rs)
            .and_then(|start| start.checked_add(cols));
        let fits = rows == 0 || end.is_some_and(|end| end <= dst.len());
        assert!(fits && (rows < 2 || rs >= cols), "gemm: dst out of bounds");
        // SAFETY: checked just above.
        unsafe { Self::from_raw(dst.as_mut_ptr(), rs, rows, cols) }
    }

    /// The same from a pointer.
    ///
    /// # Safety
    ///
    /// Element `r · rs + c` from `ptr`, for `r < rows` and `c < cols`, is memory that nothing
    /// else reads or writes for `'a` (rows do not overlap: `rs ≥ cols` when `rows ≥ 2`).
    pub(crate) unsafe fn from_raw(ptr: *mut E, rs: usize, rows: usize, cols: usize) -> Self {
        Self {
            ptr,
            rs,
            rows,
            cols,
            life: core::marker::PhantomData,
        }
    }

    /// Row `i`, its `cols` elements.
    #[inline(always)]
    fn row(&mut self, i: usize) -> &mut [E] {
        assert!(i < self.rows, "gemm: row out of bounds");
        // SAFETY: row `i < rows` is `cols` elements this value may write (`from_raw`'s
        // contract), borrowed through `&mut self` for the slice's life.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(i * self.rs), self.cols) }
    }

    /// The part from row `i0` and column `j0` on (empty past the end).
    #[inline(always)]
    fn at(&mut self, i0: usize, j0: usize) -> Dst<'_, E> {
        let (i0, j0) = (i0.min(self.rows), j0.min(self.cols));
        Dst {
            ptr: self.ptr.wrapping_add(i0 * self.rs + j0),
            rs: self.rs,
            rows: self.rows - i0,
            cols: self.cols - j0,
            life: core::marker::PhantomData,
        }
    }

    /// The same with element type `T`, when `E` is `T`.
    fn cast<T: 'static>(self) -> Option<Dst<'a, T>>
    where
        E: 'static,
    {
        (TypeId::of::<E>() == TypeId::of::<T>()).then(|| Dst {
            ptr: self.ptr.cast(),
            rs: self.rs,
            rows: self.rows,
            cols: self.cols,
            life: core::marker::PhantomData,
        })
    }
}

/// `dst = a · b` (see [`Init`]); the caller has checked the bounds (`super::matmul`), that `m`
/// and `n` are not zero, and that a bias has `m` elements.
pub(super) fn matmul<E: Element>(
    mnk: [usize; 3],
    dst: &mut [E],
    dst_rs: usize,
    init: Init<'_, E>,
    a: View<'_, E>,
    b: View<'_, E>,
) {
    matmul_dst(mnk, Dst::new(dst, dst_rs, mnk[0], mnk[1]), init, a, b);
}

/// [`matmul`] into a [`Dst`] of `m` rows of `n`.
pub(super) fn matmul_dst<E: Element>(
    mnk: [usize; 3],
    dst: Dst<'_, E>,
    init: Init<'_, E>,
    a: View<'_, E>,
    b: View<'_, E>,
) {
    let [m, n, k] = mnk;
    assert!(dst.rows >= m && dst.cols >= n, "gemm: dst out of bounds");
    if m * n * k <= TINY_MAX_MACS {
        return definition(mnk, dst, init, a, b);
    }
    // One non-generic function per element type (`E` is sealed to these two): a generic one
    // would be compiled again, with every kernel, in each crate that multiplies (a user's
    // release build after a one-line edit took 26 s, nine tenths of it these kernels). The
    // f32 kernels, the default element's, are compiled here, once; the f64 ones (`#[inline]`)
    // only in a crate that multiplies f64: the branch is on a constant of `E`, decided where
    // `E` is known, so a crate that multiplies f32 only never compiles the f64 call.
    if <E as crate::tensor::sealed::Sealed>::IS_F32 {
        if let (Some(d), Some(a32), Some(b32), Some(i32)) =
            (dst.cast(), a.cast(), b.cast(), init.cast())
        {
            return f32_product(mnk, d, i32, a32, b32);
        }
    } else if let (Some(d), Some(a64), Some(b64), Some(i64)) =
        (dst.cast(), a.cast(), b.cast(), init.cast())
    {
        return f64_product(mnk, d, i64, a64, b64);
    }
    unreachable!("gemm: an element type other than f32 and f64 (`Element` is sealed)");
}

/// [`matmul`] on one element type, past the definition's sizes, on the widest kernel the
/// running CPU has: `MR × NR` tiles (`NH` wide on a narrow last panel) on AVX-512 and on AVX2,
/// the portable kernel otherwise.
///
/// AVX-512: tiles of 8 rows of two vectors, 16 accumulators of the 32 registers. AVX2: 6 rows,
/// 12 accumulators, two vectors of B and a broadcast in the 16 registers. AVX-512 whenever the
/// CPU has it. (With broadcasts from registers, a transposed B had run faster on AVX2 on a Zen 4
/// core; since the broadcasts come from memory (`Lhs::at`), AVX-512 is ahead on an Intel core
/// with two FMA units for every product of the benchmarks: 2 threads, shaped / PyTorch, AVX2 →
/// AVX-512 for a transposed B, affine 32 × 64 → 32 forward 0.22× → 0.16×, strided convolution
/// forward+backward 0.76× → 0.71×, the ResNet step's forward 0.79× → 0.69×.)
macro_rules! product {
    ($(#[$attr:meta])* $name:ident, $t:ty, avx512: $w:tt, avx2: $n:tt) => {
        $(#[$attr])*
        fn $name(
            mnk: [usize; 3],
            dst: Dst<'_, $t>,
            init: Init<'_, $t>,
            a: View<'_, $t>,
            b: View<'_, $t>,
        ) {
            #[cfg(target_arch = "x86_64")]
            {
                if let Some(isa) = x86::Avx512::detect() {
                    return product!(@run isa, $t, $w, mnk, dst, init, a, b);
                }
                if let Some(isa) = x86::Avx2::detect() {
                    return product!(@run isa, $t, $n, mnk, dst, init, a, b);
                }
            }
            blocked::<$t, 4, 8, 4, _>(Portable, mnk, dst, init, a, b)
        }
    };
    (@run $isa:ident, $t:ty, [$mr:literal, $nr:literal, $nh:literal], $($arg:ident),+) => {
        $isa.run::<$t, $mr, $nr, $nh>($($arg),+)
    };
}
product!(
    /// [`matmul`] on `f32`: compiled once, in this crate.
    #[inline(never)]
    f32_product, f32, avx512: [8, 32, 16], avx2: [6, 16, 8]
);
product!(
    /// [`matmul`] on `f64`: compiled in the crates that use it.
    #[inline]
    f64_product, f64, avx512: [8, 16, 8], avx2: [6, 8, 4]
);

/// The lanes of the vectors the kernel that runs `E`'s products reads B by (see
/// `Kernel::LANES`): a wrapped row table whose lines are a multiple of it long is read in
/// place ([`super::View::wrapped`]); 0 where the portable kernel runs.
pub(crate) fn lanes<E: Element>() -> usize {
    // The same choice as `product!` makes (AVX-512, then AVX2, then the portable kernel);
    // only speed depends on the two agreeing (`table` checks each panel again).
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = if x86::Avx512::detect().is_some() {
            64
        } else if x86::Avx2::detect().is_some() {
            32
        } else {
            0
        };
        bytes / size_of::<E>()
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// Products of at most this many multiply-adds are computed by the definition: the tiled path
/// costs 60-90 ns before its first multiply. Measured (f32, this machine), definition vs tiled:
/// 1x3x4 15 vs 110 ns, 4x4x4 41 vs 90 ns, 4x8x8 121 vs 111-129 ns, 8x8x8 240 vs 114-131 ns.
const TINY_MAX_MACS: usize = 256;

/// Each element of `dst` as one sum.
fn definition<E: Element>(
    [m, n, k]: [usize; 3],
    mut dst: Dst<'_, E>,
    init: Init<'_, E>,
    a: View<'_, E>,
    b: View<'_, E>,
) {
    for i in 0..m {
        for (j, d) in dst.row(i)[..n].iter_mut().enumerate() {
            let mut sum = match init {
                Init::Write => E::zero(),
                Init::Add => *d,
                Init::Bias(b) => b[i],
            };
            for p in 0..k {
                sum += a.data[a.row_start(i) + a.col_offset(p)]
                    * b.data[b.row_start(p) + b.col_offset(j)];
            }
            *d = sum;
        }
    }
}

/// `x` as a slice of `T`, when `E` is `T` (a generic element type's slice handed to the
/// kernels compiled for one type).
pub(crate) fn cast<E: 'static, T: 'static>(x: &[E]) -> Option<&[T]> {
    // SAFETY: `E` and `T` are the same type (same `TypeId`), so this changes nothing but the
    // name of the element type.
    (TypeId::of::<E>() == TypeId::of::<T>()).then(|| unsafe { &*(x as *const [E] as *const [T]) })
}

/// As [`cast`], for a mutable slice.
pub(crate) fn cast_mut<E: 'static, T: 'static>(x: &mut [E]) -> Option<&mut [T]> {
    // SAFETY: as in `cast`.
    (TypeId::of::<E>() == TypeId::of::<T>()).then(|| unsafe { &mut *(x as *mut [E] as *mut [T]) })
}

impl<'a, E: 'static> View<'a, E> {
    /// The same view with element type `T`, when `E` is `T`.
    fn cast<T: 'static>(self) -> Option<View<'a, T>> {
        let data = cast(self.data)?;
        Some(View {
            data,
            rs: self.rs,
            cs: self.cs,
            rows: self.rows,
            wrap: self.wrap,
        })
    }
}

/// A micro-kernel: the `MR × NR` tile of products over one depth block, in registers.
trait Kernel<E: Element, const NR: usize>: Copy {
    /// From this many rows of A, a panel of row-major B whose rows are 512 bytes apart or more
    /// is packed rather than read in place (see `blocked`).
    const PACK_MIN_ROWS: usize = 13;
    /// The lanes of the vectors `tile` reads B by, each through [`Rhs::part`] (B's columns
    /// may then wrap between vectors), or 0 for a kernel that reads a row of B whole.
    const LANES: usize = 0;

    fn tile<const MR: usize>(
        self,
        kc: usize,
        lhs: impl Lhs<E, MR>,
        rhs: impl Rhs<E, NR>,
    ) -> [[E; NR]; MR];

    /// `KT` rows of a panel from `NR` columns of `KT` depths each (packing the transpose of a
    /// row-major matrix).
    #[inline(always)]
    fn transpose(self, cols: &[&[E; KT]; NR]) -> [[E; NR]; KT] {
        let mut rows = [[E::zero(); NR]; KT];
        for (j, col) in cols.iter().enumerate() {
            for (row, &x) in rows.iter_mut().zip(col.iter()) {
                row[j] = x;
            }
        }
        rows
    }
}

/// Any target: plain multiplies and adds, which the compiler may vectorise as it can.
#[derive(Clone, Copy)]
struct Portable;

impl<E: Element, const NR: usize> Kernel<E, NR> for Portable {
    #[inline(always)]
    fn tile<const MR: usize>(
        self,
        kc: usize,
        lhs: impl Lhs<E, MR>,
        rhs: impl Rhs<E, NR>,
    ) -> [[E; NR]; MR] {
        let mut acc = [[E::zero(); NR]; MR];
        for p in 0..kc {
            let col = lhs.col(p);
            // SAFETY: `p < kc`, the depth the views were made for (`row_tiles`).
            let row = unsafe { rhs.row(p) };
            for (acc, &x) in acc.iter_mut().zip(&col) {
                for (acc, &y) in acc.iter_mut().zip(row) {
                    *acc += x * y;
                }
            }
        }
        acc
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    use super::{blocked, Dst, Init, Kernel, Lhs, Rhs, View, KT};
    use crate::tensor::Element;

    /// Proof that the running CPU has AVX-512F, AVX2 and FMA: only `detect` makes one.
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(());

    impl Avx512 {
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma"))
            .then_some(Self(()))
        }

        /// [`blocked`] compiled for AVX-512: `MR × NR` tiles, `NH` wide on a narrow last
        /// panel.
        pub(super) fn run<E: Element, const MR: usize, const NR: usize, const NH: usize>(
            self,
            mnk: [usize; 3],
            dst: Dst<'_, E>,
            init: Init<'_, E>,
            a: View<'_, E>,
            b: View<'_, E>,
        ) where
            Self: Kernel<E, NR> + Kernel<E, NH>,
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn run<E: Element, const MR: usize, const NR: usize, const NH: usize>(
                isa: Avx512,
                mnk: [usize; 3],
                dst: Dst<'_, E>,
                init: Init<'_, E>,
                a: View<'_, E>,
                b: View<'_, E>,
            ) where
                Avx512: Kernel<E, NR> + Kernel<E, NH>,
            {
                blocked::<E, MR, NR, NH, _>(isa, mnk, dst, init, a, b)
            }
            // SAFETY: `self` exists, so the CPU has these features.
            unsafe { run::<E, MR, NR, NH>(self, mnk, dst, init, a, b) }
        }
    }

    /// Proof that the running CPU has AVX2 and FMA: only `detect` makes one.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2(());

    impl Avx2 {
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Self(()))
        }

        /// [`blocked`] compiled for AVX2 and FMA: `MR × NR` tiles, `NH` wide on a narrow last
        /// panel.
        pub(super) fn run<E: Element, const MR: usize, const NR: usize, const NH: usize>(
            self,
            mnk: [usize; 3],
            dst: Dst<'_, E>,
            init: Init<'_, E>,
            a: View<'_, E>,
            b: View<'_, E>,
        ) where
            Self: Kernel<E, NR> + Kernel<E, NH>,
        {
            #[target_feature(enable = "avx2,fma")]
            fn run<E: Element, const MR: usize, const NR: usize, const NH: usize>(
                isa: Avx2,
                mnk: [usize; 3],
                dst: Dst<'_, E>,
                init: Init<'_, E>,
                a: View<'_, E>,
                b: View<'_, E>,
            ) where
                Avx2: Kernel<E, NR> + Kernel<E, NH>,
            {
                blocked::<E, MR, NR, NH, _>(isa, mnk, dst, init, a, b)
            }
            // SAFETY: `self` exists, so the CPU has these features.
            unsafe { run::<E, MR, NR, NH>(self, mnk, dst, init, a, b) }
        }
    }

    /// The kernels of one instruction set and element type: a row of the tile is `W` vectors
    /// of `L` lanes (`NR = W L`: two vectors, or one on a narrow last panel); each step
    /// broadcasts one element of A per row. The transposition that packs B goes by `L × L`
    /// squares of 256-bit vectors, transposed in registers by `square` (the AVX-512 kernels
    /// borrow them: AVX-512 packs a transposed B with them too). `pack_min_rows` is measured
    /// (see `blocked`): AVX2 re-reads B 2.7 times as often per multiply-add as AVX-512 (6 × 2
    /// ymm against 8 × 2 zmm accumulators), so it packs from fewer rows.
    macro_rules! kernels {
        ($isa:ident, $features:literal, $module:ident, $E:ty, $V:ty, $L:literal,
         $zero:ident, $set1:ident, $fmadd:ident, $loadu:ident, $storeu:ident,
         $(square: $square:ident,)? transpose: $transpose:ident, pack_min_rows: $pack:literal,
         $([$W:literal, $NR:literal]),+) => {
            $(
                impl Kernel<$E, $NR> for $isa {
                    const PACK_MIN_ROWS: usize = $pack;
                    const LANES: usize = $L;

                    #[inline(always)]
                    fn tile<const MR: usize>(
                        self,
                        kc: usize,
                        lhs: impl Lhs<$E, MR>,
                        rhs: impl Rhs<$E, $NR>,
                    ) -> [[$E; $NR]; MR] {
                        // SAFETY: `self` exists, so the CPU has the features `tile` is
                        // compiled for.
                        unsafe { $module::tile::<MR, $NR, $W>(kc, lhs, rhs) }
                    }

                    #[inline(always)]
                    fn transpose(self, cols: &[&[$E; KT]; $NR]) -> [[$E; $NR]; KT] {
                        // SAFETY: as above (a token of either instruction set proves AVX2,
                        // which the transpositions are compiled for).
                        unsafe { $transpose::transpose::<$NR>(cols) }
                    }
                }
            )+

            mod $module {
                use core::arch::x86_64::*;

                use super::super::{Lhs, Rhs};

                /// One vector from `L` elements.
                #[target_feature(enable = $features)]
                #[inline]
                fn load(x: &[$E; $L]) -> $V {
                    // SAFETY: `x` is `L` readable elements, all an unaligned load reads.
                    unsafe { $loadu(x.as_ptr()) }
                }

                /// One vector into `L` elements.
                #[target_feature(enable = $features)]
                #[inline]
                fn store(v: $V, out: &mut [$E; $L]) {
                    // SAFETY: `out` is `L` writable elements, all an unaligned store writes.
                    unsafe { $storeu(out.as_mut_ptr(), v) }
                }

                /// The tile; `NR` is `W L` (the impls above name both).
                #[target_feature(enable = $features)]
                #[inline]
                pub(super) fn tile<const MR: usize, const NR: usize, const W: usize>(
                    kc: usize,
                    lhs: impl Lhs<$E, MR>,
                    rhs: impl Rhs<$E, NR>,
                ) -> [[$E; NR]; MR] {
                    let mut acc = [[$zero(); W]; MR];
                    for p in 0..kc {
                        let mut b = [$zero(); W];
                        for (w, b) in b.iter_mut().enumerate() {
                            // SAFETY: `p < kc`, the depth the views were made for
                            // (`row_tiles`), and `w < W`, the vectors of a row.
                            *b = load(unsafe { rhs.part::<$L>(p, w) });
                        }
                        for (i, acc) in acc.iter_mut().enumerate() {
                            // SAFETY: `i < MR` (the tile's rows) and `p < kc`, as above.
                            let x = $set1(unsafe { lhs.at(i, p) });
                            for (acc, &b) in acc.iter_mut().zip(&b) {
                                *acc = $fmadd(x, b, *acc);
                            }
                        }
                    }
                    let mut out = [[0.0; NR]; MR];
                    for (out, acc) in out.iter_mut().zip(&acc) {
                        for (w, &v) in acc.iter().enumerate() {
                            store(v, (&mut out[w * $L..][..$L]).try_into().unwrap_or_else(|_| unreachable!("a vector")));
                        }
                    }
                    out
                }

                $(
                    use super::super::KT;

                    /// `KT × NR` from `NR` columns of `KT`, by squares of `L × L`.
                    #[target_feature(enable = $features)]
                    #[inline]
                    pub(super) fn transpose<const NR: usize>(
                        cols: &[&[$E; KT]; NR],
                    ) -> [[$E; NR]; KT] {
                        let mut rows = [[0.0; NR]; KT];
                        for p0 in (0..KT).step_by($L) {
                            for j0 in (0..NR).step_by($L) {
                                let mut v = [$zero(); $L];
                                for (r, v) in v.iter_mut().enumerate() {
                                    *v = load(cols[j0 + r][p0..][..$L].try_into().unwrap_or_else(|_| unreachable!("a vector")));
                                }
                                for (t, &v) in super::$square(v).iter().enumerate() {
                                    let row = &mut rows[p0 + t][j0..][..$L];
                                    store(v, row.try_into().unwrap_or_else(|_| unreachable!("a vector")));
                                }
                            }
                        }
                        rows
                    }
                )?
            }
        };
    }

    #[rustfmt::skip]
    kernels!(Avx512, "avx512f", avx512_f32, f32, __m512, 16,
        _mm512_setzero_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_storeu_ps,
        transpose: avx2_f32, pack_min_rows: 128, [2, 32], [1, 16]);
    #[rustfmt::skip]
    kernels!(Avx512, "avx512f", avx512_f64, f64, __m512d, 8,
        _mm512_setzero_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_storeu_pd,
        transpose: avx2_f64, pack_min_rows: 128, [2, 16], [1, 8]);
    #[rustfmt::skip]
    kernels!(Avx2, "avx2,fma", avx2_f32, f32, __m256, 8,
        _mm256_setzero_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_storeu_ps,
        square: square_f32x8, transpose: avx2_f32, pack_min_rows: 13, [2, 16], [1, 8]);
    #[rustfmt::skip]
    kernels!(Avx2, "avx2,fma", avx2_f64, f64, __m256d, 4,
        _mm256_setzero_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_loadu_pd, _mm256_storeu_pd,
        square: square_f64x4, transpose: avx2_f64, pack_min_rows: 13, [2, 8], [1, 4]);

    /// The transpose of 8 × 8 f32: pairs of rows interleaved, then pairs of pairs, then the
    /// 128-bit halves exchanged.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn square_f32x8(r: [__m256; 8]) -> [__m256; 8] {
        let t = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xee>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xee>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xee>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xee>(t[5], t[7]),
        ];
        [
            _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
            _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
        ]
    }

    /// The transpose of 4 × 4 f64: pairs of rows interleaved, then the 128-bit halves
    /// exchanged.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn square_f64x4(r: [__m256d; 4]) -> [__m256d; 4] {
        let t = [
            _mm256_unpacklo_pd(r[0], r[1]),
            _mm256_unpackhi_pd(r[0], r[1]),
            _mm256_unpacklo_pd(r[2], r[3]),
            _mm256_unpackhi_pd(r[2], r[3]),
        ];
        [
            _mm256_permute2f128_pd::<0x20>(t[0], t[2]),
            _mm256_permute2f128_pd::<0x20>(t[1], t[3]),
            _mm256_permute2f128_pd::<0x31>(t[0], t[2]),
            _mm256_permute2f128_pd::<0x31>(t[1], t[3]),
        ]
    }
}

/// Row-major panels of B, `NR` wide, packed per depth block. Uninitialised until written, so
/// that a call on a small product does not pay for clearing the whole array.
type Panel<E, const NR: usize> = [[MaybeUninit<E>; NR]; KC];

/// The blocked product: depth blocks of `KC`, panels of `NR` columns of B, tiles of `MR` rows.
/// Inlined into the callers above so that it is compiled for their instruction set.
#[inline(always)]
fn blocked<E, const MR: usize, const NR: usize, const NH: usize, K>(
    isa: K,
    [m, n, k]: [usize; 3],
    mut dst: Dst<'_, E>,
    init: Init<'_, E>,
    a: View<'_, E>,
    b: View<'_, E>,
) where
    E: Element,
    K: Kernel<E, NR> + Kernel<E, NH>,
{
    if k == 0 {
        // The bias, the old `dst`, or zeros.
        for i in 0..m {
            let row = &mut dst.row(i)[..n];
            match init {
                Init::Write => row.fill(E::zero()),
                Init::Add => {}
                Init::Bias(bias) => row.fill(bias[i]),
            }
        }
        return;
    }
    let mut panel: Panel<E, NR> = [[MaybeUninit::uninit(); NR]; KC];
    let mut narrow: Panel<E, NH> = [[MaybeUninit::uninit(); NH]; KC];
    // Blocks of equal depth (at most `KC`): a short last block pays a tile's store and
    // reload for few multiply-adds (a depth of 144 went 128 + 16).
    let depth = k.div_ceil(k.div_ceil(KC));
    for p0 in (0..k).step_by(depth) {
        let kc = depth.min(k - p0);
        // The first block writes (or adds to the old dst, or to the bias), the others add.
        let block_init = if p0 > 0 { Init::Add } else { init };
        let mut j0 = 0;
        // Where column `j0` lies in a wrapped B: (line, column in the line).
        let mut at = (0, 0);
        while j0 < n {
            let nr = NR.min(n - j0);
            if nr <= NH {
                // A narrow last panel: half the width, half the wasted lanes.
                let rhs = Packed {
                    rows: pack(isa, &mut narrow, b, p0, kc, j0, nr),
                };
                row_tiles::<E, MR, NH>(isa, m, kc, p0, j0, nr, dst.at(0, 0), block_init, a, rhs);
            } else if let Some(rhs) =
                table::<E, NR>(<K as Kernel<E, NR>>::LANES, b, p0, kc, (j0, at), nr)
            {
                // Rows anywhere, read in place (a panel's rows are far apart anyway).
                row_tiles::<E, MR, NR>(isa, m, kc, p0, j0, nr, dst.at(0, 0), block_init, a, rhs);
            } else if b.rows.is_none()
                && b.cs == 1
                && nr == NR
                && (m < <K as Kernel<E, NR>>::PACK_MIN_ROWS || b.rs * size_of::<E>() < 512)
            {
                // In place unless enough tiles read a panel whose rows are far apart (512
                // bytes or more: many pages, and few cache sets at powers of two); packing
                // costs a copy of the panel, which those tiles share.
                let rhs = Direct {
                    data: &b.data[p0 * b.rs + j0..],
                    rs: b.rs,
                };
                row_tiles::<E, MR, NR>(isa, m, kc, p0, j0, nr, dst.at(0, 0), block_init, a, rhs);
            } else {
                let rhs = Packed {
                    rows: pack(isa, &mut panel, b, p0, kc, j0, nr),
                };
                row_tiles::<E, MR, NR>(isa, m, kc, p0, j0, nr, dst.at(0, 0), block_init, a, rhs);
            }
            j0 += nr;
            if let Some(wrap) = b.wrap {
                at = wrap.advance(at, nr);
            }
        }
    }
}

/// The whole panel `j0 .. j0 + nr` (`nr = NR`) of a row table read in place, by kernels that
/// read B by vectors of `lanes` (or by rows, `lanes = 0`); `None` where it is packed instead:
/// a wrapped table (`View::wrapped`) whose vectors do not each lie on one line, or read by
/// rows. `at` is where column `j0` of a wrapped table lies, `(j0 / width, j0 mod width)`,
/// kept by the caller panel by panel ([`super::Wrap::advance`]).
#[inline(always)]
fn table<'a, E, const NR: usize>(
    lanes: usize,
    b: View<'a, E>,
    p0: usize,
    kc: usize,
    (j0, at): (usize, (usize, usize)),
    nr: usize,
) -> Option<Table<'a, E>> {
    let rows = b.rows?;
    if nr != NR || (lanes > 0 && (!NR.is_multiple_of(lanes) || NR / lanes > MAX_PARTS)) {
        return None;
    }
    let mut offs = [j0; MAX_PARTS];
    if let Some(wrap) = b.wrap {
        if lanes == 0 {
            return None;
        }
        for (w, off) in offs.iter_mut().enumerate().take(NR / lanes) {
            let (line, col) = wrap.advance(at, w * lanes);
            if col + lanes > wrap.width {
                return None;
            }
            *off = line * wrap.pitch + col;
        }
    } else {
        for (w, off) in offs.iter_mut().enumerate() {
            *off = j0 + w * lanes;
        }
    }
    // (`wrapping_add`: the bases of vectors past the panel's, `w ≥ NR / lanes`, may point
    // past `data` and are never read; the bases that are read lie in `data`, and so do
    // their rows' starts added to them, which `Table` adds with `add`.)
    Some(Table {
        rows: &rows[p0..p0 + kc],
        bases: offs.map(|off| b.data.as_ptr().wrapping_add(off)),
        wrapped: b.wrap.is_some(),
        data: core::marker::PhantomData,
    })
}

/// All tiles of one panel of columns `j0 .. j0 + nr` at depths `p0 .. p0 + kc`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_tiles<E: Element, const MR: usize, const NR: usize>(
    isa: impl Kernel<E, NR>,
    m: usize,
    kc: usize,
    p0: usize,
    j0: usize,
    nr: usize,
    mut dst: Dst<'_, E>,
    init: Init<'_, E>,
    a: View<'_, E>,
    rhs: impl Rhs<E, NR>,
) {
    let mut i0 = 0;
    while i0 < m {
        let mr = MR.min(m - i0);
        let tile_init = init.past_rows(i0);
        let at = a.rs * i0 + a.cs * p0;
        let mut dst = dst.at(i0, j0);
        // One copy of the tile per row count, so that a short last tile does no wasted work.
        macro_rules! tile {
            ($r:tt) => {
                if let Some(rows) = a.rows {
                    let lhs = Rows::<E, $r>::table(a.data, &rows[i0..], p0, kc);
                    store(&isa.tile::<$r>(kc, lhs, rhs), &mut dst, nr, tile_init)
                } else if a.cs == 1 {
                    let lhs = Rows::<E, $r>::new(&a.data[at..], a.rs, kc);
                    store(&isa.tile::<$r>(kc, lhs, rhs), &mut dst, nr, tile_init)
                } else if a.rs == 1 {
                    let lhs = Cols {
                        data: &a.data[at..],
                        cs: a.cs,
                    };
                    store(&isa.tile::<$r>(kc, lhs, rhs), &mut dst, nr, tile_init)
                } else {
                    let lhs = Strided {
                        data: &a.data[at..],
                        rs: a.rs,
                        cs: a.cs,
                    };
                    store(&isa.tile::<$r>(kc, lhs, rhs), &mut dst, nr, tile_init)
                }
            };
        }
        match mr {
            r if r >= MR => tile!(MR),
            1 => tile!(1),
            2 => tile!(2),
            3 => tile!(3),
            4 => tile!(4),
            5 => tile!(5),
            6 => tile!(6),
            _ => tile!(7),
        }
        i0 += mr;
    }
}

/// Reads the `MR` elements of A that one depth step of a tile multiplies.
trait Lhs<E: Copy, const MR: usize>: Copy {
    /// The column at depth `p` (relative to the block).
    fn col(&self, p: usize) -> [E; MR];

    /// Element `i` of the column at depth `p`, read where it lies: the vector kernels
    /// broadcast it straight from memory (a load, where a broadcast from a register takes
    /// the shuffle port that one of Intel's two AVX-512 FMA units shares).
    ///
    /// # Safety
    ///
    /// `i < MR` and `p` is below the depth of the block the view was made for.
    #[inline(always)]
    unsafe fn at(&self, i: usize, p: usize) -> E {
        self.col(p)[i]
    }
}

/// Rows of A that are contiguous (`cs == 1`): one slice a row, each of the block's length,
/// so that reading depth `p < kc` needs no bounds check.
#[derive(Clone, Copy)]
struct Rows<'a, E, const MR: usize> {
    rows: [&'a [E]; MR],
}

impl<'a, E, const MR: usize> Rows<'a, E, MR> {
    #[inline(always)]
    fn new(data: &'a [E], rs: usize, kc: usize) -> Self {
        let mut rows = [&data[..0]; MR];
        for (i, row) in rows.iter_mut().enumerate() {
            *row = &data[i * rs..][..kc];
        }
        Self { rows }
    }

    /// The rows of a row table (row `i` at `data[rows[i]..]`), from depth `p0`.
    #[inline(always)]
    fn table(data: &'a [E], rows: &[usize], p0: usize, kc: usize) -> Self {
        let mut out = [&data[..0]; MR];
        for (row, &start) in out.iter_mut().zip(rows) {
            *row = &data[start + p0..][..kc];
        }
        Self { rows: out }
    }
}

// Loops rather than `array::map` and `array::from_fn` in this file: those are not always
// inlined, and a call in the depth loop spills every accumulator.
impl<E: Element, const MR: usize> Lhs<E, MR> for Rows<'_, E, MR> {
    #[inline(always)]
    fn col(&self, p: usize) -> [E; MR] {
        let mut col = [E::zero(); MR];
        for (x, row) in col.iter_mut().zip(&self.rows) {
            *x = row[p];
        }
        col
    }

    #[inline(always)]
    unsafe fn at(&self, i: usize, p: usize) -> E {
        // SAFETY: `i < MR` rows, each `kc` long (`new`, `table`), and `p < kc`: the caller's
        // contract. Unchecked, the tile keeps no lengths live (they spilled the row pointers).
        unsafe { *self.rows.get_unchecked(i).get_unchecked(p) }
    }
}

/// Columns of A that are contiguous (`rs == 1`, the transpose of a row-major matrix).
#[derive(Clone, Copy)]
struct Cols<'a, E> {
    data: &'a [E],
    cs: usize,
}

impl<E: Element, const MR: usize> Lhs<E, MR> for Cols<'_, E> {
    #[inline(always)]
    fn col(&self, p: usize) -> [E; MR] {
        *self.data[p * self.cs..]
            .first_chunk()
            .unwrap_or_else(|| unreachable!("gemm: a column of A inside its slice"))
    }
}

/// Any other layout.
#[derive(Clone, Copy)]
struct Strided<'a, E> {
    data: &'a [E],
    rs: usize,
    cs: usize,
}

impl<E: Element, const MR: usize> Lhs<E, MR> for Strided<'_, E> {
    #[inline(always)]
    fn col(&self, p: usize) -> [E; MR] {
        let src = &self.data[p * self.cs..];
        let mut col = [E::zero(); MR];
        for (i, x) in col.iter_mut().enumerate() {
            *x = src[i * self.rs];
        }
        col
    }
}

/// Reads the `NR` elements of B that one depth step of a tile multiplies.
trait Rhs<E, const NR: usize>: Copy {
    /// The row at depth `p` (relative to the block).
    ///
    /// # Safety
    ///
    /// `p` is below the depth of the block the view was made for, and the view was made for
    /// a whole panel (`NR` columns) of a matrix that fits its slice (checked by
    /// `super::matmul`).
    unsafe fn row(&self, p: usize) -> &[E; NR];

    /// Vector `w` of the row at depth `p`: its elements `w L .. (w + 1) L`.
    ///
    /// # Safety
    ///
    /// As [`Rhs::row`], and `(w + 1) L ≤ NR`.
    #[inline(always)]
    unsafe fn part<const L: usize>(&self, p: usize, w: usize) -> &[E; L] {
        // SAFETY: the caller's contract, as `row`'s.
        let row = unsafe { self.row(p) };
        row[w * L..][..L]
            .try_into()
            .unwrap_or_else(|_| unreachable!("gemm: a vector inside its row"))
    }
}

/// B read in place: rows with contiguous columns, a whole panel wide.
#[derive(Clone, Copy)]
struct Direct<'a, E> {
    data: &'a [E],
    rs: usize,
}

impl<E: Copy, const NR: usize> Rhs<E, NR> for Direct<'_, E> {
    #[inline(always)]
    unsafe fn row(&self, p: usize) -> &[E; NR] {
        // SAFETY: row `p` of the panel, `NR` columns from its first, lies in the matrix, which
        // fits `data` (the caller's contract).
        unsafe { &*self.data.as_ptr().add(p * self.rs).cast::<[E; NR]>() }
    }
}

/// B read in place from a row table: vector `w` of row `p` of the panel starts at
/// `bases[w] + rows[p]`, `bases[w]` being `data` advanced by the vector's offset in its row.
/// Without a wrap the vectors follow each other (offsets `j0 + w L`, and [`Rhs::row`] reads
/// the row whole, `NR` from `bases[0]`); with one ([`super::Wrap`]) each lies on one line,
/// wherever that is, and only kernels that read B by vectors (`Kernel::LANES > 0`, which never
/// call `row`) get the panel (see [`table`]).
#[derive(Clone, Copy)]
struct Table<'a, E> {
    rows: &'a [usize],
    /// `data` advanced by vector `w`'s offset in its row: a vector's address is then one addition,
    /// and the tile keeps no more registers than it did for a plain table (the row pointers of A
    /// spilled when it kept one more).
    bases: [*const E; MAX_PARTS],
    /// Whether the columns wrap (then `row` must not be called).
    wrapped: bool,
    data: core::marker::PhantomData<&'a [E]>,
}

/// The most vectors a row of a panel has (AVX-512 and AVX2: two).
const MAX_PARTS: usize = 4;

impl<E: Copy, const NR: usize> Rhs<E, NR> for Table<'_, E> {
    #[inline(always)]
    unsafe fn row(&self, p: usize) -> &[E; NR] {
        debug_assert!(!self.wrapped, "gemm: a wrapped panel is read by vectors");
        // SAFETY: `rows` holds the block's `kc > p` rows; a table read by rows does not wrap
        // (`table` gives a wrapped one only to kernels that read by vectors), so the row's
        // `NR` columns from `bases[0]` (its column `j0`) lie in `data` (`View::fits` checked
        // every row of the table for all columns).
        unsafe {
            &*self.bases[0]
                .add(*self.rows.get_unchecked(p))
                .cast::<[E; NR]>()
        }
    }

    #[inline(always)]
    unsafe fn part<const L: usize>(&self, p: usize, w: usize) -> &[E; L] {
        // SAFETY: `rows` holds the block's `kc > p` rows and `w` is a vector of the panel
        // (`(w + 1) L ≤ NR`, the caller's contract, and `NR / L ≤ MAX_PARTS`, checked by
        // `table`); each vector's `L` columns lie on one line of its row, inside `data`
        // (`View::fits` checked every row's last column, which lies furthest on).
        unsafe {
            let base = *self.bases.get_unchecked(w);
            &*base.add(*self.rows.get_unchecked(p)).cast::<[E; L]>()
        }
    }
}

/// B packed into a panel on the stack (transposed operands, strided columns, the last panel,
/// and wrapped panels whose vectors do not each lie on one line).
#[derive(Clone, Copy)]
struct Packed<'a, E, const NR: usize> {
    rows: &'a [[E; NR]],
}

impl<E: Copy, const NR: usize> Rhs<E, NR> for Packed<'_, E, NR> {
    #[inline(always)]
    unsafe fn row(&self, p: usize) -> &[E; NR] {
        // SAFETY: the panel holds the block's `kc > p` rows.
        unsafe { self.rows.get_unchecked(p) }
    }
}

/// Writes the top-left `MR × nr` of a tile into `dst` at its origin, added to what was there
/// or to the bias of each row, as `init` says.
#[inline(always)]
fn store<E: Element, const MR: usize, const NR: usize>(
    acc: &[[E; NR]; MR],
    dst: &mut Dst<'_, E>,
    nr: usize,
    init: Init<'_, E>,
) {
    for (i, acc) in acc.iter().enumerate() {
        let row = &mut dst.row(i)[..nr];
        // A whole row of the tile as arrays of `NR`, so that the stores are vector stores:
        // `dst` is reached through a pointer (see `Dst`) that the compiler cannot tell apart
        // from the tile's memory, and a loop of `nr` elements wrote each one with a scalar
        // store (10 % of the time of the affine layer 32 × 64 → 32 forward+backward).
        if let Ok(row) = <&mut [E; NR]>::try_from(&mut *row) {
            let mut out = *acc;
            // Plain loops: an iterator adaptor here was compiled as a function of its own,
            // without the caller's target features (AVX-512), and called for every row.
            match init {
                Init::Write => {}
                Init::Add => {
                    for j in 0..NR {
                        out[j] += row[j];
                    }
                }
                Init::Bias(b) => {
                    for v in &mut out {
                        *v += b[i];
                    }
                }
            }
            *row = out;
            continue;
        }
        match init {
            Init::Write => row.copy_from_slice(&acc[..nr]),
            Init::Add => {
                for (d, &v) in row.iter_mut().zip(acc) {
                    *d += v;
                }
            }
            Init::Bias(b) => {
                let b = b[i];
                for (d, &v) in row.iter_mut().zip(acc) {
                    *d = v + b;
                }
            }
        }
    }
}

/// Packs `b[p0 .. p0 + kc, j0 .. j0 + nr]` into the first `kc` rows of `panel`, zero beyond
/// column `nr`, and returns those rows.
#[inline(always)]
fn pack<'p, E: Element, const NR: usize>(
    isa: impl Kernel<E, NR>,
    panel: &'p mut Panel<E, NR>,
    b: View<'_, E>,
    p0: usize,
    kc: usize,
    j0: usize,
    nr: usize,
) -> &'p [[E; NR]] {
    let origin = &b.data[b.row_start(p0) + j0 * b.cs..];
    let mut p = 0;
    if b.rs == 1 && b.rows.is_none() {
        // The transpose of a row-major matrix: column `j` of B is contiguous. Blocks of `KT`
        // depths are transposed in registers; columns past `nr` read zeros.
        let zeros = [E::zero(); KT];
        while p + KT <= kc {
            let mut cols = [&zeros; NR];
            for (j, col) in cols.iter_mut().enumerate().take(nr) {
                *col = origin[j * b.cs + p..]
                    .first_chunk()
                    .unwrap_or_else(|| unreachable!("gemm: a column of B inside its slice"));
            }
            for (t, row) in isa.transpose(&cols).into_iter().enumerate() {
                put(&mut panel[p + t], row);
            }
            p += KT;
        }
    }
    while p < kc {
        let mut row = [E::zero(); NR];
        if let (Some(rows), Some(_)) = (b.rows, b.wrap) {
            // Wrapping columns: one at a time (a panel whose vectors do not each lie on one
            // line, or a kernel that reads rows whole).
            for (j, x) in row.iter_mut().enumerate().take(nr) {
                *x = b.data[rows[p0 + p] + b.col_offset(j0 + j)];
            }
            put(&mut panel[p], row);
            p += 1;
            continue;
        }
        let src = match b.rows {
            Some(rows) => &b.data[rows[p0 + p] + j0..],
            None => &origin[p * b.rs..],
        };
        if b.cs == 1 && nr == NR {
            row = *src
                .first_chunk()
                .unwrap_or_else(|| unreachable!("gemm: a row of B inside its slice"));
        } else if b.cs == 1 {
            row[..nr].copy_from_slice(&src[..nr]);
        } else {
            for (j, x) in row.iter_mut().enumerate().take(nr) {
                *x = src[j * b.cs];
            }
        }
        put(&mut panel[p], row);
        p += 1;
    }
    let written = &panel[..kc];
    // SAFETY: every row `0 .. kc` of the panel was written whole by `put` above (rows are put
    // in order, `p` counting them up to `kc`; a panic would not reach this line);
    // `[MaybeUninit<E>; NR]` has the layout of `[E; NR]`.
    unsafe { &*(written as *const [[MaybeUninit<E>; NR]] as *const [[E; NR]]) }
}

/// Initialises a whole row of a panel.
#[inline(always)]
fn put<E, const NR: usize>(slot: &mut [MaybeUninit<E>; NR], row: [E; NR]) {
    for (slot, x) in slot.iter_mut().zip(row) {
        slot.write(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic sequence of small integers and halves (exact in f32 products of short
    /// sums, so that kernels summing in another order still agree closely).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            self.next() as usize % n
        }
        fn value<E: Element>(&mut self) -> E {
            E::from_f64((self.below(17) as f64 - 8.0) * 0.25 + (self.below(7) as f64) * 1e-3)
                .unwrap()
        }
    }

    /// How an operand is laid out in its buffer.
    #[derive(Clone, Copy, Debug)]
    enum Layout {
        /// Row-major with `pad` unused elements after each row.
        Rows { pad: usize },
        /// The transpose of a row-major matrix with `pad` unused elements after each row.
        Transposed { pad: usize },
        /// Neither rows nor columns contiguous.
        Strided,
    }

    const LAYOUTS: [Layout; 5] = [
        Layout::Rows { pad: 0 },
        Layout::Rows { pad: 3 },
        Layout::Transposed { pad: 0 },
        Layout::Transposed { pad: 2 },
        Layout::Strided,
    ];

    /// A `rows × cols` matrix laid out as asked, with random values everywhere in the buffer.
    fn matrix<E: Element>(
        rng: &mut Lcg,
        rows: usize,
        cols: usize,
        layout: Layout,
    ) -> (Vec<E>, usize, usize) {
        let (rs, cs, len) = match layout {
            Layout::Rows { pad } => (cols + pad, 1, rows * (cols + pad)),
            Layout::Transposed { pad } => (1, rows + pad, cols * (rows + pad)),
            Layout::Strided => (2 * cols + 1, 2, rows * (2 * cols + 1)),
        };
        ((0..len).map(|_| rng.value()).collect(), rs, cs)
    }

    /// Every kernel this CPU can run, on one product, against the definition in f64.
    fn check<E: Element>(rng: &mut Lcg, [m, n, k]: [usize; 3], la: Layout, lb: Layout) {
        let (a, ars, acs) = matrix::<E>(rng, m, k, la);
        let (b, brs, bcs) = matrix::<E>(rng, k, n, lb);
        let (a, b) = (
            View {
                data: &a,
                rs: ars,
                cs: acs,
                rows: None,
                wrap: None,
            },
            View {
                data: &b,
                rs: brs,
                cs: bcs,
                rows: None,
                wrap: None,
            },
        );
        let dst_rs = n + 2;
        let old: Vec<E> = (0..m * dst_rs).map(|_| rng.value()).collect();
        let at = |v: View<'_, E>, r: usize, c: usize| v.data[r * v.rs + c * v.cs].to_f64().unwrap();
        let tol = if size_of::<E>() == 4 { 1e-4 } else { 1e-12 } * (k as f64 + 1.0);
        // The definition, once for every kernel and mode (in a debug build, recomputing it
        // for each made these tests take ~10 s each).
        let product: Vec<f64> = (0..m * n)
            .map(|i| (0..k).map(|p| at(a, i / n, p) * at(b, p, i % n)).sum())
            .collect();
        // A bias per row of `dst` (and one spare, never read).
        let bias: Vec<E> = (0..=m).map(|_| rng.value()).collect();
        for mode in ["write", "add", "bias"] {
            let init = match mode {
                "write" => Init::Write,
                "add" => Init::Add,
                _ => Init::Bias(&bias),
            };
            for (name, run) in kernels::<E>() {
                let mut dst = old.clone();
                run([m, n, k], &mut dst, dst_rs, init, a, b);
                for r in 0..m {
                    for c in 0..dst_rs {
                        let got = dst[r * dst_rs + c].to_f64().unwrap();
                        let before = old[r * dst_rs + c].to_f64().unwrap();
                        let want = if c >= n {
                            before
                        } else {
                            product[r * n + c]
                                + match mode {
                                    "write" => 0.0,
                                    "add" => before,
                                    _ => bias[r].to_f64().unwrap(),
                                }
                        };
                        assert!(
                            (got - want).abs() <= tol * (1.0 + want.abs()),
                            "{name} {} [{m}, {n}, {k}] {la:?} {lb:?} {mode}: \
                             ({r}, {c}) is {got}, expected {want}",
                            E::NAME,
                        );
                    }
                }
            }
        }
    }

    type Run<E> = fn([usize; 3], &mut [E], usize, Init<'_, E>, View<'_, E>, View<'_, E>);

    /// The dispatching entry point and each kernel the running CPU has, for `E`.
    fn kernels<E: Element>() -> Vec<(&'static str, Run<E>)> {
        let mut all: Vec<(&'static str, Run<E>)> = vec![
            ("dispatch", matmul::<E>),
            ("portable", |mnk, d, rs, acc, a, b| {
                blocked::<E, 4, 8, 4, _>(Portable, mnk, Dst::new(d, rs, mnk[0], mnk[1]), acc, a, b)
            }),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            fn avx512<E: Element>() -> Option<Run<E>> {
                x86::Avx512::detect()?;
                Some(|mnk, d, rs, acc, a, b| {
                    let isa = x86::Avx512::detect().unwrap();
                    let d = Dst::new(d, rs, mnk[0], mnk[1]);
                    if let (Some(a), Some(b), Some(acc)) = (a.cast(), b.cast(), acc.cast()) {
                        let d = d.cast().unwrap();
                        isa.run::<f32, 8, 32, 16>(mnk, d, acc, a, b)
                    } else if let (Some(a), Some(b), Some(acc)) = (a.cast(), b.cast(), acc.cast()) {
                        let d = d.cast().unwrap();
                        isa.run::<f64, 8, 16, 8>(mnk, d, acc, a, b)
                    }
                })
            }
            fn avx2<E: Element>() -> Option<Run<E>> {
                x86::Avx2::detect()?;
                Some(|mnk, d, rs, acc, a, b| {
                    let isa = x86::Avx2::detect().unwrap();
                    let d = Dst::new(d, rs, mnk[0], mnk[1]);
                    if let (Some(a), Some(b), Some(acc)) = (a.cast(), b.cast(), acc.cast()) {
                        let d = d.cast().unwrap();
                        isa.run::<f32, 6, 16, 8>(mnk, d, acc, a, b)
                    } else if let (Some(a), Some(b), Some(acc)) = (a.cast(), b.cast(), acc.cast()) {
                        let d = d.cast().unwrap();
                        isa.run::<f64, 6, 8, 4>(mnk, d, acc, a, b)
                    }
                })
            }
            all.extend(avx512::<E>().map(|run| ("avx512", run)));
            all.extend(avx2::<E>().map(|run| ("avx2", run)));
        }
        all
    }

    fn edges<E: Element>() {
        let mut rng = Lcg(7);
        // Every row count around the tiles (MR 4, 6, 8) and column count around the panels
        // (NR 4 to 32), with depths inside one block.
        for m in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17] {
            for n in [0, 1, 3, 4, 5, 8, 9, 15, 16, 17, 31, 32, 33] {
                for k in [0, 1, 5, 16, 17] {
                    for la in LAYOUTS {
                        for lb in LAYOUTS {
                            check::<E>(&mut rng, [m, n, k], la, lb);
                        }
                    }
                }
            }
        }
    }

    fn random_shapes<E: Element>() {
        let mut rng = Lcg(11);
        // Depths across several blocks (`KC`) and transposition steps (`KT`).
        for _ in 0..150 {
            let mnk = [1 + rng.below(70), 1 + rng.below(70), rng.below(300)];
            let la = LAYOUTS[rng.below(LAYOUTS.len())];
            let lb = LAYOUTS[rng.below(LAYOUTS.len())];
            check::<E>(&mut rng, mnk, la, lb);
        }
    }

    #[test]
    fn every_kernel_matches_the_definition_at_tile_edges_f32() {
        edges::<f32>();
    }

    #[test]
    fn every_kernel_matches_the_definition_at_tile_edges_f64() {
        edges::<f64>();
    }

    #[test]
    fn every_kernel_matches_the_definition_on_random_shapes_f32() {
        random_shapes::<f32>();
    }

    #[test]
    fn every_kernel_matches_the_definition_on_random_shapes_f64() {
        random_shapes::<f64>();
    }

    /// Every kernel (the portable one reads a table's rows whole, the vector ones by vectors)
    /// on B from a row table, plain and wrapped, against the definition; widths that keep each
    /// vector on one line and widths that do not (packed).
    fn tables<E: Element>() {
        for (m, n, k, wrap) in [
            (9, 64, 20, None),
            (8, 70, 33, None),
            (9, 64, 20, Some((16, 17))),
            (17, 64, 300, Some((16, 17))),
            (5, 96, 27, Some((32, 34))),
            (8, 40, 9, Some((8, 11))),
            (3, 30, 7, Some((5, 5))),
        ] {
            let span = match wrap {
                Some((w, p)) => ((n - 1) / w) * p + (n - 1) % w + 1,
                None => n,
            };
            let data: Vec<E> = (0..2 * k * span + 8)
                .map(|i| E::from(i % 17).unwrap())
                .collect();
            let rows: Vec<usize> = (0..k).map(|r| (r * 613) % (data.len() - span)).collect();
            let a_data: Vec<E> = (0..m * k).map(|i| E::from(i % 5).unwrap()).collect();
            let a = View::rows(&a_data, k);
            let b = match wrap {
                Some((w, p)) => View::wrapped(&data, &rows, w, p),
                None => View::table(&data, &rows),
            };
            let bias: Vec<E> = (0..m).map(|i| E::from(2 * i + 1).unwrap()).collect();
            for init in [Init::Write, Init::Bias(&bias)] {
                let mut want = vec![E::zero(); m * n];
                definition([m, n, k], Dst::new(&mut want, n, m, n), init, a, b);
                for (name, run) in kernels::<E>() {
                    let mut dst = vec![E::nan(); m * n];
                    run([m, n, k], &mut dst, n, init, a, b);
                    assert_eq!(dst, want, "{name} {m}x{n}x{k} wrap {wrap:?}");
                }
            }
        }
    }

    #[test]
    fn every_kernel_reads_plain_and_wrapped_row_tables() {
        tables::<f32>();
        tables::<f64>();
    }

    #[test]
    fn casts_only_to_the_same_type() {
        let mut x = [1.0f32, 2.0];
        assert_eq!(cast_mut::<f32, f32>(&mut x), Some(&mut [1.0f32, 2.0][..]));
        assert!(cast_mut::<f32, f64>(&mut x).is_none());
        let v = View::rows(&x, 2);
        assert_eq!(v.cast::<f32>().map(|v| v.data), Some(&[1.0f32, 2.0][..]));
        assert!(v.cast::<f64>().is_none());
    }
}
