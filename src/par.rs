//! Memory-bound passes (element-wise maps, bias sums, optimizer updates) on every core, without
//! paying for a thread that is not there yet.
//!
//! Why not rayon (which the crate once used): entering rayon's pool from the caller's thread
//! puts the job in a queue, wakes a worker and puts the caller to sleep until the job is done:
//! two thread wake-ups (5–30 µs each on a VM) around a pass that takes 20–100 µs. Measured on
//! ReLU over 256×4096 f32 (2-core Zen 4 VM): 94 µs on one thread, 110 µs through `rayon::join`
//! from the main thread, 51 µs inside the pool.
//!
//! Here the caller never waits for a helper to wake: it posts the pass, wakes the helpers and
//! starts on the first chunk itself. A helper that wakes in time claims chunks through the same
//! atomic counter, from the other end (a large element-wise pass starts where the last one's
//! threads met and sends each back the way it came: see `TURN`); one that wakes late finds the pass
//! gone and sleeps again. The caller waits only for a chunk a helper is in the middle of (a few
//! µs). So a pass never takes much longer than on one thread, and takes about half as long when the
//! other core is free.
//!
//! Helpers: one fewer than the machine's threads (or than `SHAPED_NUM_THREADS`), started on the
//! first large pass, parked when idle; [`set_num_threads`] caps how many a pass uses. Only one pass
//! is posted at a time; a pass started while another runs (from another thread of the user's) runs
//! on its own thread.
//!
//! Results never depend on how chunks were shared out: each element is computed by one
//! closure call whatever thread runs it, and nothing here sums across chunks.

// The helpers read a pass that lives on the caller's stack, and write disjoint chunks of the
// caller's buffers: both need raw pointers, allowed here alone, each block with its invariant.
#![allow(unsafe_code)]

use std::any::Any;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::tensor::Element;

/// Below this many elements an element-wise pass runs on the calling thread. Measured on the
/// 2-core Intel VM (f32 `ReLU::forward_into`, back to back, so the helper is looking for work;
/// time on two threads over one, medians of 9 interleaved rounds): 16 Ki elements 1.04×, 32 Ki
/// 0.76×, 64 Ki 0.66×, 128 Ki 0.64×, 256 Ki 0.37×. On the 2-core Zen 5 VM (`set_num_threads`
/// alternated in one process, medians of 7,000–500,000 pairs, with the cutoff lowered to measure
/// below it): 8 Ki 1.27×, 16 Ki 1.15×, 32 Ki 0.70×, 64 Ki 0.71×; with this cutoff, 128 Ki 0.53×,
/// 256 Ki 0.47×. The same cutoff on both.
pub(crate) const PARALLEL_MIN_ELEMS: usize = 1 << 15;

/// From this many elements an element-wise pass wakes a parked helper on its own (see
/// [`share`]). Measured there, with a pause of 1 ms before each pass (the helper has parked),
/// time on two threads over one when every pass woke it: 256 Ki elements 2.1×, 512 Ki 1.5×,
/// 1 Mi 1.0×, 4 Mi 0.52×.
pub(crate) const WAKE_MIN_ELEMS: usize = 1 << 20;

/// From this many flops a matrix product or a convolution wakes a parked helper on its own
/// (see [`share`]).
pub(crate) const WAKE_MIN_FLOPS: usize = 48_000_000;

/// From this many elements an element-wise pass turns (see [`TURN`]), on one thread too (it is
/// never below [`WAKE_MIN_ELEMS`], so `share` never refuses a pass that turns on two threads):
/// 4 MiB of f32 in each operand, more than a core's 2 MiB L2 on the Intel VM. Smaller passes (and
/// the task passes of products and convolutions) keep to the front for the caller and the back for
/// helpers: when every small pass of a training step turned, the digits CNN step took 1.08–1.11×
/// the time and LeNet-5's 1.04–1.09× (A/B, 7–9 rounds), for no gain on data the caches hold anyway.
const TURN_MIN_ELEMS: usize = 1 << 20;
const _: () = assert!(TURN_MIN_ELEMS >= WAKE_MIN_ELEMS);

/// Elements per chunk: ~1–2 µs of a memory-bound pass, the longest the caller can wait for a
/// helper at the end, and few enough chunks (64 in a 1 Mi pass) that claiming them costs
/// nothing.
const CHUNK: usize = 1 << 14;

/// How long a helper looks for the next pass before it parks: passes often come in runs (a
/// ReLU's forward, then the next layer's bias, then the backward passes), with stretches of
/// work on one thread between them (small layers, a loss, an optimizer step on small tensors).
///
/// Waking a parked helper costs the calling thread 15–25 µs inside `unpark` on the 2-core
/// Intel VM (the futex wake of a halted virtual CPU), and the helper starts later still: a
/// cold 256 Ki-element ReLU took 103 µs on two threads against 50 µs on one. Measured there,
/// whole training steps of `benches/vs_pytorch.rs` (2 threads, 7 interleaved rounds, time
/// with a spin of 500 µs over 50 µs): the digits CNN forward+backward 0.89× (0.86–0.91), the
/// ResNet 0.91× (0.88–1.00), LeNet-5 0.98×; single passes called back to back unchanged
/// (1.00×). 200 µs gave the digits CNN and the ResNet most of it (0.88×, 0.94×), 1 ms
/// nothing more than 500 µs. A helper that finds no pass spins this long on its core before
/// it parks (PyTorch's OpenMP threads spin for a while too).
const SPIN: Duration = Duration::from_micros(500);

/// A posted pass: `f(chunk)` for every chunk below `chunks`, claimed through `claimed`.
struct Pass<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    chunks: usize,
    /// Where the caller starts and which way it goes: its `i`-th chunk is `start + i` (or
    /// `start - 1 - i` when `down`), a helper's `j`-th the other way from the same point,
    /// both modulo `chunks` (see [`TURN`]).
    start: usize,
    down: bool,
    /// Chunks claimed: by the caller in the low 32 bits (from the front, or from `start` its
    /// way), by helpers in the high 32 (from the back, or from `start` the other way).
    claimed: AtomicU64,
    /// Helpers working on this pass: the caller returns (and the pass dies) only at 0.
    helpers: AtomicUsize,
    /// The first panic of a chunk run by a helper, raised again on the caller's thread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl<'a> Pass<'a> {
    /// A pass of `chunks` calls of `f`, none claimed yet, its caller starting at `start` and
    /// going `down` or up.
    fn new(f: &'a (dyn Fn(usize) + Sync), chunks: usize, start: usize, down: bool) -> Self {
        Pass {
            f,
            chunks,
            start,
            down,
            claimed: AtomicU64::new(0),
            helpers: AtomicUsize::new(0),
            panic: Mutex::new(None),
        }
    }

    /// Claims and runs chunks until none are left: from the front on the caller's thread, from the
    /// back on a helper (for a pass that turns, from its start one way and the other, around the
    /// ring of chunks: see [`TURN`]). So a core works on the same end of every pass that does not
    /// turn: a layer's output written by one core is mostly read by that core in the next layer's
    /// pass, from its own cache (claiming all from the front, a helper that started late took
    /// chunks from wherever the caller had got to). Interleaved A/B on the 2-core VM, 9 rounds
    /// twice: `conv_stride2` forward 0.95–0.96× the time, LeNet-5 step forward 0.93×, digits CNN
    /// step forward+backward 0.93–0.96×, ResNet step 0.96–0.98×; element-wise ReLU alone and the
    /// affine products unchanged.
    ///
    /// Returns the chunks claimed on this side: on the caller's, the chunks it ran (which
    /// place the next pass's start; every chunk if a helper panicked); on a helper's, all
    /// helpers' claims.
    fn work(&self, from_back: bool) -> usize {
        let step = if from_back { 1 << 32 } else { 1 };
        // Counting up from `start` or down from `start - 1`, modulo `chunks`.
        let up = from_back == self.down;
        let n = self.chunks;
        loop {
            let before = self.claimed.fetch_add(step, SeqCst);
            let (front, back) = ((before & 0xffff_ffff) as usize, (before >> 32) as usize);
            if front + back >= n {
                return if from_back { back } else { front };
            }
            let i = if from_back { back } else { front };
            // `start < n` and `i < n`: both sums lie below `2n`.
            let chunk = if up {
                self.start + i
            } else {
                self.start + n - 1 - i
            };
            (self.f)(if chunk >= n { chunk - n } else { chunk });
        }
    }

    /// [`Pass::work`] on a helper: a panic stops the pass (no chunk is claimed after it) and
    /// is kept for the caller, instead of ending the helper thread.
    fn help(&self) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.work(true))) {
            self.claimed.store(self.chunks as u64, SeqCst);
            let mut slot = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert(payload);
        }
    }
}

/// Takes the pass down when the caller leaves `run`, normally or by a panic of its own chunk,
/// and waits until no helper can touch it any more.
struct TakeDown<'p, 'a>(&'p Pass<'a>);

impl Drop for TakeDown<'_, '_> {
    fn drop(&mut self) {
        self.0.claimed.store(self.0.chunks as u64, SeqCst);
        POSTED.store(std::ptr::null_mut(), SeqCst);
        // Helpers between reading `POSTED` and counting themselves in `Pass::helpers` (a few
        // instructions), then helpers still in a chunk of this pass (a few µs at most). A
        // helper running a pass of its own (posted from inside a chunk of this one) counts
        // in this pass until that returns, and never in `REGISTERING` meanwhile.
        wait_until(|| REGISTERING.load(SeqCst) == 0);
        wait_until(|| self.0.helpers.load(SeqCst) == 0);
    }
}

/// Spins briefly, then yields, until `done()`.
fn wait_until(done: impl Fn() -> bool) {
    let mut rounds = 0u32;
    while !done() {
        if rounds < 1000 {
            std::hint::spin_loop();
            rounds += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// Helpers parked now, or about to park (a pass posted meanwhile may run without them).
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// The pass now posted (null when none), as a pointer to a `Pass` on the caller's stack.
static POSTED: AtomicPtr<Pass<'static>> = AtomicPtr::new(std::ptr::null_mut());
/// Helpers between reading `POSTED` and counting themselves in that pass's `helpers`. A caller
/// that took its pass down waits for this to be 0 (it is held for a few instructions only), so
/// no helper can still be about to count itself in a dead pass.
static REGISTERING: AtomicUsize = AtomicUsize::new(0);
/// Counts posts, so that a helper that has helped with a pass does not take it again while the
/// caller finishes (passes of a loop are posted at the same stack address).
static EPOCH: AtomicUsize = AtomicUsize::new(0);
/// The helper threads, started on first use (none if the machine has one thread, or if the
/// system refuses a thread).
static HELPERS: OnceLock<Vec<Thread>> = OnceLock::new();

/// Helpers that have started: each counts itself once its thread is set up.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// The cap [`set_num_threads`] set (0: none).
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// The most helpers a machine gets: passes are memory-bound or split in at most 8 blocks.
const MAX_HELPERS: usize = 7;

fn helpers() -> &'static [Thread] {
    HELPERS.get_or_init(|| {
        let machine = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = std::env::var("SHAPED_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(machine);
        let n = wanted.saturating_sub(1).min(MAX_HELPERS);
        let helpers: Vec<Thread> = (0..n)
            .filter_map(|i| {
                std::thread::Builder::new()
                    .name(format!("shaped-helper-{i}"))
                    .spawn(move || helper(i))
                    .ok()
                    .map(|h| h.thread().clone())
            })
            .collect();
        // Wait (at most a second) until every helper has set itself up: a new thread
        // allocates as it starts (15 bytes, as long as its name, seen while
        // `tests/allocations.rs` counted a later training step), and that belongs to this
        // first call, not to whatever the program does when the thread is first scheduled.
        let deadline = Instant::now() + Duration::from_secs(1);
        while STARTED.load(SeqCst) < helpers.len() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        helpers
    })
}

/// Caps the threads the crate's parallel passes use, the calling thread included: `1` runs
/// everything on the calling thread (a busy machine, or results to compare), `0` lifts the
/// cap. Without a cap a pass uses every core the machine has (or `SHAPED_NUM_THREADS`, read
/// once, when the first large pass starts the helper threads).
///
/// Results do not depend on it: every pass splits its work by the sizes alone, and each part
/// is computed the same way whichever thread runs it.
///
/// ```
/// shaped::set_num_threads(1); // every pass on the calling thread from here on
/// assert_eq!(shaped::num_threads(), 1);
/// shaped::set_num_threads(0); // back to every core
/// assert!(shaped::num_threads() >= 1);
/// ```
pub fn set_num_threads(threads: usize) {
    LIMIT.store(threads, SeqCst);
}

/// How many threads a parallel pass may use now, the calling thread included (see
/// [`set_num_threads`]). Starts the helper threads on first use, unless capped at one.
///
/// ```
/// let cores = shaped::num_threads(); // every core, unless capped
/// assert!(cores >= 1);
/// shaped::set_num_threads(1);
/// assert_eq!(shaped::num_threads(), 1);
/// shaped::set_num_threads(cores + 8); // a cap above the cores changes nothing
/// assert_eq!(shaped::num_threads(), cores);
/// shaped::set_num_threads(0);
/// ```
pub fn num_threads() -> usize {
    // A cap of one needs no helpers: they are not started for it (a program that sets it
    // first never has a thread spinning beside it).
    match LIMIT.load(SeqCst) {
        1 => 1,
        0 => helpers().len() + 1,
        cap => cap.min(helpers().len() + 1),
    }
}

pub(crate) use num_threads as threads;

/// Whether a pass should be shared with the helpers: `large` (worth it when a helper is
/// looking for work, the pass's own cutoff) and a helper awake, or `huge` (worth waking a
/// parked one), or a second pass in a run.
///
/// A parked helper is slow to come: waking it costs the caller 15–25 µs in `unpark` on the
/// 2-core Intel VM (the futex wake of a halted virtual CPU), and it starts hundreds of µs later;
/// if it then claims a task, the caller waits for it. Measured there with a pause of 1 ms
/// before each pass, time on two threads over one when every pass woke it: the product
/// (128, 256, 256) 1.48×, (256, 256, 256) 1.07×, (256, 512, 512) 0.66×; the convolution of
/// `conv_small` at batch 32 1.08×, 64 0.62×; max pooling 256 Ki elements 0.99×, 512 Ki 0.63×.
/// So a pass that finds every helper parked runs alone unless it is `huge` (about 0.5 ms of
/// work or more), and notes the time: a pass that follows within [`SPIN`] (the next of a
/// training step) wakes the helpers, which then stay awake through the run of passes.
pub(crate) fn share(large: bool, huge: bool) -> bool {
    static START: OnceLock<Instant> = OnceLock::new();
    static SKIPPED: AtomicU64 = AtomicU64::new(0);
    if !large || threads() < 2 {
        return false;
    }
    if huge || PARKED.load(SeqCst) < helpers().len() {
        return true;
    }
    let start = *START.get_or_init(Instant::now);
    // When a pass last ran alone for this reason, in µs since `START`, plus 1 (0: never).
    let now = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1;
    let last = SKIPPED.swap(now, SeqCst);
    last != 0 && now.saturating_sub(last) < SPIN.as_micros() as u64
}

/// Whether a pass is running now (on any thread): work started inside a pass runs on its own
/// thread, since the helpers are taken.
pub(crate) fn busy() -> bool {
    !POSTED.load(SeqCst).is_null()
}

/// Helper `index`: look for a posted pass, help with it, look again for a while, park.
fn helper(index: usize) {
    // What a thread sets up on first use (its handle, its parking), before it counts itself.
    std::thread::park_timeout(Duration::ZERO);
    let _ = std::thread::current().name();
    STARTED.fetch_add(1, SeqCst);
    let mut helped = usize::MAX;
    loop {
        let mut until = Instant::now() + SPIN;
        while Instant::now() < until {
            // A helper that reads an epoch of a pass not yet posted may skip that pass: it
            // costs speed once, never correctness.
            let cap = LIMIT.load(SeqCst);
            let capped = cap != 0 && index + 1 >= cap;
            if capped || POSTED.load(SeqCst).is_null() || EPOCH.load(SeqCst) == helped {
                std::hint::spin_loop();
                continue;
            }
            helped = EPOCH.load(SeqCst);
            REGISTERING.fetch_add(1, SeqCst);
            let pass = POSTED.load(SeqCst);
            if pass.is_null() {
                REGISTERING.fetch_sub(1, SeqCst);
            } else {
                // SAFETY: `pass` was read while `REGISTERING` counted this helper, so its
                // caller had not yet taken it down, or took it down and then waits (in
                // `TakeDown`) for `REGISTERING` to reach 0; and this helper is counted in
                // `helpers` before it leaves `REGISTERING`, so the caller then waits for it
                // again. (Or a newer pass is posted at this address, equally alive.) All
                // orderings are SeqCst, so a caller's `POSTED = null; load REGISTERING` and
                // this `REGISTERING += 1; load POSTED` cannot both miss each other.
                let pass = unsafe { &*pass };
                pass.helpers.fetch_add(1, SeqCst);
                REGISTERING.fetch_sub(1, SeqCst);
                pass.help();
                // The last touch: the caller may free the pass from here on.
                pass.helpers.fetch_sub(1, SeqCst);
            }
            until = Instant::now() + SPIN;
        }
        PARKED.fetch_add(1, SeqCst);
        std::thread::park();
        PARKED.fetch_sub(1, SeqCst);
    }
}

/// Where the next pass starts and which way its caller goes: the point where the last two
/// threads met, and the other way. A core works through its part of a pass in one direction
/// and ends at the meeting point; the next pass sets it off from there in the opposite
/// direction, so it first reads what it touched last, which is still in its cache (a core
/// streaming over more than its cache holds in one direction finds none of it there). Packed
/// as `down << 63 | chunks << 32 | meeting point`; a pass of another length starts at the
/// same fraction of its length. Races between threads of the user's only move a start.
///
/// Measured on the 2-core Intel VM (interleaved A/B of `benches/vs_pytorch.rs`, 7–9 rounds):
/// ReLU over 256×4096 f32 forward 0.73–0.76× the time on two threads (fwd+bwd 0.89–0.95×),
/// 0.85× on one; a standalone loop over the same halves, 168 µs one way every pass against
/// 120 µs turning. Convolutions, products and whole steps unchanged.
static TURN: AtomicU64 = AtomicU64::new(0);

/// The start and direction of a pass of `chunks` chunks after the pass that left `word` in
/// [`TURN`].
fn turn_from(word: u64, chunks: usize) -> (usize, bool) {
    let down = word >> 63 == 1;
    let (last, met) = ((word >> 32 & 0x7fff_ffff) as usize, word as u32 as usize);
    let start = if last == 0 || met >= last {
        0
    } else {
        // `met < last < 2^31` and `chunks < 2^31`: the product fits a u64.
        (met as u64 * chunks as u64 / last as u64) as usize
    };
    (start, down)
}

/// What a pass of `chunks` chunks leaves in [`TURN`]: its caller ran `ran` chunks from
/// `start`, going `down` or up, and met the helpers there; the next pass goes the other way.
fn turn_word(chunks: usize, start: usize, down: bool, ran: usize) -> u64 {
    // `start < chunks` and `ran <= chunks`: each sum lies below `2 * chunks`.
    let met = if down {
        start + chunks - ran
    } else {
        start + ran
    } % chunks.max(1);
    u64::from(!down) << 63 | (chunks as u64) << 32 | met as u64
}

/// Runs `f(i)` for every `i` in `0..chunks`, each once, on this thread and on helpers that
/// wake in time. Returns when every call has returned.
fn run(chunks: usize, turns: bool, f: &(dyn Fn(usize) + Sync)) {
    // Each half of `Pass::claimed` counts at most `chunks` claims and one failed claim a
    // thread.
    assert!(chunks < 1 << 31, "par: {chunks} chunks in one pass");
    let (start, down) = if turns {
        turn_from(TURN.load(SeqCst), chunks)
    } else {
        (0, false)
    };
    let pass = Pass::new(f, chunks, start, down);
    let wake = threads() - 1;
    let ptr = &pass as *const Pass<'_> as *mut Pass<'static>;
    EPOCH.fetch_add(1, SeqCst);
    if wake == 0 {
        // No helpers, or a cap of 1: alone, turning as with helpers.
        let ran = pass.work(false);
        if turns {
            TURN.store(turn_word(chunks, start, down, ran), SeqCst);
        }
        return;
    }
    if POSTED
        .compare_exchange(std::ptr::null_mut(), ptr, SeqCst, SeqCst)
        .is_err()
    {
        // Another pass is posted (a second thread of the user's, or a pass started inside a
        // chunk of another): alone, leaving the turn to the posted pass.
        pass.work(false);
        return;
    }
    for h in &helpers()[..wake] {
        h.unpark();
    }
    let ran = {
        let _down = TakeDown(&pass);
        pass.work(false)
    };
    if turns {
        TURN.store(turn_word(chunks, start, down, ran), SeqCst);
    }
    let payload = pass
        .panic
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(payload) = payload {
        resume_unwind(payload);
    }
}

/// Runs `f(range)` over `0..len` in chunks, in parallel when `len` is at least
/// [`PARALLEL_MIN_ELEMS`]. Every range starts at 0 or at a multiple of [`CHUNK`] (which
/// [`for_chunks_mut_bits`] and the ReLU's mask rely on).
pub(crate) fn for_ranges(len: usize, f: impl Fn(Range<usize>) + Sync) {
    let turns = len >= TURN_MIN_ELEMS;
    // A pass that turns does so on one thread as well (`run` alone).
    if !share(len >= PARALLEL_MIN_ELEMS, len >= WAKE_MIN_ELEMS) && !turns {
        if len > 0 {
            f(0..len);
        }
        return;
    }
    run(len.div_ceil(CHUNK), turns, &|i| {
        f(i * CHUNK..((i + 1) * CHUNK).min(len));
    });
}

/// Runs `f(task)` for every task in `0..tasks`, each once, on this thread and on helpers that
/// wake in time: for work the caller has already judged large enough to share (a matrix
/// product split by rows).
pub(crate) fn for_tasks(tasks: usize, f: impl Fn(usize) + Sync) {
    match tasks {
        0 => {}
        1 => f(0),
        _ => run(tasks, false, &f),
    }
}

/// Calls `f(task, chunks)` for every task in `0..tasks`, where `chunks[i]` is chunk `task` of
/// `bufs[i].0` cut in pieces of `bufs[i].1` elements (empty past the end of the buffer): on
/// this thread and on helpers when `parallel`, else in order on this thread.
pub(crate) fn for_task_chunks<E: Send, const M: usize>(
    parallel: bool,
    tasks: usize,
    bufs: [(&mut [E], usize); M],
    f: impl Fn(usize, [&mut [E]; M]) + Sync,
) {
    let parts = bufs.map(|(buf, len)| (Out::new(buf), len));
    // SAFETY: `tasks_once` runs each task once, and the buffers are borrowed mutably for the
    // whole call.
    tasks_once(parallel, tasks, |t| {
        f(
            t,
            parts
                .each_ref()
                .map(|(out, len)| unsafe { out.chunk(t, *len) }),
        )
    });
}

/// A buffer that the tasks of [`for_task_bufs`] write chunk by chunk: a caller's slice, or a
/// fresh output (a `Vec` given with the length it gets, its old contents dropped) that each task
/// zero-fills chunk by chunk just before it writes it. A fresh output of the allocating API is
/// thus zeroed on both cores, each chunk by the core that writes it next and while it is in that
/// core's cache, instead of by the calling thread alone before the pass (one pass over memory
/// on one core, and the written data evicted from the other core's cache). Measured on the
/// strided convolution of the benchmarks (`Conv::forward`, batch 32, 2 threads, medians of
/// 2000 calls): zeroing the 1 MiB output and 450 KiB of scratch on the calling thread first
/// made it 640 µs against 525 µs for the same pass into buffers it kept.
pub(crate) enum Buf<'a, E> {
    /// Written in place (its contents as the caller left them).
    Slice(&'a mut [E]),
    /// Cleared and grown (without allocating if its capacity suffices) to this many elements,
    /// each chunk zeroed by its task.
    Fresh(&'a mut Vec<E>, usize),
}

impl<E> Buf<'_, E> {
    /// The buffer's length (the length a fresh one gets).
    pub(crate) fn len(&self) -> usize {
        match self {
            Buf::Slice(s) => s.len(),
            Buf::Fresh(_, len) => *len,
        }
    }
}

impl<'a, E> Buf<'a, E> {
    /// The first `len` elements of the buffer (the whole buffer if it is shorter).
    pub(crate) fn prefix(self, len: usize) -> Self {
        match self {
            Buf::Slice(s) => {
                let len = len.min(s.len());
                Buf::Slice(&mut s[..len])
            }
            Buf::Fresh(v, old) => Buf::Fresh(v, len.min(old)),
        }
    }
}

/// [`for_task_chunks`] over [`Buf`]s: `f(task, chunks)` with chunk `task` of each buffer
/// (`bufs[i].1` elements), a fresh buffer's chunk zeroed by the task first. Returns the
/// buffers, every element of a fresh one written (zero where no task wrote).
pub(crate) fn for_task_bufs<'a, E: Element, const M: usize>(
    parallel: bool,
    tasks: usize,
    bufs: [(Buf<'a, E>, usize); M],
    f: impl Fn(usize, [&mut [E]; M]) + Sync,
) -> [&'a mut [E]; M] {
    // Each buffer as a pointer to `len` elements (a fresh one's spare capacity, uninitialised),
    // whether fresh, its chunk length, and what to hand back.
    let mut fresh = [false; M];
    let mut parts = [(std::ptr::null_mut::<E>(), 0); M];
    let mut vecs: [Option<&'a mut Vec<E>>; M] = [const { None }; M];
    let mut slices: [Option<&'a mut [E]>; M] = [const { None }; M];
    let mut lens = [0; M];
    for (i, (buf, chunk)) in bufs.into_iter().enumerate() {
        match buf {
            Buf::Slice(s) => {
                lens[i] = s.len();
                let s = slices[i].insert(s);
                parts[i] = (s.as_mut_ptr(), chunk);
            }
            Buf::Fresh(v, len) => {
                let v = vecs[i].insert(v);
                v.clear();
                v.reserve(len);
                fresh[i] = true;
                lens[i] = len;
                parts[i] = (v.as_mut_ptr(), chunk);
            }
        }
    }
    let outs: [(Out<E>, usize); M] = std::array::from_fn(|i| {
        let (ptr, chunk) = parts[i];
        (Out { ptr, len: lens[i] }, chunk)
    });
    tasks_once(parallel, tasks, |t| {
        let chunks = std::array::from_fn(|i| {
            let (out, len) = &outs[i];
            if fresh[i] {
                // SAFETY: chunk `t` of the buffer lies in its capacity (`Out::chunk` clamps to
                // `len`, which `reserve` made room for), and only task `t` touches it; it is
                // written whole here before it is read as `E`.
                unsafe { out.zero_chunk(t, *len) }
            } else {
                // SAFETY: each task `t` runs once and takes only chunk `t` of each buffer, which
                // is borrowed mutably (`slices`) for the whole call.
                unsafe { out.chunk(t, *len) }
            }
        });
        f(t, chunks)
    });
    let mut vecs = vecs.into_iter();
    let mut slices = slices.into_iter();
    std::array::from_fn(|i| {
        let (vec, slice) = (vecs.next().flatten(), slices.next().flatten());
        match (vec, slice) {
            (Some(v), _) => {
                let (out, len) = &outs[i];
                // Elements no task's chunk covered (past `tasks` chunks) are zeroed too.
                let covered = tasks.saturating_mul(*len).min(out.len);
                for k in covered..out.len {
                    // SAFETY: `k < len`, inside the capacity `reserve` made.
                    unsafe { out.ptr.add(k).write(E::zero()) };
                }
                // SAFETY: the capacity is at least `len` (`reserve`), and every element below
                // it was written: chunks `0..tasks` by their tasks (`zero_chunk` first, each
                // task ran), the rest just above.
                unsafe { v.set_len(out.len) };
                v.as_mut_slice()
            }
            (None, Some(s)) => s,
            (None, None) => unreachable!("par: every buffer is a slice or a fresh Vec"),
        }
    })
}

/// [`for_task_chunks`] over two buffers of different element types.
pub(crate) fn for_task_chunks2<A: Send, B: Send>(
    parallel: bool,
    tasks: usize,
    (a, a_len): (&mut [A], usize),
    (b, b_len): (&mut [B], usize),
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    let (a, b) = (Out::new(a), Out::new(b));
    // SAFETY: as in `for_task_chunks`.
    tasks_once(parallel, tasks, |t| unsafe {
        f(t, a.chunk(t, a_len), b.chunk(t, b_len))
    });
}

/// Runs `task(t)` once for every `t` in `0..tasks`: through [`for_tasks`] when `parallel`, else
/// in order on this thread.
fn tasks_once(parallel: bool, tasks: usize, task: impl Fn(usize) + Sync) {
    if parallel {
        for_tasks(tasks, task);
    } else {
        (0..tasks).for_each(task);
    }
}

/// A pointer to a caller's buffer (and its length) that tasks write disjoint parts of.
struct Out<E> {
    ptr: *mut E,
    len: usize,
}
// SAFETY: each task reaches only its own disjoint range of the buffer (the contracts of
// `slice` and `chunk`), which is a `&mut [E]` borrowed for the whole parallel call.
unsafe impl<E: Send> Sync for Out<E> {}
unsafe impl<E: Send> Send for Out<E> {}

impl<E> Out<E> {
    fn new(buf: &mut [E]) -> Self {
        Self {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
        }
    }

    /// The elements `r` of the buffer.
    ///
    /// # Safety
    ///
    /// `r` lies in the buffer, and no other live reference covers it.
    unsafe fn slice<'a>(&self, r: Range<usize>) -> &'a mut [E] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.len()) }
    }

    /// Chunk `t` of the buffer cut in pieces of `len` (clamped to the buffer), written with
    /// zeros first.
    ///
    /// # Safety
    ///
    /// The buffer's `self.len` elements are allocated (possibly uninitialised), and no other
    /// live reference covers that chunk.
    unsafe fn zero_chunk<'a>(&self, t: usize, len: usize) -> &'a mut [E]
    where
        E: Element,
    {
        let start = t.saturating_mul(len).min(self.len);
        let end = start.saturating_add(len).min(self.len);
        // SAFETY: `start..end` lies in the allocation; the caller's contract for the rest.
        let chunk = unsafe {
            std::slice::from_raw_parts_mut(
                self.ptr.add(start).cast::<MaybeUninit<E>>(),
                end - start,
            )
        };
        for x in chunk.iter_mut() {
            x.write(E::zero());
        }
        // SAFETY: every element of the chunk was written just above.
        unsafe { &mut *(chunk as *mut [MaybeUninit<E>] as *mut [E]) }
    }

    /// Chunk `t` of the buffer cut in pieces of `len` (clamped to the buffer: empty past it).
    ///
    /// # Safety
    ///
    /// No other live reference covers that chunk (each `t` is taken once).
    unsafe fn chunk<'a>(&self, t: usize, len: usize) -> &'a mut [E] {
        let start = t.saturating_mul(len).min(self.len);
        let end = start.saturating_add(len).min(self.len);
        // SAFETY: `start..end` lies in the buffer; the caller's contract for the rest.
        unsafe { self.slice(start..end) }
    }
}

/// Calls `f(range, &mut y[range])` for disjoint ranges covering `y`, in parallel when `y` is
/// long.
pub(crate) fn for_chunks_mut<E: Send>(y: &mut [E], f: impl Fn(Range<usize>, &mut [E]) + Sync) {
    let len = y.len();
    let out = Out::new(y);
    for_ranges(len, |r| {
        // SAFETY: `for_ranges` hands out each range of `0..len` once, and `y` is borrowed
        // mutably for the whole call, so the chunks are disjoint parts of a live buffer.
        let chunk = unsafe { out.slice(r.clone()) };
        f(r, chunk)
    });
}

/// Calls `f(range, &mut y[range], &mut bits[words])` for disjoint ranges covering `y`, as
/// [`for_chunks_mut`], where `bits` holds one bit per element of `y`, 64 to a word (element
/// `i` is bit `i % 64` of word `i / 64`), and `words` are the words of `range`: every range
/// starts on a word, so no two share one.
///
/// # Panics
///
/// If `bits` is not `⌈y.len() / 64⌉` words long.
pub(crate) fn for_chunks_mut_bits<E: Send>(
    y: &mut [E],
    bits: &mut [u64],
    f: impl Fn(Range<usize>, &mut [E], &mut [u64]) + Sync,
) {
    const { assert!(CHUNK.is_multiple_of(64)) };
    let len = y.len();
    assert_eq!(bits.len(), len.div_ceil(64), "one bit per element");
    let (out, words) = (Out::new(y), Out::new(bits));
    for_ranges(len, |r| {
        assert!(r.start.is_multiple_of(64), "a chunk off a word");
        // SAFETY: `for_ranges` hands out each range of `0..len` once, each starting at 0 or at
        // a multiple of `CHUNK` (of 64), so the ranges and their words are disjoint parts of
        // the two buffers, borrowed mutably for the whole call.
        let (chunk, w) = unsafe {
            (
                out.slice(r.clone()),
                words.slice(r.start / 64..r.end.div_ceil(64)),
            )
        };
        f(r, chunk, w)
    });
}

/// Every element of `y` set to `value`: a memory-bound pass like the others, shared from the
/// same size.
pub(crate) fn fill<E: Copy + Send + Sync>(y: &mut [E], value: E) {
    for_chunks_mut(y, |_, y| y.fill(value));
}

/// `y[i] = f(x[i])`. The lengths are equal (checked by the caller's shape rule).
pub(crate) fn map<E: Copy + Send + Sync>(x: &[E], y: &mut [E], f: impl Fn(E) -> E + Sync) {
    debug_assert_eq!(x.len(), y.len());
    for_chunks_mut(y, |r, y| {
        for (y, &v) in y.iter_mut().zip(&x[r]) {
            *y = f(v);
        }
    });
}

/// `y[i] = f(a[i], b[i])`. The lengths are equal (checked by the caller's shape rule).
pub(crate) fn zip_map<E: Copy + Send + Sync>(
    a: &[E],
    b: &[E],
    y: &mut [E],
    f: impl Fn(E, E) -> E + Sync,
) {
    debug_assert!(a.len() == y.len() && b.len() == y.len());
    for_chunks_mut(y, |r, y| {
        for ((y, &u), &v) in y.iter_mut().zip(&a[r.clone()]).zip(&b[r]) {
            *y = f(u, v);
        }
    });
}

/// A new `Vec` of `f(x[i])`, its elements written once (no zero fill first: a fresh output
/// of a stateless call costs one pass over memory, not two).
pub(crate) fn map_new<E: Copy + Send + Sync>(x: &[E], f: impl Fn(E) -> E + Sync) -> Vec<E> {
    let mut y = Vec::with_capacity(x.len());
    for_chunks_mut(&mut y.spare_capacity_mut()[..x.len()], |r, y| {
        for (y, &v) in y.iter_mut().zip(&x[r]) {
            y.write(f(v));
        }
    });
    // SAFETY: the capacity is at least `x.len()`, and `for_chunks_mut` ran the closure over
    // ranges covering `0..x.len()`, which wrote every one of those elements.
    unsafe { y.set_len(x.len()) };
    y
}

/// A new `Vec` of `f(a[i], b[i])`, as [`map_new`].
pub(crate) fn zip_map_new<E: Copy + Send + Sync>(
    a: &[E],
    b: &[E],
    f: impl Fn(E, E) -> E + Sync,
) -> Vec<E> {
    debug_assert_eq!(a.len(), b.len());
    let mut y = Vec::with_capacity(a.len());
    for_chunks_mut(&mut y.spare_capacity_mut()[..a.len()], |r, y| {
        for ((y, &u), &v) in y.iter_mut().zip(&a[r.clone()]).zip(&b[r]) {
            y.write(f(u, v));
        }
    });
    // SAFETY: as in `map_new`: every element of `0..a.len()` was written.
    unsafe { y.set_len(a.len()) };
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_buffers_are_zeroed_by_their_tasks_and_slices_kept() {
        for parallel in [false, true] {
            // Old contents and a capacity of its own: both must not show through.
            let mut fresh = vec![9.0_f32; 3];
            let mut kept = [5.0_f32; 12];
            let bufs = [
                (Buf::Fresh(&mut fresh, 10), 3),
                (Buf::Slice(&mut kept[..]).prefix(9), 3),
            ];
            // Three tasks of 3 cover 9 of the 10 fresh elements: the last is zeroed too.
            let [f, k] = for_task_bufs(parallel, 3, bufs, |t, [f, k]| {
                assert!(f.iter().all(|&x| x == 0.0), "a fresh chunk starts at zero");
                assert!(k.iter().all(|&x| x == 5.0), "a slice keeps its contents");
                f[0] = t as f32 + 1.0;
                k[1] = -(t as f32);
            });
            assert_eq!(f, &[1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0]);
            assert_eq!(k.len(), 9);
            assert_eq!(fresh.len(), 10);
            assert_eq!(kept[..4], [5.0, 0.0, 5.0, 5.0]);
            assert_eq!(kept[9..], [5.0; 3], "past the prefix: untouched");
        }
    }

    #[test]
    fn every_element_is_mapped_once_at_every_size() {
        for len in [
            0,
            1,
            CHUNK - 1,
            PARALLEL_MIN_ELEMS,
            PARALLEL_MIN_ELEMS + CHUNK / 2 + 3,
            WAKE_MIN_ELEMS + 5,
        ] {
            let x: Vec<u64> = (0..len as u64).collect();
            let mut y = vec![0u64; len];
            map(&x, &mut y, |v| v * 3 + 1);
            assert!(
                y.iter().enumerate().all(|(i, &v)| v == i as u64 * 3 + 1),
                "len {len}"
            );
            let mut z = vec![0u64; len];
            zip_map(&x, &y, &mut z, |a, b| b - a);
            assert!(
                z.iter().enumerate().all(|(i, &v)| v == i as u64 * 2 + 1),
                "len {len}"
            );
            assert_eq!(map_new(&x, |v| v * 3 + 1), y, "len {len}");
            assert_eq!(zip_map_new(&x, &y, |a, b| b - a), z, "len {len}");
        }
    }

    #[test]
    fn task_chunks_cover_each_buffer_once() {
        for parallel in [false, true] {
            let (mut a, mut b) = (vec![0u32; 10], vec![0u32; 7]);
            for_task_chunks(
                parallel,
                4,
                [(&mut a[..], 3), (&mut b[..], 2)],
                |t, [a, b]| {
                    a.iter_mut().for_each(|v| *v += t as u32 + 1);
                    b.iter_mut().for_each(|v| *v += t as u32 + 1);
                },
            );
            assert_eq!(a, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]);
            assert_eq!(b, [1, 1, 2, 2, 3, 3, 4]);
        }
    }

    #[test]
    fn every_chunk_runs_once_claimed_from_both_ends() {
        // The caller claims from the front and helpers from the back of one counter: every
        // count of chunks, odd and even, each run exactly once, with chunks slow enough that
        // a helper takes part.
        for chunks in (1..40).chain([63, 64, 65, 200]) {
            let runs: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
            run(chunks, false, &|i| {
                runs[i].fetch_add(1, SeqCst);
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(20) {
                    std::hint::spin_loop();
                }
            });
            let counts: Vec<usize> = runs.iter().map(|r| r.load(SeqCst)).collect();
            assert!(
                counts.iter().all(|&c| c == 1),
                "{chunks} chunks ran {counts:?} times"
            );
        }
    }

    #[test]
    fn each_thread_starts_a_pass_where_it_ended_the_last_and_turns() {
        // Passes of 1 to 40 chunks run by the caller and one helper thread: every chunk runs
        // once, each thread's chunks form one run around the ring from the pass's start, and
        // the next pass (from `turn_word`/`turn_from`) sends each thread back the way it
        // came, from the chunk it ran last. Each side waits in its first chunk until the other
        // has started one, so both take part in every pass of 2 chunks or more, however the
        // threads are scheduled (with only the caller waiting, a helper that ran while the
        // caller was descheduled could take every chunk).
        let mut word = 0;
        for chunks in (1..=40).chain([64; 6]) {
            let (start, down) = turn_from(word, chunks);
            assert!(start < chunks);
            let order: Mutex<Vec<(bool, usize)>> = Mutex::new(Vec::new());
            let started = [AtomicUsize::new(0), AtomicUsize::new(0)];
            let slow = |from_back: bool, i: usize| {
                order.lock().unwrap().push((from_back, i));
                started[usize::from(from_back)].fetch_add(1, SeqCst);
                if chunks >= 2 {
                    let t = Instant::now();
                    while started[usize::from(!from_back)].load(SeqCst) == 0 {
                        assert!(
                            t.elapsed() < Duration::from_secs(10),
                            "the other side never ran"
                        );
                        std::hint::spin_loop();
                    }
                }
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(20) {
                    std::hint::spin_loop();
                }
            };
            let caller_thread = std::thread::current().id();
            // Records each chunk with whether a helper (not the calling thread) ran it.
            let f = |i: usize| slow(std::thread::current().id() != caller_thread, i);
            let pass = Pass::new(&f, chunks, start, down);
            let ran = std::thread::scope(|s| {
                s.spawn(|| pass.work(true));
                pass.work(false)
            });
            let order = order.into_inner().unwrap();
            let mut seen = vec![0; chunks];
            order.iter().for_each(|&(_, i)| seen[i] += 1);
            assert!(seen.iter().all(|&c| c == 1), "{chunks} chunks ran {seen:?}");
            let step = |i: usize, up: bool| {
                if up {
                    (i + 1) % chunks
                } else {
                    (i + chunks - 1) % chunks
                }
            };
            for helper in [false, true] {
                let mine: Vec<usize> = order
                    .iter()
                    .filter(|o| o.0 == helper)
                    .map(|o| o.1)
                    .collect();
                let up = helper == down;
                let first = if up {
                    start
                } else {
                    (start + chunks - 1) % chunks
                };
                if let Some(&f) = mine.first() {
                    assert_eq!(
                        f, first,
                        "{chunks} chunks from {start}, down {down}: {order:?}"
                    );
                }
                for w in mine.windows(2) {
                    assert_eq!(w[1], step(w[0], up), "{chunks} chunks: {order:?}");
                }
            }
            let caller_ran = order.iter().filter(|o| !o.0).count();
            assert_eq!(ran, caller_ran);
            assert!(
                chunks < 2 || (ran > 0 && ran < chunks),
                "both sides ran: {order:?}"
            );
            let last_caller = order.iter().rev().find(|o| !o.0).map(|o| o.1);
            word = turn_word(chunks, start, down, ran);
            // A pass of the same length starts the caller on the chunk it ran last.
            let (next, next_down) = turn_from(word, chunks);
            assert_eq!(next_down, !down);
            if let Some(last) = last_caller {
                let next_first = if next_down {
                    (next + chunks - 1) % chunks
                } else {
                    next
                };
                assert_eq!(next_first, last, "{chunks} chunks: {order:?}");
            }
        }
    }

    #[test]
    fn a_turning_pass_shared_by_several_helpers_runs_each_chunk_once() {
        // Helpers share the back counter: with three threads claiming, from every start and
        // both ways, each chunk still runs once.
        for chunks in [2, 7, 64, 65] {
            for start in [0, 1, chunks / 2, chunks - 1] {
                for down in [false, true] {
                    let runs: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
                    let f = |i: usize| {
                        runs[i].fetch_add(1, SeqCst);
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_micros(20) {
                            std::hint::spin_loop();
                        }
                    };
                    let pass = Pass::new(&f, chunks, start, down);
                    std::thread::scope(|s| {
                        s.spawn(|| pass.work(true));
                        s.spawn(|| pass.work(true));
                        pass.work(false);
                    });
                    let counts: Vec<usize> = runs.iter().map(|r| r.load(SeqCst)).collect();
                    assert!(
                        counts.iter().all(|&c| c == 1),
                        "{chunks} from {start}: {counts:?}"
                    );
                }
            }
        }
        // A pass of another length starts at the same fraction of it: the caller of a pass of
        // 40 chunks ran 7 up from 10 and met the helpers at 17; a pass of 64 goes down from
        // 17 · 64 / 40 = 27.
        assert_eq!(turn_from(turn_word(40, 10, false, 7), 64), (27, true));
        assert_eq!(turn_from(turn_word(40, 10, true, 7), 64), (4, false));
    }

    #[test]
    fn a_pass_inside_a_chunk_of_another_completes() {
        let len = PARALLEL_MIN_ELEMS * 2;
        let x: Vec<u64> = (0..len as u64).collect();
        for_tasks(4, |t| {
            let mut y = vec![0u64; len];
            map(&x, &mut y, |v| v + t as u64);
            assert!(y.iter().enumerate().all(|(i, &v)| v == i as u64 + t as u64));
        });
    }

    #[test]
    fn a_panic_in_a_chunk_reaches_the_caller_and_the_helpers_live_on() {
        for _ in 0..20 {
            let caught = catch_unwind(|| {
                for_tasks(8, |t| {
                    assert!(t % 2 == 0, "chunk {t} fails");
                    std::thread::sleep(std::time::Duration::from_micros(200));
                })
            });
            assert!(caught.is_err());
        }
        let x: Vec<u64> = (0..PARALLEL_MIN_ELEMS as u64 * 2).collect();
        let mut y = vec![0; x.len()];
        map(&x, &mut y, |v| v * 2);
        assert!(y.iter().enumerate().all(|(i, &v)| v == i as u64 * 2));
    }

    #[test]
    fn passes_from_many_threads_at_once_all_complete() {
        let len = PARALLEL_MIN_ELEMS * 2;
        std::thread::scope(|s| {
            for t in 0..4u64 {
                s.spawn(move || {
                    let x: Vec<u64> = (0..len as u64).collect();
                    let mut y = vec![0u64; len];
                    for round in 0..20 {
                        map(&x, &mut y, |v| v + t + round);
                        assert!(y
                            .iter()
                            .enumerate()
                            .all(|(i, &v)| v == i as u64 + t + round));
                    }
                });
            }
        });
    }
}
