// A layer's constructor takes tensors: a `Vec` for the weight is the mistake (make a tensor of
// it with `Tensor::from_vec`).
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let _layer = Affine::<U3, U2>::new(vec![0.0f32; 6], Tensor::zeros());
}
