//! The server's OCI image (issue 24), built by `ci/package-image.sh` from
//! this build's `timecard-server`, unpacked, and its root filesystem run.
//!
//! Containers cannot start on the CI machine (itself a container: crun
//! may not set resource limits there, nor use its hybrid cgroups), so the
//! image's own root filesystem runs under `unshare` (mount and process
//! namespaces, a fresh /proc) and `chroot` as the image's user, with the
//! image's environment and arguments: what a container runtime does,
//! without its isolation of the network (the server listens on a loopback
//! port) and of resources. Without buildah, or not as root, the test
//! skips loudly unless `TIMECARD_REQUIRE_IMAGE=1` (as in CI).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::cli::{run, text};
use crate::common::serving::Serving;

/// The image's user, as `ci/package-image.sh` makes it.
const UID: u32 = 10001;

fn can_build() -> bool {
    let buildah = Command::new("buildah")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let unshare = Command::new("unshare")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if buildah && root && unshare {
        return true;
    }
    let what = format!("buildah present: {buildah}, root: {root}, unshare present: {unshare}");
    assert!(
        std::env::var_os("TIMECARD_REQUIRE_IMAGE").is_none(),
        "TIMECARD_REQUIRE_IMAGE is set but {what}"
    );
    eprintln!("\n*** SKIPPED: the server image: {what} ***\n");
    false
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The blob `digest` (`sha256:…`) of the unpacked archive `dir`.
fn blob(dir: &Path, digest: &Value) -> PathBuf {
    let digest = digest.as_str().unwrap();
    dir.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// Every path under `dir` with its owner.
fn owners(dir: &Path, out: &mut Vec<(PathBuf, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        out.push((path.clone(), meta.uid()));
        if meta.is_dir() {
            owners(&path, out);
        }
    }
}

#[test]
fn the_image_holds_only_the_server_and_serves_tls_as_its_user_from_data() {
    if !can_build() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = run(
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/ci/package-image.sh"))
            .arg(crate::common::server_exe())
            .arg("9.8.7")
            .arg(dir.path().join("out")),
        None,
    );
    assert!(built.status.success(), "{}", text(&built));
    let archive = dir.path().join("out/timecard-server-9.8.7-oci.tar");
    assert!(text(&built).contains("bytes"), "{}", text(&built));

    // The archive: an OCI layout, one manifest, its config and one layer.
    let oci = dir.path().join("oci");
    std::fs::create_dir(&oci).unwrap();
    let out = run(
        Command::new("tar")
            .arg("-C")
            .arg(&oci)
            .arg("-xf")
            .arg(&archive),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let index = json(&oci.join("index.json"));
    let manifest = &index["manifests"][0];
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.ref.name"],
        "timecard-server:9.8.7"
    );
    let manifest = json(&blob(&oci, &manifest["digest"]));
    let config = json(&blob(&oci, &manifest["config"]["digest"]))["config"].clone();
    assert_eq!(config["User"], "10001:10001");
    assert_eq!(config["Entrypoint"][0], "/usr/bin/timecard-server");
    assert!(config["Volumes"]["/data"].is_object(), "{config}");
    assert!(config["ExposedPorts"]["8443/tcp"].is_object(), "{config}");
    let env: Vec<String> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(
        env.contains(&"TIMECARD_SERVER_DATA=/data".to_owned()),
        "{env:?}"
    );
    let args: Vec<String> = config["Cmd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(args, ["serve", "--listen", "0.0.0.0:8443"]);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);

    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let out = run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["--numeric-owner", "-xzf"])
            .arg(blob(&oci, &layers[0]["digest"])),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    // Only the server: no shell, no package manager.
    assert!(rootfs.join("usr/bin/timecard-server").is_file());
    assert!(!rootfs.join("bin/sh").exists() && !rootfs.join("usr/bin/sh").exists());
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains("timecard:x:10001:10001:"), "{passwd}");
    let data = rootfs.join("data");
    let meta = std::fs::metadata(&data).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (UID, UID, 0o700)
    );

    // The image's command, on a loopback port, as its user, in its root.
    std::fs::create_dir(rootfs.join("proc")).unwrap();
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--pid", "--fork", "--kill-child"])
        .arg(format!("--mount-proc={}", rootfs.join("proc").display()))
        .args(["chroot", "--userspec=10001:10001"])
        .arg(&rootfs)
        .args([
            "/usr/bin/timecard-server",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TIMECARD_SERVER_DATA", "/data");
    let mut serving = Serving::spawn(command);
    serving.wait_line("its data folder", |l| l == "data folder: /data");
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(crate::common::pinned_roots(&cert))
                .build(),
        )
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let health = agent
        .get(format!("{}/api/v1/health", serving.url))
        .call()
        .unwrap_or_else(|e| panic!("/health: {e}; the server printed {:?}", serving.printed))
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(health.contains(r#""status":"ok""#), "{health}");

    // What it wrote in /data is its user's, and private.
    let mut written = Vec::new();
    owners(&data, &mut written);
    assert!(
        written
            .iter()
            .any(|(p, _)| p.ends_with("timecard-server.sqlite")),
        "{written:?}"
    );
    assert!(written.iter().any(|(p, _)| p.ends_with("tls/key.pem")));
    for (path, uid) in &written {
        assert_eq!(*uid, UID, "{} belongs to uid {uid}", path.display());
    }
    let key = std::fs::metadata(data.join("tls/key.pem")).unwrap();
    assert_eq!(key.mode() & 0o077, 0, "the key is readable by others");
}
