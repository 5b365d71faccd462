// An activation's gradient must have the input's shape: (4, 3) here, not (4, 2). The error
// names the layer.
use shaped::{typenum::*, Elementwise, Sigmoid, Tensor};

fn main() {
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U4, U2)>::zeros();
    let _dx = Sigmoid.backward(&x, &dy);
}
