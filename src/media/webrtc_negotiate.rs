//! Answering a browser's offer with webrtcbin, on the media thread (each step waits for
//! webrtcbin's promise, bounded): the offer is set, each m-line the room takes gets its
//! transceiver's codec and direction and the leg's payloader linked to it, the answer is made
//! and set, and ICE gathering completes, so the answer carries every candidate (no trickle
//! needed on a LAN).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;
use gstreamer_sdp as gst_sdp;
use gstreamer_webrtc as gst_webrtc;

use super::MediaError;
use super::leg::VIDEO;
use super::leg_stats::LegMeters;
use super::webrtc_offer::OfferedStream;

/// How long one negotiation step, and gathering the candidates, may take.
const STEP: Duration = Duration::from_secs(5);
/// Candidates are all in once none came for this long.
const QUIET: Duration = Duration::from_millis(10);

fn failed(what: &str, why: impl std::fmt::Display) -> MediaError {
    MediaError::Guest(format!("{what}: {why}"))
}

/// Emits `signal` with a promise and waits for its reply (bounded by [`STEP`]).
fn call(webrtc: &gst::Element, signal: &str, arg: &dyn ToValue) -> Result<Option<gst::Structure>, MediaError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let promise = gst::Promise::with_change_func(move |reply| {
        let _ = tx.send(reply.ok().flatten().map(|s| s.to_owned()));
    });
    webrtc.emit_by_name::<()>(signal, &[arg, &promise]);
    let reply = rx.recv_timeout(STEP).map_err(|_| failed(signal, "webrtcbin did not answer"))?;
    if let Some(error) = reply.as_ref().and_then(|r| r.get::<glib::Error>("error").ok()) {
        return Err(failed(signal, error));
    }
    Ok(reply)
}

/// The RTP the leg sends on one m-line: the payload type the offer gave the room's codec, and
/// the SSRC the payloader sends with (the answer announces it, so the browser ties the stream
/// to its track).
pub(super) fn send_caps(stream: &OfferedStream, session: u32, ssrc: u32) -> gst::Caps {
    let (media, name, rate) = if session == VIDEO { ("video", "H264", 90_000) } else { ("audio", "OPUS", 48_000) };
    gst::Caps::builder("application/x-rtp")
        .field("media", media)
        .field("encoding-name", name)
        .field("payload", i32::from(stream.pt))
        .field("clock-rate", rate)
        .field("ssrc", ssrc)
        .build()
}

/// The codec a transceiver may use: webrtcbin 1.22 matches the offer's m-lines to the
/// transceivers by intersecting with these when it answers (it keeps the offer's own fields,
/// packetization-mode among them), and answers NACK/PLI/FIR for the picture. No
/// profile-level-id: webrtcbin checks the payloader's caps against these, and the room's
/// encoder names its own level.
fn codec_preferences(stream: &OfferedStream, session: u32, ssrc: u32) -> gst::Caps {
    let mut caps = send_caps(stream, session, ssrc);
    if session == VIDEO
        && let Some(s) = caps.make_mut().structure_mut(0)
    {
        s.set("rtcp-fb-nack", true);
        s.set("rtcp-fb-nack-pli", true);
        s.set("rtcp-fb-ccm-fir", true);
        // The answer takes up the browser's playout-delay extension (webrtcbin answers the
        // extmaps its preferences name), which the leg's payloader then writes.
        if let Some(id) = stream.playout_delay {
            s.set(format!("extmap-{id}"), super::playout_delay::URI);
        }
    }
    caps
}

/// One stream the leg sends: its m-line, the element its RTP leaves from, its session (video
/// or audio) and SSRC.
pub(super) struct SendStream {
    pub stream: OfferedStream,
    pub out: gst::Element,
    pub session: u32,
    pub ssrc: u32,
}

/// Sets the offer, links each payloader to its m-line, and returns the answer's SDP.
pub(super) fn answer(
    webrtc: &gst::Element,
    offer: gst_sdp::SDPMessage,
    sends: &[SendStream],
) -> Result<String, MediaError> {
    let started = Instant::now();
    let step = |what: &str| tracing::debug!(ms = started.elapsed().as_millis() as u64, "guest answer: {what}");
    // Host candidates all arrive at once when gathering starts; webrtcbin then waits ≈ 0.2 s
    // before it calls gathering complete. The answer goes out once they have stopped coming.
    let gathered = Arc::new(std::sync::Mutex::new((0usize, Instant::now())));
    let count = gathered.clone();
    webrtc.connect("on-ice-candidate", false, move |_| {
        if let Ok(mut c) = count.lock() {
            *c = (c.0 + 1, Instant::now());
        }
        None
    });
    // UDP only: a browser on the LAN reaches the box over UDP, and every TCP candidate is one
    // more pair the browser checks before the call connects.
    if let Some(ice) = webrtc.property::<Option<glib::Object>>("ice-agent")
        && ice.find_property("ice-tcp").is_some()
    {
        ice.set_property("ice-tcp", false);
    }
    webrtc.set_state(gst::State::Ready).map_err(|e| failed("webrtcbin did not start", e))?;
    step("ready");
    let offer = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, offer);
    call(webrtc, "set-remote-description", &offer)?;
    step("offer set");
    // One sink pad per m-line the room takes, named after it; webrtcbin 1.22 makes its
    // transceiver now and pairs it with the offer's m-line when it answers.
    for SendStream { stream, out: pay, session, ssrc } in sends {
        let mline = stream.mline;
        let sink = webrtc
            .request_pad_simple(&format!("sink_{mline}"))
            .ok_or_else(|| failed("webrtcbin", format!("no sink pad for m-line {mline}")))?;
        let transceiver = sink
            .property::<Option<gst_webrtc::WebRTCRTPTransceiver>>("transceiver")
            .ok_or_else(|| failed("webrtcbin", format!("no transceiver for m-line {mline}")))?;
        transceiver.set_property("direction", gst_webrtc::WebRTCRTPTransceiverDirection::Sendrecv);
        transceiver.set_property("codec-preferences", codec_preferences(stream, *session, *ssrc));
        if *session == VIDEO {
            transceiver.set_property("do-nack", true);
        }
        let src = pay.static_pad("src").ok_or_else(|| failed("payloader", "no src pad"))?;
        src.link(&sink).map_err(|e| failed(&format!("linking m-line {mline}"), format!("{e:?}")))?;
    }
    step("pads linked");
    let reply =
        call(webrtc, "create-answer", &None::<gst::Structure>)?.ok_or_else(|| failed("create-answer", "no answer"))?;
    let answer = reply.get::<gst_webrtc::WebRTCSessionDescription>("answer").map_err(|e| failed("create-answer", e))?;
    let answer = dtls_server(&answer)?;
    step("answer made");
    call(webrtc, "set-local-description", &answer)?;
    step("answer set");
    let until = Instant::now() + STEP;
    let settled = || gathered.lock().is_ok_and(|c| c.0 > 0 && c.1.elapsed() >= QUIET);
    while !settled()
        && webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
            != gst_webrtc::WebRTCICEGatheringState::Complete
    {
        if Instant::now() >= until {
            return Err(failed("ICE", "gathering the box's candidates did not complete within 5 s"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    step("candidates gathered");
    let local = webrtc
        .property::<Option<gst_webrtc::WebRTCSessionDescription>>("local-description")
        .ok_or_else(|| failed("set-local-description", "no local description"))?;
    let text = local.sdp().as_text().map_err(|e| failed("the answer", e))?;
    if !text.contains("a=candidate") {
        return Err(failed("ICE", "the box has no network address to offer the guest (no candidate gathered)"));
    }
    tracing::trace!(answer = %text, "answer to a guest");
    Ok(text)
}

/// The answer with the box as the DTLS server (`a=setup:passive`) where webrtcbin chose
/// client: the browser then starts the handshake the moment its ICE check is answered, instead
/// of the box starting it once its own ICE agent has passed the news on (0-45 ms later here).
/// The leg must run before the answer leaves (see `Engine::start_guest`).
fn dtls_server(
    answer: &gst_webrtc::WebRTCSessionDescription,
) -> Result<gst_webrtc::WebRTCSessionDescription, MediaError> {
    let mut sdp = answer.sdp().to_owned();
    for media in sdp.medias_mut() {
        let active = media.attributes().position(|a| a.key() == "setup" && a.value() == Some("active"));
        if let Some(at) = active {
            media
                .replace_attribute(at as u32, gst_sdp::SDPAttribute::new("setup", Some("passive")))
                .map_err(|e| failed("the answer's DTLS role", e))?;
        }
    }
    Ok(gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Answer, sdp))
}

/// Makes the process's DTLS certificate before the first guest needs it: GStreamer's DTLS
/// elements generate one key pair on first use (≈ 0.6 s here) and share it after, which would
/// otherwise delay the first guest's join by that much.
pub(super) fn warm_up() {
    let started = Instant::now();
    match gst::ElementFactory::make("dtlssrtpdec").build() {
        Ok(_) => tracing::debug!(ms = started.elapsed().as_millis() as u64, "DTLS certificate ready for guests"),
        Err(e) => {
            tracing::warn!("no DTLS for browser guests: {e} (install gstreamer1.0-plugins-bad and gstreamer1.0-nice)")
        }
    }
}

/// webrtcbin holds each packet it sends until its running time plus the room pipeline's
/// latency: a `clocksync` on each stream it is given (made once the stream is connected, after
/// the answer), another before its transport, and the RTP `nicesink`. A SIP leg's `udpsink`
/// sends at once; so does a guest's leg (the browser's jitter buffer, not the box, paces the
/// picture). Holding them cost the guest ≈ 27 ms: the room's latency less the time to encode.
/// Called before negotiation: the elements webrtcbin makes later are caught as they come.
pub(super) fn send_at_once(webrtc: &gst::Element) {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else { return };
    let unsync = |element: &gst::Element| {
        if element.factory().is_some_and(|f| matches!(f.name().as_str(), "clocksync" | "nicesink")) {
            element.set_property("sync", false);
            tracing::trace!(element = %element.name(), "a guest's packets are sent as they are made");
        }
    };
    bin.iterate_recurse().into_iter().flatten().for_each(|e| unsync(&e));
    bin.connect_deep_element_added(move |_, _, element| unsync(element));
}

/// Counts every packet from the guest (RTP, RTCP or DTLS, as ICE hands them over) as a sign
/// of life: a guest that only watches still sends its receiver reports.
pub(super) fn count_arrivals(webrtc: &gst::Element, meters: &Arc<LegMeters>) {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else { return };
    for element in bin.iterate_recurse().into_iter().flatten() {
        if element.factory().is_some_and(|f| f.name() == "nicesrc") {
            let meters = meters.clone();
            super::probe_buffers(&element, "src", move |_, _| meters.arrived());
        }
    }
}

/// The offer's ICE candidates in words: how many name an address, and how many hide the
/// browser's address behind an mDNS `.local` name. The box resolves no `.local` name: with no
/// address in the offer, the browser's connectivity checks reach the box from its real
/// address, which ICE takes as a peer-reflexive candidate (that is how such a guest connects).
pub(super) fn describe_candidates(offer: &str) -> String {
    let addresses: Vec<&str> =
        offer.lines().filter(|l| l.starts_with("a=candidate")).filter_map(|c| c.split_whitespace().nth(4)).collect();
    let mdns = addresses.iter().filter(|a| a.ends_with(".local")).count();
    format!("{} addresses, {mdns} mDNS names", addresses.len() - mdns)
}

#[cfg(test)]
mod tests {
    use super::super::webrtc_offer::OfferedStream;

    #[test]
    fn the_picture_takes_up_the_offered_playout_delay_extension() {
        gstreamer::init().unwrap();
        let offered = OfferedStream { mline: 1, pt: 108, playout_delay: Some(5) };
        let caps = super::codec_preferences(&offered, super::VIDEO, 7);
        let s = caps.structure(0).unwrap();
        assert_eq!(s.get::<&str>("extmap-5").unwrap(), super::super::playout_delay::URI);
        let none = OfferedStream { playout_delay: None, ..offered };
        let caps = super::codec_preferences(&none, super::VIDEO, 7);
        assert!(!caps.structure(0).unwrap().fields().any(|f| f.starts_with("extmap-")), "{caps}");
    }

    #[test]
    fn the_box_answers_as_the_dtls_server() {
        gstreamer::init().unwrap();
        let text = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
                    m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=setup:active\r\na=mid:0\r\n\
                    m=video 9 UDP/TLS/RTP/SAVPF 108\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=setup:active\r\n";
        let sdp = gstreamer_sdp::SDPMessage::parse_buffer(text.as_bytes()).unwrap();
        let answer = gstreamer_webrtc::WebRTCSessionDescription::new(gstreamer_webrtc::WebRTCSDPType::Answer, sdp);
        let served = super::dtls_server(&answer).unwrap().sdp().as_text().unwrap();
        assert_eq!(served.matches("a=setup:passive").count(), 2, "{served}");
        assert!(!served.contains("a=setup:active"), "{served}");
        assert!(
            served.contains("a=setup:passive\r\na=mid:0") && served.contains("a=mid:1\r\na=setup:passive"),
            "{served}"
        );
    }

    #[test]
    fn candidates_are_described_with_their_mdns_names() {
        let offer = "a=candidate:1 1 udp 2122260223 1f2e-aa.local 51000 typ host\r\n\
                     a=candidate:2 1 udp 2122260223 203.0.113.2 51001 typ host\r\n";
        assert_eq!(super::describe_candidates(offer), "1 addresses, 1 mDNS names");
    }
}
