-- Bookings ("applications" for a room).
CREATE TABLE conference (
    conference_id BIGSERIAL PRIMARY KEY,
    status        TEXT    NOT NULL,
    pay_id        BIGINT,
    room_number   BIGINT  NOT NULL,
    request_id    TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX conference_by_status ON conference (status);
