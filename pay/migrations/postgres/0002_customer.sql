-- Whose payment it is (the booking customer's `sub`): customers see only their own.
ALTER TABLE pay ADD COLUMN customer TEXT;
CREATE INDEX pay_by_customer ON pay (customer, pay_id);
