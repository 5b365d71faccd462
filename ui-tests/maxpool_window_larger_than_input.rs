// A 5 x 5 pool window on 4 x 4 feature maps.
use shaped::{typenum::*, MaxPool2d, Module, Tensor};

fn main() {
    let x = Tensor::<(U2, U3, U4, U4)>::zeros();
    let _y = MaxPool2d::<U5>::new().infer(&x);
}
