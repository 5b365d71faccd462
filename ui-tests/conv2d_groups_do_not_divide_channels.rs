// 8 input channels cannot be split into 3 groups.
use shaped::{typenum::*, Conv2d, Seeded};

fn main() {
    let _conv = Conv2d::<U8, U6, U3, U3, U1, U1, U1, U3>::seeded(0);
}
