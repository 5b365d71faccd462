// `&a + &b` checks the same rule as `a.add(&b)`, and says so in words.
use shaped::{typenum::*, Tensor};

fn main() {
    let a = Tensor::<(U4, U3)>::zeros();
    let b = Tensor::<(U4, U2)>::zeros();
    let _sum = &a + &b;
}
