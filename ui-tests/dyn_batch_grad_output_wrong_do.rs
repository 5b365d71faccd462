// With a runtime batch, a gradient of 3 outputs for a layer of 2 is still a compile error.
use shaped::{typenum::*, Affine, Dyn, Tensor};

fn main() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(Dyn, U4)>::from_vec(vec![0.0; 32]).unwrap();
    let dy = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 24]).unwrap();
    let _ = layer.backward(&x, &dy);
}
