// A generator from another version of `rand` than the crate's is another type.
use rand_newer::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Init, ReLU};

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    let _model = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::init(&mut rng);
}
