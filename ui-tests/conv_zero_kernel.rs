// A 0 × 0 kernel sees nothing: the output would be the bias alone.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Conv, Init};

fn main() {
    let _conv = Conv::<U1, U4, U0, U0>::init(&mut StdRng::seed_from_u64(0));
}
