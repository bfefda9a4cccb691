-- +goose Up
-- Cancelling a paid, unshipped order puts its committed units back on hand.
ALTER TABLE order_reservations DROP CONSTRAINT order_reservations_state_check;
ALTER TABLE order_reservations ADD CONSTRAINT order_reservations_state_check
  CHECK (state IN ('reserved', 'committed', 'released', 'restocked'));

-- +goose Down
UPDATE order_reservations SET state = 'committed' WHERE state = 'restocked';
ALTER TABLE order_reservations DROP CONSTRAINT order_reservations_state_check;
ALTER TABLE order_reservations ADD CONSTRAINT order_reservations_state_check
  CHECK (state IN ('reserved', 'committed', 'released'));
