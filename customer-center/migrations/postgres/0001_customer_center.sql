-- The read model: one row per room, as the room service last announced it.
CREATE TABLE room_state (
    room_number   BIGINT  PRIMARY KEY,
    room_status   TEXT    NOT NULL,
    used_count    BIGINT  NOT NULL,
    conference_id BIGINT,
    pay_id        BIGINT,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX room_state_by_conference ON room_state (conference_id);

-- Notifications sent when a room is assigned or released.
CREATE TABLE notification (
    notification_id BIGSERIAL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    room_number     BIGINT  NOT NULL,
    conference_id   BIGINT  NOT NULL,
    message         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL
);
