-- The read model: one row per room, as the room service last announced it.
CREATE TABLE room_state (
    room_number   INTEGER PRIMARY KEY,
    room_status   TEXT    NOT NULL,
    used_count    INTEGER NOT NULL,
    conference_id INTEGER,
    pay_id        INTEGER,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX room_state_by_conference ON room_state (conference_id);

-- Notifications sent when a room is assigned or released.
CREATE TABLE notification (
    notification_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    room_number     INTEGER NOT NULL,
    conference_id   INTEGER NOT NULL,
    message         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL
);
