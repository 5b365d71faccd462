//! A stack of strided convolutions: the compiler computes every output size, written out here
//! as annotations, and the backward pass returns gradients of the same shapes.
use shaped::{typenum::*, Conv, ConvOut, ReLU, Tensor};

fn main() {
    // 3 x 32 x 32 images -> 16 x 16 x 16 -> 32 x 8 x 8 -> 64 x 2 x 2 (5 x 5 kernel, stride 2, no padding)
    let c1 = Conv::<U3, U16, U3, U3, U2, U1>::new(Tensor::full(0.05), Tensor::zeros());
    let c2 = Conv::<U16, U32, U3, U3, U2, U1>::new(Tensor::full(0.02), Tensor::full(0.1));
    let c3 = Conv::<U32, U64, U5, U5, U2, U0>::new(Tensor::full(0.01), Tensor::zeros());

    let x = Tensor::<(U4, U3, U32, U32)>::from_fn(|i| ((i[2] * 32 + i[3]) % 7) as f32 * 0.1);
    let h1: Tensor<(U4, U16, U16, U16)> = ReLU.forward(&c1.forward(&x));
    let h2: Tensor<(U4, U32, U8, U8)> = ReLU.forward(&c2.forward(&h1));
    let y: Tensor<(U4, U64, ConvOut<U8, U5, U2, U0>, U2)> = c3.forward(&h2);

    // ∂L/∂y for L = Σ y, back through the stack.
    let dy = Tensor::<(U4, U64, U2, U2)>::full(1.0);
    let (dh2, g3) = c3.backward(&h2, &dy);
    let (dh1, g2) = c2.backward(&h1, &ReLU.backward(&c2.forward(&h1), &dh2));
    let (dx, g1) = c1.backward(&x, &ReLU.backward(&c1.forward(&x), &dh1));

    println!("y: {:?}", y.dims());
    println!(
        "dx: {:?}, dW1: {:?}, dW3: {:?}",
        dx.dims(),
        g1.weight.dims(),
        g3.weight.dims()
    );
    assert_eq!(y.dims(), [4, 64, 2, 2]);
    assert_eq!(dx.dims(), [4, 3, 32, 32]);
    assert_eq!(g2.weight.dims(), [32, 16, 3, 3]);
    assert_eq!(g3.bias.as_slice(), &[16.0; 64]); // db = Σ dY over N, HO, WO = 4 · 2 · 2
    assert!(y.as_slice().iter().all(|v| v.is_finite() && *v > 0.0));
}
