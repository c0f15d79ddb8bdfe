//! Repair as the SDP carries it: RTCP feedback (RFC 4585 `a=rtcp-fb`: `nack`, `nack pli`,
//! `ccm fir`) and the RTX payload type (RFC 4588 `a=rtpmap:N rtx/90000`, `a=fmtp:N apt=M`)
//! that carries a stream's retransmissions. Only video is repaired this way (Opus repairs
//! itself with in-band FEC).

use super::PayloadFormat;

/// The payload type of our offer's video retransmissions.
pub const RTX_PT: u8 = 97;

/// The feedback both sides of a stream agreed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Feedback {
    /// Generic NACK: lost packets are asked for again (with RTX, resent).
    pub nack: bool,
    /// Picture Loss Indication: a keyframe is asked for when the picture broke.
    pub pli: bool,
    /// Full Intra Request: the same, as codec control.
    pub fir: bool,
}

impl Feedback {
    /// Everything roombox does, for its own offers and answers.
    pub const ALL: Feedback = Feedback { nack: true, pli: true, fir: true };

    /// What a payload format's `a=rtcp-fb` lines ask for (unknown values are ignored).
    pub fn of(format: &PayloadFormat) -> Feedback {
        let has = |value: &str| format.feedback.iter().any(|v| v.eq_ignore_ascii_case(value));
        Feedback { nack: has("nack"), pli: has("nack pli"), fir: has("ccm fir") }
    }

    /// What both ask for.
    pub fn and(self, other: Feedback) -> Feedback {
        Feedback { nack: self.nack && other.nack, pli: self.pli && other.pli, fir: self.fir && other.fir }
    }

    /// The `a=rtcp-fb` values that say so.
    pub fn values(self) -> Vec<String> {
        [(self.nack, "nack"), (self.pli, "nack pli"), (self.fir, "ccm fir")]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, v)| v.to_owned())
            .collect()
    }
}

/// The RTX format carrying retransmissions of payload type `apt`.
pub fn rtx_format(pt: u8, apt: u8) -> PayloadFormat {
    PayloadFormat {
        pt,
        encoding: "rtx".into(),
        clock_rate: 90000,
        channels: None,
        fmtp: Some(format!("apt={apt}")),
        feedback: Vec::new(),
    }
}

/// The RTX format of a media line that repairs payload type `apt`, if it has one.
pub fn rtx_for(formats: &[PayloadFormat], apt: u8) -> Option<&PayloadFormat> {
    formats.iter().find(|f| {
        f.encoding.eq_ignore_ascii_case("rtx") && f.fmtp_param("apt").and_then(|a| a.parse::<u8>().ok()) == Some(apt)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h264_with(feedback: &[&str]) -> PayloadFormat {
        PayloadFormat {
            pt: 100,
            encoding: "H264".into(),
            clock_rate: 90000,
            channels: None,
            fmtp: None,
            feedback: feedback.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn feedback_is_read_from_the_rtcp_fb_values_and_printed_back() {
        let fb = Feedback::of(&h264_with(&["nack", "NACK pli", "goog-remb", "transport-cc"]));
        assert_eq!(fb, Feedback { nack: true, pli: true, fir: false });
        assert_eq!(fb.values(), ["nack", "nack pli"]);
        assert_eq!(Feedback::of(&h264_with(&[])), Feedback::default());
        assert_eq!(Feedback::ALL.and(fb), fb);
    }

    #[test]
    fn the_rtx_format_is_found_by_the_payload_type_it_repairs() {
        let formats = [h264_with(&["nack"]), rtx_format(101, 100), rtx_format(103, 102)];
        assert_eq!(rtx_for(&formats, 100).map(|f| f.pt), Some(101));
        assert_eq!(rtx_for(&formats, 102).map(|f| f.pt), Some(103));
        assert_eq!(rtx_for(&formats, 96), None);
        assert_eq!(rtx_format(97, 96).rtpmap(), "97 rtx/90000");
    }
}
