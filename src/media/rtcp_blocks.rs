//! The report blocks of RTCP sender and receiver reports (RFC 3550 §6.4), read from the raw
//! compound packets a leg receives: what the place says of each of our streams. rtpsession's
//! statistics keep only the last block a source sent, whichever of our streams (media or
//! retransmission) it was about; rate adaptation needs the media stream's, and the round trip
//! of each report as it arrives (rtpsession's is read four times a second, and a thin link's
//! queue fills in a quarter of one).

/// One report block: what a receiver says of one of our streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// The share lost since the previous report, out of 256.
    pub fraction_lost: u8,
    /// Packets lost in all (may go negative with duplicates).
    pub cumulative_lost: i32,
    /// The highest sequence number received, extended with the wrap count.
    pub highest_seq: u32,
    /// The middle 32 bits of the NTP time of our last sender report the place had (0: none),
    /// and how long it held it before this report (1/65536 s).
    pub last_sr: u32,
    pub delay_since_sr: u32,
}

/// NTP's era starts 70 years before Unix's.
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// The middle 32 bits of the NTP time of `now` (1/65536 s), as rtpsession stamps our sender
/// reports (its default `ntp-time-source`, the real-time clock).
pub fn ntp_middle(now: std::time::SystemTime) -> Option<u32> {
    let since = now.duration_since(std::time::UNIX_EPOCH).ok()?;
    let seconds = since.as_secs() + NTP_UNIX_OFFSET_S;
    let fraction = (u64::from(since.subsec_nanos()) << 16) / 1_000_000_000;
    Some((((seconds & 0xffff) << 16) | fraction) as u32)
}

impl ReportBlock {
    /// The round trip (ms) this report shows, arriving at NTP time `arrived` (middle 32 bits,
    /// see [`ntp_middle`]): RFC 3550 §6.4.1. `None` before the place had a sender report of
    /// ours, or when the figure is impossible (a clock step).
    pub fn round_trip_ms(&self, arrived: u32) -> Option<f64> {
        if self.last_sr == 0 {
            return None;
        }
        let units = arrived.wrapping_sub(self.last_sr).wrapping_sub(self.delay_since_sr);
        // More than a minute is a clock step or a wrapped negative, no round trip.
        (units < 60 << 16).then(|| f64::from(units) * 1000.0 / 65536.0)
    }
}

const SR: u8 = 200;
const RR: u8 = 201;
const BLOCK: usize = 24;

/// The report blocks of every SR and RR in a compound packet. A malformed packet yields the
/// blocks before the damage and nothing after it.
pub fn report_blocks(packet: &[u8]) -> Vec<ReportBlock> {
    let mut blocks = Vec::new();
    let mut rest = packet;
    while rest.len() >= 4 {
        let (version, count, kind) = (rest[0] >> 6, usize::from(rest[0] & 0x1f), rest[1]);
        let length = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        if version != 2 || length > rest.len() {
            break;
        }
        let body = &rest[4..length];
        let first = match kind {
            SR => 24,
            RR => 4,
            _ => usize::MAX,
        };
        if let Some(reports) = body.get(first..) {
            for b in reports.chunks_exact(BLOCK).take(count) {
                let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                // 24 bits, signed: shift it up to the top and back.
                let lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
                blocks.push(ReportBlock {
                    ssrc: word(0),
                    fraction_lost: b[4],
                    cumulative_lost: lost,
                    highest_seq: word(8),
                    last_sr: word(16),
                    delay_since_sr: word(20),
                });
            }
        }
        rest = &rest[length..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32, fraction: u8, lost: i32, highest: u32) -> Vec<u8> {
        let mut b = ssrc.to_be_bytes().to_vec();
        b.push(fraction);
        b.extend_from_slice(&lost.to_be_bytes()[1..]);
        b.extend_from_slice(&highest.to_be_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&0x0001_8000u32.to_be_bytes());
        b.extend_from_slice(&0x0000_4000u32.to_be_bytes());
        b
    }

    fn packet(kind: u8, header: &[u8], blocks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = header.iter().copied().chain(blocks.iter().flatten().copied()).collect();
        let words = (body.len() + 4) / 4 - 1;
        let mut p = vec![0x80 | blocks.len() as u8, kind, (words >> 8) as u8, words as u8];
        p.extend(body);
        p
    }

    #[test]
    fn blocks_are_read_from_receiver_and_sender_reports_of_a_compound_packet() {
        let rr = packet(RR, &7u32.to_be_bytes(), &[block(0xAABB_CCDD, 25, 12, 70_000), block(5, 0, -3, 9)]);
        let sr = packet(SR, &[1; 24], &[block(0x1234, 255, 0x7f_ffff, 1)]);
        let sdes = packet(202, &[0; 8], &[]);
        let compound: Vec<u8> = [rr, sdes, sr].concat();
        let blocks = report_blocks(&compound);
        assert_eq!(blocks.len(), 3, "{blocks:?}");
        assert_eq!(
            blocks[0],
            ReportBlock {
                ssrc: 0xAABB_CCDD,
                fraction_lost: 25,
                cumulative_lost: 12,
                highest_seq: 70_000,
                last_sr: 0x0001_8000,
                delay_since_sr: 0x4000,
            }
        );
        assert_eq!(blocks[1].cumulative_lost, -3, "negative loss (duplicates) keeps its sign");
        assert_eq!((blocks[2].ssrc, blocks[2].cumulative_lost), (0x1234, 0x7f_ffff));
    }

    #[test]
    fn a_report_gives_the_round_trip_since_our_sender_report_less_the_place_s_hold() {
        let block = |last_sr, delay_since_sr| ReportBlock {
            ssrc: 1,
            fraction_lost: 0,
            cumulative_lost: 0,
            highest_seq: 0,
            last_sr,
            delay_since_sr,
        };
        // Sent at 1.5 s, held 0.25 s, back at 1.8125 s: 62.5 ms on the way.
        assert_eq!(block(0x0001_8000, 0x4000).round_trip_ms(0x0001_D000), Some(62.5));
        assert_eq!(block(0, 0).round_trip_ms(0x0001_D000), None, "no sender report of ours yet");
        assert_eq!(block(0x0001_8000, 0x4000).round_trip_ms(0x0001_0000), None, "arrived before it was sent");
        assert_eq!(block(0xffff_f000, 0).round_trip_ms(0x0000_1000), Some(125.0), "across the wrap");
    }

    #[test]
    fn the_ntp_middle_bits_count_seconds_and_sixty_five_thousandths_since_1900() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        let expected = ((((NTP_UNIX_OFFSET_S + 1) & 0xffff) << 16) | 0x8000) as u32;
        assert_eq!(ntp_middle(at), Some(expected));
    }

    #[test]
    fn damaged_packets_give_what_came_before_the_damage_and_never_panic() {
        let rr = packet(RR, &7u32.to_be_bytes(), &[block(1, 0, 0, 1)]);
        let mut cut = rr.clone();
        cut.extend_from_slice(&rr[..10]);
        assert_eq!(report_blocks(&cut).len(), 1);
        let mut lying = rr.clone();
        lying[0] = 0x80 | 5;
        assert_eq!(report_blocks(&lying).len(), 1, "a count larger than the blocks present");
        for n in 0..rr.len() {
            let _ = report_blocks(&rr[..n]);
        }
        assert!(report_blocks(&[0xff; 64]).is_empty());
    }
}
