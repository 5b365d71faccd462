//! `Tensors` (what `io` saves, the supertrait of `Params`) is a public trait: what a
//! hand-written implementation reports is input, and a bad report is an error naming the
//! parameter, on the save path and the load path alike.

use shaped::io::{self, LoadError};
use shaped::Tensors;

/// Parameters exactly as listed, right or wrong.
#[derive(Clone, Debug, PartialEq)]
struct Listed(Vec<(&'static str, Vec<usize>, Vec<f32>)>);

impl Tensors<f32> for Listed {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn tensor(&self, i: usize) -> &[f32] {
        &self.0[i].2
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.0[i].2
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[f32])) {
        for (name, dims, values) in &self.0 {
            f(&format!("{prefix}{name}"), dims, values);
        }
    }
    fn visit_mut<Err>(
        &mut self,
        prefix: &str,
        f: &mut dyn FnMut(&str, &[usize], &mut [f32]) -> Result<(), Err>,
    ) -> Result<(), Err> {
        for (name, dims, values) in &mut self.0 {
            f(&format!("{prefix}{name}"), dims, values)?;
        }
        Ok(())
    }
}

fn good() -> Listed {
    Listed(vec![
        ("weight", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ("bias", vec![2], vec![0.5, -0.5]),
    ])
}

/// `to_bytes` and `save` both refuse the model, with the message given; `save` creates no file.
fn refused(model: &Listed, name: &str, message: &str) {
    let err = io::to_bytes(model).unwrap_err();
    assert!(
        matches!(err, LoadError::Params { name: ref n, .. } if n == name),
        "{err:?}"
    );
    assert_eq!(err.to_string(), message);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let err = io::save(model, &path).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_name_reported_twice_is_refused() {
    let mut model = good();
    model.0.push(("bias", vec![2], vec![1.0, 1.0]));
    refused(
        &model,
        "bias",
        "the model's parameter \"bias\" is invalid: the name is reported twice",
    );
}

#[test]
fn dims_that_do_not_hold_the_values_are_refused() {
    let mut model = good();
    model.0[0].2.pop();
    refused(
        &model,
        "weight",
        "the model's parameter \"weight\" is invalid: dims (2, 3) hold 6 elements, but it has 5 \
         values",
    );
    let mut model = good();
    model.0[1].1 = vec![];
    refused(
        &model,
        "bias",
        "the model's parameter \"bias\" is invalid: dims () hold 1 element, but it has 2 values",
    );
}

#[test]
fn dims_whose_product_overflows_are_refused() {
    let model = Listed(vec![("huge", vec![usize::MAX, 2], vec![])]);
    refused(
        &model,
        "huge",
        &format!(
            "the model's parameter \"huge\" is invalid: dims ({}, 2) hold more elements than a \
             file can address",
            usize::MAX
        ),
    );
    // The product fits a usize but its size in bits does not.
    let model = Listed(vec![("huge", vec![usize::MAX / 8], vec![])]);
    assert!(matches!(
        io::to_bytes(&model),
        Err(LoadError::Params { .. })
    ));
}

#[test]
fn the_format_s_reserved_name_is_refused() {
    let model = Listed(vec![("__metadata__", vec![1], vec![1.0])]);
    refused(
        &model,
        "__metadata__",
        "the model's parameter \"__metadata__\" is invalid: the name is reserved by the \
         safetensors format",
    );
}

#[test]
fn a_bad_report_on_load_is_refused_and_leaves_the_model_unchanged() {
    let bytes = io::to_bytes(&good()).unwrap();
    let mut loaded = good();
    loaded.0.iter_mut().for_each(|t| t.2.fill(0.0));
    io::from_bytes(&mut loaded, &bytes).unwrap();
    assert_eq!(loaded, good(), "a well-reported model round-trips");

    let mut short = good();
    short.0[0].2.truncate(5);
    let before = short.clone();
    let err = io::from_bytes(&mut short, &bytes).unwrap_err();
    assert!(matches!(err, LoadError::Params { ref name, .. } if name == "weight"));
    assert_eq!(short, before);

    let mut twice = good();
    twice.0.push(("weight", vec![2, 3], vec![0.0; 6]));
    let before = twice.clone();
    let err = io::from_bytes(&mut twice, &bytes).unwrap_err();
    assert!(matches!(err, LoadError::Params { ref name, .. } if name == "weight"));
    assert_eq!(twice, before);
}
