-- +goose Up
-- Keys outlive nothing they were granted by: when a staff member's
-- membership of a shop is removed, every key they created for that shop
-- is revoked in the same transaction (the key cache drops it within a
-- second on every instance).
-- +goose StatementBegin
CREATE FUNCTION revoke_keys_of_removed_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
  WHERE shop_id = OLD.shop_id AND created_by = OLD.staff_id;
  RETURN OLD;
END $$;
-- +goose StatementEnd
CREATE TRIGGER staff_memberships_revoke_keys AFTER DELETE ON staff_memberships
  FOR EACH ROW EXECUTE FUNCTION revoke_keys_of_removed_member();

-- +goose Down
DROP TRIGGER staff_memberships_revoke_keys ON staff_memberships;
DROP FUNCTION revoke_keys_of_removed_member();
