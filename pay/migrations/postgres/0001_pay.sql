-- Payments, one per booking at most.
CREATE TABLE pay (
    pay_id        BIGSERIAL PRIMARY KEY,
    conference_id BIGINT  NOT NULL UNIQUE,
    room_number   BIGINT  NOT NULL,
    status        TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
-- Bookings cancelled before any payment was recorded: a late payment request for one is refused.
CREATE TABLE voided_conference (
    conference_id BIGINT  PRIMARY KEY,
    voided_at     TEXT NOT NULL
);
