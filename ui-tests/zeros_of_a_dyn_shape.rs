// A tensor with a runtime dim cannot be made from nothing: its size is not in the type.
use shaped::{typenum::*, Dyn, Tensor};

fn main() {
    let _x = Tensor::<(Dyn, U784)>::zeros();
}
