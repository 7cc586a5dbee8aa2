-- The room service's revision of each room as last applied; an older event is ignored.
ALTER TABLE room_state ADD COLUMN revision BIGINT  NOT NULL DEFAULT 0;
