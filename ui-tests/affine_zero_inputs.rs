// A layer with no input features computes nothing.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Init};

fn main() {
    let _layer = Affine::<U0, U2>::init(&mut StdRng::seed_from_u64(0));
}
