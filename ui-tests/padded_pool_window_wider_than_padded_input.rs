// A 5-column window on 2 columns padded by 1 on each side: 5 columns do not fit in 4.
use shaped::{typenum::*, AvgPool2dHW, Module, Tensor};

fn main() {
    let x = Tensor::<(U1, U1, U4, U2)>::zeros();
    let _y = AvgPool2dHW::<U3, U5, U1, U1, U1, U1>::new().infer(&x);
}
