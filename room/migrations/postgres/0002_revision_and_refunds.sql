-- Every change of a room gets the next revision; events carry it so readers can ignore
-- stale ones that arrive late.
ALTER TABLE room ADD COLUMN revision BIGINT  NOT NULL DEFAULT 1;

-- Bookings whose payment was refunded: a Paid that arrives after its PayCanceled (events
-- overtaking each other) must not take the room.
CREATE TABLE refunded_booking (
    conference_id BIGINT  PRIMARY KEY,
    refunded_at   TEXT    NOT NULL
);
