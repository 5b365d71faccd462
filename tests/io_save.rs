//! `io::save` replaces a file atomically: readers see the old model or the new one, whole, and
//! a failed save leaves the old file and no temporary file.

use rand::{rngs::StdRng, SeedableRng};
use shaped::io::{self, LoadError};
use shaped::{typenum::*, Affine, Init, ReLU};
use std::path::Path;

/// 2,176 bytes of parameters: more than one 512-byte block of a file-size limit.
type Big = (Affine<U16, U16, f64>, ReLU, Affine<U16, U16, f64>);

fn big(seed: u64) -> Big {
    Big::init(&mut StdRng::seed_from_u64(seed))
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn loaded(path: &Path) -> Result<Big, LoadError> {
    let mut model = big(99);
    io::load(&mut model, path).map(|()| model)
}

const CHILD: &str = "SHAPED_IO_SAVE_CHILD";

/// The test binary runs this same test again in a child process whose file-size limit
/// (`ulimit -f 1`: 512 or 1024 bytes, with `SIGXFSZ` ignored so the write fails with `EFBIG`
/// instead of killing the process) cuts the save off partway through the temporary file.
#[cfg(unix)]
#[test]
fn a_save_cut_off_midway_leaves_the_old_file_and_no_temporary() {
    if let Some(path) = std::env::var_os(CHILD) {
        let err = io::save(&big(2), &path).unwrap_err();
        assert!(
            matches!(err, LoadError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::FileTooLarge),
            "{err:?}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    io::save(&big(1), &path).unwrap();

    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -f 1 && trap '' XFSZ && exec "$0" "$@""#)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_save_cut_off_midway_leaves_the_old_file_and_no_temporary",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child did not run its save: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(names_in(dir.path()), ["model.safetensors"]);
    assert_eq!(loaded(&path).unwrap(), big(1), "the old model is intact");
}

#[test]
fn a_save_that_cannot_rename_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    // The whole file is written and flushed before the rename over a directory fails.
    let taken = dir.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    let err = io::save(&big(1), &taken).unwrap_err();
    assert!(
        err.to_string().starts_with(&taken.display().to_string()),
        "{err}"
    );
    assert!(taken.is_dir());
    assert_eq!(names_in(dir.path()), ["taken"]);

    let nowhere = dir.path().join("missing").join("model.safetensors");
    let err = io::save(&big(1), &nowhere).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err:?}");
    assert_eq!(names_in(dir.path()), ["taken"]);
}

#[test]
fn loads_during_saves_see_the_old_model_or_the_new_one_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let (a, b) = (big(1), big(2));
    io::save(&a, &path).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let loads = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut loads = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let model = loaded(&path).unwrap();
                assert!(model == a || model == b, "a torn file loaded");
                loads += 1;
            }
            loads
        });
        for i in 0..200 {
            io::save(if i % 2 == 0 { &b } else { &a }, &path).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        reader.join().unwrap()
    });
    assert!(loads > 0);
    assert_eq!(loaded(&path).unwrap(), a, "the last save wins");
    assert_eq!(names_in(dir.path()), ["model.safetensors"]);
}

#[cfg(unix)]
#[test]
fn saving_through_a_link_replaces_the_file_it_points_to() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.safetensors");
    let link = dir.path().join("latest.safetensors");
    io::save(&big(1), &file).unwrap();
    std::os::unix::fs::symlink(&file, &link).unwrap();
    io::save(&big(2), &link).unwrap();
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(loaded(&file).unwrap(), big(2));
}

#[cfg(unix)]
#[test]
fn a_saved_file_keeps_the_old_permissions_or_gets_a_new_file_s() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    let path = dir.path().join("model.safetensors");
    io::save(&big(1), &path).unwrap();
    assert_eq!(mode(&path), mode(&plain), "as a newly created file");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    io::save(&big(2), &path).unwrap();
    assert_eq!(mode(&path), 0o640);
}
