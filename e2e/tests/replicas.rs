//! Several instances of a service behind the gateway: 3 conference and 2 room instances
//! (sharing their Postgres databases) in their consumer groups; the saga still completes and
//! every invariant holds.

use e2e::System;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_completes_with_three_conference_and_two_room_instances() {
    let sys = System::start_replicated(
        &[],
        &["conference", "room"],
        &[("conference", 3), ("room", 2)],
    )
    .await;
    for room in 1..=6 {
        sys.register_room(room).await;
    }
    // Bookings of every room (spread over the partitions, so over both room instances),
    // through the gateway's round robin over the three conference instances.
    let mut accepted = Vec::new();
    for room in 1..=6 {
        accepted.push(sys.book_id(room).await);
    }
    for id in &accepted {
        sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
            .await;
    }
    let cancelled = accepted[0];
    assert_eq!(
        sys.delete(&format!("/conferences/{cancelled}"))
            .await
            .status,
        204
    );
    accepted.push(sys.book_id(7).await);
    let quiet = sys.assert_consistent(&accepted).await;
    assert_eq!(
        quiet
            .bookings
            .iter()
            .filter(|b| b.status == "ASSIGNED")
            .count(),
        5,
        "{:?}",
        quiet.bookings
    );
    // Every conference instance answered some of the bookings.
    for key in ["conference", "conference-2", "conference-3"] {
        assert!(
            sys.log(key).contains("booking created"),
            "{key} took no booking: the gateway does not balance"
        );
    }
    // The consumer groups spread the 3 partitions over the instances: each got some, and
    // both room instances assigned rooms.
    for key in [
        "conference",
        "conference-2",
        "conference-3",
        "room",
        "room-2",
    ] {
        let log = sys.log(key);
        let partitions = log
            .lines()
            .filter_map(|l| l.split("partitions=").nth(1))
            .filter_map(|n| n.trim().parse::<u32>().ok())
            .next_back();
        assert!(
            partitions.is_some_and(|n| n > 0),
            "{key} has no partition of its group ({partitions:?})"
        );
    }
    for key in ["room", "room-2"] {
        assert!(
            sys.log(key).contains("room assigned"),
            "{key} assigned no room"
        );
    }
}
