// A batch of runtime size still has static features: 100 pixels into a 784-input layer.
use shaped::{typenum::*, Affine, Dyn, Tensor};

fn main() {
    let layer = Affine::<U784, U10>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(Dyn, U100)>::from_vec(vec![0.0; 300]).unwrap();
    let _y = layer.forward(&x);
}
