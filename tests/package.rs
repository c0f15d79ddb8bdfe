//! The Debian package as an installer meets it: `scripts/deb/build amd64`, then installed with
//! apt into a fresh Debian 12 root (mmdebstrap) that has nothing of ours, upgraded over an
//! edited config, and checked: files, the system user and groups, the unit (systemd-analyze
//! verify), the config kept on upgrade, and the installed binary's `check`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::run;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One at a time: both tests install packages (one dpkg lock) and build into one target dir.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The lock for a test that needs root, or None (said loudly) when not root.
fn as_root(why: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("\n*** SKIPPED: {why} needs root");
        return None;
    }
    Some(ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Builds the package for `arch`; returns its path, or None (said loudly) where this machine
/// cannot build for `arch` (the script's exit 77).
fn build(arch: &str) -> Option<PathBuf> {
    let out = Command::new(format!("{ROOT}/scripts/deb/build")).arg(arch).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        eprintln!("\n*** SKIPPED: {}", stderr.lines().last().unwrap_or_default());
        return None;
    }
    let built = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scripts/deb/build {arch} failed:\n{built}{stderr}");
    let deb = PathBuf::from(ROOT).join(built.lines().last().unwrap_or_default().trim());
    assert!(deb.to_string_lossy().ends_with(&format!("_{arch}.deb")) && deb.exists(), "{built}");
    Some(deb)
}

#[test]
fn the_amd64_package_installs_upgrades_and_keeps_the_config() {
    let Some(_one) = as_root("installing a package into a Debian root") else { return };
    run(Command::new(format!("{ROOT}/scripts/install-deps")).arg("deb"));
    let deb = build("amd64").expect("this machine's own architecture always builds");
    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Architecture: amd64") && info.contains("adduser"), "{info}");

    let work = tempfile::tempdir_in(format!("{ROOT}/target")).unwrap();
    let upgrade = common::deb::repack_as_upgrade(&deb, work.path(), &work.path().join("roombox-upgrade.deb"));
    let root = work.path().join("root");
    let mirror = run(&mut Command::new(format!("{ROOT}/scripts/debian-mirror"))).trim().to_owned();
    let hooks = [
        format!("copy-in {} {} /tmp", deb.display(), upgrade.display()),
        format!(
            "chroot \"$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/{}",
            deb.file_name().unwrap().to_string_lossy()
        ),
        "chroot \"$1\" roombox check --config /etc/roombox/roombox.toml > \"$1/root/check.txt\" 2>&1; echo \"exit $?\" >> \"$1/root/check.txt\"".into(),
        "sed -i 's/^name = \"roombox\"/name = \"oslo\"/' \"$1/etc/roombox/roombox.toml\"".into(),
        "chroot \"$1\" env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold /tmp/roombox-upgrade.deb".into(),
    ];
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--quiet", "--variant=apt"]);
    for hook in &hooks {
        cmd.arg(format!("--customize-hook={hook}"));
    }
    run(cmd.arg("bookworm").arg(&root).arg(&mirror));

    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let status = read("var/lib/dpkg/status");
    assert!(status.contains("Package: roombox\nStatus: install ok installed"), "installed");
    assert!(status.contains("+upgrade1"), "upgraded to the new version");
    let config = read("etc/roombox/roombox.toml");
    assert!(config.contains("name = \"oslo\""), "the admin's config survives the upgrade");
    assert!(!config.contains("shipped by the upgrade"), "dpkg did not overwrite it");
    assert!(root.join("usr/bin/roombox").exists() && root.join("usr/share/roombox/board/rpi4.toml").exists());
    let wants = std::fs::read_link(root.join("etc/systemd/system/multi-user.target.wants/roombox.service"));
    assert_eq!(wants.ok(), Some(PathBuf::from("/lib/systemd/system/roombox.service")), "enabled for boot");
    assert!(root.join("lib/systemd/system/roombox.service").exists());
    let passwd = read("etc/passwd");
    let user = passwd.lines().find(|l| l.starts_with("roombox:")).expect("the roombox user");
    assert!(user.ends_with(":/var/lib/roombox:/usr/sbin/nologin"), "a system user without login: {user}");
    let groups = read("etc/group");
    for group in ["roombox", "gpio", "render", "video", "audio"] {
        assert!(groups.lines().any(|l| l.starts_with(&format!("{group}:"))), "group {group} exists");
    }
    let check = read("root/check.txt");
    assert!(check.contains("config: /etc/roombox/roombox.toml is valid") && check.contains("exit 0"), "{check}");
    let verify = Command::new("systemd-analyze")
        .arg(format!("--root={}", root.display()))
        .args(["verify", "roombox.service"])
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    assert!(verify.status.success() && !said.contains("roombox.service:"), "systemd-analyze verify:\n{said}");
}

#[test]
fn the_arm64_package_holds_an_arm64_binary_that_runs() {
    let Some(_one) = as_root("building the arm64 sysroot") else { return };
    let Some(deb) = build("arm64") else { return };
    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Architecture: arm64"), "{info}");
    let work = tempfile::tempdir_in(format!("{ROOT}/target")).unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(work.path()));
    let binary = work.path().join("usr/bin/roombox");
    assert!(work.path().join("lib/systemd/system/roombox.service").exists());
    // Run the Raspberry Pi binary under user-mode emulation against the arm64 sysroot's libraries.
    let sysroot = format!("{ROOT}/target/sysroot-arm64");
    let version = run(Command::new("qemu-aarch64").args(["-L", &sysroot]).arg(&binary).arg("--version"));
    assert!(version.starts_with("roombox "), "{version}");
    let bad = work.path().join("bad.toml");
    std::fs::write(&bad, "[video]\nfsp = 30\n").unwrap();
    let out = Command::new("qemu-aarch64")
        .args(["-L", &sysroot])
        .arg(&binary)
        .arg("check")
        .arg("-c")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.toml:2:1: unknown field `fsp`"), "{err}");
}
