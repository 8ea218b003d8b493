//! The embedded-mode secret: `VWC_JWT_SECRET`, else `<data-dir>/jwt.secret`, generated once with mode 0600.

use std::os::unix::fs::PermissionsExt;

use chrono::Duration;
use vwc_auth::{Hs256Keys, Role, SECRET_FILE_NAME, Secret, TokenVerifier, load_or_create_secret};

/// Two secrets are the same key when a token signed with one verifies with the other.
async fn same_key(a: &Secret, b: &Secret) -> bool {
    let (token, _) =
        Hs256Keys::new(a).issue("usr_1", "org_1", &[Role::Viewer], Duration::minutes(1));
    Hs256Keys::new(b).verify(&token).await.is_ok()
}

#[tokio::test]
async fn secret_file_is_created_with_mode_0600_and_reused_on_the_second_call() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let first = load_or_create_secret(None, &data_dir).unwrap();
    let path = data_dir.join(SECRET_FILE_NAME);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let content = std::fs::read_to_string(&path).unwrap();
    assert!(
        content.trim().len() >= 43,
        "32 bytes in base64: {content:?}"
    );

    let second = load_or_create_secret(None, &data_dir).unwrap();
    assert!(same_key(&first, &second).await);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
    let leftovers = std::fs::read_dir(&data_dir).unwrap().count();
    assert_eq!(leftovers, 1, "only jwt.secret remains in the data dir");
}

#[tokio::test]
async fn secrets_generated_in_different_data_dirs_differ() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = load_or_create_secret(None, a.path()).unwrap();
    let second = load_or_create_secret(None, b.path()).unwrap();
    assert!(!same_key(&first, &second).await);
}

#[tokio::test]
async fn concurrent_first_calls_agree_on_one_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secrets: Vec<Secret> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| load_or_create_secret(None, dir.path()).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for secret in &secrets[1..] {
        assert!(same_key(&secrets[0], secret).await);
    }
}

#[tokio::test]
async fn env_secret_is_used_and_no_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let value = "an environment secret of at least 32 bytes";
    let from_env = load_or_create_secret(Some(value), dir.path()).unwrap();
    assert!(!dir.path().join(SECRET_FILE_NAME).exists());
    let direct = Secret::from_bytes(value.as_bytes()).unwrap();
    assert!(same_key(&from_env, &direct).await);
}

#[test]
fn env_secret_shorter_than_32_bytes_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["", "short", "0123456789abcdef0123456789abcde"] {
        let err = load_or_create_secret(Some(value), dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{value:?}");
    }
    assert!(load_or_create_secret(Some("0123456789abcdef0123456789abcdef"), dir.path()).is_ok());
}

#[test]
fn corrupt_or_short_secret_file_is_an_error_not_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SECRET_FILE_NAME);
    for content in ["not base64 !!", "c2hvcnQ=\n"] {
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = load_or_create_secret(None, dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{content:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
    }
}

#[test]
fn debug_output_of_a_secret_does_not_contain_the_key() {
    let secret = Secret::from_bytes(*b"super-secret-key-material-0123456789").unwrap();
    let printed = format!("{secret:?}");
    assert_eq!(printed, "Secret(***)");
    assert!(!printed.contains("super-secret"));

    let dir = tempfile::tempdir().unwrap();
    let generated = load_or_create_secret(None, dir.path()).unwrap();
    let on_disk = std::fs::read_to_string(dir.path().join(SECRET_FILE_NAME)).unwrap();
    let printed = format!("{generated:?}");
    assert!(!printed.contains(on_disk.trim()), "{printed}");
}

#[tokio::test]
async fn a_secret_file_other_users_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    load_or_create_secret(None, dir.path()).unwrap();
    let path = dir.path().join(SECRET_FILE_NAME);
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = load_or_create_secret(None, dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{mode:o}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load_or_create_secret(None, dir.path()).is_ok());
}
