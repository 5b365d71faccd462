// A convolution of 0 groups.
use shaped::{typenum::*, Conv2d, Seeded};

fn main() {
    let _conv = Conv2d::<U4, U4, U3, U3, U1, U1, U1, U0>::seeded(0);
}
