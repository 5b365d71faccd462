// An image of 100 pixels fed to a layer built for 784 inputs.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let layer = Affine::<U784, U10>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U32, U100)>::zeros();
    let _y = layer.forward(&x);
}
