-- Bookings ("applications" for a room).
CREATE TABLE conference (
    conference_id INTEGER PRIMARY KEY AUTOINCREMENT,
    status        TEXT    NOT NULL,
    pay_id        INTEGER,
    room_number   INTEGER NOT NULL,
    request_id    TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX conference_by_status ON conference (status);
