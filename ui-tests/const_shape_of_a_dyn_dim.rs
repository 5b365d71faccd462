// A function that needs every dim at compile time (`S: ConstShape`) given a shape with a `Dyn`
// dim is the mistake.
use shaped::{typenum::*, ConstShape, Dyn, Tensor};

fn ones<S: ConstShape>() -> Tensor<S> {
    Tensor::full(1.0)
}

fn main() {
    let _t = ones::<(Dyn, U3)>();
}
