//! Loss: at 5 % seeded random loss both ways, NACK and RTX repair every gap.

use std::time::{Duration, Instant};

use str0m_netem::{Probability, RandomLoss};

use super::{delay, Harness};

#[test]
fn at_five_percent_loss_nack_and_rtx_leave_no_picture_with_a_gap() {
    let lossy = |seed| delay(15, seed).loss(RandomLoss::new(Probability::new(0.05)));
    let mut h = Harness::new(lossy(11));
    h.add_client(lossy(12), &[]);
    assert!(h.run_until(Duration::from_secs(5), |h| h.clients[0].connected));
    let wall = Instant::now();
    h.run_for(Duration::from_secs(10));
    let wall = wall.elapsed();
    let frames = &h.clients[0].frames;
    // Some packets were lost (each frame is several packets), yet every frame the page got
    // followed its predecessor without a gap.
    let gaps = frames.iter().skip(1).filter(|f| !f.contiguous).count();
    assert_eq!(gaps, 0, "{gaps} frames after a gap out of {}", frames.len());
    // About every frame of the 10 s arrived (a few may still be in flight at the end).
    assert!(
        frames.len() + 10 >= h.frames_written,
        "{} frames received of {} written",
        frames.len(),
        h.frames_written
    );
    assert!(
        h.frames_written > 550,
        "only {} frames written",
        h.frames_written
    );
    // Loss there was, and NACKs repaired it.
    let nacks = h.stats.first().map_or(0, |s| s.nacks);
    assert!(nacks > 20, "{nacks} NACKs: was anything lost?");
    eprintln!(
        "10 s of 60 fps at 5 % loss: {} frames, {nacks} NACKs, {} keyframes asked, {wall:?} of wall time",
        frames.len(),
        h.keyframe_commands
    );
}
