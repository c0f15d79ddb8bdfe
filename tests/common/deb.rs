//! Our Debian package as an upgrade meets it: the same package repacked at a higher version
//! that ships a changed default config (dpkg must keep the admin's).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run;

/// `deb` repacked as version `<version>+upgrade1` into `out`, its default config changed.
pub fn repack_as_upgrade(deb: &Path, work: &Path, out: &Path) -> PathBuf {
    let tree = work.join("upgrade");
    run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).unwrap();
    let version = text.lines().find_map(|l| l.strip_prefix("Version: ")).unwrap().to_owned();
    std::fs::write(&control, text.replace(&format!("Version: {version}"), &format!("Version: {version}+upgrade1")))
        .unwrap();
    let conf = tree.join("etc/roombox/roombox.toml");
    let shipped = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{shipped}\n# shipped by the upgrade\n")).unwrap();
    run(Command::new("dpkg-deb").args(["--root-owner-group", "--build"]).arg(&tree).arg(out));
    out.to_path_buf()
}
