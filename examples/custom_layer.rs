//! Two layers of your own, the short way: an activation without parameters (`Softsign`, from
//! its scalar function and derivative) and a layer with parameters (`Diagonal`, a per-feature
//! scale and shift). Both go into a model with the crate's layers, are trained, saved under
//! PyTorch's names, and have their gradients checked against finite differences.
//!
//! `cargo run --release --example custom_layer`

use shaped::prelude::*;
use shaped::rand::Rng;
use shaped::{softmax_cross_entropy, softmax_cross_entropy_into, Adam, Element, LayerWork};

/// Softsign, `y = x / (1 + |x|)`; `dy/dx = 1 / (1 + |x|)²`. A parameterless element-wise layer
/// is its two scalar functions and one macro call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Softsign;

impl Elementwise for Softsign {
    fn value<E: Element>(&self, x: E) -> E {
        x / (E::one() + x.abs())
    }
    fn derivative<E: Element>(&self, x: E, _y: E) -> E {
        let d = E::one() + x.abs();
        (d * d).recip()
    }
}
shaped::elementwise!(Softsign);

/// `y = x ∘ weight + bias`, per feature, on a batch `(N, D)`.
///
/// `backward_train` adds `dweight = Σₙ dy ∘ x` and `dbias = Σₙ dy`, both `(D,)`, and returns
/// `dx = dy ∘ weight`, `(N, D)`.
#[derive(Clone, Debug, PartialEq)]
struct Diagonal<D: Dim, E = f32> {
    weight: Tensor<(D,), E>,
    bias: Tensor<(D,), E>,
}

/// Its gradients: the same fields, the same shapes.
#[derive(Clone, Debug, PartialEq)]
struct DiagonalGrads<D: Dim, E = f32> {
    weight: Tensor<(D,), E>,
    bias: Tensor<(D,), E>,
}

// `Tensors` for both (the names PyTorch's `state_dict` would use), and `Params`.
shaped::params! {
    impl<D: Dim, E: Element> Params<E> for Diagonal<D, E> { weight, bias } => DiagonalGrads<D, E>
}

impl<N: Dim, D: Dim, E: Element> Module<E, Tensor<(N, D), E>> for Diagonal<D, E> {
    type Out = Tensor<(N, D), E>;
    type Work = LayerWork<(N, D), (N, D), E>;

    fn infer(&self, x: &Tensor<(N, D), E>) -> Tensor<(N, D), E> {
        let mut y = Tensor::default();
        self.forward_into(x, &mut y);
        y
    }

    fn forward_train<'w>(
        &mut self,
        x: &Tensor<(N, D), E>,
        work: &'w mut Self::Work,
        _: &mut Context,
    ) -> &'w Tensor<(N, D), E> {
        self.forward_into(x, &mut work.out);
        &work.out
    }

    // The backward pass a layer implements: `backward_train`, which users call, checks the
    // gradient's shape against `Self::Out` and calls this with `dy` of exactly that type.
    fn backward_exact<'w>(
        &self,
        x: &Tensor<(N, D), E>,
        dy: &Tensor<(N, D), E>,
        work: &'w mut Self::Work,
        grads: &mut DiagonalGrads<D, E>,
        input_grad: bool,
    ) -> Option<&'w Tensor<(N, D), E>> {
        let d = self.weight.dims()[0];
        let rows = x
            .as_slice()
            .chunks_exact(d)
            .zip(dy.as_slice().chunks_exact(d));
        for (x, dy) in rows {
            for (i, (&x, &g)) in x.iter().zip(dy).enumerate() {
                grads.weight.as_mut_slice()[i] += g * x;
                grads.bias.as_mut_slice()[i] += g;
            }
        }
        if !input_grad {
            return None;
        }
        let dx = work.dx.reset(x.shape()).as_mut_slice(); // no allocation once sized
        for (dx, dy) in dx.chunks_exact_mut(d).zip(dy.as_slice().chunks_exact(d)) {
            for ((dx, &g), &w) in dx.iter_mut().zip(dy).zip(self.weight.as_slice()) {
                *dx = g * w;
            }
        }
        Some(&work.dx)
    }

    fn output(work: &Self::Work) -> &Tensor<(N, D), E> {
        &work.out
    }
}

impl<D: Dim, E: Element> Diagonal<D, E> {
    /// `y = x ∘ weight + bias` into `y`.
    fn forward_into<N: Dim>(&self, x: &Tensor<(N, D), E>, y: &mut Tensor<(N, D), E>) {
        let d = self.weight.dims()[0];
        let y = y.reset(x.shape()).as_mut_slice();
        for (y, x) in y.chunks_exact_mut(d).zip(x.as_slice().chunks_exact(d)) {
            for (((y, &x), &w), &b) in y
                .iter_mut()
                .zip(x)
                .zip(self.weight.as_slice())
                .zip(self.bias.as_slice())
            {
                *y = x * w + b;
            }
        }
    }
}

/// So that `Model::seeded(0)` builds it: weight 1, bias 0 (PyTorch's `LayerNorm` default).
impl<D: shaped::ConstDim, E: Element, R: Rng + ?Sized> Init<R> for Diagonal<D, E> {
    fn init(_: &mut R) -> Self {
        Self {
            weight: Tensor::full(E::one()),
            bias: Tensor::zeros(),
        }
    }
}

type Model<E> = (
    Affine<U4, U8, E>,
    Softsign,
    Diagonal<U8, E>,
    Affine<U8, U3, E>,
);

/// Four points of each of three classes, in four features.
fn data<E: Element>() -> (Tensor<(Dyn, U4), E>, Vec<usize>) {
    let labels: Vec<usize> = (0..12).map(|i| i % 3).collect();
    let x = labels
        .iter()
        .enumerate()
        .flat_map(|(i, &c)| (0..4).map(move |f| if f == c { 1.0 } else { 0.1 * (i % 4) as f64 }))
        .map(|v| E::from_f64(v).unwrap())
        .collect();
    (Tensor::from_vec(x).unwrap(), labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Train: the custom layers are layers like any other.
    let mut model = Model::<f32>::seeded(0);
    let (x, labels) = data::<f32>();
    let mut opt = Adam::new(0.05)?;
    let (mut work, mut grads, mut dlogits) =
        (Default::default(), model.zero_grads(), Tensor::default());
    let mut ctx = Context::new(0);
    let first = softmax_cross_entropy(&model.infer(&x), &labels)?.0;
    for _ in 0..60 {
        let logits = model.forward_train(&x, &mut work, &mut ctx);
        softmax_cross_entropy_into(logits, &labels, &mut dlogits)?;
        grads.zero();
        model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
        opt.step(&mut model, &grads);
    }
    let last = softmax_cross_entropy(&model.infer(&x), &labels)?.0;
    let accuracy = model
        .infer(&x)
        .argmax()
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    println!("loss {first:.3} -> {last:.3}, {accuracy}/12 right");
    assert!(last < first / 4.0, "trained: {first} -> {last}");
    assert_eq!(accuracy, 12);

    // Saved under PyTorch's names: the Diagonal's fields as they are named.
    let mut names = Vec::new();
    model.visit("", &mut |name, dims, _| {
        names.push(format!("{name} {dims:?}"))
    });
    assert_eq!(
        names,
        [
            "0.weight [8, 4]",
            "0.bias [8]",
            "2.weight [8]",
            "2.bias [8]",
            "3.weight [3, 8]",
            "3.bias [3]"
        ]
    );
    let path = std::env::temp_dir().join("shaped-custom-layer.safetensors");
    shaped::io::save(&model, &path)?;
    let mut again = Model::<f32>::seeded(1);
    shaped::io::load(&mut again, &path)?;
    assert_eq!(again, model);
    std::fs::remove_file(&path)?;

    // Gradients, in f64, against central finite differences of the loss.
    let mut model = Model::<f64>::seeded(2);
    model.2.weight = Tensor::from_fn(|i| 0.5 + 0.1 * i[0] as f64);
    let (x, labels) = data::<f64>();
    let loss = |m: &Model<f64>| softmax_cross_entropy(&m.infer(&x), &labels).map(|l| l.0);
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let logits = model.forward_train(&x, &mut work, &mut Context::new(0));
    let (_, dlogits) = softmax_cross_entropy(logits, &labels)?;
    let dx = model
        .backward_train(&x, &dlogits, &mut work, &mut grads, true)
        .cloned()
        .ok_or("the input gradient was asked for")?;
    let h = 1e-6;
    let mut worst = 0.0f64;
    for i in 0..8 {
        for (field, analytic) in [
            (0, grads.2.weight.as_slice()[i]),
            (1, grads.2.bias.as_slice()[i]),
        ] {
            let mut up = model.clone();
            let mut down = model.clone();
            let (u, d) = if field == 0 {
                (&mut up.2.weight, &mut down.2.weight)
            } else {
                (&mut up.2.bias, &mut down.2.bias)
            };
            u.as_mut_slice()[i] += h;
            d.as_mut_slice()[i] -= h;
            let numeric = (loss(&up)? - loss(&down)?) / (2.0 * h);
            worst = worst.max((numeric - analytic).abs());
        }
    }
    // Through Softsign, to the input.
    for i in 0..x.as_slice().len() {
        let mut xu = x.clone();
        let mut xd = x.clone();
        xu.as_mut_slice()[i] += h;
        xd.as_mut_slice()[i] -= h;
        let lu = softmax_cross_entropy(&model.infer(&xu), &labels)?.0;
        let ld = softmax_cross_entropy(&model.infer(&xd), &labels)?.0;
        worst = worst.max(((lu - ld) / (2.0 * h) - dx.as_slice()[i]).abs());
    }
    println!("largest gradient error against finite differences: {worst:.1e}");
    assert!(worst < 1e-8, "{worst}");
    Ok(())
}
