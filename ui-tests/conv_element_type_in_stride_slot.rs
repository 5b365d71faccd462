// The element type written where the stride goes: Conv<C, K, HF, WF, S, P, E>.
use shaped::{typenum::*, Conv, Seeded};

fn main() {
    let _conv = Conv::<U1, U4, U3, U3, f64>::seeded(0);
}
