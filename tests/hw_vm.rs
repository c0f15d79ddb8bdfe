//! The hardware tier: roombox against real kernel drivers in a VM (`scripts/vm/run`: QEMU
//! with Debian's kernel, `vivid` virtual cameras and the `snd-aloop` ALSA loopback, the host's
//! root mounted read-only). Skips, loudly, only when no kernel image can be installed.

use std::process::Command;

use roombox::control::Status;
use roombox::devices::Devices;

const BIN: &str = env!("CARGO_BIN_EXE_roombox");

/// Shell helpers for every script: `oslo` writes room oslo's config (room, SIP, peer bergen and
/// control socket) around the sections given on stdin (the media may take 60 s to start: the
/// emulated CPUs open devices and start encoders many times slower than a board does);
/// `start_rooms` starts oslo and bergen from `a.toml` and `b.toml` and waits until both
/// answer; `wait_for` waits for a condition or fails the script saying what it waited for.
const PRELUDE: &str = r#"
oslo() {
  { printf '[room]\nname = "oslo"\n[sip]\nlisten = "127.0.0.1:5061"\n[call]\nmedia_start_timeout_s = 60.0\npeers = ["sip:bergen@127.0.0.1:5062"]\n'
    cat; printf '[control]\nsocket = "%s/a.sock"\n' "$TMPDIR"; } > $TMPDIR/a.toml
}
# bergen: oslo's config turned around (name, port, peer, socket), auto-answering; $1 adds sed edits.
bergen() {
  sed "s/oslo/bergen/; s/5061/5062/; s/bergen@127.0.0.1:5062/oslo@127.0.0.1:5061/; s/a.sock/b.sock/; s/^\[call\]/[call]\nauto_answer = true/; $1" $TMPDIR/a.toml > $TMPDIR/b.toml
}
start_rooms() {
  $B run --config $TMPDIR/a.toml 2> $TMPDIR/a.log & $B run --config $TMPDIR/b.toml 2> $TMPDIR/b.log &
  wait_for 120 "both rooms to answer on their control sockets" \
    '$B ctl -s $TMPDIR/a.sock status >/dev/null 2>&1 && $B ctl -s $TMPDIR/b.sock status > /dev/null 2>&1'
}
# wait_for SECONDS WHAT CONDITION: until the shell condition holds. An emulated machine can be
# many times slower than the host, so the limits are generous; past one, the script says what
# it waited for, shows both rooms' logs and fails (the test prints all of it). It looks every
# 2 s: each `ctl` a condition runs takes 1-3 s of the emulated CPUs the rooms need.
wait_for() {
  end=$(( $(date +%s) + $1 ))
  until eval "$3"; do
    if [ "$(date +%s)" -ge $end ]; then
      echo "TIMEOUT: $2 (waited $1 s)"
      for log in a b; do echo "---- $log.log"; tail -40 $TMPDIR/$log.log 2>/dev/null; done
      exit 1
    fi
    sleep 2
  done
}
"#;

/// One VM at a time: two emulated VMs on two cores take longer than one after the other.
static VM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes the script that runs `body` in the VM and returns its path. The VM starts from the
/// host's GStreamer registry (made here once, in a second): the VM sees the same plugin files
/// over 9p, and scanning them all itself takes half a minute of emulated CPU per VM.
fn vm_script(name: &str, body: &str) -> String {
    static REGISTRY: std::sync::Once = std::sync::Once::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/vm");
    std::fs::create_dir_all(dir).unwrap();
    let registry = format!("{dir}/gst-registry.bin");
    REGISTRY.call_once(|| {
        let made = Command::new("gst-inspect-1.0").env("GST_REGISTRY", &registry).output().unwrap();
        assert!(made.status.success(), "the GStreamer registry for the VM: {}", String::from_utf8_lossy(&made.stderr));
    });
    let script = format!("{dir}/{name}.sh");
    let prepare = format!("B={BIN}\ncp {registry} $GST_REGISTRY\ngst-inspect-1.0 > /dev/null 2>&1\n");
    std::fs::write(&script, format!("{prepare}{PRELUDE}{body}")).unwrap();
    script
}

/// Runs `body` (shell) in the VM and returns what it printed between START and EXIT, or None
/// when the VM cannot be had here.
fn in_vm(name: &str, body: &str) -> Option<String> {
    let _one_at_a_time = VM.lock().unwrap_or_else(|e| e.into_inner());
    let script = vm_script(name, body);
    let out =
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/vm/run")).arg(&script).arg("400").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.code() == Some(77) {
        eprintln!("\n*** SKIPPED: hardware tier needs a VM: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let start = text
        .find("ROOMBOX-VM-START")
        .unwrap_or_else(|| panic!("the VM did not start:\n{text}\n{}", String::from_utf8_lossy(&out.stderr)));
    let body = &text[start..];
    assert!(body.contains("ROOMBOX-VM-EXIT 0"), "the script failed in the VM:\n{body}");
    Some(body.to_owned())
}

fn between<'a>(text: &'a str, begin: &str, end: &str) -> &'a str {
    let from = text.find(begin).unwrap_or_else(|| panic!("no {begin} in:\n{text}")) + begin.len();
    let to = text[from..].find(end).unwrap_or_else(|| panic!("no {end} in:\n{text}")) + from;
    &text[from..to]
}

#[test]
fn devices_finds_the_vivid_camera_with_its_modes_and_the_loopback_card() {
    let Some(out) = in_vm("devices", "echo JSON-BEGIN; $B devices --json; echo JSON-END") else { return };
    let devices: Devices = serde_json::from_str(between(&out, "JSON-BEGIN", "JSON-END")).unwrap();
    let camera = devices.cameras.first().expect("a camera");
    assert_eq!(camera.driver, "vivid");
    assert!(
        camera.modes.iter().any(|m| m.fourcc == "YUYV" && m.width == 1280 && m.height == 720),
        "{:?}",
        camera.modes
    );
    assert!(camera.modes.iter().all(|m| !m.fps.is_empty()), "every mode lists its frame rates");
    assert!(!camera.controls.is_empty(), "controls are listed");
    assert!(devices.audio.iter().any(|p| p.name == "plughw:CARD=Loopback,DEV=0" && p.capture && p.playback));
}

/// A call between oslo (vivid camera, loopback capture) and bergen (test source). The echo
/// canceller is off in the VM: emulated without KVM, `webrtcdsp` alone needs more than the
/// VM's CPUs and starves the call's audio (tests/echo.rs measures the canceller on the host).
const CALL: &str = r#"
speaker-test -D plughw:CARD=Loopback,DEV=1 -c 2 -r 48000 -t sine -f 440 > /dev/null 2>&1 &
oslo <<TOML
[video]
width = 320
height = 180
fps = 15
bitrate_kbps = 300
[audio]
playback = "null"
echo_cancel = false
[display]
output = "none"
TOML
bergen 's/^\[audio\]/[audio]\ncapture = "null"/; s/^\[video\]/[video]\nsource = "test"/'
start_rooms
$B ctl -s $TMPDIR/a.sock press > /dev/null
# Until both rooms decode the other's picture (the emulated CPUs take their time), then a bit.
wait_for 150 "both rooms to decode the other's picture" \
  "$B ctl -s $TMPDIR/a.sock status --json | grep -q '\"decoded_total\": [1-9]' &&
   $B ctl -s $TMPDIR/b.sock status --json | grep -q '\"decoded_total\": [1-9]'"
sleep 4
echo A-BEGIN; $B ctl -s $TMPDIR/a.sock status --json; echo A-END
echo B-BEGIN; $B ctl -s $TMPDIR/b.sock status --json; echo B-END
"#;

#[test]
fn a_call_sends_real_camera_frames_and_loopback_audio_in_the_modes_auto_chose() {
    // Then bergen's sound, five times a second apart: the level is that of the last sound
    // decoded, and oslo's capture thread, starved on the emulated CPUs, sends in bursts.
    let listen = "for i in 1 2 3 4 5; do sleep 1; echo HEARD-BEGIN; $B ctl -s $TMPDIR/b.sock status --json; echo HEARD-END; done";
    let Some(out) = in_vm("call", &format!("{CALL}\n{listen}\n")) else { return };
    let a: Status = serde_json::from_str(between(&out, "A-BEGIN", "A-END")).unwrap();
    let b: Status = serde_json::from_str(between(&out, "B-BEGIN", "B-END")).unwrap();
    assert!(a.video_source.starts_with("camera /dev/video0 (auto)"), "{}", a.video_source);
    assert!(a.video_source.contains("320x180 at 15 fps"), "auto picked the mode for the call: {}", a.video_source);
    assert!(a.audio_source.contains("Loopback"), "{}", a.audio_source);
    let seen = b.first_media().cloned().expect("bergen is in the call");
    let heard: Vec<Status> = out
        .split("HEARD-BEGIN")
        .skip(1)
        .filter_map(|s| serde_json::from_str::<Status>(s.split("HEARD-END").next()?).ok())
        .collect();
    // Over the five seconds of readings, not one sampled second: the emulated CPUs deliver
    // frames in bursts (8 of the camera's 15 fps at least).
    let decoded = heard.last().and_then(|s| s.first_media()).map_or(0, |m| m.video_in.decoded_total);
    assert!(decoded >= seen.video_in.decoded_total + 40, "bergen decodes oslo's camera: {:?}\n{out}", seen.video_in);
    let levels: Vec<f64> =
        heard.iter().map(|s| s.first_media().and_then(|m| m.audio_in.level_db).unwrap_or(-120.0)).collect();
    assert_eq!(levels.len(), 5, "five readings of bergen's status\n{out}");
    assert!(
        levels.iter().any(|l| *l > -40.0),
        "bergen hears the tone played into the loopback: {levels:?} dBFS\n{out}"
    );
}

#[test]
fn an_unplugged_camera_shows_the_slate_and_the_call_goes_on() {
    let script = format!(
        "{CALL}\nv4l2-ctl -d /dev/video0 -c disconnect=1\nsleep 4\n\
         echo A-LOST-BEGIN; $B ctl -s $TMPDIR/a.sock status --json; echo A-LOST-END\n\
         sleep 2\necho B-LOST-BEGIN; $B ctl -s $TMPDIR/b.sock status --json; echo B-LOST-END\n\
         sleep 3\necho B-LATER-BEGIN; $B ctl -s $TMPDIR/b.sock status --json; echo B-LATER-END\n"
    );
    let Some(out) = in_vm("unplug", &script) else { return };
    let before: Status = serde_json::from_str(between(&out, "A-BEGIN", "A-END")).unwrap();
    assert_eq!(before.first_media().cloned().unwrap().camera, "live");
    let a: Status =
        serde_json::from_str(between(&out, "A-LOST-BEGIN", "A-LOST-END")).expect("the daemon is still answering");
    assert_eq!(a.meeting.state, roombox::meeting::RoomState::InCall, "the call goes on without the camera");
    let camera = a.first_media().cloned().unwrap().camera;
    assert!(camera.starts_with("slate: camera lost"), "{camera}");
    let b: Status = serde_json::from_str(between(&out, "B-LOST-BEGIN", "B-LOST-END")).unwrap();
    let seen = b.first_media().cloned().expect("bergen is still in the call");
    let later: Status = serde_json::from_str(between(&out, "B-LATER-BEGIN", "B-LATER-END")).unwrap();
    let decoded = later.first_media().map_or(0, |m| m.video_in.decoded_total);
    // 8 of the slate's 15 fps at least, over 3 s (the emulated CPUs deliver in bursts).
    assert!(decoded >= seen.video_in.decoded_total + 24, "bergen sees the slate moving on: {:?}\n{out}", seen.video_in);
}

#[test]
fn a_busy_camera_shows_the_slate_until_it_is_free_then_the_call_uses_it() {
    // Another program streams from the camera when the call starts, and stops 6 s later.
    let script = format!(
        "v4l2-ctl -d /dev/video0 --stream-mmap > /dev/null 2>&1 & HOG=$!\nsleep 1\n{CALL}\n\
         echo A-BUSY-BEGIN; $B ctl -s $TMPDIR/a.sock status --json 2>&1; echo A-BUSY-END\n\
         kill $HOG\n\
         wait_for 120 'the camera to be live once free' \"$B ctl -s $TMPDIR/a.sock status --json | grep -q 'camera.: .live'\"\n\
         sleep 2\n\
         echo A-FREE-BEGIN; $B ctl -s $TMPDIR/a.sock status --json; echo A-FREE-END\n\
         echo B-FREE-BEGIN; $B ctl -s $TMPDIR/b.sock status --json; echo B-FREE-END\n\
         sleep 4\n\
         echo A-LATER-BEGIN; $B ctl -s $TMPDIR/a.sock status --json; echo A-LATER-END\n\
         echo B-LATER-BEGIN; $B ctl -s $TMPDIR/b.sock status --json; echo B-LATER-END\n\
         echo LOG-BEGIN; tail -25 $TMPDIR/a.log; echo LOG-END\n"
    );
    let Some(out) = in_vm("busy", &script) else { return };
    let busy: Status =
        serde_json::from_str(between(&out, "A-BUSY-BEGIN", "A-BUSY-END")).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(busy.meeting.state, roombox::meeting::RoomState::InCall, "a busy camera does not stop the call\n{out}");
    let camera = busy.first_media().cloned().expect("media runs").camera;
    assert!(
        camera.starts_with("slate") || camera == "starting",
        "the slate stands in while the camera is busy: {camera}"
    );
    let free: Status = serde_json::from_str(between(&out, "A-FREE-BEGIN", "A-FREE-END")).unwrap();
    assert_eq!(free.first_media().cloned().unwrap().camera, "live", "the camera is used once it is free\n{out}");
    let b: Status = serde_json::from_str(between(&out, "B-FREE-BEGIN", "B-FREE-END")).unwrap();
    // Both rooms and the camera hog share two emulated CPUs: each decodes only some of the
    // other's 15 fps here (oslo about 9, bergen 15; packets come in bursts, which repair must
    // not take for losses). Each must still be decoding: frames over 4 s, not one sampled
    // second.
    let (a_later, b_later): (Status, Status) = (
        serde_json::from_str(between(&out, "A-LATER-BEGIN", "A-LATER-END")).unwrap(),
        serde_json::from_str(between(&out, "B-LATER-BEGIN", "B-LATER-END")).unwrap(),
    );
    let decoded = |s: &Status| s.first_media().map_or(0, |m| m.video_in.decoded_total);
    assert!(decoded(&b_later) >= decoded(&b) + 8, "bergen still sees oslo's camera (2 fps at least)\n{out}");
    assert!(decoded(&a_later) >= decoded(&free) + 8, "oslo still sees bergen (2 fps at least)\n{out}");
}

#[test]
fn camera_controls_mixer_levels_and_mute_reach_the_real_drivers() {
    let script = r#"
modprobe snd-dummy || echo "cannot load snd-dummy"
oslo <<TOML
[video]
source = "/dev/video0"
width = 320
height = 180
fps = 15
bitrate_kbps = 300
[video.controls]
brightness = 200
contrast = 30
[audio]
capture = "plughw:CARD=Dummy,DEV=0"
playback = "plughw:CARD=Dummy,DEV=0"
capture_volume_percent = 25
playback_volume_percent = 70
echo_cancel = false
[display]
output = "none"
TOML
sed 's/brightness = 200/zoom_absolute = 3/; s#/dev/video0#/dev/video7#' $TMPDIR/a.toml > $TMPDIR/bad.toml
cat > $TMPDIR/b.toml <<TOML
board = "sim"
[room]
name = "bergen"
[sip]
listen = "127.0.0.1:5062"
[call]
auto_answer = true
media_start_timeout_s = 60.0
peers = ["sip:oslo@127.0.0.1:5061"]
[control]
socket = "$TMPDIR/b.sock"
TOML
echo CHECK-BEGIN; $B check -c $TMPDIR/a.toml 2>&1; echo "CHECK-EXIT $?"; echo CHECK-END
echo BAD-BEGIN; $B check -c $TMPDIR/bad.toml 2>&1; echo "BAD-EXIT $?"; echo BAD-END
amixer -c Dummy sset Master 0% > /dev/null; amixer -c Dummy sset Mic 100% > /dev/null
start_rooms
$B ctl -s $TMPDIR/a.sock press > /dev/null
wait_for 150 "oslo's media to run (bergen's picture decoded)" "$B ctl -s $TMPDIR/a.sock status --json | grep -q 'decoded_total.: [1-9]'"
echo CTRL-BEGIN; v4l2-ctl -d /dev/video0 -C brightness,contrast; echo CTRL-END
echo MIX-BEGIN; amixer -c Dummy sget Master; amixer -c Dummy sget Mic; echo MIX-END
$B ctl -s $TMPDIR/a.sock mute > /dev/null
echo MUTED-BEGIN; amixer -c Dummy sget Mic; echo MUTED-END
echo A-BEGIN; $B ctl -s $TMPDIR/a.sock status --json; echo A-END
$B ctl -s $TMPDIR/a.sock unmute > /dev/null
echo UNMUTED-BEGIN; amixer -c Dummy sget Mic; echo UNMUTED-END
echo LOG-BEGIN; tail -20 $TMPDIR/a.log; echo LOG-END
"#;
    let Some(out) = in_vm("settings", script) else { return };
    let check = between(&out, "CHECK-BEGIN", "CHECK-END");
    assert!(check.contains("CHECK-EXIT 0") && check.contains("everything configured was found"), "{check}");
    assert!(check.contains("controls brightness=200, contrast=30"), "{check}");
    let bad = between(&out, "BAD-BEGIN", "BAD-END");
    assert!(bad.contains("BAD-EXIT 2"), "{bad}");
    assert!(bad.contains("camera /dev/video7 not found (cameras here: /dev/video0 vivid"), "{bad}");
    let controls = between(&out, "CTRL-BEGIN", "CTRL-END");
    assert!(controls.contains("brightness: 200") && controls.contains("contrast: 30"), "{controls}\n{out}");
    let mix = between(&out, "MIX-BEGIN", "MIX-END");
    assert!(mix.contains("[70%]"), "speaker volume set to 70%: {mix}");
    assert!(mix.contains("[25%]"), "microphone gain set to 25%: {mix}");
    let muted = between(&out, "MUTED-BEGIN", "MUTED-END");
    assert!(muted.contains("[off]") && !muted.contains("[on]"), "mute cuts the mic at the card: {muted}\n{out}");
    let unmuted = between(&out, "UNMUTED-BEGIN", "UNMUTED-END");
    assert!(unmuted.contains("[on]"), "unmute opens it again: {unmuted}");
    let a: Status = serde_json::from_str(between(&out, "A-BEGIN", "A-END")).unwrap();
    assert_eq!(a.meeting.state, roombox::meeting::RoomState::InCall);
    assert!(a.mixer.contains("off (muted)"), "{}", a.mixer);
}

/// A screen grab of the VM's display (QEMU `screendump`, binary PPM).
struct Screen {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Screen {
    fn parse(bytes: &[u8]) -> Screen {
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
        }
        assert_eq!(fields[0], "P6", "a binary PPM");
        let (width, height) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        Screen { width, height, rgb: bytes[at + 1..].to_vec() }
    }

    fn pixel(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = (y * self.width + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// The bounding box (x0, y0, x1, y1) and count of pixels matching `is`.
    fn find(&self, is: impl Fn((u8, u8, u8)) -> bool) -> Option<((usize, usize, usize, usize), usize)> {
        let mut found: Option<(usize, usize, usize, usize)> = None;
        let mut count = 0;
        for y in 0..self.height {
            for x in 0..self.width {
                if is(self.pixel(x, y)) {
                    count += 1;
                    let b = found.get_or_insert((x, y, x, y));
                    *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
                }
            }
        }
        found.map(|b| (b, count))
    }
}

/// The VM's screen, grabbed through the QEMU monitor into `ppm`.
fn grab_screen(monitor: &str, ppm: &str) -> Screen {
    use std::io::{Read, Write};
    let _ = std::fs::remove_file(ppm);
    let mut qemu = std::os::unix::net::UnixStream::connect(monitor).expect("the QEMU monitor");
    writeln!(qemu, "screendump {ppm}").unwrap();
    let mut size = 0;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = std::fs::metadata(ppm).map(|m| m.len()).unwrap_or(0);
        if now > 0 && now == size {
            break;
        }
        size = now;
    }
    let mut bytes = Vec::new();
    std::fs::File::open(ppm).expect("the screen grab").read_to_end(&mut bytes).unwrap();
    Screen::parse(&bytes)
}

/// Runs `body` in a VM with a standard VGA screen; each `shot NAME` in the script grabs the
/// screen into the returned map once `shown(NAME, screen)` (the script waits until then).
fn in_vm_with_screen(
    name: &str,
    body: &str,
    shown: impl Fn(&str, &Screen) -> bool,
) -> Option<(String, std::collections::HashMap<String, Screen>)> {
    use std::io::BufRead;
    let _one_at_a_time = VM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/vm");
    std::fs::create_dir_all(dir).unwrap();
    let monitor = format!("{dir}/{name}.monitor");
    let _ = std::fs::remove_file(&monitor);
    let shot =
        format!("shot() {{ echo \"SCREENSHOT-NOW $1\"; while [ ! -e {dir}/{name}-$1.done ]; do sleep 0.2; done; }}\n");
    let script = vm_script(name, &format!("{shot}{body}"));
    let mut child = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/vm/run"))
        .arg(&script)
        .arg("400")
        .env("VM_MONITOR", &monitor)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut screens = std::collections::HashMap::new();
    let mut text = String::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap_or_default();
        text += &line;
        text.push('\n');
        let Some(shot_name) = line.trim().strip_prefix("SCREENSHOT-NOW ") else { continue };
        let ppm = format!("{dir}/{name}-{shot_name}.ppm");
        // A slow emulated machine may draw late: grab again (for up to 20 s) until the screen
        // shows what this shot is for; the test then asserts on the last grab.
        let mut screen = grab_screen(&monitor, &ppm);
        for _ in 0..40 {
            if shown(shot_name, &screen) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
            screen = grab_screen(&monitor, &ppm);
        }
        screens.insert(shot_name.to_owned(), screen);
        std::fs::write(format!("{dir}/{name}-{shot_name}.done"), "").unwrap();
    }
    let status = child.wait().unwrap();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().ends_with(".done") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if status.code() == Some(77) {
        eprintln!("\n*** SKIPPED: hardware tier needs a VM");
        return None;
    }
    let start = text.find("ROOMBOX-VM-START").unwrap_or_else(|| panic!("the VM did not start:\n{text}"));
    assert!(text[start..].contains("ROOMBOX-VM-EXIT 0"), "the script failed in the VM:\n{}", &text[start..]);
    Some((text[start..].to_owned(), screens))
}

#[test]
fn the_hdmi_screen_shows_the_idle_screen_then_the_remote_room_with_a_self_view() {
    let script = r#"
modprobe bochs; sleep 1
# A console on the screen, as on a Pi booted with HDMI attached.
printf "\033[2J\033[?25l" > /dev/tty1; sleep 1
oslo <<TOML
[video]
source = "videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000"
width = 320
height = 240
fps = 10
bitrate_kbps = 300
[audio]
capture = "test"
playback = "null"
[display]
output = "kms"
TOML
bergen 's/0xffff0000/0xff0000ff/; s/output = "kms"/output = "none"/'
echo CHECK-BEGIN; $B check -c $TMPDIR/a.toml | grep display; echo CHECK-END
start_rooms
sleep 3
shot idle
$B ctl -s $TMPDIR/a.sock press > /dev/null
wait_for 150 "oslo to decode bergen's picture" '$B ctl -s $TMPDIR/a.sock status | grep -q "video in:  *[1-9]"'
sleep 2
shot call
$B ctl -s $TMPDIR/a.sock leave > /dev/null
sleep 4
shot after
echo LOG-BEGIN; grep -v "INFO" $TMPDIR/a.log | tail -10; echo LOG-END
"#;
    let idle_color =
        |(r, g, b): (u8, u8, u8)| (20..=34).contains(&r) && (31..=45).contains(&g) && (42..=56).contains(&b);
    let white = |(r, g, b): (u8, u8, u8)| r > 200 && g > 200 && b > 200;
    let blue = |(r, g, b): (u8, u8, u8)| b > 180 && r < 60 && g < 60;
    let red = |(r, g, b): (u8, u8, u8)| r > 180 && g < 60 && b < 60;
    let shown = |name: &str, s: &Screen| match name {
        "call" => s.find(blue).is_some() && s.find(red).is_some(),
        _ => idle_color(s.pixel(s.width / 2, s.height / 10)),
    };
    let Some((out, screens)) = in_vm_with_screen("screen", script, shown) else { return };
    assert!(between(&out, "CHECK-BEGIN", "CHECK-END").contains("HDMI via KMS"), "{out}");
    for name in ["idle", "after"] {
        let s = &screens[name];
        assert!(
            idle_color(s.pixel(s.width / 2, s.height / 10)),
            "{name}: the idle screen's background: {:?}\n{out}",
            s.pixel(s.width / 2, s.height / 10)
        );
        let (_, text) = s.find(white).expect("the idle screen has text");
        assert!(text > 500, "{name}: room name and call to action are drawn ({text} white pixels)");
    }
    let call = &screens["call"];
    let ((bx0, by0, bx1, by1), _) =
        call.find(blue).unwrap_or_else(|| panic!("the remote room (blue) is on the screen\n{out}"));
    let ((rx0, ry0, rx1, ry1), _) =
        call.find(red).unwrap_or_else(|| panic!("the self-view (red) is on the screen\n{out}"));
    assert!(
        (by1 - by0 + 1) * 10 >= call.height * 9,
        "the remote room fills the screen's height: {by0}..{by1} of {}",
        call.height
    );
    let (remote_w, self_w) = (bx1 - bx0 + 1, rx1 - rx0 + 1);
    assert!((remote_w / 5..=remote_w / 3).contains(&self_w), "the self-view is small: {self_w} px of {remote_w}");
    assert!(rx0 > (bx0 + bx1) / 2 && ry0 > (by0 + by1) / 2, "the self-view is in the bottom-right corner");
    assert!(rx1 <= bx1 && ry1 <= by1, "inside the picture");
}
