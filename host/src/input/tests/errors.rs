//! An injection that fails (a key the display has no keycode for) is counted, and the page is
//! told at most once a second: a page sending thousands of them neither floods the log nor
//! its own socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::inject::InjectError;
use super::super::reconcile::{Action, Control};
use super::super::roles::{Admission, Role, RoomConfig};
use super::super::{wire, Injector, InputCounters, InputMsg};
use super::Sender;
use crate::peer::{Notice, PeerId, PeerNotifier};
use crate::proto::signaling::ErrorCode;

/// An injector whose every key fails, as an X display without the key's keycode does.
struct NoKeys;

impl Injector for NoKeys {
    fn apply(&mut self, _: PeerId, action: Action) -> Result<(), InjectError> {
        match action {
            Action::Press(Control::Key(u)) | Action::Release(Control::Key(u)) => {
                Err(InjectError::UnknownKey(u))
            }
            _ => Ok(()),
        }
    }
    fn text(&mut self, _: &str) -> Result<(), InjectError> {
        Ok(())
    }
}

#[test]
fn failed_injections_are_counted_and_told_to_the_page_at_most_once_a_second() {
    let counters = Arc::new(InputCounters::default());
    let config = RoomConfig {
        seats: 1,
        implicit: false,
        guests: Role::Viewer,
    };
    let (life_tx, data_tx, input) = super::room::spawn_injecting(config, counters.clone(), NoKeys);
    let peer = PeerId(3);
    let (notify, mut notices) = PeerNotifier::channel();
    let member = InputMsg::Member {
        peer,
        admission: Admission::Owner,
        name: None,
        rejoin: None,
        token: None,
        notify: notify.clone(),
    };
    life_tx.send(member).expect("input thread");
    life_tx
        .send(InputMsg::Joined { peer, notify })
        .expect("input thread");
    // Twenty presses and releases of a key with no keycode, in well under a second.
    let mut client = Sender::new();
    for seq in 0..20 {
        client.key(0x04, seq % 2 == 0);
        let bytes = wire::encode(&client.packet(seq));
        let m = InputMsg::Data {
            peer,
            at: Instant::now(),
            bytes,
        };
        data_tx.send(m).expect("input thread");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while counters.inject_errors.get() < 20 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    life_tx.send(InputMsg::Left { peer }).expect("input thread");
    drop((life_tx, data_tx));
    input.join().expect("the input thread ends cleanly");
    assert!(
        counters.inject_errors.get() >= 20,
        "{}",
        counters.inject_errors.get()
    );
    let mut told = Vec::new();
    while let Ok(n) = notices.try_recv() {
        if let Notice::Error { code, message, .. } = n {
            told.push((code, message));
        }
    }
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, ErrorCode::BadInput);
    assert!(told[0].1.contains("no keycode"), "{told:?}");
}
