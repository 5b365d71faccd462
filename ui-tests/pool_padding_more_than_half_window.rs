// A 3 x 3 window with 2 rows of padding: a window could lie wholly in the padding.
use shaped::{typenum::*, MaxPool2dHW};

fn main() {
    let _pool = MaxPool2dHW::<U3, U3, U2, U2, U2, U1>::new();
}
