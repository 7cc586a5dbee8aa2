-- Rooms; conference_id/pay_id name the booking that holds a FULL room.
CREATE TABLE room (
    room_number   BIGINT  PRIMARY KEY,
    room_status   TEXT    NOT NULL,
    used_count    BIGINT  NOT NULL,
    conference_id BIGINT,
    pay_id        BIGINT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX room_by_pay ON room (pay_id);
