//! The flashed images booting, as a box does on its first power-up (`make test-image`: each
//! boot takes minutes under software emulation, so `make test` runs only the structural
//! checks of `tests/image.rs`). The arm64 image boots its own Debian kernel under
//! `qemu-system-aarch64 -M virt`, the amd64 image its systemd-boot under OVMF. Before the
//! boot, the test puts an SSH key and a broken `roombox.toml` into the card's `roombox/`
//! folder and grows the disk by 1 GiB, as a larger card would. Then, over SSH through a
//! user-mode port forward: the first-boot units made host keys and grew the root; password
//! login is off; roombox runs with the image's own config (`roombox check` passes), and the
//! broken file was refused as documented: `roombox.toml.error` next to it on the card, the
//! problem and the box's address in `ctl status` (what the idle screen shows) and the LED
//! blinking fast. A fixed file on the card is then taken on the next start; the card's Wi-Fi
//! settings join a simulated wireless network (`wifi_from_the_card`); and an upgraded package
//! from an apt repository (`apt-get upgrade`) keeps the admin's config.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::image::{self, Image, fat_file, put_fat_file, run, table};

/// A booted VM, reached over SSH; killed on drop.
struct Vm {
    qemu: Child,
    port: u16,
    key: PathBuf,
    console: PathBuf,
}

impl Vm {
    fn ssh(&self, command: &str) -> std::process::Output {
        Command::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-i"])
            .arg(&self.key)
            .args(["-p", &self.port.to_string(), "root@127.0.0.1", command])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The command's standard output; panics (with the console's tail) if it fails.
    fn sh(&self, command: &str) -> String {
        let out = self.ssh(command);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "`{command}` failed: {stdout}{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.console_tail()
        );
        stdout
    }

    fn console_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.console).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- console (last 40 lines) ---\n{}", lines[lines.len().saturating_sub(40)..].join("\n"))
    }

    /// Waits until `command` succeeds over SSH (the box is booting), up to `limit`.
    fn wait_for(&mut self, command: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            if self.ssh(command).status.success() {
                return;
            }
            if let Ok(Some(exit)) = self.qemu.try_wait() {
                panic!("QEMU exited ({exit}) before `{command}` worked\n{}", self.console_tail());
            }
            assert!(start.elapsed() < limit, "`{command}` did not work within {limit:?}\n{}", self.console_tail());
            std::thread::sleep(Duration::from_secs(3));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

/// The card as the admin prepares it: their key and a roombox.toml with a mistake.
fn prepare_card(img: &Image, dir: &Path) -> PathBuf {
    let (_, parts) = table(&img.raw);
    let key = dir.join("admin_key");
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "admin@test", "-f"]).arg(&key));
    let public = std::fs::read(key.with_extension("pub")).unwrap();
    put_fat_file(&img.raw, &parts[0], "roombox/authorized_keys", &public);
    put_fat_file(&img.raw, &parts[0], "roombox/roombox.toml", b"[room]\nname = \"oslo\"\nbogus_key = 1\n");
    let wifi =
        format!("ctrl_interface=DIR=/run/wpa_supplicant\nnetwork={{\n  ssid=\"{SSID}\"\n  psk=\"{PASSPHRASE}\"\n}}\n");
    put_fat_file(&img.raw, &parts[0], "roombox/wpa_supplicant.conf", wifi.as_bytes());
    // A bigger card: 1 GiB more than the image.
    let size = std::fs::metadata(&img.raw).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&img.raw).unwrap().set_len(size + (1 << 30)).unwrap();
    key
}

fn boot(target: &str, img: &Image, dir: &Path, key: PathBuf) -> Vm {
    let port = common::free_port();
    let console = dir.join("console.log");
    let forward = format!("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22");
    let disk = format!("file={},format=raw,if=virtio", img.raw.display());
    let mut cmd;
    if target == "amd64" {
        let vars = dir.join("OVMF_VARS.fd");
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).unwrap();
        cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "q35", "-accel", "tcg", "-cpu", "max"])
            .args(["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"])
            .args(["-drive", &format!("if=pflash,format=raw,unit=1,file={}", vars.display())]);
    } else {
        // The Pi's own kernel and initrd, from its FAT partition, on QEMU's generic board.
        let (_, parts) = table(&img.raw);
        let kernel = dir.join("vmlinuz");
        let initrd = dir.join("initrd.img");
        let (kernel_file, initrd_file) = image::pi_boot_files(&img.raw, &parts[0]);
        std::fs::write(&kernel, fat_file(&img.raw, &parts[0], &kernel_file).unwrap()).unwrap();
        std::fs::write(&initrd, fat_file(&img.raw, &parts[0], &initrd_file).unwrap()).unwrap();
        cmd = Command::new("qemu-system-aarch64");
        cmd.args(["-machine", "virt", "-accel", "tcg", "-cpu", "cortex-a72"])
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", "root=LABEL=RASPIROOT rw rootwait console=ttyAMA0"]);
    }
    cmd.args(["-m", "2048", "-smp", "2", "-display", "none", "-no-reboot", "-drive", &disk, "-nic", &forward])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let qemu = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    Vm { qemu, port, key, console }
}

fn status(vm: &Vm) -> serde_json::Value {
    serde_json::from_str(&vm.sh("roombox ctl status --json")).unwrap()
}

/// Everything a first boot must show, for one image.
fn first_boot(target: &str, card: &str) {
    let img = image::build(target, None);
    let dir = tempfile::tempdir().unwrap();
    let flashed_mib = (table(&img.raw).1[1].size * 512) >> 20;
    let key = prepare_card(&img, dir.path());
    let mut vm = boot(target, &img, dir.path(), key);
    vm.wait_for("true", Duration::from_secs(900));

    // First boot: the box's own host keys, a root grown to the card, no password login.
    vm.sh("test -e /var/lib/roombox-image/first-boot-done && test -s /etc/ssh/ssh_host_ed25519_key");
    let root_mib: u64 = vm.sh("df -BM --output=size / | tail -1").trim().trim_end_matches('M').parse().unwrap();
    assert!(root_mib > flashed_mib + 700, "the root grew to the card: {root_mib} MiB (flashed {flashed_mib})");
    let sshd = vm.sh("sshd -T");
    assert!(sshd.contains("passwordauthentication no") && sshd.contains("kbdinteractiveauthentication no"), "{sshd}");

    // roombox runs, with the image's own config: the card's broken file was refused.
    vm.wait_for("systemctl is-active roombox", Duration::from_secs(180));
    let check = vm.sh("roombox check");
    assert!(check.contains("is valid"), "{check}");
    let error = vm.sh(&format!("cat {card}/roombox/roombox.toml.error"));
    assert!(error.contains("was NOT used") && error.contains("bogus_key"), "{error}");
    vm.wait_for("roombox ctl status --json | grep -q '\"problem\"'", Duration::from_secs(30));
    let s = status(&vm);
    assert_eq!(s["room"], "roombox", "the previous (default) config stays: {s}");
    assert!(s["problem"].as_str().unwrap().contains("card roombox.toml not used"), "{s}");
    assert_eq!(s["led"], "fast-blink", "the LED shows the problem: {s}");
    assert!(s["addresses"].as_array().unwrap().iter().any(|a| a == "10.0.2.15"), "the address to SSH to: {s}");
    let text = vm.sh("roombox ctl status");
    assert!(text.contains("address: 10.0.2.15"), "{text}");

    // The fixed file is taken on the next start of the card service and the room.
    vm.sh(&format!("sed -i '/bogus_key/d' {card}/roombox/roombox.toml && systemctl restart roombox-card roombox"));
    vm.wait_for("roombox ctl status --json | grep -q '\"room\": *\"oslo\"'", Duration::from_secs(120));
    let s = status(&vm);
    assert!(s.get("problem").is_none_or(|p| p.is_null()), "the problem is gone: {s}");
    assert_eq!(s["led"], "off", "{s}");
    vm.sh(&format!("test ! -e {card}/roombox/roombox.toml.error"));
    assert!(vm.sh("systemctl is-active roombox").contains("active"));

    wifi_from_the_card(&mut vm);

    let arch = if target == "amd64" { "amd64" } else { "arm64" };
    upgrade_from_our_repository(&mut vm, dir.path(), arch);
}

/// An update the Debian way: the box set to our signed repository (`use-repository`, as the
/// image build does with `ROOMBOX_REPO_URL`), `apt-get upgrade`, and the admin's config stays.
/// A repository signed by another key brings nothing.
fn upgrade_from_our_repository(vm: &mut Vm, dir: &Path, arch: &str) {
    let refused = vm.ssh("/usr/lib/roombox-image/use-repository ftp://10.0.2.2/ /etc/hostname");
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(refused.status.code() == Some(2) && text.contains("not an http(s)"), "a bad URL is named: {text}");
    let repo = Repository::serve(dir, arch);
    let url = format!("http://10.0.2.2:{}/", repo.port);
    let update = "apt-get update -o Dir::Etc::sourcelist=/dev/null 2>&1; \
                  DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq 2>&1";
    let use_key = |key: &str| {
        format!(
            "/usr/lib/apt/apt-helper download-file {url}{key} /tmp/{key} && \
             /usr/lib/roombox-image/use-repository {url} /tmp/{key} && {update}"
        )
    };
    let untrusted = vm.sh(&use_key("other-keyring.gpg"));
    assert!(untrusted.contains("NO_PUBKEY") || untrusted.contains("not signed"), "another key is refused: {untrusted}");
    let version = vm.sh("dpkg-query -W -f '${Version}' roombox");
    assert!(!version.ends_with("+upgrade1"), "nothing came from the untrusted repository: {version}");
    vm.sh(&use_key("roombox-archive-keyring.gpg"));
    let version = vm.sh("dpkg-query -W -f '${Version}' roombox");
    assert!(version.ends_with("+upgrade1"), "upgraded: {version}");
    let config = vm.sh("cat /etc/roombox/roombox.toml");
    assert!(
        config.contains("name = \"oslo\"") && !config.contains("shipped by the upgrade"),
        "the admin's config survives: {config}"
    );
    vm.wait_for("systemctl is-active roombox", Duration::from_secs(120));
}

/// The Wi-Fi network the card names (the test's access point).
const SSID: &str = "meeting-rooms";
const PASSPHRASE: &str = "correct horse battery";

/// The card's Wi-Fi settings at work: two simulated radios appear after boot, as a USB dongle
/// would (`mac80211_hwsim`). The box starts Wi-Fi on both; the test turns the second into the
/// card's network (WPA2, `wpa_supplicant` in access-point mode, a DHCP server from networkd),
/// and the first joins it and gets its address, which `status` (the idle screen) then shows.
fn wifi_from_the_card(vm: &mut Vm) {
    vm.sh("modprobe mac80211_hwsim radios=2");
    vm.wait_for("systemctl is-active roombox-wifi@wlan0 roombox-wifi@wlan1", Duration::from_secs(60));
    let conf = vm.sh("cat /etc/wpa_supplicant/roombox-wifi.conf");
    assert!(conf.contains(SSID), "the card's Wi-Fi settings were taken: {conf}");
    vm.sh(&format!(
        "systemctl mask --runtime --now roombox-wifi@wlan1 && \
         printf '[Match]\\nName=wlan1\\n[Network]\\nAddress=192.0.2.1/24\\nDHCPServer=yes\\n' > /run/systemd/network/10-test-ap.network && \
         networkctl reload && \
         printf 'network={{\\n ssid=\"{SSID}\"\\n mode=2\\n frequency=2412\\n key_mgmt=WPA-PSK\\n proto=RSN\\n pairwise=CCMP\\n psk=\"{PASSPHRASE}\"\\n}}\\n' > /run/test-ap.conf && \
         wpa_supplicant -B -i wlan1 -c /run/test-ap.conf -Dnl80211 -f /run/test-ap.log"
    ));
    let joined = "ip -4 -o addr show dev wlan0 | grep -q 'inet 192.0.2.'";
    vm.wait_for(joined, Duration::from_secs(120));
    let link = vm.sh("wpa_cli -i wlan0 status");
    assert!(
        link.contains("wpa_state=COMPLETED") && link.contains(&format!("\nssid={SSID}\n")),
        "wlan0 is on the card's network: {link}"
    );
    let address = vm.sh("ip -4 -o addr show dev wlan0 | awk '{print $4}' | cut -d/ -f1");
    let address = address.trim();
    vm.wait_for(&format!("roombox ctl status --json | grep -q '\"{address}\"'"), Duration::from_secs(30));
    let ap_log = vm.sh("cat /run/test-ap.log");
    assert!(ap_log.contains("AP-STA-CONNECTED"), "the access point saw the box join: {ap_log}");
}

/// Our signed repository (`scripts/repo/build`) on 127.0.0.1 (the VM's 10.0.2.2) with our
/// package at a higher version that ships a changed default config, and beside it the key of
/// another repository.
struct Repository {
    server: Child,
    port: u16,
}

impl Repository {
    fn serve(dir: &Path, arch: &str) -> Self {
        let deb = PathBuf::from(format!(
            "{}/target/deb/roombox_{}_{arch}.deb",
            env!("CARGO_MANIFEST_DIR"),
            env!("CARGO_PKG_VERSION")
        ));
        let repo = dir.join("repo");
        let upgrade = common::deb::repack_as_upgrade(&deb, dir, &dir.join("roombox.deb"));
        run(Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/repo/build"))
            .arg(&repo)
            .arg(&upgrade)
            .env("ROOMBOX_REPO_GNUPGHOME", dir.join("signing-key")));
        let other = dir.join("other-key");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| {
            run(Command::new("gpg").arg("--homedir").arg(&other).args(["--batch", "--quiet"]).args(args))
        };
        gpg(&["--passphrase", "", "--quick-gen-key", "another archive", "ed25519", "sign", "never"]);
        let other_keyring = repo.join("other-keyring.gpg");
        gpg(&["--output", other_keyring.to_str().unwrap(), "--export"]);
        let port = common::free_port();
        let server = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .current_dir(&repo)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { server, port }
    }
}

impl Drop for Repository {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
#[ignore = "boots a whole image under emulation (minutes): make test-image"]
fn the_amd64_image_boots_under_ovmf_takes_the_card_and_runs_roombox() {
    first_boot("amd64", "/boot/efi");
}

#[test]
#[ignore = "boots a whole image under emulation (minutes): make test-image"]
fn the_arm64_image_boots_its_kernel_on_qemu_virt_takes_the_card_and_runs_roombox() {
    first_boot("rpi4-arm64", "/boot/firmware");
}
