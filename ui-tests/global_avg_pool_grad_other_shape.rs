// GlobalAvgPool maps (N, C, H, W) to (N, C): the gradient of its output is (2, 4) here, one
// value per channel; a gradient with 3 channels is the mistake.
use shaped::{typenum::*, GlobalAvgPool, Tensor};

fn main() {
    let x = Tensor::<(U2, U4, U3, U3)>::zeros();
    let dy = Tensor::<(U2, U3)>::zeros();
    let _dx = GlobalAvgPool.backward(&x, &dy);
}
