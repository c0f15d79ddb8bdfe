//! `ctl status` as text an admin reads over SSH: the room, then every place of the meeting
//! with its state, codecs and live figures each way, then the devices.

use crate::control::Status;
use crate::media::MediaStats;
use crate::meeting::LegStatus;
use crate::sdp::NegotiatedStream;

fn codec(s: &Option<NegotiatedStream>) -> String {
    s.as_ref().map_or("-".into(), |s| format!("{} pt {}", s.codec, s.pt))
}

fn place(out: &mut String, leg: &LegStatus, media: Option<&MediaStats>) {
    *out += &format!(
        "place:   {} ({}, {}) {:?} for {:.1} s\n",
        leg.name,
        leg.peer,
        leg.direction,
        leg.state,
        leg.state_for_ms as f64 / 1000.0
    );
    if leg.interrupted {
        *out += "  INTERRUPTED: no media arrives from this place (its call ends unless it returns)\n";
    }
    let negotiated = leg.negotiated.as_ref().filter(|n| n.video.is_some() || n.audio.is_some());
    if let Some(n) = negotiated {
        *out += &format!("  codecs:    video {}, audio {}\n", codec(&n.video), codec(&n.audio));
    }
    let Some(m) = media else { return };
    if negotiated.is_none() {
        // A guest's codecs come from its browser's offer, not from SDP the core read.
        let name = |c: &str| if c.is_empty() { "-".to_owned() } else { c.to_owned() };
        *out += &format!("  codecs:    video {}, audio {}\n", name(&m.video_in.codec), name(&m.audio_in.codec));
    }
    let (v, a) = (&m.video_in, &m.audio_in);
    let protection = [v, a].iter().map(|s| s.encryption.as_str()).find(|e| !e.is_empty()).unwrap_or("none");
    let dropped = v.dropped_unauthenticated + a.dropped_unauthenticated;
    let foreign = v.dropped_foreign + a.dropped_foreign;
    *out += &format!(
        "  security:  {protection}; dropped {dropped} packets failing SRTP authentication, {foreign} from strangers\n"
    );
    *out += &format!(
        "  video in:  {:5.1} fps  {:7.0} kbit/s  lost {}  jitter {:.1} ms{}\n",
        v.decoded_per_s,
        v.kbps,
        v.packets_lost.max(0),
        v.jitter_ms,
        v.picture.map(|p| format!("  {p}")).unwrap_or_default()
    );
    *out += &format!(
        "  audio in:  {:5.1} buf/s {:7.0} kbit/s  lost {}  jitter {:.1} ms  level {:.0} dBFS\n",
        a.decoded_per_s,
        a.kbps,
        a.packets_lost.max(0),
        a.jitter_ms,
        a.level_db.unwrap_or(-120.0)
    );
    *out += &format!(
        "  out:       video {:5.0} kbit/s ({})   audio {:5.0} kbit/s\n",
        m.video_out.kbps, m.encoder, m.audio_out.kbps
    );
    *out += &repair(m);
}

/// Loss repair each way, and what the place reports of our stream.
fn repair(m: &MediaStats) -> String {
    let (v, o) = (&m.video_in, &m.video_out);
    let mut line = format!(
        "  repair in: video {} packets asked again, {} recovered, {} given up, {} keyframes asked; audio {} concealed{}\n",
        v.nacks_sent,
        v.recovered,
        v.unrepaired,
        v.keyframes_asked,
        m.audio_in.unrepaired,
        if m.audio_in.fec_decoding { ", FEC on" } else { "" }
    );
    line += &format!(
        "  repair out: {} NACKs, {} packets resent, {} keyframe requests ({} keyframes made for the room)",
        o.nacks_received, o.resent, o.keyframe_requests, m.keyframes_on_request
    );
    if let (Some(loss), Some(rtt)) = (o.loss_reported_pct, o.rtt_ms) {
        line += &format!("; the place loses {loss:.1} % of ours, round trip {rtt:.1} ms");
    }
    line += "\n";
    if let Some(target) = o.target_kbps {
        let size = match m.encoder_size {
            Some(size) if m.encoder_size_lowered => format!(", {size} (smaller: the full size needs more)"),
            Some(size) => format!(", {size}"),
            None => String::new(),
        };
        line += &format!(
            "  rate:      this path carries {target} kbit/s ({}); the room encodes at {} kbit/s{size}\n",
            o.target_reason, m.encoder_kbps
        );
    }
    line
}

pub fn render_status(s: &Status) -> String {
    let m = &s.meeting;
    let places = if m.places > 0 { format!("  places: {} of {}", m.places, m.max_places) } else { String::new() };
    let mut out = format!(
        "room:    {}  state: {:?}  LED: {:?}{places}{}\n",
        m.room,
        m.state,
        m.led,
        if m.muted { "  (muted)" } else { "" }
    );
    for leg in &m.legs {
        place(&mut out, leg, s.media.iter().find(|x| x.leg == leg.id).map(|x| &x.stats));
    }
    for u in &m.unreached {
        out += &format!("unreached: {} ({})\n", u.peer, u.reason);
    }
    if let Some(notice) = &m.notice {
        out += &format!("notice:  {notice}\n");
    }
    if let Some(camera) = s.media.first().map(|x| &x.stats.camera).filter(|c| c.starts_with("slate")) {
        out += &format!("camera:  {camera} (the meeting goes on; it returns by itself)\n");
    }
    if let Some(busy) = &s.media_busy {
        out += &format!("media:   {busy}\n");
    }
    if let Some(error) = &m.last_error {
        out += &format!("last error: {error}\n");
    }
    out += &format!("camera:  {}   mic: {}   screen: {}\n", s.video_source, s.audio_source, s.display);
    out += &format!("encoder: {}\n", s.encoder_reason);
    if !s.mixer.is_empty() {
        out += &format!("mixer:   {}\n", s.mixer);
    }
    out += &format!("panel:   {}\n", s.panel);
    if !s.addresses.is_empty() {
        out += &format!("address: {}\n", s.addresses.join("  "));
    }
    out
}
