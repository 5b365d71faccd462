//! Saving and loading parameters as safetensors, with PyTorch's names and layouts.
//!
//! A model's tensors are named as in the same PyTorch `nn.Sequential`: `"0.weight"`,
//! `"0.bias"`, `"4.weight"`, …; `Affine` weights are `(out, in)` like `nn.Linear`, `Conv`
//! weights `(out, in, kh, kw)` like `nn.Conv2d`. So a file saved here loads with
//! `model.load_state_dict(safetensors.torch.load_file(path))`, and the other way round.
//!
//! Buffers ([`Tensors::visit_buffers`]) are saved and loaded beside the parameters, as in a
//! `state_dict`: a `BatchNorm2d`'s `"1.running_mean"` and `"1.running_var"` in the model's
//! element type, and `"1.num_batches_tracked"` as an `I64` scalar (shape `[]`).

use core::fmt;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;

use safetensors::{tensor::TensorView, Dtype, SafeTensorError, SafeTensors};

use crate::module::{Buffer, BufferMut, Tensors};
use crate::optim::OptimizerState;
use crate::tensor::{fmt_dims, Element};

/// Why parameters could not be loaded (or saved). Each names the file or the tensor.
///
/// ```
/// use shaped::io::{self, LoadError};
/// use shaped::{typenum::*, Affine, Seeded};
/// let bytes = io::to_bytes(&Affine::<U2, U1>::seeded(0))?;
/// let mut wider = Affine::<U3, U1>::seeded(0);
/// match io::from_bytes(&mut wider, &bytes) {
///     Err(LoadError::Shape { name, expected, found }) => {
///         assert_eq!((name.as_str(), expected, found), ("weight", vec![1, 3], vec![1, 2]));
///     }
///     other => panic!("expected a shape error, got {other:?}"),
/// }
/// let err = io::from_bytes(&mut wider, b"not safetensors").unwrap_err();
/// assert!(matches!(err, LoadError::Corrupt(_)));
/// # Ok::<(), LoadError>(())
/// ```
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
    /// The path names something other than a regular file; it was not read.
    NotAFile {
        /// The path.
        path: String,
        /// What it is instead, e.g. `"a directory"`, `"a FIFO"`, `"a character device"`.
        kind: String,
    },
    /// The file is larger than any file of the model's parameters can be (see [`load`]); it
    /// was not read.
    TooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The largest size accepted for this model: its parameter bytes plus 8 + 100 MB.
        limit: u64,
    },
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
    /// The model's own [`Tensors`] implementation reports a parameter that cannot be saved or
    /// loaded: a name reported twice, the reserved name `"__metadata__"`, or dims that do not
    /// hold its values.
    Params {
        /// The parameter's name as reported.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The safetensors crate refused to encode the parameters.
    Encode(String),
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
            Self::Params { name, problem } => {
                write!(f, "the model's parameter {name:?} is invalid: {problem}")
            }
            Self::Encode(why) => write!(f, "cannot encode the parameters as safetensors: {why}"),
            Self::NotAFile { path, kind } => write!(f, "{path}: {kind}, not a regular file"),
            Self::TooLarge { path, size, limit } => write!(
                f,
                "{path}: {size} bytes, more than the {limit} a file of this model's parameters \
                 can take (theirs, and 100 MB for the header and tensors the model lacks)"
            ),
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

/// Checks one parameter as a [`Tensors`] implementation reports it: its name is new and not the
/// format's reserved key, and its dims hold exactly its values. `Params` is a public trait, so
/// a hand-written implementation can report anything; the layers of this crate never fail it.
fn check_param<E: Element>(
    seen: &mut HashSet<String>,
    name: &str,
    dims: &[usize],
    len: usize,
) -> Result<(), LoadError> {
    check_tensor(seen, name, dims, len, core::mem::size_of::<E>())
}

/// [`check_param`] for a tensor of elements `width` bytes wide (a buffer of `i64`s, say).
fn check_tensor(
    seen: &mut HashSet<String>,
    name: &str,
    dims: &[usize],
    len: usize,
    width: usize,
) -> Result<(), LoadError> {
    let problem = |problem: String| LoadError::Params {
        name: name.to_string(),
        problem,
    };
    if name == "__metadata__" {
        return Err(problem(
            "the name is reserved by the safetensors format".into(),
        ));
    }
    if !seen.insert(name.to_string()) {
        return Err(problem("the name is reported twice".into()));
    }
    // The element count, and the same in bits: the safetensors crate computes the latter without
    // overflow checks, so both must fit in a usize before it sees these dims.
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_mul(8 * width).is_some());
    match count {
        None => Err(problem(format!(
            "dims {} hold more elements than a file can address",
            fmt_dims(dims)
        ))),
        Some(count) if count != len => Err(problem(format!(
            "dims {} hold {count} element{}, but it has {len} value{}",
            fmt_dims(dims),
            if count == 1 { "" } else { "s" },
            if len == 1 { "" } else { "s" },
        ))),
        Some(_) => Ok(()),
    }
}

/// The values as little-endian bytes of the model's own type.
fn encode<E: Element>(name: &str, values: &[E]) -> Result<Vec<u8>, LoadError> {
    let mut bytes = Vec::with_capacity(core::mem::size_of_val(values));
    for v in values {
        // `Element` is sealed to f32 and f64, so each branch converts a type to itself, which
        // num-traits always does (`Some`, bits kept, NaN payloads too); the `None` arms are
        // unreachable but cost nothing to keep as errors.
        let ok = if core::mem::size_of::<E>() == 4 {
            v.to_f32().map(|x| bytes.extend(x.to_le_bytes()))
        } else {
            v.to_f64().map(|x| bytes.extend(x.to_le_bytes()))
        };
        ok.ok_or_else(|| LoadError::Params {
            name: name.to_string(),
            problem: format!("a value ({v}) does not convert to {:?}", dtype_of::<E>()),
        })?;
    }
    Ok(bytes)
}

/// One little-endian element of the model's type, read from exactly its width of bytes.
fn decode<E: Element>(chunk: &[u8]) -> Option<E> {
    if let Ok(b) = <[u8; 4]>::try_from(chunk) {
        E::from_f32(f32::from_le_bytes(b))
    } else {
        E::from_f64(f64::from_le_bytes(chunk.try_into().ok()?))
    }
}

/// The model's parameters and buffers as safetensors bytes.
///
/// ```
/// use shaped::{io, typenum::*, Affine, Seeded};
/// let layer = Affine::<U2, U1>::seeded(0);
/// let bytes: Vec<u8> = io::to_bytes(&layer)?;
/// // A safetensors file: an 8-byte header length, a JSON header, then the data.
/// let header_len = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
/// let header = std::str::from_utf8(&bytes[8..8 + header_len])?;
/// assert!(header.contains(r#""weight":{"dtype":"F32","shape":[1,2]"#));
/// let mut copy = Affine::<U2, U1>::seeded(1);
/// io::from_bytes(&mut copy, &bytes)?;
/// assert_eq!(copy, layer);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`LoadError::Params`] if the model's [`Tensors`] implementation reports a name twice, the
/// reserved name `"__metadata__"`, or dims that do not hold its values; [`LoadError::Encode`] if
/// the safetensors crate refuses the result (a header over its 100 MB cap).
pub fn to_bytes<E: Element, M: Tensors<E>>(model: &M) -> Result<Vec<u8>, LoadError> {
    to_bytes_with(model, None)
}

/// [`to_bytes`] with the file's metadata.
fn to_bytes_with<E: Element, M: Tensors<E>>(
    model: &M,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, LoadError> {
    let mut seen = HashSet::new();
    let mut tensors: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    let mut failed = None;
    model.visit("", &mut |name, dims, values| {
        if failed.is_some() {
            return;
        }
        let bytes = check_param::<E>(&mut seen, name, dims, values.len())
            .and_then(|()| encode(name, values));
        match bytes {
            Ok(bytes) => tensors.push((name.to_string(), dims.to_vec(), dtype_of::<E>(), bytes)),
            Err(e) => failed = Some(e),
        }
    });
    model.visit_buffers("", &mut |name, dims, values| {
        if failed.is_some() {
            return;
        }
        let encoded = match values {
            Buffer::Float(values) => check_param::<E>(&mut seen, name, dims, values.len())
                .and_then(|()| encode(name, values))
                .map(|bytes| (dtype_of::<E>(), bytes)),
            Buffer::Int64(values) => {
                check_tensor(&mut seen, name, dims, values.len(), 8).map(|()| {
                    (
                        Dtype::I64,
                        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    )
                })
            }
        };
        match encoded {
            Ok((dtype, bytes)) => tensors.push((name.to_string(), dims.to_vec(), dtype, bytes)),
            Err(e) => failed = Some(e),
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let encode_error = |e: safetensors::SafeTensorError| LoadError::Encode(e.to_string());
    let views = tensors
        .iter()
        .map(|(name, dims, dtype, bytes)| {
            TensorView::new(*dtype, dims.clone(), bytes).map(|view| (name, view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(encode_error)?;
    safetensors::serialize(views, metadata).map_err(encode_error)
}

/// Loads every parameter of `model` from safetensors bytes, and every buffer
/// ([`Tensors::visit_buffers`]: running statistics, `num_batches_tracked` as `I64`). Tensors the
/// model does not have are ignored (see [`load`] for why); a missing tensor, another shape or
/// another dtype is an error naming the tensor, and `model` is left unchanged. So is a
/// parameter that the model's own [`Tensors`] implementation reports wrongly, as [`to_bytes`]
/// refuses it ([`LoadError::Params`]).
///
/// ```
/// use shaped::{io, typenum::*, Affine, BatchNorm1d, Seeded};
/// type Model = (Affine<U2, U3>, BatchNorm1d<U3>);
/// let mut trained = Model::seeded(0);
/// trained.1.running_mean.as_mut_slice().fill(0.5); // a buffer, saved with the parameters
/// let bytes = io::to_bytes(&trained)?;
/// let mut model = Model::seeded(1);
/// io::from_bytes(&mut model, &bytes)?;
/// assert_eq!(model, trained);
/// // A file of another model is an error naming the tensor, and the model is left as it was.
/// let other = io::to_bytes(&Affine::<U2, U2>::seeded(0))?;
/// let err = io::from_bytes(&mut model, &other).unwrap_err();
/// assert_eq!(err.to_string(), r#"tensor "0.weight" is missing from the file"#);
/// assert_eq!(model, trained);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_bytes<E: Element, M: Tensors<E> + Clone>(
    model: &mut M,
    bytes: &[u8],
) -> Result<(), LoadError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| LoadError::Corrupt(e.to_string()))?;
    let mut loaded = model.clone();
    let mut seen = HashSet::new();
    loaded.visit_mut("", &mut |name, dims, values| {
        check_param::<E>(&mut seen, name, dims, values.len())?;
        let data = file_tensor(&file, name, dims, dtype_of::<E>())?;
        decode_into(name, data, values)
    })?;
    loaded.visit_buffers_mut("", &mut |name, dims, values| match values {
        BufferMut::Float(values) => {
            check_param::<E>(&mut seen, name, dims, values.len())?;
            let data = file_tensor(&file, name, dims, dtype_of::<E>())?;
            decode_into(name, data, values)
        }
        BufferMut::Int64(values) => {
            check_tensor(&mut seen, name, dims, values.len(), 8)?;
            let data = file_tensor(&file, name, dims, Dtype::I64)?;
            // As in `decode_into`: the data holds exactly `values.len()` i64s.
            for (v, chunk) in values.iter_mut().zip(data.chunks_exact(8)) {
                let bytes = <[u8; 8]>::try_from(chunk).map_err(|_| {
                    LoadError::Corrupt(format!("tensor {name:?} has an element of the wrong width"))
                })?;
                *v = i64::from_le_bytes(bytes);
            }
            Ok(())
        }
    })?;
    *model = loaded;
    Ok(())
}

/// The data of the file's tensor `name`, once its dtype and shape are found to be the model's.
fn file_tensor<'f>(
    file: &'f SafeTensors<'_>,
    name: &str,
    dims: &[usize],
    dtype: Dtype,
) -> Result<&'f [u8], LoadError> {
    let t = file.tensor(name).map_err(|_| LoadError::Missing {
        name: name.to_string(),
    })?;
    if t.dtype() != dtype {
        return Err(LoadError::Dtype {
            name: name.to_string(),
            expected: format!("{dtype:?}"),
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
    Ok(t.data())
}

/// Decodes a tensor's data into the model's values.
fn decode_into<E: Element>(name: &str, data: &[u8], values: &mut [E]) -> Result<(), LoadError> {
    // The safetensors crate checked that the data holds the shape's elements, and the shape is
    // the dims, which hold `values.len()` elements: the chunks match the values one to one, and
    // `decode` never meets a short chunk.
    let chunks = data.chunks_exact(core::mem::size_of::<E>());
    for (v, chunk) in values.iter_mut().zip(chunks) {
        *v = decode(chunk).ok_or_else(|| {
            LoadError::Corrupt(format!("tensor {name:?} has an element of the wrong width"))
        })?;
    }
    Ok(())
}

/// Saves the model's parameters and buffers to a safetensors file, atomically: the bytes go to
/// a temporary file in the same directory, which is flushed to disk and then renamed over
/// `path`. A reader of `path` sees the old file or the new one, whole; if anything fails, the
/// old file is untouched and the temporary file is removed. Through a symbolic link, the file
/// it points to is replaced and the link kept. On Unix the new file gets the old one's
/// permissions, or those a newly created file gets (`0o666` less the umask).
///
/// ```
/// use shaped::{io, typenum::*, Affine, ReLU, Seeded};
/// let model = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::seeded(0);
/// let path = std::env::temp_dir().join("shaped-doc-save.safetensors");
/// io::save(&model, &path)?; // PyTorch loads it: "0.weight", "0.bias", "2.weight", "2.bias"
/// let mut loaded = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::seeded(1);
/// io::load(&mut loaded, &path)?;
/// assert_eq!(loaded, model);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Those of [`to_bytes`], before any file is touched; [`LoadError::Io`], naming `path`, if
/// writing, flushing or renaming fails.
pub fn save<E: Element, M: Tensors<E>>(model: &M, path: impl AsRef<Path>) -> Result<(), LoadError> {
    let path = path.as_ref();
    write_atomically(path, &to_bytes(model)?).map_err(|source| LoadError::Io {
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

/// The largest header a file may have: the safetensors format's own cap, which its parser
/// enforces too.
const MAX_HEADER: u64 = 100_000_000;

/// Loads the model's parameters from a safetensors file (see [`from_bytes`]).
///
/// The file is checked before it is read, so that memory stays bounded by the model's own size
/// plus the header cap, whatever the path names:
///
/// - it must be a regular file: a directory, a FIFO or a device is refused without being read
///   (nor opened, unless it appears between the look and the opening);
/// - it must be at most the model's parameter bytes plus 8 + 100 MB (the format's header cap);
/// - its 8-byte header length must be at most 100 MB and within the file.
///
/// Tensors the model does not have are ignored, as [`from_bytes`] ignores them: a PyTorch
/// `state_dict` may carry more than the model (a head the model here lacks), and
/// loading it must not depend on their absence. They share the 100 MB allowance with the
/// header, so a file far larger than the model is refused unread, while a file a few extra
/// tensors larger loads.
///
/// ```
/// use shaped::io::{self, LoadError};
/// use shaped::{typenum::*, Affine, Seeded};
/// let path = std::env::temp_dir().join("shaped-doc-load.safetensors");
/// io::save(&Affine::<U3, U2>::seeded(0), &path)?;
/// let mut model = Affine::<U3, U2>::seeded(1);
/// io::load(&mut model, &path)?;
/// assert_eq!(model, Affine::<U3, U2>::seeded(0));
/// // A directory is refused without being read.
/// let err = io::load(&mut model, std::env::temp_dir()).unwrap_err();
/// assert!(matches!(err, LoadError::NotAFile { ref kind, .. } if kind == "a directory"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`LoadError::NotAFile`] or [`LoadError::TooLarge`], naming the path; [`LoadError::Corrupt`]
/// for a header length out of bounds; [`LoadError::Io`] if the file cannot be opened or read;
/// [`LoadError::Params`] if the model's own [`Tensors`] implementation is invalid; then those of
/// [`from_bytes`].
pub fn load<E: Element, M: Tensors<E> + Clone>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<(), LoadError> {
    let path = path.as_ref();
    let bytes = read_bounded(path, data_size(model)?)?;
    from_bytes(model, &bytes)
}

/// The bytes the model's parameters and buffers take in a file, checked as [`to_bytes`] checks
/// them.
fn data_size<E: Element, M: Tensors<E>>(model: &M) -> Result<u64, LoadError> {
    let mut seen = HashSet::new();
    let mut size = 0u64;
    let mut failed = None;
    let mut add = |checked: Result<(), LoadError>, bytes: usize| {
        if failed.is_none() {
            match checked {
                Ok(()) => size = size.saturating_add(bytes as u64),
                Err(e) => failed = Some(e),
            }
        }
    };
    model.visit("", &mut |name, dims, values| {
        add(
            check_param::<E>(&mut seen, name, dims, values.len()),
            core::mem::size_of_val(values),
        );
    });
    model.visit_buffers("", &mut |name, dims, values| match values {
        Buffer::Float(values) => add(
            check_param::<E>(&mut seen, name, dims, values.len()),
            core::mem::size_of_val(values),
        ),
        Buffer::Int64(values) => add(
            check_tensor(&mut seen, name, dims, values.len(), 8),
            core::mem::size_of_val(values),
        ),
    });
    failed.map_or(Ok(size), Err)
}

/// Refuses anything but a regular file, saying what it is.
fn regular_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), LoadError> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let kind = if kind.is_dir() {
        "a directory"
    } else {
        unix_kind(&kind)
    };
    Err(LoadError::NotAFile {
        path: path.display().to_string(),
        kind: kind.to_string(),
    })
}

#[cfg(unix)]
fn unix_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "another kind of file"
    }
}

#[cfg(not(unix))]
fn unix_kind(_: &std::fs::FileType) -> &'static str {
    "another kind of file"
}

/// The whole file, once it has passed the checks [`load`] lists; `data` is the model's
/// parameter bytes.
fn read_bounded(path: &Path, data: u64) -> Result<Vec<u8>, LoadError> {
    let shown = || path.display().to_string();
    let io_error = |source| LoadError::Io {
        path: shown(),
        source,
    };
    let corrupt = |why: String| LoadError::Corrupt(format!("{}: {why}", shown()));

    // Look before opening: opening a FIFO waits for a writer, opening a device can act on it.
    regular_file(path, &std::fs::metadata(path).map_err(io_error)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Should the path have become a FIFO since the look, the opening still returns at once, and
    // the check of what was opened refuses it. Reads of a regular file ignore the flag.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    regular_file(path, &meta)?;

    let size = meta.len();
    let limit = data.saturating_add(8 + MAX_HEADER);
    if size > limit {
        return Err(LoadError::TooLarge {
            path: shown(),
            size,
            limit,
        });
    }
    // `take`: a file that grows while it is read is still read only up to the size checked.
    let mut file = file.take(size);
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            corrupt(format!("{size} bytes, too short for the header length"))
        } else {
            io_error(e)
        }
    })?;
    let header = u64::from_le_bytes(prefix);
    if header > MAX_HEADER {
        return Err(corrupt(format!(
            "a header of {header} bytes, over the format's cap of {MAX_HEADER}"
        )));
    }
    if header > size.saturating_sub(8) {
        return Err(corrupt(format!(
            "a header of {header} bytes in a file of {size} bytes"
        )));
    }
    let mut bytes = Vec::new();
    usize::try_from(size)
        .ok()
        .and_then(|size| bytes.try_reserve_exact(size).ok())
        .ok_or_else(|| io_error(std::io::ErrorKind::OutOfMemory.into()))?;
    bytes.extend_from_slice(&prefix);
    // The header first: a file whose header does not parse is refused before its data is read
    // (a corrupt file of 100 MB costs microseconds, not the read). The error is the one the
    // whole file gives, since the header is parsed before the data is looked at; a header that
    // parses reports the data it lacks, which is read next.
    let header_len =
        usize::try_from(header).map_err(|_| corrupt(format!("a header of {header} bytes")))?;
    bytes.resize(8 + header_len, 0);
    // A file that shrank since its size was read is as short as a corrupt one.
    file.read_exact(&mut bytes[8..]).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            corrupt(format!("shorter than its header of {header} bytes"))
        } else {
            io_error(e)
        }
    })?;
    match SafeTensors::read_metadata(&bytes) {
        Ok(_) | Err(SafeTensorError::MetadataIncompleteBuffer) => {}
        Err(e) => return Err(corrupt(e.to_string())),
    }
    file.read_to_end(&mut bytes).map_err(io_error)?;
    Ok(bytes)
}

/// The metadata key under which an optimizer's step count is saved.
const STEP_KEY: &str = "step";

/// Saves an optimizer's state (for [`Adam`](crate::Adam) its moments, as `exp_avg.0.weight`,
/// `exp_avg_sq.0.weight`, …; for [`Sgd`](crate::Sgd) with momentum its velocity,
/// `momentum_buffer.0.weight`, …) and its step count (the file's metadata), atomically as
/// [`save`] does, so that training resumes exactly where it stopped.
///
/// ```
/// use shaped::rand::{rngs::StdRng, SeedableRng};
/// use shaped::{io, typenum::*, Adam, Affine, Init, Tensor};
/// let mut model = Affine::<U2, U1>::init(&mut StdRng::seed_from_u64(0));
/// let mut opt = Adam::new(1e-2)?;
/// let (_, grads) = model.backward(&Tensor::<(U1, U2)>::full(1.0), &Tensor::<(U1, U1)>::full(1.0));
/// opt.step(&mut model, &grads);
/// let path = std::env::temp_dir().join("shaped-doc-adam.safetensors");
/// io::save_optimizer(&opt, &path)?;
/// let mut resumed = Adam::new(1e-2)?;
/// io::load_optimizer(&mut resumed, &model, &path)?;
/// assert_eq!((resumed.steps(), resumed.moments()), (1, opt.moments()));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`save`].
pub fn save_optimizer<E: Element, O: OptimizerState<E>>(
    optimizer: &O,
    path: impl AsRef<Path>,
) -> Result<(), LoadError> {
    let path = path.as_ref();
    let metadata = HashMap::from([(STEP_KEY.to_string(), optimizer.steps().to_string())]);
    let bytes = to_bytes_with(optimizer, Some(metadata))?;
    write_atomically(path, &bytes).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Loads an optimizer's state saved by [`save_optimizer`], for `model` (which sizes it). On
/// any error the optimizer is left unchanged.
///
/// ```
/// use shaped::{io, typenum::*, Affine, Seeded, Sgd, Tensor, Tensors};
/// let mut model = Affine::<U2, U1>::seeded(0);
/// let mut opt = Sgd::new(0.1)?.with_momentum(0.9)?;
/// let (x, dy) = (Tensor::<(U1, U2)>::full(1.0), Tensor::<(U1, U1)>::full(1.0));
/// let (_, grads) = model.backward(&x, &dy);
/// opt.step(&mut model, &grads);
/// let path = std::env::temp_dir().join("shaped-doc-sgd.safetensors");
/// io::save_optimizer(&opt, &path)?; // "momentum_buffer.weight", "momentum_buffer.bias"
/// let mut resumed = Sgd::new(0.1)?.with_momentum(0.9)?;
/// assert!(resumed.velocity().is_none());
/// io::load_optimizer(&mut resumed, &model, &path)?; // `model` sizes the state
/// assert_eq!(resumed.velocity(), opt.velocity());
/// assert_eq!(resumed.count(), 2);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Those of [`load`]; [`LoadError::Corrupt`] if the file has no step count.
pub fn load_optimizer<E: Element, O: OptimizerState<E>>(
    optimizer: &mut O,
    model: &O::Model,
    path: impl AsRef<Path>,
) -> Result<(), LoadError> {
    let path = path.as_ref();
    let mut loaded = optimizer.clone();
    loaded.prepare(model);
    let bytes = read_bounded(path, data_size(&loaded)?)?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| LoadError::Corrupt(e.to_string()))?;
    let step = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(STEP_KEY))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| {
            LoadError::Corrupt(format!(
                "{}: no optimizer step count (metadata key {STEP_KEY:?})",
                path.display()
            ))
        })?;
    if step == 0 && header.tensors().is_empty() {
        // Saved before its first step: no state yet, and none after loading.
        loaded.clear();
    } else {
        from_bytes(&mut loaded, &bytes)?;
    }
    loaded.set_steps(step);
    *optimizer = loaded;
    Ok(())
}
