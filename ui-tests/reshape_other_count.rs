// 4 x 3 = 12 elements cannot be viewed as 2 x 5 = 10.
use shaped::{typenum::*, Tensor};

fn main() {
    let x = Tensor::<(U4, U3)>::zeros();
    let _y: Tensor<(U2, U5)> = x.reshape();
}
