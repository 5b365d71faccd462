// A flattened gradient (12,) passed for an input of shape (4, 3).
use shaped::{typenum::*, ReLU, Tensor};

fn main() {
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U12,)>::zeros();
    let _dx = ReLU.backward(&x, &dy);
}
