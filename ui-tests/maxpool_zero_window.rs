// A pool window of 0 has no maximum.
use shaped::{typenum::*, MaxPool2d};

fn main() {
    let _pool = MaxPool2d::<U0>::new();
}
