//! Text typed on the host a few characters at a time, between the input loop's other work.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::reconcile::{self, Action};
use super::roles::Room;
use super::{apply_counted, Injector, InputCounters, PeerInput};
use crate::peer::PeerId;

/// Characters typed per turn of the input loop.
pub(super) const TYPE_CHUNK: usize = 8;
/// Most characters waiting to be typed, all members together; more text is refused.
pub(super) const MAX_TYPING_QUEUED: usize = 8192;

/// Types the next few characters of the first text waiting, if its member still drives (a
/// member that lost control has the rest of its text dropped). The modifiers the page holds
/// (the Ctrl of its Ctrl+V) are let go around them, then held again.
pub(super) fn type_some(
    typing: &mut VecDeque<(PeerId, Vec<char>)>,
    room: &Room,
    peers: &mut HashMap<PeerId, PeerInput>,
    injector: &mut impl Injector,
    counters: &InputCounters,
    now: Instant,
) {
    let Some((peer, rest)) = typing.front_mut() else {
        return;
    };
    let peer = *peer;
    if !room.in_control(peer) || !peers.contains_key(&peer) {
        typing.pop_front();
        return;
    }
    let chunk: String = (0..TYPE_CHUNK).map_while(|_| rest.pop()).collect();
    if rest.is_empty() {
        typing.pop_front();
    }
    let mods: Vec<reconcile::Control> = peers
        .get(&peer)
        .map(|p| p.reconciler.held())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| matches!(c, reconcile::Control::Key(0xe0..=0xe7)))
        .collect();
    for m in &mods {
        apply_counted(injector, counters, peers, (peer, Action::Release(*m)), now);
    }
    if let Err(e) = injector.text(&chunk) {
        counters.inject_errors.inc();
        tracing::warn!(%peer, error = %e, "text injection failed");
    }
    for m in &mods {
        apply_counted(injector, counters, peers, (peer, Action::Press(*m)), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::reconcile::Reconciler;
    use crate::input::roles::{Admission, Request, Role, RoomConfig};

    /// An injector that keeps the texts it types.
    #[derive(Default)]
    struct Typed(Vec<String>);

    impl Injector for Typed {
        fn apply(&mut self, _: PeerId, _: Action) -> Result<(), crate::input::inject::InjectError> {
            Ok(())
        }
        fn text(&mut self, text: &str) -> Result<(), crate::input::inject::InjectError> {
            self.0.push(text.to_owned());
            Ok(())
        }
    }

    #[test]
    fn long_text_goes_a_few_characters_a_turn_and_stops_with_control() {
        let mut room = Room::new(RoomConfig {
            seats: 1,
            implicit: false,
            guests: Role::Viewer,
        });
        let mut ev = Vec::new();
        let a = PeerId(1);
        room.handle_join(a, Admission::Owner, None, &mut ev);
        let mut peers: HashMap<PeerId, PeerInput> = [(
            a,
            PeerInput {
                reconciler: Reconciler::new(),
                notify: None,
                last_notice: None,
                last_inject_notice: None,
            },
        )]
        .into();
        let text = "héllo wörld, a long paste of text";
        let mut typing = VecDeque::from([(a, text.chars().rev().collect::<Vec<_>>())]);
        let counters = InputCounters::default();
        let mut typed = Typed::default();
        for _ in 0..2 {
            type_some(
                &mut typing,
                &room,
                &mut peers,
                &mut typed,
                &counters,
                Instant::now(),
            );
        }
        assert_eq!(typed.0, ["héllo wö", "rld, a l"]);
        // Control gone: the rest is dropped, not typed.
        room.handle_request(a, Request::Release, &mut ev)
            .expect("release");
        type_some(
            &mut typing,
            &room,
            &mut peers,
            &mut typed,
            &counters,
            Instant::now(),
        );
        assert!(typing.is_empty());
        assert_eq!(typed.0.len(), 2);
    }
}
