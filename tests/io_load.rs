//! `io::load` looks at a file before reading it: what is not a regular file, or is larger than
//! the model's parameters plus the 100 MB header allowance, is refused unread.

use rand::{rngs::StdRng, SeedableRng};
use shaped::io::{self, LoadError};
use shaped::{typenum::*, Affine, Init, ReLU};
use std::path::Path;
use std::time::{Duration, Instant};

/// 23 f32 parameters: 92 bytes.
type M = (Affine<U4, U3>, ReLU, Affine<U3, U2>);
const DATA: u64 = 92;
const MAX_HEADER: u64 = 100_000_000;

fn model() -> M {
    M::init(&mut StdRng::seed_from_u64(0))
}

/// Loads in another thread, so that a load that blocks fails the test instead of hanging it.
fn load_within_a_second(path: &Path) -> LoadError {
    let (send, receive) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let mut m = model();
        let result = io::load(&mut m, &path);
        send.send((result, m == model())).unwrap();
    });
    let (result, unchanged) = receive
        .recv_timeout(Duration::from_secs(1))
        .expect("the load returns within a second");
    assert!(unchanged, "a failed load leaves the model unchanged");
    result.unwrap_err()
}

/// A sparse file of `size` bytes whose header length field says `header`.
fn sparse(path: &Path, header: u64, size: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&header.to_le_bytes()).unwrap();
    f.set_len(size).unwrap();
}

#[test]
fn a_huge_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.safetensors");
    let size = 3 << 29; // 1.5 GiB
    sparse(&path, 16, size);
    let start = Instant::now();
    let err = load_within_a_second(&path);
    let took = start.elapsed();
    let limit = DATA + 8 + MAX_HEADER;
    assert!(
        matches!(err, LoadError::TooLarge { size: s, limit: l, .. } if s == size && l == limit),
        "{err:?}"
    );
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: 1610612736 bytes, more than the 100000100 a file of this model's parameters can \
             take (theirs, and 100 MB for the header and tensors the model lacks)",
            path.display()
        )
    );
}

#[test]
fn the_size_bound_is_the_model_s_bytes_plus_the_header_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.safetensors");
    let limit = DATA + 8 + MAX_HEADER;
    sparse(&path, 8, limit + 1);
    assert!(matches!(
        load_within_a_second(&path),
        LoadError::TooLarge { .. }
    ));
    // One byte less is opened, and its header found not to be valid (before the data is read).
    sparse(&path, 8, limit);
    let err = load_within_a_second(&path);
    assert!(matches!(err, LoadError::Corrupt(_)), "{err:?}");
    let start = format!("not a valid safetensors file: {}: ", path.display());
    assert!(err.to_string().starts_with(&start), "{err}");
}

#[test]
fn header_lengths_out_of_bounds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("header.safetensors");
    let shown = path.display();

    std::fs::File::create(&path).unwrap();
    let err = load_within_a_second(&path);
    assert_eq!(
        err.to_string(),
        format!("not a valid safetensors file: {shown}: 0 bytes, too short for the header length")
    );

    sparse(&path, 1000, 100);
    let err = load_within_a_second(&path);
    assert_eq!(
        err.to_string(),
        format!(
            "not a valid safetensors file: {shown}: a header of 1000 bytes in a file of 100 bytes"
        )
    );

    sparse(&path, MAX_HEADER + 1, 100);
    let err = load_within_a_second(&path);
    assert_eq!(
        err.to_string(),
        format!(
            "not a valid safetensors file: {shown}: a header of 100000001 bytes, over the \
             format's cap of 100000000"
        )
    );
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_within_a_second(dir.path());
    assert_eq!(
        err.to_string(),
        format!("{}: a directory, not a regular file", dir.path().display())
    );
}

#[cfg(unix)]
#[test]
fn a_device_is_refused_unread() {
    let err = load_within_a_second(Path::new("/dev/zero"));
    assert_eq!(
        err.to_string(),
        "/dev/zero: a character device, not a regular file"
    );
    // Also behind a link.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zero.safetensors");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let err = load_within_a_second(&link);
    assert!(
        matches!(err, LoadError::NotAFile { ref kind, .. } if kind == "a character device"),
        "{err:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_without_a_writer_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.safetensors");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let err = load_within_a_second(&fifo);
    assert_eq!(
        err.to_string(),
        format!("{}: a FIFO, not a regular file", fifo.display())
    );
}

#[test]
fn tensors_the_model_lacks_are_ignored() {
    // A file of a longer model: the model here is its first three layers.
    type Longer = (Affine<U4, U3>, ReLU, Affine<U3, U2>, Affine<U2, U2>);
    let longer = Longer::init(&mut StdRng::seed_from_u64(7));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("longer.safetensors");
    io::save(&longer, &path).unwrap();
    let mut m = model();
    io::load(&mut m, &path).unwrap();
    assert_eq!(m.0, longer.0);
    assert_eq!(m.2, longer.2);
}
