-- Who booked (the token's `sub`): customers see and cancel only their own bookings.
ALTER TABLE conference ADD COLUMN customer TEXT;
CREATE INDEX conference_by_customer ON conference (customer, conference_id);
