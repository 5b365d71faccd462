//! Layers: one file each, forward and backward side by side.

pub mod activation;
pub mod affine;
pub mod batchnorm;
pub mod conv;
pub mod dropout;
pub mod flatten;
pub mod pool;
pub mod relu;
pub mod residual;
