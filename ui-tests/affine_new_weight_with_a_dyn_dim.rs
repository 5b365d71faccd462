// Affine<DI = 3, DO = 2> has a weight of static dims (2, 3): a weight whose rows are `Dyn` (its
// size known only at run time) is the mistake.
use shaped::{typenum::*, Affine, Dyn, ShapeError, Tensor};

fn main() -> Result<(), ShapeError> {
    let w = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 6])?;
    let _layer = Affine::<U3, U2>::new(w, Tensor::zeros());
    Ok(())
}
