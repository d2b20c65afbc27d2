//! Any byte stream, split anywhere: the same lines as unsplit, none longer
//! than the cap, none containing a newline.
#![no_main]

use lanchat::room::framer::{Frame, Framer};
use libfuzzer_sys::fuzz_target;

fn frames(max: usize, pieces: &[&[u8]]) -> (Vec<Option<Vec<u8>>>, Option<Vec<u8>>) {
    let mut fr = Framer::new(max);
    let mut got = Vec::new();
    for p in pieces {
        fr.push(p, |f| {
            got.push(match f {
                Frame::Line(l) => Some(l.to_vec()),
                Frame::TooLong => None,
            })
        });
    }
    (got, fr.finish())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let max = usize::from(data[0] % 64) + 1;
    let step = usize::from(data[1]) + 1;
    let stream = &data[2..];
    let whole = frames(max, &[stream]);
    let pieces: Vec<&[u8]> = stream.chunks(step).collect();
    let split = frames(max, &pieces);
    assert_eq!(split, whole);
    for line in whole.0.iter().flatten() {
        assert!(line.len() <= max);
        assert!(!line.contains(&b'\n'));
    }
});
