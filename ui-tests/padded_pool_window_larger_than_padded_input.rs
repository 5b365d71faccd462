// A 5-row window on 2 rows padded by 1 on each side: 5 rows do not fit in 4.
use shaped::{typenum::*, AvgPool2dHW, Module, Tensor};

fn main() {
    let x = Tensor::<(U1, U1, U2, U4)>::zeros();
    let _y = AvgPool2dHW::<U5, U3, U1, U1, U1, U1>::new().infer(&x);
}
