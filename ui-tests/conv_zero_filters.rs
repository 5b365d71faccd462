// A convolution with no filters computes nothing.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Conv, Init};

fn main() {
    let _conv = Conv::<U1, U0, U3, U3>::init(&mut StdRng::seed_from_u64(0));
}
