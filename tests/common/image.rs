//! The flashable images as a person gets them: `scripts/image/build` once per target (the
//! `.img.xz` and its manifest in target/image/), unpacked to a raw disk, read partition by
//! partition without mounting anything: sfdisk for the table, blkid for labels, mtools for the
//! FAT boot partition, debugfs for the ext4 root.

use std::path::{Path, PathBuf};
use std::process::Command;

pub use super::run;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One built image: its compressed file, manifest and the unpacked raw disk.
pub struct Image {
    pub xz: PathBuf,
    pub manifest: String,
    pub raw: PathBuf,
}

/// Builds the image for `target` (or reuses one already built, with `IMAGE_REUSE=1`), and
/// unpacks it next to the test's temp files. The two targets build side by side: much of an
/// arm64 build waits on emulated maintainer scripts, one core each.
/// With `repository` (its URL and keyring), the image updates roombox from it.
pub fn build(target: &str, repository: Option<(&str, &Path)>) -> Image {
    let xz = PathBuf::from(format!("{ROOT}/target/image/roombox-{target}.img.xz"));
    if !(xz.exists() && std::env::var_os("IMAGE_REUSE").is_some()) {
        let mut cmd = Command::new(format!("{ROOT}/scripts/image/build"));
        if let Some((url, key)) = repository {
            cmd.env("ROOMBOX_REPO_URL", url).env("ROOMBOX_REPO_KEY", key);
        }
        run(cmd.arg(target));
    }
    let manifest = std::fs::read_to_string(xz.with_extension("").with_extension("manifest"))
        .expect("the manifest next to the image");
    let raw = std::env::temp_dir().join(format!("roombox-test-{target}-{}.img", std::process::id()));
    run(Command::new("sh").arg("-c").arg(format!("xz -dc '{}' > '{}'", xz.display(), raw.display())));
    Image { xz, manifest, raw }
}

/// A repository's keyring for images built to update from it, made once (an image reused with
/// `IMAGE_REUSE` still holds the same key).
pub fn test_repository_key() -> PathBuf {
    let home = PathBuf::from(format!("{ROOT}/target/image/test-repo-key"));
    let keyring = home.join("roombox-archive-keyring.gpg");
    if !keyring.exists() {
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| run(Command::new("gpg").arg("--homedir").arg(&home).arg("--batch").args(args));
        gpg(&["--quiet", "--passphrase", "", "--quick-gen-key", "roombox test archive", "ed25519", "sign", "never"]);
        gpg(&["--output", keyring.to_str().unwrap(), "--export"]);
    }
    keyring
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.raw);
    }
}

/// One partition as sfdisk reports it (sectors of 512 bytes).
#[derive(Debug, Clone)]
pub struct Partition {
    pub start: u64,
    pub size: u64,
    pub kind: String,
    pub bootable: bool,
}

impl Partition {
    pub fn offset(&self) -> u64 {
        self.start * 512
    }
}

/// The disk's table: its label ("dos" or "gpt") and partitions, from `sfdisk --json`.
pub fn table(disk: &Path) -> (String, Vec<Partition>) {
    let json: serde_json::Value = serde_json::from_str(&run(Command::new("sfdisk").arg("--json").arg(disk))).unwrap();
    let table = &json["partitiontable"];
    let parts = table["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| Partition {
            start: p["start"].as_u64().unwrap(),
            size: p["size"].as_u64().unwrap(),
            kind: p["type"].as_str().unwrap().to_lowercase(),
            bootable: p["bootable"].as_bool().unwrap_or(false),
        })
        .collect();
    (table["label"].as_str().unwrap().to_string(), parts)
}

/// The file system's type and label at `part` (blkid, low-level probe of the image file).
pub fn probe(disk: &Path, part: &Partition) -> (String, String) {
    let out = run(Command::new("blkid").args(["-p", "-o", "export", "-O"]).arg(part.offset().to_string()).arg(disk));
    let field =
        |name: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or_default().to_string();
    (field("TYPE"), field("LABEL"))
}

/// A file of the FAT partition, read with mtools (`None` if it is not there).
pub fn fat_file(disk: &Path, part: &Partition, path: &str) -> Option<Vec<u8>> {
    let out = Command::new("mtype")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(format!("{}@@{}", disk.display(), part.offset()))
        .arg(format!("::{path}"))
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

/// Writes `bytes` as a file of the FAT partition (mtools, replacing one that is there).
pub fn put_fat_file(disk: &Path, part: &Partition, path: &str, bytes: &[u8]) {
    let local = std::env::temp_dir().join(format!("roombox-fat-{}-{}", std::process::id(), path.replace('/', "_")));
    std::fs::write(&local, bytes).unwrap();
    run(Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-o", "-i"])
        .arg(format!("{}@@{}", disk.display(), part.offset()))
        .arg(&local)
        .arg(format!("::{path}")));
    let _ = std::fs::remove_file(local);
}

/// The ext4 root's file at `path` (debugfs on the partition's offset), `None` if absent.
pub fn root_file(disk: &Path, part: &Partition, path: &str) -> Option<Vec<u8>> {
    let out = Command::new("debugfs")
        .args(["-R", &format!("cat {path}")])
        .arg(format!("{}?offset={}", disk.display(), part.offset()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.success() && !stderr.contains("File not found")).then_some(out.stdout)
}

/// What `ls` says about a folder of the ext4 root (names only).
pub fn root_list(disk: &Path, part: &Partition, path: &str) -> Vec<String> {
    let out = run(Command::new("debugfs").args(["-R", &format!("ls -p {path}")]).arg(format!(
        "{}?offset={}",
        disk.display(),
        part.offset()
    )));
    // `ls -p`: /inode/mode/uid/gid/name/size/
    out.lines()
        .filter_map(|l| l.split('/').nth(5))
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(String::from)
        .collect()
}

/// Where a symlink of the ext4 root points.
pub fn root_link(disk: &Path, part: &Partition, path: &str) -> Option<String> {
    let out = run(Command::new("debugfs").args(["-R", &format!("stat {path}")]).arg(format!(
        "{}?offset={}",
        disk.display(),
        part.offset()
    )));
    out.lines().find_map(|l| l.trim().strip_prefix("Fast link dest: ")).map(|s| s.trim_matches('"').to_string())
}

/// The kernel and initrd a Raspberry Pi's firmware loads: `kernel=` and `initramfs` in
/// config.txt on the FAT partition.
pub fn pi_boot_files(disk: &Path, boot: &Partition) -> (String, String) {
    let config = String::from_utf8(fat_file(disk, boot, "config.txt").expect("config.txt")).unwrap();
    let kernel = config.lines().find_map(|l| l.trim().strip_prefix("kernel=")).expect("kernel= in config.txt");
    let initrd = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("initramfs "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("initramfs in config.txt");
    (kernel.to_string(), initrd.to_string())
}

/// The files an initrd holds (`lsinitramfs`, which reads every compression Debian uses).
pub fn initrd_files(initrd: &[u8]) -> String {
    let file = std::env::temp_dir().join(format!("roombox-initrd-{}", std::process::id()));
    std::fs::write(&file, initrd).unwrap();
    let files = run(Command::new("lsinitramfs").arg(&file));
    let _ = std::fs::remove_file(file);
    files
}
