// 6 input channels split into 3 groups, but 8 filters cannot be.
use shaped::{typenum::*, Conv2d, Seeded};

fn main() {
    let _conv = Conv2d::<U6, U8, U3, U3, U1, U1, U1, U3>::seeded(0);
}
