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
//! A layer is a value with [`Tensors`](crate::Tensors) (its parameters, none here),
//! [`Params`](crate::Params) (its gradient type) and [`Module`](crate::Module) (its passes).
//! Its step buffers are a [`LayerWork`](crate::LayerWork): the output, the input gradient, and
//! what the backward pass keeps. Here `y = 2x`, on any shape:
//!
//! ```
//! use shaped::prelude::*;
//! use shaped::{Element, LayerWork, Shape};
//!
//! #[derive(Clone, Copy, Debug, Default, PartialEq)]
//! struct Double;
//!
//! impl<E: Element> Tensors<E> for Double {
//!     fn count(&self) -> usize { 0 }
//!     fn tensor(&self, i: usize) -> &[E] { panic!("no tensor {i}") }
//!     fn tensor_mut(&mut self, i: usize) -> &mut [E] { panic!("no tensor {i}") }
//!     fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &[usize], &[E])) {}
//!     fn visit_mut<Err>(
//!         &mut self,
//!         _: &str,
//!         _: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
//!     ) -> Result<(), Err> {
//!         Ok(())
//!     }
//! }
//! impl<E: Element> Params<E> for Double {
//!     type Grads = ();
//!     fn zero_grads(&self) {}
//! }
//! impl<S: Shape, E: Element> Module<E, Tensor<S, E>> for Double {
//!     type Out = Tensor<S, E>;
//!     type Work = LayerWork<S, S, E>;
//!     fn infer(&self, x: &Tensor<S, E>) -> Tensor<S, E> {
//!         x.map(|v| v + v)
//!     }
//!     fn forward_train<'w>(
//!         &mut self,
//!         x: &Tensor<S, E>,
//!         work: &'w mut Self::Work,
//!         _: &mut Context,
//!     ) -> &'w Tensor<S, E> {
//!         let y = work.out.reset(x.shape()).as_mut_slice(); // no allocation once sized
//!         for (y, &v) in y.iter_mut().zip(x.as_slice()) {
//!             *y = v + v;
//!         }
//!         &work.out
//!     }
//!     fn backward_train<'w>(
//!         &self,
//!         x: &Tensor<S, E>,
//!         dy: &Tensor<S, E>,
//!         work: &'w mut Self::Work,
//!         _: &mut (),
//!         input_grad: bool,
//!     ) -> Option<&'w Tensor<S, E>> {
//!         if !input_grad {
//!             return None;
//!         }
//!         let dx = work.dx.reset(x.shape()).as_mut_slice(); // dx = 2 dy
//!         for (d, &g) in dx.iter_mut().zip(dy.as_slice()) {
//!             *d = g + g;
//!         }
//!         Some(&work.dx)
//!     }
//!     fn output(work: &Self::Work) -> &Tensor<S, E> {
//!         &work.out
//!     }
//! }
//!
//! // In a model, trained like any other layer.
//! let mut model = (Affine::<U2, U2>::seeded(0), Double);
//! let x = Tensor::<(U1, U2)>::full(1.0);
//! let (mut work, mut grads) = (Default::default(), model.zero_grads());
//! let y = model.forward_train(&x, &mut work, &mut Context::new(0)).clone();
//! assert_eq!(y, model.infer(&x));
//! let dx = model.backward_train(&x, &Tensor::full(1.0), &mut work, &mut grads, true);
//! assert_eq!(dx.map(|d| d.dims()), Some([1, 2]));
//! assert!(grads.0.bias.as_slice().iter().all(|&g| g == 2.0)); // 2 · dy through Double
//! ```
//!
//! A layer with parameters implements `Tensors` over them (see `Affine`'s source for the
//! pattern), gives a gradients type, and adds into it in `backward_train`.
//!
//! # Read a shape error
//!
//! A mis-wired model does not compile; the first line of the error names the rule and both
//! sizes, in decimal (`_1<_024>` is 1024: groups of three digits):
//!
//! ```compile_fail
//! use shaped::prelude::*;
//! type Cnn = (Conv<U1, U8, U3, U3, U1, U1>, ReLU, MaxPool2d<U2>, Flatten, Affine<U256, U10>);
//! let model = Cnn::seeded(0);
//! let _ = model.infer(&Tensor::<(U2, U1, U8, U8)>::zeros());
//! // error[E0277]: shape mismatch in Affine input: expected _256 features (DI), found _128
//! ```
//!
//! The rules and their messages are listed in [`crate::rules`]; each has a compile-fail test
//! in `ui-tests/` with the full error a user sees.
