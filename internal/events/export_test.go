package events

import (
	"context"

	"cartograph/internal/inventory"

	"github.com/google/uuid"
)

// Publish exposes the relay's XADD step, to simulate a relay that crashed
// after appending to the stream and before deleting its outbox rows.
func (h *Hub) Publish(ctx context.Context, shopID uuid.UUID, cs []*inventory.Change) error {
	return h.publish(ctx, shopID, cs)
}
