// The gradient of a batch normalisation's output has the input's shape, (N, C, H, W).
use shaped::{typenum::*, BatchNorm2d, Tensor};

fn main() {
    let bn = BatchNorm2d::<U3>::new();
    let x = Tensor::<(U4, U3, U8, U8)>::zeros();
    let dy = Tensor::<(U4, U3, U4, U4)>::zeros();
    let _ = bn.backward(&x, &dy);
}
