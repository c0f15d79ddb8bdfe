//! The report blocks of RTCP sender and receiver reports (RFC 3550 §6.4), read from the raw
//! compound packets a leg receives: what the place says of each of our streams. rtpsession's
//! statistics keep only the last block a source sent, whichever of our streams (media or
//! retransmission) it was about; rate adaptation needs the media stream's.

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
        b.extend_from_slice(&[0; 12]);
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
            ReportBlock { ssrc: 0xAABB_CCDD, fraction_lost: 25, cumulative_lost: 12, highest_seq: 70_000 }
        );
        assert_eq!(blocks[1].cumulative_lost, -3, "negative loss (duplicates) keeps its sign");
        assert_eq!((blocks[2].ssrc, blocks[2].cumulative_lost), (0x1234, 0x7f_ffff));
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
