//! Models as compositions of layers: a tuple of layers is a layer.
//!
//! `(Conv<..>, ReLU, MaxPool2d<U2>, Flatten, Affine<..>, ReLU, Affine<..>)` is a model. Its
//! forward pass checks every junction with the rule of the layer on the receiving side, so a
//! mis-wired model does not compile and the error names the junction and both dims:
//!
//! ```text
//! error[E0277]: shape mismatch in Affine input: expected _256 features (DI), found _1<_024>
//! ```
//!
//! [`Module::forward_train`] returns, beside the output, a typed cache of what the backward
//! pass needs (inputs, pooling indices, the lowered convolution input), so nothing is
//! recomputed; [`Module::backward_train`] consumes it and returns the gradients of every layer in
//! a value whose type mirrors the model (a tuple of the layers' gradients).

use crate::tensor::Element;

/// Something with parameters (possibly none): a layer, or a tuple of layers.
pub trait Params<E: Element> {
    /// The gradients of every parameter, in a value shaped like the parameters. `()` for a layer
    /// without parameters; a tuple of the layers' gradients for a model.
    type Grads;

    /// Calls `f(name, dims, values)` for every parameter tensor, in order, with PyTorch's names
    /// (`"weight"`, `"bias"`; `"3.weight"` for the fourth layer of a model, as in
    /// `nn.Sequential`).
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E]));

    /// Calls `f(name, dims, values)` for every parameter tensor, mutably, in the order of
    /// [`Params::visit`]; stops at the first error.
    fn visit_mut<Err>(
        &mut self,
        prefix: &str,
        f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
    ) -> Result<(), Err>;

    /// Calls `f(parameter, gradient)` for every parameter tensor, in the order of
    /// [`Params::visit`]: what an optimizer steps through.
    fn update(&mut self, grads: &Self::Grads, f: &mut dyn FnMut(&mut [E], &[E]));
}

/// A layer or model from `In` to [`Module::Out`].
pub trait Module<E: Element, In>: Params<E> {
    /// The output tensor type.
    type Out;
    /// What `backward_train` needs from `forward_train`.
    type Cache;

    /// The forward pass alone, for inference.
    fn infer(&self, x: &In) -> Self::Out;

    /// The forward pass, keeping what the backward pass needs.
    fn forward_train(&self, x: In) -> (Self::Out, Self::Cache);

    /// The backward pass: from `dy = ∂L/∂out` to `∂L/∂in` and the parameter gradients.
    fn backward_train(&self, cache: Self::Cache, dy: &Self::Out) -> (In, Self::Grads);
}

/// Layers without parameters.
macro_rules! no_params {
    ($ty:ty $(; $($g:ident),*)?) => {
        impl<E: $crate::tensor::Element $($(, $g)*)?> $crate::module::Params<E> for $ty {
            type Grads = ();
            fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &[usize], &[E])) {}
            fn visit_mut<Err>(
                &mut self,
                _: &str,
                _: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
            ) -> Result<(), Err> {
                Ok(())
            }
            fn update(&mut self, _: &(), _: &mut dyn FnMut(&mut [E], &[E])) {}
        }
    };
}
pub(crate) use no_params;

/// The [`Params`] methods of a layer whose parameters are `self.weight` and `self.bias`
/// (PyTorch's names).
macro_rules! weight_bias_params {
    () => {
        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E])) {
            f(
                &format!("{prefix}weight"),
                self.weight.dims().as_ref(),
                self.weight.as_slice(),
            );
            f(
                &format!("{prefix}bias"),
                self.bias.dims().as_ref(),
                self.bias.as_slice(),
            );
        }

        fn visit_mut<Err>(
            &mut self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
        ) -> Result<(), Err> {
            let dims = self.weight.dims();
            f(
                &format!("{prefix}weight"),
                dims.as_ref(),
                self.weight.as_mut_slice(),
            )?;
            let dims = self.bias.dims();
            f(
                &format!("{prefix}bias"),
                dims.as_ref(),
                self.bias.as_mut_slice(),
            )
        }

        fn update(&mut self, grads: &Self::Grads, f: &mut dyn FnMut(&mut [E], &[E])) {
            f(self.weight.as_mut_slice(), grads.weight.as_slice());
            f(self.bias.as_mut_slice(), grads.bias.as_slice());
        }
    };
}
pub(crate) use weight_bias_params;

macro_rules! tuple_model {
    ($($l:ident $i:tt $c:ident $g:ident $a:ident $b:ident),+ ; $last:ident) => {
        impl<E: Element, $($l: Params<E>),+> Params<E> for ($($l,)+) {
            type Grads = ($($l::Grads,)+);
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[E])) {
                $( self.$i.visit(&format!("{prefix}{}.", $i), f); )+
            }
            fn visit_mut<Err>(
                &mut self,
                prefix: &str,
                f: &mut dyn FnMut(&str, &[usize], &mut [E]) -> Result<(), Err>,
            ) -> Result<(), Err> {
                $( self.$i.visit_mut(&format!("{prefix}{}.", $i), f)?; )+
                Ok(())
            }
            fn update(&mut self, grads: &Self::Grads, f: &mut dyn FnMut(&mut [E], &[E])) {
                $( self.$i.update(&grads.$i, f); )+
            }
        }

        // Each junction's intermediate type is named (`M1`, `M2`, …) through the previous
        // layer's `Out`, so the next layer's own input rule checks it.
        impl<E: Element, $($l,)+ In, $($b),+> Module<E, In> for ($($l,)+)
        where
            $($l: Module<E, $a, Out = $b>,)+
        {
            type Out = $last;
            type Cache = ($($l::Cache,)+);

            fn infer(&self, x: &In) -> $last {
                tuple_model!(@infer self, x ; $($i),+)
            }

            fn forward_train(&self, x: In) -> ($last, Self::Cache) {
                let a = x;
                $( let (a, $c) = self.$i.forward_train(a); )+
                (a, ($($c,)+))
            }

            fn backward_train(&self, cache: Self::Cache, dy: &$last) -> (In, Self::Grads) {
                let ($($c,)+) = cache;
                let dref = dy;
                tuple_model!(@rev self, dref, d, [$($i $c $g)+] -> []);
                (d, ($($g,)+))
            }
        }
    };
    (@infer $s:ident, $x:ident ; $i0:tt $(, $i:tt)*) => {{
        let a = $s.$i0.infer($x);
        $( let a = $s.$i.infer(&a); )*
        a
    }};
    // The backward statements, last layer first.
    (@rev $s:ident, $dref:ident, $d:ident, [$i0:tt $c0:ident $g0:ident $($rest:tt)*] -> [$($done:tt)*]) => {
        tuple_model!(@rev $s, $dref, $d, [$($rest)*] -> [$i0 $c0 $g0 $($done)*])
    };
    (@rev $s:ident, $dref:ident, $d:ident, [] -> [$($i:tt $c:ident $g:ident)*]) => {
        $(
            let ($d, $g) = $s.$i.backward_train($c, $dref);
            #[allow(unused_variables)]
            let $dref = &$d;
        )*
    };
}

tuple_model!(L0 0 c0 g0 In Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 M2, L2 2 c2 g2 M2 Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 M2, L2 2 c2 g2 M2 M3, L3 3 c3 g3 M3 Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 M2, L2 2 c2 g2 M2 M3, L3 3 c3 g3 M3 M4, L4 4 c4 g4 M4 Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 M2, L2 2 c2 g2 M2 M3, L3 3 c3 g3 M3 M4, L4 4 c4 g4 M4 M5, L5 5 c5 g5 M5 Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 M2, L2 2 c2 g2 M2 M3, L3 3 c3 g3 M3 M4, L4 4 c4 g4 M4 M5, L5 5 c5 g5 M5 M6, L6 6 c6 g6 M6 Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 M2, L2 2 c2 g2 M2 M3, L3 3 c3 g3 M3 M4, L4 4 c4 g4 M4 M5, L5 5 c5 g5 M5 M6, L6 6 c6 g6 M6 M7, L7 7 c7 g7 M7 Last ; Last);
tuple_model!(L0 0 c0 g0 In M1, L1 1 c1 g1 M1 M2, L2 2 c2 g2 M2 M3, L3 3 c3 g3 M3 M4, L4 4 c4 g4 M4 M5, L5 5 c5 g5 M5 M6, L6 6 c6 g6 M6 M7, L7 7 c7 g7 M7 M8, L8 8 c8 g8 M8 Last ; Last);
