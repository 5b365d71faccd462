//! `set_num_threads(1)` before any work: no helper thread is started, so nothing spins beside
//! a program that asked for one thread. Its own test binary: the helpers start once per
//! process, and other tests would start them.

use shaped::{typenum::*, Affine, Module, ReLU, Tensor};

/// The names of this process's threads (Linux: `/proc/self/task/*/comm`).
#[cfg(target_os = "linux")]
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task lists the threads")
        .map(|t| {
            let comm = t.expect("a thread entry").path().join("comm");
            std::fs::read_to_string(comm)
                .expect("a thread's name")
                .trim()
                .to_owned()
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn a_cap_of_one_starts_no_helper_thread() {
    shaped::set_num_threads(1);
    assert_eq!(shaped::num_threads(), 1);
    // Passes large enough to be shared on more threads: a 1 Mi-element ReLU and a product of
    // 2 · 256 · 512 · 512 flops.
    let x = Tensor::<(U1024, U1024)>::full(1.0);
    let y = ReLU.forward(&x);
    assert_eq!(y.as_slice()[0], 1.0);
    let layer = Affine::<U512, U512>::new(Tensor::full(0.5), Tensor::zeros());
    let out = layer.infer(&Tensor::<(U256, U512)>::full(1.0));
    assert_eq!(out.as_slice()[0], 256.0);
    let helpers: Vec<String> = thread_names()
        .into_iter()
        .filter(|n| n.starts_with("shaped-helper"))
        .collect();
    assert!(helpers.is_empty(), "helper threads started: {helpers:?}");
    // Lifting the cap starts them (when the machine has more than one core): the check above
    // can see them.
    shaped::set_num_threads(0);
    if shaped::num_threads() > 1 {
        assert!(thread_names()
            .iter()
            .any(|n| n.starts_with("shaped-helper")));
    }
}
