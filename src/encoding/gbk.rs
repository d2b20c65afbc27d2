//! A table-driven fast path for decoding GBK and GB18030's two-byte part.
//!
//! encoding_rs decodes GBK correctly but walks its tables per character
//! (about 2 µs per 1,000-byte message here). Chinese text is mostly
//! two-byte sequences and ASCII, so [`Table`] holds the character of every
//! two-byte sequence, **asked of encoding_rs at start-up** (the mapping is
//! the library's, not ours), and [`decode_prefix`] decodes ASCII runs and
//! those pairs at memory speed. It stops at the first byte that is anything
//! else (a four-byte GB18030 sequence, an invalid byte, a lone lead byte at
//! the end, 0x80) and says how far it got; the caller
//! ([`super::Encoding::decode_into`]) gives the rest to encoding_rs, from a
//! clean state: the decoder holds nothing between complete sequences, so
//! the result — text, where the U+FFFD fall, the `malformed` flag — is
//! exactly encoding_rs's (tested for every one- and two-byte sequence, and
//! on random byte strings).
//!
//! The one `unsafe` outside [`crate::sys`] is here: the loop writes UTF-8
//! it knows to be whole straight into the string's buffer. Two safe forms
//! were measured at 3× its time per 1,000 bytes (`String::push(char)`:
//! 2.5-2.7 µs; bytes then `String::from_utf8`: 3.1-3.6 µs; this loop:
//! 0.8-0.9 µs; encoding_rs alone: 1.9 µs), which would undo the fast path.

use std::sync::OnceLock;

use encoding_rs::{CoderResult, Encoding};

const LEAD: std::ops::RangeInclusive<u8> = 0x81..=0xFE;
const TRAIL: std::ops::RangeInclusive<u8> = 0x40..=0xFE;

/// The character of each two-byte sequence of one encoding, as UTF-8.
pub(super) struct Table {
    /// `lead << 8 | trail` → the character's UTF-8 bytes (little-endian,
    /// low three bytes) and their count (2 or 3, the high byte); 0 where
    /// the pair is not one character on its own (then encoding_rs decides).
    /// Indexed by the two bytes themselves: no range checks on the hot path.
    utf8: Box<[u32; 65536]>,
}

impl Table {
    /// Builds the table by decoding every two-byte sequence with
    /// encoding_rs.
    pub(super) fn build(encoding: &'static Encoding) -> Table {
        let mut utf8: Box<[u32; 65536]> = vec![0u32; 65536]
            .into_boxed_slice()
            .try_into()
            .expect("65536 entries");
        let mut out = String::with_capacity(16);
        for lead in LEAD {
            for trail in TRAIL {
                out.clear();
                // A fresh decoder per pair: each is decoded on its own.
                let mut decoder = encoding.new_decoder_without_bom_handling();
                let (result, _, malformed) =
                    decoder.decode_to_string(&[lead, trail], &mut out, true);
                debug_assert_eq!(result, CoderResult::InputEmpty);
                let mut it = out.chars();
                if let (Some(ch), None, false) = (it.next(), it.next(), malformed) {
                    let len = ch.len_utf8();
                    if (2..=3).contains(&len) {
                        let mut b = [0u8; 4];
                        ch.encode_utf8(&mut b);
                        b[3] = len as u8;
                        utf8[index(lead, trail)] = u32::from_le_bytes(b);
                    }
                }
            }
        }
        Table { utf8 }
    }

    /// The packed UTF-8 of `[lead, trail]` (see `utf8`), 0 if it is not one
    /// character on its own.
    #[inline(always)]
    fn packed(&self, lead: u8, trail: u8) -> u32 {
        self.utf8[index(lead, trail)]
    }

    /// The UTF-8 of `[lead, trail]`, if it is one character on its own.
    #[cfg(test)]
    fn get(&self, lead: u8, trail: u8) -> Option<Vec<u8>> {
        match self.packed(lead, trail).to_le_bytes() {
            [_, _, _, 0] => None,
            [x, y, z, n] => Some([x, y, z][..usize::from(n)].to_vec()),
        }
    }
}

#[inline(always)]
fn index(lead: u8, trail: u8) -> usize {
    usize::from(lead) << 8 | usize::from(trail)
}

/// The table of an encoding that has the fast path (GBK, GB18030), built
/// the first time it is asked for. The two share one: in the Encoding
/// Standard, which encoding_rs implements, GBK's decoder is gb18030's
/// decoder (the exhaustive tests check every pair against both).
#[inline]
pub(super) fn table_for(encoding: &'static Encoding) -> Option<&'static Table> {
    static TABLE: OnceLock<Table> = OnceLock::new();
    (encoding == encoding_rs::GBK || encoding == encoding_rs::GB18030)
        .then(|| TABLE.get_or_init(|| Table::build(encoding_rs::GB18030)))
}

/// Decodes the longest prefix of `bytes` made of ASCII and two-byte
/// characters into `out` (replacing it), exactly as encoding_rs would;
/// returns how many bytes it took (all of them, for most Chinese text).
#[inline]
pub(super) fn decode_prefix(table: &Table, bytes: &[u8], out: &mut String) -> usize {
    out.clear();
    let n = bytes.len();
    let mut i = 0;
    {
        // SAFETY (as_mut_vec): the bytes kept, below `len`, are whole UTF-8
        // sequences: ASCII bytes, and table entries, each the UTF-8 of a
        // char (Table::build).
        let v = unsafe { out.as_mut_vec() };
        // Two bytes become at most three, one byte one; room for the
        // unconditional 4-byte store of a character.
        v.reserve(n + n / 2 + 4);
        let base = v.as_mut_ptr();
        let mut len = 0;
        // Invariant: len <= i + i / 2, so every store below stays within
        // the capacity reserved (n + n / 2 + 4).
        while i < n {
            let b = bytes[i];
            if b < 0x80 {
                // SAFETY: len < capacity (invariant).
                unsafe { base.add(len).write(b) };
                len += 1;
                i += 1;
                continue;
            }
            if i + 1 == n {
                break;
            }
            let packed = table.packed(b, bytes[i + 1]);
            let count = (packed >> 24) as usize;
            if count == 0 {
                break;
            }
            // SAFETY: i + 2 <= n, so len + 4 <= n + n / 2 + 4 (invariant).
            unsafe {
                base.add(len)
                    .cast::<[u8; 4]>()
                    .write_unaligned(packed.to_le_bytes())
            };
            len += count;
            i += 2;
        }
        // SAFETY: every byte below len was written, and len is within the
        // capacity (invariant).
        unsafe { v.set_len(len) };
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(encoding: &'static Encoding, bytes: &[u8]) -> (String, bool) {
        let (text, malformed) = encoding.decode_without_bom_handling(bytes);
        (text.into_owned(), malformed)
    }

    fn fast(encoding: &'static Encoding, bytes: &[u8]) -> (String, bool) {
        let mut out = String::from("left over");
        let label = if encoding == encoding_rs::GBK {
            "gbk"
        } else {
            "gb18030"
        };
        let malformed = super::super::Encoding::for_decoding(label)
            .unwrap()
            .decode_into(bytes, &mut out);
        (out, malformed)
    }

    #[test]
    fn every_one_and_two_byte_sequence_decodes_as_the_library_does() {
        for encoding in [encoding_rs::GBK, encoding_rs::GB18030] {
            for a in 0..=255u8 {
                assert_eq!(fast(encoding, &[a]), library(encoding, &[a]), "{a:02X}");
                for b in 0..=255u8 {
                    let pair = [a, b];
                    assert_eq!(
                        fast(encoding, &pair),
                        library(encoding, &pair),
                        "{a:02X} {b:02X}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_pair_between_text_and_after_a_lone_lead_byte() {
        // Context matters only through the decoder's state: a pair after
        // ASCII, before a four-byte sequence, or after a broken pair.
        let enc = encoding_rs::GBK;
        for a in 0x80..=0xFFu8 {
            for b in 0..=255u8 {
                for bytes in [
                    vec![b'x', a, b, b'y'],
                    vec![0xC4, 0xE3, a, b, 0x81, 0x30, 0x81, 0x30],
                    vec![0x81, a, b],
                ] {
                    assert_eq!(fast(enc, &bytes), library(enc, &bytes), "{bytes:02X?}");
                }
            }
        }
    }

    #[test]
    fn the_table_covers_the_common_characters() {
        let t = table_for(encoding_rs::GBK).unwrap();
        assert_eq!(t.get(0xC4, 0xE3).as_deref(), Some("你".as_bytes()));
        assert_eq!(t.get(0xBA, 0xC3).as_deref(), Some("好".as_bytes()));
        // Two-byte pairs that are not one character are left to the library.
        assert_eq!(t.get(0x81, 0x30), None, "a four-byte sequence's start");
        assert_eq!(t.get(0x80, 0x40), None);
        assert_eq!(t.get(0xFF, 0x40), None);
        let known = t.utf8.iter().filter(|&&e| e != 0).count();
        assert!(known > 21_000, "{known} two-byte characters");
    }
}
