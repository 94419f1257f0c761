//! A page's way out of the session when its signaling task panics: the task's own end
//! (`InputMsg::Gone`, the peer's `Leave`) never runs then, and the page's member stayed in the
//! room for good, holding its role, control and seat (a `--turn-ttl` overflow once did this to
//! every page that joined).

use crossbeam_channel::Sender;

use crate::input::InputMsg;
use crate::net::RtcCommand;
use crate::peer::PeerId;

/// Held for a signaling task's life: dropped while unwinding from a panic, it tells the rtc
/// thread that the peer leaves and the input thread that its member went (best effort: a full
/// queue drops the word, as the task's own end would after its retries). A task that ends
/// normally says so itself, and this does nothing.
pub(super) struct LeaveOnPanic {
    pub(super) commands: Sender<RtcCommand>,
    pub(super) input: Sender<InputMsg>,
    pub(super) peer: PeerId,
}

impl Drop for LeaveOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        tracing::error!(peer = %self.peer, "signaling task panicked: its page leaves the session");
        let peer = self.peer;
        let _ = self.commands.try_send(RtcCommand::Leave { peer });
        // Nothing held for it: what a bug left is not a place to come back to.
        let pictured = false;
        let _ = self.input.try_send(InputMsg::Gone { peer, pictured });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_task_leaves_and_one_that_ends_says_nothing() {
        let (commands, rtc) = crossbeam_channel::bounded(4);
        let (input, members) = crossbeam_channel::bounded(4);
        let guard = |peer| LeaveOnPanic {
            commands: commands.clone(),
            input: input.clone(),
            peer: PeerId(peer),
        };
        drop(guard(1));
        assert!(rtc.try_recv().is_err() && members.try_recv().is_err());
        let g = guard(2);
        let task = std::thread::spawn(move || {
            let _g = g;
            panic!("a bug in a signaling task");
        });
        assert!(task.join().is_err());
        assert!(matches!(rtc.try_recv(), Ok(RtcCommand::Leave { peer }) if peer == PeerId(2)));
        assert!(
            matches!(members.try_recv(), Ok(InputMsg::Gone { peer, pictured: false }) if peer == PeerId(2))
        );
    }
}
