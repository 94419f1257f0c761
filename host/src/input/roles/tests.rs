//! The room driven by requests alone.

use proptest::prelude::*;

use super::*;

pub(super) const DESK: RoomConfig = RoomConfig {
    seats: 1,
    implicit: false,
    guests: Role::Viewer,
};

pub(super) fn p(n: u64) -> PeerId {
    PeerId(n)
}

#[test]
fn the_first_open_page_owns_and_drives_later_ones_watch() {
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    assert_eq!(
        room.handle_join(p(1), Admission::Open, Some("Ann"), &mut ev),
        Role::Owner
    );
    assert_eq!(
        room.handle_join(p(2), Admission::Open, None, &mut ev),
        Role::Viewer
    );
    assert!(room.in_control(p(1)));
    assert!(!room.in_control(p(2)));
    // A viewer acting without implicit control gets nothing.
    assert!(!room.handle_act(p(2), &mut ev));
    let names: Vec<_> = room.members().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["Ann", "Guest 1"]);
    // The owner leaves: the member there longest becomes the owner and drives, rather than
    // the next page to come.
    room.handle_leave(p(1), &mut ev);
    assert_eq!(room.role(p(2)), Some(Role::Owner));
    assert!(room.in_control(p(2)));
    assert_eq!(
        room.handle_join(p(3), Admission::Open, None, &mut ev),
        Role::Viewer
    );
    // With passwords, a viewer is a viewer by its password: nobody inherits.
    let mut room = Room::new(DESK);
    room.handle_join(p(1), Admission::Owner, None, &mut ev);
    room.handle_join(p(2), Admission::Viewer, None, &mut ev);
    room.handle_leave(p(1), &mut ev);
    assert_eq!(room.role(p(2)), Some(Role::Viewer));
}

#[test]
fn ask_give_take_release_follow_neko() {
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Owner, None, &mut ev);
    room.handle_join(p(2), Admission::Viewer, None, &mut ev);
    room.handle_join(p(3), Admission::Viewer, None, &mut ev);
    ev.clear();
    // A viewer cannot take, nor give.
    assert_eq!(
        room.handle_request(p(2), Request::Take, &mut ev),
        Err(Refusal::OwnerOnly("take control"))
    );
    assert_eq!(
        room.handle_request(p(2), Request::Give(p(3)), &mut ev),
        Err(Refusal::CannotGive)
    );
    // It asks; everyone sees it asked.
    room.handle_request(p(2), Request::Ask, &mut ev)
        .expect("ask");
    assert!(room.members()[1].asked);
    // The controller (the owner here) gives: it lets go, the viewer drives.
    ev.clear();
    room.handle_request(p(1), Request::Give(p(2)), &mut ev)
        .expect("give");
    assert_eq!(ev, vec![Event::Released(p(1)), Event::Changed]);
    assert_eq!(room.controllers(), vec![p(2)]);
    assert!(!room.members()[1].asked);
    // The controller gives to another viewer.
    ev.clear();
    room.handle_request(p(2), Request::Give(p(3)), &mut ev)
        .expect("give on");
    assert_eq!(room.controllers(), vec![p(3)]);
    assert!(ev.contains(&Event::Released(p(2))));
    // The owner takes it back at any time.
    ev.clear();
    room.handle_request(p(1), Request::Take, &mut ev)
        .expect("take");
    assert_eq!(room.controllers(), vec![p(1)]);
    assert!(ev.contains(&Event::Released(p(3))));
    // And releases it: nobody drives.
    room.handle_request(p(1), Request::Release, &mut ev)
        .expect("release");
    assert!(room.controllers().is_empty());
    assert_eq!(
        room.handle_request(p(1), Request::Release, &mut ev),
        Err(Refusal::NotInControl)
    );
}

#[test]
fn a_controller_that_leaves_frees_control_and_is_released() {
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Owner, None, &mut ev);
    room.handle_join(p(2), Admission::Viewer, None, &mut ev);
    room.handle_request(p(1), Request::Give(p(2)), &mut ev)
        .expect("give");
    ev.clear();
    room.handle_leave(p(2), &mut ev);
    assert_eq!(ev, vec![Event::Released(p(2)), Event::Changed]);
    assert!(room.controllers().is_empty());
    assert_eq!(room.members().len(), 1);
}

#[test]
fn implicit_control_goes_to_whoever_acts_first_while_a_seat_is_free() {
    let mut room = Room::new(RoomConfig {
        implicit: true,
        ..DESK
    });
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Owner, None, &mut ev);
    room.handle_join(p(2), Admission::Viewer, None, &mut ev);
    assert!(room.controllers().is_empty(), "nobody drives before acting");
    assert!(room.handle_act(p(1), &mut ev), "the owner acts first");
    assert!(!room.handle_act(p(2), &mut ev), "the seat is the owner's");
    room.handle_request(p(1), Request::Release, &mut ev)
        .expect("release");
    assert!(room.handle_act(p(2), &mut ev));
    assert!(
        !room.handle_act(p(1), &mut ev),
        "taken: the owner must take it back"
    );
    // Not a member (a peer without a signaling socket): never.
    assert!(!room.handle_act(p(9), &mut ev));
}

#[test]
fn a_game_has_a_seat_per_player() {
    let mut room = Room::new(RoomConfig {
        seats: 4,
        implicit: true,
        guests: Role::Viewer,
    });
    let mut ev = Vec::new();
    for n in 1..=6 {
        room.handle_join(p(n), Admission::Open, None, &mut ev);
    }
    assert!(room.controllers().is_empty(), "joining is not playing");
    for n in [2, 1, 3, 4, 5, 6] {
        room.handle_act(p(n), &mut ev);
    }
    assert_eq!(room.controllers(), vec![p(2), p(1), p(3), p(4)]);
    assert_eq!(
        room.handle_request(p(1), Request::Give(p(6)), &mut ev)
            .map(|_| room.controllers()),
        Ok(vec![p(2), p(6), p(3), p(4)]),
        "a player gives its own seat"
    );
}

#[test]
fn owners_manage_members_and_the_last_owner_stays() {
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Owner, None, &mut ev);
    room.handle_join(p(2), Admission::Viewer, None, &mut ev);
    assert_eq!(
        room.handle_request(p(2), Request::Kick(p(1)), &mut ev),
        Err(Refusal::OwnerOnly("remove a member"))
    );
    assert_eq!(
        room.handle_request(p(1), Request::SetRole(p(1), Role::Viewer), &mut ev),
        Err(Refusal::LastOwner)
    );
    room.handle_request(p(1), Request::SetRole(p(2), Role::Owner), &mut ev)
        .expect("promote");
    ev.clear();
    room.handle_request(p(2), Request::SetRole(p(1), Role::Viewer), &mut ev)
        .expect("demote the other");
    assert!(ev.contains(&Event::Released(p(1))), "it had control");
    ev.clear();
    room.handle_request(p(2), Request::Kick(p(1)), &mut ev)
        .expect("kick");
    assert!(ev.contains(&Event::Removed(p(1))));
    assert_eq!(room.members().len(), 1);
    assert_eq!(
        room.handle_request(p(2), Request::Kick(p(2)), &mut ev),
        Err(Refusal::KickSelf)
    );
}

#[test]
fn names_are_cleaned() {
    assert_eq!(clean_name("  Ann  ").as_deref(), Some("Ann"));
    assert_eq!(clean_name("日本語の名前").as_deref(), Some("日本語の名前"));
    for bad in [
        "",
        "   ",
        "a\u{0}b",
        "line\nbreak",
        "\u{202e}eman",
        "\u{200b}",
        &"x".repeat(MAX_NAME + 1),
    ] {
        assert_eq!(clean_name(bad), None, "{bad:?}");
    }
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Open, Some("\u{1b}[31m"), &mut ev);
    assert_eq!(room.members()[0].name, "Guest 1");
    assert_eq!(
        room.handle_request(p(1), Request::Rename("\n".into()), &mut ev),
        Err(Refusal::BadName)
    );
}

#[test]
fn an_owner_made_a_viewer_stops_driving() {
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Owner, None, &mut ev);
    room.handle_join(p(2), Admission::Owner, None, &mut ev);
    room.handle_request(p(2), Request::Take, &mut ev)
        .expect("an owner takes");
    assert_eq!(room.controllers(), [p(2)]);
    ev.clear();
    room.handle_request(p(1), Request::SetRole(p(2), Role::Viewer), &mut ev)
        .expect("demoted");
    assert!(room.controllers().is_empty());
    assert!(ev.contains(&Event::Released(p(2))), "{ev:?}");
}

#[test]
fn no_member_takes_another_members_name() {
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Open, Some("Ann"), &mut ev);
    room.handle_join(p(2), Admission::Open, Some("ann"), &mut ev);
    room.handle_join(p(3), Admission::Open, Some("Ann"), &mut ev);
    room.handle_join(p(4), Admission::Open, Some("guest 1"), &mut ev);
    // A page without a name gets the lowest guest number nobody has.
    room.handle_join(p(5), Admission::Open, None, &mut ev);
    let names = |room: &Room| {
        room.members()
            .into_iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&room),
        ["Ann", "ann (2)", "Ann (3)", "guest 1", "Guest 2"]
    );
    // Renaming to one's own name keeps it; to another's adds a number.
    room.handle_request(p(1), Request::Rename("Ann".into()), &mut ev)
        .expect("rename");
    room.handle_request(p(4), Request::Rename("ANN".into()), &mut ev)
        .expect("rename");
    assert_eq!(names(&room)[0], "Ann");
    assert_eq!(names(&room)[3], "ANN (4)");
}

#[derive(Debug, Clone)]
enum Op {
    Join(u64, Admission),
    Leave(u64),
    Act(u64),
    Req(u64, Request),
}

fn op() -> impl Strategy<Value = Op> {
    let peer = 1u64..6;
    let admission = prop_oneof![
        Just(Admission::Owner),
        Just(Admission::Viewer),
        Just(Admission::Open)
    ];
    let role = prop_oneof![Just(Role::Owner), Just(Role::Viewer)];
    let request = prop_oneof![
        Just(Request::Ask),
        (1u64..6).prop_map(|n| Request::Give(PeerId(n))),
        Just(Request::Take),
        Just(Request::Release),
        (1u64..6).prop_map(|n| Request::Kick(PeerId(n))),
        ((1u64..6), role).prop_map(|(n, r)| Request::SetRole(PeerId(n), r)),
    ];
    prop_oneof![
        (peer.clone(), admission).prop_map(|(n, a)| Op::Join(n, a)),
        peer.clone().prop_map(Op::Leave),
        peer.clone().prop_map(Op::Act),
        (peer, request).prop_map(|(n, r)| Op::Req(n, r)),
    ]
}

proptest! {
    /// Under any order of joins, leaves, input, asks, gives, takes, releases, kicks and role
    /// changes, with explicit control, a member drives only if it got a seat in a way the
    /// rules allow: as an owner (joining, asking or taking), or given one by the controller or
    /// an owner. Every seat change is reported, and a member that loses its seat is released.
    #[test]
    fn control_is_only_ever_had_by_right(
        seats in 1usize..3,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut room = Room::new(RoomConfig { seats, implicit: false, guests: Role::Viewer });
        for op in ops {
            let before: Vec<PeerId> = room.controllers();
            let role_of = |room: &Room, n: u64| room.role(PeerId(n));
            let mut ev = Vec::new();
            // Who may legitimately end up with a new seat through this operation.
            let mut may_gain: Vec<PeerId> = Vec::new();
            match op.clone() {
                Op::Join(n, a) => {
                    if room.is_member(p(n)) {
                        continue; // a peer id joins once
                    }
                    let role = room.handle_join(p(n), a, None, &mut ev);
                    if role == Role::Owner {
                        may_gain.push(p(n));
                    }
                }
                Op::Leave(n) => {
                    let viewers: Vec<PeerId> = room
                        .members()
                        .iter()
                        .filter(|m| m.role == Role::Viewer)
                        .map(|m| PeerId(m.peer))
                        .collect();
                    room.handle_leave(p(n), &mut ev);
                    // The last owner leaving makes an heir of a page that came without a
                    // password; an owner may take a free seat.
                    may_gain.extend(viewers.into_iter().filter(|v| room.role(*v) == Some(Role::Owner)));
                }
                Op::Act(n) => {
                    let drove = room.handle_act(p(n), &mut ev);
                    prop_assert_eq!(drove, before.contains(&p(n)), "acting took a seat without implicit control");
                }
                Op::Req(n, r) => {
                    let owner = role_of(&room, n) == Some(Role::Owner);
                    let controlled = before.contains(&p(n));
                    match &r {
                        Request::Ask | Request::Take if owner => may_gain.push(p(n)),
                        Request::Give(to) if owner || controlled => may_gain.push(*to),
                        _ => {}
                    }
                    let _ = room.handle_request(p(n), r, &mut ev);
                }
            }
            let after = room.controllers();
            for c in &after {
                prop_assert!(room.is_member(*c), "{c} drives without being a member");
                prop_assert!(before.contains(c) || may_gain.contains(c), "{c} got control by {op:?}");
            }
            prop_assert!(after.len() <= seats);
            let mut dedup = after.clone();
            dedup.sort();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), after.len(), "a member in two seats");
            for lost in before.iter().filter(|c| !after.contains(c)) {
                prop_assert!(ev.contains(&Event::Released(*lost)), "{lost} lost control unreleased by {op:?}: {ev:?}");
            }
            if before != after {
                prop_assert!(ev.contains(&Event::Changed));
            }
        }
    }
}

#[test]
fn the_api_gives_revokes_and_manages_with_an_owners_authority() {
    let mut room = Room::new(DESK);
    let mut ev = Vec::new();
    room.handle_join(p(1), Admission::Owner, None, &mut ev);
    room.handle_join(p(2), Admission::Viewer, None, &mut ev);
    ev.clear();
    room.handle_api(ApiRequest::Give(p(2)), &mut ev)
        .expect("give");
    assert_eq!(room.controllers(), vec![p(2)]);
    assert!(ev.contains(&Event::Released(p(1))));
    assert_eq!(
        room.handle_api(ApiRequest::Give(p(9)), &mut ev),
        Err(Refusal::NoSuchMember(9))
    );
    ev.clear();
    room.handle_api(ApiRequest::Revoke, &mut ev)
        .expect("revoke");
    assert!(room.controllers().is_empty());
    assert_eq!(ev, vec![Event::Released(p(2)), Event::Changed]);
    assert_eq!(
        room.handle_api(ApiRequest::SetRole(p(1), Role::Viewer), &mut ev),
        Err(Refusal::LastOwner),
        "the API may not leave the room without an owner either"
    );
    room.handle_api(ApiRequest::Kick(p(2)), &mut ev)
        .expect("kick");
    assert!(ev.contains(&Event::Removed(p(2))));
    let view = room.view();
    assert_eq!(
        (view.members.len(), view.seats, view.implicit),
        (1, 1, false)
    );
}
