//! A guide: define a model, train it, save it, load it in PyTorch, write a layer of your own,
//! and read a shape error. Every example here is compiled and run by `cargo test`.
//!
//! # Define a model
//!
//! A model is a tuple of layers; its type is the architecture, and every junction is checked
//! by the compiler. Comments give each output shape; `N` is the batch.
//!
//! ```
//! use shaped::prelude::*;
//!
//! type Cnn = (
//!     Conv<U1, U8, U3, U3, U1, U1>, // (N, 1, 8, 8) -> (N, 8, 8, 8): 8 filters of 3 × 3, padding 1
//!     ReLU,
//!     MaxPool2d<U2>,   // -> (N, 8, 4, 4)
//!     Flatten,         // -> (N, 128)
//!     Affine<U128, U10>, // -> (N, 10)
//! );
//! let model = Cnn::seeded(0); // PyTorch's default initialisation, seeded
//! let x = Tensor::<(Dyn, U1, U8, U8)>::from_vec(vec![0.5; 3 * 64])?; // 3 images
//! let logits = model.infer(&x);
//! assert_eq!(logits.dims(), [3, 10]);
//! # Ok::<(), shaped::ShapeError>(())
//! ```
//!
//! # Train it
//!
//! A step keeps its buffers across steps (`work`, `grads`, the loss gradient), so after the
//! first step of a batch size it allocates nothing. Gradients accumulate: zero them first.
//!
//! ```
//! use shaped::prelude::*;
//! use shaped::{data::Dataset, softmax_cross_entropy_into, Adam};
//!
//! type Mlp = (Affine<U4, U16>, ReLU, Affine<U16, U3>);
//! let mut model = Mlp::seeded(0);
//! let mut opt = Adam::new(1e-2)?;
//! let x = Tensor::<(Dyn, U4)>::from_vec((0..40).map(|i| (i % 7) as f32 / 7.0).collect())?;
//! let data = Dataset::new(x, (0..10).map(|i| i % 3).collect())?;
//! let (mut work, mut grads) = (Default::default(), model.zero_grads());
//! let (mut x, mut dlogits, mut ctx) = (Tensor::default(), Tensor::default(), Context::new(0));
//! let mut first = None;
//! for _epoch in 0..50 {
//!     for b in 0..data.num_batches(4) {
//!         let labels = data.batch_into(b, 4, &mut x); // 4, 4, then 2 samples
//!         let logits = model.forward_train(&x, &mut work, &mut ctx);
//!         let loss = softmax_cross_entropy_into(logits, labels, &mut dlogits)?;
//!         first.get_or_insert(loss);
//!         grads.zero();
//!         model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
//!         opt.step(&mut model, &grads);
//!     }
//! }
//! let all = model.infer(data.inputs());
//! let (loss, _) = shaped::softmax_cross_entropy(&all, data.labels())?;
//! assert!(loss < first.unwrap_or(f32::MAX));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Save it, and load it in PyTorch
//!
//! Parameters are saved as safetensors under the names of the same PyTorch `nn.Sequential`
//! (`"0.weight"`, `"0.bias"`, `"2.weight"`, …), in PyTorch's layouts (`Linear` weights
//! `(out, in)`, `Conv2d` weights `(out, in, kh, kw)`). Saves are atomic.
//!
//! ```
//! use shaped::prelude::*;
//! type Mlp = (Affine<U4, U16>, ReLU, Affine<U16, U3>);
//! let model = Mlp::seeded(1);
//! let path = std::env::temp_dir().join("shaped-guide-mlp.safetensors");
//! shaped::io::save(&model, &path)?;
//! let mut again = Mlp::seeded(2);
//! shaped::io::load(&mut again, &path)?;
//! assert_eq!(again, model);
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In Python, the same architecture loads the file:
//!
//! ```text
//! import torch, safetensors.torch
//! model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
//! model.load_state_dict(safetensors.torch.load_file("mlp.safetensors"))
//! ```
//!
//! # Write a layer of your own
//!
//! A layer is a value with [`Tensors`](crate::Tensors) (its parameters, visited under
//! PyTorch's names), [`Params`](crate::Params) (its gradients type) and
//! [`Module`](crate::Module) (its passes); [`Init`](crate::Init) lets `seeded` build models that
//! hold it. For an element-wise layer one macro writes all of these; for a layer with
//! parameters one macro writes all but its passes.
//!
//! **An element-wise layer** (an activation) is its scalar function and derivative: implement
//! [`Elementwise`](crate::Elementwise) and call [`elementwise!`](crate::elementwise), which
//! writes the rest (its training buffers included). Every activation of the crate is made so.
//! Here `y = 2x`, on any shape:
//!
//! ```
//! use shaped::prelude::*;
//! use shaped::Element;
//!
//! #[derive(Clone, Copy, Debug, Default, PartialEq)]
//! struct Double;
//!
//! impl Elementwise for Double {
//!     fn value<E: Element>(&self, x: E) -> E {
//!         x + x
//!     }
//!     fn derivative<E: Element>(&self, _x: E, _y: E) -> E {
//!         E::one() + E::one()
//!     }
//! }
//! shaped::elementwise!(Double);
//!
//! // In a model, built, run and trained like any other layer.
//! let mut model = <(Affine<U2, U2>, Double)>::seeded(0);
//! let x = Tensor::<(U1, U2)>::full(1.0);
//! let (mut work, mut grads) = (Default::default(), model.zero_grads());
//! let y = model.forward_train(&x, &mut work, &mut Context::new(0)).clone();
//! assert_eq!(y, model.infer(&x));
//! let dy = Tensor::<(U1, U2)>::full(1.0);
//! let dx = model.backward_train(&x, &dy, &mut work, &mut grads, true);
//! assert_eq!(dx.map(|d| d.dims()), Some([1, 2]));
//! assert!(grads.0.bias.as_slice().iter().all(|&g| g == 2.0)); // 2 · dy through Double
//! ```
//!
//! **A layer with parameters** names them as fields; [`params!`](crate::params) implements
//! `Tensors` for the layer and for its gradients type (a struct of the same fields) and
//! `Params`. Then its `Module` impl: the output goes into `work.out`, the input gradient into
//! `work.dx` (both a [`LayerWork`](crate::LayerWork); [`Tensor::reset`](crate::Tensor::reset)
//! sizes them without allocating once they have room), and the parameter gradients are
//! **added** into `grads`. The backward pass a layer implements is
//! [`Module::backward_exact`](crate::Module::backward_exact), whose `dy` is of the output's own
//! type; callers use `backward_train`, which checks the gradient's shape with a named rule and
//! calls it. Here `y = x + b` on a batch `(N, D)`:
//!
//! ```
//! use shaped::prelude::*;
//! use shaped::{Element, LayerWork};
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct Shift<D: Dim, E = f32> {
//!     bias: Tensor<(D,), E>,
//! }
//! shaped::params! {
//!     impl<D: Dim, E: Element> Params<E> for Shift<D, E> { bias } => Self
//! }
//!
//! /// `y = x + b`, row by row.
//! fn shift<E: Element>(x: &[E], b: &[E], y: &mut [E]) {
//!     for (y, x) in y.chunks_exact_mut(b.len()).zip(x.chunks_exact(b.len())) {
//!         for ((y, &x), &b) in y.iter_mut().zip(x).zip(b) {
//!             *y = x + b;
//!         }
//!     }
//! }
//!
//! impl<N: Dim, D: Dim, E: Element> Module<E, Tensor<(N, D), E>> for Shift<D, E> {
//!     type Out = Tensor<(N, D), E>;
//!     type Work = LayerWork<(N, D), (N, D), E>;
//!     fn infer(&self, x: &Tensor<(N, D), E>) -> Self::Out {
//!         let mut y = Tensor::default();
//!         shift(x.as_slice(), self.bias.as_slice(), y.reset(x.shape()).as_mut_slice());
//!         y
//!     }
//!     fn forward_train<'w>(
//!         &mut self,
//!         x: &Tensor<(N, D), E>,
//!         work: &'w mut Self::Work,
//!         _: &mut Context,
//!     ) -> &'w Self::Out {
//!         let y = work.out.reset(x.shape()).as_mut_slice(); // no allocation once sized
//!         shift(x.as_slice(), self.bias.as_slice(), y);
//!         &work.out
//!     }
//!     fn backward_exact<'w>(
//!         &self,
//!         x: &Tensor<(N, D), E>,
//!         dy: &Self::Out,
//!         work: &'w mut Self::Work,
//!         grads: &mut Self, // `=> Self`: the layer is its own gradients type
//!         input_grad: bool,
//!     ) -> Option<&'w Tensor<(N, D), E>> {
//!         for row in dy.as_slice().chunks_exact(self.bias.as_slice().len()) {
//!             for (g, &d) in grads.bias.as_mut_slice().iter_mut().zip(row) {
//!                 *g += d; // db = Σₙ dy, added into the gradients
//!             }
//!         }
//!         if !input_grad {
//!             return None;
//!         }
//!         work.dx.reset(x.shape()).as_mut_slice().copy_from_slice(dy.as_slice()); // dx = dy
//!         Some(&work.dx)
//!     }
//!     fn output(work: &Self::Work) -> &Self::Out {
//!         &work.out
//!     }
//! }
//!
//! let mut layer = Shift::<U3> { bias: Tensor::from_vec(vec![1.0, 2.0, 3.0])? };
//! let x = Tensor::<(U2, U3)>::zeros();
//! let mut grads = layer.zero_grads();
//! let mut work = Default::default();
//! layer.forward_train(&x, &mut work, &mut Context::new(0));
//! layer.backward_train(&x, &Tensor::<(U2, U3)>::full(1.0), &mut work, &mut grads, false);
//! assert_eq!(grads.bias.as_slice(), &[2.0; 3]); // Σ over the batch of 2
//! assert_eq!(layer.infer(&x).row(1), &[1.0, 2.0, 3.0]);
//! # Ok::<(), shaped::ShapeError>(())
//! ```
//!
//! `examples/custom_layer.rs` trains a model with both kinds in it (the layer with parameters
//! there has a gradients type of its own, as the crate's `Affine` has `AffineGrads`), saves it
//! and checks its gradients against finite differences. A layer without parameters that is
//! not element-wise takes [`no_params!`](crate::no_params) and its own `Module` impl. A layer
//! of your own needs an `impl Init` (its initial parameters) for `seeded`; `elementwise!`
//! writes it from `Default`.
//!
//! # Read a shape error
//!
//! A mis-wired model does not compile; the first line of the error names the rule and both
//! sizes, in decimal (`_1<_024>` is 1024: groups of three digits), and among the notes under
//! it one names the layer that does not fit by its index in the tuple, counted from 0 as
//! PyTorch's `nn.Sequential` counts (`model.4`, saved as `4.weight`):
//!
//! ```compile_fail
//! use shaped::prelude::*;
//! type Cnn = (Conv<U1, U8, U3, U3, U1, U1>, ReLU, MaxPool2d<U2>, Flatten, Affine<U256, U10>);
//! let model = Cnn::seeded(0);
//! let _ = model.infer(&Tensor::<(U2, U1, U8, U8)>::zeros());
//! // error[E0277]: shape mismatch in Affine input: expected _256 features (DI), found _128
//! //   …
//! //   = note: required for `Affine<…>` to implement `Layer4<f32, Tensor<…>>`
//! ```
//!
//! `Layer4` reads: the layer at index 4 (`model.4`, the `Affine`) does not accept the output
//! of layer 3 (the `Flatten`). In a nested model the tuple that holds the layer follows with
//! its own index: `Layer2`, then `Layer1`, is `model.1.2`. The type names in the notes print
//! typenum's binary numbers; the first line and the index are what to read.
//!
//! A parameter of the wrong shape given to a layer's constructor is named by its rule too, as
//! a weight written (in, out) where PyTorch's layout, and the crate's, is (out, in):
//!
//! ```compile_fail
//! use shaped::prelude::*;
//! let w = Tensor::<(U3, U4)>::zeros();
//! let layer = Affine::<U3, U4>::new(w, Tensor::zeros());
//! // error[E0277]: shape mismatch in Affine weight: expected (_4, _3) (DO, DI), found (_3, _4): the weight is (out, in), as PyTorch's Linear.weight
//! ```
//!
//! The rules and their messages are listed in [`crate::rules`]; each has a compile-fail test
//! in `ui-tests/` with the full error a user sees.
