// The target of a regression must have the prediction's shape.
use shaped::{mse, typenum::*, Tensor};

fn main() {
    let prediction = Tensor::<(U8, U1)>::zeros();
    let target = Tensor::<(U8, U2)>::zeros();
    let _ = mse(&prediction, &target);
}
