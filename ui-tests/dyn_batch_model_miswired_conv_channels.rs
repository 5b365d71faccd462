// A model fed batches of runtime size: the second convolution expects 4 channels, the first
// makes 8.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Conv, Dyn, Init, Module, ReLU, Tensor};

fn main() {
    let model: (Conv<U1, U8, U3, U3>, ReLU, Conv<U4, U16, U3, U3>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(Dyn, U1, U16, U16)>::from_vec(vec![0.0; 512]).unwrap();
    let _y = model.infer(&x);
}
