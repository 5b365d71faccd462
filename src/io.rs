//! Saving and loading parameters as safetensors, with PyTorch's names and layouts.
//!
//! A model's tensors are named as in the same PyTorch `nn.Sequential`: `"0.weight"`,
//! `"0.bias"`, `"4.weight"`, …; `Affine` weights are `(out, in)` like `nn.Linear`, `Conv`
//! weights `(out, in, kh, kw)` like `nn.Conv2d`. So a file saved here loads with
//! `model.load_state_dict(safetensors.torch.load_file(path))`, and the other way round.

use core::fmt;
use std::io::Write;
use std::path::Path;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::module::Params;
use crate::tensor::{fmt_dims, Element};

/// Why parameters could not be loaded (or saved). Each names the file or the tensor.
#[derive(Debug)]
pub enum LoadError {
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a safetensors file.
    Corrupt(String),
    /// The file has no tensor of this name.
    Missing {
        /// The tensor's name, e.g. `"4.weight"`.
        name: String,
    },
    /// The tensor has another shape than the model's parameter.
    Shape {
        /// The tensor's name.
        name: String,
        /// The model's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// The tensor has another element type than the model.
    Dtype {
        /// The tensor's name.
        name: String,
        /// The model's type, e.g. `"F32"`.
        expected: String,
        /// The file's type.
        found: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{path}: {source}"),
            Self::Corrupt(why) => write!(f, "not a valid safetensors file: {why}"),
            Self::Missing { name } => write!(f, "tensor {name:?} is missing from the file"),
            Self::Shape {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor {name:?} has shape {}, expected {}",
                fmt_dims(found),
                fmt_dims(expected)
            ),
            Self::Dtype {
                name,
                expected,
                found,
            } => write!(f, "tensor {name:?} has dtype {found}, expected {expected}"),
        }
    }
}
impl std::error::Error for LoadError {}

fn dtype_of<E: Element>() -> Dtype {
    if E::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// The model's parameters as safetensors bytes.
pub fn to_bytes<E: Element, M: Params<E>>(model: &M) -> Vec<u8> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    model.visit("", &mut |name, dims, values| {
        let bytes = values
            .iter()
            .flat_map(|v| {
                let v = v.to_f64().expect("a float");
                if E::NAME == "f32" {
                    (v as f32).to_le_bytes().to_vec()
                } else {
                    v.to_le_bytes().to_vec()
                }
            })
            .collect();
        tensors.push((name.to_string(), dims.to_vec(), bytes));
    });
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dims, bytes)| {
            let view = TensorView::new(dtype_of::<E>(), dims.clone(), bytes)
                .expect("the byte count matches the dims");
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialising in-memory tensors")
}

/// Loads every parameter of `model` from safetensors bytes. Tensors the model does not have
/// are ignored; a missing tensor, another shape or another dtype is an error naming the tensor,
/// and `model` is left unchanged.
pub fn from_bytes<E: Element, M: Params<E> + Clone>(
    model: &mut M,
    bytes: &[u8],
) -> Result<(), LoadError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| LoadError::Corrupt(e.to_string()))?;
    let mut loaded = model.clone();
    loaded.visit_mut("", &mut |name, dims, values| {
        let t = file.tensor(name).map_err(|_| LoadError::Missing {
            name: name.to_string(),
        })?;
        if t.dtype() != dtype_of::<E>() {
            return Err(LoadError::Dtype {
                name: name.to_string(),
                expected: format!("{:?}", dtype_of::<E>()),
                found: format!("{:?}", t.dtype()),
            });
        }
        if t.shape() != dims {
            return Err(LoadError::Shape {
                name: name.to_string(),
                expected: dims.to_vec(),
                found: t.shape().to_vec(),
            });
        }
        let width = core::mem::size_of::<E>();
        for (v, chunk) in values.iter_mut().zip(t.data().chunks_exact(width)) {
            let x = if width == 4 {
                f64::from(f32::from_le_bytes(chunk.try_into().expect("4 bytes")))
            } else {
                f64::from_le_bytes(chunk.try_into().expect("8 bytes"))
            };
            *v = E::from_f64(x).expect("a float");
        }
        Ok(())
    })?;
    *model = loaded;
    Ok(())
}

/// Saves the model's parameters to a safetensors file, atomically: the bytes go to a temporary
/// file in the same directory, which is flushed to disk and then renamed over `path`. A reader
/// of `path` sees the old file or the new one, whole; if anything fails, the old file is
/// untouched and the temporary file is removed. Through a symbolic link, the file it points to
/// is replaced and the link kept. On Unix the new file gets the old one's permissions, or those
/// a newly created file gets (`0o666` less the umask).
pub fn save<E: Element, M: Params<E>>(model: &M, path: impl AsRef<Path>) -> Result<(), LoadError> {
    let path = path.as_ref();
    write_atomically(path, &to_bytes(model)).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Writing in place would follow a link; renaming over it would replace the link itself.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = target.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // `.model.safetensors.XXXXXX.tmp`: hidden, and recognisable should a crash leave it behind.
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).map_or(0o666, |m| m.permissions().mode() & 0o777);
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    // On every early return below, dropping `file` (or the error holding it) deletes it.
    let mut file = builder.tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(&target).map_err(|e| e.error)?;
    // The rename itself reaches the disk when the directory is flushed. Some filesystems
    // refuse to flush a directory; the file is in place by now, so that is not an error.
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Loads the model's parameters from a safetensors file (see [`from_bytes`]).
pub fn load<E: Element, M: Params<E> + Clone>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<(), LoadError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_bytes(model, &bytes)
}
