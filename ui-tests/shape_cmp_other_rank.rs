// `ShapeCmp` compares shapes of one rank: (4, 3) against (4, 3, 1) is the mistake.
use shaped::rules::ShapeCmp;
use shaped::typenum::*;

fn same<A: ShapeCmp<B>, B>() {}

fn main() {
    same::<(U4, U3), (U4, U3, U1)>();
}
