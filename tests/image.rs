//! The flashable images' structure, as `make test` checks it (the boot tests are
//! `tests/image_boot.rs`, `make test-image`). `scripts/test` runs these, all named
//! `flashable_image_*`, beside the other tests at idle priority. `scripts/image/build` makes
//! each image from Debian 12 packages and our .deb; the test unpacks the `.img.xz` a person
//! would flash and reads its partition table (sfdisk), labels (blkid), boot files (mtools) and
//! root (debugfs): firmware or loader, kernel and initrd (with the Pi's storage drivers) where
//! the board looks for them, the root named on the kernel command line, roombox installed and
//! enabled with the first-boot units, no SSH host keys and no password, Wi-Fi for every
//! wireless interface, the repository tool (and on amd64, built with one, the repository it
//! names and its key), the card's documented examples, and a manifest
//! that is the image's package set.

mod common;

use std::path::Path;

use common::image::{self, Image, Partition, fat_file, probe, root_file, root_link, root_list, table};

fn text(bytes: Option<Vec<u8>>, what: &str) -> String {
    String::from_utf8(bytes.unwrap_or_else(|| panic!("{what} is missing"))).unwrap()
}

/// What every image's root holds, whatever the board.
/// Where the amd64 image is built to update roombox from (`ROOMBOX_REPO_URL`); the Pi's is
/// built without one.
const TEST_REPOSITORY: &str = "https://apt.roombox.test/";

fn check_common_root(img: &Image, root: &Partition, boot_mount: &str, repository: Option<&Path>) {
    let disk = &img.raw;
    let fstab = text(root_file(disk, root, "/etc/fstab"), "/etc/fstab");
    assert!(
        fstab.contains(&format!(" {boot_mount}\tvfat")) || fstab.contains(&format!("\t{boot_mount}\tvfat")),
        "{fstab}"
    );
    assert!(root_file(disk, root, "/usr/bin/roombox").is_some_and(|b| b.starts_with(b"\x7fELF")), "roombox installed");
    let config = text(root_file(disk, root, "/etc/roombox/roombox.toml"), "the config");
    assert!(config.contains("[room]"), "the default config is in place");
    let keys: Vec<String> =
        root_list(disk, root, "/etc/ssh").into_iter().filter(|n| n.starts_with("ssh_host_")).collect();
    assert!(keys.is_empty(), "no SSH host keys baked into the image: {keys:?}");
    let sshd = text(root_file(disk, root, "/etc/ssh/sshd_config.d/roombox.conf"), "the sshd settings");
    assert!(sshd.contains("PasswordAuthentication no") && sshd.contains("KbdInteractiveAuthentication no"), "{sshd}");
    let shadow = text(root_file(disk, root, "/etc/shadow"), "/etc/shadow");
    let root_pw = shadow.lines().find(|l| l.starts_with("root:")).unwrap().split(':').nth(1).unwrap().to_string();
    assert!(root_pw.starts_with('!') || root_pw.starts_with('*'), "root has no usable password: {root_pw}");
    assert_eq!(
        root_link(disk, root, "/etc/systemd/system/multi-user.target.wants/roombox.service").as_deref(),
        Some("/lib/systemd/system/roombox.service"),
        "roombox starts at boot"
    );
    for (wants, unit) in
        [("sysinit.target.wants", "roombox-firstboot.service"), ("multi-user.target.wants", "roombox-card.service")]
    {
        assert!(root_link(disk, root, &format!("/etc/systemd/system/{wants}/{unit}")).is_some(), "{unit} is enabled");
    }
    let keep = text(root_file(disk, root, "/etc/dpkg/dpkg.cfg.d/50-roombox-keep-config"), "the dpkg settings");
    assert!(keep.contains("force-confold"), "upgrades keep the admin's config without asking: {keep}");
    let machine_id = root_file(disk, root, "/etc/machine-id").unwrap_or_default();
    assert!(
        machine_id.iter().all(u8::is_ascii_whitespace),
        "no machine ID baked in: {}",
        String::from_utf8_lossy(&machine_id)
    );
    // The card's Wi-Fi, on every wireless interface as it appears (booted: tests/image_boot.rs).
    let rule = text(root_file(disk, root, "/etc/udev/rules.d/80-roombox-wifi.rules"), "the Wi-Fi udev rule");
    assert!(rule.contains("ENV{DEVTYPE}==\"wlan\"") && rule.contains("roombox-wifi@%k.service"), "{rule}");
    let wifi = text(root_file(disk, root, "/etc/systemd/system/roombox-wifi@.service"), "the Wi-Fi unit");
    assert!(wifi.contains("/etc/wpa_supplicant/roombox-wifi.conf") && wifi.contains("BindsTo="), "{wifi}");
    // Updates from Debian, and from roombox's own repository once one is set.
    assert!(root_file(disk, root, "/usr/lib/roombox-image/use-repository").is_some(), "use-repository is there");
    let sources = root_file(disk, root, "/etc/apt/sources.list.d/roombox.sources");
    let keyring = root_file(disk, root, "/usr/share/keyrings/roombox-archive-keyring.gpg");
    match repository {
        None => {
            assert!(sources.is_none() && keyring.is_none(), "built without ROOMBOX_REPO_URL: no roombox repository")
        }
        Some(key) => {
            let sources = text(sources, "roombox.sources");
            assert!(sources.contains(&format!("URIs: {TEST_REPOSITORY}\n")), "{sources}");
            assert!(sources.contains("Signed-By: /usr/share/keyrings/roombox-archive-keyring.gpg"), "{sources}");
            assert_eq!(keyring, Some(std::fs::read(key).unwrap()), "the repository's key, and only it, is trusted");
        }
    }
    let dropin = text(root_file(disk, root, "/etc/systemd/system/roombox.service.d/image.conf"), "the unit's drop-in");
    assert!(dropin.contains("--notice /run/roombox-card/notice"), "{dropin}");

    // The manifest is the image's package set, with versions.
    let status = text(root_file(disk, root, "/var/lib/dpkg/status"), "dpkg's status");
    let installed: Vec<(String, String)> = status
        .split("\n\n")
        .filter(|s| s.contains("Status: install ok installed"))
        .map(|s| {
            let field = |f: &str| s.lines().find_map(|l| l.strip_prefix(f)).unwrap_or_default().to_string();
            (field("Package: "), field("Version: "))
        })
        .collect();
    let listed: Vec<(String, String)> = img
        .manifest
        .lines()
        .map(|l| {
            let mut cols = l.split('\t');
            (cols.next().unwrap().to_string(), cols.next().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(listed.len(), installed.len(), "the manifest lists every installed package");
    for package in &installed {
        assert!(listed.contains(package), "{package:?} is in the manifest");
    }
    assert!(listed.iter().any(|(p, _)| p == "roombox"));
    let sha = std::fs::read_to_string(img.xz.with_extension("xz.sha256")).expect("the checksum file");
    let sum = image::run(std::process::Command::new("sha256sum").arg(&img.xz));
    assert_eq!(sha.split_whitespace().next(), sum.split_whitespace().next(), "the checksum matches the image");
}

/// The card's roombox/ folder: the README and every example it names.
fn check_card_folder(img: &Image, boot: &Partition) {
    let readme = text(fat_file(&img.raw, boot, "roombox/README.txt"), "roombox/README.txt");
    for name in ["authorized_keys", "roombox.toml", "wpa_supplicant.conf"] {
        assert!(readme.contains(name), "the README explains {name}");
        assert!(fat_file(&img.raw, boot, &format!("roombox/{name}.example")).is_some(), "{name}.example is shipped");
    }
    let example = text(fat_file(&img.raw, boot, "roombox/roombox.toml.example"), "the example config");
    assert!(
        example.contains("[room]") && example.contains("name = \"roombox\""),
        "the example is the full default config"
    );
}

#[test]
fn flashable_image_for_the_raspberry_pi_4_has_firmware_kernel_and_root_where_the_pi_looks() {
    let img = image::build("rpi4-arm64", None);
    let (label, parts) = table(&img.raw);
    assert_eq!(label, "dos", "the Pi's boot ROM reads an MBR");
    assert_eq!(parts.len(), 2, "{parts:?}");
    let (boot, root) = (&parts[0], &parts[1]);
    assert_eq!(boot.kind, "c", "FAT32 (LBA)");
    assert!(boot.bootable);
    assert_eq!(root.kind, "83", "Linux");
    assert_eq!(probe(&img.raw, boot), ("vfat".into(), "RASPIFIRM".into()));
    assert_eq!(probe(&img.raw, root), ("ext4".into(), "RASPIROOT".into()));

    for firmware in ["start4.elf", "fixup4.dat", "bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb", "bcm2711-rpi-cm4-io.dtb"]
    {
        assert!(fat_file(&img.raw, boot, firmware).is_some(), "{firmware} on the FAT partition");
    }
    let config = text(fat_file(&img.raw, boot, "config.txt"), "config.txt");
    assert!(config.contains("arm_64bit=1"), "{config}");
    let (kernel, initrd) = image::pi_boot_files(&img.raw, boot);
    let kernel = fat_file(&img.raw, boot, &kernel).expect("the kernel where config.txt points");
    assert!(kernel.len() > 5_000_000, "a whole kernel");
    let initrd = fat_file(&img.raw, boot, &initrd).expect("the initrd where config.txt points");
    // The drivers to find the root on an SD card, a USB disk (behind the Pi 4's PCIe USB
    // controller, which the VL805's firmware loader resets) or a virtio disk, and the root's
    // file system (Debian's arm64 kernel has the MMC block layer and the Pi's PCIe built in).
    let files = image::initrd_files(&initrd);
    for module in ["sdhci-iproc", "reset-raspberrypi", "xhci-pci", "usb-storage", "uas", "sd_mod", "virtio_blk"] {
        assert!(files.contains(&format!("/{module}.ko")), "{module} is in the initrd");
    }
    assert!(files.contains("/ext4.ko"), "the root's file system");
    let cmdline = text(fat_file(&img.raw, boot, "cmdline.txt"), "cmdline.txt");
    assert!(cmdline.contains("root=LABEL=RASPIROOT"), "{cmdline}");
    check_card_folder(&img, boot);

    check_common_root(&img, root, "/boot/firmware", None);
    let binary = root_file(&img.raw, root, "/usr/bin/roombox").unwrap();
    assert_eq!(u16::from_le_bytes([binary[18], binary[19]]), 0xb7, "roombox is an aarch64 binary");
    for package in
        ["linux-image-arm64", "raspi-firmware", "firmware-brcm80211", "openssh-server", "gstreamer1.0-plugins-good"]
    {
        assert!(img.manifest.lines().any(|l| l.starts_with(&format!("{package}\t"))), "{package} is in the image");
    }
    assert!(!img.manifest.contains("xserver") && !img.manifest.contains("gnome"), "no desktop");
}

#[test]
fn flashable_image_for_amd64_boots_by_uefi_with_systemd_boot_from_its_efi_partition() {
    let key = image::test_repository_key();
    let img = image::build("amd64", Some((TEST_REPOSITORY, &key)));
    let (label, parts) = table(&img.raw);
    assert_eq!(label, "gpt");
    assert_eq!(parts.len(), 2, "{parts:?}");
    let (esp, root) = (&parts[0], &parts[1]);
    assert_eq!(esp.kind, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "an EFI system partition");
    assert_eq!(root.kind, "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "an x86-64 root partition");
    assert_eq!(probe(&img.raw, esp), ("vfat".into(), "ROOMBOXBOOT".into()));
    assert_eq!(probe(&img.raw, root), ("ext4".into(), "roombox-root".into()));

    let loader = fat_file(&img.raw, esp, "EFI/BOOT/BOOTX64.EFI").expect("the removable-media loader path");
    assert!(loader.starts_with(b"MZ"), "a PE executable");
    let entry = text(fat_file(&img.raw, esp, "loader/entries/roombox.conf"), "the boot entry");
    assert!(entry.contains("root=LABEL=roombox-root"), "{entry}");
    for file in ["roombox/vmlinuz", "roombox/initrd.img"] {
        assert!(entry.contains(&format!("/{file}")), "the entry loads {file}");
        assert!(fat_file(&img.raw, esp, file).is_some_and(|f| f.len() > 1_000_000), "{file} on the ESP");
    }
    check_card_folder(&img, esp);

    check_common_root(&img, root, "/boot/efi", Some(&key));
    for hook in ["/etc/kernel/postinst.d/zz-roombox-efi", "/etc/initramfs/post-update.d/zz-roombox-efi"] {
        assert!(root_link(&img.raw, root, hook).is_some(), "{hook}: kernel updates reach the ESP");
    }
    for package in ["linux-image-amd64", "systemd-boot-efi", "openssh-server"] {
        assert!(img.manifest.lines().any(|l| l.starts_with(&format!("{package}\t"))), "{package} is in the image");
    }
}
