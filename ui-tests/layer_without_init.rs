// A model is initialised layer by layer: a layer of your own without `impl Init` is the mistake.
use shaped::rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Init};

struct Gain(f32);

fn initialised<M: Init>(seed: u64) -> M {
    M::init(&mut StdRng::seed_from_u64(seed))
}

fn main() {
    let _model: (Affine<U2, U3>, Gain) = initialised(0);
}
