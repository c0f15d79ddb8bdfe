//! Sound before picture on a busy box: the streaming threads of the room's sound (microphone,
//! echo canceller, speaker mixer, each leg's mix-minus) run at a higher priority than the
//! picture's. A board that encodes several places in software is often at full load, and a
//! sound thread that waits behind an encoder leaves gaps in what the room hears and a
//! speaker-to-microphone delay the echo canceller no longer follows.
//!
//! Every element on the sound path is named with [`SOUND`] in front; a thread whose task
//! belongs to such an element (or to an element inside one) raises its own priority as it
//! starts (GStreamer posts the stream-status message from the new thread itself), and any
//! other task's thread goes to the daemon's own priority (GStreamer reuses pooled threads).
//! Raising needs a nice limit (`LimitNICE=` in the unit) or CAP_SYS_NICE; without either the
//! sound stays at the daemon's priority and the room says so once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use gst::prelude::*;
use gstreamer as gst;

/// What the name of every element on the room's sound path starts with.
const SOUND: &str = "sound-";

/// How many nice levels the sound threads run above the rest of the daemon (a service at
/// nice 0 runs its sound at -10, which the unit allows with `LimitNICE=-10`).
const SOUND_RAISE: i32 = 10;

/// The nice value the daemon was started with: every thread that is not on the sound path
/// runs at it (a pooled thread that served sound and is reused for picture goes back to it).
fn base_nice() -> i32 {
    static BASE: OnceLock<i32> = OnceLock::new();
    *BASE.get_or_init(|| {
        // SAFETY: errno is this thread's; getpriority takes no pointers. -1 is a valid nice
        // value, so errno tells an error apart.
        unsafe {
            *libc::__errno_location() = 0;
            let nice = libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t);
            if nice == -1 && *libc::__errno_location() != 0 { 0 } else { nice }
        }
    })
}

/// The name of a sound element: `what` with [`SOUND`] in front.
pub fn sound_name(what: &str) -> String {
    format!("{SOUND}{what}")
}

/// The mark of an element on the sound path that has no name of ours (rtpbin names its own
/// jitter buffers).
const SOUND_MARK: &str = "roombox-sound";

/// Marks a sound session's jitter buffer as on the sound path (from `new-jitterbuffer`).
/// rtpbin may have started its thread already, so its first buffer raises that thread too.
pub(super) fn mark_sound_jitter_buffer(jb: &gst::Element) {
    // SAFETY: SOUND_MARK only ever holds a bool, set here and read in `on_sound_path`.
    unsafe { jb.set_data(SOUND_MARK, true) };
    if let Some(src) = jb.static_pad("src") {
        let name = jb.name();
        src.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, _| {
            set_this_thread(true, &name);
            gst::PadProbeReturn::Remove
        });
    }
}

/// Whether `element` is on the sound path: it, or a bin it is inside, is named or marked as
/// such.
fn on_sound_path(element: &gst::Element) -> bool {
    std::iter::successors(Some(element.clone().upcast::<gst::Object>()), |o| o.parent())
        // SAFETY: SOUND_MARK only ever holds a bool (`mark_sound_jitter_buffer`).
        .any(|o| o.name().starts_with(SOUND) || unsafe { o.data::<bool>(SOUND_MARK).is_some() })
}

/// Sets the calling thread's priority when a stream-status message says a task has just
/// started on it (called from the bus's sync handler, so on that thread): raised for a sound
/// element's task, the daemon's own for any other.
pub(super) fn on_stream_status(status: &gst::message::StreamStatus) {
    let (kind, owner) = status.get();
    if kind != gst::StreamStatusType::Enter {
        return;
    }
    set_this_thread(on_sound_path(&owner), &owner.name());
}

/// Sets the calling thread's nice value: raised for the sound of `element`, else the daemon's.
fn set_this_thread(sound: bool, element: &str) {
    let nice = if sound { (base_nice() - SOUND_RAISE).max(-20) } else { base_nice() };
    // SAFETY: gettid and setpriority take no pointers; PRIO_PROCESS with a thread id sets
    // that one thread's nice value on Linux.
    let refused = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) } != 0;
    static TOLD: AtomicBool = AtomicBool::new(false);
    if refused && sound && !TOLD.swap(true, Ordering::Relaxed) {
        tracing::info!(
            "the room's sound runs at the daemon's priority ({}): give the service LimitNICE=-10 \
             (or CAP_SYS_NICE) so sound keeps going when the picture takes all the CPU",
            std::io::Error::last_os_error()
        );
    } else if sound && !refused {
        tracing::debug!(element, nice, "sound thread raised");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of this process's thread named `name` (as the kernel shortens it).
    fn nice_of_thread(name: &str) -> Option<i32> {
        std::fs::read_dir("/proc/self/task").ok()?.flatten().find_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            (comm.trim_end() == name).then_some(())?;
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // After the command's closing parenthesis: state is field 3, nice field 19.
            stat.rsplit_once(')')?.1.split_whitespace().nth(16)?.parse().ok()
        })
    }

    #[test]
    fn a_sound_thread_runs_raised_and_a_picture_thread_at_the_daemons_priority() {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(
            "bin.( name=sound-mic audiotestsrc name=tone is-live=true ! fakesink ) \
             videotestsrc name=picture is-live=true ! fakesink",
        )
        .unwrap();
        pipeline.bus().unwrap().set_sync_handler(|_, msg| {
            if let gst::MessageView::StreamStatus(status) = msg.view() {
                on_stream_status(status);
            }
            gst::BusSyncReply::Drop
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (sound, picture) = (nice_of_thread("tone:src"), nice_of_thread("picture:src"));
        pipeline.set_state(gst::State::Null).unwrap();
        // make test runs as root, which may raise a thread.
        assert_eq!(sound, Some((base_nice() - SOUND_RAISE).max(-20)), "the tone inside sound-mic is raised");
        assert_eq!(picture, Some(base_nice()), "the picture stays at the daemon's priority");
        assert!(on_sound_path(&gst::ElementFactory::make("queue").name(sound_name("x")).build().unwrap()));
        assert!(!on_sound_path(&gst::ElementFactory::make("queue").name("soundless").build().unwrap()));
    }
}
