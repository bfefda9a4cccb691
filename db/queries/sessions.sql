-- name: SessionRevoke :exec
INSERT INTO session_revocations (shop_id, jti, expires_at)
VALUES ($1, $2, $3)
ON CONFLICT (shop_id, jti) DO NOTHING;

-- name: SessionRevoked :one
SELECT EXISTS (
  SELECT 1 FROM session_revocations WHERE shop_id = $1 AND jti = $2 AND expires_at > now()
);

-- name: SessionRevocationsPurge :exec
DELETE FROM session_revocations WHERE shop_id = $1 AND expires_at < now();
